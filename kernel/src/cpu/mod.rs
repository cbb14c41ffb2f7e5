//! The per-CPU core, below the scheduler and memory management: each CPU's block (reached
//! through GS), its local APIC and timer, the start-up of the other CPUs, IPIs (reschedule
//! and call-function), TLB shootdown, and the spin locks every layer above uses. Nothing
//! here imports the scheduler or the process model; where this layer needs a service from
//! above (what an application processor runs once it is up), the layer above registers it.

pub mod ap;
pub mod apic;
pub mod ioapic;
pub mod ipi;
pub mod percpu;
pub mod shootdown;
pub mod sync;
pub mod watchdog;
