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

/// The CPU this code runs on. Only the boot CPU (0) runs until application processors are
/// brought up; the per-CPU block will answer this then.
pub fn cpu_id() -> u32 {
    0
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            kprintln!("[cpu{} {:<5}] {}", cpu_id(), record.level(), record.args());
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
