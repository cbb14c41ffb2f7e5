//! `affinity_pinned CPU [MS]`: pins itself to CPU with `sched_setaffinity`, checks that
//! `sched_getaffinity` returns exactly that mask, then busy-loops MS milliseconds of
//! `CLOCK_MONOTONIC` (default 2000) asking `getcpu` on every iteration: it must never run
//! anywhere else, however busy the other CPUs and however the load balancer moves other
//! processes. It also checks the calls' refusals: a mask without an online CPU or shorter
//! than 4 bytes (`-EINVAL`), an unknown pid (`-ESRCH`), an unmapped mask (`-EFAULT`), a
//! `sched_getaffinity` buffer shorter than 4 bytes (`-EINVAL`). Exits 1 if it was ever
//! seen elsewhere or any check failed.
#![no_std]
#![no_main]

use tempest_user::sys::{self, AFFINITY_WORDS, EFAULT, EINVAL, ESRCH};
use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

const DEFAULT_MS: u64 = 2000;
/// A pid beyond any kernel's pid_max (Linux's limit is 4194304).
const NO_SUCH_PID: i32 = 0x3fff_ffff;

fn neg(errno: i32) -> isize {
    -(errno as isize)
}

fn refusals(c: &mut Checks) {
    c.eq(
        "sched_setaffinity(0, {})",
        sys::sched_setaffinity(0, &[0]),
        neg(EINVAL),
    );
    c.eq(
        "sched_setaffinity(0, {cpu 31}) (not online)",
        sys::sched_setaffinity(0, &[1 << 31]),
        neg(EINVAL),
    );
    c.eq(
        "sched_setaffinity with a 0-byte mask",
        sys::sched_setaffinity(0, &[]),
        neg(EINVAL),
    );
    c.eq(
        "sched_setaffinity(unknown pid)",
        sys::sched_setaffinity(NO_SUCH_PID, &[1]),
        neg(ESRCH),
    );
    let mut mask = [0u32; AFFINITY_WORDS];
    c.eq(
        "sched_getaffinity(unknown pid)",
        sys::sched_getaffinity(NO_SUCH_PID, &mut mask),
        neg(ESRCH),
    );
    c.eq(
        "sched_getaffinity with a 2-byte buffer",
        sys::syscall3(sys::SYS_SCHED_GETAFFINITY, 0, 2, mask.as_mut_ptr() as usize),
        neg(EINVAL),
    );
    let Some(page) = tempest_user::unmapped_page(c) else {
        return;
    };
    c.eq(
        "sched_setaffinity(0, 4, unmapped)",
        sys::syscall3(sys::SYS_SCHED_SETAFFINITY, 0, 4, page),
        neg(EFAULT),
    );
}

fn main(args: &Args) -> i32 {
    let cpu = args
        .str(1)
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|&c| c < 32);
    let ms = args.str(2).map_or(Some(DEFAULT_MS), |s| s.parse().ok());
    let (Some(cpu), Some(ms)) = (cpu, ms) else {
        println!("FAIL: usage: affinity_pinned CPU (0..32) [MS]");
        return 1;
    };
    let mut c = Checks::new("affinity_pinned");
    refusals(&mut c);
    if !c.eq_fmt(
        format_args!("sched_setaffinity(0, {{cpu {cpu}}})"),
        sys::pin_to_cpu(cpu),
        0,
    ) {
        return c.finish();
    }
    let mut mask = [0u32; AFFINITY_WORDS];
    let bytes = sys::sched_getaffinity(0, &mut mask);
    println!(
        "affinity_pinned: sched_getaffinity = {bytes} bytes, mask {:#x}",
        mask[0]
    );
    c.check(
        bytes >= 4 && bytes % 4 == 0,
        format_args!("sched_getaffinity wrote {bytes} bytes (whole 32-bit words)"),
    );
    c.check(
        mask[0] == 1 << cpu && mask[1..].iter().all(|&w| w == 0),
        format_args!("sched_getaffinity returns exactly {{cpu {cpu}}}"),
    );
    let start = sys::monotonic_ns();
    let end = start + ms * 1_000_000;
    let (mut samples, mut elsewhere, mut errors) = (0u64, 0u64, 0u64);
    while sys::monotonic_ns() < end {
        match sys::current_cpu() {
            r if r < 0 => errors += 1,
            r if r as u32 != cpu => elsewhere += 1,
            _ => {}
        }
        samples += 1;
    }
    c.eq("getcpu calls that failed", errors, 0);
    c.check(
        elsewhere == 0,
        format_args!("affinity_pinned: {samples} samples over {ms} ms, {elsewhere} off cpu {cpu}"),
    );
    if elsewhere == 0 && errors == 0 {
        println!("affinity_pinned: never left cpu {cpu}");
    }
    c.finish()
}
