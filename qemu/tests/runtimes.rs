//! Unmodified C runtimes on Tempest, compared with the host's Linux (the oracle: it runs
//! static i386 executables natively): a glibc program built by an ordinary `gcc -m32
//! -static -pthread`, and a Rust std program built by `rustc --target
//! i686-unknown-linux-musl`, print the same lines and end with the same status on both.
//! Without i386 glibc (Debian: gcc-multilib) or the musl target (rustup) a test is
//! skipped with the reason, except in CI, where `.ci/run` installs both.

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
    let program = format!("{} expect=0", elf.display());
    let run = common::run("tcg", Some("300"), &["--smp", "4", &program]);
    expect(&run, 0, &["tempest: success"]);
    expect_exits(&run, name, 1, 0);
    let host = Command::new(elf).output().expect("run it on the host");
    let host_out = String::from_utf8_lossy(&host.stdout);
    assert!(
        host.status.success(),
        "on Linux: {}\n{host_out}",
        host.status
    );
    let tempest = lines_with(&run.serial, prefix);
    let linux = lines_with(&host_out, prefix);
    assert!(linux.len() >= min, "too few lines on Linux:\n{host_out}");
    assert_eq!(
        tempest, linux,
        "{name} printed other lines under Tempest than on Linux\n--- Tempest ---\n{}",
        run.out
    );
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

/// The lines of `output` that start with `prefix`, in order.
fn lines_with<'a>(output: &'a str, prefix: &str) -> Vec<&'a str> {
    output
        .lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with(prefix))
        .collect()
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
