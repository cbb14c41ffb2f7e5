//! Unmodified C runtimes on Tempest, compared with the host's Linux (the oracle: it runs
//! static i386 executables natively): a glibc program built by an ordinary `gcc -m32
//! -static -pthread` prints the same lines and ends with the same status on both.
//! Without i386 glibc (Debian: gcc-multilib) the test is skipped with the reason, except
//! in CI, where `.ci/run` installs it.

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
    let source = qemu::build::workspace_root().join("user/c").join(source);
    let elf = tmp.join(output);
    let out = Command::new("gcc")
        .args(["-m32", "-static"])
        .args(flags)
        .arg("-o")
        .arg(&elf)
        .arg(&source)
        .output()
        .expect("run gcc");
    assert!(
        out.status.success(),
        "gcc failed on {}:\n{}",
        source.display(),
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
    let program = format!("{} expect=0", elf.display());
    let run = common::run("tcg", Some("300"), &["--smp", "4", &program]);
    expect(&run, 0, &["gl: done", "tempest: success"]);
    expect_exits(&run, "glibc_threads", 1, 0);
    let host = Command::new(&elf).output().expect("run it on the host");
    let host_out = String::from_utf8_lossy(&host.stdout);
    assert!(
        host.status.success(),
        "on Linux: {}\n{host_out}",
        host.status
    );
    let tempest = lines_with(&run.serial, "gl: ");
    let linux = lines_with(&host_out, "gl: ");
    assert!(linux.len() >= 9, "too few lines on Linux:\n{host_out}");
    assert_eq!(
        tempest, linux,
        "glibc_threads printed other lines under Tempest than on Linux\n--- Tempest ---\n{}",
        run.out
    );
}
