//! Formatted output to fd 1 and fd 2 (`print!`, `println!`, `eprint!`, `eprintln!`) and
//! the panic handler.

use core::fmt::{self, Write};

use crate::sys;

/// Size of the stack buffer a `print!` formats into before it writes.
const BUF_SIZE: usize = 256;

/// A `fmt::Write` sink that buffers up to 256 bytes and writes them to `fd`
/// when full and when dropped.
pub struct FdWriter {
    fd: i32,
    buf: [u8; BUF_SIZE],
    len: usize,
    failed: bool,
}

impl FdWriter {
    /// An empty buffer in front of `fd`.
    pub const fn new(fd: i32) -> Self {
        FdWriter {
            fd,
            buf: [0; BUF_SIZE],
            len: 0,
            failed: false,
        }
    }

    /// Writes out what is buffered (short writes are continued; an error drops the rest).
    pub fn flush(&mut self) -> fmt::Result {
        let mut done = 0;
        while done < self.len && !self.failed {
            let n = sys::write_bytes(self.fd, &self.buf[done..self.len]);
            if n <= 0 {
                self.failed = true;
            } else {
                done += n as usize;
            }
        }
        self.len = 0;
        if self.failed { Err(fmt::Error) } else { Ok(()) }
    }
}

impl Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            if self.len == BUF_SIZE {
                self.flush()?;
            }
            let n = bytes.len().min(BUF_SIZE - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

impl Drop for FdWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Formats `args` to `fd` (what the print macros expand to).
#[doc(hidden)]
pub fn _print(fd: i32, args: fmt::Arguments) {
    let mut out = FdWriter::new(fd);
    let _ = out.write_fmt(args);
}

/// Prints to fd 1.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::_print(1, format_args!($($arg)*)) };
}

/// Prints a line to fd 1.
#[macro_export]
macro_rules! println {
    () => { $crate::io::_print(1, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::_print(1, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to fd 2.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::_print(2, format_args!($($arg)*)) };
}

/// Prints a line to fd 2.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::io::_print(2, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::_print(2, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Exit status of a program that panicked (as Rust's std uses).
pub const PANIC_STATUS: i32 = 101;

/// Prints `panic: MESSAGE at FILE:LINE` to fd 2 and ends the process with status 101.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut out = FdWriter::new(2);
    let _ = write!(out, "panic: {}", info.message());
    if let Some(at) = info.location() {
        let _ = write!(out, " at {}:{}", at.file(), at.line());
    }
    let _ = out.write_str("\n");
    let _ = out.flush();
    sys::exit_group(PANIC_STATUS)
}
