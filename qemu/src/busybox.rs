//! Debian's static busybox for i386, unchanged, as the user space of a root file system:
//! provisioned like QEMU (`provision::debian_i386_package`), and laid out as a root
//! directory with one link per applet in `/bin`, the way Debian's initramfs tools do.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The busybox binary, fetched and unpacked once under `target/tempest/debian/`.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let unpacked = crate::provision::debian_i386_package(root, "busybox-static")?;
    let busybox = unpacked.join("bin/busybox");
    if !busybox.is_file() {
        bail!("busybox-static has no bin/busybox ({})", unpacked.display());
    }
    Ok(busybox)
}

/// Its applets, as it lists them (it runs on the host: a static i386 binary).
pub fn applets(busybox: &Path) -> Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("cannot run {} --list", busybox.display()))?;
    if !out.status.success() {
        bail!("{} --list failed", busybox.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Makes `dir/bin/busybox` and a link `dir/bin/APPLET -> busybox` for each applet.
pub fn install(busybox: &Path, dir: &Path) -> Result<()> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(busybox, bin.join("busybox"))
        .with_context(|| format!("cannot copy {}", busybox.display()))?;
    for applet in applets(busybox)? {
        if applet == "busybox" || bin.join(&applet).exists() {
            continue;
        }
        std::os::unix::fs::symlink("busybox", bin.join(&applet))?;
    }
    Ok(())
}
