//! The routines themselves (i386 only).

use core::arch::asm;

/// Copies four bytes per step (`rep movsd`), then the last `n % 4` one at a time (`rep
/// movsb`), as Linux's i386 `memcpy` does. A CPU with fast strings runs it at its full
/// rate; QEMU's TCG runs `rep movs` one step at a time, so the dword step takes a quarter
/// of the byte step's time, and counts a quarter of its instructions under `-icount`. (An
/// unrolled loop of `mov`s, 32 bytes a round, measured no faster under TCG and counts
/// 2.4 times the instructions: docs/benchmarks.md, "The copy path".)
///
/// # Safety
/// `dst` and `src` valid for `n` bytes and not overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract; `rep movsd` copies n / 4 dwords forward and leaves esi
    // and edi past them, where `rep movsb` copies the n % 4 bytes left; esi is borrowed
    // and restored, every operand in a fixed register so none can be esi.
    unsafe {
        asm!("xchg esi, eax", "rep movsd", "mov ecx, edx", "rep movsb", "mov esi, eax",
             inout("eax") src => _, inout("ecx") n / 4 => _, inout("edx") n % 4 => _,
             inout("edi") dst => _, options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// `dst` and `src` valid for `n` bytes; they may overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // Destination below the source or not overlapping: a forward copy is safe.
        // SAFETY: the caller's contract.
        return unsafe { memcpy(dst, src, n) };
    }
    // SAFETY: the caller's contract; copies backwards from the last byte, then restores
    // the direction flag the ABI requires clear.
    unsafe {
        asm!("xchg esi, eax", "std", "rep movsb", "cld", "mov esi, eax",
             inout("eax") src.wrapping_add(n).wrapping_sub(1) => _,
             inout("ecx") n => _, inout("edi") dst.wrapping_add(n).wrapping_sub(1) => _,
             options(nostack));
    }
    dst
}

/// Stores four bytes per step (`rep stosd`), then the last `n % 4` (`rep stosb`), as
/// `memcpy` copies.
///
/// # Safety
/// `dst` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let byte = u32::from(c as u8);
    // SAFETY: the caller's contract; `rep stosd` fills n / 4 dwords with the byte
    // repeated, `rep stosb` the n % 4 bytes after them (eax's low byte is the byte).
    unsafe {
        asm!("rep stosd", "mov ecx, edx", "rep stosb",
             inout("ecx") n / 4 => _, inout("edx") n % 4 => _, inout("edi") dst => _,
             in("eax") byte * 0x0101_0101, options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n == 0 {
        return 0;
    }
    let (x, y): (u32, u32);
    // SAFETY: the caller's contract; `repe cmpsb` stops after the first differing byte (or
    // the last one), with esi/edi one past it; esi (reserved by LLVM, so no operand
    // can name it) is borrowed and restored, every operand in a fixed register.
    unsafe {
        asm!("xchg esi, ebx", "repe cmpsb",
             "movzx eax, byte ptr [esi - 1]", "movzx edx, byte ptr [edi - 1]", "mov esi, ebx",
             inout("ebx") a => _, inout("ecx") n => _, inout("edi") b => _,
             out("eax") x, out("edx") y, options(nostack, readonly));
    }
    x as i32 - y as i32
}

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// `s` points to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let end: *const u8;
    // SAFETY: the caller's contract; `repne scasb` with ecx = -1 scans up to the NUL
    // (always found first) and leaves edi one past it.
    unsafe {
        asm!("repne scasb", inout("ecx") usize::MAX => _, inout("edi") s => end,
             in("al") 0u8, options(nostack, readonly));
    }
    end as usize - s as usize - 1
}

/// Referenced by the landing pads of the prebuilt (unwind-enabled) `core` and `alloc`.
/// Tempest's binaries abort on panic (`panic = "abort"`), so no unwind ever starts and
/// this is never called.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// See [`rust_eh_personality`]: never reached, since nothing unwinds.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    panic!("_Unwind_Resume called, but Tempest never unwinds");
}
