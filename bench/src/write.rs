//! The syscall-level workload: `write(2)` of a user buffer to `/dev/null`, which copies it
//! into the kernel page by page through temp mappings, timed in user mode by
//! `user/src/bin/write_bench.rs`, one copy per CPU. Its records become one point per
//! buffer size, boot and number of CPUs writing at once.

use crate::{Boot, Figures, bench_records, u};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One point of the `write` workload.
#[derive(Clone, Debug, PartialEq)]
pub struct WritePoint {
    /// Bytes per `write`.
    pub bytes: u64,
    /// The boot's CPU count.
    pub smp: u32,
    /// Programs writing at once (one per CPU when `distinct`).
    pub cpus: u64,
    /// Whether every writer reported a CPU of its own.
    pub distinct: bool,
    /// Over the writers.
    pub figures: Figures,
}

impl WritePoint {
    /// Bytes per second over all writers, in MiB.
    pub fn mib_per_sec_total(&self) -> f64 {
        (self.figures.ops_per_sec_total * self.bytes) as f64 / f64::from(1 << 20)
    }

    /// The point as stored in the JSON document.
    pub fn to_json(&self) -> Value {
        let mut point = json!({
            "bytes": self.bytes, "smp": self.smp, "cpus": self.cpus,
            "distinct_cpus": self.distinct,
        });
        self.figures.insert_into(&mut point);
        point
    }
}

/// The key of a stored point (`WritePoint::to_json`) in a baseline comparison.
pub(crate) fn baseline_key(point: &Value) -> String {
    format!(
        "write bytes={} smp={} cpus={}",
        u(point, "bytes"),
        u(point, "smp"),
        u(point, "cpus")
    )
}

/// The `write` points of every boot, ordered by size, boot CPUs, writers.
pub fn write_points(boots: &[Boot]) -> Vec<WritePoint> {
    let mut groups: BTreeMap<(u64, u32, u64), Vec<&Value>> = BTreeMap::new();
    for (smp, r) in bench_records(boots, "write") {
        groups
            .entry((u(r, "bytes"), smp, u(r, "cpus")))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((bytes, smp, cpus), rs)| {
            let mut on: Vec<u64> = rs.iter().map(|r| u(r, "cpu")).collect();
            on.sort_unstable();
            on.dedup();
            WritePoint {
                bytes,
                smp,
                cpus,
                distinct: on.len() == rs.len() && rs.len() as u64 == cpus,
                figures: Figures::over(&rs),
            }
        })
        .collect()
}

/// The table of the `write` points (empty when there are none).
pub fn write_table(boots: &[Boot]) -> String {
    let points = write_points(boots);
    let mut out = String::new();
    if points.is_empty() {
        return out;
    }
    out.push_str(
        "write(2) of a user buffer to /dev/null, through temp mappings (cycles per call)\n",
    );
    let _ = writeln!(
        out,
        "{:>6} {:>4} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11}",
        "bytes", "smp", "cpus", "p50", "p90", "p99", "mean", "calls/s/cpu", "MiB/s total"
    );
    for p in &points {
        let _ = writeln!(
            out,
            "{:>6} {:>4} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11.1}{}",
            p.bytes,
            p.smp,
            p.cpus,
            p.figures.p50,
            p.figures.p90,
            p.figures.p99,
            p.figures.mean,
            p.figures.ops_per_sec_per_cpu,
            p.mib_per_sec_total(),
            if p.distinct {
                ""
            } else {
                "  (writers shared a CPU)"
            }
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: u64, cpus: u64, cpu: u64, p50: u64, ops: u64) -> Value {
        json!({"event":"bench","workload":"write","bytes":bytes,"cpus":cpus,"cpu":cpu,
               "pid":cpu + 1,"ops":200,"p50":p50,"p90":p50 + 10,"p99":p50 + 20,
               "mean":p50 + 5,"ops_per_sec":ops})
    }

    fn boot(records: Vec<Value>) -> Boot {
        Boot {
            smp: 2,
            workload: "write".into(),
            records,
        }
    }

    #[test]
    fn writers_aggregate_into_one_point_per_size_and_group() {
        let boots = [
            boot(vec![write(4096, 1, 0, 100, 1000)]),
            boot(vec![
                write(4096, 2, 0, 100, 1000),
                write(4096, 2, 1, 300, 600),
                write(65536, 2, 0, 1000, 50),
                write(65536, 2, 1, 1200, 40),
            ]),
        ];
        let points = write_points(&boots);
        assert_eq!(points.len(), 3);
        let two = &points[1];
        assert_eq!((two.bytes, two.cpus), (4096, 2));
        assert_eq!(
            (
                two.figures.ops_per_sec_total,
                two.figures.ops_per_sec_per_cpu
            ),
            (1600, 800)
        );
        assert_eq!(two.figures.p50, 300, "the median of two is the upper one");
        assert!(two.distinct);
        assert_eq!(points[2].mib_per_sec_total(), 90.0 * 65536.0 / 1048576.0);
        assert_eq!(
            baseline_key(&points[2].to_json()),
            "write bytes=65536 smp=2 cpus=2"
        );
        let table = write_table(&boots);
        assert!(table.starts_with("write(2)"), "{table}");
        assert!(!table.contains("shared a CPU"), "{table}");
    }

    #[test]
    fn writers_on_one_cpu_are_flagged() {
        let boots = [boot(vec![
            write(4096, 2, 1, 100, 1000),
            write(4096, 2, 1, 100, 1000),
        ])];
        assert!(!write_points(&boots)[0].distinct);
        assert!(write_table(&boots).contains("(writers shared a CPU)"));
        // A writer missing from the group is not a distinct placement either.
        let boots = [boot(vec![write(4096, 2, 0, 100, 1000)])];
        assert!(!write_points(&boots)[0].distinct);
        assert_eq!(write_table(&[]), "");
    }
}
