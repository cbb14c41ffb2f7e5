//! i386 hardware for Tempest: control registers, cpuid, serial, GDT, IDT and trap entry,
//! paging entries, the PIT and QEMU's exit device.
//!
//! The encodings (paging entries, segment descriptors, exception names) are portable and
//! unit-tested on the host; everything that touches a register or a port is gated on
//! `target_arch = "x86"`.
#![no_std]

// The C memory routines every binary built on `arch` needs (see the crate).
extern crate cmem;

#[cfg(test)]
extern crate std;

pub mod atomic64;
pub mod descriptor;
pub mod exception;
pub mod ioapic;
pub mod paging;
pub mod tally;

#[cfg(target_arch = "x86")]
pub mod backtrace;
#[cfg(target_arch = "x86")]
pub mod context;
#[cfg(target_arch = "x86")]
pub mod cpu;
#[cfg(target_arch = "x86")]
pub mod fpu;
#[cfg(target_arch = "x86")]
pub mod gdt;
#[cfg(target_arch = "x86")]
pub mod idt;
#[cfg(target_arch = "x86")]
pub mod lapic;
#[cfg(target_arch = "x86")]
pub mod pic;
#[cfg(target_arch = "x86")]
pub mod pit;
#[cfg(target_arch = "x86")]
pub mod qemu_exit;
#[cfg(target_arch = "x86")]
pub mod rtc;
#[cfg(target_arch = "x86")]
pub mod serial;
#[cfg(target_arch = "x86")]
pub mod trap;
