//! The hostile-program suite (issue 16): programs that attack the kernel the way a fuzzer
//! or a careless program would, booted at `--smp 4` without Tempest's own calls
//! (`--no-tempest-calls`), each with the ending Linux would give it. After each boot the
//! kernel's own closing checks hold (it panics if a frame is missing once every process is
//! gone), no temp slot is held, the kernel heap is back where it was before the programs
//! (within what run queues keep), and every program ended as expected.
//!
//! - `syscall_sweep`: every call number 0..=1024, negative ones and Tempest's own, from four
//!   threads, with boundary arguments: errors only, and `-ENOSYS` exactly where the
//!   kernel's table says.
//! - `glibc/memory_race`: `munmap`/`mmap(MAP_FIXED)`/`mprotect` of a buffer while threads on
//!   the other CPUs read it, write it (a SIGSEGV handler takes them back) and pass it to
//!   `write` and `read`; then `exit_group` with every thread still running.
//! - `exhaust recurse`: recursion until the stack ends: SIGSEGV (139), as on Linux.
//! - `exhaust memory` (its own boot: it takes every frame): `mmap2` until `ENOMEM`, `brk`
//!   until it stops, all given back, then the same memory works again.
//!
//! Elsewhere: threads until `clone` fails (`clone_until_fail`, programs.rs), every `int N`
//! and odd ring-3 instruction compared with Linux (`glibc/ring3_hostile`, runtimes.rs), a
//! hang named by the watchdog (boot.rs).

mod common;

use common::{Run, expect, expect_exits, program};

fn runner(args: &[&str]) -> Run {
    common::run("tcg", Some("600"), args)
}

/// The closing checks every hostile boot must pass: success, no temp slot held, every
/// frame free, and the kernel heap back within `HEAP_SLACK` of where it was before the
/// programs.
fn expect_whole_kernel(run: &Run) {
    expect(run, 0, &["tempest: success"]);
    assert!(!run.out.contains("KERNEL PANIC"), "{}", run.out);
    let s = common::record(run, "summary");
    assert_eq!(s["temp_held"], 0, "temp slots held\n{}", run.out);
    assert_eq!(
        s["lowmem_frames_free"], s["lowmem_frames"],
        "frames leaked\n{}",
        run.out
    );
    assert_eq!(
        s["highmem_frames_free"], s["highmem_frames"],
        "frames leaked\n{}",
        run.out
    );
    let heap = common::record(run, "heap");
    let (before, after) = (
        heap["before_programs"].as_u64().expect("a number"),
        heap["after_programs"].as_u64().expect("a number"),
    );
    // Containers that keep their capacity (the run queues, the futex table) may hold a
    // little more than at the start; a leak per thread or per call would be far more.
    const HEAP_SLACK: u64 = 4096;
    assert!(
        after <= before + HEAP_SLACK,
        "the kernel heap grew from {before} to {after} bytes over the programs\n{}",
        run.out
    );
}

/// The numbers `docs/syscalls.md` (generated from the kernel's table) lists as not
/// implemented or not used by Linux.
fn documented_enosys() -> std::collections::BTreeSet<u32> {
    let doc = std::fs::read_to_string(qemu::build::workspace_root().join("docs/syscalls.md"))
        .expect("read docs/syscalls.md");
    doc.lines()
        .filter(|l| l.contains("not implemented: `-ENOSYS`") || l.contains("not used by Linux"))
        .filter_map(|l| {
            l.trim_start_matches('|')
                .split('|')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

/// The first boot: every call number 0 to 1024 and a few far beyond, with bad pointers and
/// odd values in every argument, from four threads on four CPUs (`syscall_sweep`), beside
/// the memory race and the endless recursion. The kernel survives and stays whole, the
/// sweep lives on and ends with 0, and exactly the calls the kernel's table lacks (and
/// Tempest's own, off in this boot) answer `-ENOSYS` to every argument set (futex and
/// modify_ldt may, for an operation they do not know, as on Linux).
#[test]
fn hostile_programs_leave_the_kernel_whole() {
    let mut args = vec![
        "--smp".to_owned(),
        "4".to_owned(),
        "--no-tempest-calls".to_owned(),
        program("syscall_sweep", "", 0),
        program("exhaust", "recurse", 139),
    ];
    let race = common::build_runtime(
        "hostile_programs_leave_the_kernel_whole",
        "glibc/memory_race",
    );
    if let Some(elf) = &race {
        args.push(format!("{} expect=0", elf.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = runner(&args);
    expect(
        &run,
        0,
        &["sweep: done: ", "exhaust: recursing until the stack ends"],
    );
    expect_whole_kernel(&run);
    assert!(!run.out.contains("FAIL"), "{}", run.out);
    expect_exits(&run, "syscall_sweep", 1, 0);
    expect_exits(&run, "exhaust", 1, 139);
    assert!(
        run.out
            .contains("(exhaust) killed by SIGSEGV: write to 0xbff"),
        "the recursion did not end on the stack's guard\n{}",
        run.out
    );
    if race.is_some() {
        expect_exits(&run, "memory_race", 1, 0);
        assert!(
            run.out.contains(
                "memory_race: at least 300 rounds; touchers ran, passers ran (some -EFAULT: yes); leaving with 6 threads running"
            ),
            "{}",
            run.out
        );
    }
    let answered: std::collections::BTreeSet<u32> = run
        .serial
        .lines()
        .filter_map(|l| l.strip_prefix("sweep: enosys "))
        .flat_map(|l| {
            l.split_whitespace()
                .map(|n| n.parse::<u32>().expect("a number"))
        })
        .collect();
    let mut documented = documented_enosys();
    assert!(
        documented.len() > 300,
        "the table was not read: {documented:?}"
    );
    // Past Linux's last call, and far beyond: nothing.
    documented.extend(451..=1024);
    documented.extend([u32::MAX, 0xFFFF_FFFE, 0x8000_0000, 0xFFFF_F000]);
    // Tempest's own calls, off in this boot (and 0x10006, which does not exist).
    documented.extend(0x1_0000..=0x1_0006);
    // Calls that answer -ENOSYS, as on Linux, for an operation they do not know: futex
    // (240, 422) for an unknown op, modify_ldt (123) for an unknown function.
    let enosys_for_unknown_ops = [240, 422, 123];
    let unexpected: Vec<u32> = answered
        .difference(&documented)
        .copied()
        .filter(|n| !enosys_for_unknown_ops.contains(n))
        .collect();
    let undispatched: Vec<u32> = documented.difference(&answered).copied().collect();
    assert!(
        unexpected.is_empty(),
        "listed as implemented in docs/syscalls.md but answered -ENOSYS: {unexpected:?}"
    );
    assert!(
        undispatched.is_empty(),
        "listed as not implemented but answered something else: {undispatched:?}"
    );
}

/// The second boot: `exhaust memory` takes every frame with `mmap2`, then with `brk`, gives
/// them back and uses memory again; the kernel stays whole.
#[test]
fn memory_exhaustion_leaves_the_kernel_whole() {
    let run = runner(&[
        "--smp",
        "4",
        "--no-tempest-calls",
        &program("exhaust", "memory", 0),
    ]);
    expect(&run, 0, &["MiB by mmap2 until ENOMEM", "exhaust: all "]);
    expect_whole_kernel(&run);
    assert!(!run.out.contains("FAIL"), "{}", run.out);
    expect_exits(&run, "exhaust", 1, 0);
}

/// A fork bomb and a pipe flood (`glibc/flood`): fork until the thread limit says EAGAIN,
/// every child reaped; sixteen children each filling pipes until EMFILE; then the kernel
/// stays whole, with every frame back.
#[test]
fn fork_bomb_and_pipe_flood_leave_the_kernel_whole() {
    let Some(flood) = common::build_runtime(
        "fork_bomb_and_pipe_flood_leave_the_kernel_whole",
        "glibc/flood",
    ) else {
        return;
    };
    let program = format!("{} expect=0", flood.display());
    let run = runner(&["--smp", "4", "--no-tempest-calls", &program]);
    expect(
        &run,
        0,
        &[
            "fork bomb: ",
            "then EAGAIN",
            "pipe flood: 16 children",
            "flood: 0 failure(s)",
        ],
    );
    expect_whole_kernel(&run);
}
