//! `cargo run -p bench --release -- [--smp 1,2,4] [--accel auto|kvm|tcg] [--quick]
//! [--json FILE] [--svg DIR] [--baseline FILE]`: boots Tempest once per CPU count and
//! workload (the kernel's `bench=` workloads, `write_bench`, `sched_bench`, the real glibc
//! and Rust std programs) through the
//! runner's library, then prints the tables (docs/benchmarks.md).

use anyhow::{Context, Result, bail};
use bench::{Boot, REAL_PROGRAMS, document, regressions, tables};
use clap::Parser;
use qemu::command::{Accel, QemuConfig};
use qemu::options::AccelChoice;
use qemu::programs::Program;
use qemu::run::RunOptions;
use qemu::{build, provision};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Benchmarks Tempest's temp mappings, TLB shootdowns and kernel model in QEMU")]
struct Cli {
    /// CPU counts to boot, one boot each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    smp: Vec<u32>,
    /// Accelerator: KVM when usable (auto), else TCG.
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    accel: AccelChoice,
    /// Skip the slow flush-ceiling sweep.
    #[arg(long)]
    quick: bool,
    /// Write the whole run (environment, records, points, ratios) here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write SVG plots into this directory.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Compare p50s with this earlier `--json` file; exit 1 on a regression. Measures in
    /// guest instructions (`--icount`) unless `--cycles`; the baseline must have been
    /// measured the same way.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Slowdown over the baseline that counts as a regression (0.05 = 5 %): by default
    /// 5 % for instruction counts (`--icount`), 25 % for cycles, which spread that much.
    #[arg(long)]
    threshold: Option<f64>,
    /// With `--baseline`, measure host cycles instead of guest instructions.
    #[arg(long)]
    cycles: bool,
    /// Report a saved `--json` run again (tables, plots, baseline) instead of booting.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// Run the local APICs in x2APIC mode (`-cpu qemu32,+x2apic`; TCG needs QEMU 9.0+), to
    /// compare IPI and shootdown costs with xAPIC's.
    #[arg(long)]
    x2apic: bool,
    /// Seconds one boot may take.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Deterministic TCG: `-icount shift=0,align=off,sleep=off`, so each cycle figure is a
    /// count of guest instructions, the same from run to run (TCG only).
    #[arg(long)]
    icount: bool,
    /// Measure Tempest against a peer kernel instead: `linux` (Debian's `linux-image-686`,
    /// provisioned with apt) boots the same `peer_bench` initramfs on the same QEMU machine,
    /// interleaved with Tempest (docs/benchmarks.md, "Against Linux").
    #[arg(long, value_enum)]
    peer: Option<Peer>,
    /// Boots of each kernel per CPU count in a peer run, interleaved: Linux, Tempest, ...
    #[arg(long, default_value_t = 2)]
    runs: u32,
    /// Memory of each boot of a peer run, MiB (2048: both kernels give user pages from
    /// highmem, reached through temp mappings).
    #[arg(long, default_value_t = 2048)]
    memory: u32,
}

/// The command line of the boots running user programs (`write`, `sched`, the real
/// programs): Tempest's own calls answer, and interrupts-off stretches are timed for the
/// report's table. The peer comparison boots without `irqsoff`, as Linux runs without
/// its tracer.
const USER_BOOT: &str = "tempest-calls irqsoff";

/// The peer kernels `--peer` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Peer {
    /// Debian's i386 Linux, `linux-image-686`.
    Linux,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if cli.peer.is_some() {
        return peer(&cli);
    }
    let (boots, env) = match &cli.from {
        Some(path) => load(path)?,
        None => measure(&cli)?,
    };
    let accel_name = env["accel"].as_str().unwrap_or("unknown").to_owned();
    print!("{}", tables(&boots, &accel_name));
    let doc = document(&boots, env);
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    if let Some(dir) = &cli.svg {
        std::fs::create_dir_all(dir)?;
        for (name, svg) in bench::plots(&boots) {
            let path = dir.join(name);
            std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("bench: wrote {}", path.display());
        }
    }
    if let Some(path) = &cli.baseline {
        let base = read_json(path)?;
        if base["env"]["accel"] != doc["env"]["accel"] {
            eprintln!(
                "bench: warning: baseline accelerator {} differs from this run's {accel_name}",
                base["env"]["accel"]
            );
        }
        let counted = |d: &Value| d["env"]["icount"].as_bool().unwrap_or(false);
        if counted(&base) != counted(&doc) {
            let what = |icount| {
                if icount {
                    "guest instructions (--icount)"
                } else {
                    "cycles"
                }
            };
            bail!(
                "{} was measured in {}, this run in {}: not comparable (use {} here)",
                path.display(),
                what(counted(&base)),
                what(counted(&doc)),
                if counted(&base) {
                    "--icount"
                } else {
                    "--cycles"
                }
            );
        }
        let threshold = cli
            .threshold
            .unwrap_or(if counted(&doc) { 0.05 } else { 0.25 });
        let found = regressions(&base, &doc, threshold);
        if !found.is_empty() {
            for r in &found {
                println!(
                    "REGRESSION {}: p50 {} -> {} cycles ({:+.0} %)",
                    r.what,
                    r.baseline,
                    r.now,
                    (r.now as f64 / r.baseline as f64 - 1.0) * 100.0
                );
            }
            std::process::exit(1);
        }
        println!(
            "no regression beyond {:.0} % against {}",
            threshold * 100.0,
            path.display()
        );
    }
    Ok(())
}

/// Boots every configuration; returns the boots and the environment.
/// What every kind of run needs first: the CPU counts checked, the i586 target, QEMU, the
/// accelerator (said on stderr), the kernel and the user programs built.
struct Setup {
    root: PathBuf,
    qemu_path: PathBuf,
    accel: Accel,
    accel_name: &'static str,
    kernel: PathBuf,
    user_bins: Vec<build::Artifact>,
}

impl Setup {
    fn new(cli: &Cli) -> Result<Setup> {
        if cli.smp.iter().any(|&n| n == 0 || n > 32) {
            bail!("--smp: CPU counts are 1..=32");
        }
        let root = build::workspace_root();
        provision::ensure_target(&root)?;
        let qemu_path = provision::ensure_qemu()?;
        let (accel, note) = provision::resolve_accel(cli.accel, provision::probe_kvm())?;
        let accel_name = match accel {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        };
        eprintln!("bench: {note}");
        let kernel = build::build_kernel(&root)?;
        let user_bins = build::build_target_bins(&root, qemu::programs::USER_PACKAGE)?;
        Ok(Setup {
            root,
            qemu_path,
            accel,
            accel_name,
            kernel,
            user_bins,
        })
    }

    /// The built user program `name`.
    fn user_bin(&self, name: &str) -> Result<PathBuf> {
        self.user_bins
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.path.clone())
            .with_context(|| format!("the user package built no {name}"))
    }
}

fn measure(cli: &Cli) -> Result<(Vec<Boot>, Value)> {
    let setup = Setup::new(cli)?;
    let Setup {
        root,
        qemu_path,
        accel,
        accel_name,
        kernel,
        ..
    } = &setup;
    let (accel, accel_name) = (*accel, *accel_name);
    let (write_bench, sched_bench) = (
        setup.user_bin("write_bench")?,
        setup.user_bin("sched_bench")?,
    );
    // `sched_bench` boots as the init of an initramfs holding it, so that its
    // `fork_exec_wait` can execute it again from the root file system.
    let sched_root = SchedRoot::pack(root, &sched_bench)?;
    // The real programs' runtimes, provisioned as the runner does; one that cannot be is
    // reported as not run.
    let runtimes: Vec<qemu::runtimes::Runtime> = REAL_PROGRAMS
        .iter()
        .filter_map(|p| qemu::runtimes::Runtime::of(p).map(|(r, _)| r))
        .collect();
    let unavailable = qemu::runtimes::ensure(root, &runtimes);
    let mut real: Vec<(&'static str, Result<PathBuf, String>)> = Vec::new();
    for program in REAL_PROGRAMS {
        let (runtime, _) = qemu::runtimes::Runtime::of(program).expect("glibc/ or musl/");
        let built = match unavailable.iter().find(|(r, _)| *r == runtime) {
            Some((_, why)) => Err(why.clone()),
            None => qemu::runtimes::build(root, program).map_err(|e| format!("{e:#}")),
        };
        real.push((program, built));
    }
    let mut workloads = vec!["temp", "ipi", "shootdown"];
    if !cli.quick {
        workloads.push("flush-ceiling");
    }

    // Every kernel workload but `temp` needs a second CPU to talk to. The `write` workload
    // is user programs: one writer alone, then one per CPU at once; the kernel model is one
    // `sched_bench` alone.
    let mut runs: Vec<Run> = Vec::new();
    for &smp in &cli.smp {
        for &w in workloads.iter().filter(|&&w| smp > 1 || w == "temp") {
            runs.push(Run::Kernel { smp, workload: w });
        }
        let mut groups = vec![1, smp];
        groups.dedup();
        for writers in groups {
            runs.push(Run::Write { smp, writers });
        }
        runs.push(Run::Sched { smp });
        for (i, _) in real.iter().enumerate() {
            runs.push(Run::Real { smp, program: i });
        }
    }
    let total = runs.len();
    let mut boots = Vec::new();
    for run in &runs {
        let (smp, workload) = (run.smp(), run.workload());
        let what = match *run {
            Run::Kernel { .. } => format!("smp={smp} bench={workload}"),
            Run::Write { writers, .. } => format!("smp={smp} write x{writers}"),
            Run::Sched { .. } => format!("smp={smp} sched_bench"),
            Run::Real { program, .. } => format!("smp={smp} {}", real[program].0),
        };
        eprint!("bench: [{}/{total}] {what} ... ", boots.len() + 1);
        let _ = std::io::stderr().flush();
        let started = Instant::now();
        let programs = |path: &PathBuf, args: Vec<String>, copies: u32| -> Result<QemuConfig> {
            let program = Program {
                path: path.clone(),
                args,
                expect: 0,
            };
            // A benchmark boot: the programs use Tempest's own calls (the start line and the
            // report), which answer only with `tempest-calls`; `irqsoff` times the
            // interrupts-off stretches for the report's table.
            let mut config = QemuConfig::new(kernel, USER_BOOT, accel);
            config.initrd = vec![program.module()?; copies as usize];
            Ok(config)
        };
        let mut config = match *run {
            Run::Kernel { workload, .. } => {
                QemuConfig::new(kernel, format!("bench={workload}"), accel)
            }
            Run::Write { writers, .. } => {
                programs(&write_bench, vec![writers.to_string()], writers)?
            }
            Run::Sched { .. } => {
                let mut config = QemuConfig::new(kernel, USER_BOOT, accel);
                config.initrd = vec![sched_root.module.clone()];
                config
            }
            Run::Real { program, .. } => match &real[program].1 {
                Ok(elf) => programs(elf, vec![smp.to_string()], 1)?,
                Err(why) => {
                    eprintln!("not run: {why}");
                    boots.push(Boot {
                        smp,
                        workload: "real".to_owned(),
                        records: vec![json!({"event": "real_skipped",
                            "program": real[program].0, "reason": why})],
                    });
                    continue;
                }
            },
        };
        config.qemu = qemu_path.clone();
        config.smp = smp;
        config.x2apic = cli.x2apic;
        config.icount = counting(cli, accel);
        let opts = RunOptions {
            timeout: Some(Duration::from_secs(cli.timeout)),
            echo: false,
            stdin: false,
        };
        let result = qemu::run::run(config.command(), &opts, &mut |_| None)?;
        if !result.outcome().is_success() {
            bail!(
                "{what}: {:?}\n{}",
                result.termination,
                result.tail.join("\n")
            );
        }
        // The bench records, the summary that ends a boot running programs (its per-CPU
        // longest interrupts-off stretches, temp mappings per class) and the programs' exit
        // records (what a real program cost).
        let records: Vec<Value> = result
            .records()
            .into_iter()
            .filter(|r| {
                r["event"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("bench") || e == "summary" || e == "exit")
            })
            .collect();
        let wanted = if matches!(run, Run::Real { .. }) {
            "exit"
        } else {
            "bench"
        };
        if !records.iter().any(|r| r["event"] == wanted) {
            bail!("{what}: no {wanted} records");
        }
        eprintln!("{:.1} s", started.elapsed().as_secs_f64());
        boots.push(Boot {
            smp,
            workload: workload.to_owned(),
            records,
        });
    }

    // The mode the kernel chose (KVM's qemu32 offers x2APIC even without --x2apic).
    let apic = boots
        .iter()
        .flat_map(|b| &b.records)
        .find(|r| r["event"] == "bench_env")
        .map(|r| r["apic"].clone())
        .unwrap_or(Value::Null);
    let mut env = environment(qemu_path, accel_name, &cli.smp);
    env["apic"] = apic;
    note_counting(&mut env, counting(cli, accel));
    Ok((boots, env))
}

/// Whether the boots count guest instructions (`-icount`): asked with `--icount`, and the
/// default of a `--baseline` gate (unless `--cycles`); TCG only.
fn counting(cli: &Cli, accel: Accel) -> bool {
    accel == Accel::Tcg && (cli.icount || (cli.baseline.is_some() && !cli.cycles))
}

/// Records in the environment what the figures count.
fn note_counting(env: &mut Value, icount: bool) {
    env["icount"] = json!(icount);
    if icount {
        env["cycles"] = json!("guest instructions (-icount shift=0): the same from run to run");
    }
}

/// `--peer linux`: boots Linux and Tempest in turn on each CPU count, `--runs` times each,
/// with the same `peer_bench` initramfs, QEMU machine, memory and accelerator, then prints
/// the side-by-side table (and writes `--json`, and `--svg` charts).
fn peer(cli: &Cli) -> Result<()> {
    use bench::peer::{self, Kernel, PeerBoot};
    let setup = Setup::new(cli)?;
    let linux = provision::debian_linux_kernel(&setup.root)
        .context("the peer kernel (Debian's linux-image-686:i386) cannot be had")?;
    eprintln!("bench: peer kernel {}", linux.display());
    let program = setup.user_bin("peer_bench")?;
    let Setup {
        root,
        qemu_path,
        accel,
        accel_name,
        kernel,
        ..
    } = &setup;
    let (accel, accel_name) = (*accel, *accel_name);
    let archive =
        Scratch(build::target_dir(root).join(format!("initrd/peer-{}.cpio", std::process::id())));
    std::fs::create_dir_all(archive.0.parent().expect("under target"))?;
    std::fs::write(&archive.0, peer::initramfs(&std::fs::read(&program)?)?)?;
    let archive_path = archive
        .0
        .to_str()
        .filter(|p| !p.contains([' ', ',']))
        .context("the target directory's path has a space or a comma")?
        .to_owned();
    let mut boots = Vec::new();
    let total = cli.smp.len() as u32 * cli.runs * 2;
    for &smp in &cli.smp {
        for run in 0..cli.runs {
            for which in [Kernel::Linux, Kernel::Tempest] {
                eprint!(
                    "bench: [{}/{total}] smp={smp} {} run {} ... ",
                    boots.len() + 1,
                    which.name(),
                    run + 1
                );
                let _ = std::io::stderr().flush();
                let started = Instant::now();
                let mut config = match which {
                    // Everything after `--` is init's: `poweroff` lets peer_bench, as pid 1,
                    // power the machine off when it is done.
                    Kernel::Linux => {
                        let mut c =
                            QemuConfig::new(&linux, "console=ttyS0 quiet -- poweroff", accel);
                        c.initrd = vec![archive_path.clone()];
                        c
                    }
                    Kernel::Tempest => {
                        let mut c = QemuConfig::new(kernel, "tempest-calls", accel);
                        c.initrd = vec![qemu::initrd::module(&archive.0, "/init poweroff")?];
                        c
                    }
                };
                config.qemu = qemu_path.clone();
                config.smp = smp;
                config.memory_mib = cli.memory;
                config.x2apic = cli.x2apic;
                config.icount = counting(cli, accel);
                let opts = RunOptions {
                    timeout: Some(Duration::from_secs(cli.timeout)),
                    echo: false,
                    stdin: false,
                };
                let result = qemu::run::run(config.command(), &opts, &mut |_| None)?;
                let records = peer::records(&result.serial);
                if !records.iter().any(|r| r["event"] == "done") {
                    bail!(
                        "smp={smp} {}: peer_bench did not finish ({:?}):\n{}",
                        which.name(),
                        result.termination,
                        result.tail.join("\n")
                    );
                }
                eprintln!("{:.1} s", started.elapsed().as_secs_f64());
                boots.push(PeerBoot {
                    kernel: which,
                    smp,
                    run,
                    records,
                });
            }
        }
    }
    let mut env = environment(qemu_path, accel_name, &cli.smp);
    env["memory_mib"] = json!(cli.memory);
    note_counting(&mut env, counting(cli, accel));
    env["runs"] = json!(cli.runs);
    env["linux"] = boots
        .iter()
        .filter(|b| b.kernel == Kernel::Linux)
        .flat_map(|b| &b.records)
        .find(|r| r["event"] == "start")
        .map_or(Value::Null, |r| r["kernel"].clone());
    env["linux_image"] = json!(linux.file_name().map(|n| n.to_string_lossy()));
    let points = peer::peer_points(&boots);
    print!("{}", peer::peer_table(&points));
    if let Some(path) = &cli.json {
        let doc = peer::peer_document(&boots, env);
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    if let Some(dir) = &cli.svg {
        std::fs::create_dir_all(dir)?;
        for &smp in &cli.smp {
            let path = dir.join(format!("peer-smp{smp}.svg"));
            std::fs::write(&path, peer::peer_chart(&points, smp))
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("bench: wrote {}", path.display());
        }
    }
    Ok(())
}

/// A file of this run's own, removed when it is done with.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The initramfs `sched_bench` boots from: `/bin/sched_bench`, its init. The tree and the
/// archive are this process's own, removed when it is done.
struct SchedRoot {
    dir: PathBuf,
    archive: PathBuf,
    /// The module string: the archive and its init.
    module: String,
}

impl SchedRoot {
    fn pack(root: &std::path::Path, program: &std::path::Path) -> Result<SchedRoot> {
        let scratch = root.join("target/tempest");
        let dir = scratch.join(format!("bench-root-{}", std::process::id()));
        let archive = scratch.join(format!("initrd/bench-sched-{}.cpio", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin"))?;
        std::fs::copy(program, dir.join("bin/sched_bench"))
            .with_context(|| format!("copying {} into the bench's root", program.display()))?;
        qemu::initrd::write(&dir, &archive)?;
        let module = qemu::initrd::module(&archive, "/bin/sched_bench")?;
        Ok(SchedRoot {
            dir,
            archive,
            module,
        })
    }
}

impl Drop for SchedRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.archive);
    }
}

/// One boot on `smp` CPUs.
#[derive(Clone, Copy)]
enum Run {
    /// A kernel workload (`bench=`).
    Kernel { smp: u32, workload: &'static str },
    /// `writers` copies of `write_bench`, started together.
    Write { smp: u32, writers: u32 },
    /// `sched_bench` alone (the kernel model).
    Sched { smp: u32 },
    /// Real program `program` (an index into the built `REAL_PROGRAMS`), one thread per CPU.
    Real { smp: u32, program: usize },
}

impl Run {
    fn smp(self) -> u32 {
        match self {
            Run::Kernel { smp, .. }
            | Run::Write { smp, .. }
            | Run::Sched { smp }
            | Run::Real { smp, .. } => smp,
        }
    }

    /// The boot's workload name in the report.
    fn workload(self) -> &'static str {
        match self {
            Run::Kernel { workload, .. } => workload,
            Run::Write { .. } => "write",
            Run::Sched { .. } => "sched",
            Run::Real { .. } => "real",
        }
    }
}

fn read_json(path: &std::path::Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// A saved `--json` run: its boots and environment.
fn load(path: &std::path::Path) -> Result<(Vec<Boot>, Value)> {
    let doc = read_json(path)?;
    let boots = doc["boots"]
        .as_array()
        .with_context(|| format!("{}: no boots", path.display()))?
        .iter()
        .map(|b| Boot {
            smp: b["smp"].as_u64().unwrap_or(0) as u32,
            workload: b["workload"].as_str().unwrap_or("?").to_owned(),
            records: b["records"].as_array().cloned().unwrap_or_default(),
        })
        .collect();
    Ok((boots, doc["env"].clone()))
}

fn command_output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What a reader needs to judge the figures.
fn environment(qemu: &std::path::Path, accel: &str, smp: &[u32]) -> Value {
    let qemu_version = command_output(Command::new(qemu).arg("--version"))
        .and_then(|v| v.lines().next().map(str::to_owned));
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_owned())
    });
    let commit = command_output(Command::new("git").args([
        "describe",
        "--always",
        "--dirty",
        "--abbrev=40",
    ]));
    json!({
        "qemu": qemu_version,
        "accel": accel,
        "cycles": if accel == "tcg" { "emulated (host TSC during TCG)" } else { "hardware TSC" },
        "host_cpu": cpu_model,
        "commit": commit,
        "smp": smp,
    })
}
