//! User programs booted as multiboot modules: program specs, the default set, module strings.
//!
//! A program spec is one line of `user/programs.txt` or one PROGRAM of `cargo qemu`:
//! `<program> [args...] [expect=<status>]`, where `<program>` is a path to an i386 ELF or
//! the name of a bin of the `user` package. It becomes the module string
//! `<path> [args...] expect=<status>`: the kernel names the process after the path's
//! basename, passes the other words as argv[1..] and strips `expect=N`, the exit status it
//! expects (0 if absent), which it reports in the process's exit record.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};

use crate::build::Artifact;

/// The workspace package holding the user programs.
pub const USER_PACKAGE: &str = "user";

/// The default set, relative to the workspace root.
pub const MANIFEST: &str = "user/programs.txt";

/// The prefix of the word that gives a program's expected exit status.
pub const EXPECT_PREFIX: &str = "expect=";

/// One program to boot, as written: what it is, its arguments, its expected exit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// A path to an ELF, or the name of a bin of the user package.
    pub program: String,
    /// argv[1..].
    pub args: Vec<String>,
    /// The exit status it must end with (0..=255).
    pub expect: u8,
}

impl FromStr for ProgramSpec {
    type Err = anyhow::Error;

    /// Parses `<program> [args...] [expect=<status>]` (words separated by whitespace).
    fn from_str(line: &str) -> Result<Self> {
        let mut words = line.split_whitespace();
        let Some(program) = words.next() else {
            bail!("empty program");
        };
        if program.starts_with(EXPECT_PREFIX) {
            bail!("`{line}` has no program before `{program}`");
        }
        let mut args = Vec::new();
        let mut expect = None;
        for word in words {
            let Some(value) = word.strip_prefix(EXPECT_PREFIX) else {
                args.push(word.to_owned());
                continue;
            };
            if expect.is_some() {
                bail!("`{line}` gives `{EXPECT_PREFIX}` twice");
            }
            let status = value.parse::<u8>().with_context(|| {
                format!("`{word}` in `{line}`: the status must be a number from 0 to 255")
            })?;
            expect = Some(status);
        }
        Ok(ProgramSpec {
            program: program.to_owned(),
            args,
            expect: expect.unwrap_or(0),
        })
    }
}

/// Parses a manifest: one spec per line; blank lines and lines starting with `#` skipped.
pub fn parse_manifest(text: &str) -> Result<Vec<ProgramSpec>> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| line.parse().with_context(|| format!("line {n}")))
        .collect()
}

/// The default set: the specs of [`MANIFEST`] under `root`.
pub fn default_set(root: &Path) -> Result<Vec<ProgramSpec>> {
    let path = root.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_manifest(&text).with_context(|| format!("in {}", path.display()))
}

/// A program resolved to an ELF on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The ELF.
    pub path: PathBuf,
    /// argv[1..].
    pub args: Vec<String>,
    /// The exit status it must end with.
    pub expect: u8,
}

impl Program {
    /// The process name the kernel gives it: the basename of its path.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }

    /// Its module string, `<path> [args...] expect=<status>` (for [`crate::QemuConfig::initrd`]).
    /// The path must not contain whitespace: QEMU and the kernel split the string on spaces.
    pub fn module(&self) -> Result<String> {
        let path = self
            .path
            .to_str()
            .with_context(|| format!("program path {:?} is not UTF-8", self.path))?;
        if path.is_empty() || path.chars().any(char::is_whitespace) {
            bail!("program path `{path}` is empty or contains whitespace; move or rename it");
        }
        let mut module = path.to_owned();
        for arg in &self.args {
            let _ = write!(module, " {arg}");
        }
        let _ = write!(module, " {EXPECT_PREFIX}{}", self.expect);
        Ok(module)
    }
}

/// Resolves specs to ELFs. A spec naming an existing file uses it (made absolute);
/// `glibc/NAME` and `musl/NAME` are built from the project's C and Rust std sources by
/// `build_runtime` (`crate::runtimes`); any other name without a `/` is a bin of the user
/// package, which `build_bins` builds (called once, only when needed).
pub fn resolve(
    specs: &[ProgramSpec],
    build_bins: impl FnOnce() -> Result<Vec<Artifact>>,
    build_runtime: impl Fn(&str) -> Result<PathBuf>,
) -> Result<Vec<Program>> {
    let mut build_bins = Some(build_bins);
    let mut bins: Vec<Artifact> = Vec::new();
    let mut programs = Vec::with_capacity(specs.len());
    for spec in specs {
        let file = Path::new(&spec.program);
        let path = if file.is_file() {
            std::path::absolute(file)
                .with_context(|| format!("cannot resolve path {}", file.display()))?
        } else if crate::runtimes::Runtime::of(&spec.program).is_some() {
            build_runtime(&spec.program)?
        } else if spec.program.contains('/') {
            bail!("program `{}`: no such file", spec.program);
        } else {
            if let Some(build) = build_bins.take() {
                bins = build()?;
                bins.sort_by(|a, b| a.name.cmp(&b.name));
            }
            match bins.iter().find(|b| b.name == spec.program) {
                Some(bin) => bin.path.clone(),
                None => bail!(
                    "program `{}` is neither a file nor a bin of the {USER_PACKAGE} package \
                     (bins: {})",
                    spec.program,
                    bins.iter()
                        .map(|b| b.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        };
        programs.push(Program {
            path,
            args: spec.args.clone(),
            expect: spec.expect,
        });
    }
    Ok(programs)
}

/// The names of the programs the kernel did not report on: `reported` holds the name of
/// each exit (or refused) record, and each accounts for one program of its name.
pub fn missing_exits(programs: &[Program], reported: &[String]) -> Vec<String> {
    let mut unclaimed: Vec<&str> = reported.iter().map(String::as_str).collect();
    let mut missing = Vec::new();
    for name in programs.iter().map(Program::name) {
        match unclaimed.iter().position(|n| *n == name) {
            Some(i) => {
                unclaimed.swap_remove(i);
            }
            None => missing.push(name),
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(line: &str) -> ProgramSpec {
        line.parse().unwrap()
    }

    #[test]
    fn specs() {
        assert_eq!(
            spec("isolation A expect=0"),
            ProgramSpec {
                program: "isolation".into(),
                args: vec!["A".into()],
                expect: 0
            }
        );
        assert_eq!(spec("  /x/y.elf  ").expect, 0);
        assert_eq!(spec("p expect=139 a b").args, ["a", "b"]);
        assert_eq!(spec("p expect=139 a b").expect, 139);
        for bad in [
            "",
            "expect=0",
            "p expect=256",
            "p expect=-1",
            "p expect=x",
            "p expect=1 expect=2",
        ] {
            assert!(bad.parse::<ProgramSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn manifest_lines_and_errors() {
        let specs = parse_manifest("# comment\n\nhello\n  read_temp_region expect=139\n").unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].expect, 139);
        let err = parse_manifest("hello\nbad expect=999\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }

    /// The real default set: every bin in user/src/bin is in it, and each entry is a bin.
    #[test]
    fn default_set_covers_every_user_bin() {
        let root = crate::build::workspace_root();
        let specs = default_set(&root).unwrap();
        let mut bins: Vec<String> = std::fs::read_dir(root.join("user/src/bin"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        bins.sort();
        // Programs whose tests boot them alone, with their own CPU count and checks
        // (qemu/tests/smp.rs, kernel_model.rs): `threads_tlb` needs threads on several CPUs
        // and ends with several kill lines, one per faulting thread; `write_bench` and
        // `sched_bench` are benchmarks (the bench tool boots them), and so is `peer_bench`
        // (the bench's `--peer` boots it as init, beside Linux); `migrate_spin` and
        // `affinity_pinned` are about where processes run, so they need the machine alone;
        // `syscall_sweep` logs one line per call Tempest lacks (some 380);
        // `clone_until_fail` takes every thread the kernel allows, `exhaust` every frame
        // or its whole stack (the hostile suite); `frame_reuse` runs beside its churning
        // partner with `poison-freed` on the command line; `oracle_init` is Linux's init in
        // the conformance run's `--oracle linux-qemu`.
        const BOOTED_ALONE: &[&str] = &[
            "exhaust",
            "frame_reuse",
            "syscall_sweep",
            "clone_until_fail",
            "threads_tlb",
            "write_bench",
            "sched_bench",
            "peer_bench",
            "oracle_init",
            "migrate_spin",
            "affinity_pinned",
        ];
        for bin in bins.iter().filter(|b| !BOOTED_ALONE.contains(&b.as_str())) {
            assert!(
                specs.iter().any(|s| &s.program == bin),
                "{bin} is not in {MANIFEST}"
            );
        }
        for s in &specs {
            let source = crate::runtimes::Runtime::of(&s.program)
                .map(|(runtime, name)| runtime.source(&root, name));
            assert!(
                bins.contains(&s.program) || source.is_some_and(|p| p.is_file()),
                "{} in {MANIFEST} is neither a bin nor a glibc/ or musl/ program with a source",
                s.program
            );
        }
        for runtime in ["glibc/", "musl/"] {
            assert!(
                specs.iter().any(|s| s.program.starts_with(runtime)),
                "the default set has no {runtime} program"
            );
        }
        let isolation: Vec<_> = specs.iter().filter(|s| s.program == "isolation").collect();
        assert_eq!(isolation.len(), 2);
    }

    #[test]
    fn module_strings() {
        let p = Program {
            path: "/t/isolation".into(),
            args: vec!["A".into()],
            expect: 0,
        };
        assert_eq!(p.name(), "isolation");
        assert_eq!(p.module().unwrap(), "/t/isolation A expect=0");
        let spaced = Program {
            path: "/my dir/p".into(),
            args: vec![],
            expect: 139,
        };
        assert!(spaced.module().is_err());
    }

    #[test]
    fn resolution() {
        let no_runtime = |p: &str| -> Result<PathBuf> { bail!("no runtime build for {p}") };
        let bins = || {
            Ok(vec![Artifact {
                name: "hello".into(),
                path: "/t/hello".into(),
            }])
        };
        let this_file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/programs.rs");
        let specs = [spec("hello"), spec(&format!("{this_file} x expect=3"))];
        let programs = resolve(&specs, bins, no_runtime).unwrap();
        assert_eq!(programs[0].path, Path::new("/t/hello"));
        assert_eq!(programs[1].path, Path::new(this_file));
        assert_eq!(
            (programs[1].args.clone(), programs[1].expect),
            (vec!["x".into()], 3)
        );
        // Files alone need no build.
        let never = || -> Result<Vec<Artifact>> { panic!("built needlessly") };
        assert_eq!(resolve(&specs[1..], never, no_runtime).unwrap().len(), 1);
        assert!(resolve(&[spec("nosuch")], bins, no_runtime).is_err());
        assert!(resolve(&[spec("./no/such.elf")], bins, no_runtime).is_err());
        let built = |p: &str| Ok(PathBuf::from("/built").join(p));
        let c = resolve(&[spec("glibc/x expect=3")], never, built).unwrap();
        assert_eq!(
            (c[0].path.as_path(), c[0].expect),
            (Path::new("/built/glibc/x"), 3)
        );
    }

    #[test]
    fn missing() {
        let prog = |name: &str| Program {
            path: PathBuf::from("/t").join(name),
            args: vec![],
            expect: 0,
        };
        let programs = [
            prog("hello"),
            prog("isolation"),
            prog("isolation"),
            prog("read_temp_region"),
        ];
        let reported = ["hello", "isolation", "read_temp_region", "other"].map(String::from);
        assert_eq!(missing_exits(&programs, &reported), ["isolation"]);
        assert!(missing_exits(&[], &reported).is_empty());
    }
}
