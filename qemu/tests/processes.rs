//! Processes: `fork` with copy-on-write memory, `waitpid` and exit statuses, and the
//! write-protect shootdown that keeps a parent's threads out of its child's pages. The
//! same static glibc program (`user/c/fork_cow.c`) runs on the host and on Tempest.

mod common;

use common::{build_runtime, expect, run};

const TIMEOUT: &str = "300";

fn lines(out: &str) -> Vec<&str> {
    common::program_lines("fork_cow", out)
}

/// Boots `fork_cow ARGS` at four CPUs with all but 16 MiB of RAM in highmem (every copy
/// on write then reads and writes highmem frames through two temp mappings).
fn boot(program: &std::path::Path, args: &str, cmdline: &str, status: u8) -> common::Run {
    let spec = format!("{} {args} expect={status}", program.display());
    common::run_in_highmem(TIMEOUT, cmdline, &[&spec])
}

#[test]
fn fork_and_wait_on_tempest_as_on_linux() {
    let Some(program) = build_runtime("fork_and_wait_on_tempest_as_on_linux", "glibc/fork_cow")
    else {
        return;
    };
    let host = std::process::Command::new(&program)
        .output()
        .expect("run fork_cow on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(host.status.success(), "fork_cow on the host:\n{host_out}");
    let expected = lines(&host_out);
    assert!(
        expected.len() > 10,
        "the host run printed too little:\n{host_out}"
    );
    let run = boot(&program, "", "", 0);
    expect(&run, 0, &["fork_cow: 0 failure(s)", "tempest: success"]);
    assert_eq!(
        lines(&run.serial),
        expected,
        "\n--- Tempest ---\n{}",
        run.out
    );
    // The run's own check: every frame back once every process is gone (a shared frame
    // freed twice or never would show), and no temp slot held.
    assert_eq!(common::record(&run, "summary")["temp_held"], 0);
}

/// `waitid`, `waitpid` by process group, and the select family (old `select`,
/// `_newselect`, `pselect6` with a signal mask, `ppoll`, glibc's `select`) on pipes:
/// `user/c/wait_select.c` prints the same lines on Tempest as on the host.
#[test]
fn waitid_and_select_on_tempest_as_on_linux() {
    let Some(program) = build_runtime(
        "waitid_and_select_on_tempest_as_on_linux",
        "glibc/wait_select",
    ) else {
        return;
    };
    let host = std::process::Command::new(&program)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run wait_select on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(
        host.status.success(),
        "wait_select on the host:\n{host_out}"
    );
    let expected = common::program_lines("wait_select", &host_out);
    assert!(
        expected.len() > 30,
        "the host run printed too little:\n{host_out}"
    );
    let spec = format!("{} expect=0", program.display());
    let run = common::run_in_highmem(TIMEOUT, "", &[&spec]);
    expect(&run, 0, &["wait_select: 0 failure(s)", "tempest: success"]);
    assert_eq!(
        common::program_lines("wait_select", &run.serial),
        expected,
        "\n--- Tempest ---\n{}",
        run.out
    );
}

#[test]
fn the_fork_shootdown_keeps_a_parents_thread_out_of_the_childs_page() {
    let Some(program) = build_runtime(
        "the_fork_shootdown_keeps_a_parents_thread_out_of_the_childs_page",
        "glibc/fork_cow",
    ) else {
        return;
    };
    let run = boot(&program, "stale", "", 0);
    expect(
        &run,
        0,
        &["ok: the child's copy stayed as it was at the fork while the parent's thread wrote"],
    );
}

/// Negative control: without the write-protect shootdown, the parent's thread on another
/// CPU keeps its writable translation and writes on into the frame the child now shares.
#[test]
fn without_the_fork_shootdown_the_child_sees_the_parents_writes() {
    let Some(program) = build_runtime(
        "without_the_fork_shootdown_the_child_sees_the_parents_writes",
        "glibc/fork_cow",
    ) else {
        return;
    };
    let run = boot(&program, "stale", "no-fork-flush", 1);
    expect(
        &run,
        0,
        &[
            "no-fork-flush",
            "STALE: the child's copy of the page moved after the fork",
        ],
    );
}

/// A test tree for `exec_test` under the target directory: the program as /bin/exec_test,
/// a `#!` script naming it as `interpreter`, a malformed ELF, a file without an execute
/// bit.
fn exec_tree(name: &str, program: &std::path::Path, interpreter: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::scratch(name);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::copy(program, dir.join("bin/exec_test")).unwrap();
    let script = format!("#!{interpreter} script-mode\necho never read\n");
    std::fs::write(dir.join("bin/script.sh"), script).unwrap();
    let mut broken = b"\x7fELF\x01\x01\x01".to_vec();
    broken.resize(200, 0xee);
    std::fs::write(dir.join("bin/broken"), broken).unwrap();
    std::fs::write(dir.join("data/plain"), b"just text\n").unwrap();
    for (file, mode) in [
        ("bin/exec_test", 0o755),
        ("bin/script.sh", 0o755),
        ("bin/broken", 0o755),
        ("data/plain", 0o644),
    ] {
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

fn exec_lines(out: &str) -> Vec<&str> {
    common::program_lines("exec_test", out)
}

#[test]
fn execve_on_tempest_as_on_linux() {
    let Some(program) = build_runtime("execve_on_tempest_as_on_linux", "glibc/exec_test") else {
        return;
    };
    let host_tree = exec_tree("exec-host", &program, "");
    // The host's script names the interpreter by its host path.
    let interpreter = host_tree.join("bin/exec_test");
    let host_tree = exec_tree("exec-host", &program, interpreter.to_str().unwrap());
    let host = std::process::Command::new(host_tree.join("bin/exec_test"))
        .arg(&host_tree)
        .output()
        .expect("run exec_test on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    assert!(host.status.success(), "exec_test on the host:\n{host_out}");
    let expected = exec_lines(&host_out);
    assert!(
        expected.len() > 12,
        "the host run printed too little:\n{host_out}"
    );

    let tree = exec_tree("exec", &program, "/bin/exec_test");
    let run = run(
        "tcg",
        Some(TIMEOUT),
        &[
            "--smp",
            "4",
            "--initrd",
            tree.to_str().unwrap(),
            "--init",
            "/bin/exec_test /",
        ],
    );
    expect(&run, 0, &["exec_test: 0 failure(s)", "tempest: success"]);
    assert_eq!(
        exec_lines(&run.serial),
        expected,
        "\n--- Tempest ---\n{}",
        run.out
    );
    std::fs::remove_dir_all(&tree).unwrap();
    std::fs::remove_dir_all(&host_tree).unwrap();
}

/// Malformed versions of the static ELF `program`, each refused by the loader for another
/// reason: name and bytes.
fn malformed(program: &std::path::Path) -> Vec<(&'static str, Vec<u8>)> {
    let good = std::fs::read(program).unwrap();
    let u16_at = |i: usize| u16::from_le_bytes([good[i], good[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes(good[i..i + 4].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u32_at(28), u16_at(42), u16_at(44));
    let phdr = |i: usize| phoff + i * phentsize;
    let first_load = (0..phnum)
        .find(|&i| u32_at(phdr(i)) == 1)
        .expect("a PT_LOAD");
    let poked = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut image = good.clone();
        f(&mut image);
        image
    };
    vec![
        ("bad-magic", poked(&|i| i[0] = 0)),
        ("elf64-class", poked(&|i| i[4] = 2)),
        ("big-endian", poked(&|i| i[5] = 2)),
        (
            "x86-64-machine",
            poked(&|i| i[18..20].copy_from_slice(&62u16.to_le_bytes())),
        ),
        (
            "shared-object",
            poked(&|i| i[16..18].copy_from_slice(&3u16.to_le_bytes())),
        ),
        ("truncated-header", good[..40].to_vec()),
        ("truncated-program-headers", good[..phoff + 8].to_vec()),
        (
            "no-load-segment",
            poked(&|i| {
                for n in 0..phnum {
                    if u32_at(phdr(n)) == 1 {
                        i[phdr(n)..phdr(n) + 4].copy_from_slice(&0u32.to_le_bytes());
                    }
                }
            }),
        ),
        (
            "segment-in-kernel-space",
            poked(&|i| {
                let at = phdr(first_load) + 8;
                i[at..at + 4].copy_from_slice(&0xC000_0000u32.to_le_bytes());
            }),
        ),
        (
            "file-larger-than-memory",
            poked(&|i| {
                let at = phdr(first_load) + 20;
                let filesz = u32_at(phdr(first_load) + 16) as u32;
                i[at..at + 4].copy_from_slice(&(filesz / 2).to_le_bytes());
            }),
        ),
        ("plain-text", b"just words, no program\n".to_vec()),
        ("empty-shebang", b"#!\n".to_vec()),
    ]
}

#[test]
fn execve_of_malformed_elfs_is_enoexec_and_the_caller_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let Some(program) = build_runtime(
        "execve_of_malformed_elfs_is_enoexec_and_the_caller_goes_on",
        "glibc/exec_test",
    ) else {
        return;
    };
    let tree = exec_tree("exec-corpus", &program, "/bin/exec_test");
    let corpus = tree.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let images = malformed(&program);
    for (name, bytes) in &images {
        std::fs::write(corpus.join(name), bytes).unwrap();
        std::fs::set_permissions(corpus.join(name), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    let run = run(
        "tcg",
        Some(TIMEOUT),
        &[
            "--smp",
            "2",
            "--initrd",
            tree.to_str().unwrap(),
            "--init",
            "/bin/exec_test corpus /corpus",
        ],
    );
    let summary = format!(
        "corpus: {0} of {0} refused with ENOEXEC, and the caller lives",
        images.len()
    );
    expect(&run, 0, &[summary.as_str(), "tempest: success"]);
    for (name, _) in &images {
        assert!(
            run.out.contains(&format!("corpus {name}: ENOEXEC")),
            "{name}\n{}",
            run.out
        );
    }
    // The kernel says why for each ELF it refused.
    assert!(run.out.contains("refused: "), "{}", run.out);
    std::fs::remove_dir_all(&tree).unwrap();
}
