//! Host-side runner for Tempest: provision tools, build the kernel, boot it in QEMU, classify the run.
//!
//! The `qemu` binary (`cargo qemu`) is a thin front end over this library; other host tools
//! (e.g. a benchmark driver) can reuse the same steps:
//!
//! 1. [`provision::ensure_target`] / [`provision::ensure_qemu`] install what is missing;
//! 2. [`build::build_kernel`] (or [`build::build_target_package`], [`build::build_target_bins`])
//!    builds for the i586 target; [`programs`] resolves the user programs to boot as modules
//!    ([`runtimes`] builds the glibc and Rust std ones);
//! 3. [`command::QemuConfig`] describes the machine and yields the QEMU command line;
//! 4. [`run::run`] spawns QEMU, streams the serial console and enforces the timeout;
//! 5. [`outcome::classify`] turns the run into an [`Outcome`] with a process exit code.
//!
//! [`serial`] parses the kernel's serial protocol (test results, `!!!` crash reports,
//! `@@tempest` JSON records, exit records) and [`symbolize`] resolves backtrace addresses
//! with DWARF.

pub mod build;
pub mod busybox;
pub mod capture;
pub mod command;
pub mod initrd;
pub mod options;
pub mod outcome;
pub mod programs;
pub mod provision;
pub mod run;
pub mod runtimes;
pub mod serial;
pub mod symbolize;

pub use command::{Accel, Machine, QemuConfig};
pub use outcome::{Outcome, classify};
pub use run::{RunOptions, RunResult, Termination};
pub use serial::records;
