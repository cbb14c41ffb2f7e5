//! Process entry: `_start`, the initial stack (argc, argv, envp, auxv) and [`Args`].
//!
//! At `_start` the Linux i386 ABI puts, from esp upwards: `argc`; `argv[0..argc]`; NULL;
//! the `envp` pointers; NULL; the auxiliary vector as `(type, value)` pairs of u32 ending
//! with `AT_NULL`. `_start` clears ebp (the end of the frame-pointer chain), aligns the
//! stack to 16 bytes and calls [`start`] with the original esp.

use core::arch::global_asm;
use core::ffi::CStr;

use crate::sys;

/// End of the auxiliary vector.
pub const AT_NULL: u32 = 0;
/// Address of the program headers.
pub const AT_PHDR: u32 = 3;
/// Size of one program header.
pub const AT_PHENT: u32 = 4;
/// Number of program headers.
pub const AT_PHNUM: u32 = 5;
/// The page size.
pub const AT_PAGESZ: u32 = 6;
/// The program's entry point.
pub const AT_ENTRY: u32 = 9;
/// Address of 16 random bytes.
pub const AT_RANDOM: u32 = 25;

global_asm!(
    r#"
    .section .text.tempest_start, "ax"
    .globl _start
    .type _start, @function
_start:
    xor ebp, ebp
    mov eax, esp
    and esp, -16
    sub esp, 12
    push eax
    call tempest_user_start
    ud2
    .size _start, . - _start
    "#
);

unsafe extern "Rust" {
    /// The program's main, defined by [`crate::entry!`] in each binary.
    safe fn tempest_main(args: &Args) -> i32;
}

/// Called by `_start` with the initial stack pointer: builds [`Args`], runs the program's
/// main and exits with what it returns.
///
/// # Safety
/// `sp` is the initial stack pointer laid out as the module documentation says.
#[unsafe(export_name = "tempest_user_start")]
pub unsafe extern "C" fn start(sp: *const u32) -> ! {
    // SAFETY: the kernel's initial stack, as the caller promises.
    let args = unsafe { Args::from_initial_stack(sp) };
    let status = tempest_main(&args);
    sys::exit_group(status)
}

/// Defines the program's main: `tempest_user::entry!(main);` with `fn main(args: &Args) -> i32`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn tempest_main(args: &$crate::Args) -> i32 {
            $main(args)
        }
    };
}

/// The command-line arguments, environment and auxiliary vector of the process.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
    auxv: *const [u32; 2],
}

impl Args {
    /// Reads the initial stack at `sp`.
    ///
    /// # Safety
    /// `sp` is laid out as the module documentation says, and stays valid and unchanged
    /// for the life of the process.
    pub unsafe fn from_initial_stack(sp: *const u32) -> Self {
        // SAFETY: the caller's contract: argc, then argc pointers and a NULL, then the
        // environment pointers up to their NULL, then the auxiliary vector.
        unsafe {
            let argc = *sp as usize;
            let argv = sp.add(1) as *const *const u8;
            let envp = argv.add(argc + 1);
            let mut end = envp;
            while !(*end).is_null() {
                end = end.add(1);
            }
            Args {
                argc,
                argv,
                envp,
                auxv: end.add(1) as *const [u32; 2],
            }
        }
    }

    /// argc.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Whether there are no arguments at all (not even `argv[0]`).
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// `argv[i]` without its NUL.
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        // SAFETY: i < argc, so argv[i] is one of the kernel's NUL-terminated strings.
        (i < self.argc).then(|| unsafe { cstr(*self.argv.add(i)) })
    }

    /// `argv[i]` as text (`None` when missing or not UTF-8).
    pub fn str(&self, i: usize) -> Option<&'static str> {
        self.get(i).and_then(|a| core::str::from_utf8(a).ok())
    }

    /// `argv[0..argc]`.
    pub fn iter(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        (0..self.argc).filter_map(|i| self.get(i))
    }

    /// The environment strings (`NAME=value`).
    pub fn env(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        // SAFETY: envp is NULL-terminated (from_initial_stack found its end).
        (0..)
            .map(|i| unsafe { *self.envp.add(i) })
            .take_while(|p| !p.is_null())
            // SAFETY: each non-NULL entry is a NUL-terminated string.
            .map(|p| unsafe { cstr(p) })
    }

    /// The value of auxiliary vector entry `key` (`AT_PAGESZ`, ...), if present.
    pub fn auxv(&self, key: u32) -> Option<u32> {
        (0..)
            // SAFETY: the vector ends with an AT_NULL pair, where this stops.
            .map(|i| unsafe { *self.auxv.add(i) })
            .take_while(|[k, _]| *k != AT_NULL)
            .find(|[k, _]| *k == key)
            .map(|[_, v]| v)
    }
}

/// The bytes of the NUL-terminated string at `p`.
///
/// # Safety
/// `p` points to a NUL-terminated string that lives for the rest of the process.
unsafe fn cstr(p: *const u8) -> &'static [u8] {
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p.cast()) }.to_bytes()
}
