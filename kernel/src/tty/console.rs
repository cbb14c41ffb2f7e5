//! The serial console as a terminal. Its input is read from COM1 at every timer tick of
//! CPU 0 (polled, not by the UART's interrupt: QEMU hands the guest a byte only when the
//! UART's FIFO has room, so nothing is lost, at most 10 ms late) and fed to the line
//! discipline, whose echo goes back out and whose signal characters signal the foreground
//! process group. Readers of the console wait on a wait list until a line (or, in raw
//! mode, a byte) is there.
//!
//! Input is on only with `console-input` on the kernel command line (the runner's
//! `--shell` sets it): without it a read of the console is an end of file, as before, so a
//! boot whose standard input is nothing never waits for it.

use super::ldisc::{Input, LineDiscipline, TERMIOS_LEN};
use crate::cpu::sync::IrqSpinLock;
use crate::errno::Errno;
use crate::sched::waitlist::WaitList;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

static INPUT: AtomicBool = AtomicBool::new(false);
static LDISC: IrqSpinLock<Option<LineDiscipline>> = IrqSpinLock::new(None);
/// The foreground process group (`TIOCSPGRP`; 0 until one is set: then a signal
/// character goes to every process).
static FOREGROUND: AtomicU32 = AtomicU32::new(0);

fn readers() -> &'static WaitList {
    static READERS: spin::Once<WaitList> = spin::Once::new();
    READERS.call_once(WaitList::new)
}

/// Turns console input on (`console-input`).
pub fn enable_input() {
    *LDISC.lock() = Some(LineDiscipline::new());
    INPUT.store(true, Ordering::Release);
    log::info!("console-input: the console is a terminal: input from COM1");
}

/// Whether the console takes input.
pub fn input_enabled() -> bool {
    INPUT.load(Ordering::Acquire)
}

/// At every timer tick of CPU 0: the bytes COM1 received go through the line discipline.
pub fn poll() {
    if !input_enabled() {
        return;
    }
    let mut buf = [0u8; 16];
    let n = arch::serial::receive_bytes(&mut buf);
    if n == 0 {
        return;
    }
    let mut echo = alloc::vec::Vec::new();
    let mut signals = alloc::vec::Vec::new();
    let readable = {
        let mut ldisc = LDISC.lock();
        let Some(l) = ldisc.as_mut() else {
            return;
        };
        for &b in &buf[..n] {
            let Input { echo: e, signal } = l.input(b);
            echo.extend(e);
            signals.extend(signal);
        }
        l.readable()
    };
    if !echo.is_empty() {
        arch::serial::write_bytes(&echo);
    }
    for sig in signals {
        crate::sched::signal_group(FOREGROUND.load(Ordering::Relaxed), sig);
    }
    if readable {
        readers().notify_all();
    }
}

/// `read` of the console: up to `len` bytes of input into `buf` (a canonical read ends
/// with its line), waiting for them; 0 at an end of file (^D), or always without
/// `console-input`. `EAGAIN` instead of waiting with `nonblock`, `EINTR`.
pub fn read(buf: u32, len: u32, nonblock: bool) -> Result<u32, Errno> {
    if !input_enabled() || len == 0 {
        return Ok(0);
    }
    loop {
        let seen = readers().changes();
        let bytes = LDISC
            .lock()
            .as_mut()
            .and_then(|l| l.read(len.min(4096) as usize));
        if let Some(bytes) = bytes {
            let process = crate::sched::current_process();
            crate::mm::uaccess::copy_to_user(&process.mem.lock().space, buf, &bytes)?;
            return Ok(bytes.len() as u32);
        }
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        readers().wait(seen)?;
    }
}

/// Whether a read would return now (`poll`).
pub fn readable() -> bool {
    !input_enabled() || LDISC.lock().as_ref().is_some_and(LineDiscipline::readable)
}

/// `TCGETS`.
pub fn termios() -> [u8; TERMIOS_LEN] {
    LDISC
        .lock()
        .as_ref()
        .map_or_else(|| LineDiscipline::new().termios(), LineDiscipline::termios)
}

/// `TCSETS` and its variants.
pub fn set_termios(t: &[u8; TERMIOS_LEN]) {
    if let Some(l) = LDISC.lock().as_mut() {
        l.set_termios(t);
    }
    readers().notify_all();
}

/// `TIOCGPGRP`.
pub fn foreground() -> u32 {
    FOREGROUND.load(Ordering::Relaxed)
}

/// `TIOCSPGRP`.
pub fn set_foreground(pgid: u32) {
    FOREGROUND.store(pgid, Ordering::Relaxed);
}
