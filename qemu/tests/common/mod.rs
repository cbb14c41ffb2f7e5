//! What the QEMU integration suites share: running the `qemu` runner binary one boot at a
//! time, what it printed, and the paths of the built user programs.
#![allow(dead_code)] // each suite uses its own subset

use std::collections::HashMap;
use std::path::PathBuf;
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

/// Runs the runner with `--accel ACCEL` (and `--timeout TIMEOUT` when given) and `args`.
pub fn run(accel: &str, timeout: Option<&str>, args: &[&str]) -> Run {
    let _one_at_a_time = QEMU.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qemu"));
    cmd.args(["--accel", accel]);
    if let Some(t) = timeout {
        cmd.args(["--timeout", t]);
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
