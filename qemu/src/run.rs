//! Running QEMU: spawn, stream the serial console, enforce the timeout, capture for classification.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wait_timeout::ChildExt;

use crate::capture::LineSink;
#[cfg(doc)]
use crate::capture::{MAX_SERIAL_BYTES, TAIL_LINES};
use crate::outcome::{Outcome, classify};

/// Most of QEMU's stderr kept.
pub const MAX_STDERR_BYTES: usize = 1 << 20;
/// How long output is still collected after QEMU has exited.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// What QEMU prints when KVM stops the guest for good (it then waits forever, paused).
pub const KVM_INTERNAL_ERROR: &str = "KVM internal error";
/// How long QEMU's stderr is still read after a KVM internal error, before it is killed.
const KVM_DUMP_GRACE: Duration = Duration::from_millis(300);
/// How often QEMU's exit and the deadline are checked while the serial port is quiet.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How to run QEMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Kill QEMU when it has not exited after this long (`None`: wait forever).
    pub timeout: Option<Duration>,
    /// Copy the serial output (and annotations) to our stdout as it arrives.
    pub echo: bool,
    /// Hand our standard input to QEMU (its serial line's input: `--shell`) once the
    /// serial output has shown `STDIN_AFTER` (the kernel's UART set-up discards what comes
    /// before); a terminal is put in raw mode meanwhile, so keys go to the guest's line
    /// discipline as typed. Otherwise QEMU's standard input is empty.
    pub stdin: bool,
}

/// How QEMU ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// QEMU exited with this status.
    Exited(i32),
    /// QEMU was killed by this signal (not by us).
    Signaled(i32),
    /// The timeout expired and QEMU was killed.
    TimedOut(Duration),
    /// QEMU reported a KVM internal error (the guest can no longer run) and was killed.
    KvmInternalError,
}

impl From<ExitStatus> for Termination {
    fn from(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(sig)) => Termination::Signaled(sig),
            (None, None) => Termination::Exited(-1),
        }
    }
}

/// Everything a finished run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// How QEMU ended.
    pub termination: Termination,
    /// The serial output (lines joined by `\n`, `\r` removed), at most [`MAX_SERIAL_BYTES`].
    pub serial: String,
    /// Whether older serial output was dropped to respect [`MAX_SERIAL_BYTES`].
    pub serial_truncated: bool,
    /// The last [`TAIL_LINES`] serial lines.
    pub tail: Vec<String>,
    /// QEMU's stderr (at most [`MAX_STDERR_BYTES`]).
    pub stderr: String,
}

impl RunResult {
    /// Classifies the run.
    pub fn outcome(&self) -> Outcome {
        classify(&self.termination, &self.serial, &self.stderr)
    }

    /// The `@@tempest` records of the serial output.
    pub fn records(&self) -> Vec<serde_json::Value> {
        crate::serial::records(&self.serial)
    }
}

/// Kills and reaps QEMU when dropped (early return, panic): QEMU never outlives the run.
/// (If the runner itself is killed, the parent-death signal set up by [`spawn`] does it.)
pub struct ChildGuard(Child);

impl ChildGuard {
    /// The child process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Both are no-ops once the child has been reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// In the forked child: ask for SIGKILL when the parent dies, and bail out if it already has.
fn die_with_parent(parent: u32) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of the calling process; it is
    // async-signal-safe, so it may run between fork and exec.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getppid has no preconditions and is async-signal-safe.
    let ppid = unsafe { libc::getppid() };
    if ppid as u32 != parent {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

/// Spawns `cmd` with stdin null (or piped, with `stdin`), stdout and stderr piped, and
/// SIGKILL on parent death.
///
/// The parent-death signal fires when the spawning *thread* exits: spawn from a thread that
/// lives as long as the run.
pub fn spawn(mut cmd: Command, stdin: bool) -> Result<ChildGuard> {
    let parent = std::process::id();
    cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the hook runs in the child between fork and exec; `die_with_parent` only calls
    // async-signal-safe functions and does not allocate.
    unsafe {
        cmd.pre_exec(move || die_with_parent(parent));
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    Ok(ChildGuard(child))
}

/// Output of QEMU, as sent by the reader threads.
enum Output {
    Serial(Vec<u8>),
    Stderr(Vec<u8>),
}

/// Forwards everything `from` yields to `tx` as `wrap(bytes)`, until EOF.
fn forward(mut from: impl Read + Send + 'static, tx: Sender<Output>, wrap: fn(Vec<u8>) -> Output) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 8192];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if tx.send(wrap(buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
}

/// What the kernel prints once its console takes input (`console-input`): the runner
/// forwards its standard input from then on.
pub const STDIN_AFTER: &str = "console-input: the console is a terminal";

/// Copies our standard input to `input` (QEMU's) once the returned sender says go, until
/// our input ends (QEMU's then ends too).
fn forward_stdin(mut input: std::process::ChildStdin) -> mpsc::Sender<()> {
    let (go, wait) = mpsc::channel();
    thread::spawn(move || {
        if wait.recv().is_err() {
            return;
        }
        let mut buf = [0u8; 4096];
        let mut stdin = io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if input
                        .write_all(&buf[..n])
                        .and_then(|()| input.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    go
}

/// Our terminal in raw mode while it is QEMU's console (restored when dropped); `None`
/// when standard input is not a terminal.
struct RawTerminal(libc::termios);

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        // SAFETY: plain libc calls on fd 0 with a termios we own.
        unsafe {
            if libc::isatty(0) != 1 {
                return None;
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSANOW, &raw);
            Some(RawTerminal(saved))
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from fd 0 in `enter`.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}

/// Runs `cmd` (usually [`crate::QemuConfig::command`]) to completion or timeout.
///
/// Each complete serial line is passed to `annotate`; text it returns is echoed after the line.
/// A KVM internal error (QEMU then pauses forever) ends the run at once.
pub fn run(
    cmd: Command,
    opts: &RunOptions,
    annotate: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<RunResult> {
    let mut guard = spawn(cmd, opts.stdin)?;
    let child = guard.child();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().context("QEMU stdout not captured")?;
    let stderr = child.stderr.take().context("QEMU stderr not captured")?;
    forward(stdout, tx.clone(), Output::Serial);
    forward(stderr, tx, Output::Stderr);

    let (go, raw_terminal) = match child.stdin.take() {
        Some(input) => (Some(forward_stdin(input)), RawTerminal::enter()),
        None => (None, None),
    };
    let mut seen = Vec::new();
    let mut go = go;
    let mut sink = LineSink::new(opts.echo, annotate);
    let mut err_bytes = Vec::new();
    let mut take = |msg: Output, err_bytes: &mut Vec<u8>| match msg {
        Output::Serial(chunk) => {
            if go.is_some() {
                seen.extend_from_slice(&chunk);
                if seen
                    .windows(STDIN_AFTER.len())
                    .any(|w| w == STDIN_AFTER.as_bytes())
                {
                    let _ = go.take().map(|g| g.send(()));
                }
                let keep = seen.len().saturating_sub(STDIN_AFTER.len());
                seen.drain(..keep);
            }
            sink.feed(&chunk)
        }
        Output::Stderr(chunk) => {
            let room = MAX_STDERR_BYTES.saturating_sub(err_bytes.len());
            err_bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    };
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let left = |d: Instant| d.saturating_duration_since(Instant::now());
    let child = guard.child();
    let kvm_failed = |err: &[u8]| String::from_utf8_lossy(err).contains(KVM_INTERNAL_ERROR);
    let mut kvm_error_seen = None;
    // Polls the exit too, in case something QEMU started keeps its pipes open.
    let termination = loop {
        let slice = deadline.map_or(POLL_INTERVAL, |d| left(d).min(POLL_INTERVAL));
        match rx.recv_timeout(slice) {
            Ok(msg) => take(msg, &mut err_bytes),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let status = match deadline {
                    None => Some(child.wait().context("waiting for QEMU")?),
                    Some(d) => child.wait_timeout(left(d)).context("waiting for QEMU")?,
                };
                break status.map_or(
                    Termination::TimedOut(opts.timeout.unwrap_or_default()),
                    Termination::from,
                );
            }
        }
        if let Some(status) = child.try_wait().context("waiting for QEMU")? {
            break status.into();
        }
        // Give QEMU a moment to finish its register dump before killing it.
        if kvm_error_seen.is_none() && kvm_failed(&err_bytes) {
            kvm_error_seen = Some(Instant::now());
        }
        if kvm_error_seen.is_some_and(|t| t.elapsed() >= KVM_DUMP_GRACE) {
            break Termination::KvmInternalError;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Termination::TimedOut(opts.timeout.unwrap_or_default());
        }
    };
    if matches!(
        termination,
        Termination::TimedOut(_) | Termination::KvmInternalError
    ) {
        child.kill().context("killing QEMU")?;
        child.wait().context("reaping QEMU")?;
    }
    // QEMU is gone, so its pipes reach EOF unless something it started still holds them:
    // drain what is left, but do not wait on such a straggler (its reader thread is detached).
    let drain_until = Instant::now() + DRAIN_GRACE;
    while let Ok(msg) = rx.recv_timeout(left(drain_until)) {
        take(msg, &mut err_bytes);
    }
    drop(raw_terminal);
    let (serial, serial_truncated, tail) = sink.finish().finish();
    Ok(RunResult {
        termination,
        serial,
        serial_truncated,
        tail,
        stderr: String::from_utf8_lossy(&err_bytes).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> RunOptions {
        RunOptions {
            timeout: Some(Duration::from_secs(20)),
            echo: false,
            stdin: false,
        }
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn streams_lines_status_and_stderr() {
        let mut seen = Vec::new();
        let mut annotate = |l: &str| {
            seen.push(l.to_owned());
            None
        };
        let res = run(
            sh("printf 'a\\r\\nb\\nno newline'; echo oops >&2; exit 33"),
            &quiet(),
            &mut annotate,
        )
        .unwrap();
        assert_eq!(res.termination, Termination::Exited(33));
        assert_eq!(res.serial, "a\nb\nno newline\n");
        assert_eq!(res.tail, ["a", "b", "no newline"]);
        assert_eq!(res.stderr, "oops\n");
        assert_eq!(seen, ["a", "b", "no newline"]);
        assert_eq!(res.outcome(), Outcome::Success);
    }

    #[test]
    fn timeout_kills() {
        let opts = RunOptions {
            timeout: Some(Duration::from_millis(300)),
            echo: false,
            stdin: false,
        };
        let start = Instant::now();
        let res = run(sh("echo started; exec sleep 30"), &opts, &mut |_| None).unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(
            res.termination,
            Termination::TimedOut(Duration::from_millis(300))
        );
        assert_eq!(res.tail, ["started"]);
        assert_eq!(res.outcome().exit_code(), 4);
    }

    #[test]
    fn signal_and_spawn_failure() {
        let res = run(sh("kill -9 $$"), &quiet(), &mut |_| None).unwrap();
        assert_eq!(res.termination, Termination::Signaled(9));
        assert!(run(Command::new("/nonexistent/qemu"), &quiet(), &mut |_| None).is_err());
        // A grandchild keeping the pipe open must not block the end of the run.
        let start = Instant::now();
        let res = run(sh("sleep 30 & exit 33"), &quiet(), &mut |_| None).unwrap();
        assert_eq!(res.termination, Termination::Exited(33));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
