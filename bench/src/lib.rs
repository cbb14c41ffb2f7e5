//! Tempest's benchmark report: turns the kernel's `bench` records (one boot per
//! configuration, see `docs/benchmarks.md`) into the tables and ratios that matter and
//! compares a run with a baseline. Pure functions over JSON, so they are host-tested;
//! `main.rs` does the booting.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

mod irq_off;
pub mod peer;
mod real;
mod sched;
mod write;

pub use irq_off::{IrqOff, irq_off, irq_off_table};
pub use real::{REAL_PROGRAMS, RealPoint, real_points, real_skipped, real_table};
pub use sched::{SCHED_WORKLOADS, SchedPoint, sched_points, sched_table, temp_task_ratio};
pub use write::{WritePoint, write_points, write_table};

/// The records of one boot, with the configuration that produced them.
#[derive(Clone, Debug)]
pub struct Boot {
    /// CPUs QEMU was given.
    pub smp: u32,
    /// The kernel's `bench=` workload, or the user programs' (`write`, `sched`).
    pub workload: String,
    /// Its `@@tempest` records (`bench_env`, `bench`, `bench_summary`, and the `summary`
    /// that ends a boot running programs).
    pub records: Vec<Value>,
}

/// One point of the temp-mapping throughput workload: a strategy on `cpus` CPUs at once,
/// over the per-CPU records of one boot.
#[derive(Clone, Debug, PartialEq)]
pub struct TempPoint {
    /// What is done with the mapping: `touch` (one byte) or `copy4k` (a whole page in).
    pub op: String,
    /// `raw`, `percpu` or `global`.
    pub strategy: String,
    /// CPUs running the loop at once.
    pub cpus: u64,
    /// The boot's CPU count.
    pub smp: u32,
    /// Over the CPUs that ran it at once.
    pub figures: Figures,
}

/// One point's figures, over the CPUs that ran it at once (one record each).
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Median over the CPUs of their p50, p90 and p99 (cycles per operation).
    pub p50: u64,
    /// See `p50`.
    pub p90: u64,
    /// See `p50`.
    pub p99: u64,
    /// Mean over the CPUs of their mean cycles per operation.
    pub mean: u64,
    /// Mean over the CPUs of their operations per second.
    pub ops_per_sec_per_cpu: u64,
    /// Sum over the CPUs.
    pub ops_per_sec_total: u64,
}

impl Figures {
    /// The figures of the records of one point (`p50`, `p90`, `p99`, `mean`,
    /// `ops_per_sec`).
    pub fn over(records: &[&Value]) -> Figures {
        let n = records.len() as u64;
        let col = |k: &str| records.iter().map(|r| u(r, k)).collect::<Vec<_>>();
        let total: u64 = col("ops_per_sec").iter().sum();
        Figures {
            p50: median(col("p50")),
            p90: median(col("p90")),
            p99: median(col("p99")),
            mean: col("mean").iter().sum::<u64>() / n.max(1),
            ops_per_sec_per_cpu: total / n.max(1),
            ops_per_sec_total: total,
        }
    }

    /// The figures as fields of a JSON point.
    pub(crate) fn insert_into(&self, point: &mut Value) {
        for (k, v) in [
            ("p50", self.p50),
            ("p90", self.p90),
            ("p99", self.p99),
            ("mean", self.mean),
            ("ops_per_sec_per_cpu", self.ops_per_sec_per_cpu),
            ("ops_per_sec_total", self.ops_per_sec_total),
        ] {
            point[k] = v.into();
        }
    }
}

pub(crate) fn u(r: &Value, k: &str) -> u64 {
    r[k].as_u64().unwrap_or(0)
}

pub(crate) fn median(mut v: Vec<u64>) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

pub(crate) fn bench_records<'a>(
    boots: &'a [Boot],
    workload: &'a str,
) -> impl Iterator<Item = (u32, &'a Value)> {
    boots.iter().flat_map(move |b| {
        b.records
            .iter()
            .filter(move |r| r["event"] == "bench" && r["workload"] == workload)
            .map(move |r| (b.smp, r))
    })
}

/// The temp-mapping points of every boot, ordered by operation, boot CPUs, strategy,
/// running CPUs.
pub fn temp_points(boots: &[Boot]) -> Vec<TempPoint> {
    // Keyed by the strategy's rank so the table reads floor, design, comparison.
    let rank = |s: &str| ["raw", "percpu", "global"].iter().position(|&k| k == s);
    type Key = (u8, u32, Option<usize>, String, u64);
    let mut groups: BTreeMap<Key, Vec<&Value>> = BTreeMap::new();
    for (op, workload) in [(0, "temp_map_touch"), (1, "temp_map_copy4k")] {
        for (smp, r) in bench_records(boots, workload) {
            let strategy = r["strategy"].as_str().unwrap_or("?").to_owned();
            let key = (op, smp, rank(&strategy), strategy, u(r, "cpus"));
            groups.entry(key).or_default().push(r);
        }
    }
    groups
        .into_iter()
        .map(|((op, smp, _, strategy, cpus), rs)| TempPoint {
            op: ["touch", "copy4k"][usize::from(op)].to_owned(),
            strategy,
            cpus,
            smp,
            figures: Figures::over(&rs),
        })
        .collect()
}

/// The ratios the bench issue names, from the largest boot that has each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ratios {
    /// Per-CPU windows over the raw floor, one CPU, mean cycles (target <= 1.25).
    pub percpu_over_raw: Option<f64>,
    /// Per-CPU aggregate throughput at 2 CPUs over 1 CPU (target >= 1.8).
    pub percpu_scaling_2: Option<f64>,
    /// Per-CPU over global pool aggregate throughput at the most CPUs measured (target >= 2).
    pub percpu_over_global: Option<(u64, f64)>,
    /// Shootdown of 64 pages over 1 page, cycles (target <= 2), from the flush-ceiling
    /// workload's ranges.
    pub shootdown_64_over_1: Option<f64>,
    /// A temp mapping made by a task: today's pinning guard over the older preempt-off
    /// guard (p50 cycles, `sched_bench`'s `temp_bench` calls in one boot).
    pub temp_task_pinned_over_preempt_off: Option<f64>,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Computes the ratios (of the one-byte touch, as the targets are stated).
pub fn ratios(boots: &[Boot]) -> Ratios {
    let mut points = temp_points(boots);
    points.retain(|p| p.op == "touch");
    let max_smp = points.iter().map(|p| p.smp).max().unwrap_or(0);
    let at = |s: &str, cpus: u64| {
        points
            .iter()
            .find(|p| p.smp == max_smp && p.strategy == s && p.cpus == cpus)
    };
    let percpu_over_raw = at("percpu", 1)
        .zip(at("raw", 1))
        .and_then(|(p, r)| ratio(p.figures.mean, r.figures.mean));
    let percpu_scaling_2 = at("percpu", 2)
        .zip(at("percpu", 1))
        .and_then(|(two, one)| ratio(two.figures.ops_per_sec_total, one.figures.ops_per_sec_total));
    let most = points
        .iter()
        .filter(|p| p.smp == max_smp)
        .map(|p| p.cpus)
        .max()
        .unwrap_or(0);
    let percpu_over_global = at("percpu", most)
        .zip(at("global", most))
        .filter(|_| most >= 2)
        .and_then(|(p, g)| ratio(p.figures.ops_per_sec_total, g.figures.ops_per_sec_total))
        .map(|r| (most, r));
    let ceiling: Vec<(u32, &Value)> = bench_records(boots, "flush_ceiling").collect();
    let ceil_smp = ceiling.iter().map(|(s, _)| *s).max().unwrap_or(0);
    let range = |pages: u64| {
        ceiling
            .iter()
            .find(|(s, r)| *s == ceil_smp && u(r, "pages") == pages)
            .map(|(_, r)| u(r, "range_cycles"))
    };
    let shootdown_64_over_1 = range(64).zip(range(1)).and_then(|(a, b)| ratio(a, b));
    Ratios {
        percpu_over_raw,
        percpu_scaling_2,
        percpu_over_global,
        shootdown_64_over_1,
        temp_task_pinned_over_preempt_off: temp_task_ratio(boots),
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("n/a".to_owned(), |r| format!("{r:.2}x"))
}

/// The report as text tables (`tcg`: label cycles as emulated).
pub fn tables(boots: &[Boot], accel: &str) -> String {
    let mut out = String::new();
    if accel == "tcg" {
        out.push_str(
            "TCG run: cycles are host TSC ticks spent emulating, not hardware cycles.\n\n",
        );
    }
    let points = temp_points(boots);
    if !points.is_empty() {
        out.push_str("temp map + touch one byte or copy 4 KiB + unmap (cycles per operation)\n");
        let _ = writeln!(
            out,
            "{:>6} {:>4} {:>8} {:>5} {:>8} {:>8} {:>8} {:>8} {:>12} {:>12}",
            "op",
            "smp",
            "strategy",
            "cpus",
            "p50",
            "p90",
            "p99",
            "mean",
            "ops/s/cpu",
            "ops/s total"
        );
        for p in &points {
            let _ = writeln!(
                out,
                "{:>6} {:>4} {:>8} {:>5} {:>8} {:>8} {:>8} {:>8} {:>12} {:>12}",
                p.op,
                p.smp,
                p.strategy,
                p.cpus,
                p.figures.p50,
                p.figures.p90,
                p.figures.p99,
                p.figures.mean,
                p.figures.ops_per_sec_per_cpu,
                p.figures.ops_per_sec_total
            );
        }
        out.push('\n');
    }
    let simple = |out: &mut String, workload: &str, key: &str, title: &str| {
        let rows: Vec<(u32, &Value)> = bench_records(boots, workload).collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(out, "{title} (cycles)");
        let _ = writeln!(
            out,
            "{:>4} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "smp", key, "p50", "p90", "p99", "mean"
        );
        for (smp, r) in rows {
            let _ = writeln!(
                out,
                "{:>4} {:>8} {:>8} {:>8} {:>8} {:>8}",
                smp,
                u(r, key),
                u(r, "p50"),
                u(r, "p90"),
                u(r, "p99"),
                u(r, "mean")
            );
        }
        out.push('\n');
    };
    out.push_str(&write_table(boots));
    out.push_str(&real_table(boots));
    out.push_str(&sched_table(boots));
    out.push_str(&irq_off_table(boots, accel == "tcg"));
    simple(&mut out, "ipi_round_trip", "target", "IPI round trip");
    simple(&mut out, "shootdown_targets", "targets", "1-page shootdown");
    let ceiling: Vec<(u32, &Value)> = bench_records(boots, "flush_ceiling").collect();
    if !ceiling.is_empty() {
        out.push_str("shootdown of n kernel pages (median cycles, with refills)\n");
        let _ = writeln!(
            out,
            "{:>4} {:>6} {:>10} {:>10}",
            "smp", "pages", "range", "full"
        );
        for (smp, r) in ceiling {
            let _ = writeln!(
                out,
                "{:>4} {:>6} {:>10} {:>10}",
                smp,
                u(r, "pages"),
                u(r, "range_cycles"),
                u(r, "full_cycles")
            );
        }
        out.push('\n');
    }
    let r = ratios(boots);
    out.push_str("ratios (targets are for KVM)\n");
    let _ = writeln!(
        out,
        "  per-CPU / raw floor, 1 CPU (mean):      {} (target <= 1.25x)",
        fmt_ratio(r.percpu_over_raw)
    );
    let _ = writeln!(
        out,
        "  per-CPU throughput 2 CPUs / 1 CPU:      {} (target >= 1.80x)",
        fmt_ratio(r.percpu_scaling_2)
    );
    let label = format!(
        "per-CPU / global pool throughput{}:",
        r.percpu_over_global
            .map_or(String::new(), |(n, _)| format!(" at {n}"))
    );
    let _ = writeln!(
        out,
        "  {label:<39} {} (target >= 2.00x)",
        fmt_ratio(r.percpu_over_global.map(|(_, x)| x))
    );
    let _ = writeln!(
        out,
        "  64-page / 1-page shootdown:             {} (target <= 2.00x)",
        fmt_ratio(r.shootdown_64_over_1)
    );
    let _ = writeln!(
        out,
        "  temp map in a task: pinned / preempt-off (p50): {}",
        fmt_ratio(r.temp_task_pinned_over_preempt_off)
    );
    out
}

/// The whole run as one JSON document: environment, every boot's records, the points and
/// the ratios.
pub fn document(boots: &[Boot], env: Value) -> Value {
    let r = ratios(boots);
    json!({
        "env": env,
        "boots": boots.iter().map(|b| json!({
            "smp": b.smp, "workload": b.workload, "records": b.records,
        })).collect::<Vec<_>>(),
        "temp_points": temp_points(boots).iter().map(|p| {
            let mut point = json!({
                "op": p.op, "smp": p.smp, "strategy": p.strategy, "cpus": p.cpus,
            });
            p.figures.insert_into(&mut point);
            point
        }).collect::<Vec<_>>(),
        "write_points": write_points(boots).iter().map(WritePoint::to_json).collect::<Vec<_>>(),
        "sched_points": sched_points(boots).iter().map(SchedPoint::to_json).collect::<Vec<_>>(),
        "irq_off": irq_off(boots).iter().map(IrqOff::to_json).collect::<Vec<_>>(),
        "real_points": real_points(boots).iter().map(RealPoint::to_json).collect::<Vec<_>>(),
        "real_skipped": real_skipped(boots).iter()
            .map(|(p, why)| json!({"program": p, "reason": why})).collect::<Vec<_>>(),
        "ratios": {
            "percpu_over_raw": r.percpu_over_raw,
            "percpu_scaling_2": r.percpu_scaling_2,
            "percpu_over_global": r.percpu_over_global.map(|(n, x)| json!({"cpus": n, "ratio": x})),
            "shootdown_64_over_1": r.shootdown_64_over_1,
            "temp_task_pinned_over_preempt_off": r.temp_task_pinned_over_preempt_off,
        },
    })
}

/// A measurement that got worse than the baseline by more than the threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    /// Which point (`temp percpu smp=4 cpus=2`, ...).
    pub what: String,
    /// Baseline p50 cycles.
    pub baseline: u64,
    /// This run's p50 cycles.
    pub now: u64,
}

/// Every p50 in `now` that is more than `threshold` (0.25 = 25 %) slower than the same
/// point in `baseline` (both `document`s). Points only one side has are skipped.
pub fn regressions(baseline: &Value, now: &Value, threshold: f64) -> Vec<Regression> {
    let keyed = |doc: &Value| -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for p in doc["temp_points"].as_array().into_iter().flatten() {
            m.insert(
                format!(
                    "temp {} {} smp={} cpus={}",
                    p["op"].as_str().unwrap_or("?"),
                    p["strategy"].as_str().unwrap_or("?"),
                    u(p, "smp"),
                    u(p, "cpus")
                ),
                u(p, "p50"),
            );
        }
        for p in doc["write_points"].as_array().into_iter().flatten() {
            m.insert(write::baseline_key(p), u(p, "p50"));
        }
        for p in doc["sched_points"].as_array().into_iter().flatten() {
            m.insert(sched::baseline_key(p), u(p, "p50"));
        }
        for b in doc["boots"].as_array().into_iter().flatten() {
            for r in b["records"].as_array().into_iter().flatten() {
                let key = match r["workload"].as_str() {
                    Some("ipi_round_trip") => format!("ipi target={}", u(r, "target")),
                    Some("shootdown_targets") => format!("shootdown targets={}", u(r, "targets")),
                    _ => continue,
                };
                if r["event"] == "bench" {
                    m.insert(format!("{key} smp={}", u(b, "smp")), u(r, "p50"));
                }
            }
        }
        m
    };
    let (base, cur) = (keyed(baseline), keyed(now));
    cur.iter()
        .filter_map(|(k, &now)| {
            let &baseline = base.get(k)?;
            (baseline > 0 && now as f64 > baseline as f64 * (1.0 + threshold)).then(|| Regression {
                what: k.clone(),
                baseline,
                now,
            })
        })
        .collect()
}

/// An axis label that fits the margin: 1234567 -> `1.2M`, 45678 -> `46k`.
fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// A line chart as SVG: `series` of (name, points), axes from zero, one colour each.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    const W: f64 = 640.0;
    const H: f64 = 400.0;
    const M: f64 = 60.0;
    const COLOURS: [&str; 6] = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let all = series.iter().flat_map(|(_, pts)| pts.iter());
    let (x_max, y_max) = all.fold((0f64, 0f64), |(x, y), &(px, py)| (x.max(px), y.max(py)));
    let (x_max, y_max) = (x_max.max(1.0), y_max.max(1.0) * 1.1);
    let sx = |x: f64| M + x / x_max * (W - 2.0 * M);
    let sy = |y: f64| H - M - y / y_max * (H - 2.0 * M);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{title}</text>\n",
        W / 2.0
    );
    let _ = writeln!(
        s,
        "<line x1=\"{M}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{M}\" y1=\"{M}\" x2=\"{M}\" y2=\"{}\" stroke=\"black\"/>",
        H - M,
        W - M,
        H - M,
        H - M
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x_label}</text><text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{y_label}</text>",
        W / 2.0,
        H - 20.0,
        H / 2.0,
        H / 2.0
    );
    for i in 0..=4 {
        let (x, y) = (x_max * f64::from(i) / 4.0, y_max * f64::from(i) / 4.0);
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{}\" text-anchor=\"middle\">{}</text><text x=\"{}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>",
            sx(x),
            H - M + 16.0,
            short(x),
            M - 4.0,
            sy(y) + 4.0,
            short(y)
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        for &(x, y) in pts {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                sx(x),
                sy(y)
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>",
            M + 10.0,
            M + 16.0 * i as f64
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The plots: throughput against CPUs per strategy (the largest boot), shootdown latency
/// against targets, and a round's cost against its size (range vs full flush).
pub fn plots(boots: &[Boot]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut points = temp_points(boots);
    points.retain(|p| p.op == "touch");
    if let Some(smp) = points.iter().map(|p| p.smp).max() {
        let series: Vec<(String, Vec<(f64, f64)>)> = ["raw", "percpu", "global"]
            .iter()
            .map(|&s| {
                let pts = points
                    .iter()
                    .filter(|p| p.smp == smp && p.strategy == s)
                    .map(|p| (p.cpus as f64, p.figures.ops_per_sec_total as f64))
                    .collect();
                (s.to_owned(), pts)
            })
            .collect();
        out.push((
            "temp_throughput.svg".to_owned(),
            line_chart(
                &format!("map+touch+unmap, smp={smp}"),
                "CPUs running",
                "ops/s total",
                &series,
            ),
        ));
    }
    let per_boot = |workload: &str, x: &str, y: &str| -> Vec<(String, Vec<(f64, f64)>)> {
        let mut by: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
        for (smp, r) in bench_records(boots, workload) {
            by.entry(smp)
                .or_default()
                .push((u(r, x) as f64, u(r, y) as f64));
        }
        by.into_iter()
            .map(|(smp, pts)| (format!("smp={smp}"), pts))
            .collect()
    };
    let shoot = per_boot("shootdown_targets", "targets", "p50");
    if !shoot.is_empty() {
        out.push((
            "shootdown_targets.svg".to_owned(),
            line_chart("1-page shootdown", "targets", "p50 cycles", &shoot),
        ));
    }
    let mut batch = per_boot("flush_ceiling", "pages", "range_cycles");
    batch.iter_mut().for_each(|(n, _)| n.push_str(" range"));
    let mut full = per_boot("flush_ceiling", "pages", "full_cycles");
    full.iter_mut().for_each(|(n, _)| n.push_str(" full flush"));
    batch.extend(full);
    if !batch.is_empty() {
        out.push((
            "shootdown_batch.svg".to_owned(),
            line_chart(
                "shootdown of n kernel pages",
                "pages",
                "median cycles",
                &batch,
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(strategy: &str, cpus: u64, cpu: u64, p50: u64, mean: u64, ops: u64) -> Value {
        json!({"event":"bench","workload":"temp_map_touch","strategy":strategy,"cpus":cpus,
               "cpu":cpu,"ops":12800,"p50":p50,"p90":p50 + 10,"p99":p50 + 20,"mean":mean,
               "ops_per_sec":ops})
    }

    fn boot() -> Boot {
        let mut records = vec![json!({"event":"bench_env","cpus":2,"tsc_khz":1000})];
        records.push(temp("raw", 1, 0, 90, 100, 10_000));
        records.push(temp("percpu", 1, 0, 110, 120, 8_000));
        records.push(temp("percpu", 2, 0, 110, 120, 8_000));
        records.push(temp("percpu", 2, 1, 130, 140, 7_000));
        records.push(temp("global", 1, 0, 150, 160, 6_000));
        records.push(temp("global", 2, 0, 900, 1000, 1_000));
        records.push(temp("global", 2, 1, 1100, 1200, 500));
        // A copy point: its own row, never mixed into the touch ratios.
        let mut copy = temp("percpu", 1, 0, 5000, 6000, 100);
        copy["workload"] = json!("temp_map_copy4k");
        records.push(copy);
        for (pages, range) in [(1, 1000), (64, 1900)] {
            records.push(
                json!({"event":"bench","workload":"flush_ceiling","pages":pages,
                                "targets":1,"range_cycles":range,"full_cycles":5000}),
            );
        }
        records.push(
            json!({"event":"bench","workload":"shootdown_targets","targets":1,
                            "p50":2000,"p90":2100,"p99":2200,"mean":2050}),
        );
        Boot {
            smp: 2,
            workload: "all".into(),
            records,
        }
    }

    #[test]
    fn points_aggregate_the_running_cpus() {
        let points = temp_points(&[boot()]);
        let p = points
            .iter()
            .find(|p| p.strategy == "percpu" && p.cpus == 2)
            .unwrap();
        assert_eq!(p.figures.ops_per_sec_total, 15_000);
        assert_eq!(p.figures.ops_per_sec_per_cpu, 7_500);
        assert_eq!(p.figures.mean, 130);
        assert_eq!(points.len(), 6);
        assert_eq!(points.iter().filter(|p| p.op == "copy4k").count(), 1);
    }

    #[test]
    fn ratios_come_from_the_points() {
        let r = ratios(&[boot()]);
        assert_eq!(r.percpu_over_raw, Some(1.2));
        assert_eq!(r.percpu_scaling_2, Some(15_000.0 / 8_000.0));
        assert_eq!(r.percpu_over_global, Some((2, 10.0)));
        assert_eq!(r.shootdown_64_over_1, Some(1.9));
    }

    #[test]
    fn missing_points_give_no_ratio_not_a_wrong_one() {
        let mut b = boot();
        b.records.retain(|r| r["strategy"] != "raw");
        let r = ratios(&[b]);
        assert_eq!(r.percpu_over_raw, None);
        assert!(tables(&[boot()], "tcg").starts_with("TCG run"));
    }

    #[test]
    fn baseline_flags_only_slowdowns_beyond_the_threshold() {
        let base = document(&[boot()], json!({}));
        assert!(regressions(&base, &base, 0.25).is_empty());
        let mut slower = boot();
        for r in &mut slower.records {
            if r["strategy"] == "percpu" && r["workload"] == "temp_map_touch" {
                r["p50"] = json!(1000);
            }
            if r["workload"] == "shootdown_targets" {
                r["p50"] = json!(2400); // +20 %: within 25 %
            }
        }
        let now = document(&[slower], json!({}));
        let found = regressions(&base, &now, 0.25);
        let what: Vec<&str> = found.iter().map(|r| r.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "temp touch percpu smp=2 cpus=1",
                "temp touch percpu smp=2 cpus=2"
            ]
        );
        // And faster is never a regression.
        assert!(regressions(&now, &base, 0.25).is_empty());
    }

    #[test]
    fn kernel_model_and_irq_off_join_the_report() {
        let record = |workload: &str, p50: u64| {
            json!({"event":"bench","workload":workload,"bytes":0,"cpus":1,"cpu":0,"pid":1,
                   "ops":200,"p50":p50,"p90":p50,"p99":p50,"mean":p50,"ops_per_sec":1})
        };
        let sched = |switch: u64| Boot {
            smp: 2,
            workload: "sched".into(),
            records: vec![
                record("context_switch", switch),
                record("temp_task_pinned", 4_200),
                record("temp_task_preempt_off", 4_000),
                json!({"event":"summary","cpus":2,"per_cpu":[
                    {"cpu":0,"irq_off_max_cycles":46_000,"irq_off_max_us":20,
                     "irq_off_max_at":"kernel/src/sched/mod.rs:220"}]}),
            ],
        };
        let boots = [boot(), sched(26_000)];
        let text = tables(&boots, "tcg");
        for needle in [
            "kernel model (cycles per operation)",
            "longest interrupts-off stretch per CPU",
            "kernel/src/sched/mod.rs:220",
            "temp map in a task: pinned / preempt-off (p50): 1.05x",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
        let doc = document(&boots, json!({}));
        assert_eq!(doc["sched_points"].as_array().unwrap().len(), 3);
        assert_eq!(doc["irq_off"][0]["us"], 20);
        assert_eq!(doc["ratios"]["temp_task_pinned_over_preempt_off"], 1.05);
        let slower = document(&[boot(), sched(40_000)], json!({}));
        let found = regressions(&doc, &slower, 0.25);
        let what: Vec<&str> = found.iter().map(|r| r.what.as_str()).collect();
        assert_eq!(what, ["sched context_switch smp=2"]);
        // A run without the kernel model says so instead of inventing a ratio.
        assert!(tables(&[boot()], "tcg").contains("pinned / preempt-off (p50): n/a"));
    }

    #[test]
    fn plots_draw_every_series() {
        let plots = plots(&[boot()]);
        let names: Vec<&str> = plots.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "temp_throughput.svg",
                "shootdown_targets.svg",
                "shootdown_batch.svg"
            ]
        );
        let (_, throughput) = &plots[0];
        assert!(throughput.starts_with("<svg") && throughput.ends_with("</svg>\n"));
        // raw has one point, percpu and global two: three polylines, five markers.
        assert_eq!(throughput.matches("<polyline").count(), 3);
        assert_eq!(throughput.matches("<circle").count(), 5);
        assert_eq!(
            [short(1_234_567.0), short(45_678.0), short(980.0)],
            ["1.2M", "46k", "980"]
        );
    }
}
