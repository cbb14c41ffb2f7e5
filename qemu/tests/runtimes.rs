//! Unmodified C runtimes on Tempest, compared with the host's Linux (the oracle: it runs
//! static i386 executables natively): a glibc program built by an ordinary `gcc -m32
//! -static -pthread`, and a Rust std program built by `rustc --target
//! i686-unknown-linux-musl`, print the same lines and end with the same status on both.
//! Without i386 glibc (Debian: gcc-multilib) or the musl target (rustup) a test is
//! skipped with the reason, except in CI, where `.ci/run` installs both.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use std::process::Command;

mod common;

use common::{build_runtime as build, expect, expect_exits};

/// Runs `elf` at `--smp 4` under Tempest and on the host, and checks both end with status
/// 0 and print the same lines starting with `prefix` (at least `min` of them).
fn same_as_linux(elf: &Path, name: &str, prefix: &str, min: usize) {
    same_as_linux_ending(elf, name, &[prefix], min, 0);
}

/// Runs `elf` at `--smp 4` under Tempest and on the host (standard output and error,
/// without `RUST_BACKTRACE`), and checks both end with `status` (128 + the signal for a
/// killed process) and print, for each of `prefixes`, the same lines starting with it
/// (at least `min` in all). Thread ids in Rust's reports ("thread 'x' (1234)") differ
/// between the two and are left out.
fn same_as_linux_ending(elf: &Path, name: &str, prefixes: &[&str], min: usize, status: u8) {
    same_as_linux_with(elf, name, &[], &[], prefixes, min, status);
}

/// As `same_as_linux_ending`, with arguments `args` and, on both sides, the environment
/// `env` alone (`cargo qemu --env`; `env_clear` on the host).
fn same_as_linux_with(
    elf: &Path,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    prefixes: &[&str],
    min: usize,
    status: u8,
) {
    let program = format!("{} {} expect={status}", elf.display(), args.join(" "));
    let mut runner_args: Vec<String> = vec!["--smp".into(), "4".into()];
    for (k, v) in env {
        runner_args.extend(["--env".into(), format!("{k}={v}")]);
    }
    runner_args.push(program);
    let runner_args: Vec<&str> = runner_args.iter().map(String::as_str).collect();
    let run = common::run("tcg", Some("300"), &runner_args);
    expect(&run, 0, &["tempest: success"]);
    expect_exits(&run, name, 1, i64::from(status));
    let mut host = Command::new(elf);
    host.args(args).env_remove("RUST_BACKTRACE");
    if !env.is_empty() {
        host.env_clear().envs(env.iter().copied());
    }
    let host = host.output().expect("run it on the host");
    let host_out = format!(
        "{}{}",
        String::from_utf8_lossy(&host.stdout),
        String::from_utf8_lossy(&host.stderr)
    );
    let host_status = host
        .status
        .code()
        .or_else(|| host.status.signal().map(|s| 128 + s));
    assert_eq!(
        host_status,
        Some(i32::from(status)),
        "on Linux: {}\n{host_out}",
        host.status
    );
    let mut total = 0;
    for prefix in prefixes {
        let tempest = lines_with(&run.serial, prefix);
        let linux = lines_with(&host_out, prefix);
        total += linux.len();
        assert_eq!(
            tempest, linux,
            "{name} printed other lines starting {prefix:?} under Tempest than on Linux\n--- Linux ---\n{host_out}\n--- Tempest ---\n{}",
            run.out
        );
    }
    assert!(total >= min, "too few lines on Linux:\n{host_out}");
}

/// The lines of `output` that start with `prefix`, in order, with a Rust report's thread
/// id left out.
fn lines_with(output: &str, prefix: &str) -> Vec<String> {
    output
        .lines()
        .map(|l| without_thread_id(l.trim_end()))
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// "thread 'main' (1234) panicked" becomes "thread 'main' panicked".
fn without_thread_id(line: &str) -> String {
    let Some(open) = line.find("' (") else {
        return line.to_owned();
    };
    let rest = &line[open + 3..];
    match rest.find(')') {
        Some(close) if rest[..close].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}'{}", &line[..open], &rest[close + 1..])
        }
        _ => line.to_owned(),
    }
}

/// A glibc program with threads (mutex, condition variable, join, `__thread`), malloc of
/// small and large blocks, printf of doubles, clocks and nanosleep runs at `--smp 4` and
/// prints what it prints on Linux.
#[test]
fn glibc_threads_match_linux() {
    const TEST: &str = "glibc_threads_match_linux";
    let Some(elf) = build(TEST, "glibc/glibc_threads") else {
        return;
    };
    same_as_linux(&elf, "glibc_threads", "gl: ", 9);
}

/// A Rust std program (musl) with threads, `Mutex`, `mpsc`, `HashMap` (seeded by
/// `getrandom`), a 1 MiB vector, `f64` maths and `thread::sleep` runs at `--smp 4` and
/// prints what it prints on Linux.
#[test]
fn rust_std_threads_match_linux() {
    let Some(elf) = build("rust_std_threads_match_linux", "musl/std_threads") else {
        return;
    };
    same_as_linux(&elf, "std_threads", "rs: ", 10);
}

/// A glibc program's signals: rt and plain handlers (`rt_sigreturn`, `sigreturn`), raise
/// and kill, blocked and pending signals, `SA_RESETHAND`, a SIGSEGV handler on the
/// alternate stack left by `siglongjmp`, the FPU state across a handler, futex waits and
/// `nanosleep` of another thread interrupted (EINTR), `sigsuspend`, and `abort` (SIGABRT,
/// status 134): the same lines and status as on Linux.
#[test]
fn glibc_signals_match_linux() {
    const TEST: &str = "glibc_signals_match_linux";
    let Some(elf) = build(TEST, "glibc/glibc_signals") else {
        return;
    };
    same_as_linux_ending(&elf, "glibc_signals", &["sg: "], 15, 134);
}

/// A Rust std thread that overflows its stack: Rust's guard-page handler (SIGSEGV on the
/// alternate stack) reports it as on Linux and aborts (134).
#[test]
fn rust_stack_overflow_is_reported_as_on_linux() {
    let Some(elf) = build(
        "rust_stack_overflow_is_reported_as_on_linux",
        "musl/std_overflow",
    ) else {
        return;
    };
    same_as_linux_ending(
        &elf,
        "std_overflow",
        &[
            "ov: ",
            "thread 'deep' has overflowed its stack",
            "fatal runtime error",
        ],
        4,
        134,
    );
}

/// A Rust std panic (one caught from a thread by `join`, one in `main`) prints Rust's
/// reports and exits with status 101, as on Linux.
#[test]
fn rust_panic_exits_101_as_on_linux() {
    let Some(elf) = build("rust_panic_exits_101_as_on_linux", "musl/std_panic") else {
        return;
    };
    same_as_linux_ending(
        &elf,
        "std_panic",
        &["pn: ", "thread '", "worker gives up", "index out of bounds"],
        7,
        101,
    );
}

/// `cargo qemu --env KEY=VALUE 'PROGRAM ARGS'`: a Rust std program sees the arguments and
/// exactly the environment named, as it does on Linux when started with them.
#[test]
fn runner_passes_arguments_and_environment() {
    let Some(elf) = build("runner_passes_arguments_and_environment", "musl/std_env") else {
        return;
    };
    same_as_linux_with(
        &elf,
        "std_env",
        &["first", "--second", "3"],
        &[("GREETING", "hello"), ("LANG", "C.UTF-8"), ("EMPTY", "")],
        &["env: "],
        8,
        0,
    );
}

/// Hostile ring-3 code (`ring3_hostile`): privileged instructions, kernel selectors, a bad
/// `iret`, faults of every kind, accesses to the kernel half, and `int N` for all 256
/// vectors, each caught by a handler that goes on to the next: the same signal and
/// `si_code` (and fault address) as on Linux for every case, and the kernel lives on.
#[test]
fn ring3_hostile_code_raises_what_linux_raises() {
    let Some(elf) = build(
        "ring3_hostile_code_raises_what_linux_raises",
        "glibc/ring3_hostile",
    ) else {
        return;
    };
    same_as_linux(&elf, "ring3_hostile", "h: ", 280);
}

/// The vDSO's time functions (`__vdso_clock_gettime` and its 64-bit form,
/// `__vdso_gettimeofday`, `__vdso_time`, computed in user mode from the kernel's data page)
/// and `__vdso_getcpu` give, on Tempest as on Linux, values between those of two system
/// calls, 2 000 times each, and fall back to the system call for the clocks they leave
/// to it (`user/c/vdso_time.c`).
#[test]
fn vdso_time_functions_match_linux() {
    const TEST: &str = "vdso_time_functions_match_linux";
    let Some(elf) = build(TEST, "glibc/vdso_time") else {
        return;
    };
    same_as_linux_ending(&elf, "vdso_time", &["ok:", "FAIL:"], 11, 0);
}
