//! The console as a terminal: its line discipline (`ldisc`, portable) and, in the kernel,
//! the serial line's input fed to it (`console`).

#[cfg(target_arch = "x86")]
pub mod console;
pub mod ldisc;
