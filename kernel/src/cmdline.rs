//! The kernel command line: `key=value` words and flags, parsed without allocating.
//!
//! | word            | meaning                                                     |
//! |-----------------|-------------------------------------------------------------|
//! | `log=LEVEL`     | `error`, `warn`, `info` (default), `debug`, `trace`         |
//! | `test[=FILTER]` | run the in-kernel tests whose name contains FILTER          |
//! | `lowmem=MIB`    | shrink the direct map to MIB MiB (16..=512, multiple of 4)  |
//! | `crash=KIND`    | debug: `panic`, `page-fault`, `triple-fault`, `hang`, `failing-test`, `panic-on-ap`, `silent-cpu`, `hang-ap` |
//! | `unchecked-user-copies` | negative control: `write` reads user buffers directly, unchecked, as the seed's kernel did |
//! | `no-remote-flush` | negative control: TLB shootdown targets acknowledge without flushing |
//! | `poison-freed` | debug: every freed frame is filled with 0xAA (a stale translation reads it) |
//! | `free-before-flush` | negative control: unmapped frames are freed before the shootdown round |
//! | `console-input` | the console is a terminal: input from COM1 through a line discipline (`cargo qemu --shell`) |
//! | `no-fork-flush` | negative control: `fork` does not drop the parent's writable translations on other CPUs |
//! | `tempest-calls` | Tempest's own test and benchmark calls (0x10000 and up) answer; else `-ENOSYS` |
//! | `no-vdso-follow` | negative control: `mremap` of the vDSO leaves the caller's return address in the old copy |
//! | `no-io-bitmap-switch` | negative control: a switch leaves the CPU's I/O bitmap (`ioperm`) as the last task left it |
//! | `no-return-fixup` | negative control: a fault of the return to user mode (a segment pop, the `iret`) is the kernel's own |
//! | `no-espfix` | negative control: the return to a 16-bit stack segment leaves the kernel stack pointer's high half in ESP |
//! | `no-sysenter-tf` | negative control: the single-step trap of a `sysenter` with TF set is the kernel's own exception |
//! | `no-ldt-ipi` | negative control: `modify_ldt` reloads the LDT on the calling CPU only, not on the others running the process |
//! | `irqsoff`       | time every interrupts-off stretch: the summary's longest per CPU and where it began |
//! | `temp=STRATEGY` | temp mappings from `percpu` windows (default) or a `global` pool |
//! | `bench=WORKLOAD` | run an in-kernel measurement (`flush-ceiling`) instead of programs |

use crate::mm::temp::window::MAX_CPUS;
use core::fmt;

/// Smallest direct map the kernel accepts (the boot mapping it starts from).
pub const MIN_LOWMEM_MIB: u32 = 16;
/// Largest direct map: 0xC000_0000..0xE000_0000.
pub const MAX_LOWMEM_MIB: u32 = 512;

/// A deliberate failure, for the runner's own tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// `panic!` from a named function.
    Panic,
    /// A kernel read of an unmapped address.
    PageFault,
    /// An exception with no IDT: the CPU resets.
    TripleFault,
    /// Spin forever with interrupts off.
    Hang,
    /// Run the test harness over a built-in failing test (the harness's negative control).
    FailingTest,
    /// `panic!` on the last application processor (through a call-function IPI).
    PanicOnAp,
    /// Make the last application processor deaf (spinning, interrupts off), then shoot a
    /// page down: the bounded wait must panic naming it.
    SilentCpu,
    /// Make the last application processor deaf and wait: the watchdog must name it.
    HangAp,
}

/// Log verbosity (mirrors `log::LevelFilter` without depending on it here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Everything the command line can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options<'a> {
    pub log: LogLevel,
    /// `Some("")` runs every test, `Some(f)` the tests whose name contains `f`.
    pub test: Option<&'a str>,
    pub lowmem_mib: Option<u32>,
    pub crash: Option<Crash>,
    /// Negative control for the user-copy checks: `write` dereferences user pointers.
    pub unchecked_user_copies: bool,
    /// Negative control for TLB shootdown: targets acknowledge without flushing.
    pub no_remote_flush: bool,
    /// Temp mappings from one global pool instead of per-CPU windows.
    pub temp_global_pool: bool,
    /// Negative control for per-task FPU state: the switch saves none.
    pub no_fpu_save: bool,
    /// Negative control for per-task TLS: the switch does not reload the GDT's TLS entries.
    pub no_tls_reload: bool,
    /// Negative control for temp mappings under migration: holders are not pinned.
    pub temp_no_pin: bool,
    /// Negative control for lazy TLB: shootdowns target only CPUs running the process now.
    pub shootdown_running_only: bool,
    /// Negative control for kernel preemption: the timer preempts user mode only.
    pub no_kernel_preempt: bool,
    /// Negative control for `sigreturn`: a frame's code and stack segments are not checked.
    pub sigreturn_any_segment: bool,
    /// Negative control for signal frames: the FPU state is neither reset nor restored.
    pub signal_no_fpu: bool,
    /// Fault injection: the next system call leaks a temp mapping (the return-to-user
    /// check must catch it).
    pub leak_temp_at_syscall: bool,
    /// Debug: freed frames are filled with a poison pattern (stale translations show it).
    pub poison_freed: bool,
    /// Negative control: unmapped frames are freed before the shootdown round.
    pub free_before_flush: bool,
    /// `no-fork-flush`: the negative control of the fork test.
    pub no_fork_flush: bool,
    /// `console-input`: the console takes input.
    pub console_input: bool,
    /// Tempest's own test and benchmark calls answer (otherwise `ENOSYS`).
    pub tempest_calls: bool,
    /// `irqsoff`: interrupts-off stretches are timed.
    pub irqsoff: bool,
    /// Negative control for `ioperm`: the switch does not load the incoming task's bitmap.
    pub no_io_bitmap_switch: bool,
    /// Negative control for the vDSO: `mremap` does not move the caller's return address.
    pub no_vdso_follow: bool,
    /// Negative control for the return path: its faults are not fixed up.
    pub no_return_fixup: bool,
    /// Negative control for the LDT: a change reaches only the calling CPU.
    pub no_ldt_ipi: bool,
    /// Negative control for espfix.
    pub no_espfix: bool,
    /// Negative control for the SYSENTER stub's single-step trap.
    pub no_sysenter_tf: bool,
    /// New processes start on this CPU (the balancer spreads them).
    pub spawn_cpu: Option<usize>,
    /// An in-kernel measurement to run instead of the programs.
    pub bench: Option<&'a str>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            log: LogLevel::Info,
            test: None,
            lowmem_mib: None,
            crash: None,
            unchecked_user_copies: false,
            no_remote_flush: false,
            temp_global_pool: false,
            no_fpu_save: false,
            no_tls_reload: false,
            temp_no_pin: false,
            shootdown_running_only: false,
            no_kernel_preempt: false,
            sigreturn_any_segment: false,
            signal_no_fpu: false,
            leak_temp_at_syscall: false,
            poison_freed: false,
            free_before_flush: false,
            no_fork_flush: false,
            console_input: false,
            tempest_calls: false,
            irqsoff: false,
            no_io_bitmap_switch: false,
            no_vdso_follow: false,
            no_return_fixup: false,
            no_ldt_ipi: false,
            no_espfix: false,
            no_sysenter_tf: false,
            spawn_cpu: None,
            bench: None,
        }
    }
}

/// A word the parser could not use; the rest of the line still applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem<'a> {
    UnknownWord(&'a str),
    BadValue {
        key: &'a str,
        value: &'a str,
        expected: &'static str,
    },
}

impl fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownWord(w) => write!(f, "unknown command-line word `{w}` (ignored)"),
            Problem::BadValue {
                key,
                value,
                expected,
            } => write!(
                f,
                "bad value `{value}` for `{key}`: expected {expected} (ignored)"
            ),
        }
    }
}

impl<'a> Options<'a> {
    /// Parses `line`, reporting every unusable word to `problem` and ignoring it.
    pub fn parse(line: &'a str, mut problem: impl FnMut(Problem<'a>)) -> Self {
        let mut opts = Options::default();
        for word in line.split_ascii_whitespace() {
            let (key, value) = match word.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (word, None),
            };
            let bad = |expected| Problem::BadValue {
                key,
                value: value.unwrap_or(""),
                expected,
            };
            match (key, value) {
                ("test", v) => opts.test = Some(v.unwrap_or("")),
                ("unchecked-user-copies", None) => opts.unchecked_user_copies = true,
                ("no-remote-flush", None) => opts.no_remote_flush = true,
                ("no-fpu-save", None) => opts.no_fpu_save = true,
                ("no-tls-reload", None) => opts.no_tls_reload = true,
                ("temp-no-pin", None) => opts.temp_no_pin = true,
                ("shootdown-running-only", None) => opts.shootdown_running_only = true,
                ("no-kernel-preempt", None) => opts.no_kernel_preempt = true,
                ("sigreturn-any-segment", None) => opts.sigreturn_any_segment = true,
                ("signal-no-fpu", None) => opts.signal_no_fpu = true,
                ("leak-temp-at-syscall", None) => opts.leak_temp_at_syscall = true,
                ("poison-freed", None) => opts.poison_freed = true,
                ("free-before-flush", None) => opts.free_before_flush = true,
                ("no-fork-flush", None) => opts.no_fork_flush = true,
                ("console-input", None) => opts.console_input = true,
                ("tempest-calls", None) => opts.tempest_calls = true,
                ("irqsoff", None) => opts.irqsoff = true,
                ("no-io-bitmap-switch", None) => opts.no_io_bitmap_switch = true,
                ("no-vdso-follow", None) => opts.no_vdso_follow = true,
                ("no-return-fixup", None) => opts.no_return_fixup = true,
                ("no-ldt-ipi", None) => opts.no_ldt_ipi = true,
                ("no-espfix", None) => opts.no_espfix = true,
                ("no-sysenter-tf", None) => opts.no_sysenter_tf = true,
                ("spawn-cpu", Some(v)) => match v.parse::<usize>() {
                    Ok(cpu) if cpu < MAX_CPUS => opts.spawn_cpu = Some(cpu),
                    _ => problem(bad("a CPU number below 16")),
                },
                ("temp", Some("percpu")) => opts.temp_global_pool = false,
                ("temp", Some("global")) => opts.temp_global_pool = true,
                ("temp", _) => problem(bad("percpu or global")),
                // Consumed by `environment`: each program's environment.
                ("env", Some(v)) if v.split_once('=').is_some_and(|(k, _)| !k.is_empty()) => {}
                ("env", _) => problem(bad("KEY=VALUE")),
                ("bench", Some(w)) if !w.is_empty() => opts.bench = Some(w),
                ("bench", _) => problem(bad("a workload name")),
                ("log", Some(v)) => match parse_level(v) {
                    Some(level) => opts.log = level,
                    None => problem(bad("error, warn, info, debug or trace")),
                },
                ("lowmem", Some(v)) => match v.parse::<u32>() {
                    Ok(mib)
                        if (MIN_LOWMEM_MIB..=MAX_LOWMEM_MIB).contains(&mib)
                            && mib.is_multiple_of(4) =>
                    {
                        opts.lowmem_mib = Some(mib)
                    }
                    _ => problem(bad("a multiple of 4 MiB from 16 to 512")),
                },
                ("crash", Some(v)) => match parse_crash(v) {
                    Some(c) => opts.crash = Some(c),
                    None => problem(bad(
                        "panic, page-fault, triple-fault, hang, failing-test or panic-on-ap",
                    )),
                },
                ("log" | "lowmem" | "crash" | "spawn-cpu", None) => {
                    problem(bad("a value after `=`"))
                }
                _ => problem(Problem::UnknownWord(word)),
            }
        }
        opts
    }
}

/// The environment every program starts with: the `env=KEY=VALUE` words of the kernel's
/// command line (`cargo qemu --env KEY=VALUE`), in order, as `KEY=VALUE`.
pub fn environment(line: &str) -> impl Iterator<Item = &str> {
    line.split_ascii_whitespace()
        .filter_map(|w| w.strip_prefix("env="))
        .filter(|v| v.split_once('=').is_some_and(|(k, _)| !k.is_empty()))
}

/// The kernel's arguments from a multiboot command line, whose first word is the image's
/// path (QEMU and GRUB both put it there).
pub fn kernel_arguments(multiboot_cmdline: &str) -> &str {
    let line = multiboot_cmdline.trim_start();
    match line.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((_, rest)) => rest.trim_start(),
        None => "",
    }
}

fn parse_level(v: &str) -> Option<LogLevel> {
    Some(match v {
        "error" => LogLevel::Error,
        "warn" => LogLevel::Warn,
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        _ => return None,
    })
}

fn parse_crash(v: &str) -> Option<Crash> {
    Some(match v {
        "panic" => Crash::Panic,
        "page-fault" => Crash::PageFault,
        "triple-fault" => Crash::TripleFault,
        "hang" => Crash::Hang,
        "failing-test" => Crash::FailingTest,
        "panic-on-ap" => Crash::PanicOnAp,
        "silent-cpu" => Crash::SilentCpu,
        "hang-ap" => Crash::HangAp,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn parse(line: &str) -> (Options<'_>, Vec<Problem<'_>>) {
        let mut problems = Vec::new();
        let o = Options::parse(line, |p| problems.push(p));
        (o, problems)
    }

    #[test]
    fn empty_line_gives_defaults() {
        assert_eq!(parse("   "), (Options::default(), Vec::new()));
    }

    #[test]
    fn every_option() {
        let (o, p) =
            parse("log=debug test=mm:: lowmem=64 crash=hang unchecked-user-copies no-remote-flush");
        assert!(p.is_empty());
        assert!(o.unchecked_user_copies);
        assert!(o.no_remote_flush);
        let (k, p) =
            parse("no-fpu-save temp-no-pin shootdown-running-only no-kernel-preempt spawn-cpu=3");
        assert!(p.is_empty());
        assert!(k.no_fpu_save && k.temp_no_pin && k.shootdown_running_only);
        assert!(k.no_kernel_preempt);
        assert!(parse("no-tls-reload").0.no_tls_reload);
        assert!(parse("sigreturn-any-segment").0.sigreturn_any_segment);
        assert!(parse("signal-no-fpu").0.signal_no_fpu);
        assert!(parse("leak-temp-at-syscall").0.leak_temp_at_syscall);
        let (opts, _) = parse("poison-freed free-before-flush no-fork-flush");
        assert!(opts.poison_freed && opts.free_before_flush && opts.no_fork_flush);
        assert!(parse("tempest-calls").0.tempest_calls);
        assert!(parse("irqsoff").0.irqsoff);
        assert!(parse("no-io-bitmap-switch").0.no_io_bitmap_switch);
        assert!(parse("no-vdso-follow").0.no_vdso_follow);
        assert!(!parse("").0.irqsoff);
        assert!(parse("env=LANG=C env=EMPTY=").1.is_empty());
        assert_eq!(parse("env=noequals env==x").1.len(), 2);
        let env: Vec<&str> = environment("log=debug env=A=1 env=B=x=y env==bad").collect();
        assert_eq!(env, ["A=1", "B=x=y"]);
        assert_eq!(k.spawn_cpu, Some(3));
        assert_eq!(parse("spawn-cpu=16").1.len(), 1);
        assert_eq!(parse("spawn-cpu").1.len(), 1);
        assert!(parse("temp=global").0.temp_global_pool);
        assert!(!parse("temp=global temp=percpu").0.temp_global_pool);
        assert_eq!(parse("temp=both").1.len(), 1);
        assert_eq!(parse("bench=flush-ceiling").0.bench, Some("flush-ceiling"));
        assert_eq!(parse("bench=").1.len(), 1);
        assert_eq!(o.log, LogLevel::Debug);
        assert_eq!(o.test, Some("mm::"));
        assert_eq!(o.lowmem_mib, Some(64));
        assert_eq!(o.crash, Some(Crash::Hang));
    }

    #[test]
    fn bare_test_runs_everything() {
        assert_eq!(parse("test").0.test, Some(""));
        assert_eq!(parse("log=warn").0.test, None);
    }

    #[test]
    fn bad_words_are_reported_and_ignored() {
        let (o, p) = parse("lowmem=7 log=loud frobnicate crash= lowmem=1024 lowmem");
        assert_eq!(o, Options::default());
        assert_eq!(p.len(), 6);
        assert_eq!(p[2], Problem::UnknownWord("frobnicate"));
        assert!(matches!(
            p[0],
            Problem::BadValue {
                key: "lowmem",
                value: "7",
                ..
            }
        ));
        assert!(p[1].to_string().contains("expected error, warn"));
        assert!(matches!(
            p[5],
            Problem::BadValue {
                key: "lowmem",
                value: "",
                ..
            }
        ));
    }

    #[test]
    fn the_image_path_is_not_an_argument() {
        assert_eq!(
            kernel_arguments("/boot/kernel.elf log=debug test"),
            "log=debug test"
        );
        assert_eq!(kernel_arguments("  kernel   test "), "test ");
        assert_eq!(kernel_arguments("kernel"), "");
        assert_eq!(kernel_arguments(""), "");
    }

    #[test]
    fn later_words_win() {
        assert_eq!(parse("log=error log=trace").0.log, LogLevel::Trace);
    }
}
