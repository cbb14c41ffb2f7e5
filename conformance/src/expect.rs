//! The expectations file: each test that does not pass on Tempest yet, with the reason,
//! like the block lists of the kernels that run Linux's suites. A line is
//! `name: reason`; `#` starts a comment.

use anyhow::{Result, bail};
use std::collections::BTreeMap;

/// Test name to the reason it is expected to fail.
pub type Expectations = BTreeMap<String, String>;

pub fn parse(text: &str) -> Result<Expectations> {
    let mut out = Expectations::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, reason)) = line.split_once(':') else {
            bail!("line {}: `name: reason` expected, got `{raw}`", n + 1);
        };
        let (name, reason) = (name.trim(), reason.trim());
        if name.is_empty() || reason.is_empty() || name.contains(char::is_whitespace) {
            bail!("line {}: `name: reason` expected, got `{raw}`", n + 1);
        }
        if out.insert(name.to_owned(), reason.to_owned()).is_some() {
            bail!("line {}: {name} is listed twice", n + 1);
        }
    }
    Ok(out)
}

/// What became of one test against the expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Passed, as expected.
    Pass,
    /// Failed, and listed.
    ExpectedFail,
    /// Failed, not listed: the run fails.
    UnexpectedFail,
    /// Passed though listed: the list should lose it.
    NowPasses,
}

impl Verdict {
    pub fn of(passed: bool, listed: bool) -> Verdict {
        match (passed, listed) {
            (true, false) => Verdict::Pass,
            (false, true) => Verdict::ExpectedFail,
            (false, false) => Verdict::UnexpectedFail,
            (true, true) => Verdict::NowPasses,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::ExpectedFail => "expected fail",
            Verdict::UnexpectedFail => "UNEXPECTED FAIL",
            Verdict::NowPasses => "now passes",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_and_reasons() {
        let e =
            parse("# comment\n\nldt_gdt: no modify_ldt yet # more\nvm86: out of scope\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e["ldt_gdt"], "no modify_ldt yet");
    }

    #[test]
    fn refuses_malformed_and_duplicate_lines() {
        assert!(parse("no reason here\n").is_err());
        assert!(parse("a b: two words\n").is_err());
        assert!(
            parse("a: x\na: y\n")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::of(true, false), Verdict::Pass);
        assert_eq!(Verdict::of(false, true), Verdict::ExpectedFail);
        assert_eq!(Verdict::of(false, false), Verdict::UnexpectedFail);
        assert_eq!(Verdict::of(true, true), Verdict::NowPasses);
    }
}
