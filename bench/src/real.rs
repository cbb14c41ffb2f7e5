//! Real programs: a static glibc program (`user/c/glibc_copy.c`) and a Rust std one on
//! musl (`user/std/std_copy.rs`), unchanged C runtimes, one thread per CPU copying
//! page-crossing 4 KiB and 64 KiB buffers to /dev/null with `write` and `writev` and reading
//! it back. One boot per program and CPU count. The kernel's records give what the
//! programs cost it: each one's exit record (lifetime, system calls, temp mappings per
//! class of call: `syscall_table::Class`) and the summary (temp mappings per class, per
//! CPU). A program whose runtime could not be built is listed as not run, with the reason.

use crate::{Boot, u};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The programs (the runner's `glibc/NAME` and `musl/NAME`), each given the CPU count as
/// its thread count.
pub const REAL_PROGRAMS: [&str; 2] = ["glibc/glibc_copy", "musl/std_copy"];

/// The classes, in the kernel's order (its exit records and summary use these keys).
pub const CLASSES: [&str; 6] = ["write", "read", "memory", "futex", "signal", "other"];

/// One real program in one boot.
#[derive(Clone, Debug, PartialEq)]
pub struct RealPoint {
    pub smp: u32,
    /// Its process name (`glibc_copy`, `std_copy`).
    pub program: String,
    /// Start to exit, microseconds.
    pub elapsed_us: u64,
    pub syscalls: u64,
    pub temp_maps: u64,
    /// Temp mappings per class.
    pub by_class: BTreeMap<String, u64>,
    /// Per CPU (the boot's summary): temp mappings per class.
    pub per_cpu: Vec<BTreeMap<String, u64>>,
}

fn classes(v: &Value) -> BTreeMap<String, u64> {
    CLASSES.iter().map(|c| (c.to_string(), u(v, c))).collect()
}

impl RealPoint {
    pub fn to_json(&self) -> Value {
        json!({
            "smp": self.smp, "program": self.program, "elapsed_us": self.elapsed_us,
            "syscalls": self.syscalls, "temp_maps": self.temp_maps,
            "temp_by_class": self.by_class, "per_cpu_temp_by_class": self.per_cpu,
        })
    }
}

/// The boots of the real-program workload: a `real` boot's exit records and summary.
pub fn real_points(boots: &[Boot]) -> Vec<RealPoint> {
    let mut points = Vec::new();
    for boot in boots.iter().filter(|b| b.workload == "real") {
        let per_cpu: Vec<BTreeMap<String, u64>> = boot
            .records
            .iter()
            .find(|r| r["event"] == "summary")
            .and_then(|s| s["per_cpu"].as_array())
            .into_iter()
            .flatten()
            .map(|c| classes(&c["temp_by_class"]))
            .collect();
        for exit in boot.records.iter().filter(|r| r["event"] == "exit") {
            points.push(RealPoint {
                smp: boot.smp,
                program: exit["name"].as_str().unwrap_or("?").to_owned(),
                elapsed_us: u(exit, "elapsed_us"),
                syscalls: u(exit, "syscalls"),
                temp_maps: u(exit, "temp_maps"),
                by_class: classes(&exit["temp_by_class"]),
                per_cpu: per_cpu.clone(),
            });
        }
    }
    points
}

/// Programs that were not run, as `real_skipped` records: `(program, reason)`.
pub fn real_skipped(boots: &[Boot]) -> Vec<(String, String)> {
    boots
        .iter()
        .flat_map(|b| &b.records)
        .filter(|r| r["event"] == "real_skipped")
        .map(|r| {
            (
                r["program"].as_str().unwrap_or("?").to_owned(),
                r["reason"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

/// The terminal table.
pub fn real_table(boots: &[Boot]) -> String {
    let points = real_points(boots);
    let skipped = real_skipped(boots);
    let mut out = String::new();
    if points.is_empty() && skipped.is_empty() {
        return out;
    }
    out.push_str(
        "real programs: one thread per CPU copying 4 KiB and 64 KiB to /dev/null \
         (temp mappings per class of call)\n",
    );
    let _ = write!(
        out,
        "{:>4} {:<12} {:>10} {:>9} {:>9}",
        "smp", "program", "elapsed ms", "syscalls", "temp maps"
    );
    for c in CLASSES {
        let _ = write!(out, " {c:>7}");
    }
    out.push('\n');
    for p in &points {
        let _ = write!(
            out,
            "{:>4} {:<12} {:>10.1} {:>9} {:>9}",
            p.smp,
            p.program,
            p.elapsed_us as f64 / 1000.0,
            p.syscalls,
            p.temp_maps
        );
        for c in CLASSES {
            let _ = write!(out, " {:>7}", p.by_class.get(c).copied().unwrap_or(0));
        }
        out.push('\n');
        for (cpu, by_class) in p.per_cpu.iter().enumerate() {
            let _ = write!(
                out,
                "{:>4} {:<12} {:>10} {:>9} {:>9}",
                "",
                format!("  cpu{cpu}"),
                "",
                "",
                ""
            );
            for c in CLASSES {
                let _ = write!(out, " {:>7}", by_class.get(c).copied().unwrap_or(0));
            }
            out.push('\n');
        }
    }
    for (program, why) in skipped {
        let _ = writeln!(out, "  {program}: not run: {why}");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_come_from_exit_records_and_the_summary() {
        let boot = Boot {
            smp: 2,
            workload: "real".into(),
            records: vec![
                json!({"event": "exit", "name": "glibc_copy", "elapsed_us": 1500, "syscalls": 40,
                       "temp_maps": 30, "temp_by_class": {"write": 20, "memory": 10}}),
                json!({"event": "summary", "per_cpu": [
                    {"cpu": 0, "temp_by_class": {"write": 5}},
                    {"cpu": 1, "temp_by_class": {"write": 15, "memory": 10}},
                ]}),
            ],
        };
        let skipped = Boot {
            smp: 2,
            workload: "real".into(),
            records: vec![json!({"event": "real_skipped", "program": "musl/std_copy",
                                 "reason": "no musl target"})],
        };
        let boots = [boot, skipped];
        let points = real_points(&boots);
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].by_class["write"], 20);
        assert_eq!(points[0].by_class["futex"], 0);
        assert_eq!(points[0].per_cpu[1]["memory"], 10);
        let table = real_table(&boots);
        assert!(table.contains("glibc_copy"), "{table}");
        assert!(table.contains("  cpu1"), "{table}");
        assert!(
            table.contains("musl/std_copy: not run: no musl target"),
            "{table}"
        );
    }
}
