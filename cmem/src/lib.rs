//! The C routines the compiler calls in Tempest's freestanding i586 binaries (the kernel
//! and the user programs): `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`, `strlen`, and
//! the two unwinding symbols the prebuilt `core`/`alloc` refer to.
//!
//! Written by hand because nothing else supplies them: `compiler_builtins` exports its
//! `mem` routines only for targets without a libc, `i586-unknown-linux-gnu` expects
//! glibc's, and neither the kernel nor the user programs link a libc. The bodies are string
//! instructions in inline assembly, so the compiler cannot turn them back into calls to
//! themselves. LLVM reserves `esi` on i386: the routines that need it borrow it with `xchg`
//! and pin every other operand to a named register, so none can be `esi`.
//!
//! A binary links them with `extern crate cmem;` (the symbols are referenced only by
//! compiler-generated calls, which cargo cannot see). On the host the crate is empty.
#![no_std]

#[cfg(target_arch = "x86")]
mod routines;
