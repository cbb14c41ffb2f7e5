//! The bench's real-program workload, Rust std side (docs/benchmarks.md): THREADS threads
//! (the first argument, default 2) each copy page-crossing buffers of 4 KiB and 64 KiB to
//! /dev/null with `write_all` and `write_vectored`, and read it (end of file), ROUNDS times;
//! the kernel counts the temp mappings each class of call makes (the exit record's
//! `temp_by_class`). Prints the bytes copied and the time taken.

use std::fs::OpenOptions;
use std::io::{IoSlice, Read, Write};
use std::thread;
use std::time::Instant;

const ROUNDS: usize = 100;
const SMALL: usize = 4096;
const LARGE: usize = 65536;
/// Start the buffers mid-page, so every copy crosses a page boundary.
const OFFSET: usize = 100;

fn copier(me: usize) -> usize {
    let mut null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .expect("open /dev/null");
    let mut buf = vec![b'a' + me as u8; LARGE + OFFSET];
    let from = &mut buf[OFFSET..];
    let mut total = 0;
    for _ in 0..ROUNDS {
        null.write_all(&from[..SMALL]).expect("write");
        null.write_all(&from[..LARGE]).expect("write");
        let two = [IoSlice::new(&from[..SMALL]), IoSlice::new(&from[SMALL..2 * SMALL])];
        let n = null.write_vectored(&two).expect("writev");
        total += SMALL + LARGE + n;
        assert_eq!(null.read(&mut from[..SMALL]).expect("read"), 0, "/dev/null gave bytes");
    }
    total
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .map_or(2, |a| a.parse().expect("THREADS is a number"));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads).map(|i| thread::spawn(move || copier(i))).collect();
    let total: usize = handles.into_iter().map(|h| h.join().expect("join")).sum();
    let ns = start.elapsed().as_nanos();
    println!("copy: std threads={threads} bytes={total}");
    println!(
        "copy-time: std ns={ns} MiB/s={:.1}",
        total as f64 / 1048576.0 / (ns as f64 / 1e9)
    );
    assert_eq!(total, threads * ROUNDS * (SMALL + LARGE + 2 * SMALL));
}
