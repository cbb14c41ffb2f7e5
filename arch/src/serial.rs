//! COM1, the kernel console: a 16550 UART behind a spin lock, taken with interrupts off
//! (an interrupt handler may log while the code it interrupted prints).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;
use uart_16550::{Config, Uart16550Tty, backend::PioBackend};

/// I/O base of COM1.
pub const COM1: u16 = 0x3F8;

static PORT: Mutex<Option<Uart16550Tty<PioBackend>>> = Mutex::new(None);

type Port = Uart16550Tty<PioBackend>;

/// Runs `f` on the port, if there is one, holding its lock with interrupts off. While
/// another CPU holds it, this one waits with interrupts as they were, so a long line
/// elsewhere does not keep this CPU's interrupts off too.
#[track_caller]
fn with_port(f: impl FnOnce(&mut Port)) {
    loop {
        let irq = crate::cpu::IrqGuard::new();
        if let Some(mut port) = PORT.try_lock() {
            if let Some(port) = port.as_mut() {
                f(port);
            }
            return;
        }
        drop(irq);
        while PORT.is_locked() {
            core::hint::spin_loop();
        }
    }
}
/// Whether the last byte written was a newline (or nothing was written yet).
static AT_LINE_START: AtomicBool = AtomicBool::new(true);

fn note_last_byte(bytes: &[u8]) {
    if let Some(&last) = bytes.last() {
        AT_LINE_START.store(last == b'\n', Ordering::Relaxed);
    }
}

/// Tracks the last byte of formatted output.
struct Tracking<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Tracking<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        note_last_byte(s.as_bytes());
        self.0.write_str(s)
    }
}

/// Initializes COM1. Without a working UART the console stays silent.
pub fn init() {
    // SAFETY: COM1 is a standard PC port owned by this module alone.
    let port = unsafe { Uart16550Tty::new_port(COM1, Config::default()) }.ok();
    *PORT.lock() = port;
}

/// Writes formatted text to the console.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    with_port(|port| {
        let _ = Tracking(port).write_fmt(args);
    });
}

/// Ends the line in progress, if any, so what follows starts on a line of its own.
pub fn fresh_line() {
    with_port(|port| {
        if !AT_LINE_START.load(Ordering::Relaxed) {
            let _ = Tracking(port).write_str("\n");
        }
    });
}

/// Writes `args` and a newline as one line of its own: a newline first if the console is in
/// the middle of a line (a user program's output without one, say).
pub fn write_line(args: fmt::Arguments<'_>) {
    with_port(|port| {
        let mut out = Tracking(port);
        if !AT_LINE_START.load(Ordering::Relaxed) {
            let _ = out.write_str("\n");
        }
        let _ = out.write_fmt(format_args!("{args}\n"));
    });
}

/// Most bytes sent in one hold of the port (interrupts off): under TCG a byte costs some
/// 4 000 cycles, on a real 16550 at 115 200 baud 87 µs, so a page at once would keep
/// interrupts off for milliseconds.
const CHUNK: usize = 256;

/// Writes raw bytes to the console (a user program's output), a line or `CHUNK` bytes per
/// hold of the port, so other CPUs' lines come between lines, not inside short ones.
pub fn write_bytes(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let window = &rest[..rest.len().min(CHUNK)];
        let len = window
            .iter()
            .position(|&b| b == b'\n')
            .map_or(window.len(), |i| i + 1);
        let (piece, tail) = rest.split_at(len);
        with_port(|port| {
            port.inner_mut().send_bytes_exact(piece);
            note_last_byte(piece);
        });
        rest = tail;
    }
}

/// Releases the console lock unconditionally, so a panic report gets out even when the
/// panicking code held it.
///
/// # Safety
/// Only when the holder will never run again (the panic path stops every CPU).
pub unsafe fn force_unlock() {
    if PORT.is_locked() {
        // SAFETY: see the function's contract.
        unsafe { PORT.force_unlock() };
    }
}

/// Reads what COM1 has received, up to `buf.len()` bytes, without waiting; the count.
pub fn receive_bytes(buf: &mut [u8]) -> usize {
    let mut n = 0;
    with_port(|port| n = port.inner_mut().receive_bytes(buf));
    n
}

/// Makes COM1 raise its interrupt line (ISA IRQ 4) when a byte is received. The line
/// stays up until every received byte is read (`receive_bytes` until it returns less than
/// asked).
pub fn enable_receive_interrupt() {
    with_port(|port| {
        port.inner_mut()
            .enable_interrupts(uart_16550::spec::registers::IER::DATA_READY)
    });
}
