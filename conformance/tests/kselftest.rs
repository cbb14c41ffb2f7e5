//! The conformance run end to end: Linux's 32-bit x86 selftests on the host and on Tempest
//! at `--smp 4`, against `conformance/kselftest-x86.expect`; and the run's own checks,
//! shown able to fail: a failing test the expectations do not list fails the run, and a
//! listed test that passes is reported.
//!
//! Skipped, with the reason, when the suite cannot be had here (no apt source for
//! `linux-source-6.12`, no 32-bit gcc); a failure under `CI`.

use std::process::{Command, Output};
use std::sync::Mutex;

/// One conformance run at a time: they share the build directory and the cached suite,
/// and each boots QEMU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs the conformance binary with `args`; `None` (after saying why) when the suite
/// cannot be had and this is not CI.
fn conformance(args: &[&str]) -> Option<Output> {
    let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .arg("kselftest-x86")
        .args(args)
        .output()
        .expect("the conformance binary runs");
    if out.status.code() == Some(3) {
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            std::env::var_os("CI").is_none(),
            "the suite must be available in CI:\n{why}"
        );
        eprintln!("skipped: {why}");
        return None;
    }
    Some(out)
}

/// Runs the conformance binary with `args` and checks that it fails, naming `test` as a
/// failure the expectations do not list (`unnoticed`: what would otherwise go unseen).
/// Skips (as [`conformance`]) when the suite cannot be had.
fn fails_naming(args: &[&str], test: &str, unnoticed: &str) {
    let Some(out) = conformance(args) else {
        return;
    };
    let all = text(&out);
    assert!(!out.status.success(), "{unnoticed} went unnoticed\n{all}");
    assert!(all.contains(&format!("does not list: {test}")), "{all}");
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn linux_x86_selftests_pass_on_tempest_but_for_the_listed_ones() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("tempest-kselftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("kselftest.json");
    let Some(out) = conformance(&["--json", json.to_str().unwrap()]) else {
        return;
    };
    let all = text(&out);
    assert!(out.status.success(), "the conformance run failed\n{all}");
    assert!(all.contains(" 0 fail unexpectedly"), "{all}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tests = doc["tests"].as_array().unwrap();
    assert!(tests.len() >= 20, "too few tests ran: {}", tests.len());
    // The ones that pass really ran checks on both kernels, the same number of them.
    let passing: Vec<_> = tests.iter().filter(|t| t["verdict"] == "pass").collect();
    assert!(passing.len() >= 10, "{all}");
    for t in passing {
        assert!(
            t["tempest"]["ok"].as_u64() >= t["linux"]["ok"].as_u64(),
            "{t}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Negative control: with an expectations file that lists nothing, a test that fails on
/// Tempest fails the run by name; one listed that passes is reported as passing.
#[test]
fn an_unlisted_failure_fails_the_run_and_a_listed_pass_is_reported() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("tempest-kselftest-neg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.expect");
    std::fs::write(&empty, "# nothing expected to fail\n").unwrap();
    let Some(out) = conformance(&["--only", "nx_stack", "--expect", empty.to_str().unwrap()])
    else {
        return;
    };
    let all = text(&out);
    assert!(!out.status.success(), "an unlisted failure passed\n{all}");
    assert!(all.contains("UNEXPECTED FAIL"), "{all}");
    assert!(all.contains("does not list: nx_stack"), "{all}");

    let listed = dir.join("listed.expect");
    std::fs::write(&listed, "syscall_nt: listed on purpose\n").unwrap();
    let out = conformance(&["--only", "syscall_nt", "--expect", listed.to_str().unwrap()])
        .expect("available a moment ago");
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("now passes"), "{all}");
    assert!(all.contains("remove it from the expectations"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The second oracle: Debian's i386 Linux in the same QEMU machine. `sigaltstack` fails
/// against the host (whose bigger signal frames make it run one more check) and passes
/// against Linux on Tempest's own CPU model; `ioperm` runs all 13 of its checks there (the
/// host's kernel has no `ioperm`).
#[test]
fn linux_in_the_same_qemu_judges_on_the_same_cpu_model() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("tempest-kselftest-lq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.expect");
    std::fs::write(&empty, "# nothing expected to fail\n").unwrap();
    let only = [
        "--only",
        "sigaltstack,syscall_nt,ioperm",
        "--expect",
        empty.to_str().unwrap(),
    ];
    let Some(out) = conformance(&[&only[..], &["--oracle", "linux-qemu"]].concat()) else {
        return;
    };
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("3 tests: 3 pass"), "{all}");
    fails_naming(&only, "sigaltstack", "the host's extra check");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Negative control of the I/O bitmap's switch: with `no-io-bitmap-switch` a CPU keeps the
/// bitmap of the task it ran before, and `ioperm`'s parent, after its child dropped port
/// 0x80 on the same CPU, finds the port gone (Linux in QEMU, which gives it, is the oracle).
#[test]
fn a_cpu_keeping_the_last_tasks_io_bitmap_is_caught() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "--only",
        "ioperm",
        "--oracle",
        "linux-qemu",
        "--kernel-cmdline",
        "no-io-bitmap-switch",
    ];
    fails_naming(&args, "ioperm", "the stale bitmap");
}

/// Negative control of the vDSO's move: with `no-vdso-follow`, `mremap` leaves a caller
/// that came through `__kernel_vsyscall` (static glibc does) returning into the old copy,
/// and `test_mremap_vdso`'s child dies there.
#[test]
fn a_caller_left_in_the_old_vdso_is_caught() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "--only",
        "test_mremap_vdso",
        "--kernel-cmdline",
        "no-vdso-follow",
    ];
    fails_naming(&args, "test_mremap_vdso", "the stale return address");
}

/// Negative control of the LDT's cross-CPU reload: with `no-ldt-ipi`, `modify_ldt`
/// reloads the table on the calling CPU only, so `ldt_gdt`'s main thread, on another CPU
/// with its stack segment in the entry a thread just cleared, goes on running on the old
/// table and never faults ("iterations failed").
#[test]
fn a_cpu_keeping_the_old_ldt_is_caught() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let args = ["--only", "ldt_gdt", "--kernel-cmdline", "no-ldt-ipi"];
    fails_naming(&args, "ldt_gdt", "a CPU keeping a cleared LDT entry");
}

/// Negative control of espfix: with `no-espfix`, a return to a 16-bit stack segment
/// leaves the kernel stack pointer's high half in ESP, and `sigreturn`'s 16-bit cases see
/// it ("SP mismatch"). Judged against Linux in QEMU: the host's 64-bit kernel runs cases
/// no 32-bit kernel can, so the test is listed for the host.
#[test]
fn a_return_without_espfix_is_caught() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "--oracle",
        "linux-qemu",
        "--only",
        "sigreturn",
        "--kernel-cmdline",
        "no-espfix",
    ];
    fails_naming(
        &args,
        "sigreturn",
        "the kernel's stack pointer leaking to user mode",
    );
}

/// Negative control of the SYSENTER entry: with `no-sysenter-tf`, the single-step trap a
/// `sysenter` with TF set takes in the kernel's stub is not absorbed, and
/// `syscall_arg_fault`'s TF case stops the kernel.
#[test]
fn a_sysenter_single_step_trap_left_to_the_kernel_is_caught() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "--only",
        "syscall_arg_fault",
        "--kernel-cmdline",
        "no-sysenter-tf",
    ];
    fails_naming(&args, "syscall_arg_fault", "a user-made kernel-mode trap");
}

/// The tests that run threads on several CPUs pass at `--smp 8` too.
#[test]
fn the_threaded_tests_pass_on_eight_cpus() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let only = "sysret_ss_attrs,sigtrap_loop,ldt_gdt";
    let Some(out) = conformance(&["--smp", "8", "--only", only]) else {
        return;
    };
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("3 tests: 3 pass"), "{all}");
}
