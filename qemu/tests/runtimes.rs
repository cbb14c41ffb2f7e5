//! Unmodified C runtimes on Tempest, compared with the host's Linux (the oracle: it runs
//! static i386 executables natively): a glibc program built by an ordinary `gcc -m32
//! -static -pthread`, and a Rust std program built by `rustc --target
//! i686-unknown-linux-musl`, print the same lines and end with the same status on both.
//! Without i386 glibc (Debian: gcc-multilib) or the musl target (rustup) a test is
//! skipped with the reason, except in CI, where `.ci/run` installs both.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{expect, expect_exits};

/// Builds `user/c/SOURCE` as a static i386 glibc program with `flags`; `None` (skipped)
/// when the host has no i386 glibc to link against. A compile error fails the test.
fn build_glibc_program(test: &str, source: &str, output: &str, flags: &[&str]) -> Option<PathBuf> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let probe = tmp.join("probe_glibc.c");
    std::fs::write(
        &probe,
        "#include <stdio.h>\nint main(void) { return puts(\"\") < 0; }\n",
    )
    .expect("write the probe");
    let works = Command::new("gcc")
        .args(["-m32", "-static", "-o"])
        .arg(tmp.join("probe_glibc"))
        .arg(&probe)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !works {
        common::skip_outside_ci(
            test,
            "gcc -m32 -static cannot link a glibc program here (Debian: apt-get install gcc-multilib)",
        );
        return None;
    }
    Some(common::gcc(
        source,
        output,
        &[&["-m32", "-static"][..], flags].concat(),
    ))
}

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
    let program = format!("{} expect={status}", elf.display());
    let run = common::run("tcg", Some("300"), &["--smp", "4", &program]);
    expect(&run, 0, &["tempest: success"]);
    expect_exits(&run, name, 1, i64::from(status));
    let host = Command::new(elf)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run it on the host");
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

/// Builds `user/std/SOURCE` for `i686-unknown-linux-musl` with the pinned toolchain's
/// rustc; `None` (skipped) when that target is not installed.
fn build_musl_program(test: &str, source: &str, output: &str) -> Option<PathBuf> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let root = qemu::build::workspace_root();
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(&root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("i686-unknown-linux-musl"))
        .unwrap_or(false);
    if !installed {
        common::skip_outside_ci(
            test,
            "the i686-unknown-linux-musl target is not installed (rustup target add i686-unknown-linux-musl)",
        );
        return None;
    }
    let elf = tmp.join(output);
    let out = Command::new("rustc")
        .args([
            "--edition",
            "2024",
            "--target",
            "i686-unknown-linux-musl",
            "-O",
            "-o",
        ])
        .arg(&elf)
        .arg(root.join("user/std").join(source))
        .current_dir(&root)
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "rustc failed on {source}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(elf)
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
    let Some(elf) = build_glibc_program(
        TEST,
        "glibc_threads.c",
        "glibc_threads",
        &["-O2", "-pthread"],
    ) else {
        return;
    };
    same_as_linux(&elf, "glibc_threads", "gl: ", 9);
}

/// A Rust std program (musl) with threads, `Mutex`, `mpsc`, `HashMap` (seeded by
/// `getrandom`), a 1 MiB vector, `f64` maths and `thread::sleep` runs at `--smp 4` and
/// prints what it prints on Linux.
#[test]
fn rust_std_threads_match_linux() {
    let Some(elf) = build_musl_program(
        "rust_std_threads_match_linux",
        "std_threads.rs",
        "std_threads",
    ) else {
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
    let Some(elf) = build_glibc_program(
        TEST,
        "glibc_signals.c",
        "glibc_signals",
        &["-O2", "-pthread"],
    ) else {
        return;
    };
    same_as_linux_ending(&elf, "glibc_signals", &["sg: "], 14, 134);
}

/// A Rust std thread that overflows its stack: Rust's guard-page handler (SIGSEGV on the
/// alternate stack) reports it as on Linux and aborts (134).
#[test]
fn rust_stack_overflow_is_reported_as_on_linux() {
    let Some(elf) = build_musl_program(
        "rust_stack_overflow_is_reported_as_on_linux",
        "std_overflow.rs",
        "std_overflow",
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
    let Some(elf) = build_musl_program(
        "rust_panic_exits_101_as_on_linux",
        "std_panic.rs",
        "std_panic",
    ) else {
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
