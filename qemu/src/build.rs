//! Building workspace packages (the kernel, the user programs) for the i586 target.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The Rust target Tempest is built for.
pub const TARGET: &str = "i586-unknown-linux-gnu";

/// The cargo profile (see the root Cargo.toml) used for target builds.
pub const PROFILE: &str = "kernel";

/// Environment variables of an outer `cargo run`/`cargo test` that must not reach the nested
/// cargo: they would override the target rustflags from .cargo/config.toml or the target dir.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_TARGET_DIR",
];

/// The workspace root: the parent of this crate's directory, fixed at compile time, so the
/// binary works however it is started (cargo alias, `CARGO_BIN_EXE_qemu`, by hand).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The target directory of target builds: separate from the host one, since a nested cargo
/// sharing the outer target dir would wait forever for its lock during `cargo test`.
pub fn target_dir(root: &Path) -> PathBuf {
    root.join("target").join("tempest")
}

/// Where the executable `name` of a [`build_target_package`] build ends up.
pub fn artifact_path(root: &Path, name: &str) -> PathBuf {
    target_dir(root).join(TARGET).join(PROFILE).join(name)
}

/// The `cargo build` command for `package` (cargo from `$CARGO`, else PATH; environment
/// scrubbed of outer rustflags/target settings).
pub fn build_command(root: &Path, package: &str) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        package,
        "--target",
        TARGET,
        "--profile",
        PROFILE,
    ])
    .arg("--message-format=json-render-diagnostics")
    .current_dir(root);
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_TARGET_DIR", target_dir(root));
    cmd
}

/// An executable produced by a target build: the bin target's name and its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The bin target's name (for the user package: the program's name).
    pub name: String,
    /// The ELF.
    pub path: PathBuf,
}

/// Builds workspace `package` for [`TARGET`] with the [`PROFILE`] profile and returns every
/// executable it has (from cargo's JSON messages), in cargo's order. Cargo's progress and
/// diagnostics go to the terminal (stderr).
pub fn build_target_bins(root: &Path, package: &str) -> Result<Vec<Artifact>> {
    let mut child = build_command(root, package)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo")?;
    let stdout = child.stdout.take().context("cargo stdout not captured")?;
    let mut executables = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo output")?;
        if let Some(exe) = executable_of(&line) {
            executables.push(exe);
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("{package} build failed (cargo {status})");
    }
    Ok(executables)
}

/// Builds workspace `package` like [`build_target_bins`] and returns the path of its
/// executable: the one named like the package, else the only one.
pub fn build_target_package(root: &Path, package: &str) -> Result<PathBuf> {
    let executables = build_target_bins(root, package)?;
    pick_executable(executables, package)
        .or_else(|| Some(artifact_path(root, package)).filter(|p| p.is_file()))
        .with_context(|| format!("cargo built no executable for package `{package}`"))
}

/// Builds the kernel and returns the path of its ELF.
pub fn build_kernel(root: &Path) -> Result<PathBuf> {
    build_target_package(root, "kernel")
}

/// The [`Artifact`] of a `compiler-artifact` message that produced an executable.
fn executable_of(line: &str) -> Option<Artifact> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" {
        return None;
    }
    let exe = msg["executable"].as_str()?;
    let name = msg["target"]["name"].as_str().unwrap_or_default();
    Some(Artifact {
        name: name.to_owned(),
        path: PathBuf::from(exe),
    })
}

/// The executable named like the package, else the only one built.
fn pick_executable(mut exes: Vec<Artifact>, package: &str) -> Option<PathBuf> {
    if let Some(i) = exes.iter().position(|a| a.name == package) {
        return Some(exes.swap_remove(i).path);
    }
    (exes.len() == 1).then(|| exes.remove(0).path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_paths() {
        let root = workspace_root();
        assert!(root.join("qemu").join("Cargo.toml").is_file());
        assert_eq!(
            artifact_path(&root, "kernel"),
            root.join("target/tempest/i586-unknown-linux-gnu/kernel/kernel")
        );
    }

    #[test]
    fn command_scrubs_env() {
        let cmd = build_command(Path::new("/ws"), "kernel");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args[..7],
            [
                "build",
                "-p",
                "kernel",
                "--target",
                TARGET,
                "--profile",
                PROFILE
            ]
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert!(envs.contains(&("RUSTFLAGS".as_ref(), None)));
        assert!(envs.contains(&(
            "CARGO_TARGET_DIR".as_ref(),
            Some("/ws/target/tempest".as_ref())
        )));
    }

    #[test]
    fn artifact_messages() {
        let bin = r#"{"reason":"compiler-artifact","target":{"name":"kernel","kind":["bin"]},"executable":"/t/kernel","fresh":true}"#;
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"arch","kind":["lib"]},"executable":null}"#;
        let artifact = |name: &str, path: &str| Artifact {
            name: name.to_owned(),
            path: path.into(),
        };
        assert_eq!(executable_of(bin), Some(artifact("kernel", "/t/kernel")));
        assert_eq!(executable_of(lib), None);
        assert_eq!(executable_of("not json"), None);
        let exes = vec![artifact("init", "/t/init")];
        assert_eq!(pick_executable(exes, "user-init"), Some("/t/init".into()));
        assert_eq!(pick_executable(Vec::new(), "x"), None);
        let bins = vec![artifact("hello", "/t/hello"), artifact("user", "/t/user")];
        assert_eq!(
            pick_executable(bins.clone(), "user"),
            Some("/t/user".into())
        );
        assert_eq!(pick_executable(bins, "other"), None);
    }
}
