//! What the QEMU integration suites share: running the `qemu` runner binary one boot at a
//! time, what it printed (exit records, the summary), the paths of the built user programs,
//! and C programs built by gcc outside cargo.
#![allow(dead_code)] // each suite uses its own subset

use qemu::runtimes::{self, Runtime};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// QEMU runs are serialized: on a 2-core machine parallel TCG guests starve each other and
/// turn generous timeouts into flaky ones.
static QEMU: Mutex<()> = Mutex::new(());

/// One run of the runner.
pub struct Run {
    pub code: i32,
    /// The runner's stdout then its stderr.
    pub out: String,
    /// The runner's stdout alone: the serial output, in order.
    pub serial: String,
    pub elapsed: Duration,
}

/// `TEMPEST_TEST_TIMEOUT_CAP=SECONDS` caps every boot's timeout: a mutation run
/// (docs/reliability.md) sets it so a mutant that hangs the kernel costs minutes, not the
/// suites' generous limits. Unset, each test's own timeout stands.
fn timeout_cap() -> Option<u64> {
    std::env::var("TEMPEST_TEST_TIMEOUT_CAP").ok()?.parse().ok()
}

/// Runs the runner with `--accel ACCEL` (and `--timeout TIMEOUT` when given, under the cap
/// above) and `args`.
pub fn run(accel: &str, timeout: Option<&str>, args: &[&str]) -> Run {
    let _one_at_a_time = QEMU.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qemu"));
    cmd.args(["--accel", accel]);
    let timeout = match (timeout.and_then(|t| t.parse::<u64>().ok()), timeout_cap()) {
        (Some(t), Some(cap)) => Some(if t == 0 { cap } else { t.min(cap) }.to_string()),
        (None, Some(cap)) => Some(cap.to_string()),
        (_, None) => timeout.map(str::to_owned),
    };
    if let Some(t) = timeout {
        cmd.args(["--timeout", &t]);
    }
    let out = cmd.args(args).output().expect("run the qemu runner");
    let serial = String::from_utf8_lossy(&out.stdout).into_owned();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: format!("{serial}{}", String::from_utf8_lossy(&out.stderr)),
        serial,
        elapsed: start.elapsed(),
    }
}

/// Asserts the runner's exit status and that its output contains every needle.
pub fn expect(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(
        run.code, code,
        "runner exit status\n--- output ---\n{}",
        run.out
    );
    for n in needles {
        assert!(
            run.out.contains(n),
            "output lacks `{n}`\n--- output ---\n{}",
            run.out
        );
    }
}

/// Holds the one-boot-at-a-time lock for a test that drives the runner itself.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    QEMU.lock().unwrap_or_else(|e| e.into_inner())
}

/// The user programs by name, built once per suite.
pub fn user_bins() -> &'static HashMap<String, PathBuf> {
    static BINS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BINS.get_or_init(|| {
        let root = qemu::build::workspace_root();
        qemu::provision::ensure_target(&root).expect("i586 target");
        qemu::build::build_target_bins(&root, qemu::programs::USER_PACKAGE)
            .expect("build the user programs")
            .into_iter()
            .map(|a| (a.name, a.path))
            .collect()
    })
}

/// The runner's PROGRAM word for user program `bin` with `args` and expected `status`.
pub fn program(bin: &str, args: &str, status: u8) -> String {
    let path = user_bins()
        .get(bin)
        .unwrap_or_else(|| panic!("the user package has no bin `{bin}`"));
    format!("{} {args} expect={status}", path.display())
}

/// The first `@@tempest` record of kind `event`.
pub fn record(run: &Run, event: &str) -> serde_json::Value {
    qemu::serial::records(&run.out)
        .into_iter()
        .find(|r| r["event"] == event)
        .unwrap_or_else(|| panic!("no `{event}` record\n{}", run.out))
}

/// Asserts that `name` has exactly `count` exit records, each with `status` and `status`
/// expected.
pub fn expect_exits(run: &Run, name: &str, count: usize, status: i64) {
    let exits: Vec<qemu::serial::ExitRecord> = qemu::serial::exit_records(&run.serial)
        .into_iter()
        .filter(|e| e.name == name)
        .collect();
    assert_eq!(
        exits.len(),
        count,
        "exit records of {name}\n--- output ---\n{}",
        run.out
    );
    for e in exits {
        assert_eq!(
            (e.status, e.expected),
            (status, status),
            "exit record of {name}\n--- output ---\n{}",
            run.out
        );
    }
}

/// gcc's flags for a static, freestanding i386 executable at a fixed address.
pub const GCC_FREESTANDING_I386: [&str; 6] = [
    "-m32",
    "-static",
    "-nostdlib",
    "-fno-pie",
    "-no-pie",
    "-ffreestanding",
];

/// Whether `gcc -m32` can link a freestanding i386 executable here (`Err` says why not).
pub fn gcc_m32_works(tmp: &Path) -> Result<(), String> {
    let probe = tmp.join("probe_m32.c");
    std::fs::write(&probe, "void _start(void) { for (;;) {} }\n").map_err(|e| e.to_string())?;
    let out = Command::new("gcc")
        .args(GCC_FREESTANDING_I386)
        .arg("-o")
        .arg(tmp.join("probe_m32"))
        .arg(&probe)
        .output()
        .map_err(|e| format!("gcc is not installed ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "gcc -m32 cannot build i386 executables here (Debian: apt-get install gcc-multilib): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether a test may skip because the host lacks something (`why`): it prints
/// `SKIPPED test: why` and says yes, except in CI (`CI` set, as `.ci/run` runs), where a
/// skip would hide that the test never ran, so it fails the test instead.
pub fn skip_outside_ci(test: &str, why: &str) -> bool {
    assert!(std::env::var_os("CI").is_none(), "{test}: in CI: {why}");
    eprintln!("SKIPPED {test}: {why}");
    true
}

/// Builds `user/c/SOURCE` with gcc, the freestanding i386 flags and `extra`, into
/// `OUTPUT` in the test's scratch directory; `None` when the host's gcc cannot build i386
/// executables and the test may skip ([`skip_outside_ci`]). A compile error fails the test.
pub fn build_c_program(test: &str, source: &str, output: &str, extra: &[&str]) -> Option<PathBuf> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if let Err(why) = gcc_m32_works(tmp) {
        skip_outside_ci(test, &why);
        return None;
    }
    Some(gcc(
        source,
        output,
        &[&GCC_FREESTANDING_I386[..], extra].concat(),
    ))
}

/// Compiles `user/c/SOURCE` with gcc and `flags` into `OUTPUT` in the test's scratch
/// directory and returns its path; a compile error fails the test.
pub fn gcc(source: &str, output: &str, flags: &[&str]) -> PathBuf {
    let source = qemu::build::workspace_root().join("user/c").join(source);
    let elf = Path::new(env!("CARGO_TARGET_TMPDIR")).join(output);
    let out = Command::new("gcc")
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
    elf
}

/// Builds `glibc/NAME` or `musl/NAME` as the runner does (`qemu::runtimes`); `None`
/// (skipped, except in CI) when the toolchain is missing here. A build error fails the
/// test.
pub fn build_runtime(test: &str, program: &str) -> Option<PathBuf> {
    let root = qemu::build::workspace_root();
    let (runtime, _) = Runtime::of(program).expect("glibc/NAME or musl/NAME");
    let ready = match runtime {
        Runtime::Glibc => runtimes::glibc_links(),
        Runtime::Musl => runtimes::musl_installed(&root),
    };
    if !ready {
        skip_outside_ci(
            test,
            match runtime {
                Runtime::Glibc => {
                    "gcc -m32 -static cannot link a glibc program here (Debian: apt-get install gcc-multilib)"
                }
                Runtime::Musl => {
                    "the i686-unknown-linux-musl target is not installed (rustup target add i686-unknown-linux-musl)"
                }
            },
        );
        return None;
    }
    Some(runtimes::build(&root, program).unwrap_or_else(|e| panic!("{e:#}")))
}

/// A fresh, empty directory for test `name` under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = qemu::build::target_dir(&qemu::build::workspace_root())
        .join("test-trees")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lines a program printed, from its `PROGRAM: start` to its `PROGRAM: N failure(s)`,
/// without the kernel's own log lines between them.
pub fn program_lines<'a>(program: &str, out: &'a str) -> Vec<&'a str> {
    let start = format!("{program}: start");
    let head = format!("{program}: ");
    let mut lines = Vec::new();
    let mut inside = false;
    for line in out.lines() {
        inside |= line == start;
        if inside && !line.starts_with("[cpu") {
            lines.push(line);
        }
        if inside && line.starts_with(&head) && line.ends_with("failure(s)") {
            break;
        }
    }
    lines
}

/// Boots at four CPUs with all but 16 MiB of RAM in highmem (`--memory 256`, `lowmem=16`
/// before `cmdline`), so every user page, file page and pipe page is a highmem frame
/// reached through temp mappings; `args` follow (programs, `--initrd`...).
pub fn run_in_highmem(timeout: &str, cmdline: &str, args: &[&str]) -> Run {
    let cmdline = format!("lowmem=16 {cmdline}");
    let mut all = vec![
        "--smp",
        "4",
        "--memory",
        "256",
        "--cmdline",
        cmdline.trim_end(),
    ];
    all.extend_from_slice(args);
    run("tcg", Some(timeout), &all)
}
