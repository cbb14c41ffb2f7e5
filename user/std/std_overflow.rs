//! A Rust std program (musl) whose thread overflows its stack: Rust's guard-page handler
//! (SIGSEGV on the alternate stack, `sigaltstack`) must recognise the fault and report it
//! as a stack overflow, then abort (SIGABRT, status 134), on Tempest as on Linux. The lines
//! starting "ov: " and Rust's report are compared by qemu/tests/runtimes.rs.

use std::hint::black_box;
use std::thread;

/// Recurses with a frame the optimiser cannot remove until the stack runs out.
#[allow(unconditional_recursion)] // it ends in the guard page
fn deeper(n: u64) -> u64 {
    let pad = black_box([n; 64]);
    black_box(deeper(n + 1)) + pad[7]
}

fn main() {
    println!("ov: main runs");
    let worker = thread::Builder::new()
        .name("deep".into())
        .stack_size(256 * 1024)
        .spawn(|| {
            println!("ov: thread recurses");
            deeper(0)
        })
        .expect("spawn");
    let r = worker.join();
    println!("ov: not reached: {r:?}");
}
