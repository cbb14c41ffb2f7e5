//! Inter-processor interrupts on fixed vectors: reschedule (a task was made ready on the
//! target), call-function (run a function on a given CPU and wait for it to finish: the
//! mechanism TLB shootdown builds on), and stop-all (an NMI from the panic path, which also
//! reaches CPUs running with interrupts off).

use crate::cpu::apic::{CALL_VECTOR, RESCHEDULE_VECTOR};
use crate::cpu::percpu::{self, CpuStats, cpu_id};
use arch::lapic::{self, Kind, Target};
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use smp::shootdown::MAX_CPUS;

/// One CPU's incoming call: the function and its argument, and whether it is pending.
struct Mailbox {
    func: AtomicUsize,
    arg: AtomicUsize,
    pending: AtomicBool,
    /// Set while the call runs, so a wait loop inside it does not run it again.
    running: AtomicBool,
}

static MAILBOX: [Mailbox; MAX_CPUS] = [const {
    Mailbox {
        func: AtomicUsize::new(0),
        arg: AtomicUsize::new(0),
        pending: AtomicBool::new(false),
        running: AtomicBool::new(false),
    }
}; MAX_CPUS];

/// Held by the one CPU that is calling another (calls are rare: tests, panics, shootdown).
static CALLER: AtomicBool = AtomicBool::new(false);

/// How long a target may take to run a call before it is declared silent.
const CALL_TIMEOUT_MS: u64 = 5_000;

/// A CPU did not answer a call in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Silent {
    pub cpu: usize,
}

impl fmt::Display for Silent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpu {} did not answer an IPI within {CALL_TIMEOUT_MS} ms",
            self.cpu
        )
    }
}

fn apic_id(cpu: usize) -> Option<u32> {
    percpu::cpu(cpu).map(|c| c.apic_id.load(Ordering::Relaxed))
}

/// Asks `cpu` to reschedule (it may be idle in `hlt` with a task just made ready).
pub fn reschedule(cpu: usize) {
    if let (Some(id), Some(_)) = (apic_id(cpu), lapic::mode()) {
        // SAFETY: a fixed-vector IPI to an online CPU, whose handler is in the shared IDT.
        unsafe { lapic::send(Target::Cpu(id), Kind::Fixed(RESCHEDULE_VECTOR)) };
        CpuStats::bump(&percpu::this().stats.ipis_sent);
    }
}

/// Runs `func(arg)` on `cpu` (in its interrupt handler) and waits until it has returned.
/// While waiting, this CPU answers calls aimed at itself, so two CPUs calling each other
/// cannot deadlock.
pub fn call_on(cpu: usize, func: fn(usize), arg: usize) -> Result<(), Silent> {
    if cpu == cpu_id() {
        func(arg);
        return Ok(());
    }
    call_async(cpu, func, arg)?.wait()
}

/// A call posted with `call_async`, running on its target; `wait` for it.
#[must_use = "a posted call holds the caller slot until waited for"]
pub struct Pending {
    cpu: usize,
}

/// Starts `func(arg)` on another CPU and returns at once; the call holds the one caller
/// slot until `wait` (so only one call is in flight system-wide).
pub fn call_async(cpu: usize, func: fn(usize), arg: usize) -> Result<Pending, Silent> {
    assert_ne!(cpu, cpu_id(), "call_async to the calling CPU");
    let id = apic_id(cpu).ok_or(Silent { cpu })?;
    take_caller_slot();
    post(cpu, id, func, arg);
    Ok(Pending { cpu })
}

/// While a caller waits: run calls aimed at this CPU and answer shootdowns, so two CPUs
/// waiting on each other both make progress.
fn serve_while_waiting() {
    service();
    crate::cpu::shootdown::serve();
    core::hint::spin_loop();
}

fn take_caller_slot() {
    while CALLER
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        serve_while_waiting();
    }
}

/// Puts `func(arg)` in `cpu`'s mailbox and interrupts it (the caller slot is held).
fn post(cpu: usize, apic: u32, func: fn(usize), arg: usize) {
    let mailbox = &MAILBOX[cpu];
    mailbox.func.store(func as usize, Ordering::Relaxed);
    mailbox.arg.store(arg, Ordering::Relaxed);
    mailbox.pending.store(true, Ordering::Release);
    // SAFETY: a fixed-vector IPI to an online CPU; `lapic::send` fences the stores above
    // before the ICR write.
    unsafe { lapic::send(Target::Cpu(apic), Kind::Fixed(CALL_VECTOR)) };
    CpuStats::bump(&percpu::this().stats.ipis_sent);
}

/// Waits until `cpu`'s call has returned, or `deadline` (TSC) passes.
fn wait_for(cpu: usize, deadline: u64) -> Result<(), Silent> {
    while MAILBOX[cpu].pending.load(Ordering::Acquire) {
        if arch::cpu::rdtsc() > deadline {
            return Err(Silent { cpu });
        }
        serve_while_waiting();
    }
    Ok(())
}

/// Runs `func(arg)` on every online CPU at the same time (this one included) and waits
/// until every run has returned.
pub fn call_everywhere(func: fn(usize), arg: usize) -> Result<(), Silent> {
    let all: alloc::vec::Vec<usize> = percpu::online().map(|c| c.id()).collect();
    call_on_cpus(&all, func, arg)
}

/// Runs `func(arg)` on each CPU of `cpus` at the same time (this one too, if listed) and
/// waits until every run has returned.
pub fn call_on_cpus(cpus: &[usize], func: fn(usize), arg: usize) -> Result<(), Silent> {
    let me = cpu_id();
    let targets: alloc::vec::Vec<(usize, u32)> = percpu::online()
        .filter(|c| c.id() != me && cpus.contains(&c.id()))
        .map(|c| (c.id(), c.apic_id.load(Ordering::Relaxed)))
        .collect();
    take_caller_slot();
    for &(cpu, apic) in &targets {
        post(cpu, apic, func, arg);
    }
    if cpus.contains(&me) {
        func(arg);
    }
    let deadline = arch::cpu::rdtsc() + crate::time::tsc_per_ms() * CALL_TIMEOUT_MS;
    // Every target is waited for; the first silent one is reported.
    let mut result = Ok(());
    for &(cpu, _) in &targets {
        if let Err(e) = wait_for(cpu, deadline) {
            result = result.and(Err(e));
        }
    }
    CALLER.store(false, Ordering::Release);
    result
}

impl Pending {
    /// Waits (bounded) until the call has returned on its CPU.
    pub fn wait(self) -> Result<(), Silent> {
        let deadline = arch::cpu::rdtsc() + crate::time::tsc_per_ms() * CALL_TIMEOUT_MS;
        let result = wait_for(self.cpu, deadline);
        CALLER.store(false, Ordering::Release);
        result
    }
}

/// Runs the call pending for this CPU, if any (the call vector's handler, and callers
/// waiting on other CPUs).
pub fn service() {
    let mailbox = &MAILBOX[cpu_id()];
    if !mailbox.pending.load(Ordering::Acquire) || mailbox.running.swap(true, Ordering::Acquire) {
        return;
    }
    let func = mailbox.func.load(Ordering::Relaxed);
    let arg = mailbox.arg.load(Ordering::Relaxed);
    // SAFETY: `func` was stored from a `fn(usize)` by `call_on` before `pending` was set.
    let func: fn(usize) = unsafe { core::mem::transmute::<usize, fn(usize)>(func) };
    CpuStats::bump(&percpu::this().stats.ipis);
    func(arg);
    mailbox.running.store(false, Ordering::Relaxed);
    mailbox.pending.store(false, Ordering::Release);
}

/// Stops every other CPU with an NMI (the panic path: their NMI handler halts them, even
/// if they run with interrupts off).
pub fn stop_others() {
    if lapic::mode().is_some() && percpu::online().count() > 1 {
        // SAFETY: NMIs to the other CPUs, whose NMI handler halts them while panicking.
        unsafe { lapic::send(Target::AllButSelf, Kind::Nmi) };
    }
}

mod tests {
    use super::*;
    use crate::{check, check_eq, kernel_test};

    static ANSWERED: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(usize::MAX) }; MAX_CPUS];

    fn record(token: usize) {
        ANSWERED[cpu_id()].store(token, Ordering::Relaxed);
    }

    kernel_test! {
        fn call_function_reaches_every_cpu() {
            let cpus: alloc::vec::Vec<usize> = percpu::online().map(|c| c.id()).collect();
            for &cpu in &cpus {
                let before = percpu::cpu(cpu).ok_or("cpu went away")?.stats.ipis.load(Ordering::Relaxed);
                call_on(cpu, record, 1000 + cpu).map_err(|_| "a CPU did not answer")?;
                check_eq!(ANSWERED[cpu].load(Ordering::Relaxed), 1000 + cpu);
                if cpu != cpu_id() {
                    let after = percpu::cpu(cpu).ok_or("cpu went away")?.stats.ipis.load(Ordering::Relaxed);
                    check!(after > before, "cpu {cpu} took the call but did not count an IPI");
                }
            }
        }
    }
}
