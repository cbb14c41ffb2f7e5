//! `cargo qemu`: build Tempest, boot it in QEMU, stream the serial console and report a verdict.
//!
//! Serial output (with symbolized backtraces) goes to stdout; the runner's own messages, all
//! starting with `tempest: `, go to stderr, the last one being the verdict. The exit status
//! is [`qemu::Outcome::exit_code`] (5 for errors before or around the run).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use qemu::options::Cli;
use qemu::programs::{self, Program, ProgramSpec};
use qemu::runtimes::{self, Runtime};
use qemu::symbolize::{BacktraceAnnotator, Symbolizer};
use qemu::{Outcome, QemuConfig, RunOptions, build, initrd, provision, run, serial};

/// Exit status for usage errors, build failures and other runner errors.
const EXIT_ERROR: u8 = 5;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS; // --help, --version
            }
            eprintln!("tempest: error: invalid command line");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match boot(&cli) {
        Ok((outcome, Some(status))) if cli.shell => {
            // The shell's own status is the run's, once it exited.
            eprintln!("tempest: the shell exited with status {status}");
            let _ = outcome;
            ExitCode::from(status)
        }
        Ok((outcome, _)) => {
            eprintln!("{outcome}");
            ExitCode::from(outcome.exit_code() as u8)
        }
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("tempest: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `specs` with the toolchains their `glibc/` and `musl/` programs need provisioned; a
/// program whose toolchain cannot be (no root for apt-get, say) is left out, with a
/// warning that says why.
fn with_runtimes_ready(root: &Path, specs: Vec<ProgramSpec>) -> Vec<ProgramSpec> {
    let wanted: Vec<Runtime> = specs
        .iter()
        .filter_map(|s| Runtime::of(&s.program).map(|(r, _)| r))
        .collect();
    if wanted.is_empty() {
        return specs;
    }
    let missing = runtimes::ensure(root, &wanted);
    specs
        .into_iter()
        .filter(|s| {
            let Some((runtime, _)) = Runtime::of(&s.program) else {
                return true;
            };
            match missing.iter().find(|(r, _)| *r == runtime) {
                Some((_, why)) => {
                    eprintln!("tempest: warning: {} left out: {why}", s.program);
                    false
                }
                None => true,
            }
        })
        .collect()
}

/// The root of `--shell`: busybox with its applet links in /bin, and empty /etc, /tmp,
/// /root, laid out afresh under `target/tempest/shell-root`.
fn shell_root(root: &Path) -> Result<std::path::PathBuf> {
    let busybox = qemu::busybox::ensure(root)?;
    let dir = build::target_dir(root).join("shell-root");
    let _ = std::fs::remove_dir_all(&dir);
    qemu::busybox::install(&busybox, &dir)?;
    for d in ["etc", "tmp", "root"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    Ok(dir)
}

/// Provisions, builds, runs and classifies; the caller prints the verdict. With `--shell`,
/// also the shell's exit status (from its exit record), once it exited.
fn boot(cli: &Cli) -> Result<(Outcome, Option<u8>)> {
    let root = build::workspace_root();
    let cmdline = cli.kernel_cmdline()?;
    let specs = cli.program_specs(&root)?;
    provision::ensure_target(&root)?;
    let qemu_path = provision::ensure_qemu()?;
    let (accel, note) = provision::resolve_accel(cli.accel, provision::probe_kvm())?;
    eprintln!("tempest: {note}");

    let specs = specs.map(|specs| with_runtimes_ready(&root, specs));
    let programs = match &specs {
        Some(specs) => programs::resolve(
            specs,
            || build::build_target_bins(&root, programs::USER_PACKAGE),
            |program| runtimes::build(&root, program),
        )?,
        None => Vec::new(),
    };
    if !programs.is_empty() {
        let names: Vec<String> = programs.iter().map(Program::name).collect();
        eprintln!("tempest: {} program(s): {}", names.len(), names.join(", "));
    }
    let mut modules: Vec<String> = programs
        .iter()
        .map(Program::module)
        .collect::<Result<_>>()?;
    let mut programs = programs;
    let shell_dir = if cli.shell {
        Some(shell_root(&root)?)
    } else {
        None
    };
    let initrd_dir = cli.initrd.clone().or(shell_dir);
    let init_spec = if cli.shell {
        Some("/bin/sh".parse::<ProgramSpec>()?)
    } else {
        cli.init_spec()?
    };
    let init_words = if cli.shell {
        "/bin/sh"
    } else {
        cli.init.as_deref().unwrap_or("")
    };
    let archive = match (&initrd_dir, init_spec) {
        (Some(dir), Some(init)) => {
            // One archive per run: tests boot several at once.
            let out = build::target_dir(&root).join(format!(
                "initrd/{}-{}.cpio",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            initrd::write(dir, &out)?;
            modules.push(initrd::module(&out, init_words)?);
            eprintln!(
                "tempest: initramfs {} (init {})",
                dir.display(),
                init.program
            );
            programs.push(Program {
                path: init.program.into(),
                args: init.args,
                expect: init.expect,
            });
            Some(out)
        }
        _ => None,
    };
    let kernel = build::build_kernel(&root)?;

    let mut config = QemuConfig::new(kernel, cmdline, accel);
    config.initrd = modules;
    config.qemu = qemu_path;
    config.machine = cli.machine;
    config.memory_mib = cli.memory;
    config.smp = cli.smp;
    config.gdb = cli.gdb;
    config.console_input = cli.shell;
    config.x2apic = cli.x2apic;
    config.no_apic = cli.no_apic;
    config.icount = cli.icount;
    let shell_line = config.shell_line();
    if cli.verbose {
        eprintln!("tempest: {shell_line}");
    }
    if cli.gdb {
        eprintln!(
            "tempest: QEMU is halted with a gdb stub on tcp::1234; attach with:\n    {}",
            config.gdb_attach_line()
        );
    }

    let symbolizer = Symbolizer::new(&config.kernel, &root)
        .inspect_err(|e| eprintln!("tempest: warning: backtraces will not be symbolized: {e:#}"))
        .ok();
    let mut annotator = BacktraceAnnotator::new(symbolizer);
    let opts = RunOptions {
        timeout: cli.run_timeout(),
        echo: true,
        stdin: cli.shell,
    };
    let result = run::run(config.command(), &opts, &mut |line| {
        annotator.annotate(line)
    });
    if let Some(archive) = archive {
        let _ = std::fs::remove_file(archive);
    }
    let _ = std::io::stdout().flush();
    let result = match result {
        Ok(result) => result,
        Err(e) => {
            eprintln!("tempest: {shell_line}");
            return Err(e);
        }
    };

    let outcome = result.outcome();
    report_missing_exits(&programs, &result.serial, &outcome);
    let stderr = result.stderr.trim_end();
    if !stderr.is_empty() && (cli.verbose || matches!(outcome, Outcome::Error { .. })) {
        eprintln!("tempest: QEMU stderr:");
        for line in stderr.lines() {
            eprintln!("    {line}");
        }
    }
    if matches!(outcome, Outcome::GuestReset | Outcome::Timeout { .. }) {
        if result.tail.is_empty() {
            eprintln!("tempest: no serial output");
        } else {
            eprintln!("tempest: last {} serial line(s):", result.tail.len());
            for line in &result.tail {
                eprintln!("  | {line}");
            }
        }
    }
    if !cli.verbose
        && !matches!(
            outcome,
            Outcome::Success | Outcome::TestsFailed { .. } | Outcome::ProgramsFailed { .. }
        )
    {
        eprintln!("tempest: QEMU command: {shell_line}");
    }
    // The shell's exit record (it is the only program), when the run got that far.
    let shell_status = if cli.shell {
        serial::exit_records(&result.serial)
            .into_iter()
            .next()
            .map(|r| r.status as u8)
    } else {
        None
    };
    Ok((outcome, shell_status))
}

/// Warns about programs the kernel gave neither an exit nor a refused record, when it
/// reached its verdict on the programs. (The table of how each ended is the kernel's own,
/// in its summary.)
fn report_missing_exits(programs: &[Program], serial: &str, outcome: &Outcome) {
    if !matches!(outcome, Outcome::Success | Outcome::ProgramsFailed { .. }) {
        return;
    }
    let mut reported: Vec<String> = serial::exit_records(serial)
        .into_iter()
        .map(|r| r.name)
        .collect();
    reported.extend(serial::refused_programs(serial).into_iter().map(|r| r.0));
    let missing = programs::missing_exits(programs, &reported);
    if !missing.is_empty() {
        eprintln!(
            "tempest: warning: no exit record for {} program(s): {}",
            missing.len(),
            missing.join(", ")
        );
    }
}
