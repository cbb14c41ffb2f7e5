//! How one test ended on one kernel, and whether Tempest's run counts as Linux's.
//!
//! A test passes on Tempest when it ends as it did on Linux (the same exit status; a
//! signal counts as 128 + its number on both), prints no failure line, and reports at
//! least as many passed checks as on Linux (so a check Tempest skipped that Linux ran is
//! caught). Failure lines are `[FAIL]`, `FAIL` and TAP's `not ok`; passed checks are
//! `[OK]` and TAP's `ok` (but `ok N # SKIP`, a skip). Some of these tests print `[FAIL]` and still exit 0, so the
//! status alone is no verdict.

use serde_json::{Value, json};

/// Output lines kept per run in the JSON document.
pub const OUTPUT_LINES: usize = 200;

/// One test's run on one kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The exit status (128 + signal for a signal), or `None` if the test never ended
    /// (timeout, kernel crash).
    pub status: Option<i32>,
    /// Why there is no status, when there is none.
    pub unfinished: Option<String>,
    pub ok: u32,
    pub fail: u32,
    pub skip: u32,
    /// The test's output lines.
    pub lines: Vec<String>,
}

impl Outcome {
    /// Counts the check lines of `lines`.
    pub fn from_lines(status: Option<i32>, lines: Vec<String>) -> Outcome {
        let mut outcome = Outcome {
            status,
            ..Outcome::default()
        };
        for line in &lines {
            let line = line.trim_start();
            let tap_ok = line.starts_with("ok ") && is_tap(line, "ok ");
            if tap_ok && line.contains("# SKIP") {
                outcome.skip += 1;
            } else if line.starts_with("[OK]") || tap_ok {
                outcome.ok += 1;
            } else if line.starts_with("[FAIL]")
                || line.starts_with("FAIL")
                || (line.starts_with("not ok ") && is_tap(line, "not ok "))
            {
                outcome.fail += 1;
            } else if line.starts_with("[SKIP]") {
                outcome.skip += 1;
            }
        }
        outcome.lines = lines;
        outcome
    }

    /// `status N`, or why it never ended.
    pub fn ending(&self) -> String {
        match (self.status, &self.unfinished) {
            (Some(s), _) if s > 128 => format!("signal {}", s - 128),
            (Some(s), _) => format!("exit {s}"),
            (None, Some(why)) => why.clone(),
            (None, None) => "no end".to_owned(),
        }
    }

    /// A short summary: `exit 0, 12 ok`, with the failures and skips when there are any.
    pub fn summary(&self) -> String {
        let mut s = format!("{}, {} ok", self.ending(), self.ok);
        if self.fail > 0 {
            s += &format!(", {} FAIL", self.fail);
        }
        if self.skip > 0 {
            s += &format!(", {} skip", self.skip);
        }
        s
    }

    /// As stored in the JSON document, with the first [`OUTPUT_LINES`] lines of output.
    pub fn to_json(&self) -> Value {
        json!({"status": self.status, "unfinished": self.unfinished, "ok": self.ok,
               "fail": self.fail, "skip": self.skip,
               "output": self.lines.iter().take(OUTPUT_LINES).collect::<Vec<_>>()})
    }
}

/// A TAP result line: `ok 3 ...` (a number after the word).
fn is_tap(line: &str, word: &str) -> bool {
    line[word.len()..]
        .split_whitespace()
        .next()
        .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// Why Tempest's run does not count as Linux's, or `None` when it does.
pub fn compare(linux: &Outcome, tempest: &Outcome) -> Option<String> {
    let mut why = Vec::new();
    if tempest.status != linux.status || tempest.status.is_none() {
        why.push(format!("{} (Linux: {})", tempest.ending(), linux.ending()));
    }
    if tempest.fail > 0 {
        let first = tempest
            .lines
            .iter()
            .map(|l| l.trim_start())
            .find(|l| l.starts_with("[FAIL]") || l.starts_with("FAIL") || l.starts_with("not ok"))
            .unwrap_or_default();
        why.push(format!("{} failure line(s), first: {first}", tempest.fail));
    }
    if tempest.ok < linux.ok {
        why.push(format!("{} [OK] of Linux's {}", tempest.ok, linux.ok));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn counts_checks_of_both_styles() {
        let o = Outcome::from_lines(
            Some(0),
            lines(
                "[RUN]\tsomething\n[OK]\tfine\n[FAIL]\tbroken\n[SKIP]\tno vm86\n\
                 TAP version 13\nok 1 mremap\nnot ok 2 other\nok then, not TAP\nFAIL: x\n\
                 ok 3 # SKIP vdso_gtod isn't set",
            ),
        );
        assert_eq!((o.ok, o.fail, o.skip), (2, 3, 2));
        assert_eq!(o.summary(), "exit 0, 2 ok, 3 FAIL, 2 skip");
    }

    #[test]
    fn passes_only_when_ending_checks_and_count_match() {
        let linux = Outcome::from_lines(Some(0), lines("[OK] a\n[OK] b"));
        let same = Outcome::from_lines(Some(0), lines("[OK] a\n[OK] b"));
        assert_eq!(compare(&linux, &same), None);

        let failed_but_exit_0 = Outcome::from_lines(Some(0), lines("[OK] a\n[OK] b\n[FAIL] c"));
        let why = compare(&linux, &failed_but_exit_0).unwrap();
        assert!(why.contains("1 failure line(s), first: [FAIL] c"), "{why}");

        let skipped_one = Outcome::from_lines(Some(0), lines("[OK] a\n[SKIP] b"));
        assert_eq!(
            compare(&linux, &skipped_one).unwrap(),
            "1 [OK] of Linux's 2"
        );

        let killed = Outcome::from_lines(Some(128 + 11), lines("[OK] a\n[OK] b"));
        assert_eq!(
            compare(&linux, &killed).unwrap(),
            "signal 11 (Linux: exit 0)"
        );

        let never_ended = Outcome {
            unfinished: Some("timed out after 300 s".into()),
            ..Outcome::default()
        };
        assert!(
            compare(&never_ended, &never_ended).is_some(),
            "no end is no pass"
        );
    }
}
