//! Classification of a finished QEMU run into an [`Outcome`] with the runner's exit code.

use std::fmt;
use std::time::Duration;

use crate::run::Termination;
use crate::serial::{self, ReportKind};

/// Debug-exit value the kernel writes for success (QEMU exits with `(v << 1) | 1` = 33).
pub const EXIT_SUCCESS: u8 = 0x10;
/// Debug-exit value for "some tests failed" (QEMU status 35).
pub const EXIT_TESTS_FAILED: u8 = 0x11;
/// Debug-exit value for a kernel panic or CPU exception (QEMU status 37).
pub const EXIT_CRASH: u8 = 0x12;
/// Debug-exit value for "some user programs did not exit with their expected status"
/// (QEMU status 39); the kernel is otherwise healthy.
pub const EXIT_PROGRAMS_FAILED: u8 = 0x13;

/// QEMU's exit status when the guest writes `value` to the isa-debug-exit port.
pub const fn qemu_status(value: u8) -> i32 {
    ((value as i32) << 1) | 1
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel reported success.
    Success,
    /// The kernel reported test failures; the names come from `test NAME ... FAILED` lines.
    TestsFailed {
        /// Failed test names, in order of appearance.
        names: Vec<String>,
    },
    /// Some user programs did not exit with their expected status (or were not started);
    /// from the exit records (`@@tempest {"event":"exit",...}`) whose status differs from
    /// the expected one, and the `refused` records.
    ProgramsFailed {
        /// `(name, status, expected)` of each such program, in order of exit.
        programs: Vec<(String, i64, i64)>,
        /// `(name, reason)` of each program the kernel refused to start.
        refused: Vec<(String, String)>,
    },
    /// The kernel panicked.
    KernelPanic {
        /// The panic message (a placeholder if the report was missing).
        message: String,
        /// The panic location, when reported.
        location: Option<String>,
    },
    /// A CPU exception the kernel could not handle.
    KernelException {
        /// The exception description (with CR2 for page faults, when reported).
        description: String,
    },
    /// QEMU exited without a verdict: the guest reset (e.g. triple fault), which `-no-reboot`
    /// turns into an exit. Never a success.
    GuestReset,
    /// No verdict before the deadline; QEMU was killed.
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// Anything else: QEMU failed, was killed, or exited with an unknown status.
    Error {
        /// What happened.
        reason: String,
    },
}

impl Outcome {
    /// The runner's process exit code for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::TestsFailed { .. } | Outcome::ProgramsFailed { .. } => 1,
            Outcome::KernelPanic { .. } | Outcome::KernelException { .. } => 2,
            Outcome::GuestReset => 3,
            Outcome::Timeout { .. } => 4,
            Outcome::Error { .. } => 5,
        }
    }

    /// Whether the run succeeded.
    pub fn is_success(&self) -> bool {
        *self == Outcome::Success
    }
}

/// The final line, `tempest: <reason>`.
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tempest: ")?;
        match self {
            Outcome::Success => f.write_str("success"),
            Outcome::TestsFailed { names } if names.is_empty() => {
                f.write_str("tests failed (no `test NAME ... FAILED` line found on serial)")
            }
            Outcome::TestsFailed { names } => {
                write!(f, "{} test(s) failed: {}", names.len(), names.join(", "))
            }
            Outcome::ProgramsFailed { programs, refused }
                if programs.is_empty() && refused.is_empty() =>
            {
                f.write_str(
                    "programs did not exit as expected (no mismatching exit record found on serial)",
                )
            }
            Outcome::ProgramsFailed { programs, refused } => {
                let count = programs.len() + refused.len();
                write!(f, "{count} program(s) did not exit as expected: ")?;
                let mismatches = programs.iter().map(|(name, status, expected)| {
                    format!("{name} (status {status}, expected {expected})")
                });
                let refusals = refused
                    .iter()
                    .map(|(name, reason)| format!("{name} (refused: {reason})"));
                f.write_str(&mismatches.chain(refusals).collect::<Vec<_>>().join(", "))
            }
            Outcome::KernelPanic {
                message,
                location: Some(at),
            } => write!(f, "kernel panic: {message} (at {at})"),
            Outcome::KernelPanic { message, .. } => write!(f, "kernel panic: {message}"),
            Outcome::KernelException { description } => {
                write!(f, "kernel exception: {description}")
            }
            Outcome::GuestReset => f.write_str("guest reset (triple fault?) — never a success"),
            Outcome::Timeout { after } => write!(
                f,
                "timeout: no verdict after {} s; QEMU killed",
                after.as_secs_f64()
            ),
            Outcome::Error { reason } => f.write_str(reason),
        }
    }
}

/// Classifies a run from how QEMU terminated, the serial output and QEMU's stderr.
pub fn classify(termination: &Termination, serial: &str, stderr: &str) -> Outcome {
    let code = match *termination {
        Termination::TimedOut(after) => return Outcome::Timeout { after },
        Termination::Signaled(sig) => {
            return Outcome::Error {
                reason: format!("QEMU killed by signal {sig}"),
            };
        }
        Termination::KvmInternalError => {
            return Outcome::Error {
                reason: "KVM internal error: KVM could not run the guest (a triple fault it \
                         failed to emulate?); QEMU killed — retry with --accel tcg"
                    .to_owned(),
            };
        }
        Termination::Exited(code) => code,
    };
    match code {
        c if c == qemu_status(EXIT_SUCCESS) => Outcome::Success,
        c if c == qemu_status(EXIT_TESTS_FAILED) => Outcome::TestsFailed {
            names: serial::failed_tests(serial),
        },
        c if c == qemu_status(EXIT_CRASH) => crash_outcome(serial),
        c if c == qemu_status(EXIT_PROGRAMS_FAILED) => Outcome::ProgramsFailed {
            programs: serial::exit_records(serial)
                .into_iter()
                .filter(|r| !r.as_expected())
                .map(|r| (r.name, r.status, r.expected))
                .collect(),
            refused: serial::refused_programs(serial),
        },
        // QEMU also exits 0 when it is asked to quit by a signal; that is not a guest reset.
        0 if stderr.contains("terminating on signal") => Outcome::Error {
            reason: "QEMU was terminated by a signal".to_owned(),
        },
        0 => Outcome::GuestReset,
        c => Outcome::Error {
            reason: format!("QEMU exited with status {c} (no kernel verdict)"),
        },
    }
}

fn crash_outcome(serial: &str) -> Outcome {
    let Some(report) = serial::crash_report(serial) else {
        return Outcome::KernelPanic {
            message: "crash verdict without a `!!!` report on serial".to_owned(),
            location: None,
        };
    };
    match report.kind {
        ReportKind::Panic => Outcome::KernelPanic {
            message: report.message,
            location: report.location,
        },
        ReportKind::Exception => {
            let mut description = report.message;
            let cr2 = report
                .details
                .iter()
                .flat_map(|d| d.split_whitespace())
                .find(|w| w.starts_with("cr2="));
            if let (true, Some(cr2)) = (description.contains("#PF"), cr2) {
                description.push_str(", ");
                description.push_str(cr2);
            }
            Outcome::KernelException { description }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32, serial: &str) -> Outcome {
        classify(&Termination::Exited(code), serial, "")
    }

    #[test]
    fn status_values() {
        assert_eq!(qemu_status(EXIT_SUCCESS), 33);
        assert_eq!(qemu_status(EXIT_TESTS_FAILED), 35);
        assert_eq!(qemu_status(EXIT_CRASH), 37);
        assert_eq!(qemu_status(EXIT_PROGRAMS_FAILED), 39);
    }

    #[test]
    fn success() {
        let o = exited(33, "hello\n");
        assert_eq!(o, Outcome::Success);
        assert_eq!(o.exit_code(), 0);
        assert_eq!(o.to_string(), "tempest: success");
    }

    #[test]
    fn test_failures() {
        let serial = "test a ... ok\ntest mm::b ... FAILED\ntest c ... FAILED\n";
        let o = exited(35, serial);
        assert_eq!(o.exit_code(), 1);
        assert_eq!(o.to_string(), "tempest: 2 test(s) failed: mm::b, c");
        let none = exited(35, "");
        assert_eq!(none.exit_code(), 1);
        assert!(none.to_string().starts_with("tempest: tests failed"));
    }

    #[test]
    fn program_failures() {
        let serial = "@@tempest {\"event\":\"exit\",\"pid\":3,\"name\":\"hello\",\"status\":0,\"expected\":0}\n\
                      @@tempest {\"event\":\"exit\",\"pid\":4,\"name\":\"read_temp_region\",\"status\":139,\"expected\":0}\n\
                      @@tempest {\"event\":\"exit\",\"pid\":5,\"name\":\"isolation\",\"status\":1,\"expected\":0}\n";
        let o = exited(39, serial);
        assert_eq!(o.exit_code(), 1);
        assert_eq!(
            o.to_string(),
            "tempest: 2 program(s) did not exit as expected: read_temp_region (status 139, \
             expected 0), isolation (status 1, expected 0)"
        );
        let refused = format!(
            "{serial}@@tempest {{\"event\":\"refused\",\"name\":\"junk\",\"reason\":\"not an ELF file\"}}\n"
        );
        assert!(
            exited(39, &refused)
                .to_string()
                .starts_with("tempest: 3 program(s) did not exit as expected: read_temp_region"),
        );
        assert!(
            exited(39, &refused)
                .to_string()
                .ends_with(", junk (refused: not an ELF file)")
        );
        let none = exited(39, "");
        assert_eq!(none.exit_code(), 1);
        assert!(
            none.to_string().contains("did not exit as expected"),
            "{none}"
        );
        // The same records under a success verdict are the kernel's word: success.
        assert_eq!(exited(33, serial), Outcome::Success);
    }

    #[test]
    fn panic() {
        let serial = "!!! KERNEL PANIC on cpu 0: boom\n!!!   at kernel/src/foo.rs:12:5\n\
                      !!! backtrace:\n!!!   #0 0xc0101234\n!!! end\n";
        let o = exited(37, serial);
        assert_eq!(o.exit_code(), 2);
        assert_eq!(
            o.to_string(),
            "tempest: kernel panic: boom (at kernel/src/foo.rs:12:5)"
        );
        let bare = exited(37, "nothing\n");
        assert_eq!(bare.exit_code(), 2);
        assert!(bare.to_string().starts_with("tempest: kernel panic: "));
    }

    #[test]
    fn exception() {
        let serial = "!!! EXCEPTION on cpu 0: Page Fault (#PF, vector 14), error code 0x00000002\n\
                      !!!   eax=0 ebx=1\n!!!   cr2=0xdeadbeef\n!!! backtrace:\n!!!   #0 0xc0101234\n!!! end\n";
        let o = exited(37, serial);
        assert_eq!(o.exit_code(), 2);
        assert_eq!(
            o.to_string(),
            "tempest: kernel exception: Page Fault (#PF, vector 14), error code 0x00000002, cr2=0xdeadbeef"
        );
        let gp = exited(
            37,
            "!!! EXCEPTION on cpu 1: General Protection (#GP, vector 13)\n!!!   cr2=0x0\n",
        );
        assert_eq!(
            gp.to_string(),
            "tempest: kernel exception: General Protection (#GP, vector 13)"
        );
    }

    #[test]
    fn reset_timeout_and_errors() {
        let reset = exited(0, "booting\n");
        assert_eq!((reset.exit_code(), reset.clone()), (3, Outcome::GuestReset));
        assert!(reset.to_string().contains("never a success"));

        let t = classify(&Termination::TimedOut(Duration::from_secs(120)), "", "");
        assert_eq!(t.exit_code(), 4);
        assert_eq!(
            t.to_string(),
            "tempest: timeout: no verdict after 120 s; QEMU killed"
        );

        for o in [
            exited(1, ""),
            exited(34, ""),
            classify(&Termination::Signaled(9), "", ""),
            classify(
                &Termination::KvmInternalError,
                "",
                "KVM internal error. Suberror: 1",
            ),
            classify(
                &Termination::Exited(0),
                "",
                "qemu-system-i386: terminating on signal 15 from pid 1",
            ),
        ] {
            assert_eq!(o.exit_code(), 5, "{o}");
            assert!(o.to_string().starts_with("tempest: "));
        }
    }
}
