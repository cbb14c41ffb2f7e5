//! Programs built with real C runtimes, from the project's own sources: `glibc/NAME` is
//! `user/c/NAME.c` built by `gcc -m32 -static -pthread` (i386 glibc, Debian's
//! gcc-multilib), `musl/NAME` is `user/std/NAME.rs` built by the pinned toolchain's
//! `rustc --target i686-unknown-linux-musl` (Rust std on musl). Both are static i386 ELFs
//! the host's Linux runs too, which is what the differential tests use (runtimes.rs).
//! Built into `target/tempest/runtimes/`, again only when the source is newer.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The rustup target of the Rust std programs.
pub const MUSL_TARGET: &str = "i686-unknown-linux-musl";

/// Which runtime a program is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Glibc,
    Musl,
}

impl Runtime {
    /// The runtime and program name of a spec's program, `glibc/NAME` or `musl/NAME`.
    pub fn of(program: &str) -> Option<(Runtime, &str)> {
        let (prefix, name) = program.split_once('/')?;
        let runtime = match prefix {
            "glibc" => Runtime::Glibc,
            "musl" => Runtime::Musl,
            _ => return None,
        };
        (!name.is_empty() && !name.contains('/')).then_some((runtime, name))
    }

    /// The source of program `name` under the workspace `root`.
    pub fn source(self, root: &Path, name: &str) -> PathBuf {
        match self {
            Runtime::Glibc => root.join("user/c").join(format!("{name}.c")),
            Runtime::Musl => root.join("user/std").join(format!("{name}.rs")),
        }
    }
}

/// Where the built programs go.
pub fn output_dir(root: &Path) -> PathBuf {
    crate::build::target_dir(root).join("runtimes")
}

/// Builds `program` (`glibc/NAME` or `musl/NAME`) unless its ELF is newer than its source;
/// returns the ELF. The error says what is missing when the toolchain is.
pub fn build(root: &Path, program: &str) -> Result<PathBuf> {
    let (runtime, name) = Runtime::of(program)
        .with_context(|| format!("`{program}` is not glibc/NAME or musl/NAME"))?;
    let source = runtime.source(root, name);
    if !source.is_file() {
        bail!("program `{program}`: no source {}", source.display());
    }
    let dir = output_dir(root);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let elf = dir.join(name);
    if is_newer(&elf, &source) {
        return Ok(elf);
    }
    let mut cmd = match runtime {
        Runtime::Glibc => {
            let mut cmd = Command::new("gcc");
            cmd.args(["-m32", "-static", "-O2", "-pthread", "-Wall", "-o"]);
            cmd
        }
        Runtime::Musl => {
            let mut cmd = Command::new("rustc");
            cmd.args(["--edition", "2024", "--target", MUSL_TARGET, "-O", "-o"]);
            cmd
        }
    };
    // Built under a name of its own (per process and per call: tests build from several
    // threads), then renamed: two builds at once never boot a half-written ELF.
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = dir.join(format!("{name}.partial.{}.{build}", std::process::id()));
    let out = cmd
        .arg(&partial)
        .arg(&source)
        .current_dir(root)
        .output()
        .with_context(|| format!("cannot run the {runtime:?} toolchain"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "building {program} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end(),
            match runtime {
                Runtime::Glibc => "\n(i386 glibc comes with Debian's gcc-multilib)",
                Runtime::Musl => "\n(rustup target add i686-unknown-linux-musl)",
            }
        );
    }
    std::fs::rename(&partial, &elf).with_context(|| format!("renaming to {}", elf.display()))?;
    Ok(elf)
}

fn is_newer(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(a), modified(b)), (Some(a), Some(b)) if a >= b)
}

/// Whether `gcc -m32 -static` links an i386 glibc program here.
pub fn glibc_links() -> bool {
    let dir = std::env::temp_dir();
    let source = dir.join("tempest-probe-glibc.c");
    let elf = dir.join("tempest-probe-glibc");
    std::fs::write(
        &source,
        "#include <stdio.h>\nint main(void) { return puts(\"\") < 0; }\n",
    )
    .is_ok()
        && Command::new("gcc")
            .args(["-m32", "-static", "-o"])
            .arg(&elf)
            .arg(&source)
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Whether rustup has the musl target for the pinned toolchain (run in `root`).
pub fn musl_installed(root: &Path) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root)
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == MUSL_TARGET)
        })
}

/// Makes the toolchains of `runtimes` ready, as the runner provisions QEMU: the musl target
/// through rustup; gcc and i386 glibc (Debian's `gcc gcc-multilib`) through apt-get when
/// running as root. What cannot be provisioned is returned with the reason, so that the
/// caller can leave those programs out and say so.
pub fn ensure(root: &Path, runtimes: &[Runtime]) -> Vec<(Runtime, String)> {
    let mut missing = Vec::new();
    if runtimes.contains(&Runtime::Musl) && !musl_installed(root) {
        eprintln!("tempest: rustup target add {MUSL_TARGET}");
        let added = Command::new("rustup")
            .args(["target", "add", MUSL_TARGET])
            .current_dir(root)
            .status()
            .is_ok_and(|s| s.success());
        if !added {
            missing.push((
                Runtime::Musl,
                format!("`rustup target add {MUSL_TARGET}` failed"),
            ));
        }
    }
    if runtimes.contains(&Runtime::Glibc) && !glibc_links() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root_user = unsafe { libc::geteuid() } == 0;
        let installed = root_user
            && crate::provision::apt_install(&["gcc", "gcc-multilib"]).is_ok()
            && glibc_links();
        if !installed {
            missing.push((
                Runtime::Glibc,
                "gcc -m32 -static cannot link an i386 glibc program (Debian: apt-get install \
                 gcc gcc-multilib)"
                    .to_owned(),
            ));
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            Runtime::of("glibc/glibc_threads"),
            Some((Runtime::Glibc, "glibc_threads"))
        );
        assert_eq!(
            Runtime::of("musl/std_threads"),
            Some((Runtime::Musl, "std_threads"))
        );
        for other in ["hello", "/bin/true", "glibc/", "musl/a/b", "uclibc/x"] {
            assert_eq!(Runtime::of(other), None, "{other}");
        }
        let root = Path::new("/w");
        assert_eq!(Runtime::Glibc.source(root, "x"), Path::new("/w/user/c/x.c"));
        assert_eq!(
            Runtime::Musl.source(root, "y"),
            Path::new("/w/user/std/y.rs")
        );
    }

    #[test]
    fn a_missing_source_is_an_error_not_a_build() {
        let err = build(Path::new("/nonexistent"), "glibc/nothing").unwrap_err();
        assert!(format!("{err:#}").contains("no source"), "{err:#}");
        assert!(build(Path::new("/w"), "hello").is_err());
    }
}
