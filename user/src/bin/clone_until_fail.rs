//! `clone_until_fail`: starts threads that sleep (a futex wait with no timeout) until
//! `clone` refuses one. The refusal must be an error, `-EAGAIN` (the kernel's thread
//! limits, `MAX_THREADS_PER_PROCESS` = 192 in a process and `MAX_THREADS` = 256 in the
//! system), never a kernel panic: before the limits, each thread's kernel stack came from
//! the kernel heap through an allocation that could not fail, and about 500 sleeping
//! threads at `--smp 1` ended the kernel ("memory allocation of 16384 bytes failed").
//! Then the process ends with all its threads (`exit_group`), and the kernel goes on.
//! Exit 0 when the refusal came, as `-EAGAIN`, after at least 32 threads.
#![no_std]
#![no_main]

use core::sync::atomic::AtomicU32;

use tempest_user::sys::{self, EAGAIN};
use tempest_user::{Args, Thread, println};

tempest_user::entry!(main);

/// Far more than any limit: the loop ends at the refusal.
const TRIES: usize = 2000;

static WORD: AtomicU32 = AtomicU32::new(0);

extern "C" fn sleeper(_: usize) -> ! {
    loop {
        sys::futex_wait(&WORD, 0, None, 0);
    }
}

fn main(_: &Args) -> i32 {
    for started in 0..TRIES {
        match Thread::spawn(sleeper, started) {
            Ok(_sleeping) => {}
            Err(e) => {
                println!("clone_until_fail: clone refused after {started} threads: {e}");
                let ok = e == -(EAGAIN as isize) && started >= 32;
                if !ok {
                    println!(
                        "FAIL: expected -EAGAIN ({}) after at least 32 threads",
                        -EAGAIN
                    );
                }
                sys::exit_group(if ok { 0 } else { 1 });
            }
        }
    }
    println!("FAIL: {TRIES} threads and no refusal");
    1
}
