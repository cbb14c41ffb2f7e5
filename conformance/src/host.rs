//! Runs a test on the host (the oracle) with a pseudo-terminal for its output, as a test
//! run by hand has: through a pipe, glibc buffers whole blocks, and a test that forks with
//! output still buffered prints it twice (Tempest's console is a terminal, so its runs
//! are line-buffered; both sides must be).

use crate::verdict::Outcome;
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt;

/// Runs `program` in `dir` (no arguments, no input) for at most `timeout`.
pub fn run(program: &Path, dir: &Path, timeout: Duration) -> Result<Outcome> {
    let (master, slave) = open_pty()?;
    let mut child = Command::new(program)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave))
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    // The reader ends when every holder of the terminal's other side (the test and any
    // child it left behind) has closed it; a child that never does is not waited for
    // more than a few seconds after the test ended.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut file = File::from(master);
        let mut chunk = [0u8; 4096];
        while let Ok(n) = file.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&chunk[..n]);
        }
        let _ = done_tx.send(());
    });
    let (status, unfinished) = match child.wait_timeout(timeout)? {
        Some(s) => (
            Some(s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))),
            None,
        ),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            (
                None,
                Some(format!("timed out after {} s", timeout.as_secs())),
            )
        }
    };
    let _ = done_rx.recv_timeout(Duration::from_secs(5));
    let out = output.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    let mut outcome = Outcome::from_lines(status, text.lines().map(str::to_owned).collect());
    outcome.unfinished = unfinished;
    Ok(outcome)
}

/// A new pseudo-terminal's two sides (default settings: its `\r\n` line ends are read
/// back as `\n`).
fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two new descriptors; the name, termios and size are null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if r != 0 {
        bail!("openpty: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened by openpty and are ours alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    Ok((master, slave))
}
