//! Signals under TCG: `sigreturn` takes from a frame only what user mode may choose. A
//! program forges `rt_sigreturn` frames (`sigreturn_forged`): a valid one resumes with its
//! registers and the user-owned EFLAGS bits only; one naming the kernel's code or stack
//! segment makes the `iret` back fault, which ends that process with SIGILL (as Linux i386)
//! and the kernel goes on. The negative control `sigreturn-any-segment` keeps the frame's
//! privilege level and must let the forged frame reach ring 0 (the program then executes
//! `ud2` there, which the kernel reports as its own exception); `no-return-fixup` leaves
//! the faulting `iret` to the kernel, which stops on it. A glibc program's SSE registers survive
//! signals landing while it uses them (`glibc/signal_fpu`), and with the frames' FPU state
//! switched off (`signal-no-fpu`) the program catches the handler's values leaking back.
//! Delivery to handlers is also tested with real C runtimes against Linux in runtimes.rs.

mod common;

use common::{Run, expect, program};

/// Seconds the runner waits for a verdict (TCG on a loaded machine is slow).
const TIMEOUT: &str = "300";

fn boot(cmdline: Option<&str>, programs: &[String]) -> Run {
    let mut args = vec!["--smp", "2"];
    if let Some(words) = cmdline {
        args.extend(["--cmdline", words]);
    }
    args.extend(programs.iter().map(String::as_str));
    common::run("tcg", Some(TIMEOUT), &args)
}

#[test]
fn sigreturn_takes_only_what_user_mode_may_choose() {
    let run = boot(
        None,
        &[
            program("sigreturn_forged", "regs", 0),
            program("sigreturn_forged", "cs", 132),
            program("sigreturn_forged", "ss", 132),
        ],
    );
    expect(
        &run,
        0,
        &[
            "resumed: eax=1 ecx=2 edx=3 ebx=4 esi=5 edi=6",
            "the iret to user mode faulted, #GP(0x8), on cs=0xb",
            "the iret to user mode faulted, #GP(0x10), on cs=0x1b",
            "killed by SIGILL: the iret to user mode faulted",
            "tempest: success",
        ],
    );
    assert!(!run.out.contains("FAIL"), "a check failed\n{}", run.out);
    let exits = qemu::serial::exit_records(&run.serial);
    let mut statuses: Vec<(i64, i64)> = exits.iter().map(|e| (e.status, e.expected)).collect();
    statuses.sort();
    assert_eq!(statuses, [(0, 0), (132, 132), (132, 132)], "{}", run.out);
}

#[test]
fn forged_kernel_code_segment_reaches_ring_0_without_the_check() {
    let run = boot(
        Some("sigreturn-any-segment"),
        &[program("sigreturn_forged", "cs", 132)],
    );
    expect(&run, 2, &["kernel exception: Invalid Opcode", "cs=0x0008"]);
}

#[test]
fn a_faulting_iret_stops_the_kernel_without_the_fixup() {
    let run = boot(
        Some("no-return-fixup"),
        &[program("sigreturn_forged", "ss", 132)],
    );
    expect(&run, 2, &["kernel exception: General Protection Fault"]);
}

/// Whether the glibc programs can be built here (else the test is skipped, never in CI).
fn glibc_ready(test: &str) -> bool {
    qemu::runtimes::glibc_links()
        || !common::skip_outside_ci(test, "no i386 glibc here (Debian: gcc-multilib)")
}

#[test]
fn sse_registers_survive_signal_handlers() {
    if !glibc_ready("sse_registers_survive_signal_handlers") {
        return;
    }
    let run = boot(None, &["glibc/signal_fpu expect=0".to_owned()]);
    expect(
        &run,
        0,
        &[
            "signal_fpu: ok: rounds with a wrong xmm register: 0",
            "tempest: success",
        ],
    );
}

#[test]
fn signal_fpu_catches_frames_without_fpu_state() {
    if !glibc_ready("signal_fpu_catches_frames_without_fpu_state") {
        return;
    }
    let run = boot(
        Some("signal-no-fpu"),
        &["glibc/signal_fpu expect=1".to_owned()],
    );
    expect(
        &run,
        0,
        &[
            "signal_fpu: FAIL: rounds with a wrong xmm register",
            "tempest: success",
        ],
    );
}

/// A `bench_barrier` waiter interrupted by a signal leaves with `EINTR` and takes its
/// arrival back: the next round still waits for all its callers (issue 16's barrier
/// defect; before the fix the waiter never left, and the run timed out).
#[test]
fn barrier_waiter_interrupted_by_a_signal_takes_its_arrival_back() {
    if !glibc_ready("barrier_waiter_interrupted_by_a_signal_takes_its_arrival_back") {
        return;
    }
    let run = boot(None, &["glibc/barrier_leave expect=0".to_owned()]);
    expect(
        &run,
        0,
        &[
            "barrier_leave: A left with -1 (EINTR)",
            "barrier_leave: B alone waits",
            "barrier_leave: ok",
            "tempest: success",
        ],
    );
}
