//! The kernel model under TCG: a preemptible kernel, load balancing and CPU affinity,
//! futexes, clocks and sleeps, FPU/SSE state per task, temp mappings held across
//! preemption, and TLB shootdowns that reach lazy CPUs. One test per user program (at
//! `--smp 4` unless noted), asserting its exit record and the lines it prints, plus:
//!
//! - busy processes all started on CPU 0 spread over every CPU, and a pinned one never
//!   moves while they do; the summary counts the steals and migrations;
//! - every per-CPU counter of the kernel model is in the summary record;
//! - a C program built by gcc prints the same lines under Tempest as on the host's Linux
//!   (the oracle), which runs static i386 executables natively;
//! - negative controls: with the FPU/SSE state not saved (`no-fpu-save`), the kernel not
//!   preemptible (`no-kernel-preempt`), temp-mapping holders free to migrate
//!   (`temp-no-pin`) or shootdowns sent only to CPUs running the process now
//!   (`shootdown-running-only`), the corresponding program must catch it.

use std::process::Command;

use serde_json::Value;

mod common;

use common::{Run, expect, expect_exits, program};

/// Seconds the runner waits for a verdict (TCG on a loaded machine is slow).
const TIMEOUT: &str = "300";

/// The per-CPU counters the kernel model adds to the summary record.
const KERNEL_MODEL_COUNTERS: [&str; 8] = [
    "migrations_in",
    "migrations_out",
    "steals",
    "idle_us",
    "irq_off_max_cycles",
    "kernel_preemptions",
    "temp_preempted_holding",
    "temp_migrated_holding",
];

/// Boots `programs` on `smp` CPUs with the kernel command line `cmdline` (if any).
fn boot(smp: u32, cmdline: Option<&str>, programs: &[String]) -> Run {
    let smp = smp.to_string();
    let mut args = vec!["--smp", smp.as_str()];
    if let Some(words) = cmdline {
        args.extend(["--cmdline", words]);
    }
    args.extend(programs.iter().map(String::as_str));
    common::run("tcg", Some(TIMEOUT), &args)
}

/// Boots `bin ARGS` alone on `smp` CPUs expecting exit status 0, and checks that the run
/// succeeds, prints `needles`, reports no failed check and ends with one exit record of
/// status 0.
fn boot_one(smp: u32, bin: &str, args: &str, needles: &[&str]) -> Run {
    let run = boot(smp, None, &[program(bin, args, 0)]);
    expect(&run, 0, needles);
    expect(&run, 0, &["tempest: success"]);
    assert!(!run.out.contains("FAIL"), "a check failed\n{}", run.out);
    expect_exits(&run, bin, 1, 0);
    run
}

/// The summary record's per-CPU entries.
fn per_cpu(run: &Run) -> Vec<Value> {
    common::record(run, "summary")["per_cpu"]
        .as_array()
        .unwrap_or_else(|| panic!("no per_cpu in the summary record\n{}", run.out))
        .clone()
}

/// Per-CPU counter `key` of every CPU (asserting each is an unsigned integer).
fn counters(run: &Run, key: &str) -> Vec<u64> {
    per_cpu(run)
        .iter()
        .map(|c| {
            c[key]
                .as_u64()
                .unwrap_or_else(|| panic!("per-CPU `{key}` missing or not a count: {c}"))
        })
        .collect()
}

/// The sum of per-CPU counter `key` over every CPU.
fn total(run: &Run, key: &str) -> u64 {
    counters(run, key).iter().sum()
}

/// Every futex case against Linux's results (the program lists them; these are the
/// landmarks), and a join through `CLONE_CHILD_CLEARTID`.
#[test]
fn futex_cases() {
    boot_one(
        4,
        "futex_cases",
        "",
        &[
            "ok: FUTEX_WAIT on a word holding another value = -11",
            "ok: FUTEX_WAIT on an unmapped page = -14",
            "ok: FUTEX_WAIT on a misaligned address = -22",
            "ok: futex operation 99 = -38",
            "ok: FUTEX_WAKE with nobody waiting = 0",
            "ok: FUTEX_WAIT with a 20 ms timeout = -110",
            "ok: FUTEX_WAIT with a 20 ms timeout took ",
            "ok: futex_time64 FUTEX_WAIT with a 20 ms timeout = -110",
            "ok: FUTEX_WAIT_BITSET with a CLOCK_MONOTONIC deadline in the past = -110",
            "ok: FUTEX_WAIT_BITSET|CLOCK_REALTIME with a deadline in the past = -110",
            "ok: FUTEX_WAIT_BITSET with bitset 0 = -22",
            "ok: FUTEX_WAKE_BITSET 0b1010 of a waiter with bitset 0b0101 = 0",
            "ok: FUTEX_WAKE_BITSET 0b0100 of a waiter with bitset 0b0101 = 1",
            "ok: FUTEX_REQUEUE of 4 waiters (woken + moved) = 4",
            "ok: FUTEX_REQUEUE then FUTEX_WAKE(all) on the second word = 3",
            "ok: FUTEX_CMP_REQUEUE|PRIVATE with val3 other than the word = -11",
            "ok: FUTEX_CMP_REQUEUE|PRIVATE of 4 waiters (woken + moved) = 2",
            "ok: FUTEX_CMP_REQUEUE|PRIVATE then FUTEX_WAKE(all) on the first word = 2",
            "ok: FUTEX_WAKE|PRIVATE of one private waiter = 1",
            "ok: join through CLONE_CHILD_CLEARTID returned",
            "ok: tid word after the join = 0",
            "ok: tid word seen by the child (CLONE_CHILD_SETTID) = ",
            "futex_cases: all ",
        ],
    );
}

/// 10000 round trips between CPU 0 and CPU 3 through two futex words: no wake-up lost.
#[test]
fn futex_pingpong_across_cpus() {
    boot_one(
        4,
        "futex_pingpong",
        "",
        &[
            "futex_pingpong: 10000 round trips (20000 hand-offs) between cpu 0 and cpu 3",
            " 0 lost wake-ups, 0 errors, 0 times off cpu",
            "futex_pingpong: ok: every hand-off arrived",
        ],
    );
}

/// The same on one CPU, where every hand-off is a switch between the two threads.
#[test]
fn futex_pingpong_on_one_cpu() {
    boot_one(
        1,
        "futex_pingpong",
        "2000",
        &[
            "futex_pingpong: 2000 round trips (4000 hand-offs) between cpu 0 and cpu 0",
            "futex_pingpong: ok: every hand-off arrived",
        ],
    );
}

/// 16 sleepers, one `FUTEX_WAKE(INT_MAX)`: it reports 16 and all 16 leave.
#[test]
fn futex_herd() {
    boot_one(
        4,
        "futex_herd",
        "",
        &[
            "FUTEX_WAKE(INT_MAX) = 16; 16 waits returned 0, 0 -EAGAIN; 16 of 16 threads joined",
            "futex_herd: ok: one FUTEX_WAKE(INT_MAX) woke all 16 waiters",
        ],
    );
}

/// Four threads on CPU 3 keep their own x87, XMM and MXCSR state across yields and timer
/// preemptions (the summary shows CPU 3 preempted them).
#[test]
fn fpu_switch_keeps_each_task_state() {
    let run = boot_one(
        4,
        "fpu_switch",
        "",
        &["fpu_switch: ok: 4 threads on cpu 3, 4040 checks"],
    );
    assert!(
        counters(&run, "preemptions")[3] > 0,
        "no timer preemption on cpu 3 while the threads spun\n{}",
        run.out
    );
}

/// Negative control: without the FPU/SSE save and restore, the threads see each other's
/// registers and the program says so (exit 1, as expected).
#[test]
fn fpu_switch_catches_a_kernel_without_fpu_save() {
    let run = boot(4, Some("no-fpu-save"), &[program("fpu_switch", "", 1)]);
    expect(&run, 0, &["fpu_switch: CORRUPTED: ", "tempest: success"]);
    expect_exits(&run, "fpu_switch", 1, 1);
}

/// A thread spinning 300 ms in the kernel is preempted there: a user-mode thread on the
/// same CPU runs meanwhile, and the kernel counts kernel-mode preemptions.
#[test]
fn kernel_is_preemptible() {
    let run = boot_one(
        4,
        "kernel_preempt",
        "",
        &[
            "kernel_preempt: kernel_spin(300) returned ",
            "ok: kernel_spin(300) = ",
            "ok: thread B ran while the main thread was in the kernel",
            "ok: kernel_spin(0) = -22",
            "kernel_preempt: all ",
        ],
    );
    assert!(
        total(&run, "kernel_preemptions") > 0,
        "the summary counts no kernel-mode preemption\n{}",
        run.out
    );
}

/// Negative control: when the timer preempts user mode only (`no-kernel-preempt`), the
/// other thread never runs during the spin and the program says so (exit 1, as expected).
#[test]
fn kernel_preempt_catches_a_kernel_that_is_not_preemptible() {
    let run = boot(
        4,
        Some("no-kernel-preempt"),
        &[program("kernel_preempt", "", 1)],
    );
    expect(
        &run,
        0,
        &[
            "FAIL: kernel_spin(300) = 0: switched out inside the kernel",
            "FAIL: thread B ran while the main thread was in the kernel (+0)",
            "tempest: success",
        ],
    );
    expect_exits(&run, "kernel_preempt", 1, 1);
}

/// Temp mappings held across forced preemptions and migration requests keep showing the
/// right bytes; the holders were preempted while holding but never migrated.
#[test]
fn temp_mappings_survive_preemption() {
    let run = boot_one(
        4,
        "temp_preempt",
        "",
        &[
            "ok: temp_hold(len 0) = -22",
            "ok: temp_hold(len 16 pages + 1) = -22",
            "ok: temp_hold(rounds 10001) = -22",
            "ok: temp_hold(16 pages, 1 round) = 0",
            "ok: temp_hold(an unmapped page) = -14",
            "temp_preempt: 8 threads x 4 calls x 100 rounds of 4 pages held: 0 mismatched bytes",
            "temp_preempt: all ",
        ],
    );
    assert!(
        total(&run, "temp_preempted_holding") > 0,
        "no holder was preempted while holding\n{}",
        run.out
    );
    assert_eq!(
        total(&run, "temp_migrated_holding"),
        0,
        "a holder migrated while holding temp mappings\n{}",
        run.out
    );
}

/// The temp-mapping region (docs/memory-map.md): one page table of slots at PDE 896.
const TEMP_REGION: std::ops::Range<u64> = 0xE000_0000..0xE040_0000;

/// Whether the run's crash report is about the temp mappings: a kernel page fault on an
/// address of the temp region (a slot another CPU's window maps, or none), or a panic
/// whose message names them.
fn crash_names_the_temp_region(run: &Run) -> bool {
    let Some(report) = qemu::serial::crash_report(&run.serial) else {
        return false;
    };
    let cr2 = report
        .details
        .iter()
        .filter_map(|d| d.split("cr2=0x").nth(1))
        .filter_map(|hex| u64::from_str_radix(hex.get(..8)?, 16).ok())
        .next();
    cr2.is_some_and(|a| TEMP_REGION.contains(&a)) || report.message.contains("temp")
}

/// Negative control: when holders may migrate (`temp-no-pin`), the mismatch is caught,
/// by the program (mismatched bytes, exit 1 as expected) or by the kernel itself (a crash
/// report about the temp region: runner exit 2).
#[test]
fn temp_preempt_catches_holders_that_migrate() {
    let run = boot(4, Some("temp-no-pin"), &[program("temp_preempt", "", 1)]);
    match run.code {
        0 => {
            expect(&run, 0, &["temp_preempt: MISMATCH: ", "tempest: success"]);
            expect_exits(&run, "temp_preempt", 1, 1);
        }
        2 => assert!(
            crash_names_the_temp_region(&run),
            "a kernel crash that is not about the temp region\n{}",
            run.out
        ),
        _ => panic!(
            "temp-no-pin went unnoticed (runner exit {})\n{}",
            run.code, run.out
        ),
    }
}

/// The clocks, the sleeps and their refusals.
#[test]
fn clocks() {
    boot_one(
        4,
        "clocks",
        "",
        &[
            "ok: CLOCK_REALTIME ",
            "ok: gettimeofday is within 10 s of CLOCK_REALTIME",
            "ok: time is within 10 s of CLOCK_REALTIME",
            "ok: CLOCK_MONOTONIC reads behind another cpu's earlier read = 0",
            "clocks: 4 threads on 4 cpus read CLOCK_MONOTONIC 1000 times each",
            "ok: nanosleep(50 ms) took ",
            "ok: a thread on the sleeper's cpu counted ",
            "ok: clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, now + 30 ms) = 0",
            "ok: clock_gettime(99) = -22",
            "ok: clock_gettime(CLOCK_MONOTONIC, unmapped) = -14",
            "clocks: all ",
        ],
    );
}

/// The CPUs each `migrate_spin` printed (`migrate_spin: cpus seen 0x...`), one mask per
/// process.
fn cpus_seen(run: &Run) -> Vec<u32> {
    run.serial
        .lines()
        .filter_map(|l| l.split("migrate_spin: cpus seen 0x").nth(1))
        .map(|hex| {
            let end = hex
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(hex.len());
            u32::from_str_radix(&hex[..end], 16).expect("a hex mask")
        })
        .collect()
}

/// Eight busy processes all started on CPU 0 (`spawn-cpu=0`) end up having run on all
/// four CPUs: the other CPUs stole them, and the summary counts the steals and the
/// migrations (as many in as out).
#[test]
fn busy_processes_started_on_cpu0_spread_to_every_cpu() {
    let spinners = vec![program("migrate_spin", "3000", 0); 8];
    let run = boot(4, Some("spawn-cpu=0"), &spinners);
    expect(&run, 0, &["tempest: success"]);
    expect_exits(&run, "migrate_spin", 8, 0);
    let masks = cpus_seen(&run);
    assert_eq!(masks.len(), 8, "one mask per process\n{}", run.out);
    let union = masks.iter().fold(0, |a, m| a | m);
    assert_eq!(
        union, 0xf,
        "the busy processes ran on cpus {union:#x} only: {masks:x?}\n{}",
        run.out
    );
    assert!(total(&run, "steals") > 0, "no steal counted\n{}", run.out);
    let (moved_in, moved_out) = (total(&run, "migrations_in"), total(&run, "migrations_out"));
    assert!(moved_in > 0, "no migration counted\n{}", run.out);
    assert_eq!(
        moved_in, moved_out,
        "migrations in and out disagree\n{}",
        run.out
    );
}

/// A process pinned to CPU 2 never runs elsewhere while six busy processes are balanced
/// around it, and `sched_getaffinity` gives back exactly its one-CPU mask in 4 bytes.
#[test]
fn pinned_process_stays_on_its_cpu() {
    let mut programs = vec![program("affinity_pinned", "2 3000", 0)];
    programs.extend(vec![program("migrate_spin", "3000", 0); 6]);
    let run = boot(4, None, &programs);
    expect(
        &run,
        0,
        &[
            "affinity_pinned: sched_getaffinity = 4 bytes, mask 0x4",
            "ok: sched_setaffinity(0, {}) = -22",
            "ok: sched_setaffinity(unknown pid) = -3",
            "affinity_pinned: never left cpu 2",
            "affinity_pinned: all ",
            "tempest: success",
        ],
    );
    assert!(!run.out.contains("FAIL"), "a check failed\n{}", run.out);
    expect_exits(&run, "affinity_pinned", 1, 0);
    expect_exits(&run, "migrate_spin", 6, 0);
}

/// Every per-CPU counter of the kernel model is in the summary of a run at `--smp 4`,
/// as a count; some CPU was idle at some point; with `irqsoff` the interrupts-off
/// stretches were timed (a system call's entry is one, on whichever CPU runs it).
#[test]
fn summary_has_every_kernel_model_counter() {
    let run = boot(4, Some("irqsoff"), &[program("futex_pingpong", "200", 0)]);
    expect(&run, 0, &["tempest: success"]);
    assert_eq!(per_cpu(&run).len(), 4, "{}", run.out);
    for key in KERNEL_MODEL_COUNTERS {
        counters(&run, key);
    }
    assert_eq!(common::record(&run, "summary")["irq_off_tracked"], true);
    assert!(
        total(&run, "irq_off_max_cycles") > 0,
        "irqsoff timed no stretch\n{}",
        run.out
    );
    assert!(
        total(&run, "idle_us") > 0,
        "no CPU was ever idle\n{}",
        run.out
    );
    assert_eq!(
        total(&run, "migrations_in"),
        total(&run, "migrations_out"),
        "{}",
        run.out
    );
}

/// After a remap, readers whose CPUs were idle with the address space loaded read the new
/// page, round after round. (Without `irqsoff`, no interrupts-off stretch is timed.)
#[test]
fn shootdown_reaches_lazy_cpus() {
    let run = boot_one(
        4,
        "tlb_lazy",
        "",
        &[
            "tlb_lazy: 3 readers on cpus 0xe, main thread on cpu 0, 8 rounds",
            "FRESH: 48 of 48 reads saw their round's generation",
        ],
    );
    assert_eq!(common::record(&run, "summary")["irq_off_tracked"], false);
    assert_eq!(total(&run, "irq_off_max_cycles"), 0, "{}", run.out);
}

/// Negative control: shootdowns sent only to the CPUs running the process's threads now
/// miss the lazy ones, whose readers read the old frame (exit 1, as expected).
#[test]
fn tlb_lazy_catches_shootdowns_that_skip_lazy_cpus() {
    let run = boot(
        4,
        Some("shootdown-running-only"),
        &[program("tlb_lazy", "", 1)],
    );
    expect(&run, 0, &["STALE: ", "tempest: success"]);
    expect_exits(&run, "tlb_lazy", 1, 1);
}

/// Threads hopping from CPU to CPU before every read never see a stale translation of a
/// page the main thread remaps 200 times: a shootdown reaches every CPU whose TLB may hold
/// the space, those a reader just left included.
#[test]
fn migrating_readers_never_read_a_stale_translation() {
    let run = boot_one(4, "tlb_migrate", "200", &["FRESH: 0 of "]);
    let moved = run
        .out
        .lines()
        .filter_map(|l| l.strip_prefix("tlb_migrate: "))
        .find_map(|l| l.split(" reads, ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no read count\n{}", run.out));
    assert!(
        moved >= 1200,
        "the readers moved too little ({moved} reads after a move)\n{}",
        run.out
    );
}

/// Negative control: rounds that target only the CPUs running a thread now leave stale
/// translations on the CPUs the readers left, and a reader coming back reads an old round.
#[test]
fn tlb_migrate_catches_shootdowns_that_skip_cpus_a_thread_left() {
    let run = boot(
        4,
        Some("shootdown-running-only"),
        &[program("tlb_migrate", "200", 1)],
    );
    expect(&run, 0, &["STALE: ", "tempest: success"]);
    expect_exits(&run, "tlb_migrate", 1, 1);
}

/// Thread-local storage: `set_thread_area`, `get_thread_area` and `CLONE_SETTLS`, with four
/// threads on one CPU each reading its own `%gs:0` between switches, and the calls'
/// refusals.
#[test]
fn tls_entries_are_each_threads_own() {
    boot_one(
        4,
        "tls_threads",
        "",
        &[
            "ok: the kernel picked entry 6",
            "tls_threads: 4 threads, 8000 reads of %gs:0 between switches, 0 of another thread's",
            "ok: %gs after its entry was cleared = 0",
        ],
    );
}

/// Negative control: a switch that does not reload the TLS entries leaves the other
/// threads reading the entry the main thread set (exit 1, as expected).
#[test]
fn tls_threads_catch_a_kernel_that_does_not_reload_tls() {
    let run = boot(4, Some("no-tls-reload"), &[program("tls_threads", "", 1)]);
    expect(
        &run,
        0,
        &["FAIL: reads of another thread's TLS", "tempest: success"],
    );
    expect_exits(&run, "tls_threads", 1, 1);
}

/// The lines the C program printed (all start with `km: `), in order.
fn km_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with("km: "))
        .collect()
}

/// The C program uses futex, affinity, getcpu, the clocks, nanosleep and a thread joined
/// through `CLONE_CHILD_CLEARTID` as Linux documents them; it prints the same lines under
/// Tempest as on the host's Linux, which runs it natively. Without a gcc for i386 it is
/// skipped, and without a host that runs i386 executables only the Tempest run is
/// checked (neither outside CI).
#[test]
fn c_program_matches_linux() {
    const TEST: &str = "c_program_matches_linux";
    let Some(elf) = common::build_c_program(
        TEST,
        "kernel_model.c",
        "kernel_model_c",
        &["-fno-stack-protector", "-O2"],
    ) else {
        return;
    };
    let run = boot(4, None, &[format!("{} expect=0", elf.display())]);
    expect(&run, 0, &["km: done: all ", "tempest: success"]);
    expect_exits(&run, "kernel_model_c", 1, 0);
    let tempest = km_lines(&run.serial);
    assert!(
        tempest.len() > 20,
        "too few lines from the C program\n{}",
        run.out
    );

    let host = match Command::new(&elf).output() {
        Ok(out) => out,
        Err(e) => {
            common::skip_outside_ci(
                &format!("{TEST} (host comparison)"),
                &format!("the host cannot run i386 executables ({e})"),
            );
            return;
        }
    };
    let host_out = String::from_utf8_lossy(&host.stdout);
    assert!(
        host.status.success(),
        "the C program failed on the host's Linux ({})\n{host_out}",
        host.status
    );
    let linux = km_lines(&host_out);
    assert_eq!(
        tempest, linux,
        "the C program printed other lines under Tempest than on Linux\n--- Tempest ---\n{}",
        run.out
    );
}
