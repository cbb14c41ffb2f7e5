//! The QEMU machine description and the `qemu-system-i386` command line built from it.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;

/// The QEMU binary the runner uses.
pub const QEMU_BINARY: &str = "qemu-system-i386";

/// I/O port of the `isa-debug-exit` device the kernel writes its verdict to.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// TCP port of the gdb stub started by `-s`.
pub const GDB_PORT: u16 = 1234;

/// How QEMU executes guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm, with a plain 32-bit CPU model.
    Kvm,
    /// QEMU's software emulator.
    Tcg,
}

impl Accel {
    /// The QEMU arguments selecting this accelerator.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Accel::Kvm => &["-accel", "kvm"],
            Accel::Tcg => &["-accel", "tcg"],
        }
    }
}

/// The CPU model: `qemu32` (KVM needs a plain 32-bit model: `host` and `max` abort on
/// MSR 0x10a), with the x2APIC feature when asked (KVM's `qemu32` offers it anyway; TCG
/// emulates it from QEMU 9.0 on), or without a local APIC at all. `None`: QEMU's default,
/// `qemu32` without x2APIC.
fn cpu_model(accel: Accel, x2apic: bool, no_apic: bool) -> Option<&'static str> {
    match (accel, x2apic, no_apic) {
        (_, _, true) => Some("qemu32,-apic"),
        (_, true, false) => Some("qemu32,+x2apic"),
        (Accel::Kvm, false, false) => Some("qemu32"),
        (Accel::Tcg, false, false) => None,
    }
}

/// The emulated PC chipset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Machine {
    /// i440FX + PIIX3 (QEMU's default `pc`).
    Pc,
    /// Q35 + ICH9.
    Q35,
}

impl Machine {
    /// The value of QEMU's `-M` option.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Pc => "pc",
            Machine::Q35 => "q35",
        }
    }
}

/// Everything needed to start one QEMU instance booting the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuConfig {
    /// The QEMU executable (default: [`QEMU_BINARY`], looked up on PATH).
    pub qemu: PathBuf,
    /// The multiboot kernel ELF passed to `-kernel`.
    pub kernel: PathBuf,
    /// The kernel command line passed to `-append`.
    pub cmdline: String,
    /// Chipset.
    pub machine: Machine,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    /// Number of CPUs.
    pub smp: u32,
    /// Accelerator (already resolved: no "auto" here).
    pub accel: Accel,
    /// Start halted with the gdb stub on tcp::1234 (`-s -S`).
    pub gdb: bool,
    /// The serial line's input is QEMU's standard input with ^C passed to the guest
    /// (`-chardev stdio,signal=off`: `--shell`).
    pub console_input: bool,
    /// Offer the x2APIC to the guest (`-cpu qemu32,+x2apic`), under TCG too.
    pub x2apic: bool,
    /// A CPU without local APIC (`-cpu qemu32,-apic`): the kernel runs on one CPU with the
    /// PIT and the 8259 PIC. Wins over `x2apic`.
    pub no_apic: bool,
    /// Deterministic TCG (`-icount shift=0,align=off,sleep=off`): the guest's clock, its
    /// TSC included, advances by one nanosecond per instruction executed, so a cycle count
    /// read with `rdtsc` is a count of guest instructions, the same from run to run (one
    /// vCPU runs at a time). Ignored under KVM.
    pub icount: bool,
    /// Multiboot modules, passed as one comma-separated `-initrd` (omitted when empty).
    /// Each is a path, optionally followed by space-separated words: QEMU loads the file
    /// named by the text before the first space and gives the module the whole text as its
    /// string (see [`crate::programs::Program::module`]).
    pub initrd: Vec<String>,
}

impl QemuConfig {
    /// A configuration with the runner's defaults: `pc`, 128 MiB, 1 CPU, no gdb, no x2APIC
    /// under TCG, no modules.
    pub fn new(kernel: impl Into<PathBuf>, cmdline: impl Into<String>, accel: Accel) -> Self {
        QemuConfig {
            qemu: PathBuf::from(QEMU_BINARY),
            kernel: kernel.into(),
            cmdline: cmdline.into(),
            machine: Machine::Pc,
            memory_mib: 128,
            smp: 1,
            accel,
            gdb: false,
            console_input: false,
            x2apic: false,
            no_apic: false,
            icount: false,
            initrd: Vec::new(),
        }
    }

    /// The arguments after the program name.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |a: &dyn AsRef<OsStr>| args.push(a.as_ref().to_owned());
        push(&"-kernel");
        push(&self.kernel);
        push(&"-append");
        push(&self.cmdline);
        if !self.initrd.is_empty() {
            push(&"-initrd");
            push(&join_initrd(&self.initrd));
        }
        push(&"-M");
        push(&self.machine.name());
        push(&"-m");
        push(&self.memory_mib.to_string());
        push(&"-smp");
        push(&self.smp.to_string());
        for a in self.accel.args() {
            push(a);
        }
        if self.icount && self.accel == Accel::Tcg {
            push(&"-icount");
            push(&"shift=0,align=off,sleep=off");
        }
        if let Some(model) = cpu_model(self.accel, self.x2apic, self.no_apic) {
            push(&"-cpu");
            push(&model);
        }
        push(&"-display");
        push(&"none");
        if self.console_input {
            push(&"-chardev");
            push(&"stdio,id=console,signal=off");
            push(&"-serial");
            push(&"chardev:console");
        } else {
            push(&"-serial");
            push(&"stdio");
        }
        for a in ["-monitor", "none", "-no-reboot", "-device"] {
            push(&a);
        }
        push(&format!(
            "isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=4"
        ));
        if self.gdb {
            push(&"-s");
            push(&"-S");
        }
        args
    }

    /// A plain [`Command`] for this configuration (program and arguments only; [`crate::run::run`]
    /// sets up stdio and the parent-death signal).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.qemu);
        cmd.args(self.args());
        cmd
    }

    /// The command line, shell-quoted so it can be copied into a terminal.
    pub fn shell_line(&self) -> String {
        std::iter::once(self.qemu.as_os_str().to_owned())
            .chain(self.args())
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command to attach gdb to a `gdb: true` run.
    pub fn gdb_attach_line(&self) -> String {
        let kernel = std::path::absolute(&self.kernel).unwrap_or_else(|_| self.kernel.clone());
        format!(
            "gdb {} -ex 'target remote :{GDB_PORT}'",
            shell_quote(&kernel.to_string_lossy())
        )
    }
}

/// Joins module strings for `-initrd`; QEMU splits on `,`, so commas inside one are doubled.
pub fn join_initrd(modules: &[String]) -> OsString {
    let parts: Vec<String> = modules.iter().map(|m| m.replace(',', ",,")).collect();
    OsString::from(parts.join(","))
}

/// Quotes `s` for a POSIX shell (unchanged when it only has harmless characters).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-+=:,./@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cfg: &QemuConfig) -> Vec<String> {
        cfg.args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn tcg_defaults() {
        let cfg = QemuConfig::new("/k/kernel", "", Accel::Tcg);
        assert_eq!(
            strings(&cfg).join(" "),
            "-kernel /k/kernel -append  -M pc -m 128 -smp 1 -accel tcg -display none \
             -serial stdio -monitor none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4"
        );
    }

    #[test]
    fn kvm_uses_qemu32() {
        let mut cfg = QemuConfig::new("k", "test", Accel::Kvm);
        cfg.machine = Machine::Q35;
        cfg.smp = 4;
        cfg.memory_mib = 256;
        let args = strings(&cfg);
        let joined = args.join(" ");
        assert!(joined.contains("-accel kvm -cpu qemu32"), "{joined}");
        assert!(joined.contains("-M q35 -m 256 -smp 4"), "{joined}");
        assert!(!joined.contains("tcg"));
        assert!(!args.contains(&"-initrd".to_owned()));
        assert!(!args.contains(&"-S".to_owned()));
    }

    #[test]
    fn x2apic_asks_for_the_cpu_feature_under_either_accelerator() {
        for accel in [Accel::Tcg, Accel::Kvm] {
            let mut cfg = QemuConfig::new("k", "", accel);
            cfg.x2apic = true;
            let joined = strings(&cfg).join(" ");
            assert!(joined.contains("-cpu qemu32,+x2apic"), "{joined}");
            assert_eq!(joined.matches("-cpu").count(), 1, "{joined}");
        }
        let tcg = strings(&QemuConfig::new("k", "", Accel::Tcg)).join(" ");
        assert!(!tcg.contains("-cpu"), "{tcg}");
    }

    #[test]
    fn icount_makes_tcg_count_instructions_and_is_ignored_under_kvm() {
        let mut cfg = QemuConfig::new("k", "", Accel::Tcg);
        cfg.icount = true;
        let joined = strings(&cfg).join(" ");
        assert!(
            joined.contains("-icount shift=0,align=off,sleep=off"),
            "{joined}"
        );
        cfg.accel = Accel::Kvm;
        assert!(!strings(&cfg).join(" ").contains("-icount"));
    }

    #[test]
    fn no_apic_takes_the_apic_away_under_either_accelerator() {
        for accel in [Accel::Tcg, Accel::Kvm] {
            let mut cfg = QemuConfig::new("k", "", accel);
            cfg.no_apic = true;
            cfg.x2apic = true;
            let joined = strings(&cfg).join(" ");
            assert!(joined.contains("-cpu qemu32,-apic"), "{joined}");
            assert_eq!(joined.matches("-cpu").count(), 1, "{joined}");
        }
    }

    #[test]
    fn initrd_joined_with_commas() {
        let mut cfg = QemuConfig::new("k", "", Accel::Tcg);
        cfg.initrd = vec![
            "a.elf".into(),
            "/x/b.elf A expect=139".into(),
            "odd,name".into(),
        ];
        let args = strings(&cfg);
        let i = args.iter().position(|a| a == "-initrd").unwrap();
        assert_eq!(args[i + 1], "a.elf,/x/b.elf A expect=139,odd,,name");
    }

    #[test]
    fn gdb_flags_and_hint() {
        let mut cfg = QemuConfig::new("/abs/kernel", "", Accel::Kvm);
        cfg.gdb = true;
        let args = strings(&cfg);
        assert_eq!(&args[args.len() - 2..], ["-s", "-S"]);
        assert_eq!(
            cfg.gdb_attach_line(),
            "gdb /abs/kernel -ex 'target remote :1234'"
        );
    }

    #[test]
    fn shell_line_quotes() {
        let cfg = QemuConfig::new("/k", "test=mm::alloc x='y'", Accel::Tcg);
        let line = cfg.shell_line();
        assert!(line.starts_with("qemu-system-i386 -kernel /k -append "));
        assert!(line.contains(r"'test=mm::alloc x='\''y'\'''"), "{line}");
        let empty = QemuConfig::new("/k", "", Accel::Tcg).shell_line();
        assert!(empty.contains("-append '' -M"), "{empty}");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
