//! What `tools/testing/selftests/x86/Makefile` says about building its 32-bit tests: the
//! targets, the flags, and the extra sources and flags of single targets. Read from the
//! provisioned Makefile itself, so a new Linux version's tests are built as it says.
//!
//! Only the few make constructs that Makefile uses are understood: `VAR := words` and
//! `VAR += words` with `\` continuations, `$(eval $(call extra-files,T,FILES))`, and
//! target-specific `$(OUTPUT)/T: CFLAGS += FLAGS`.

use anyhow::{Result, bail};
use std::collections::BTreeMap;

/// The 32-bit build plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every 32-bit test, in the Makefile's order (`TARGETS_C_32BIT_ALL`).
    pub tests: Vec<String>,
    /// `CFLAGS :=` as written (with `$(KHDR_INCLUDES)` left for the caller to expand).
    pub cflags: Vec<String>,
    /// Extra sources of `<test>_32` (`extra-files`).
    pub extra_files: BTreeMap<String, Vec<String>>,
    /// Extra flags of `<test>_32` (target-specific `CFLAGS +=`).
    pub extra_cflags: BTreeMap<String, Vec<String>>,
}

/// The lists that make up `TARGETS_C_32BIT_ALL`.
const LISTS_32: [&str; 3] = [
    "TARGETS_C_BOTHBITS",
    "TARGETS_C_32BIT_ONLY",
    "TARGETS_C_32BIT_NEEDED",
];

/// Reads the plan out of the Makefile's text.
pub fn parse(text: &str) -> Result<Plan> {
    let mut vars: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut plan = Plan::default();
    for line in logical_lines(text) {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(call) = line
            .strip_prefix("$(eval $(call extra-files,")
            .and_then(|r| r.strip_suffix("))"))
        {
            let (target, files) = call.split_once(',').unwrap_or((call, ""));
            if let Some(test) = target.strip_suffix("_32") {
                plan.extra_files
                    .insert(test.to_owned(), words(files.replace(',', " ").as_str()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("$(OUTPUT)/") {
            if let Some((target, flags)) = rest.split_once(": CFLAGS +=")
                && let Some(test) = target.trim().strip_suffix("_32")
            {
                plan.extra_cflags
                    .entry(test.to_owned())
                    .or_default()
                    .extend(words(flags));
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(":=") {
            let name = name.trim();
            if name == "CFLAGS" {
                plan.cflags = words(value);
            }
            vars.insert(name.to_owned(), words(value));
        } else if let Some((name, value)) = line.split_once("+=") {
            let name = name.trim();
            if !name.contains(['$', ' ', ':']) {
                vars.entry(name.to_owned())
                    .or_default()
                    .extend(words(value));
            }
        }
    }
    for list in LISTS_32 {
        match vars.get(list) {
            Some(tests) => plan.tests.extend(tests.iter().cloned()),
            None => bail!("the x86 selftests' Makefile has no {list}"),
        }
    }
    if plan.cflags.is_empty() {
        bail!("the x86 selftests' Makefile has no `CFLAGS :=`");
    }
    Ok(plan)
}

/// Lines with their `\` continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Makefile in the shape of Linux's (written for this test, with made-up targets).
    const SAMPLE: &str = "\
all:
TARGETS_C_BOTHBITS := alpha beta \\
\t\t\tgamma
TARGETS_C_BOTHBITS += delta
TARGETS_C_32BIT_ONLY := epsilon
TARGETS_C_64BIT_ONLY := sixty_four
TARGETS_C_32BIT_NEEDED := zeta
CFLAGS := -O2 -g -pthread $(KHDR_INCLUDES)
ifeq ($(CAN_BUILD_WITH_NOPIE),1)
CFLAGS += -no-pie
endif
$(eval $(call extra-files,beta_32,helper_32.S))
$(eval $(call extra-files,beta_64,helper_64.S))
$(OUTPUT)/gamma_32: CFLAGS += -Wl,-ereal_start -static
$(OUTPUT)/gamma_64: CFLAGS += -Wl,-ereal_start -static
";

    #[test]
    fn reads_targets_flags_and_per_target_extras() {
        let plan = parse(SAMPLE).unwrap();
        assert_eq!(
            plan.tests,
            ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
        );
        assert_eq!(plan.cflags, ["-O2", "-g", "-pthread", "$(KHDR_INCLUDES)"]);
        assert_eq!(plan.extra_files["beta"], ["helper_32.S"]);
        assert!(!plan.extra_files.contains_key("beta_64"));
        assert_eq!(plan.extra_cflags["gamma"], ["-Wl,-ereal_start", "-static"]);
        assert_eq!(plan.extra_cflags.len(), 1, "64-bit targets are not ours");
    }

    #[test]
    fn a_makefile_without_the_lists_is_refused() {
        let err = parse("CFLAGS := -O2\n").unwrap_err().to_string();
        assert!(err.contains("TARGETS_C_BOTHBITS"), "{err}");
    }
}
