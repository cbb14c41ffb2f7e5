//! Boots the real kernel under TCG through the `qemu` runner binary and checks that every
//! kind of ending is reported as what it is. Each deliberate failure (`crash=...`) is the
//! negative control of the protection the runner gives: a panic, an exception, a reset, a
//! hang or a failed test must never read as success.

use std::process::Command;
use std::time::Duration;

mod common;

use common::{Run, expect};

fn runner(args: &[&str]) -> Run {
    common::run("tcg", None, args)
}

#[test]
fn kernel_test_suite_passes() {
    let run = runner(&["--memory", "256", "test"]);
    expect(
        &run,
        0,
        &[
            "test mm::frames::alloc_free ... ok",
            " passed, 0 failed",
            "tempest: success",
        ],
    );
}

#[test]
fn kernel_tests_pass_with_highmem_forced() {
    // lowmem=16 leaves 240 MiB of a 256 MiB VM as highmem, so user frames come from it.
    let run = runner(&["--memory", "256", "--cmdline", "lowmem=16", "test", "mm::"]);
    expect(
        &run,
        0,
        &[
            "direct map 0..16 MiB",
            "user_frames_come_from_highmem",
            " passed, 0 failed",
        ],
    );
}

#[test]
fn boot_on_four_cpus_ends_with_a_summary() {
    // The kernel alone: programs.rs boots the default set of user programs on four CPUs.
    let run = runner(&["--smp", "4", "--no-programs"]);
    expect(
        &run,
        0,
        &[
            "Tempest summary",
            "@@tempest {\"event\":\"summary\"",
            "tempest: success",
        ],
    );
    let records = run
        .out
        .lines()
        .filter_map(|l| l.strip_prefix("@@tempest "))
        .map(|j| serde_json::from_str::<serde_json::Value>(j).expect("record is JSON"))
        .collect::<Vec<_>>();
    // The summary, then the heap before and after the programs (none here: equal).
    assert_eq!(records.len(), 2, "{}", run.out);
    assert_eq!(records[1]["event"], "heap", "{}", run.out);
    assert_eq!(
        records[1]["before_programs"], records[1]["after_programs"],
        "{}",
        run.out
    );
    let lowmem = records[0]["lowmem_frames_free"].as_u64().unwrap();
    assert!(
        lowmem > 20_000,
        "a 128 MiB VM has more than 80 MiB of free lowmem: {lowmem}"
    );
    assert!(records[0]["boot_us"].as_u64().unwrap() > 0);
}

#[test]
fn ram_above_4g_is_ignored_not_fatal() {
    let run = runner(&["--memory", "5120"]);
    expect(
        &run,
        0,
        &["ignoring 2048 MiB of RAM above 4 GiB", "tempest: success"],
    );
}

#[test]
fn failed_kernel_test_fails_the_run_by_name() {
    let run = runner(&["--cmdline", "crash=failing-test"]);
    expect(
        &run,
        1,
        &[
            "test ktest::selfcheck::fails ... FAILED",
            "1 passed, 1 failed",
            "ktest::selfcheck::fails",
        ],
    );
    assert!(!run.out.contains("tempest: success"), "{}", run.out);
}

#[test]
fn panic_is_reported_with_a_symbolized_backtrace() {
    let run = runner(&["--cmdline", "crash=panic"]);
    expect(
        &run,
        2,
        &[
            "KERNEL PANIC on cpu 0: deliberate panic",
            "kernel/src/crash.rs",
        ],
    );
    // The host-side symbolizer names the function that panicked.
    assert!(
        run.out
            .lines()
            .any(|l| l.contains("deliberate_panic") && l.contains(" at ")),
        "no symbolized frame names deliberate_panic\n{}",
        run.out
    );
}

#[test]
fn page_fault_is_reported_with_registers_and_cr2() {
    let run = runner(&["--cmdline", "crash=page-fault"]);
    expect(
        &run,
        2,
        &[
            "Page Fault (#PF, vector 14)",
            "cr2=0x00000010",
            "read of 0x00000010 (page not present, kernel mode)",
        ],
    );
    assert!(
        run.out
            .lines()
            .any(|l| l.contains("deliberate_page_fault") && l.contains("crash.rs")),
        "frame #0 is not symbolized to deliberate_page_fault\n{}",
        run.out
    );
}

#[test]
fn triple_fault_is_a_reset_never_success() {
    let run = runner(&["--cmdline", "crash=triple-fault"]);
    expect(&run, 3, &["reset"]);
    assert!(!run.out.contains("tempest: success"), "{}", run.out);
}

#[test]
fn hang_is_a_timeout_within_the_limit() {
    let run = runner(&["--timeout", "10", "--cmdline", "crash=hang"]);
    expect(&run, 4, &["timeout", "crash=Hang requested"]);
    // The build is already done by earlier tests or takes well under a minute; QEMU itself
    // is killed at 10 s. The bound is generous on purpose: it checks that the runner stops
    // the guest, not how fast.
    assert!(
        run.elapsed < Duration::from_secs(300),
        "took {:?}",
        run.elapsed
    );
}

/// A CPU that stops answering (`crash=hang-ap`: the last one spins with interrupts off)
/// is named by the watchdog on the others before the runner's timeout ends the run, so a
/// hang reads as which CPU hung, not as silence; a timeout is still never success.
#[test]
fn a_hung_cpu_is_named_by_the_watchdog() {
    let run = runner(&[
        "--smp",
        "4",
        "--no-programs",
        "--timeout",
        "60",
        "--cmdline",
        "crash=hang-ap",
    ]);
    expect(
        &run,
        4,
        &[
            "crash=hang-ap: cpu 3 now spins with interrupts off",
            "watchdog: cpu 3 stopped answering: no timer interrupt for",
            "timeout",
        ],
    );
    assert!(
        !run.out.contains("watchdog: cpu 0") && !run.out.contains("watchdog: cpu 1 "),
        "a CPU that answers was named\n{}",
        run.out
    );
}

#[test]
fn gdb_mode_halts_until_a_debugger_continues() {
    let Ok(gdb) = which("gdb") else {
        eprintln!("SKIPPED gdb_mode_halts_until_a_debugger_continues: gdb is not installed");
        return;
    };
    let _one_at_a_time = common::exclusive();
    let mut child = Command::new(env!("CARGO_BIN_EXE_qemu"))
        .args(["--accel", "tcg", "--gdb"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the qemu runner");
    // The runner prints the attach command once QEMU is up and halted.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut attach = String::new();
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0 {
        if line.trim_start().starts_with("gdb ") {
            attach = line.trim().to_owned();
            break;
        }
        line.clear();
    }
    assert!(
        attach.contains("target remote :1234"),
        "no attach line; last: {line}"
    );
    let elf = attach.split_whitespace().nth(1).unwrap().to_owned();
    let session = Command::new(gdb)
        .args(["-q", "-batch", &elf])
        .args(["-ex", "target remote :1234"])
        .args(["-ex", "hbreak kernel::boot::start"])
        .args(["-ex", "continue"])
        .args(["-ex", "bt 1"])
        .args(["-ex", "continue"])
        .output()
        .expect("run gdb");
    let gdb_out = String::from_utf8_lossy(&session.stdout);
    assert!(
        gdb_out.contains("kernel::boot::start"),
        "gdb did not stop at boot::start:\n{gdb_out}"
    );
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the run continued by gdb should succeed"
    );
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(tool))
                .find(|p| p.is_file())
        })
        .ok_or(())
}
