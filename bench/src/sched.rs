//! The kernel model's workloads, timed in user mode by `user/src/bin/sched_bench.rs` (one
//! boot per CPU count): a context switch between two threads of one CPU, a futex wake-up
//! until the woken thread runs on another CPU, a migration by an affinity change, and a
//! temp mapping made by a task with today's pinning guard and with the older preempt-off
//! one. One point per workload and boot, and the pinned / preempt-off ratio.

use crate::{Boot, Figures, bench_records, u};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The workloads of `sched_bench`, in the order the table lists them.
pub const SCHED_WORKLOADS: [&str; 9] = [
    "context_switch",
    "futex_wake",
    "migration",
    "temp_task_pinned",
    "temp_task_preempt_off",
    "fork_exit_wait",
    "fork_exec_wait",
    "pipe_4k",
    "pipe_64k",
];

/// One point of the kernel model: a workload in one boot.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedPoint {
    /// One of [`SCHED_WORKLOADS`].
    pub workload: String,
    /// The boot's CPU count.
    pub smp: u32,
    /// CPUs the workload used (1, or 2 for `futex_wake` and `migration`).
    pub cpus: u64,
    /// Cycles per operation (one record, or the median over several).
    pub figures: Figures,
}

impl SchedPoint {
    /// The point as stored in the JSON document.
    pub fn to_json(&self) -> Value {
        let mut point = json!({"workload": self.workload, "smp": self.smp, "cpus": self.cpus});
        self.figures.insert_into(&mut point);
        point
    }
}

/// The key of a stored point (`SchedPoint::to_json`) in a baseline comparison.
pub(crate) fn baseline_key(point: &Value) -> String {
    format!(
        "sched {} smp={}",
        point["workload"].as_str().unwrap_or("?"),
        u(point, "smp")
    )
}

/// The kernel-model points of every boot, by workload (in [`SCHED_WORKLOADS`] order), then
/// boot CPUs.
pub fn sched_points(boots: &[Boot]) -> Vec<SchedPoint> {
    let mut points = Vec::new();
    for workload in SCHED_WORKLOADS {
        let mut smps: Vec<u32> = bench_records(boots, workload).map(|(s, _)| s).collect();
        smps.sort_unstable();
        smps.dedup();
        for smp in smps {
            let rs: Vec<&Value> = bench_records(boots, workload)
                .filter(|(s, _)| *s == smp)
                .map(|(_, r)| r)
                .collect();
            points.push(SchedPoint {
                workload: workload.to_owned(),
                smp,
                cpus: u(rs[0], "cpus"),
                figures: Figures::over(&rs),
            });
        }
    }
    points
}

/// A temp mapping made by a task, pinning guard over preempt-off guard (p50 cycles), from
/// the largest boot that has both.
pub fn temp_task_ratio(boots: &[Boot]) -> Option<f64> {
    let points = sched_points(boots);
    let p50 = |workload: &str, smp: u32| {
        points
            .iter()
            .find(|p| p.workload == workload && p.smp == smp)
            .map(|p| p.figures.p50)
    };
    let smp = points
        .iter()
        .filter(|p| p.workload == "temp_task_pinned")
        .map(|p| p.smp)
        .filter(|&s| p50("temp_task_preempt_off", s).is_some())
        .max()?;
    let (pinned, off) = (
        p50("temp_task_pinned", smp)?,
        p50("temp_task_preempt_off", smp)?,
    );
    (off > 0).then(|| pinned as f64 / off as f64)
}

/// The table of the kernel-model points (empty when there are none).
pub fn sched_table(boots: &[Boot]) -> String {
    let points = sched_points(boots);
    let mut out = String::new();
    if points.is_empty() {
        return out;
    }
    out.push_str("kernel model (cycles per operation)\n");
    let _ = writeln!(
        out,
        "{:<22} {:>4} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "workload", "smp", "cpus", "p50", "p90", "p99", "mean", "ops/s"
    );
    for p in &points {
        let _ = writeln!(
            out,
            "{:<22} {:>4} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}",
            p.workload,
            p.smp,
            p.cpus,
            p.figures.p50,
            p.figures.p90,
            p.figures.p99,
            p.figures.mean,
            p.figures.ops_per_sec_total
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(workload: &str, cpus: u64, p50: u64) -> Value {
        json!({"event":"bench","workload":workload,"bytes":0,"cpus":cpus,"cpu":0,"pid":1,
               "ops":200,"p50":p50,"p90":p50 + 10,"p99":p50 + 20,"mean":p50 + 5,
               "ops_per_sec":1000})
    }

    fn boot(smp: u32, records: Vec<Value>) -> Boot {
        Boot {
            smp,
            workload: "sched".into(),
            records,
        }
    }

    /// The boots `sched_bench` makes: at one CPU without the two-CPU workloads.
    fn boots() -> Vec<Boot> {
        let one = vec![
            record("context_switch", 1, 26_000),
            record("temp_task_pinned", 1, 4_000),
            record("temp_task_preempt_off", 1, 3_900),
        ];
        let mut two = vec![
            record("temp_task_preempt_off", 1, 4_000),
            record("migration", 2, 130_000),
            record("futex_wake", 2, 100_000),
            record("context_switch", 1, 27_000),
            record("temp_task_pinned", 1, 4_400),
        ];
        // Records of other kinds in the same boot are no points.
        two.push(json!({"event":"summary","cpus":2,"per_cpu":[]}));
        two.push(record("write", 1, 50_000));
        vec![boot(1, one), boot(2, two)]
    }

    #[test]
    fn one_point_per_workload_and_boot_in_table_order() {
        let points = sched_points(&boots());
        let order: Vec<(&str, u32)> = points
            .iter()
            .map(|p| (p.workload.as_str(), p.smp))
            .collect();
        assert_eq!(
            order,
            [
                ("context_switch", 1),
                ("context_switch", 2),
                ("futex_wake", 2),
                ("migration", 2),
                ("temp_task_pinned", 1),
                ("temp_task_pinned", 2),
                ("temp_task_preempt_off", 1),
                ("temp_task_preempt_off", 2),
            ]
        );
        let wake = &points[2];
        assert_eq!(
            (wake.cpus, wake.figures.p50, wake.figures.p99),
            (2, 100_000, 100_020)
        );
        assert_eq!(wake.figures.mean, 100_005);
        assert_eq!(baseline_key(&wake.to_json()), "sched futex_wake smp=2");
        let table = sched_table(&boots());
        assert!(
            table.starts_with("kernel model (cycles per operation)"),
            "{table}"
        );
        assert_eq!(table.lines().count(), 2 + points.len() + 1, "{table}");
        assert_eq!(sched_table(&[]), "");
    }

    #[test]
    fn temp_ratio_comes_from_the_largest_boot_with_both_designs() {
        assert_eq!(temp_task_ratio(&boots()), Some(4_400.0 / 4_000.0));
        let mut partial = boots();
        partial[1]
            .records
            .retain(|r| r["workload"] != "temp_task_preempt_off");
        assert_eq!(temp_task_ratio(&partial), Some(4_000.0 / 3_900.0));
        partial[0]
            .records
            .retain(|r| r["workload"] != "temp_task_preempt_off");
        assert_eq!(temp_task_ratio(&partial), None);
    }
}
