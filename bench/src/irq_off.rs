//! The longest interrupts-off stretch of every CPU, from the `summary` record that ends each
//! boot running user programs (the `write` and `sched` boots; the kernel's `bench=` boots
//! print none): how long, and the source line that began it (docs/smp.md).

use crate::{Boot, u};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// One CPU's longest interrupts-off stretch in one boot.
#[derive(Clone, Debug, PartialEq)]
pub struct IrqOff {
    /// The boot's CPU count.
    pub smp: u32,
    /// Which boot of that CPU count: `sched`, `write x1`, `write x4`, ...
    pub boot: String,
    /// The CPU.
    pub cpu: u64,
    /// TSC cycles.
    pub cycles: u64,
    /// The same in microseconds (the kernel's conversion).
    pub us: u64,
    /// `file:line` where the stretch began (empty if the kernel recorded none).
    pub at: String,
}

impl IrqOff {
    /// The entry as stored in the JSON document.
    pub fn to_json(&self) -> Value {
        json!({"smp": self.smp, "boot": self.boot, "cpu": self.cpu, "cycles": self.cycles,
               "us": self.us, "at": self.at})
    }
}

/// A boot's name in the table: its workload, and for `write` the writers at once (the
/// `cpus` of its records).
fn boot_label(boot: &Boot) -> String {
    let writers = boot
        .records
        .iter()
        .find(|r| r["event"] == "bench" && r["workload"] == "write")
        .map(|r| u(r, "cpus"));
    match writers {
        Some(n) if boot.workload == "write" => format!("write x{n}"),
        _ => boot.workload.clone(),
    }
}

/// Every CPU of every boot that has a summary record, in boot order.
pub fn irq_off(boots: &[Boot]) -> Vec<IrqOff> {
    let mut out = Vec::new();
    for boot in boots {
        let Some(summary) = boot.records.iter().find(|r| r["event"] == "summary") else {
            continue;
        };
        for c in summary["per_cpu"].as_array().into_iter().flatten() {
            out.push(IrqOff {
                smp: boot.smp,
                boot: boot_label(boot),
                cpu: u(c, "cpu"),
                cycles: u(c, "irq_off_max_cycles"),
                us: u(c, "irq_off_max_us"),
                at: c["irq_off_max_at"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    out
}

/// The table (empty when no boot has a summary); `tcg`: say what the figures hold there.
pub fn irq_off_table(boots: &[Boot], tcg: bool) -> String {
    let rows = irq_off(boots);
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    out.push_str("longest interrupts-off stretch per CPU (boots running programs)\n");
    if tcg {
        out.push_str("  (TCG: includes host descheduling of a vCPU thread while its guest has interrupts off)\n");
    }
    let _ = writeln!(
        out,
        "{:>4} {:<10} {:>4} {:>9} {:>11}  began at",
        "smp", "boot", "cpu", "us", "cycles"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:>4} {:<10} {:>4} {:>9} {:>11}  {}",
            r.smp,
            r.boot,
            r.cpu,
            r.us,
            r.cycles,
            if r.at.is_empty() { "?" } else { &r.at }
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(cpu: u64, cycles: u64, at: &str) -> Value {
        json!({"cpu":cpu,"apic_id":cpu,"context_switches":10,"irq_off_max_cycles":cycles,
               "irq_off_max_us":cycles / 2300,"irq_off_max_at":at})
    }

    fn boots() -> Vec<Boot> {
        let write = |writers: u64| Boot {
            smp: 2,
            workload: "write".into(),
            records: vec![
                json!({"event":"bench","workload":"write","bytes":4096,"cpus":writers,"cpu":0,
                       "p50":10,"p90":10,"p99":10,"mean":10,"ops_per_sec":1}),
                json!({"event":"summary","cpus":2,"per_cpu":[
                    cpu(0, 2_300_000, "kernel/src/sched/mod.rs:220"),
                    cpu(1, 4_600, "arch/src/cpu.rs:90")]}),
            ],
        };
        vec![
            // A kernel workload boot: no summary, no rows.
            Boot {
                smp: 2,
                workload: "temp".into(),
                records: vec![json!({"event":"bench_env","cpus":2,"tsc_khz":2300000})],
            },
            write(1),
            write(2),
            Boot {
                smp: 1,
                workload: "sched".into(),
                records: vec![json!({"event":"summary","cpus":1,"per_cpu":[cpu(0, 23_000, "")]})],
            },
        ]
    }

    #[test]
    fn every_cpu_of_every_summary_with_its_boot() {
        let rows = irq_off(&boots());
        let labels: Vec<(u32, &str, u64)> = rows
            .iter()
            .map(|r| (r.smp, r.boot.as_str(), r.cpu))
            .collect();
        assert_eq!(
            labels,
            [
                (2, "write x1", 0),
                (2, "write x1", 1),
                (2, "write x2", 0),
                (2, "write x2", 1),
                (1, "sched", 0)
            ]
        );
        assert_eq!((rows[0].cycles, rows[0].us), (2_300_000, 1000));
        assert_eq!(rows[0].at, "kernel/src/sched/mod.rs:220");
        assert_eq!(rows[4].to_json()["at"], "");
        let table = irq_off_table(&boots(), true);
        assert!(table.contains("host descheduling"), "{table}");
        assert!(table.contains("kernel/src/sched/mod.rs:220"), "{table}");
        assert!(table.lines().any(|l| l.ends_with("  ?")), "{table}");
        assert!(!irq_off_table(&boots(), false).contains("TCG"));
        assert_eq!(irq_off_table(&boots()[..1], true), "");
    }
}
