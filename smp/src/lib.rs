//! Tempest's multiprocessor layer: how many CPUs there are and how they talk to each other.
//!
//! It sits between `arch` (one CPU's registers) and `kernel` (which composes them). So far:
//! the ACPI topology ([`topology`]), portable and unit-tested on the host against QEMU's own
//! tables. AP start-up, IPIs and TLB shootdown follow.
#![no_std]

extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod shootdown;
pub mod topology;
