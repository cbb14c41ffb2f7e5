//! Command-line options of `cargo qemu` and the kernel command line derived from them.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::command::Machine;
use crate::programs::{self, ProgramSpec};

/// Boot Tempest in QEMU with user programs (`cargo qemu [PROGRAM...]`), or run its
/// in-kernel tests (`cargo qemu test`).
///
/// Without PROGRAMs, the default set of user/programs.txt is built and booted.
///
/// Exit status: 0 success, 1 test failures or programs that did not exit as expected,
/// 2 kernel panic or exception, 3 guest reset (triple fault), 4 timeout, 5 any other error
/// (build, QEMU, usage).
#[derive(Debug, Parser)]
#[command(name = "cargo qemu", bin_name = "cargo qemu", version)]
pub struct Cli {
    /// Number of CPUs.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub smp: u32,

    /// Guest RAM in MiB (above 3 GiB, QEMU puts the excess above 4 GiB).
    #[arg(long, global = true, default_value_t = 128, value_parser = clap::value_parser!(u32).range(4..=65536))]
    pub memory: u32,

    /// Accelerator: `auto` uses KVM when /dev/kvm is usable (and not kvm-pvm), else TCG.
    #[arg(long, global = true, value_enum, default_value_t = AccelChoice::Auto)]
    pub accel: AccelChoice,

    /// Emulated chipset.
    #[arg(long, global = true, value_enum, default_value_t = Machine::Pc)]
    pub machine: Machine,

    /// Seconds to wait for the kernel's verdict before killing QEMU (0 = no limit).
    #[arg(long, global = true, default_value_t = 120)]
    pub timeout: u64,

    /// Kernel command line (after `test`/`test=FILTER` in test mode).
    #[arg(long, global = true, default_value = "", allow_hyphen_values = true)]
    pub cmdline: String,

    /// Put KEY=VALUE in the environment of every program (repeatable; no whitespace: it
    /// travels on the kernel command line as `env=KEY=VALUE`).
    #[arg(long = "env", value_name = "KEY=VALUE", global = true)]
    pub env: Vec<String>,

    /// Start halted with a gdb stub on tcp::1234 (no timeout).
    #[arg(long, global = true)]
    pub gdb: bool,

    /// Offer the guest an x2APIC (`-cpu qemu32,+x2apic`), so Tempest runs its local APICs in
    /// x2APIC mode; under TCG too (QEMU 9.0 or later emulates it).
    #[arg(long, global = true)]
    pub x2apic: bool,

    /// A CPU without local APIC (`-cpu qemu32,-apic`): Tempest runs on the boot CPU alone,
    /// its timer the PIT and its interrupts through the 8259 PIC.
    #[arg(long, global = true)]
    pub no_apic: bool,

    /// Deterministic TCG (`-icount shift=0,align=off,sleep=off`): the guest's TSC counts
    /// the instructions it executed, so `rdtsc` differences are instruction counts, the
    /// same from run to run. TCG only.
    #[arg(long, global = true)]
    pub icount: bool,

    /// Print the exact QEMU command line (and QEMU's stderr) even when the run succeeds.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// Boot the kernel alone, without user programs.
    #[arg(long, conflicts_with = "programs")]
    pub no_programs: bool,

    /// Boot the programs without Tempest's own benchmark and test calls (`temp_stats`,
    /// `bench_barrier`, ...): they then answer -ENOSYS, as on any boot without
    /// `tempest-calls` on the kernel command line. The runner turns them on by default
    /// when it boots programs: its boots are test and benchmark boots.
    #[arg(long, global = true)]
    pub no_tempest_calls: bool,

    /// Boot Debian's static busybox as the root (fetched like QEMU) with `/bin/sh` on the
    /// console, connected to this terminal or pipe: `printf 'echo hi\nexit 3\n' | cargo
    /// qemu --shell` prints `hi` and exits 3. The run's exit status is the shell's; no
    /// timeout.
    #[arg(long, conflicts_with_all = ["programs", "initrd", "no_programs"])]
    pub shell: bool,

    /// Pack DIR as the initramfs (a cpio archive the kernel unpacks as its root file
    /// system) and start its init (`--init`). Without PROGRAMs, init is the only program:
    /// its exit status is the run's verdict, as for any program.
    #[arg(long, value_name = "DIR", global = true)]
    pub initrd: Option<std::path::PathBuf>,

    /// The initramfs's first program, its arguments and expected status, as one word:
    /// 'PATH [ARG...] [expect=N]' (default `/init`).
    #[arg(long, value_name = "INIT", requires = "initrd", global = true)]
    pub init: Option<String>,

    /// Programs to boot instead of the default set: a path to an i386 ELF, or the name of
    /// a bin of the user package; arguments and the expected exit status (default 0) may
    /// follow in the same (quoted) word, as in user/programs.txt: 'isolation A expect=0'.
    #[arg(value_name = "PROGRAM")]
    pub programs: Vec<String>,

    #[command(subcommand)]
    pub command: Option<Mode>,
}

/// What the kernel is asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum Mode {
    /// Run the in-kernel tests (those whose name contains FILTER, if given).
    Test {
        /// Only run tests whose name contains this string.
        filter: Option<String>,
    },
}

/// The `--accel` choice before probing /dev/kvm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccelChoice {
    /// KVM when /dev/kvm can be opened read-write, else TCG.
    Auto,
    /// KVM, or an error when it is unusable.
    Kvm,
    /// Software emulation.
    Tcg,
}

impl Cli {
    /// The programs to boot: `None` for none (test mode, `--no-programs`), else the specs
    /// given on the command line, or the default set of `root` when none are.
    pub fn program_specs(&self, root: &std::path::Path) -> Result<Option<Vec<ProgramSpec>>> {
        if self.command.is_some() {
            if !self.programs.is_empty() {
                bail!("programs cannot be combined with `test`");
            }
            return Ok(None);
        }
        if self.no_programs {
            return Ok(None);
        }
        if self.programs.is_empty() {
            if self.initrd.is_some() || self.shell {
                return Ok(Some(Vec::new()));
            }
            return programs::default_set(root).map(Some);
        }
        let specs = self
            .programs
            .iter()
            .map(|p| p.parse().with_context(|| format!("program `{p}`")))
            .collect::<Result<_>>()?;
        Ok(Some(specs))
    }

    /// The kernel command line for this invocation: the mode, `--cmdline`, one
    /// `env=KEY=VALUE` word per `--env`, then `tempest-calls` when programs boot (unless
    /// `--no-tempest-calls`).
    pub fn kernel_cmdline(&self) -> Result<String> {
        let mut line = kernel_cmdline(self.command.as_ref(), &self.cmdline)?;
        let mut push = |word: &str| {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        };
        for var in &self.env {
            let key = var.split_once('=').map(|(k, _)| k).unwrap_or("");
            if key.is_empty() || var.chars().any(char::is_whitespace) {
                bail!("--env {var:?}: expected KEY=VALUE without whitespace");
            }
            push(&format!("env={var}"));
        }
        if self.command.is_none() && !self.no_programs && !self.no_tempest_calls && !self.shell {
            push("tempest-calls");
        }
        if self.shell {
            push("console-input");
        }
        Ok(line)
    }

    /// The initramfs's init as a program spec (for its exit record), when there is one.
    pub fn init_spec(&self) -> Result<Option<ProgramSpec>> {
        if self.initrd.is_none() {
            return Ok(None);
        }
        let init = self.init.as_deref().unwrap_or("/init");
        // `expect=N` alone keeps the default path.
        let init = if init.trim_start().starts_with(programs::EXPECT_PREFIX) {
            format!("/init {init}")
        } else {
            init.to_owned()
        };
        init.parse()
            .map(Some)
            .with_context(|| format!("--init `{init}`"))
    }

    /// The run timeout: `None` for `--timeout 0`, `--gdb` or `--shell`.
    pub fn run_timeout(&self) -> Option<Duration> {
        (self.timeout != 0 && !self.gdb && !self.shell).then(|| Duration::from_secs(self.timeout))
    }
}

/// Assembles the kernel command line: `test` or `test=FILTER` (test mode) followed by `extra`.
pub fn kernel_cmdline(mode: Option<&Mode>, extra: &str) -> Result<String> {
    let extra = extra.trim();
    let head = match mode {
        None => None,
        Some(Mode::Test { filter: None }) => Some("test".to_owned()),
        Some(Mode::Test {
            filter: Some(filter),
        }) => {
            if filter.is_empty() {
                Some("test".to_owned())
            } else if filter.chars().any(char::is_whitespace) {
                bail!("test filter {filter:?} must not contain whitespace");
            } else {
                Some(format!("test={filter}"))
            }
        }
    };
    Ok(match head {
        None => extra.to_owned(),
        Some(head) if extra.is_empty() => head,
        Some(head) => format!("{head} {extra}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("qemu").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults() {
        let cli = parse(&[]);
        assert_eq!(cli.smp, 1);
        assert_eq!(cli.memory, 128);
        assert_eq!(cli.accel, AccelChoice::Auto);
        assert_eq!(cli.machine, Machine::Pc);
        assert_eq!(cli.run_timeout(), Some(Duration::from_secs(120)));
        assert!(!cli.gdb && !cli.verbose && cli.command.is_none());
        assert_eq!(cli.kernel_cmdline().unwrap(), "tempest-calls");
        assert_eq!(parse(&["--no-tempest-calls"]).kernel_cmdline().unwrap(), "");
        assert_eq!(parse(&["--no-programs"]).kernel_cmdline().unwrap(), "");
    }

    #[test]
    fn env_goes_on_the_kernel_command_line() {
        let cli = parse(&[
            "--env",
            "LANG=C",
            "--cmdline",
            "log=debug",
            "--env",
            "X=a=b",
        ]);
        assert_eq!(
            cli.kernel_cmdline().unwrap(),
            "log=debug env=LANG=C env=X=a=b tempest-calls"
        );
        let cli = parse(&["--env", "A=", "--no-tempest-calls"]);
        assert_eq!(cli.kernel_cmdline().unwrap(), "env=A=");
        assert!(parse(&["--env", "=x"]).kernel_cmdline().is_err());
        assert!(parse(&["--env", "NOVALUE"]).kernel_cmdline().is_err());
        assert!(parse(&["--env", "A=b c"]).kernel_cmdline().is_err());
    }

    #[test]
    fn boot_cmdline_is_passed_through() {
        let cli = parse(&["--cmdline", "-x log=debug"]);
        assert_eq!(cli.kernel_cmdline().unwrap(), "-x log=debug tempest-calls");
    }

    #[test]
    fn test_mode_prepends() {
        assert_eq!(parse(&["test"]).kernel_cmdline().unwrap(), "test");
        assert_eq!(
            parse(&["--cmdline", "log=trace", "test"])
                .kernel_cmdline()
                .unwrap(),
            "test log=trace"
        );
        assert_eq!(
            parse(&["test", "mm::", "--cmdline", "a b"])
                .kernel_cmdline()
                .unwrap(),
            "test=mm:: a b"
        );
        assert!(
            kernel_cmdline(
                Some(&Mode::Test {
                    filter: Some("a b".into())
                }),
                ""
            )
            .is_err()
        );
    }

    #[test]
    fn options_after_subcommand_and_ranges() {
        let cli = parse(&["test", "--smp", "4", "--accel", "tcg", "--machine", "q35"]);
        assert_eq!(
            (cli.smp, cli.accel, cli.machine),
            (4, AccelChoice::Tcg, Machine::Q35)
        );
        assert!(Cli::try_parse_from(["qemu", "--smp", "0"]).is_err());
        assert!(Cli::try_parse_from(["qemu", "--smp", "65"]).is_err());
        assert!(Cli::try_parse_from(["qemu", "--smp", "64"]).is_ok());
        assert_eq!(parse(&["--memory", "5120"]).memory, 5120);
        assert!(Cli::try_parse_from(["qemu", "--memory", "0"]).is_err());
    }

    #[test]
    fn programs_and_subcommand() {
        let root = crate::build::workspace_root();
        let cli = parse(&["--smp", "4"]);
        assert_eq!(cli.smp, 4);
        assert!(cli.programs.is_empty() && cli.command.is_none());
        let default = cli.program_specs(&root).unwrap().unwrap();
        assert!(default.iter().any(|s| s.program == "hello"), "{default:?}");

        let cli = parse(&["a.elf", "b.elf", "--smp", "2"]);
        assert_eq!(cli.programs, ["a.elf", "b.elf"]);
        assert_eq!(cli.smp, 2);
        assert!(cli.command.is_none());

        let cli = parse(&[
            "--accel",
            "tcg",
            "isolation A expect=0",
            "/x/read expect=139",
        ]);
        let specs = cli.program_specs(&root).unwrap().unwrap();
        assert_eq!(
            (specs[0].args.clone(), specs[1].expect),
            (vec!["A".into()], 139)
        );
        assert!(parse(&["p expect=x"]).program_specs(&root).is_err());

        let cli = parse(&["test", "mm::"]);
        assert_eq!(
            cli.command,
            Some(Mode::Test {
                filter: Some("mm::".into())
            })
        );
        assert!(cli.programs.is_empty());
        assert_eq!(cli.program_specs(&root).unwrap(), None);
        assert_eq!(
            parse(&["--no-programs"]).program_specs(&root).unwrap(),
            None
        );
        assert!(Cli::try_parse_from(["qemu", "--no-programs", "a.elf"]).is_err());
        // A program literally named `test` needs a path: `./test`.
        assert_eq!(parse(&["./test"]).programs, ["./test"]);
        // After a program, `test` is one more program, not the subcommand.
        let cli = parse(&["a.elf", "test"]);
        assert_eq!((cli.programs.len(), cli.command), (2, None));
    }

    #[test]
    fn initrd_alone_boots_only_its_init() {
        let root = crate::build::workspace_root();
        let cli = parse(&["--initrd", "/tmp/r"]);
        assert_eq!(cli.program_specs(&root).unwrap(), Some(Vec::new()));
        assert_eq!(cli.init_spec().unwrap().unwrap().program, "/init");
        assert_eq!(cli.kernel_cmdline().unwrap(), "tempest-calls");
        let cli = parse(&["--initrd", "/tmp/r", "--init", "/bin/sh -c true expect=3"]);
        let init = cli.init_spec().unwrap().unwrap();
        assert_eq!((init.program.as_str(), init.expect), ("/bin/sh", 3));
        assert_eq!(init.args, ["-c", "true"]);
        let init = parse(&["--initrd", "r", "--init", "expect=7"])
            .init_spec()
            .unwrap();
        assert_eq!(
            init.map(|i| (i.program, i.expect)),
            Some(("/init".into(), 7))
        );
        assert!(
            Cli::try_parse_from(["qemu", "--init", "/x"]).is_err(),
            "needs --initrd"
        );
        assert_eq!(parse(&[]).init_spec().unwrap(), None);
        let cli = parse(&["--initrd", "r", "hello"]);
        assert_eq!(cli.program_specs(&root).unwrap().unwrap().len(), 1);
    }

    #[test]
    fn shell_boots_busybox_with_console_input_and_no_timeout() {
        let cli = parse(&["--shell", "--smp", "4"]);
        assert_eq!(cli.kernel_cmdline().unwrap(), "console-input");
        assert_eq!(cli.run_timeout(), None);
        let root = crate::build::workspace_root();
        assert_eq!(cli.program_specs(&root).unwrap(), Some(Vec::new()));
        assert!(Cli::try_parse_from(["qemu", "--shell", "hello"]).is_err());
        assert!(Cli::try_parse_from(["qemu", "--shell", "--initrd", "d"]).is_err());
    }

    #[test]
    fn timeout_zero_and_gdb_disable_timeout() {
        assert_eq!(parse(&["--timeout", "0"]).run_timeout(), None);
        assert_eq!(parse(&["--gdb"]).run_timeout(), None);
        assert_eq!(
            parse(&["--timeout", "5"]).run_timeout(),
            Some(Duration::from_secs(5))
        );
    }
}
