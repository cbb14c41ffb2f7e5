//! Provisioning of host tools (the i586 Rust target, QEMU) and choice of the accelerator.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::build::TARGET;
use crate::command::{Accel, QEMU_BINARY};
use crate::options::AccelChoice;

/// The KVM device probed by `--accel auto`.
pub const KVM_DEVICE: &str = "/dev/kvm";

/// Adds the i586 target to the workspace's pinned toolchain when `rustup` lacks it.
///
/// Runs in `root` so that rust-toolchain.toml selects the toolchain. Without rustup
/// nothing is checked (the build reports a missing target itself).
pub fn ensure_target(root: &Path) -> Result<()> {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output();
    let output = match listed {
        Ok(out) if out.status.success() => out,
        Ok(out) => bail!("`rustup target list --installed` failed ({})", out.status),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context("cannot run rustup"),
    };
    let installed = String::from_utf8_lossy(&output.stdout);
    if installed.lines().any(|l| l.trim() == TARGET) {
        return Ok(());
    }
    eprintln!("tempest: rustup target add {TARGET}");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .current_dir(root)
        .status()
        .context("cannot run rustup")?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed ({status})");
    }
    Ok(())
}

/// The oldest QEMU Tempest runs on: 9.0 is the first whose TCG emulates the x2APIC, which
/// the tests exercise (`--x2apic`). Debian 12 ships 7.2; its backports ship 10.0.
pub const QEMU_MIN: (u32, u32) = (9, 0);

/// Debian 12's backports, where a QEMU new enough comes from there.
const BACKPORTS: &str = "bookworm-backports";
const BACKPORTS_LIST: &str = "/etc/apt/sources.list.d/tempest-bookworm-backports.list";

/// The version `qemu-system-i386 --version` prints: `QEMU emulator version 10.0.2 (...)`.
pub fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.split("version ").nth(1)?;
    let mut numbers = rest
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u32>);
    Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
}

/// The version of the QEMU at `path`, if it runs and says one.
pub fn qemu_version(path: &Path) -> Option<(u32, u32)> {
    let out = Command::new(path).arg("--version").output().ok()?;
    parse_qemu_version(&String::from_utf8_lossy(&out.stdout))
}

/// Makes sure a `qemu-system-i386` of at least [`QEMU_MIN`] is on PATH, installing Debian's
/// `qemu-system-x86` as root (from bookworm-backports on Debian 12, whose own is 7.2).
pub fn ensure_qemu() -> Result<PathBuf> {
    let (major, minor) = QEMU_MIN;
    let found = find_on_path(QEMU_BINARY).map(|p| {
        let version = qemu_version(&p);
        (p, version)
    });
    let why = match &found {
        Some((path, Some(v))) if *v >= QEMU_MIN => return Ok(path.clone()),
        Some((path, Some((a, b)))) => {
            format!(
                "{} is QEMU {a}.{b}, older than {major}.{minor}",
                path.display()
            )
        }
        Some((path, None)) => format!("{} does not say its version", path.display()),
        None => format!("{QEMU_BINARY} is not on PATH"),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        bail!(
            "{why}; Tempest needs QEMU {major}.{minor} or later (its TCG emulates the x2APIC). \
             On Debian 12: add {BACKPORTS} (`deb <your Debian mirror> {BACKPORTS} main`) to \
             your apt sources, then `sudo apt-get install -t {BACKPORTS} qemu-system-x86`"
        );
    }
    eprintln!("tempest: {why}; installing qemu-system-x86 with apt-get");
    let bookworm = std::fs::read_to_string("/etc/os-release")
        .is_ok_and(|s| s.lines().any(|l| l == "VERSION_CODENAME=bookworm"));
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    if bookworm {
        if !Path::new(BACKPORTS_LIST).exists() {
            let mirror = debian_mirror("bookworm").with_context(|| {
                format!("no Debian archive for bookworm in apt's sources to add {BACKPORTS} from")
            })?;
            eprintln!(
                "tempest: adding {BACKPORTS} from {mirror} to apt's sources ({BACKPORTS_LIST})"
            );
            std::fs::write(BACKPORTS_LIST, format!("deb {mirror} {BACKPORTS} main\n"))
                .with_context(|| format!("writing {BACKPORTS_LIST}"))?;
        }
        install.extend(["-t", BACKPORTS]);
    }
    install.push("qemu-system-x86");
    run_apt(&["update"])?;
    run_apt(&install)?;
    let path = find_on_path(QEMU_BINARY)
        .with_context(|| format!("{QEMU_BINARY} still not on PATH after installing"))?;
    match qemu_version(&path) {
        Some(v) if v >= QEMU_MIN => Ok(path),
        v => bail!(
            "the installed {QEMU_BINARY} is {v:?}, still older than {major}.{minor}; install a newer QEMU"
        ),
    }
}

/// The archive apt already uses for Debian `suite`, from the machine's own configuration
/// (`apt-get indextargets`): a suite of the same archive (backports) comes from there too.
/// The project names no mirror itself.
pub fn debian_mirror(suite: &str) -> Option<String> {
    let out = Command::new("apt-get")
        .args(["indextargets", "--format", "$(REPO_URI) $(RELEASE)"])
        .output()
        .ok()?;
    mirror_for(&String::from_utf8_lossy(&out.stdout), suite)
}

/// The repository URI of `suite` in `apt-get indextargets` lines `URI RELEASE`.
fn mirror_for(lines: &str, suite: &str) -> Option<String> {
    lines.lines().find_map(|l| {
        let (uri, release) = l.trim().split_once(' ')?;
        (release == suite).then(|| uri.trim_end_matches('/').to_owned())
    })
}

/// Debian's i386 package `package`, unpacked under `target/tempest/debian/<package>/`
/// (once: later calls find it there). Fetched with `apt-get download` from the machine's
/// own apt sources, after `dpkg --add-architecture i386` when i386 is not known yet, which
/// needs root; unpacked with `dpkg-deb -x`. Returns the directory it was unpacked in.
pub fn debian_i386_package(root: &Path, package: &str) -> Result<PathBuf> {
    debian_i386_package_parts(root, package, &[])
}

/// Debian's i386 kernel, `linux-image-686`: the image package the meta package depends on
/// (as apt resolves it now, e.g. `linux-image-6.1.0-57-686`), fetched as
/// [`debian_i386_package`] does with only its `boot/vmlinuz-*` unpacked (its modules are
/// not needed to boot with an initramfs). Returns the kernel image's path.
pub fn debian_linux_kernel(root: &Path) -> Result<PathBuf> {
    ensure_i386_architecture("linux-image-686")?;
    let depends = Command::new("apt-cache")
        .args(["depends", "linux-image-686:i386"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run apt-cache")?;
    let text = String::from_utf8_lossy(&depends.stdout);
    let image = image_dependency(&text).with_context(|| {
        format!(
            "`apt-cache depends linux-image-686:i386` names no linux-image package: {}{}",
            text.trim(),
            String::from_utf8_lossy(&depends.stderr).trim()
        )
    })?;
    let unpacked = debian_i386_package_parts(root, &image, &["./boot/vmlinuz-*"])?;
    let boot = unpacked.join("boot");
    std::fs::read_dir(&boot)
        .with_context(|| format!("{image} unpacked no {}", boot.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .with_context(|| format!("no vmlinuz-* in {}", boot.display()))
}

/// The image package of `apt-cache depends linux-image-686:i386`'s output.
fn image_dependency(depends: &str) -> Option<String> {
    depends.lines().find_map(|l| {
        let name = l.trim().strip_prefix("Depends:")?.trim();
        let name = name.strip_suffix(":i386").unwrap_or(name);
        name.starts_with("linux-image-").then(|| name.to_owned())
    })
}

/// Adds the i386 architecture to dpkg when it is not known yet (as root; otherwise says
/// how), so apt can fetch `package`'s i386 build.
fn ensure_i386_architecture(package: &str) -> Result<()> {
    let foreign = Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()
        .context("cannot run dpkg (a Debian machine is needed to fetch Debian's packages)")?;
    if String::from_utf8_lossy(&foreign.stdout)
        .lines()
        .any(|a| a.trim() == "i386")
    {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "{package}:i386 needs the i386 architecture in dpkg: run \
             `sudo dpkg --add-architecture i386 && sudo apt-get update` once"
        );
    }
    eprintln!("tempest: dpkg --add-architecture i386");
    let status = Command::new("dpkg")
        .args(["--add-architecture", "i386"])
        .status()
        .context("cannot run dpkg")?;
    if !status.success() {
        bail!("`dpkg --add-architecture i386` failed ({status})");
    }
    run_apt(&["update"])
}

/// [`debian_i386_package`], unpacking only the members matching `parts` (tar patterns such
/// as `./boot/vmlinuz-*`; all of it when empty).
pub fn debian_i386_package_parts(root: &Path, package: &str, parts: &[&str]) -> Result<PathBuf> {
    debian_package_parts(root, package, Some("i386"), parts)
}

/// Debian's architecture-independent package `package` (e.g. `linux-source-6.12`),
/// fetched and unpacked as [`debian_i386_package_parts`] does, without the i386 step.
pub fn debian_all_package_parts(root: &Path, package: &str, parts: &[&str]) -> Result<PathBuf> {
    debian_package_parts(root, package, None, parts)
}

fn debian_package_parts(
    root: &Path,
    package: &str,
    arch: Option<&str>,
    parts: &[&str],
) -> Result<PathBuf> {
    // One fetch at a time in this process (tests ask from several threads at once); a
    // second process finds the result, or unpacks into its own directory and loses the
    // race to rename it harmlessly.
    static FETCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = FETCHING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = crate::build::target_dir(root).join("debian").join(package);
    let unpacked = dir.join("root");
    if unpacked.is_dir() {
        return Ok(unpacked);
    }
    if arch == Some("i386") {
        ensure_i386_architecture(package)?;
    }
    let spec = match arch {
        Some(arch) => format!("{package}:{arch}"),
        None => package.to_owned(),
    };
    std::fs::create_dir_all(&dir)?;
    eprintln!("tempest: apt-get download {spec}");
    let download = || {
        Command::new("apt-get")
            .args(["download", &spec])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .status()
    };
    let mut status = download().context("cannot run apt-get")?;
    if !status.success() && is_root() {
        // Package lists older than the i386 architecture: read them again once.
        run_apt(&["update"])?;
        status = download().context("cannot run apt-get")?;
    }
    if !status.success() {
        bail!("`apt-get download {spec}` failed ({status})");
    }
    let deb = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("apt-get download left no .deb in {}", dir.display()))?;
    let partial = dir.join(format!("root.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    if parts.is_empty() {
        let status = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&partial)
            .status()
            .context("cannot run dpkg-deb")?;
        if !status.success() {
            bail!("`dpkg-deb -x {}` failed ({status})", deb.display());
        }
    } else {
        std::fs::create_dir_all(&partial)?;
        let mut tarball = Command::new("dpkg-deb")
            .arg("--fsys-tarfile")
            .arg(&deb)
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot run dpkg-deb")?;
        let stream = tarball.stdout.take().context("dpkg-deb's output")?;
        let status = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(&partial)
            .arg("--wildcards")
            .args(parts)
            .stdin(stream)
            .status()
            .context("cannot run tar")?;
        let fed = tarball.wait().context("waiting for dpkg-deb")?;
        if !status.success() || !fed.success() {
            bail!(
                "unpacking {parts:?} of {} failed (tar {status}, dpkg-deb {fed})",
                deb.display()
            );
        }
    }
    if std::fs::rename(&partial, &unpacked).is_err() && unpacked.is_dir() {
        // Another process unpacked it first.
        let _ = std::fs::remove_dir_all(&partial);
    }
    if !unpacked.is_dir() {
        bail!(
            "cannot move the unpacked {package} to {}",
            unpacked.display()
        );
    }
    Ok(unpacked)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `apt-get update`, then `apt-get install` of `packages` (as root).
pub fn apt_install(packages: &[&str]) -> Result<()> {
    run_apt(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(packages);
    run_apt(&install)
}

fn run_apt(args: &[&str]) -> Result<()> {
    eprintln!("tempest: apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("`apt-get {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The first executable file called `name` in a PATH directory.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What probing /dev/kvm found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvmProbe {
    /// /dev/kvm opens read-write.
    Usable,
    /// /dev/kvm opens, but this KVM cannot run Tempest properly; the reason follows
    /// "/dev/kvm" in a sentence ("is ...").
    Unsuitable(String),
    /// /dev/kvm cannot be opened (the reason says why).
    Unusable(String),
}

/// Loaded when /dev/kvm is PVM (a paravirtualised, nested KVM) rather than hardware KVM.
const PVM_MODULE: &str = "/sys/module/kvm_pvm";

/// Probes /dev/kvm: it must open read-write, and not be PVM, which only runs 64-bit guests
/// well: a 32-bit guest boots in ~5 s, runs unpaged code very slowly and takes #GP (then a
/// triple fault) when it turns paging on, with two-level and PAE paging alike.
pub fn probe_kvm() -> KvmProbe {
    if let Err(e) = OpenOptions::new().read(true).write(true).open(KVM_DEVICE) {
        return KvmProbe::Unusable(e.to_string());
    }
    if Path::new(PVM_MODULE).exists() {
        return KvmProbe::Unsuitable("is kvm-pvm, which cannot run 32-bit paged guests".to_owned());
    }
    KvmProbe::Usable
}

/// Resolves `--accel` given the result of [`probe_kvm`], returning the accelerator and a
/// one-line explanation (e.g. `accel=kvm (-cpu qemu32)`).
pub fn resolve_accel(choice: AccelChoice, kvm: KvmProbe) -> Result<(Accel, String)> {
    Ok(match (choice, kvm) {
        (AccelChoice::Tcg, _) => (Accel::Tcg, "accel=tcg (requested)".to_owned()),
        (AccelChoice::Kvm | AccelChoice::Auto, KvmProbe::Usable) => {
            (Accel::Kvm, "accel=kvm (-cpu qemu32)".to_owned())
        }
        (AccelChoice::Kvm, KvmProbe::Unsuitable(why)) => (
            Accel::Kvm,
            format!("accel=kvm (-cpu qemu32; warning: {KVM_DEVICE} {why})"),
        ),
        (AccelChoice::Kvm, KvmProbe::Unusable(why)) => {
            bail!("--accel kvm requested but {KVM_DEVICE} is not usable: {why}")
        }
        (AccelChoice::Auto, KvmProbe::Unsuitable(why)) => {
            (Accel::Tcg, format!("accel=tcg ({KVM_DEVICE} {why})"))
        }
        (AccelChoice::Auto, KvmProbe::Unusable(why)) => (
            Accel::Tcg,
            format!("accel=tcg ({KVM_DEVICE} not usable: {why})"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_image_is_the_meta_packages_dependency() {
        let out = "linux-image-686:i386\n  Depends: linux-image-6.1.0-57-686:i386\n";
        assert_eq!(
            image_dependency(out).as_deref(),
            Some("linux-image-6.1.0-57-686")
        );
        assert_eq!(image_dependency("linux-image-686:i386\n"), None);
        assert_eq!(
            image_dependency("x\n  Depends: firmware-linux-free:i386\n"),
            None
        );
    }

    #[test]
    fn the_mirror_is_the_one_apt_uses_for_the_suite() {
        let lines = "https://mirror.example/debian-security/ bookworm-security\n\
                     https://mirror.example/debian/ bookworm\n\
                     https://mirror.example/debian/ bookworm-updates\n";
        assert_eq!(
            mirror_for(lines, "bookworm").as_deref(),
            Some("https://mirror.example/debian")
        );
        assert_eq!(mirror_for(lines, "trixie"), None);
        assert_eq!(mirror_for("", "bookworm"), None);
    }

    #[test]
    fn qemu_versions_are_read_from_the_banner() {
        let debian = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n\
                      Copyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers";
        assert_eq!(parse_qemu_version(debian), Some((10, 0)));
        let old = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)";
        assert_eq!(parse_qemu_version(old), Some((7, 2)));
        assert!(parse_qemu_version(old).unwrap() < QEMU_MIN);
        assert_eq!(
            parse_qemu_version("qemu-system-i386: command not found"),
            None
        );
        assert_eq!(parse_qemu_version("version x"), None);
    }

    #[test]
    fn accel_resolution() {
        let no = || KvmProbe::Unusable("Permission denied (os error 13)".to_owned());
        let pvm = || KvmProbe::Unsuitable("is kvm-pvm".to_owned());
        let (a, msg) = resolve_accel(AccelChoice::Auto, KvmProbe::Usable).unwrap();
        assert_eq!((a, msg.as_str()), (Accel::Kvm, "accel=kvm (-cpu qemu32)"));
        let (a, msg) = resolve_accel(AccelChoice::Auto, no()).unwrap();
        assert_eq!(a, Accel::Tcg);
        assert_eq!(
            msg,
            "accel=tcg (/dev/kvm not usable: Permission denied (os error 13))"
        );
        let (a, msg) = resolve_accel(AccelChoice::Auto, pvm()).unwrap();
        assert_eq!(
            (a, msg.as_str()),
            (Accel::Tcg, "accel=tcg (/dev/kvm is kvm-pvm)")
        );
        let (a, msg) = resolve_accel(AccelChoice::Kvm, pvm()).unwrap();
        assert_eq!(a, Accel::Kvm);
        assert!(msg.contains("warning"), "{msg}");
        assert_eq!(
            resolve_accel(AccelChoice::Tcg, KvmProbe::Usable).unwrap().0,
            Accel::Tcg
        );
        let err = resolve_accel(AccelChoice::Kvm, no()).unwrap_err();
        assert!(err.to_string().contains("Permission denied"), "{err}");
    }

    #[test]
    fn path_lookup() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("surely-not-a-real-binary-tempest").is_none());
    }
}
