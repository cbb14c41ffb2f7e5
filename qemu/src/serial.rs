//! Parsing of the kernel's serial protocol: test results, `!!!` crash reports, `@@tempest` records.

use serde_json::Value;

/// Prefix of every line of a crash report.
pub const REPORT_PREFIX: &str = "!!!";

/// Prefix of a machine-readable record; a JSON object follows.
pub const RECORD_PREFIX: &str = "@@tempest ";

/// The kind of crash a report describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// `!!! KERNEL PANIC on cpu N: <message>`.
    Panic,
    /// `!!! EXCEPTION on cpu N: <description>`: frame #0 is the faulting EIP.
    Exception,
}

/// A `!!!` crash report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashReport {
    /// Panic or exception.
    pub kind: ReportKind,
    /// The CPU that reported, when given.
    pub cpu: Option<u32>,
    /// The panic message or exception description.
    pub message: String,
    /// The `at FILE:LINE:COL` of a panic.
    pub location: Option<String>,
    /// The other report lines before the backtrace (registers...), without the prefix.
    pub details: Vec<String>,
    /// The backtrace.
    pub frames: Vec<BacktraceFrame>,
}

/// One `!!!   #N 0xADDR` backtrace line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BacktraceFrame {
    /// N.
    pub index: u32,
    /// ADDR.
    pub addr: u64,
}

impl BacktraceFrame {
    /// The address to look up: return addresses point after the call, so they are moved back
    /// one byte into it; only frame #0 of an exception (the faulting EIP) is exact.
    pub fn lookup_addr(self, kind: Option<ReportKind>) -> u64 {
        if kind == Some(ReportKind::Exception) && self.index == 0 {
            self.addr
        } else {
            self.addr.saturating_sub(1)
        }
    }
}

/// The name in a `test NAME ... FAILED` line.
pub fn parse_failed_test(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("test ")?;
    // A test may print notes between the dots and its verdict (`... [note] FAILED`).
    let (name, verdict) = rest.split_once(" ... ")?;
    let name = name.trim();
    let verdict = verdict.trim();
    (verdict.rsplit(' ').next() == Some("FAILED") && !name.is_empty()).then_some(name)
}

/// The names of the failed tests, in order of appearance, without duplicates.
pub fn failed_tests(serial: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in serial.lines().filter_map(parse_failed_test) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The text after the `!!!` prefix, if `line` is a report line.
fn report_body(line: &str) -> Option<&str> {
    line.trim_end().strip_prefix(REPORT_PREFIX)
}

/// Parses a report header: `!!! KERNEL PANIC on cpu N: msg` or `!!! EXCEPTION on cpu N: desc`.
pub fn parse_report_header(line: &str) -> Option<(ReportKind, Option<u32>, String)> {
    let body = report_body(line)?.trim_start();
    let (kind, rest) = if let Some(rest) = body.strip_prefix("KERNEL PANIC") {
        (ReportKind::Panic, rest)
    } else {
        (ReportKind::Exception, body.strip_prefix("EXCEPTION")?)
    };
    let mut rest = rest.trim_start();
    let mut cpu = None;
    if let Some(after) = rest.strip_prefix("on cpu") {
        let after = after.trim_start();
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        cpu = after[..digits].parse().ok();
        rest = &after[digits..];
    }
    let message = rest.trim_start().strip_prefix(':').unwrap_or(rest).trim();
    Some((kind, cpu, message.to_owned()))
}

/// Parses a backtrace line `!!!   #N 0xADDR` (anything after the address is ignored).
pub fn parse_frame_line(line: &str) -> Option<BacktraceFrame> {
    let body = report_body(line)?.trim_start().strip_prefix('#')?;
    let (index, rest) = body.split_once(char::is_whitespace)?;
    let hex = rest.trim_start();
    let hex = hex.strip_prefix("0x").or_else(|| hex.strip_prefix("0X"))?;
    let end = hex
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(hex.len());
    Some(BacktraceFrame {
        index: index.parse().ok()?,
        addr: u64::from_str_radix(&hex[..end], 16).ok()?,
    })
}

/// The first crash report in the serial output.
pub fn crash_report(serial: &str) -> Option<CrashReport> {
    let mut lines = serial.lines();
    let (kind, cpu, message) = lines.by_ref().find_map(parse_report_header)?;
    let mut report = CrashReport {
        kind,
        cpu,
        message,
        location: None,
        details: Vec::new(),
        frames: Vec::new(),
    };
    let mut in_backtrace = false;
    // Lines without the prefix (other CPUs printing) are skipped, not taken as the end.
    for body in lines.filter_map(report_body) {
        let trimmed = body.trim();
        if trimmed == "end" || parse_report_header(&format!("{REPORT_PREFIX}{body}")).is_some() {
            break;
        } else if trimmed == "backtrace:" {
            in_backtrace = true;
        } else if let Some(frame) = parse_frame_line(&format!("{REPORT_PREFIX}{body}")) {
            report.frames.push(frame);
        } else if let (false, Some(at)) = (in_backtrace, trimmed.strip_prefix("at ")) {
            report.location.get_or_insert_with(|| at.trim().to_owned());
        } else if !in_backtrace && !trimmed.is_empty() {
            report.details.push(trimmed.to_owned());
        }
    }
    Some(report)
}

/// Parses a `@@tempest {json}` line: `None` if it is not a record line.
pub fn parse_record(line: &str) -> Option<serde_json::Result<Value>> {
    let json = line.trim_end().strip_prefix(RECORD_PREFIX)?;
    Some(serde_json::from_str(json))
}

/// All well-formed `@@tempest` records of the serial output, in order (malformed ones skipped).
pub fn records(serial: &str) -> Vec<Value> {
    serial
        .lines()
        .filter_map(parse_record)
        .filter_map(Result::ok)
        .collect()
}

/// An exit record, `@@tempest {"event":"exit","pid":3,"name":"hello","status":0,"expected":0}`:
/// how one user process ended (status 128 + N when killed by signal N).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitRecord {
    /// Process id.
    pub pid: u64,
    /// Program name (the basename of the module's path).
    pub name: String,
    /// Exit status.
    pub status: i64,
    /// The status its module string asked for (`expect=N`, default 0).
    pub expected: i64,
}

impl ExitRecord {
    /// The exit record in `record`, if it is one (all four fields present).
    pub fn from_record(record: &Value) -> Option<Self> {
        if record["event"] != "exit" {
            return None;
        }
        Some(ExitRecord {
            pid: record["pid"].as_u64()?,
            name: record["name"].as_str()?.to_owned(),
            status: record["status"].as_i64()?,
            expected: record["expected"].as_i64()?,
        })
    }

    /// Whether the process ended with the status it was expected to.
    pub fn as_expected(&self) -> bool {
        self.status == self.expected
    }
}

/// The exit records of the serial output, in order.
pub fn exit_records(serial: &str) -> Vec<ExitRecord> {
    records(serial)
        .iter()
        .filter_map(ExitRecord::from_record)
        .collect()
}

/// `(name, reason)` of each program the kernel refused to start, from
/// `@@tempest {"event":"refused","name":"p","reason":"..."}` records, in order.
pub fn refused_programs(serial: &str) -> Vec<(String, String)> {
    records(serial)
        .iter()
        .filter(|r| r["event"] == "refused")
        .filter_map(|r| {
            Some((
                r["name"].as_str()?.to_owned(),
                r["reason"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_test_lines() {
        assert_eq!(
            parse_failed_test("test mm::alloc ... FAILED"),
            Some("mm::alloc")
        );
        assert_eq!(parse_failed_test("test a b ... FAILED\r"), Some("a b"));
        assert_eq!(parse_failed_test("test mm::alloc ... ok"), None);
        assert_eq!(parse_failed_test("testing ... FAILED"), None);
        assert_eq!(
            parse_failed_test("test x::y ... [4 CPUs, 300 IPIs] FAILED"),
            Some("x::y")
        );
        assert_eq!(parse_failed_test("test x ... [saw FAILED] ok"), None);
        let serial =
            "test a ... ok\ntest b ... FAILED\nnoise\ntest c::d ... FAILED\ntest b ... FAILED\n";
        assert_eq!(failed_tests(serial), ["b", "c::d"]);
    }

    #[test]
    fn frame_lines() {
        assert_eq!(
            parse_frame_line("!!!   #0 0xc0101234"),
            Some(BacktraceFrame {
                index: 0,
                addr: 0xc010_1234
            })
        );
        assert_eq!(
            parse_frame_line("!!!   #12 0xC0105678 extra\r"),
            Some(BacktraceFrame {
                index: 12,
                addr: 0xc010_5678
            })
        );
        assert_eq!(parse_frame_line("!!! backtrace:"), None);
        assert_eq!(parse_frame_line("   #0 0xc0101234"), None);
        assert_eq!(parse_frame_line("!!!   #x 0xc0101234"), None);
        assert_eq!(parse_frame_line("!!!   #1 c0101234"), None);
    }

    #[test]
    fn lookup_addresses() {
        let f0 = BacktraceFrame {
            index: 0,
            addr: 0x1000,
        };
        let f1 = BacktraceFrame {
            index: 1,
            addr: 0x2000,
        };
        assert_eq!(f0.lookup_addr(Some(ReportKind::Exception)), 0x1000);
        assert_eq!(f1.lookup_addr(Some(ReportKind::Exception)), 0x1fff);
        assert_eq!(f0.lookup_addr(Some(ReportKind::Panic)), 0xfff);
        assert_eq!(BacktraceFrame { index: 3, addr: 0 }.lookup_addr(None), 0);
    }

    #[test]
    fn panic_report() {
        let serial = "boot\n!!! KERNEL PANIC on cpu 1: oh no: bad\n!!!   at kernel/src/foo.rs:12:5\n\
                      cpu0 noise\n!!! backtrace:\n!!!   #0 0xc0101234\n!!!   #1 0xc0105678\n!!! end\n\
                      !!!   #2 0xdead\n";
        let r = crash_report(serial).unwrap();
        assert_eq!(r.kind, ReportKind::Panic);
        assert_eq!(r.cpu, Some(1));
        assert_eq!(r.message, "oh no: bad");
        assert_eq!(r.location.as_deref(), Some("kernel/src/foo.rs:12:5"));
        assert_eq!(r.frames.len(), 2);
        assert_eq!(r.frames[1].addr, 0xc010_5678);
        assert!(r.details.is_empty());
    }

    #[test]
    fn exception_report() {
        let serial = "!!! EXCEPTION on cpu 0: Page Fault (#PF, vector 14), error code 0x00000002\n\
                      !!!   eax=00000001 ebx=00000002\n!!!   cr2=0xdeadbeef\n!!! backtrace:\n\
                      !!!   #0 0xc0101234\n!!! end\n";
        let r = crash_report(serial).unwrap();
        assert_eq!(r.kind, ReportKind::Exception);
        assert_eq!(
            r.message,
            "Page Fault (#PF, vector 14), error code 0x00000002"
        );
        assert_eq!(r.details, ["eax=00000001 ebx=00000002", "cr2=0xdeadbeef"]);
        assert_eq!(
            r.frames,
            [BacktraceFrame {
                index: 0,
                addr: 0xc010_1234
            }]
        );
        assert_eq!(crash_report("all fine\n"), None);
    }

    #[test]
    fn header_variants() {
        assert_eq!(
            parse_report_header("!!! KERNEL PANIC: x"),
            Some((ReportKind::Panic, None, "x".to_owned()))
        );
        assert_eq!(parse_report_header("!!! backtrace:"), None);
        assert_eq!(parse_report_header("KERNEL PANIC on cpu 0: x"), None);
    }

    #[test]
    fn record_extraction() {
        let serial = "x\n@@tempest {\"event\":\"summary\",\"passed\":3}\r\n@@tempest {broken\n\
                      @@tempest {\"event\":\"bench\",\"ns\":12}\n @@tempest {\"indented\":1}\n";
        let recs = records(serial);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["event"], "summary");
        assert_eq!(recs[0]["passed"], 3);
        assert_eq!(recs[1]["ns"], 12);
        assert!(parse_record("@@tempest {broken").unwrap().is_err());
        assert!(parse_record("plain").is_none());
    }

    #[test]
    fn exit_record_extraction() {
        let serial = "@@tempest {\"event\":\"summary\",\"cpus\":1}\n\
                      @@tempest {\"event\":\"exit\",\"pid\":3,\"name\":\"read_temp_region\",\"status\":139,\"expected\":139}\n\
                      @@tempest {\"event\":\"exit\",\"pid\":4,\"name\":\"hello\"}\n\
                      @@tempest {\"event\":\"exit\",\"pid\":5,\"name\":\"hello\",\"status\":1,\"expected\":0}\n";
        let exits = exit_records(serial);
        assert_eq!(
            exits,
            [
                ExitRecord {
                    pid: 3,
                    name: "read_temp_region".into(),
                    status: 139,
                    expected: 139
                },
                ExitRecord {
                    pid: 5,
                    name: "hello".into(),
                    status: 1,
                    expected: 0
                },
            ]
        );
        assert!(exits[0].as_expected() && !exits[1].as_expected());
        let refused =
            "@@tempest {\"event\":\"refused\",\"name\":\"bad\",\"reason\":\"not an ELF\"}\n";
        assert_eq!(
            refused_programs(&format!("{serial}{refused}")),
            [("bad".to_owned(), "not an ELF".to_owned())]
        );
    }
}
