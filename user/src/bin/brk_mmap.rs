//! `brk_mmap`: the program break grows and shrinks; anonymous mmap2 gives zeroed,
//! page-aligned user memory; mprotect and munmap accept it, munmap rejects an unaligned
//! address, and mmap2 refuses what it does not map (`EINVAL`; `EBADF` for a file mapping
//! of fd -1).
#![no_std]
#![no_main]

use tempest_user::sys::{
    self, EBADF, EINVAL, ENOMEM, EPERM, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED,
    PAGE_SIZE, PROT_READ, PROT_WRITE,
};
use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

const KERNEL_BASE: usize = 0xC000_0000;

/// Writes a position-dependent pattern over `len` bytes at `addr` and reads it back.
///
/// # Safety
/// `addr..addr+len` is mapped read-write and unused.
unsafe fn pattern_round_trip(addr: usize, len: usize) -> bool {
    let p = addr as *mut u8;
    let byte = |i: usize| (i.wrapping_mul(31) ^ (i >> 8)) as u8;
    // SAFETY: the caller's contract; volatile so the accesses really happen.
    unsafe {
        for i in 0..len {
            p.add(i).write_volatile(byte(i));
        }
        (0..len).all(|i| p.add(i).read_volatile() == byte(i))
    }
}

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("brk_mmap");

    // SAFETY: brk(0) only asks for the break.
    let cur = unsafe { sys::brk(0) };
    println!("brk(0) = {cur:#x}");
    c.check(
        cur != 0 && cur < KERNEL_BASE,
        format_args!("the break {cur:#x} is a user address"),
    );
    let grown = cur + 3 * PAGE_SIZE;
    // SAFETY: growing maps new memory; nothing refers to it yet.
    let ret = unsafe { sys::brk(grown) };
    c.check(
        ret == grown,
        format_args!("brk(cur + 3 pages) = {ret:#x}, expected {grown:#x}"),
    );
    // SAFETY: brk just made cur..grown ours.
    let ok = unsafe { pattern_round_trip(cur, 3 * PAGE_SIZE) };
    c.check(
        ok,
        format_args!("wrote and read back every byte of {cur:#x}..{grown:#x}"),
    );
    // SAFETY: nothing refers to the memory given back.
    let ret = unsafe { sys::brk(cur) };
    c.check(
        ret == cur,
        format_args!("brk(cur) shrinks back: {ret:#x}, expected {cur:#x}"),
    );

    let len = 4 * PAGE_SIZE;
    // SAFETY: a new mapping, replacing nothing.
    let ret = unsafe {
        sys::mmap2(
            0,
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    println!("mmap2(NULL, 4 pages, RW, PRIVATE|ANONYMOUS) = {ret:#x}");
    if !c.check(!sys::is_error(ret), format_args!("mmap2 succeeded")) {
        return c.finish();
    }
    let addr = ret as usize;
    c.check(
        addr.is_multiple_of(PAGE_SIZE) && addr < KERNEL_BASE && addr + len <= KERNEL_BASE,
        format_args!("{addr:#x} is page-aligned and below {KERNEL_BASE:#x}"),
    );
    // SAFETY: the mapping is ours, read-write; volatile so the reads really happen.
    let zeros = (0..len).all(|i| unsafe { (addr as *const u8).add(i).read_volatile() } == 0);
    c.check(zeros, format_args!("the 4 new pages are zero-filled"));
    // SAFETY: as above.
    let ok = unsafe { pattern_round_trip(addr, len) };
    c.check(
        ok,
        format_args!("wrote and read back every byte of the mapping"),
    );
    // SAFETY: only reads of the first page follow.
    c.eq(
        "mprotect(addr, 4096, PROT_READ)",
        unsafe { sys::mprotect(addr, PAGE_SIZE, PROT_READ) },
        0,
    );
    // SAFETY: the first page is still readable.
    let first = unsafe { (addr as *const u8).read_volatile() };
    c.eq("the read-only page still reads back", first, 0);
    // SAFETY: nothing refers to the mapping any more.
    c.eq(
        "munmap(addr, 4 pages)",
        unsafe { sys::munmap(addr, len) },
        0,
    );
    // SAFETY: an unaligned munmap must fail and unmap nothing.
    let ret = unsafe { sys::munmap(addr + 1, PAGE_SIZE) };
    c.eq("munmap(addr + 1, 4096)", ret, -EINVAL as isize);
    refused_mappings(&mut c, addr);
    placement(&mut c);
    advice(&mut c);
    c.finish()
}

/// `madvise` (219): `MADV_DONTNEED` zeroes the range (Tempest keeps the pages mapped),
/// other advice leaves it alone; `EINVAL` for an unknown advice or an unaligned start, 0
/// for an empty range, `ENOMEM` for a range with a hole (the rest is still advised).
fn advice(c: &mut Checks) {
    const MADVISE: u32 = 219;
    const WILLNEED: usize = 3;
    const DONTNEED: usize = 4;
    let p = sys::map_anonymous(3 * PAGE_SIZE);
    if !c.check(!sys::is_error(p), format_args!("mmap2 of 3 pages: {p:#x}")) {
        return;
    }
    let p = p as usize;
    let fill = |byte: u8| {
        // SAFETY: our own 3-page read-write mapping.
        unsafe { core::ptr::write_bytes(p as *mut u8, byte, 3 * PAGE_SIZE) }
    };
    let page_is = |i: usize, byte: u8| {
        (0..PAGE_SIZE).all(|b| {
            // SAFETY: page `i` of our mapping, still mapped when asked; volatile so the
            // reads really happen.
            unsafe { ((p + i * PAGE_SIZE + b) as *const u8).read_volatile() == byte }
        })
    };
    let madvise = |at: usize, len: usize, advice: usize| sys::syscall3(MADVISE, at, len, advice);
    fill(0x5a);
    c.eq("madvise WILLNEED", madvise(p, 3 * PAGE_SIZE, WILLNEED), 0);
    c.check(
        page_is(1, 0x5a),
        format_args!("WILLNEED leaves the pages alone"),
    );
    c.eq(
        "madvise DONTNEED of the last two pages",
        madvise(p + PAGE_SIZE, 2 * PAGE_SIZE, DONTNEED),
        0,
    );
    c.check(
        page_is(0, 0x5a) && page_is(1, 0) && page_is(2, 0),
        format_args!("DONTNEED zeroed exactly its two pages"),
    );
    c.eq(
        "madvise with advice 5 (unknown)",
        madvise(p, PAGE_SIZE, 5),
        -EINVAL as isize,
    );
    c.eq(
        "madvise of an unaligned start",
        madvise(p + 1, PAGE_SIZE, DONTNEED),
        -EINVAL as isize,
    );
    c.eq("madvise of an empty range", madvise(p, 0, DONTNEED), 0);
    fill(0x5a);
    // SAFETY: the middle page of our own mapping; nothing refers to it.
    unsafe { sys::munmap(p + PAGE_SIZE, PAGE_SIZE) };
    c.eq(
        "madvise DONTNEED over a hole",
        madvise(p, 3 * PAGE_SIZE, DONTNEED),
        -ENOMEM as isize,
    );
    c.check(
        page_is(0, 0) && page_is(2, 0),
        format_args!("the pages around the hole were still advised"),
    );
    // SAFETY: our own pages.
    unsafe {
        sys::munmap(p, PAGE_SIZE);
        sys::munmap(p + 2 * PAGE_SIZE, PAGE_SIZE);
    }
}

/// Where `mmap2` places a mapping: never over another (a one-page hole does not take two
/// pages), and `MAP_FIXED` may use any page above the null page.
fn placement(c: &mut Checks) {
    let three = sys::map_anonymous(3 * PAGE_SIZE);
    if !c.check(
        !sys::is_error(three),
        format_args!("mmap2 of 3 pages: {three:#x}"),
    ) {
        return;
    }
    let three = three as usize;
    // SAFETY: the middle page of our own mapping; nothing refers to it.
    c.eq(
        "munmap of the middle page",
        unsafe { sys::munmap(three + PAGE_SIZE, PAGE_SIZE) },
        0,
    );
    let two = sys::map_anonymous(2 * PAGE_SIZE);
    c.check(
        !sys::is_error(two) && two as usize != three + PAGE_SIZE,
        format_args!("mmap2 of 2 pages beside a 1-page hole lands elsewhere: {two:#x}"),
    );
    // SAFETY: our own mappings, nothing refers to them.
    unsafe {
        sys::munmap(three, 3 * PAGE_SIZE);
        sys::munmap(two as usize, 2 * PAGE_SIZE);
    }
    const LOWEST: usize = 0x1000;
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    // SAFETY: nothing of this program lives at 0x1000.
    let low = unsafe { sys::mmap2(LOWEST, PAGE_SIZE, PROT_READ | PROT_WRITE, flags, -1, 0) };
    c.eq(
        "mmap2 MAP_FIXED at 0x1000, the lowest page above the null page",
        low,
        LOWEST as isize,
    );
    // SAFETY: just mapped, ours.
    c.eq("munmap of it", unsafe { sys::munmap(LOWEST, PAGE_SIZE) }, 0);
}

/// What `mmap2` refuses with `EINVAL` and maps nothing for: as on Linux, a zero length, a
/// mapping neither shared nor private, and a `MAP_FIXED` address that is unaligned or
/// reaches the kernel half; and what Tempest does not map yet (Linux does): file and
/// shared mappings (`MAP_SHARED | MAP_PRIVATE` is Linux's `MAP_SHARED_VALIDATE`).
fn refused_mappings(c: &mut Checks, addr: usize) {
    const RW: u32 = PROT_READ | PROT_WRITE;
    let private = MAP_PRIVATE | MAP_ANONYMOUS;
    let cases: [(&str, usize, usize, u32); 6] = [
        ("a zero length", 0, 0, private),
        ("MAP_SHARED", 0, PAGE_SIZE, MAP_SHARED | MAP_ANONYMOUS),
        (
            "MAP_SHARED | MAP_PRIVATE",
            0,
            PAGE_SIZE,
            MAP_SHARED | private,
        ),
        ("neither shared nor private", 0, PAGE_SIZE, MAP_ANONYMOUS),
        (
            "MAP_FIXED at an unaligned address",
            addr + 1,
            PAGE_SIZE,
            private | MAP_FIXED,
        ),
        (
            "MAP_FIXED reaching the kernel half",
            KERNEL_BASE - PAGE_SIZE,
            2 * PAGE_SIZE,
            private | MAP_FIXED,
        ),
    ];
    for (what, at, len, flags) in cases {
        // SAFETY: each of these is refused; none maps or replaces anything.
        let ret = unsafe { sys::mmap2(at, len, RW, flags, -1, 0) };
        c.eq_fmt(format_args!("mmap2 with {what}"), ret, -EINVAL as isize);
    }
    // A file mapping (no MAP_ANONYMOUS) of fd -1: EBADF, as on Linux.
    // SAFETY: refused; nothing is mapped.
    let ret = unsafe { sys::mmap2(0, PAGE_SIZE, RW, MAP_PRIVATE, -1, 0) };
    c.eq("mmap2 of a file mapping with fd -1", ret, -EBADF as isize);
    // The null page stays unmapped (Linux's mmap_min_addr): EPERM.
    // SAFETY: refused; nothing is mapped at 0.
    let ret = unsafe { sys::mmap2(0, PAGE_SIZE, RW, private | MAP_FIXED, -1, 0) };
    c.eq("mmap2 MAP_FIXED at the null page", ret, -EPERM as isize);
}
