//! `cargo run -p conformance -- kselftest-x86`: Linux's own 32-bit x86 selftests
//! (`tools/testing/selftests/x86` of Debian's `linux-source-6.12`), built with their
//! Makefile's flags plus `-static`, run on the host (the oracle) and under Tempest, and
//! compared test by test against an expectations file (docs/conformance.md).
//!
//! The library holds what can be checked without QEMU: the Makefile's build plan
//! ([`makefile`]), a run's outcome and the comparison ([`verdict`]), the expectations
//! ([`expect`]), reading a Tempest boot's serial output ([`tempest_outcome`]) and the
//! report ([`table`], [`document`]).

pub mod expect;
pub mod host;
pub mod makefile;
pub mod verdict;

use expect::Verdict;
use serde_json::{Value, json};
use verdict::Outcome;

/// One test's results on both kernels.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub linux: Outcome,
    pub tempest: Outcome,
    /// Why Tempest's run does not count as Linux's (`None`: it does).
    pub mismatch: Option<String>,
    /// The expectations file's reason, when the test is listed.
    pub listed: Option<String>,
}

impl Row {
    pub fn verdict(&self) -> Verdict {
        Verdict::of(self.mismatch.is_none(), self.listed.is_some())
    }
}

/// The outcome of the program Tempest booted as pid 1, from the boot's serial output:
/// its exit record's status and the lines it printed (neither the kernel's log lines,
/// `[cpuN LEVEL ]`, nor its records, `@@tempest`, nor the summary after them).
/// `termination` says how QEMU ended, for a run with no exit record.
pub fn tempest_outcome(serial: &str, termination: &str) -> Outcome {
    let status = qemu::serial::exit_records(serial)
        .iter()
        .find(|r| r.pid == 1)
        .map(|r| r.status as i32);
    let lines = serial
        .lines()
        .take_while(|l| !l.starts_with("Tempest summary"))
        .filter(|l| !l.starts_with("[cpu") && !l.starts_with("@@"))
        .map(str::to_owned)
        .collect();
    let mut outcome = Outcome::from_lines(status, lines);
    if status.is_none() {
        let crash = qemu::serial::crash_report(serial)
            .map(|c| format!(": {}", c.message))
            .unwrap_or_default();
        outcome.unfinished = Some(format!("no exit ({termination}{crash})"));
    }
    outcome
}

/// The outcome of a test run under Linux in QEMU by `oracle_init` (`user/src/bin`): the
/// status of its `@@oracle` line and the lines before it that are not Linux's own
/// messages (`[    1.234567] ...`).
pub fn linux_outcome(serial: &str, termination: &str) -> Outcome {
    let mut status = None;
    let mut error = None;
    let mut lines = Vec::new();
    for line in serial.lines() {
        if let Some(record) = line.split_once("@@oracle ").map(|(_, r)| r) {
            let v: Value = serde_json::from_str(record).unwrap_or_default();
            status = v["status"].as_i64().map(|s| s as i32);
            error = v["error"].as_str().map(str::to_owned);
            break;
        }
        if !is_linux_message(line) {
            lines.push(line.to_owned());
        }
    }
    let mut outcome = Outcome::from_lines(status, lines);
    if status.is_none() {
        outcome.unfinished = Some(match error {
            Some(e) => format!("not run: {e}"),
            None => format!("no status ({termination})"),
        });
    }
    outcome
}

/// A line of Linux's log: `[` then the seconds since boot, `]`.
fn is_linux_message(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .is_some_and(|(t, _)| {
            let t = t.trim();
            !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
}

/// The terminal table: each test's ending and checks on both kernels, the verdict and the
/// reason (the mismatch, and the listed reason for an expected failure).
pub fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<width$}  {:<24}  {:<28}  {:<15}  why\n",
        "test", "Linux", "Tempest", "verdict"
    );
    for r in rows {
        let why = match (&r.mismatch, &r.listed, r.verdict()) {
            (_, Some(reason), Verdict::NowPasses) => {
                format!("listed ({reason}): remove it from the expectations")
            }
            (Some(m), Some(reason), _) => format!("{reason} [{m}]"),
            (Some(m), None, _) => m.clone(),
            (None, _, _) => String::new(),
        };
        out += &format!(
            "{:<width$}  {:<24}  {:<28}  {:<15}  {why}\n",
            r.name,
            r.linux.summary(),
            r.tempest.summary(),
            r.verdict().name()
        );
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict() == v).count();
    out += &format!(
        "{} tests: {} pass, {} expected to fail, {} fail unexpectedly, {} pass though listed\n",
        rows.len(),
        count(Verdict::Pass),
        count(Verdict::ExpectedFail),
        count(Verdict::UnexpectedFail),
        count(Verdict::NowPasses)
    );
    out
}

/// The JSON document: `env` (Linux version, commit, CPUs...) and one entry per test.
pub fn document(rows: &[Row], env: Value) -> Value {
    json!({
        "env": env,
        "tests": rows.iter().map(|r| json!({
            "name": r.name,
            "linux": r.linux.to_json(),
            "tempest": r.tempest.to_json(),
            "verdict": r.verdict().name(),
            "mismatch": r.mismatch,
            "listed": r.listed,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIAL: &str = "\
[cpu0 INFO ] pid 1 on cpu 0: /sigtrap_loop_32
[RUN]\tSIGTRAP in a loop
[OK]\tdone
@@tempest {\"event\":\"exit\",\"pid\":1,\"name\":\"init\",\"status\":0,\"expected\":0}
Tempest summary
[OK] not the test's
";

    #[test]
    fn reads_the_init_programs_status_and_lines() {
        let o = tempest_outcome(SERIAL, "exited 0");
        assert_eq!(o.status, Some(0));
        assert_eq!(o.ok, 1, "the summary's lines are not the test's");
        assert_eq!(o.lines, ["[RUN]\tSIGTRAP in a loop", "[OK]\tdone"]);
        let crashed = tempest_outcome("[OK] a\n", "timed out after 300 s");
        assert_eq!(crashed.status, None);
        assert_eq!(
            crashed.unfinished.as_deref(),
            Some("no exit (timed out after 300 s)")
        );
    }

    #[test]
    fn reads_the_linux_oracles_status_and_the_tests_lines() {
        let serial = "[    0.812345] random: crng init done\n[RUN]\tx\n[OK]\tx\n\
                      @@oracle {\"status\":139}\n[   2.0] reboot: Power down\n";
        let o = linux_outcome(serial, "exited 0");
        assert_eq!(o.status, Some(139));
        assert_eq!(o.lines, ["[RUN]\tx", "[OK]\tx"]);
        assert_eq!(o.ending(), "signal 11");
        let none = linux_outcome("@@oracle {\"error\":\"fork or wait4: -12\"}\n", "x");
        assert_eq!(
            none.unfinished.as_deref(),
            Some("not run: fork or wait4: -12")
        );
        let lost = linux_outcome("Kernel panic\n", "timed out after 300 s");
        assert_eq!(
            lost.unfinished.as_deref(),
            Some("no status (timed out after 300 s)")
        );
    }

    #[test]
    fn the_table_says_each_verdict_and_counts_them() {
        let ok = Outcome::from_lines(Some(0), vec!["[OK] a".into()]);
        let bad = Outcome::from_lines(Some(1), vec!["[FAIL] a".into()]);
        let row = |name: &str, tempest: &Outcome, listed: Option<&str>| Row {
            name: name.into(),
            linux: ok.clone(),
            tempest: tempest.clone(),
            mismatch: verdict::compare(&ok, tempest),
            listed: listed.map(str::to_owned),
        };
        let rows = [
            row("passes", &ok, None),
            row("known", &bad, Some("no LDT yet")),
            row("regressed", &bad, None),
            row("fixed", &ok, Some("no vDSO yet")),
        ];
        let t = table(&rows);
        assert!(
            t.contains("expected fail    no LDT yet [exit 1 (Linux: exit 0)"),
            "{t}"
        );
        assert!(t.contains("UNEXPECTED FAIL"), "{t}");
        assert!(t.contains("remove it from the expectations"), "{t}");
        assert!(t.ends_with(
            "4 tests: 1 pass, 1 expected to fail, 1 fail unexpectedly, 1 pass though listed\n"
        ));
        let doc = document(&rows, json!({"smp": 4}));
        assert_eq!(doc["tests"][2]["verdict"], "UNEXPECTED FAIL");
        assert_eq!(doc["tests"][1]["linux"]["ok"], 1);
    }
}
