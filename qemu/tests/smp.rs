//! SMP under TCG: every CPU the firmware lists comes up, takes timer interrupts and runs
//! user programs (the per-CPU counters in the summary record prove it), IPIs reach every
//! CPU, a panic on an application processor stops everyone and names the CPU, and a stress
//! run of many short programs leaks no temp slot or frame. KVM (x2APIC) is tried when the
//! host's KVM can run Tempest, and skipped with the reason otherwise.

use qemu::provision::{KvmProbe, probe_kvm};
use serde_json::Value;

mod common;

use common::Run;

fn runner(accel: &str, args: &[&str]) -> Run {
    common::run(accel, Some("600"), args)
}

/// The kernel alone (no programs) on `smp` CPUs under TCG, with `cmdline`.
fn kernel_only(smp: u32, cmdline: &str) -> Run {
    let smp = smp.to_string();
    runner(
        "tcg",
        &["--smp", &smp, "--no-programs", "--cmdline", cmdline],
    )
}

fn summary(run: &Run) -> Value {
    common::record(run, "summary")
}

/// A user program expected to exit 0.
fn program(bin: &str, args: &str) -> String {
    common::program(bin, args, 0)
}

/// The local APIC mode a run asks QEMU for.
#[derive(Clone, Copy, PartialEq)]
enum Apic {
    /// QEMU's default `qemu32` CPU under TCG: xAPIC only.
    X,
    /// `--x2apic`: TCG emulates an x2APIC (QEMU 9.0 and later), which Tempest uses.
    X2,
}

impl Apic {
    /// The runner's arguments for this mode.
    fn args(self) -> &'static [&'static str] {
        match self {
            Apic::X => &[],
            Apic::X2 => &["--x2apic"],
        }
    }

    /// The summary record's name of the mode.
    fn name(self) -> &'static str {
        match self {
            Apic::X => "xAPIC",
            Apic::X2 => "x2APIC",
        }
    }
}

/// Boots the default program set on `smp` CPUs and checks that every CPU is online in the
/// APIC mode asked for, took timer interrupts and ran user code.
fn every_cpu_runs_user_code(machine: &str, smp: usize, apic: Apic) {
    let smp_arg = smp.to_string();
    let mut args = vec!["--machine", machine, "--smp", &smp_arg];
    args.extend(apic.args());
    let run = runner("tcg", &args);
    assert_eq!(run.code, 0, "run failed\n{}", run.out);
    let s = summary(&run);
    assert_eq!(s["cpus"], smp, "CPUs online\n{}", run.out);
    assert_eq!(s["apic"], apic.name(), "APIC mode\n{}", run.out);
    let cpus = s["per_cpu"].as_array().expect("per_cpu");
    assert_eq!(cpus.len(), smp);
    for (i, c) in cpus.iter().enumerate() {
        assert_eq!(c["cpu"], i);
        assert_eq!(c["apic_id"], i, "QEMU numbers APIC ids from 0");
        assert!(
            c["timer_ticks"].as_u64().unwrap() > 0,
            "cpu {i} took no timer interrupt: {c}"
        );
        assert!(
            c["syscalls"].as_u64().unwrap() > 0,
            "cpu {i} ran no user code: {c}"
        );
        assert_eq!(c["temp_held"], 0, "cpu {i} holds a temp mapping: {c}");
    }
}

#[test]
fn one_cpu() {
    every_cpu_runs_user_code("pc", 1, Apic::X);
}

#[test]
fn two_cpus() {
    every_cpu_runs_user_code("pc", 2, Apic::X);
}

#[test]
fn three_cpus() {
    every_cpu_runs_user_code("pc", 3, Apic::X);
}

#[test]
fn four_cpus() {
    every_cpu_runs_user_code("pc", 4, Apic::X);
}

#[test]
fn eight_cpus() {
    every_cpu_runs_user_code("pc", 8, Apic::X);
}

#[test]
fn four_cpus_on_q35() {
    every_cpu_runs_user_code("q35", 4, Apic::X);
}

/// x2APIC mode under TCG: the APIC registers through MSRs, IPIs (INIT/SIPI at start-up,
/// reschedule, call-function, shootdown) through the x2APIC ICR with its fence.
#[test]
fn four_cpus_in_x2apic_mode() {
    every_cpu_runs_user_code("pc", 4, Apic::X2);
}

#[test]
fn eight_cpus_on_q35_in_x2apic_mode() {
    every_cpu_runs_user_code("q35", 8, Apic::X2);
}

/// The whole in-kernel suite in x2APIC mode on four CPUs: IPIs reach every CPU, the
/// stale-translation probe finds no stale entry, temp mappings send no IPI.
#[test]
fn kernel_suite_in_x2apic_mode() {
    let run = runner("tcg", &["--smp", "4", "--x2apic", "test"]);
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(run.out.contains("apic: X2Apic"), "{}", run.out);
    for test in [
        "cpu::ipi::call_function_reaches_every_cpu",
        "cpu::shootdown::stale_kernel_page_is_shot_down_on_every_cpu",
        "cpu::shootdown::stale_user_page_is_shot_down_on_every_cpu",
        "cpu::shootdown::temp_mappings_send_no_ipi",
    ] {
        assert!(
            run.out.contains(&format!("test {test} ... ok")),
            "{test}\n{}",
            run.out
        );
    }
}

#[test]
fn ipis_reach_every_cpu() {
    let run = runner("tcg", &["--smp", "4", "test", "cpu::ipi::"]);
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(
        run.out
            .contains("test cpu::ipi::call_function_reaches_every_cpu ... ok"),
        "{}",
        run.out
    );
}

#[test]
fn panic_on_an_application_processor_stops_everyone_and_names_it() {
    panic_on_an_ap(Apic::X);
}

/// The same with the stop-all NMI sent through the x2APIC ICR.
#[test]
fn panic_on_an_application_processor_in_x2apic_mode() {
    panic_on_an_ap(Apic::X2);
}

fn panic_on_an_ap(apic: Apic) {
    let mut args = vec![
        "--smp",
        "4",
        "--no-programs",
        "--cmdline",
        "crash=panic-on-ap",
    ];
    args.extend(apic.args());
    let run = runner("tcg", &args);
    assert_eq!(
        run.code, 2,
        "a panic must be reported as a crash\n{}",
        run.out
    );
    assert!(
        run.out
            .contains("KERNEL PANIC on cpu 3: deliberate panic on an application processor"),
        "{}",
        run.out
    );
    assert!(
        run.out
            .lines()
            .any(|l| l.contains("kernel::crash::ap_panics at ")),
        "the backtrace does not name the panicking function\n{}",
        run.out
    );
    // Nothing follows the report: the other CPUs were stopped.
    let after = run.out.split("!!! end").nth(1).unwrap_or("");
    assert!(
        !after.contains("[cpu"),
        "a CPU kept logging after the panic\n{}",
        run.out
    );
}

/// Many short programs on every CPU at once: all exit 0, and at the end no temp slot is
/// held and no frame leaked (the kernel panics on a leaked frame).
#[test]
fn stress_many_short_programs() {
    stress("percpu");
}

/// The same stress run with the global pool: correct too, but its slot reuse costs
/// broadcast shootdowns (IPIs), which the per-CPU windows never send.
#[test]
fn stress_many_short_programs_global_pool() {
    stress("global");
}

/// The in-kernel suite (temp mappings, the shootdown probe) with the global pool.
#[test]
fn kernel_suite_with_the_global_pool() {
    let run = runner("tcg", &["--smp", "4", "--cmdline", "temp=global", "test"]);
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(
        run.out
            .contains("test mm::temp::map::pool_reuses_a_slot_only_after_a_broadcast_flush ... ok"),
        "{}",
        run.out
    );
    assert!(run.out.contains("[global pool: "), "{}", run.out);
}

fn stress(strategy: &str) {
    let mut programs = Vec::new();
    for i in 0..6 {
        programs.push(program("hello", ""));
        programs.push(program("write_cross_page", ""));
        programs.push(program("brk_mmap", ""));
        programs.push(program("sleep_yield", ""));
        if i % 2 == 0 {
            programs.push(program("isolation", if i % 4 == 0 { "A" } else { "B" }));
        }
    }
    let cmdline = format!("lowmem=32 temp={strategy}");
    let args: Vec<&str> = ["--smp", "4", "--memory", "256", "--cmdline", &cmdline]
        .into_iter()
        .chain(programs.iter().map(String::as_str))
        .collect();
    let run = runner("tcg", &args);
    assert_eq!(run.code, 0, "{}", run.out);
    let exits: Vec<Value> = qemu::serial::records(&run.out)
        .into_iter()
        .filter(|r| r["event"] == "exit")
        .collect();
    assert_eq!(exits.len(), programs.len(), "{}", run.out);
    assert!(exits.iter().all(|e| e["status"] == 0), "{}", run.out);
    let s = summary(&run);
    assert_eq!(s["temp_maps"], s["temp_unmaps"]);
    let cpus = s["per_cpu"].as_array().unwrap();
    for c in cpus {
        assert_eq!(c["temp_maps"], c["temp_unmaps"], "{c}");
        assert_eq!(c["temp_held"], 0, "{c}");
    }
    // Thousands of temp mappings on every CPU. With per-CPU windows the only IPIs sent are
    // the reschedule IPIs that placed programs on other CPUs (at most one per program):
    // temp mappings never cause an IPI, and single-threaded processes need no remote
    // shootdown.
    let sum = |key: &str| cpus.iter().map(|c| c[key].as_u64().unwrap()).sum::<u64>();
    assert!(sum("temp_maps") > 1000, "{s}");
    if strategy == "percpu" {
        assert_eq!(s["temp_strategy"], "PerCpu", "{s}");
        assert!(
            sum("ipis_sent") <= programs.len() as u64,
            "IPIs beyond the spawn reschedules: {s}"
        );
    } else {
        // The global pool: its slot reuse costs broadcast shootdowns, each an IPI to
        // every other CPU.
        assert_eq!(s["temp_strategy"], "GlobalPool", "{s}");
        let flushes = s["temp_pool_flushes"].as_u64().unwrap();
        assert!(flushes > 0, "the global pool never flushed: {s}");
        assert!(
            sum("ipis_sent") >= 3 * flushes,
            "the pool's flushes sent no IPI: {s}"
        );
    }
}

/// x2APIC needs KVM (TCG in QEMU 7.2 offers xAPIC only).
#[test]
fn kvm_two_cpus_in_x2apic_mode() {
    match probe_kvm() {
        KvmProbe::Usable => {}
        KvmProbe::Unsuitable(why) => {
            eprintln!("SKIPPED kvm_two_cpus_in_x2apic_mode: /dev/kvm {why}");
            return;
        }
        KvmProbe::Unusable(why) => {
            eprintln!("SKIPPED kvm_two_cpus_in_x2apic_mode: /dev/kvm not usable: {why}");
            return;
        }
    }
    let run = runner("kvm", &["--smp", "2"]);
    assert_eq!(run.code, 0, "{}", run.out);
    let s = summary(&run);
    assert_eq!(s["cpus"], 2);
    assert_eq!(
        s["apic"], "x2APIC",
        "KVM's qemu32 CPU offers x2APIC\n{}",
        run.out
    );
}

/// The stale-translation probe (kernel pages, a range above the ceiling, user pages) on
/// every target CPU, at 2, 4 and 8 CPUs.
fn shootdown_probe(smp: &str) {
    let run = runner("tcg", &["--smp", smp, "test", "cpu::shootdown::"]);
    assert_eq!(run.code, 0, "{}", run.out);
    for test in [
        "stale_kernel_page_is_shot_down_on_every_cpu",
        "stale_kernel_page_list_is_shot_down",
        "stale_kernel_range_above_the_ceiling_is_shot_down",
        "stale_user_page_is_shot_down_on_every_cpu",
        "temp_mappings_send_no_ipi",
    ] {
        assert!(
            run.out
                .contains(&format!("test cpu::shootdown::{test} ... ok")),
            "{test}\n{}",
            run.out
        );
    }
    assert!(!run.out.contains("stale read detected"), "{}", run.out);
}

#[test]
fn shootdown_probe_two_cpus() {
    shootdown_probe("2");
}

#[test]
fn shootdown_probe_four_cpus() {
    shootdown_probe("4");
}

#[test]
fn shootdown_probe_eight_cpus() {
    shootdown_probe("8");
}

/// Negative control: with remote flushes switched off, the same probe must see the stale
/// translation on every target CPU (on TCG, whose software TLB keeps an entry until it is
/// flushed), and say so; otherwise the probe could not catch a missing shootdown.
#[test]
fn without_remote_flush_the_probe_sees_stale_translations() {
    let run = runner(
        "tcg",
        &[
            "--smp",
            "4",
            "--cmdline",
            "no-remote-flush",
            "test",
            "cpu::shootdown::stale",
        ],
    );
    assert_eq!(
        run.code, 0,
        "the control tests assert that stale reads are seen\n{}",
        run.out
    );
    for cpu in 1..4 {
        for what in [
            "kernel, 1 page(s) as a range",
            "kernel, 8 page(s) as a list",
            "kernel, 72 page(s) as a range",
            "user page",
        ] {
            let line = format!("[stale read detected: {what}, cpu {cpu}]");
            assert!(run.out.contains(&line), "missing `{line}`\n{}", run.out);
        }
    }
}

/// Threads of one process on three other CPUs keep writing a page while the main thread
/// `mprotect`s or `munmap`s it: after the call returns, their next write must fault (the
/// whole process then ends with SIGSEGV), which only a shootdown reaching every one of
/// their CPUs achieves; and after a remap, every thread reads the new page.
#[test]
fn threads_see_mprotect_munmap_and_remap_everywhere() {
    for (mode, cause) in [
        ("mprotect", "protection violation"),
        ("munmap", "page not present"),
    ] {
        let run = runner(
            "tcg",
            &["--smp", "4", &program_expecting("threads_tlb", mode, 139)],
        );
        assert_eq!(run.code, 0, "{mode}\n{}", run.out);
        assert!(
            run.out.contains(&format!("about to {mode} them")),
            "{}",
            run.out
        );
        assert!(
            run.out
                .contains("(threads_tlb) killed by SIGSEGV: write to 0x4")
                && run.out.contains(cause),
            "{mode}: no thread was killed by its write\n{}",
            run.out
        );
        assert!(!run.out.contains("STALE:"), "{}", run.out);
    }
    // A new page mapped over the old one (mmap2 MAP_FIXED): every thread's next read sees
    // the new page's generation.
    let run = runner(
        "tcg",
        &["--smp", "4", &program_expecting("threads_tlb", "remap", 0)],
    );
    assert_eq!(run.code, 0, "remap\n{}", run.out);
    assert!(
        run.out
            .contains("FRESH: 3 of 3 threads read the new pages after remap returned"),
        "{}",
        run.out
    );
    assert!(!run.out.contains("STALE:"), "{}", run.out);
}

/// The same over a 16-page range: the threads keep every page's translation hot and, after
/// the call, touch the range's last page (reads of the middle and first after a remap).
/// A round that flushed only the first page of the range (the mutant `pages: 1` in
/// kernel/src/syscall/memory.rs, which the one-page runs cannot see) leaves the last page
/// writable or its old frame readable, and the program says so (exit 1).
#[test]
fn threads_see_every_page_of_a_changed_range() {
    for mode in ["mprotect", "munmap"] {
        let run = runner(
            "tcg",
            &[
                "--smp",
                "4",
                &program_expecting("threads_tlb", &format!("{mode} 16"), 139),
            ],
        );
        assert_eq!(run.code, 0, "{mode}\n{}", run.out);
        assert!(
            run.out.contains("write 16 page(s) at 0x4")
                && run
                    .out
                    .contains("(threads_tlb) killed by SIGSEGV: write to 0x4000f"),
            "{mode}: no thread was killed by its write to the last page\n{}",
            run.out
        );
        assert!(!run.out.contains("STALE:"), "{}", run.out);
    }
    let run = runner(
        "tcg",
        &[
            "--smp",
            "4",
            &program_expecting("threads_tlb", "remap 16", 0),
        ],
    );
    assert_eq!(run.code, 0, "remap\n{}", run.out);
    assert!(
        run.out
            .contains("FRESH: 3 of 3 threads read the new pages after remap returned"),
        "{}",
        run.out
    );
    assert!(!run.out.contains("STALE:"), "{}", run.out);
}

/// Negative control: without remote flushes, every thread writes through its stale
/// translation after the call returned (or, after a remap, reads the old frame), and the
/// program says so (exit 1).
#[test]
fn without_remote_flush_threads_write_through_stale_translations() {
    let run = runner(
        "tcg",
        &[
            "--smp",
            "4",
            "--cmdline",
            "no-remote-flush",
            &program_expecting("threads_tlb", "remap", 1),
        ],
    );
    assert_eq!(run.code, 0, "remap\n{}", run.out);
    assert!(
        run.out.contains(
            "STALE: 3 of 3 threads read the old frame through the old translation after remap returned"
        ),
        "{}",
        run.out
    );
    for mode in ["mprotect", "munmap"] {
        let run = runner(
            "tcg",
            &[
                "--smp",
                "4",
                "--cmdline",
                "no-remote-flush",
                &program_expecting("threads_tlb", mode, 1),
            ],
        );
        assert_eq!(run.code, 0, "{mode}\n{}", run.out);
        assert!(
            run.out.contains(&format!(
                "STALE: 3 of 3 threads wrote through the old translation after {mode} returned"
            )),
            "{mode}\n{}",
            run.out
        );
    }
}

fn program_expecting(bin: &str, args: &str, status: u8) -> String {
    common::program(bin, args, status)
}

/// Frames that `MAP_FIXED` replaces are freed only after the shootdown round: two threads
/// on other CPUs keep reading a shared 8-page range while the main thread maps fresh pages
/// over it 400 times and another process churns frames (`frame_reuse`). With freed frames
/// poisoned (`poison-freed`) a frame freed while a reader still translated the range to it
/// would show the poison; here no reader sees anything but the range's generations (and
/// the readers did read while the rounds ran). Every frame comes back.
#[test]
fn freed_frames_are_unreachable_before_reuse() {
    let run = runner(
        "tcg",
        &[
            "--smp",
            "4",
            "--cmdline",
            "poison-freed",
            &program("frame_reuse", ""),
            &program("frame_reuse", "churn"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.out);
    let line = run
        .out
        .lines()
        .find(|l| l.starts_with("frame_reuse: 400 rounds over 8 pages, readers saw "))
        .unwrap_or_else(|| panic!("no verdict line\n{}", run.out));
    let changes: u32 = line
        .split_whitespace()
        .nth(8)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"));
    assert!(changes > 0, "the readers never saw a round: {line}");
    assert!(!run.out.contains("REUSED"), "{}", run.out);
    let s = summary(&run);
    assert_eq!(s["lowmem_frames_free"], s["lowmem_frames"], "{}", run.out);
}

/// Negative control (issue 16's mutant: frames freed before the round): with
/// `free-before-flush` the churning process takes a freed frame and tags it while a reader
/// still translates the shared range to it, and the reader sees the tag (no poisoning
/// needed: the reuse itself shows).
#[test]
fn frames_freed_before_the_round_are_seen_reused() {
    let run = runner(
        "tcg",
        &[
            "--smp",
            "4",
            "--cmdline",
            "free-before-flush",
            &program_expecting("frame_reuse", "", 1),
            &program("frame_reuse", "churn"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(
        run.out.contains("REUSED: a reader saw 0xc4c4")
            && run.out.contains("(another process's page)"),
        "{}",
        run.out
    );
}

/// Every CPU maps and unmaps temp slots (nested, checksummed, also from its timer
/// interrupt) and shoots a kernel page down at the others, all at once, under both
/// strategies and at 4 and 8 CPUs: checksums hold, nothing leaks, counters balance, and
/// with per-CPU windows every IPI sent is a shootdown's or a worker call's.
#[test]
fn temp_mapping_and_shootdown_stress() {
    for (smp, strategy) in [("4", "percpu"), ("8", "percpu"), ("4", "global")] {
        let cmdline = format!("temp={strategy}");
        let run = runner(
            "tcg",
            &[
                "--smp",
                smp,
                "--cmdline",
                &cmdline,
                "test",
                "stress_tests::",
            ],
        );
        assert_eq!(run.code, 0, "{smp} CPUs, {strategy}\n{}", run.out);
        assert!(
            run.out
                .contains("test stress_tests::all_cpus_map_unmap_and_shoot_down_at_once ... [")
                && run.out.contains("] ok"),
            "{}",
            run.out
        );
    }
}

/// The shootdown's bounded wait: a CPU that stops answering (spinning with interrupts off)
/// makes the initiator panic naming it, instead of hanging the machine.
#[test]
fn a_silent_cpu_is_named_by_the_shootdown_timeout() {
    let run = kernel_only(4, "crash=silent-cpu");
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(
        run.out
            .contains("TLB shootdown: cpu 3 did not acknowledge within 5000 ms"),
        "{}",
        run.out
    );
}

/// The flush-ceiling measurement runs and reports every size with both kinds of round, and
/// where the full flush became cheaper (a smoke test: no timing is asserted).
#[test]
fn flush_ceiling_measurement_reports_every_size() {
    let run = kernel_only(2, "bench=flush-ceiling");
    assert_eq!(run.code, 0, "{}", run.out);
    let points: Vec<Value> = qemu::serial::records(&run.out)
        .into_iter()
        .filter(|r| r["event"] == "bench" && r["workload"] == "flush_ceiling")
        .collect();
    let sizes: Vec<u64> = points
        .iter()
        .map(|p| p["pages"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sizes,
        [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        "{}",
        run.out
    );
    for p in &points {
        assert!(
            p["range_cycles"].as_u64().unwrap() > 0 && p["full_cycles"].as_u64().unwrap() > 0,
            "{p}"
        );
        assert_eq!(p["targets"], 1, "{p}");
    }
    let summary = common::record(&run, "bench_summary");
    assert!(summary["crossover_pages"].is_i64(), "{summary}");
}

/// The in-kernel benchmark workloads run and report complete, sane records (counts,
/// ordered percentiles, no zero timings). A smoke test: no timing is asserted.
#[test]
fn bench_workloads_report_complete_records() {
    let run = kernel_only(2, "bench=all");
    assert_eq!(run.code, 0, "{}", run.out);
    let records: Vec<Value> = qemu::serial::records(&run.out)
        .into_iter()
        .filter(|r| r["event"] == "bench")
        .collect();
    let count = |w: &str| records.iter().filter(|r| r["workload"] == w).count();
    // temp, touch and copy each: 3 variants x (1 CPU: 1 record + 2 CPUs: 2 records); ipi: 1 target;
    // shootdown: 1 target count; flush ceiling: 10 sizes.
    assert_eq!(count("temp_map_touch"), 9, "{}", run.out);
    assert_eq!(count("temp_map_copy4k"), 9, "{}", run.out);
    assert_eq!(count("ipi_round_trip"), 1, "{}", run.out);
    assert_eq!(count("shootdown_targets"), 1, "{}", run.out);
    assert_eq!(count("flush_ceiling"), 10, "{}", run.out);
    for r in records.iter().filter(|r| r.get("p50").is_some()) {
        let p = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
        assert!(
            p("p50") > 0 && p("p50") <= p("p90") && p("p90") <= p("p99"),
            "{r}"
        );
        assert!(p("mean") > 0, "{r}");
    }
    for strategy in ["raw", "percpu", "global"] {
        assert!(
            records
                .iter()
                .any(|r| r["strategy"] == strategy && r["ops_per_sec"].as_u64().unwrap_or(0) > 0),
            "no {strategy} throughput\n{}",
            run.out
        );
    }
}

/// The syscall-level workload: one `write_bench` per CPU, started together, each reports
/// both sizes from a CPU of its own, with complete, ordered figures; and the 64 KiB writes
/// went through temp mappings (a smoke test: no timing is asserted).
#[test]
fn write_workload_reports_every_writer_from_its_own_cpu() {
    let writer = program("write_bench", "3");
    let run = runner("tcg", &["--smp", "3", &writer, &writer, &writer]);
    assert_eq!(run.code, 0, "{}", run.out);
    let records: Vec<Value> = qemu::serial::records(&run.out)
        .into_iter()
        .filter(|r| r["event"] == "bench" && r["workload"] == "write")
        .collect();
    for bytes in [4096, 65536] {
        let mut cpus: Vec<u64> = records
            .iter()
            .filter(|r| r["bytes"] == bytes)
            .map(|r| r["cpu"].as_u64().expect("cpu"))
            .collect();
        cpus.sort_unstable();
        assert_eq!(cpus, [0, 1, 2], "writers of {bytes} bytes\n{}", run.out);
    }
    for r in &records {
        let p = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
        assert_eq!((p("cpus"), p("ops")), (3, 200), "{r}");
        assert!(
            p("p50") > 0 && p("p50") <= p("p90") && p("p90") <= p("p99"),
            "{r}"
        );
        assert!(p("mean") > 0 && p("ops_per_sec") > 0, "{r}");
    }
    // 3 writers x (16 + 200) writes of 16 pages at least, through temp mappings.
    let maps: u64 = summary(&run)["per_cpu"]
        .as_array()
        .expect("per_cpu")
        .iter()
        .map(|c| c["temp_maps"].as_u64().expect("temp_maps"))
        .sum();
    assert!(
        maps >= 3 * 216 * 16,
        "only {maps} temp mappings\n{}",
        run.out
    );
}
