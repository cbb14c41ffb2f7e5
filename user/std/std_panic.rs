//! A Rust std program (musl) that panics in the main thread after another thread's panic
//! was caught by `join`: Rust prints both reports and exits with status 101, on Tempest as
//! on Linux (compared by qemu/tests/runtimes.rs).

use std::thread;

fn main() {
    println!("pn: main runs");
    let caught = thread::spawn(|| -> u32 { panic!("worker gives up") }).join();
    println!("pn: worker panicked: {}", caught.is_err());
    let v: Vec<u32> = Vec::new();
    let i = std::hint::black_box(3);
    println!("pn: about to index {i}");
    println!("pn: {}", v[i]);
}
