//! The serial console as a terminal. Its input arrives by COM1's receive interrupt (ISA
//! IRQ 4, routed through the I/O APIC to CPU 0, or through the 8259 PIC on a machine
//! without APIC) and goes through the line discipline, whose echo goes back out and whose
//! signal characters signal the foreground process group. Readers of the console wait on
//! a wait list until a line (or, in raw mode, a byte) is there. Where the interrupt cannot
//! be routed (an APIC but no MADT), CPU 0 reads COM1 at every timer tick instead: QEMU
//! hands the guest a byte only when the UART's FIFO has room, so nothing is lost, at most
//! a tick late.
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
/// Input comes by interrupt (else CPU 0 polls at its ticks).
static INTERRUPT_DRIVEN: AtomicBool = AtomicBool::new(false);
static LDISC: IrqSpinLock<Option<LineDiscipline>> = IrqSpinLock::new(None);
/// The foreground process group (`TIOCSPGRP`; 0 until one is set: then a signal
/// character goes to every process).
static FOREGROUND: AtomicU32 = AtomicU32::new(0);
/// Bytes received, and receive interrupts taken (for the summary and the tests).
static RECEIVED: AtomicU32 = AtomicU32::new(0);
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);

/// The vector of COM1's interrupt through the I/O APIC.
pub const VECTOR: u8 = 0x40;
/// COM1's ISA interrupt line.
const COM1_IRQ: u8 = 4;

fn readers() -> &'static WaitList {
    static READERS: spin::Once<WaitList> = spin::Once::new();
    READERS.call_once(WaitList::new)
}

/// Turns console input on (`console-input`): routes COM1's receive interrupt to this CPU
/// (the boot CPU, after its local APIC and the I/O APICs are set up), or falls back to
/// polling, and says which.
pub fn enable_input() {
    *LDISC.lock() = Some(LineDiscipline::new());
    let how = match arch::lapic::mode() {
        Some(_) => match crate::cpu::ioapic::route_isa(COM1_IRQ, VECTOR, arch::lapic::id() as u8) {
            Ok(gsi) => {
                INTERRUPT_DRIVEN.store(true, Ordering::Release);
                alloc::format!("IRQ {COM1_IRQ} on GSI {gsi}, vector {VECTOR:#x}, CPU 0")
            }
            Err(e) => alloc::format!("polled at CPU 0's ticks ({e})"),
        },
        None => {
            INTERRUPT_DRIVEN.store(true, Ordering::Release);
            // SAFETY: the handler of vector `pic::BASE + 4` is `traps::handle`, which
            // passes it here.
            unsafe { arch::pic::unmask(COM1_IRQ) };
            alloc::format!("IRQ {COM1_IRQ} through the PIC, CPU 0")
        }
    };
    if INTERRUPT_DRIVEN.load(Ordering::Acquire) {
        arch::serial::enable_receive_interrupt();
    }
    INPUT.store(true, Ordering::Release);
    log::info!("console-input: the console is a terminal: input from COM1, {how}");
}

/// Whether the console takes input.
pub fn input_enabled() -> bool {
    INPUT.load(Ordering::Acquire)
}

/// Bytes received and receive interrupts taken so far.
pub fn input_counters() -> (u32, u32) {
    (
        RECEIVED.load(Ordering::Relaxed),
        INTERRUPTS.load(Ordering::Relaxed),
    )
}

/// COM1's receive interrupt: what it has received goes through the line discipline.
pub fn interrupt() {
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    receive();
}

/// At every timer tick of CPU 0: where input is polled, what COM1 received goes through the
/// line discipline.
pub fn tick() {
    if input_enabled() && !INTERRUPT_DRIVEN.load(Ordering::Relaxed) {
        receive();
    }
}

/// Reads COM1 until it has nothing more (so its interrupt line drops and the next byte
/// raises a new edge) and feeds the bytes to the line discipline.
fn receive() {
    if !input_enabled() {
        return;
    }
    loop {
        let mut buf = [0u8; 16];
        let n = arch::serial::receive_bytes(&mut buf);
        if n == 0 {
            return;
        }
        RECEIVED.fetch_add(n as u32, Ordering::Relaxed);
        take(&buf[..n]);
        if n < buf.len() {
            return;
        }
    }
}

/// Passes received bytes through the line discipline: echo, signals, wake-ups.
fn take(bytes: &[u8]) {
    let mut echo = alloc::vec::Vec::new();
    let mut signals = alloc::vec::Vec::new();
    let readable = {
        let mut ldisc = LDISC.lock();
        let Some(l) = ldisc.as_mut() else {
            return;
        };
        for &b in bytes {
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
