//! The kernel console: `kprintln!` to COM1 and the `log` backend, which stamps every line
//! with the CPU and the level.

use crate::cmdline::LogLevel;
use core::fmt;
use log::{LevelFilter, Metadata, Record};

/// Prints to the console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

#[doc(hidden)]
pub fn print(args: fmt::Arguments<'_>) {
    arch::serial::write_fmt(args);
}

/// Prints a machine-readable record (`@@tempest {json}`) on a line of its own, even when a
/// user program left the console in the middle of a line.
pub fn record(json: fmt::Arguments<'_>) {
    arch::serial::write_line(format_args!("@@tempest {json}"));
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            kprintln!(
                "[cpu{} {:<5}] {}",
                crate::cpu::percpu::cpu_id(),
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Starts the serial console and the logger at `level`.
pub fn init(level: LogLevel) {
    arch::serial::init();
    // A second call (there is none) would leave the first logger in place.
    let _ = log::set_logger(&LOGGER);
    set_level(level);
}

/// Changes the log level (the command line's `log=`).
pub fn set_level(level: LogLevel) {
    log::set_max_level(match level {
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Trace => LevelFilter::Trace,
    });
}

/// A string written as a JSON string literal (quoted, escaped), for `@@tempest` records.
pub struct JsonStr<'a>(pub &'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use core::fmt::Write;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}
