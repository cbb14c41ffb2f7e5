//! The Tempest kernel. The portable modules (command line, boot information, physical
//! ranges and zones) are unit-tested on the host; the rest runs on i386 only.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod clock;
pub mod cmdline;
pub mod cred;
pub mod devstat;
pub mod elf;
pub mod errno;
pub mod files;
pub mod fs;
pub mod ioperm;
pub mod ldt;
pub mod mm;
pub mod signal;
pub mod syscall_table;
pub mod tls;
pub mod tty;
pub mod vdso;

#[cfg(target_arch = "x86")]
pub mod acpi;
#[cfg(target_arch = "x86")]
pub mod bench;
#[cfg(target_arch = "x86")]
pub mod boot;
#[cfg(target_arch = "x86")]
mod cmem_tests;
#[cfg(target_arch = "x86")]
pub mod console;
#[cfg(target_arch = "x86")]
pub mod cpu;
#[cfg(target_arch = "x86")]
pub mod crash;
#[cfg(target_arch = "x86")]
pub mod ktest;
#[cfg(target_arch = "x86")]
pub mod loader;
#[cfg(target_arch = "x86")]
pub mod panic;
#[cfg(target_arch = "x86")]
pub mod proc;
#[cfg(target_arch = "x86")]
pub mod programs;
#[cfg(target_arch = "x86")]
pub mod random;
#[cfg(target_arch = "x86")]
pub mod sched;
#[cfg(target_arch = "x86")]
#[path = "stress_tests.rs"]
mod stress_tests;
#[cfg(target_arch = "x86")]
pub mod syscall;
#[cfg(target_arch = "x86")]
pub mod time;
#[cfg(target_arch = "x86")]
pub mod traps;
#[cfg(target_arch = "x86")]
pub mod vdso_time;
