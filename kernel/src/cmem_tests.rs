//! The C memory routines of `cmem` (`memcpy`, `memset`, `memmove`), called by their symbols
//! so the compiler cannot inline its own copy instead: every length up to 40 bytes and a
//! page, at every alignment of source and destination, against a byte loop, with the
//! bytes on either side of the target left untouched.

use crate::{check, kernel_test};

unsafe extern "C" {
    fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8;
}

const LEN: usize = 4096 + 16;

fn lengths() -> impl Iterator<Item = usize> {
    (0..=40).chain([63, 64, 65, 4095, 4096])
}

fn pattern(i: usize) -> u8 {
    (i * 7 + 3) as u8
}

kernel_test! {
    fn memcpy_copies_every_length_at_every_alignment() {
        let mut src = alloc::vec![0u8; LEN];
        src.iter_mut().enumerate().for_each(|(i, b)| *b = pattern(i));
        let mut dst = alloc::vec![0u8; LEN];
        for n in lengths() {
            for s in 0..4 {
                for d in 0..4 {
                    dst.fill(0xEE);
                    // SAFETY: both buffers hold `LEN` >= n + 8 bytes past the offsets,
                    // and are distinct allocations.
                    unsafe { memcpy(dst.as_mut_ptr().add(d + 4), src.as_ptr().add(s), n) };
                    let copied = (0..n).all(|i| dst[d + 4 + i] == src[s + i]);
                    let around = dst[..d + 4].iter().chain(&dst[d + 4 + n..]).all(|&b| b == 0xEE);
                    check!(copied && around, "memcpy of {n} bytes, offsets {s}/{d}");
                }
            }
        }
    }
}

kernel_test! {
    fn memset_fills_every_length_at_every_alignment() {
        let mut buf = alloc::vec![0u8; LEN];
        for n in lengths() {
            for d in 0..4 {
                buf.fill(0xEE);
                // SAFETY: `buf` holds `LEN` >= n + 8 bytes past the offset.
                unsafe { memset(buf.as_mut_ptr().add(d + 4), 0x1A5, n) };
                let filled = buf[d + 4..d + 4 + n].iter().all(|&b| b == 0xA5);
                let around = buf[..d + 4].iter().chain(&buf[d + 4 + n..]).all(|&b| b == 0xEE);
                check!(filled && around, "memset of {n} bytes at offset {d}");
            }
        }
    }
}

kernel_test! {
    fn memmove_copies_overlapping_ranges_both_ways() {
        let mut buf = alloc::vec![0u8; LEN];
        for n in lengths().filter(|&n| n + 8 <= LEN) {
            for shift in [1usize, 3, 4, 5] {
                for forward in [true, false] {
                    buf.iter_mut().enumerate().for_each(|(i, b)| *b = pattern(i));
                    let (from, to) = if forward { (4, 4 + shift) } else { (4 + shift, 4) };
                    if to + n > LEN || from + n > LEN {
                        continue;
                    }
                    // SAFETY: both ranges lie inside `buf`; memmove allows overlap.
                    unsafe { memmove(buf.as_mut_ptr().add(to), buf.as_ptr().add(from), n) };
                    let moved = (0..n).all(|i| buf[to + i] == pattern(from + i));
                    check!(moved, "memmove of {n} bytes from {from} to {to}");
                }
            }
        }
    }
}
