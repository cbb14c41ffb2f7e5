//! `cargo run -p conformance -- kselftest-x86 [--smp N] [--only NAME,...] [--json FILE]`:
//! Linux's 32-bit x86 selftests on the host and on Tempest, compared (docs/conformance.md).
//!
//! 1. Debian's `linux-source-6.12` is fetched with apt from the machine's own sources and
//!    cached under `target/tempest/debian/`; only the selftests and the two headers they
//!    include from the kernel tree are unpacked (`target/tempest/kselftest/`).
//! 2. Every 32-bit test of the selftests' Makefile is built as it says (`CFLAGS`, the
//!    `check_cc.sh` probes for `-no-pie` and `CAN_BUILD_32/64`, each target's extra
//!    sources and flags), plus `-static`.
//! 3. Each runs on the oracle, then boots Tempest alone as the init of an initramfs
//!    holding just it, at `--smp` CPUs. The oracle is the host's Linux, the test under a
//!    pseudo-terminal (`--oracle host`, the default), or Debian's i386 kernel
//!    (`linux-image-686`) in the same QEMU machine as Tempest, CPU model included, the
//!    test run by `oracle_init` (`--oracle linux-qemu`).
//! 4. Each Tempest run is compared with the host's and with the expectations file
//!    (`conformance/kselftest-x86.expect`); the table goes to stdout, `--json` writes the
//!    document. The exit status is 1 when a test not listed fails (or anything else goes
//!    wrong), 3 when the suite cannot be had (no apt source for the package, no 32-bit
//!    gcc): the end-to-end test skips then, except under `CI`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use conformance::expect::{self, Verdict};
use conformance::{Row, host, makefile, verdict};
use qemu::command::{Accel, QemuConfig};
use qemu::options::AccelChoice;
use qemu::run::RunOptions;
use qemu::{build, provision};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Linux source package the tests come from.
const SOURCE_PACKAGE: &str = "linux-source-6.12";
/// Its top directory inside the tarball.
const TREE: &str = "linux-source-6.12";
/// What is unpacked of the tree: the selftests, the two files they include from outside
/// their directory (`kselftest.h`; `desc_defs.h`, by `sigreturn.c`), and the top
/// Makefile, which names the version.
const MEMBERS: [&str; 4] = [
    "tools/testing/selftests/x86/*",
    "tools/testing/selftests/kselftest.h",
    "arch/x86/include/asm/desc_defs.h",
    "Makefile",
];

#[derive(Parser, Debug)]
#[command(about = "Runs Linux's 32-bit x86 selftests on the host and on Tempest, and compares")]
struct Cli {
    /// The suite (only `kselftest-x86` so far).
    suite: String,
    /// CPUs of the Tempest boots.
    #[arg(long, default_value_t = 4)]
    smp: u32,
    /// Only these tests (comma-separated names, without `_32`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Write the JSON document here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The expectations file (default: conformance/kselftest-x86.expect, or
    /// kselftest-x86.linux-qemu.expect with `--oracle linux-qemu`).
    #[arg(long)]
    expect: Option<PathBuf>,
    /// Seconds a test may take on Tempest (TCG is slow).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    accel: AccelChoice,
    /// Extra words for Tempest's kernel command line (its negative controls, `temp=global`...).
    #[arg(long, default_value = "")]
    kernel_cmdline: String,
    /// Which Linux the tests are judged against.
    #[arg(long, value_enum, default_value_t = Oracle::Host)]
    oracle: Oracle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Oracle {
    /// The host's Linux (its CPU, not QEMU's).
    Host,
    /// Debian's i386 Linux in the same QEMU machine as Tempest.
    LinuxQemu,
}

/// What judging against Linux in QEMU needs: its kernel and `oracle_init`.
struct LinuxGuest {
    kernel: PathBuf,
    init: Vec<u8>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if cli.suite != "kselftest-x86" {
        bail!(
            "unknown suite {:?}: the one suite is kselftest-x86",
            cli.suite
        );
    }
    if cli.smp == 0 || cli.smp > 32 {
        bail!("--smp: 1..=32 CPUs");
    }
    let root = build::workspace_root();
    let expect_path = cli.expect.clone().unwrap_or_else(|| {
        root.join(match cli.oracle {
            Oracle::Host => "conformance/kselftest-x86.expect",
            Oracle::LinuxQemu => "conformance/kselftest-x86.linux-qemu.expect",
        })
    });
    let expectations = expect::parse(
        &std::fs::read_to_string(&expect_path)
            .with_context(|| format!("reading {}", expect_path.display()))?,
    )
    .with_context(|| format!("in {}", expect_path.display()))?;

    let tree = match provision_tree(&root) {
        Ok(tree) => tree,
        Err(e) => unavailable(e),
    };
    let version = linux_version(&tree)?;
    let src = tree.join("tools/testing/selftests/x86");
    let plan = makefile::parse(&std::fs::read_to_string(src.join("Makefile"))?)?;
    for name in cli.only.iter().chain(expectations.keys()) {
        if !plan.tests.iter().any(|t| t == name) {
            bail!("{name} is not a 32-bit test of Linux {version}'s x86 selftests");
        }
    }
    let tests: Vec<&String> = plan
        .tests
        .iter()
        .filter(|t| cli.only.is_empty() || cli.only.contains(t))
        .collect();
    let bin = build::target_dir(&root).join("kselftest/bin");
    std::fs::create_dir_all(&bin)?;
    let flags = build_flags(&tree, &src, &plan).unwrap_or_else(|e| unavailable(e));
    eprintln!(
        "conformance: Linux {version}, {} tests, flags {}",
        tests.len(),
        flags.join(" ")
    );
    for name in &tests {
        build_test(&src, &bin, name, &flags, &plan)?;
    }

    provision::ensure_target(&root)?;
    let qemu_path = provision::ensure_qemu()?;
    let (accel, note) = provision::resolve_accel(cli.accel, provision::probe_kvm())?;
    eprintln!("conformance: {note}");
    let kernel = build::build_kernel(&root)?;
    let guest = match cli.oracle {
        Oracle::Host => None,
        Oracle::LinuxQemu => Some(linux_guest(&root).unwrap_or_else(|e| unavailable(e))),
    };

    let boots = Boots {
        root: &root,
        qemu: &qemu_path,
        accel,
        cli: &cli,
    };
    let mut rows = Vec::new();
    for (i, name) in tests.iter().enumerate() {
        let program = bin.join(format!("{name}_32"));
        eprint!("conformance: [{}/{}] {name}: Linux ", i + 1, tests.len());
        let linux = match &guest {
            None => host::run(&program, &bin, Duration::from_secs(60))?,
            Some(guest) => boots.on_linux(guest, name, &program)?,
        };
        eprint!("{}; tempest ", linux.ending());
        let started = Instant::now();
        let tempest = boots.on_tempest(&kernel, name, &program)?;
        eprintln!(
            "{} ({:.1} s)",
            tempest.ending(),
            started.elapsed().as_secs_f64()
        );
        rows.push(Row {
            name: (*name).clone(),
            mismatch: verdict::compare(&linux, &tempest),
            listed: expectations.get(*name).cloned(),
            linux,
            tempest,
        });
    }
    print!("{}", conformance::table(&rows));
    if let Some(path) = &cli.json {
        let env = json!({
            "suite": "kselftest-x86",
            "oracle": match cli.oracle { Oracle::Host => "host", Oracle::LinuxQemu => "linux-qemu" },
            "linux": version,
            "source_package": SOURCE_PACKAGE,
            "commit": commit(&root),
            "smp": cli.smp,
            "accel": match accel { Accel::Kvm => "kvm", Accel::Tcg => "tcg" },
            "flags": flags,
        });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&conformance::document(&rows, env))?,
        )
        .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("conformance: wrote {}", path.display());
    }
    let unexpected: Vec<&str> = rows
        .iter()
        .filter(|r| r.verdict() == Verdict::UnexpectedFail)
        .map(|r| r.name.as_str())
        .collect();
    if !unexpected.is_empty() {
        bail!(
            "{} test(s) failed that {} does not list: {}",
            unexpected.len(),
            expect_path.display(),
            unexpected.join(", ")
        );
    }
    Ok(())
}

/// Ends the run with status 3: the suite cannot be had on this machine.
fn unavailable(e: anyhow::Error) -> ! {
    eprintln!("conformance: the suite cannot be had: {e:#}");
    std::process::exit(3)
}

/// The unpacked tree (`target/tempest/kselftest/linux-source-6.12`), from the cached
/// package: only [`MEMBERS`] of its tarball.
fn provision_tree(root: &Path) -> Result<PathBuf> {
    let dir = build::target_dir(root).join("kselftest");
    let tree = dir.join(TREE);
    if tree.join("tools/testing/selftests/x86/Makefile").is_file() {
        return Ok(tree);
    }
    let tarball_member = format!("./usr/src/{TREE}.tar.xz");
    let unpacked = provision::debian_all_package_parts(root, SOURCE_PACKAGE, &[&tarball_member])
        .with_context(|| format!("Debian's {SOURCE_PACKAGE} cannot be had"))?;
    let tarball = unpacked.join(&tarball_member);
    let partial = dir.join(format!("partial-{}", std::process::id()));
    std::fs::create_dir_all(&partial)?;
    eprintln!(
        "conformance: unpacking the x86 selftests of {}",
        tarball.display()
    );
    let status = Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&partial)
        .arg("--wildcards")
        .args(MEMBERS.iter().map(|m| format!("{TREE}/{m}")))
        .status()
        .context("cannot run tar")?;
    if !status.success() {
        bail!("unpacking {} failed ({status})", tarball.display());
    }
    if std::fs::rename(partial.join(TREE), &tree).is_err() && !tree.is_dir() {
        bail!("cannot move the unpacked tree to {}", tree.display());
    }
    // Another run may have unpacked it first: its tree is as good.
    let _ = std::fs::remove_dir_all(&partial);
    Ok(tree)
}

/// `VERSION.PATCHLEVEL.SUBLEVEL` from the tree's top Makefile.
fn linux_version(tree: &Path) -> Result<String> {
    let text = std::fs::read_to_string(tree.join("Makefile"))?;
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    };
    match (field("VERSION"), field("PATCHLEVEL"), field("SUBLEVEL")) {
        (Some(v), Some(p), Some(s)) => Ok(format!("{v}.{p}.{s}")),
        _ => bail!("{} names no version", tree.join("Makefile").display()),
    }
}

/// The Makefile's flags for every 32-bit test: `CFLAGS` (its `$(KHDR_INCLUDES)` as
/// `lib.mk` sets it), `-no-pie` and `-DCAN_BUILD_32`/`-DCAN_BUILD_64` where its
/// `check_cc.sh` probes say so, and `-static`.
fn build_flags(tree: &Path, src: &Path, plan: &makefile::Plan) -> Result<Vec<String>> {
    let probe = |program: &str, flags: &[&str]| -> Result<bool> {
        let out = Command::new("sh")
            .arg("./check_cc.sh")
            .arg("gcc")
            .arg(program)
            .args(flags)
            .current_dir(src)
            .output()
            .context("cannot run check_cc.sh")?;
        Ok(String::from_utf8_lossy(&out.stdout).trim() == "1")
    };
    if !probe("trivial_32bit_program.c", &["-m32"])? {
        bail!("gcc cannot build 32-bit programs: install gcc-multilib");
    }
    let khdr = format!("-isystem {}", tree.join("usr/include").display());
    let mut flags: Vec<String> = plan
        .cflags
        .iter()
        .flat_map(|f| match f.as_str() {
            "$(KHDR_INCLUDES)" => khdr.split(' ').map(str::to_owned).collect(),
            _ => vec![f.clone()],
        })
        .collect();
    if probe("trivial_program.c", &["-no-pie"])? {
        flags.push("-no-pie".into());
    }
    flags.push("-DCAN_BUILD_32".into());
    if probe("trivial_64bit_program.c", &[])? {
        flags.push("-DCAN_BUILD_64".into());
    }
    flags.push("-static".into());
    Ok(flags)
}

/// `gcc -m32 -o BIN/NAME_32 FLAGS [target flags] NAME.c [extra sources] -lrt -ldl -lm`,
/// as the Makefile's `$(BINARIES_32)` rule.
fn build_test(
    src: &Path,
    bin: &Path,
    name: &str,
    flags: &[String],
    plan: &makefile::Plan,
) -> Result<()> {
    let out = bin.join(format!("{name}_32"));
    let mut cmd = Command::new("gcc");
    cmd.arg("-m32")
        .arg("-o")
        .arg(&out)
        .args(flags)
        .args(plan.extra_cflags.get(name).into_iter().flatten())
        .arg(format!("{name}.c"))
        .args(plan.extra_files.get(name).into_iter().flatten())
        .args(["-lrt", "-ldl", "-lm"])
        .current_dir(src);
    let result = cmd.output().context("cannot run gcc")?;
    if !result.status.success() {
        bail!(
            "building {name}_32 failed:\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
    }
    Ok(())
}

/// Debian's i386 kernel, provisioned as `bench --peer linux` does, and `oracle_init`.
fn linux_guest(root: &Path) -> Result<LinuxGuest> {
    let kernel = provision::debian_linux_kernel(root)
        .context("Debian's linux-image-686:i386 cannot be had")?;
    let bins = build::build_target_bins(root, qemu::programs::USER_PACKAGE)?;
    let init = bins
        .iter()
        .find(|a| a.name == "oracle_init")
        .context("the user package built no oracle_init")?;
    eprintln!("conformance: oracle {}", kernel.display());
    Ok(LinuxGuest {
        kernel,
        init: std::fs::read(&init.path)?,
    })
}

/// What every boot of the run shares: the workspace, QEMU, the accelerator, the options.
struct Boots<'a> {
    root: &'a Path,
    qemu: &'a Path,
    accel: Accel,
    cli: &'a Cli,
}

impl Boots<'_> {
    /// A machine like every other of the run: the same QEMU, CPUs and accelerator.
    fn machine(&self, kernel: &Path, cmdline: String) -> QemuConfig {
        let mut config = QemuConfig::new(kernel, cmdline, self.accel);
        config.qemu = self.qemu.to_owned();
        config.smp = self.cli.smp;
        config
    }

    /// Boots `config` for at most `--timeout` seconds: the serial output, and how QEMU
    /// ended.
    fn boot(&self, config: &QemuConfig) -> Result<(String, String)> {
        let opts = RunOptions {
            timeout: Some(Duration::from_secs(self.cli.timeout)),
            echo: false,
            stdin: false,
        };
        let result = qemu::run::run(config.command(), &opts, &mut |_| None)?;
        Ok((result.serial, format!("{:?}", result.termination)))
    }

    /// Boots Linux in QEMU, as Tempest is booted, with `oracle_init` as its init running
    /// `program`.
    fn on_linux(&self, guest: &LinuxGuest, name: &str, program: &Path) -> Result<verdict::Outcome> {
        let file = format!("{name}_32");
        let archive = build::target_dir(self.root).join(format!("kselftest/{name}.linux.cpio"));
        let test = std::fs::read(program)?;
        std::fs::write(
            &archive,
            qemu::initrd::linux_initramfs(&[("init", &guest.init), (&file, &test)])?,
        )?;
        // Everything after `--` is init's arguments.
        let mut config = self.machine(&guest.kernel, format!("console=ttyS0 quiet -- /{file}"));
        config.memory_mib = 512;
        config.initrd = vec![
            archive
                .to_str()
                .context("the target directory's path is not UTF-8")?
                .to_owned(),
        ];
        let (serial, termination) = self.boot(&config)?;
        Ok(conformance::linux_outcome(&serial, &termination))
    }

    /// Boots Tempest with `program` as the init of an initramfs holding it alone.
    fn on_tempest(&self, kernel: &Path, name: &str, program: &Path) -> Result<verdict::Outcome> {
        let target = build::target_dir(self.root);
        let dir = target.join(format!("kselftest/root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let file = format!("{name}_32");
        std::fs::copy(program, dir.join(&file))?;
        let archive = target.join(format!("kselftest/{name}.cpio"));
        qemu::initrd::write(&dir, &archive)?;
        let _ = std::fs::remove_dir_all(&dir);
        let mut config = self.machine(kernel, self.cli.kernel_cmdline.clone());
        config.initrd = vec![qemu::initrd::module(&archive, &format!("/{file}"))?];
        let (serial, termination) = self.boot(&config)?;
        Ok(conformance::tempest_outcome(&serial, &termination))
    }
}

/// The commit the run was made on (with `-dirty` for uncommitted changes), if known.
fn commit(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .current_dir(root)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
