//! Tempest against a peer kernel (Linux) on the same QEMU machine: one program,
//! `user/src/bin/peer_bench.rs`, is the init of an initramfs both kernels boot, and prints
//! one `@@peer` record per workload. Here: the initramfs, the records, and the side-by-side
//! points, table, JSON and bar chart. Pure functions, host-tested; `main.rs` boots.

use serde_json::{Value, json};
use std::fmt::Write as _;

/// The workloads of `peer_bench`, in the order the table lists them.
pub const PEER_WORKLOADS: [&str; 19] = [
    "getpid",
    "mmap_touch_munmap_1",
    "mmap_touch_munmap_64",
    "pipe_4k",
    "pipe_64k",
    "shootdown_mprotect_1",
    "shootdown_remap_1",
    "shootdown_munmap_1",
    "shootdown_mprotect_2",
    "shootdown_remap_2",
    "shootdown_munmap_2",
    "shootdown_mprotect_3",
    "shootdown_remap_3",
    "shootdown_munmap_3",
    "thread_create_join",
    "context_switch",
    "futex_pingpong",
    "fork_exit_wait",
    "fork_exec_wait",
];

/// The kernels compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Linux,
    Tempest,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Linux => "linux",
            Kernel::Tempest => "tempest",
        }
    }
}

/// One boot of one kernel: its `@@peer` records.
#[derive(Clone, Debug)]
pub struct PeerBoot {
    pub kernel: Kernel,
    pub smp: u32,
    /// Which run of the interleaved sequence (0, 1, ...).
    pub run: u32,
    pub records: Vec<Value>,
}

/// The `@@peer {json}` records of a serial log, in order (lines that are not records, or
/// whose JSON does not parse, are skipped: the kernel's own lines come between them).
pub fn records(serial: &str) -> Vec<Value> {
    serial
        .lines()
        .filter_map(|l| l.trim_end().split_once("@@peer ").map(|(_, r)| r))
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect()
}

/// The initramfs both kernels boot: `/init` (the program, mode 0755), `/dev`, and
/// `/dev/console` (character device 5:1), which Linux opens as init's standard input and
/// output before it starts it. A `newc` archive, written with the `cpio` crate.
pub fn initramfs(init: &[u8]) -> std::io::Result<Vec<u8>> {
    qemu::initrd::linux_initramfs(&[("init", init)])
}

/// A kernel's figures for one workload, over its runs: the median of the runs' p50s and
/// the least of their minima (cycles per operation), and the temp mappings per operation
/// where the kernel says.
#[derive(Clone, Debug, PartialEq)]
pub struct Side {
    pub p50: u64,
    pub min: u64,
    pub runs: usize,
    pub temp_maps_per_op: Option<f64>,
}

/// What a kernel did with a workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Measured(Side),
    /// Skipped or failed, with the program's reason; or no record at all.
    NotRun(String),
}

/// One workload at one CPU count, both kernels.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerPoint {
    pub workload: String,
    pub smp: u32,
    pub linux: Outcome,
    pub tempest: Outcome,
}

impl PeerPoint {
    /// Tempest's p50 over Linux's, when both ran.
    pub fn ratio(&self) -> Option<f64> {
        match (&self.linux, &self.tempest) {
            (Outcome::Measured(l), Outcome::Measured(t)) if l.p50 > 0 => {
                Some(t.p50 as f64 / l.p50 as f64)
            }
            _ => None,
        }
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// What `kernel`'s boots at `smp` CPUs say of `workload`.
fn side(boots: &[PeerBoot], kernel: Kernel, smp: u32, workload: &str) -> Outcome {
    let found: Vec<&Value> = boots
        .iter()
        .filter(|b| b.kernel == kernel && b.smp == smp)
        .flat_map(|b| b.records.iter().find(|r| r["workload"] == workload))
        .collect();
    let measured: Vec<&Value> = found
        .iter()
        .copied()
        .filter(|r| r["p50"].as_u64().is_some())
        .collect();
    if measured.is_empty() {
        let why = found
            .iter()
            .find_map(|r| r["skipped"].as_str().or_else(|| r["failed"].as_str()))
            .unwrap_or("no record");
        return Outcome::NotRun(why.to_owned());
    }
    let maps: Vec<f64> = measured
        .iter()
        .filter_map(|r| r["temp_maps_per_op"].as_f64())
        .collect();
    Outcome::Measured(Side {
        p50: median(
            measured
                .iter()
                .map(|r| r["p50"].as_u64().unwrap_or(0))
                .collect(),
        ),
        min: measured
            .iter()
            .filter_map(|r| r["min"].as_u64())
            .min()
            .unwrap_or(0),
        runs: measured.len(),
        temp_maps_per_op: (!maps.is_empty()).then(|| maps.iter().sum::<f64>() / maps.len() as f64),
    })
}

/// Every workload at every CPU count booted, in [`PEER_WORKLOADS`] order; a workload a
/// kernel did not run is there with its reason.
pub fn peer_points(boots: &[PeerBoot]) -> Vec<PeerPoint> {
    let mut smps: Vec<u32> = boots.iter().map(|b| b.smp).collect();
    smps.sort_unstable();
    smps.dedup();
    let mut points = Vec::new();
    for smp in smps {
        for workload in PEER_WORKLOADS {
            points.push(PeerPoint {
                workload: workload.to_owned(),
                smp,
                linux: side(boots, Kernel::Linux, smp, workload),
                tempest: side(boots, Kernel::Tempest, smp, workload),
            });
        }
    }
    points
}

fn cell(o: &Outcome) -> (String, String) {
    match o {
        Outcome::Measured(s) => (s.p50.to_string(), s.min.to_string()),
        Outcome::NotRun(_) => ("-".to_owned(), "-".to_owned()),
    }
}

/// The side-by-side table, and under it why each cell left empty is empty.
pub fn peer_table(points: &[PeerPoint]) -> String {
    let mut out = String::from("Tempest against Linux (cycles per operation, p50 over runs)\n");
    let _ = writeln!(
        out,
        "{:<22} {:>4} {:>11} {:>11} {:>11} {:>11} {:>8} {:>10}",
        "workload", "smp", "linux p50", "linux min", "tempest p50", "tempest min", "T/L", "temp/op"
    );
    let mut notes = Vec::new();
    for p in points {
        let (lp, lm) = cell(&p.linux);
        let (tp, tm) = cell(&p.tempest);
        let ratio = p.ratio().map_or("-".to_owned(), |r| format!("{r:.2}"));
        let maps = match &p.tempest {
            Outcome::Measured(Side {
                temp_maps_per_op: Some(m),
                ..
            }) => format!("{m:.2}"),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<22} {:>4} {lp:>11} {lm:>11} {tp:>11} {tm:>11} {ratio:>8} {maps:>10}",
            p.workload, p.smp
        );
        for (kernel, o) in [("linux", &p.linux), ("tempest", &p.tempest)] {
            if let Outcome::NotRun(why) = o {
                notes.push(format!("  {} smp={} on {kernel}: {why}", p.workload, p.smp));
            }
        }
    }
    if !notes.is_empty() {
        out.push_str("not run:\n");
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

fn side_json(o: &Outcome) -> Value {
    match o {
        Outcome::Measured(s) => json!({
            "p50": s.p50, "min": s.min, "runs": s.runs, "temp_maps_per_op": s.temp_maps_per_op
        }),
        Outcome::NotRun(why) => json!({ "not_run": why }),
    }
}

/// The JSON document of a peer run: the environment, every boot's records, the points.
pub fn peer_document(boots: &[PeerBoot], env: Value) -> Value {
    let points: Vec<Value> = peer_points(boots)
        .iter()
        .map(|p| {
            json!({
                "workload": p.workload,
                "smp": p.smp,
                "linux": side_json(&p.linux),
                "tempest": side_json(&p.tempest),
                "tempest_over_linux": p.ratio(),
            })
        })
        .collect();
    let boots: Vec<Value> = boots
        .iter()
        .map(|b| json!({"kernel": b.kernel.name(), "smp": b.smp, "run": b.run, "records": b.records}))
        .collect();
    json!({ "env": env, "boots": boots, "points": points })
}

/// A horizontal bar chart of Tempest/Linux (p50) per workload at `smp` CPUs, on a log
/// scale from 1/16 to 16 with the line at 1 (equal); a workload one kernel did not run is
/// listed without a bar.
pub fn peer_chart(points: &[PeerPoint], smp: u32) -> String {
    const W: f64 = 760.0;
    const LEFT: f64 = 190.0;
    const RIGHT: f64 = 60.0;
    const ROW: f64 = 20.0;
    const TOP: f64 = 50.0;
    let rows: Vec<&PeerPoint> = points.iter().filter(|p| p.smp == smp).collect();
    let h = TOP + ROW * rows.len() as f64 + 40.0;
    let span = W - LEFT - RIGHT;
    // log2 of the ratio, -4..4, onto the plot's width.
    let x = |ratio: f64| LEFT + (ratio.log2().clamp(-4.0, 4.0) + 4.0) / 8.0 * span;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Tempest / Linux, p50 cycles per operation, smp {smp} (log scale; left of 1: Tempest faster)</text>\n",
        W / 2.0
    );
    for r in [0.0625, 0.25, 1.0, 4.0, 16.0] {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"{2}\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{r}</text>",
            x(r),
            h - 30.0,
            if r == 1.0 { "black" } else { "#ccc" },
            h - 14.0
        );
    }
    for (i, p) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + 14.0,
            p.workload
        );
        match p.ratio() {
            Some(r) => {
                let (a, b) = (x(1.0), x(r));
                let colour = if r <= 1.0 { "#2ca02c" } else { "#d62728" };
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\">{r:.2}</text>",
                    a.min(b),
                    y + 4.0,
                    (b - a).abs().max(1.0),
                    ROW - 6.0,
                    a.max(b) + 4.0,
                    y + 14.0
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#888\">not run on both</text>",
                    x(1.0) + 4.0,
                    y + 14.0
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(workload: &str, p50: u64, min: u64, maps: Option<f64>) -> Value {
        json!({"workload": workload, "ops": 100, "p50": p50, "min": min, "mean": p50,
               "temp_maps_per_op": maps})
    }

    fn boot(kernel: Kernel, run: u32, records: Vec<Value>) -> PeerBoot {
        PeerBoot {
            kernel,
            smp: 2,
            run,
            records,
        }
    }

    #[test]
    fn records_are_found_among_the_kernels_lines() {
        let serial = "[    0.1] Linux boots\n@@peer {\"event\":\"start\",\"cpus\":2}\nnoise\n\
                      [cpu0 INFO ] x @@peer {\"workload\":\"getpid\",\"p50\":5}\n@@peer {broken\n";
        let found = records(serial);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1]["workload"], "getpid");
    }

    #[test]
    fn the_initramfs_reads_back_with_init_and_the_console_node() {
        let archive = initramfs(b"\x7fELF program").unwrap();
        let mut rest: &[u8] = &archive;
        let mut seen = Vec::new();
        loop {
            let reader = cpio::NewcReader::new(rest).unwrap();
            if reader.entry().is_trailer() {
                break;
            }
            let e = reader.entry();
            seen.push((
                e.name().to_owned(),
                e.mode(),
                e.rdev_major(),
                e.rdev_minor(),
                e.file_size(),
            ));
            rest = reader.finish().unwrap();
        }
        assert_eq!(
            seen,
            [
                ("dev".to_owned(), 0o040_755, 0, 0, 0),
                ("dev/console".to_owned(), 0o020_600, 5, 1, 0),
                ("init".to_owned(), 0o100_755, 0, 0, 12),
            ]
        );
    }

    #[test]
    fn sides_are_medians_of_p50_and_least_minima_and_ratios_compare_p50s() {
        let boots = [
            boot(Kernel::Linux, 0, vec![record("getpid", 100, 90, None)]),
            boot(
                Kernel::Tempest,
                0,
                vec![record("getpid", 80, 70, Some(0.0))],
            ),
            boot(Kernel::Linux, 1, vec![record("getpid", 120, 85, None)]),
            boot(
                Kernel::Tempest,
                1,
                vec![record("getpid", 60, 75, Some(0.0))],
            ),
            boot(Kernel::Linux, 2, vec![record("getpid", 110, 95, None)]),
            boot(
                Kernel::Tempest,
                2,
                vec![record("getpid", 70, 72, Some(0.0))],
            ),
        ];
        let points = peer_points(&boots);
        assert_eq!(points.len(), PEER_WORKLOADS.len());
        let getpid = &points[0];
        assert_eq!(
            getpid.linux,
            Outcome::Measured(Side {
                p50: 110,
                min: 85,
                runs: 3,
                temp_maps_per_op: None
            })
        );
        let Outcome::Measured(t) = &getpid.tempest else {
            panic!("{getpid:?}")
        };
        assert_eq!((t.p50, t.min, t.temp_maps_per_op), (70, 70, Some(0.0)));
        assert!((getpid.ratio().unwrap() - 70.0 / 110.0).abs() < 1e-9);
    }

    #[test]
    fn a_workload_one_kernel_did_not_run_is_shown_with_its_reason() {
        let boots = [
            boot(
                Kernel::Linux,
                0,
                vec![
                    json!({"workload": "shootdown_mprotect_3", "skipped": "needs 4 CPUs, the machine has 2"}),
                ],
            ),
            boot(
                Kernel::Tempest,
                0,
                vec![record("shootdown_mprotect_3", 10, 9, None)],
            ),
        ];
        let points = peer_points(&boots);
        let p = points
            .iter()
            .find(|p| p.workload == "shootdown_mprotect_3")
            .unwrap();
        assert_eq!(
            p.linux,
            Outcome::NotRun("needs 4 CPUs, the machine has 2".to_owned())
        );
        assert_eq!(p.ratio(), None);
        let table = peer_table(&points);
        assert!(
            table.contains("shootdown_mprotect_3 smp=2 on linux: needs 4 CPUs"),
            "{table}"
        );
        // Workloads neither boot mentions are listed as having no record.
        assert!(
            table.contains("getpid smp=2 on tempest: no record"),
            "{table}"
        );
        let doc = peer_document(&boots, json!({}));
        let p = doc["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["workload"] == "shootdown_mprotect_3")
            .unwrap();
        assert_eq!(p["linux"]["not_run"], "needs 4 CPUs, the machine has 2");
        assert_eq!(p["tempest_over_linux"], Value::Null);
        let chart = peer_chart(&points, 2);
        assert!(chart.starts_with("<svg") && chart.contains("not run on both"));
    }

    #[test]
    fn the_chart_draws_faster_green_and_slower_red() {
        let boots = [
            boot(
                Kernel::Linux,
                0,
                vec![
                    record("getpid", 100, 90, None),
                    record("pipe_4k", 100, 90, None),
                ],
            ),
            boot(
                Kernel::Tempest,
                0,
                vec![
                    record("getpid", 50, 40, None),
                    record("pipe_4k", 400, 300, None),
                ],
            ),
        ];
        let chart = peer_chart(&peer_points(&boots), 2);
        assert!(
            chart.contains("#2ca02c") && chart.contains(">0.50<"),
            "{chart}"
        );
        assert!(
            chart.contains("#d62728") && chart.contains(">4.00<"),
            "{chart}"
        );
    }
}
