//! Debian's static busybox for i386, unchanged, on Tempest: the same shell scripts run by
//! the same busybox on the host and under Tempest (at `--smp 4`, the root file system an
//! initramfs in highmem) must print the same lines. The scripts are in `tests/busybox/`.

mod common;

use common::{expect, scratch, skip_outside_ci};
use std::path::{Path, PathBuf};

const TIMEOUT: &str = "600";

/// The root: busybox and its applet links in /bin, the scripts (and their data file) in
/// /scripts, an empty /work.
fn tree(busybox: &Path) -> PathBuf {
    let dir = scratch("busybox");
    qemu::busybox::install(busybox, &dir).expect("lay out busybox");
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/busybox");
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    for entry in std::fs::read_dir(&scripts).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("scripts").join(path.file_name().unwrap())).unwrap();
    }
    std::fs::create_dir_all(dir.join("work")).unwrap();
    dir
}

/// The scripts' lines, from the first `== ` header on, without the kernel's log lines.
fn lines(out: &str) -> Vec<&str> {
    out.lines()
        .skip_while(|l| !l.starts_with("== t_"))
        .filter(|l| !l.starts_with("[cpu") && !l.starts_with("@@tempest"))
        .take_while(|l| *l != "Tempest summary")
        .collect()
}

#[test]
fn busybox_scripts_print_the_same_on_tempest_as_on_linux() {
    let test = "busybox_scripts_print_the_same_on_tempest_as_on_linux";
    let root = qemu::build::workspace_root();
    let busybox = match qemu::busybox::ensure(&root) {
        Ok(b) => b,
        Err(e) => {
            skip_outside_ci(test, &format!("no busybox-static:i386: {e:#}"));
            return;
        }
    };
    let dir = tree(&busybox);
    let host_work = scratch("busybox-host-work");
    // The host runs the same scripts with the same busybox, its applets alone on PATH.
    let host = std::process::Command::new(dir.join("bin/busybox"))
        .args(["sh", "-c"])
        .arg(format!(
            "sh {}/scripts/all.sh {}/scripts {} 2>&1",
            dir.display(),
            dir.display(),
            host_work.display()
        ))
        .env("PATH", dir.join("bin"))
        .output()
        .expect("run busybox on the host");
    let host_out = String::from_utf8_lossy(&host.stdout).into_owned();
    let expected = lines(&host_out);
    assert!(
        expected
            .iter()
            .filter(|l| l.starts_with("== exit 0"))
            .count()
            == 3,
        "the scripts failed on the host:\n{host_out}"
    );
    let run = common::run_in_highmem(
        TIMEOUT,
        "",
        &[
            "--initrd",
            dir.to_str().unwrap(),
            "--init",
            "/bin/sh /scripts/all.sh /scripts /work",
        ],
    );
    expect(&run, 0, &["tempest: success"]);
    assert_eq!(
        lines(&run.serial),
        expected,
        "\n--- Tempest ---\n{}",
        run.out
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&host_work).unwrap();
}

/// `cargo qemu --shell` with commands piped in: busybox's shell on the console runs them
/// (its prompt, their output) and `exit 3` ends the run with status 3.
#[test]
fn a_piped_shell_session_runs_commands_and_exits_with_the_shells_status() {
    use std::io::Write;
    let test = "a_piped_shell_session_runs_commands_and_exits_with_the_shells_status";
    if let Err(e) = qemu::busybox::ensure(&qemu::build::workspace_root()) {
        skip_outside_ci(test, &format!("no busybox-static:i386: {e:#}"));
        return;
    }
    let _one_at_a_time = common::exclusive();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_qemu"))
        .args(["--shell", "--smp", "4", "--accel", "tcg"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the runner");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo hi from $((6*7))\nls /\ncd /tmp && echo made > f && cat f\nexit 3\n")
        .unwrap();
    let out = child.wait_with_output().expect("the runner ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{text}");
    for needle in [
        "built-in shell (ash)",
        "\nhi from 42",
        "bin   etc   root  tmp",
        "\nmade",
        "the shell exited with status 3",
    ] {
        assert!(text.contains(needle), "no `{needle}` in\n{text}");
    }
}

/// ^C on the console: the line discipline sends SIGINT to the foreground process group (the
/// job the shell started, not the shell), whose status the shell then reports as 130; the
/// input arrived by COM1's receive interrupt, not by polling: through the I/O APIC with
/// the local APICs in xAPIC and in x2APIC mode, and through the 8259 PIC on a CPU without
/// APIC.
#[test]
fn control_c_interrupts_the_foreground_job_and_the_shell_goes_on() {
    let test = "control_c_interrupts_the_foreground_job_and_the_shell_goes_on";
    if let Err(e) = qemu::busybox::ensure(&qemu::build::workspace_root()) {
        skip_outside_ci(test, &format!("no busybox-static:i386: {e:#}"));
        return;
    }
    for machine in [
        &["--smp", "4"][..],
        &["--smp", "4", "--x2apic"],
        &["--no-apic"],
    ] {
        control_c_session(machine);
    }
}

fn control_c_session(machine: &[&str]) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let _one_at_a_time = common::exclusive();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_qemu"))
        .args(["--shell", "--accel", "tcg"])
        .args(machine)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the runner");
    let output = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let output = Arc::clone(&output);
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                output.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let text = || String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
    let mut stdin = child.stdin.take().unwrap();
    // The job prints `started` once it runs in the foreground group (the shell makes it
    // the terminal's foreground before it runs), then sleeps far longer than the test.
    stdin
        .write_all(b"sh -c 'echo started; exec sleep 1000'\n")
        .unwrap();
    let waited = std::time::Instant::now();
    while !text().contains("\nstarted") {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(600),
            "the job never started:\n{}",
            text()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    stdin.write_all(b"\x03echo status $?\nexit 0\n").unwrap();
    drop(stdin);
    let status = child.wait().expect("the runner ends");
    reader.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let out = format!("{machine:?}:\n{}{stderr}", text());
    assert_eq!(status.code(), Some(0), "{out}");
    for needle in [
        "^C",
        "killed by SIGINT",
        "\nstatus 130",
        "the shell exited with status 0",
    ] {
        assert!(out.contains(needle), "no `{needle}` in\n{out}");
    }
    let interrupts: u32 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("console input  :"))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no console input line in the summary:\n{out}"));
    assert!(
        interrupts > 0,
        "the console was polled, not interrupt-driven:\n{out}"
    );
}
