//! The routines themselves (i386 only).

use core::arch::asm;

/// Copies 32 bytes per loop round with plain `mov`s while 32 are left, then four bytes per
/// step (`rep movsd`) and the last `n % 4` one at a time (`rep movsb`). The unrolled loop
/// is Linux's i386 `__copy_user_intel` idea: a CPU runs it at its load/store rate, and an
/// emulator that runs `rep movs` one step at a time (QEMU's TCG, some 40 host cycles a
/// step) runs it as one translated block per 32 bytes.
///
/// # Safety
/// `dst` and `src` valid for `n` bytes and not overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let blocks = n / 32;
    let rest = n % 32;
    // SAFETY: the caller's contract: the loop copies `blocks` 32-byte blocks forward,
    // leaving esi and edi past them; `rep movsd` then copies rest / 4 dwords and `rep
    // movsb` the rest % 4 bytes. esi is borrowed and restored (in ebx), every operand in a
    // fixed register so none can be esi.
    unsafe {
        asm!(
            "xchg esi, ebx",
            "test ecx, ecx",
            "jz 3f",
            "2:",
            "mov eax, [esi]",
            "mov [edi], eax",
            "mov eax, [esi + 4]",
            "mov [edi + 4], eax",
            "mov eax, [esi + 8]",
            "mov [edi + 8], eax",
            "mov eax, [esi + 12]",
            "mov [edi + 12], eax",
            "mov eax, [esi + 16]",
            "mov [edi + 16], eax",
            "mov eax, [esi + 20]",
            "mov [edi + 20], eax",
            "mov eax, [esi + 24]",
            "mov [edi + 24], eax",
            "mov eax, [esi + 28]",
            "mov [edi + 28], eax",
            "add esi, 32",
            "add edi, 32",
            "dec ecx",
            "jnz 2b",
            "3:",
            "mov ecx, edx",
            "shr ecx, 2",
            "rep movsd",
            "mov ecx, edx",
            "and ecx, 3",
            "rep movsb",
            "mov esi, ebx",
            inout("ebx") src => _, inout("ecx") blocks => _, inout("edx") rest => _,
            inout("edi") dst => _, out("eax") _, options(nostack),
        );
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

/// Stores 32 bytes per loop round while 32 are left, then four bytes per step (`rep
/// stosd`) and the last `n % 4` (`rep stosb`), as `memcpy` copies.
///
/// # Safety
/// `dst` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let byte = u32::from(c as u8);
    // SAFETY: the caller's contract: the loop fills `n / 32` 32-byte blocks and leaves edi
    // past them, `rep stosd` the (n % 32) / 4 dwords after them, `rep stosb` the n % 4
    // bytes left (eax holds the byte four times).
    unsafe {
        asm!(
            "test ecx, ecx",
            "jz 3f",
            "2:",
            "mov [edi], eax",
            "mov [edi + 4], eax",
            "mov [edi + 8], eax",
            "mov [edi + 12], eax",
            "mov [edi + 16], eax",
            "mov [edi + 20], eax",
            "mov [edi + 24], eax",
            "mov [edi + 28], eax",
            "add edi, 32",
            "dec ecx",
            "jnz 2b",
            "3:",
            "mov ecx, edx",
            "shr ecx, 2",
            "rep stosd",
            "mov ecx, edx",
            "and ecx, 3",
            "rep stosb",
            inout("ecx") n / 32 => _, inout("edx") n % 32 => _, inout("edi") dst => _,
            in("eax") byte * 0x0101_0101, options(nostack),
        );
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
