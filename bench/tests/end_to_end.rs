//! The bench tool end to end on TCG: boots, tables, JSON (temp, write and kernel-model
//! points, interrupts-off maxima), plots, and the baseline gate (which must fail a run
//! against a baseline ten times faster). No timing is asserted.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tempest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--smp", "2", "--quick", "--accel", "tcg"])
        .args(args)
        .output()
        .expect("run bench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn quick_run_reports_and_the_baseline_gate_catches_a_slowdown() {
    let dir = scratch();
    let json = dir.join("run.json");
    let svg = dir.join("svg");
    let (code, stdout, stderr) = bench(&[
        "--json",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("TCG run"), "TCG not labelled\n{stdout}");
    assert!(stdout.contains("per-CPU / raw floor"), "{stdout}");

    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["env"]["accel"], "tcg");
    assert_eq!(doc["env"]["smp"], serde_json::json!([2]));
    assert_eq!(doc["env"]["apic"], "xAPIC", "TCG without --x2apic");
    assert!(
        doc["env"]["qemu"]
            .as_str()
            .is_some_and(|v| v.contains("QEMU"))
    );
    let points = doc["temp_points"].as_array().unwrap();
    // touch and copy4k: raw, percpu, global, each on 1 and 2 CPUs.
    assert_eq!(points.len(), 12, "{doc}");
    for p in points {
        assert!(p["p50"].as_u64().unwrap() > 0, "{p}");
        assert!(p["ops_per_sec_total"].as_u64().unwrap() > 0, "{p}");
    }
    let writes = doc["write_points"].as_array().unwrap();
    // 4 KiB and 64 KiB, one writer and two at once.
    assert_eq!(writes.len(), 4, "{doc}");
    for p in writes {
        assert!(p["p50"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(p["distinct_cpus"], true, "{p}");
    }
    assert!(
        stdout.contains("write(2) of a user buffer to /dev/null"),
        "{stdout}"
    );
    // The kernel model: sched_bench's five workloads at two CPUs, one point each.
    assert!(
        stdout.contains("kernel model (cycles per operation)"),
        "{stdout}"
    );
    let sched: Vec<&str> = doc["sched_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(p["p50"].as_u64().unwrap() > 0, "{p}");
            assert_eq!(p["smp"], 2, "{p}");
            p["workload"].as_str().unwrap()
        })
        .collect();
    assert_eq!(sched, bench::SCHED_WORKLOADS, "{doc}");
    assert!(
        doc["ratios"]["temp_task_pinned_over_preempt_off"]
            .as_f64()
            .is_some()
    );
    // Interrupts-off maxima: both CPUs of each boot running programs (write x1, write x2,
    // sched), each with the line that began it.
    assert!(
        stdout.contains("longest interrupts-off stretch per CPU"),
        "{stdout}"
    );
    let irq_off = doc["irq_off"].as_array().unwrap();
    let with_summary = doc["boots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| {
            b["records"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["event"] == "summary")
        })
        .count();
    assert!(
        with_summary >= 3,
        "write x1, write x2, sched at least: {doc}"
    );
    assert_eq!(irq_off.len(), 2 * with_summary, "{doc}");
    for r in irq_off {
        assert!(r["cycles"].as_u64().unwrap() > 0, "{r}");
        assert!(
            r["at"].as_str().is_some_and(|at| at.contains(".rs:")),
            "{r}"
        );
    }
    assert!(irq_off.iter().any(|r| r["boot"] == "sched"), "{doc}");
    // The real programs: glibc and Rust std, two threads each, whose writes the kernel
    // counted (2 threads x 100 rounds x 23 pages at least), on each CPU of the boot. Not
    // run only where the runtime cannot be built, and then said so (never in CI).
    let skipped = doc["real_skipped"].as_array().unwrap();
    if std::env::var_os("CI").is_some() {
        assert!(skipped.is_empty(), "{skipped:?}");
    }
    let real = doc["real_points"].as_array().unwrap();
    assert_eq!(real.len() + skipped.len(), 2, "{doc}");
    for p in real {
        assert!(p["temp_by_class"]["write"].as_u64().unwrap() >= 4600, "{p}");
        assert!(p["syscalls"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(
            p["per_cpu_temp_by_class"].as_array().unwrap().len(),
            2,
            "{p}"
        );
    }
    assert!(stdout.contains("real programs:"), "{stdout}");
    assert!(doc["ratios"]["percpu_over_raw"].as_f64().is_some());
    assert!(doc["ratios"]["percpu_scaling_2"].as_f64().is_some());
    for plot in ["temp_throughput.svg", "shootdown_targets.svg"] {
        let text = std::fs::read_to_string(svg.join(plot)).unwrap();
        assert!(text.contains("<polyline"), "{plot}");
    }

    // A saved run reports the same tables again without booting.
    let (code, again, stderr) = bench(&["--from", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(again, stdout, "--from changed the report");

    // Negative control: a baseline whose every p50 is a tenth of this run's.
    let mut fast = doc.clone();
    for points in ["temp_points", "write_points", "sched_points"] {
        for p in fast[points].as_array_mut().unwrap() {
            p["p50"] = (p["p50"].as_u64().unwrap() / 10).into();
        }
    }
    for b in fast["boots"].as_array_mut().unwrap() {
        for r in b["records"].as_array_mut().unwrap() {
            if let Some(p50) = r["p50"].as_u64() {
                r["p50"] = (p50 / 10).into();
            }
        }
    }
    let baseline = dir.join("fast.json");
    std::fs::write(&baseline, fast.to_string()).unwrap();
    // The gate on the saved run (`--from`: the same comparison and exit status as after
    // booting, without booting everything a second time).
    let (code, stdout, stderr) = bench(&[
        "--from",
        json.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "regression not caught\n{stdout}\n{stderr}");
    for what in [
        "temp touch percpu smp=2",
        "write bytes=65536 smp=2 cpus=2",
        "sched temp_task_pinned smp=2",
    ] {
        assert!(stdout.contains(&format!("REGRESSION {what}")), "{stdout}");
    }
    // A baseline counted in guest instructions cannot judge a run counted in cycles.
    fast["env"]["icount"] = true.into();
    std::fs::write(&baseline, fast.to_string()).unwrap();
    let (code, stdout, stderr) = bench(&[
        "--from",
        json.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("not comparable"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
