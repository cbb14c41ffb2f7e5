//! Files and pipes. The root file system from an initramfs (`cargo qemu --initrd DIR
//! --init 'PATH ARGS'`): a directory packed by the runner, unpacked by the kernel into
//! frames (highmem first) and read and written through temp mappings. The same static
//! glibc programs run on the host and on Tempest, and the two outputs must be the same
//! lines.

mod common;

use common::{Run, build_runtime, expect, run, scratch};
use std::path::{Path, PathBuf};

const TIMEOUT: &str = "300";

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The test tree: files of 0, 6, 4096 (one page exactly), 4097 and 300 000 bytes, nested
/// and empty directories, links to a file, to a directory, dangling and to themselves, and
/// `walker` as /bin/fs_walk (reached also through the link /bin/sh).
fn tree(name: &str, walker: &Path) -> PathBuf {
    let dir = scratch(name);
    for d in ["bin", "etc/empty", "data/deep/deeper"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("etc/motd"), b"hello\n").unwrap();
    std::fs::write(dir.join("data/empty"), b"").unwrap();
    let pattern = |len: usize, seed: u32| -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 24) as u8)
            .collect()
    };
    std::fs::write(dir.join("data/page"), pattern(4096, 1)).unwrap();
    std::fs::write(dir.join("data/page_and_one"), pattern(4097, 2)).unwrap();
    std::fs::write(dir.join("data/deep/deeper/big"), pattern(300_000, 3)).unwrap();
    chmod(&dir.join("data/page"), 0o600);
    chmod(&dir.join("etc"), 0o750);
    std::fs::copy(walker, dir.join("bin/fs_walk")).unwrap();
    chmod(&dir.join("bin/fs_walk"), 0o755);
    for (target, link) in [
        ("fs_walk", "bin/sh"),
        ("motd", "etc/link"),
        ("../etc", "data/up"),
        ("nowhere", "data/dangling"),
        ("loop", "loop"),
    ] {
        std::os::unix::fs::symlink(target, dir.join(link)).unwrap();
    }
    dir
}

fn lines_of<'a>(program: &str, out: &'a str) -> Vec<&'a str> {
    common::program_lines(program, out)
}

fn walk_lines(out: &str) -> Vec<&str> {
    lines_of("fs_walk", out)
}

/// Boots `dir` as the initramfs with `init`, at four CPUs, with all but 16 MiB of RAM in
/// highmem: the files' frames come from highmem, outside the direct map.
fn boot(dir: &Path, init: &str) -> Run {
    common::run_in_highmem(
        TIMEOUT,
        "",
        &["--initrd", dir.to_str().unwrap(), "--init", init],
    )
}

#[test]
fn files_read_on_tempest_as_on_linux() {
    let Some(walker) = build_runtime("files_read_on_tempest_as_on_linux", "glibc/fs_walk") else {
        return;
    };
    let dir = tree("walk", &walker);
    let host = std::process::Command::new(dir.join("bin/fs_walk"))
        .arg(&dir)
        .output()
        .expect("run fs_walk on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(host.status.success(), "fs_walk on the host:\n{host_out}");
    let expected = walk_lines(&host_out);
    assert!(
        expected.len() > 20
            && expected
                .iter()
                .any(|l| l.contains("deeper/big") && l.contains("size=300000")),
        "the host walk saw too little:\n{host_out}"
    );

    // Through the link, as busybox's applets are started.
    let run = boot(&dir, "/bin/sh /");
    expect(&run, 0, &["initramfs", "fs_walk: 0 failure(s)"]);
    let in_highmem = run
        .out
        .split(" in highmem)")
        .next()
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        in_highmem.is_some_and(|n| n > 250),
        "the files' frames are not in highmem ({in_highmem:?})\n{}",
        run.out
    );
    assert_eq!(
        walk_lines(&run.serial),
        expected,
        "\n--- Tempest ---\n{}",
        run.out
    );
    // The files took frames through temp mappings: the summary's temp counters moved and
    // nothing is held.
    let summary = common::record(&run, "summary");
    assert_eq!(summary["temp_held"], 0, "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_init_is_refused_with_the_reason() {
    let dir = scratch("noinit");
    std::fs::write(dir.join("readme"), b"no init here\n").unwrap();
    let run = boot(&dir, "/sbin/init expect=0");
    expect(
        &run,
        1,
        &["`/sbin/init` is not in the initramfs (errno 2)", "refused"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_truncated_initramfs_is_refused_with_the_place() {
    // A module the runner passes as it is (a PROGRAM path): the kernel knows it by its
    // magic and refuses it; what came before the cut stays, and no init starts.
    let dir = scratch("truncated");
    std::fs::write(dir.join("init"), vec![0x55u8; 10_000]).unwrap();
    let packed = qemu::initrd::pack(&dir).unwrap();
    let archive = dir.with_extension("cpio");
    std::fs::write(&archive, &packed.archive[..packed.archive.len() / 2]).unwrap();
    let run = run(
        "tcg",
        Some(TIMEOUT),
        &["--smp", "2", archive.to_str().unwrap()],
    );
    expect(
        &run,
        1,
        &["initramfs refused: archive ends inside the data of the entry at byte"],
    );
    assert!(!run.out.contains("\"event\":\"exit\""), "{}", run.out);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&archive).unwrap();
}

/// Runs the glibc program `name` (`user/c/NAME.c`) on the host with a fresh directory
/// and, as `/bin/NAME /work` in an initramfs, on Tempest; both must print the same lines
/// (at least `at_least` of them), the run must end with every frame back beyond the files
/// left and no temp slot held.
fn same_as_on_linux(test: &str, name: &str, at_least: usize) {
    let Some(program) = build_runtime(test, &format!("glibc/{name}")) else {
        return;
    };
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("work")).unwrap();
    std::fs::copy(&program, dir.join("bin").join(name)).unwrap();
    chmod(&dir.join("bin").join(name), 0o755);
    let host_work = scratch(&format!("{name}-host"));
    let host = std::process::Command::new(&program)
        .arg(&host_work)
        .output()
        .expect("run the program on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(host.status.success(), "{name} on the host:\n{host_out}");
    let expected = lines_of(name, &host_out);
    assert!(
        expected.len() > at_least,
        "the host run printed too little:\n{host_out}"
    );

    let run = boot(&dir, &format!("/bin/{name} /work"));
    expect(&run, 0, &[&format!("{name}: 0 failure(s)")]);
    assert_eq!(
        lines_of(name, &run.serial),
        expected,
        "\n--- Tempest ---\n{}",
        run.out
    );
    // Files written, truncated and removed gave their frames back (the run's own leak
    // check): what stays is what the tree still holds; and no temp slot is held.
    let summary = common::record(&run, "summary");
    assert_eq!(summary["temp_held"], 0, "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&host_work).unwrap();
}

#[test]
fn files_written_on_tempest_as_on_linux() {
    same_as_on_linux("files_written_on_tempest_as_on_linux", "fs_write", 30);
}

/// `mmap2` of a file: private mappings of a file the program wrote (whole, from a page
/// offset, with `MAP_FIXED` over anonymous memory), written and forked, and the errors,
/// print the same as on the host. The file's pages are in highmem, copied into the new
/// frames through two nested temp mappings.
#[test]
fn files_mapped_on_tempest_as_on_linux() {
    same_as_on_linux("files_mapped_on_tempest_as_on_linux", "mmap_file", 20);
}

#[test]
fn pipes_behave_on_tempest_as_on_linux() {
    let Some(pipes) = build_runtime("pipes_behave_on_tempest_as_on_linux", "glibc/pipes") else {
        return;
    };
    let host = std::process::Command::new(&pipes)
        .output()
        .expect("run pipes on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(host.status.success(), "pipes on the host:\n{host_out}");
    let expected = lines_of("pipes", &host_out);
    assert!(
        expected.len() > 15,
        "the host run printed too little:\n{host_out}"
    );
    let program = format!("{} expect=0", pipes.display());
    let run = common::run_in_highmem(TIMEOUT, "", &[&program]);
    expect(&run, 0, &["pipes: 0 failure(s)"]);
    assert_eq!(
        lines_of("pipes", &run.serial),
        expected,
        "\n--- Tempest ---\n{}",
        run.out
    );
    // Every pipe's frames went back when its last end closed (the run's leak check), and
    // no temp slot is held.
    assert_eq!(common::record(&run, "summary")["temp_held"], 0);
}
