//! The i386 side of temp mappings: the slot PTEs, the guard, the leak check.

use super::pool::{POOL_SLOTS, Pool, Take};
use super::window::{MAX_CPUS, Parked, SLOTS_PER_CPU, TempCounters, Window};
use crate::cpu::percpu::cpu_id;
use crate::cpu::sync::IrqSpinLock;
use crate::mm::layout::{TEMP_BASE, phys_to_virt};
use crate::mm::zones::Frame;
use arch::paging::{PAGE_SIZE, PAddr, PDEntry, PTEntry, PTFlags, pd_index};
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::panic::Location;
use core::sync::atomic::AtomicBool;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use smp::shootdown::{Flush, Space};

/// Who holds a slot: where it was mapped, on which CPU, for which process (0: the kernel),
/// and the PTE it installed (restored if the holder is switched out and back in).
#[derive(Clone, Copy, Debug)]
pub struct Holder {
    pub location: &'static Location<'static>,
    pub cpu: usize,
    pub pid: u32,
    pub entry: u32,
}

/// What keeps a holder on its CPU while it holds slots: the scheduler registers its
/// migrate-disable pair here (it sits above this module). Until then (boot, in-kernel
/// tests without tasks) nothing can migrate and both are no-ops.
static PIN: AtomicUsize = AtomicUsize::new(0);
static UNPIN: AtomicUsize = AtomicUsize::new(0);

/// Registers the functions that pin the running task to its CPU and release it.
pub fn set_pin_hooks(pin: fn(), unpin: fn()) {
    PIN.store(pin as usize, Ordering::Release);
    UNPIN.store(unpin as usize, Ordering::Release);
}

fn call_hook(hook: &AtomicUsize) {
    let f = hook.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: PIN and UNPIN only ever hold a `fn()` stored by `set_pin_hooks`.
        unsafe { core::mem::transmute::<usize, fn()>(f)() };
    }
}

/// The `cpu` of a `TempMap` whose slot comes from the global pool.
const POOL: usize = usize::MAX;

/// The global-pool strategy (`temp=global` on the command line), the baseline the
/// per-CPU windows are compared with; chosen once at boot.
static GLOBAL_POOL: AtomicBool = AtomicBool::new(false);
static POOL_SLOTS_LOCK: IrqSpinLock<Pool<Holder>> = IrqSpinLock::new(Pool::new());
/// Global-pool slots each CPU holds (the leak check reads its own).
static POOL_HELD: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Temp-mapping strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Each CPU its own window: no lock contention, no IPI (the design).
    PerCpu,
    /// One pool for all CPUs behind one lock, reuse after a batched broadcast shootdown.
    GlobalPool,
}

/// Chooses the strategy: at boot, or between benchmark workloads while no CPU holds a
/// temp mapping. Leaving the pool flushes its dirty slots from every CPU first: the
/// windows reuse the same addresses, and a window slot must be in no TLB when it is free.
pub fn set_strategy(strategy: Strategy) {
    let was_global = GLOBAL_POOL.load(Ordering::SeqCst);
    // Flush before the flag flips: a window must never see a pool entry.
    if was_global && strategy == Strategy::PerCpu {
        flush_pool();
    }
    GLOBAL_POOL.store(strategy == Strategy::GlobalPool, Ordering::SeqCst);
    if strategy == Strategy::GlobalPool && !was_global {
        log::info!("temp mappings: global pool of {POOL_SLOTS} slots (comparison strategy)");
    }
}

/// The strategy in force.
pub fn strategy() -> Strategy {
    if GLOBAL_POOL.load(Ordering::Relaxed) {
        Strategy::GlobalPool
    } else {
        Strategy::PerCpu
    }
}

/// The global pool's counters and flush rounds.
pub fn pool_counters() -> (TempCounters, u64) {
    let pool = POOL_SLOTS_LOCK.lock();
    (pool.counters(), pool.flushes())
}

/// Takes the pool lock; while it spins (interrupts off) it serves shootdowns aimed at this
/// CPU, so a pool flush in progress elsewhere cannot wait on it forever.
fn lock_pool() -> crate::cpu::sync::IrqSpinGuard<'static, Pool<Holder>> {
    loop {
        if let Some(guard) = POOL_SLOTS_LOCK.try_lock() {
            return guard;
        }
        crate::cpu::shootdown::serve();
        core::hint::spin_loop();
    }
}

/// Takes a clean pool slot, flushing the dirty ones on every CPU first when none is left.
fn take_pool_slot(holder: Holder) -> Option<usize> {
    loop {
        // Bound first: a guard in the match scrutinee would live through the arms.
        let taken = lock_pool().take(holder);
        match taken {
            Take::Slot(slot) => return Some(slot),
            Take::Exhausted => return None,
            Take::FlushInProgress => {
                // Another CPU's round will make slots clean; answer shootdowns meanwhile.
                crate::cpu::shootdown::serve();
                core::hint::spin_loop();
            }
            Take::NeedsFlush => flush_pool(),
        }
    }
}

/// One flush round: the pool's dirty slots leave every CPU's TLB and become clean.
fn flush_pool() {
    // Interrupts off from the start of the round to its end: a handler on this CPU that
    // found the pool flushing would otherwise wait for this very round.
    let _irq = arch::cpu::IrqGuard::new();
    let set = lock_pool().begin_flush();
    // Outside the lock: the other CPUs may need it to make progress.
    crate::cpu::shootdown::shootdown(
        Space::Kernel,
        0,
        Flush::Range {
            start: TEMP_BASE as u32,
            pages: POOL_SLOTS as u32,
        },
    );
    lock_pool().end_flush(set);
}

#[allow(clippy::declare_interior_mutable_const)] // only used to build the array below
const EMPTY: IrqSpinLock<Window<Holder>> = IrqSpinLock::new(Window::new());
static WINDOWS: [IrqSpinLock<Window<Holder>>; MAX_CPUS] = [EMPTY; MAX_CPUS];

/// What each CPU's window holds now, the mappings made on it since the running task
/// came in (low 32 bits) and whether that task's share changed at all, copied out whenever the window's lock is let go, so that every
/// system call's return to user mode and its temp-mapping accounting read them on their
/// own CPU without taking the lock. Only a holder of the lock writes a CPU's shadow, and a
/// CPU's window changes only by that CPU (another takes the lock to read counters), so at
/// the return to user mode (or at a context switch) the CPU's own shadow is its window's
/// state.
struct Shadow {
    held: AtomicU32,
    running_maps: AtomicU32,
    running_touched: AtomicBool,
}

static SHADOWS: [Shadow; MAX_CPUS] = [const {
    Shadow {
        held: AtomicU32::new(0),
        running_maps: AtomicU32::new(0),
        running_touched: AtomicBool::new(false),
    }
}; MAX_CPUS];

/// `cpu`'s window, locked; its shadow is brought up to date when the guard goes.
fn window(cpu: usize) -> WindowGuard<'static> {
    WindowGuard {
        cpu,
        inner: WINDOWS[cpu].lock(),
    }
}

struct WindowGuard<'a> {
    cpu: usize,
    inner: crate::cpu::sync::IrqSpinGuard<'a, Window<Holder>>,
}

impl Deref for WindowGuard<'_> {
    type Target = Window<Holder>;
    fn deref(&self) -> &Window<Holder> {
        &self.inner
    }
}

impl DerefMut for WindowGuard<'_> {
    fn deref_mut(&mut self) -> &mut Window<Holder> {
        &mut self.inner
    }
}

impl Drop for WindowGuard<'_> {
    fn drop(&mut self) {
        let shadow = &SHADOWS[self.cpu];
        shadow.held.store(self.inner.depth(), Ordering::Relaxed);
        shadow
            .running_maps
            .store(self.inner.running().maps as u32, Ordering::Relaxed);
        shadow
            .running_touched
            .store(self.inner.running_touched(), Ordering::Relaxed);
    }
}

/// Virtual address of the page table behind the temp region (PDE 896).
static TABLE: AtomicUsize = AtomicUsize::new(0);
/// The pid charged for mappings on each CPU (set by the scheduler).
static CHARGED_PID: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// The window of this CPU was full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub cpu: usize,
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "all {SLOTS_PER_CPU} temp-mapping slots of cpu {} are in use",
            self.cpu
        )
    }
}

/// Finds the temp region's page table in the kernel directory.
pub fn init(kernel_directory: u32) {
    // SAFETY: the kernel directory is a direct-mapped lowmem frame, only read here.
    let pd = unsafe { crate::mm::paging::table_at(u64::from(kernel_directory)) };
    let pde = PDEntry(pd.0[pd_index(TEMP_BASE)]);
    assert!(
        pde.is_present() && !pde.is_page(),
        "temp region has no page table"
    );
    let table = phys_to_virt(u64::from(pde.address().0));
    TABLE.store(table, Ordering::Relaxed);
}

/// Index of a slot in the temp region's page table.
const fn region_index(cpu: usize, slot: usize) -> usize {
    if cpu == POOL {
        slot
    } else {
        cpu * SLOTS_PER_CPU + slot
    }
}

fn pte(cpu: usize, slot: usize) -> *mut u32 {
    let table = TABLE.load(Ordering::Relaxed);
    assert!(table != 0, "temp mappings used before temp::init");
    (table as *mut u32).wrapping_add(region_index(cpu, slot))
}

/// Virtual address of `slot` in `cpu`'s window.
pub const fn slot_address(cpu: usize, slot: usize) -> usize {
    TEMP_BASE + region_index(cpu, slot) * PAGE_SIZE
}

/// Marker: the view is read-only (the PTE lacks R/W, so even a stray kernel write faults).
pub struct ReadOnly;
/// Marker: the view is writable.
pub struct Writable;

/// A frame mapped into this CPU's window; see the module documentation.
pub struct TempMap<A = ReadOnly> {
    cpu: usize,
    slot: usize,
    _access: PhantomData<A>,
    /// Not `Send`, not `Sync`: the mapping exists only in this CPU's TLB.
    _pinned: PhantomData<*mut ()>,
}

impl TempMap<ReadOnly> {
    /// Maps `frame` read-only.
    ///
    /// # Safety
    /// `frame` must be RAM the caller may read for the guard's lifetime: a frame it owns,
    /// or one owned by something it borrows (an address space's page, a reserved module).
    #[track_caller]
    pub unsafe fn read(frame: Frame) -> Result<Self, Exhausted> {
        map(frame, false, Location::caller())
    }
}

impl TempMap<Writable> {
    /// Maps `frame` writable.
    ///
    /// # Safety
    /// As for `read`, and no one else may rely on the frame's contents meanwhile (writing a
    /// page table, the kernel image or another owner's frame breaks memory safety).
    #[track_caller]
    pub unsafe fn write(frame: Frame) -> Result<Self, Exhausted> {
        map(frame, true, Location::caller())
    }
}

fn map<A>(
    frame: Frame,
    writable: bool,
    at: &'static Location<'static>,
) -> Result<TempMap<A>, Exhausted> {
    // From here until the guard drops the task stays on this CPU, whose window the slot
    // is in (it may be preempted: the switch parks the slot and restores it here).
    call_hook(&PIN);
    let me = cpu_id();
    let flags = if writable {
        PTFlags::P | PTFlags::RW
    } else {
        PTFlags::P
    };
    let entry = PTEntry::new(PAddr(frame.addr() as u32), flags).0;
    let holder = Holder {
        location: at,
        cpu: me,
        pid: CHARGED_PID[me].load(Ordering::Relaxed) as u32,
        entry,
    };
    let taken = if GLOBAL_POOL.load(Ordering::Relaxed) {
        let slot = take_pool_slot(holder);
        if let Some(slot) = slot {
            let depth = POOL_HELD[me].fetch_add(1, Ordering::Relaxed) as u32 + 1;
            window(me).note_external_map(depth);
            // SAFETY: a clean pool slot is ours alone and in no TLB.
            unsafe { install(POOL, slot, entry) };
        }
        slot.map(|s| (POOL, s))
    } else {
        // Slot and PTE under the window lock: a switch (which parks this window's slots
        // with their PTEs) never sees one without the other.
        let mut window = window(me);
        let slot = window.take(holder);
        if let Some(slot) = slot {
            // SAFETY: the slot was just taken from this CPU's window.
            unsafe { install(me, slot, entry) };
        }
        slot.map(|s| (me, s))
    };
    let Some((cpu, slot)) = taken else {
        call_hook(&UNPIN);
        return Err(Exhausted { cpu: me });
    };
    Ok(TempMap {
        cpu,
        slot,
        _access: PhantomData,
        _pinned: PhantomData,
    })
}

/// Writes a free slot's PTE.
///
/// # Safety
/// The slot is the caller's (just taken) and, being free until now, in no TLB (a window
/// slot is flushed at unmap and at park, a pool slot by the round that made it clean).
unsafe fn install(cpu: usize, slot: usize, entry: u32) {
    // SAFETY: the PTE lies in the temp page table; per the contract nobody else uses it.
    unsafe {
        let p = pte(cpu, slot);
        assert_eq!(
            p.read_volatile(),
            0,
            "temp slot {slot} of cpu {cpu} was free but mapped"
        );
        p.write_volatile(entry);
    }
}

/// The temp mappings a switched-out task held: its window slots, and how many global-pool
/// slots (those stay mapped: the pool's addresses are nobody else's while held; only the
/// count of what this CPU holds moves with the task).
///
/// The window's part is `None` when it held nothing, as nearly always: a switch then
/// writes a tag, not the 64 holders' room.
#[derive(Clone, Copy)]
pub struct ParkedSlots {
    window: Option<Parked<Holder>>,
    pool: usize,
}

impl ParkedSlots {
    pub const fn empty() -> Self {
        Self {
            window: None,
            pool: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.window.as_ref().is_none_or(Parked::is_empty) && self.pool == 0
    }
}

/// Switch-out: takes the running task's slots out of this CPU's window, clearing their
/// PTEs and flushing them from this CPU's TLB, so the next task finds the window empty
/// and the slots in no TLB.
/// `into` is the task's (empty: its slots were put back when it last came in), written
/// in place: the slot table is too big to move at every switch.
#[inline]
pub fn park(into: &mut ParkedSlots) {
    // Nearly always nothing is held: the shadow says so without the lock (interrupts are
    // off, and only this CPU changes its window). Not with pool slots held: the window's
    // counters carry their depth (`note_external_map`), which `Window::park` resets.
    if !nothing_held() {
        park_held(into);
    }
}

fn park_held(into: &mut ParkedSlots) {
    debug_assert!(into.is_empty(), "a task's slots parked twice");
    let cpu = cpu_id();
    let mut window = window(cpu);
    let parked = into.window.insert(window.park());
    for (slot, _) in parked.held() {
        // SAFETY: the slot's PTE lies in the temp page table; invlpg of its address.
        unsafe {
            pte(cpu, slot).write_volatile(0);
            arch::cpu::invlpg(slot_address(cpu, slot));
        }
    }
    into.pool = POOL_HELD[cpu].swap(0, Ordering::Relaxed);
}

/// Switch-in: puts the task's parked slots back in this CPU's window with their PTEs.
/// Panics if the window is not empty (the context switched out left slots held).
/// `parked` is left empty.
#[inline]
pub fn unpark(parked: &mut ParkedSlots) {
    if parked.window.is_some() || parked.pool != 0 {
        unpark_slots(core::mem::replace(parked, ParkedSlots::empty()));
    }
}

fn unpark_slots(parked: ParkedSlots) {
    let cpu = cpu_id();
    POOL_HELD[cpu].fetch_add(parked.pool, Ordering::Relaxed);
    let Some(slots) = parked.window.as_ref().filter(|w| !w.is_empty()) else {
        return;
    };
    let mut window = window(cpu);
    if let Err(e) = window.unpark(slots) {
        panic!(
            "temp mapping: slot {} of cpu {cpu} taken while its holder was switched out",
            e.0
        );
    }
    for (slot, holder) in slots.held() {
        // SAFETY: the slot is the resuming task's again, and was free (in no TLB) until now.
        unsafe { install(cpu, slot, holder.entry) };
    }
}

impl<A> TempMap<A> {
    /// The virtual address of the mapped page.
    pub fn address(&self) -> usize {
        slot_address(self.cpu, self.slot)
    }
}

impl<A> Deref for TempMap<A> {
    type Target = [u8; PAGE_SIZE];
    fn deref(&self) -> &Self::Target {
        // SAFETY: the slot maps a whole frame, present, for as long as the guard lives.
        unsafe { &*(self.address() as *const [u8; PAGE_SIZE]) }
    }
}

impl DerefMut for TempMap<Writable> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        // SAFETY: as for `deref`, and the PTE is writable; the guard is the only way to
        // reach this slot while it lives.
        unsafe { &mut *(self.address() as *mut [u8; PAGE_SIZE]) }
    }
}

/// Unmaps `slot` of `cpu`'s window. Order matters: clear the PTE, flush it from this CPU's
/// TLB, only then let the slot be taken again (an interrupt may reuse it the moment the bit
/// is free).
///
/// # Safety
/// `cpu` is the running CPU and no guard for the slot is left.
unsafe fn unmap_slot(cpu: usize, slot: usize) {
    if cpu == POOL {
        // The pool's way: clear the PTE, no flush; the slot stays dirty (unusable) until a
        // broadcast round flushes it from every CPU.
        // SAFETY: the slot's PTE lies in the temp page table.
        unsafe { pte(cpu, slot).write_volatile(0) };
        if let Err(e) = lock_pool().release(slot) {
            panic!("temp mapping: pool slot {} released but not held", e.0);
        }
        let me = cpu_id();
        let depth = POOL_HELD[me].fetch_sub(1, Ordering::Relaxed) as u32 - 1;
        window(me).note_external_unmap(depth);
        call_hook(&UNPIN);
        return;
    }
    {
        let mut window = window(cpu);
        // SAFETY: the slot's PTE lies in the temp page table; invlpg of the slot's address.
        unsafe {
            pte(cpu, slot).write_volatile(0);
            arch::cpu::invlpg(slot_address(cpu, slot));
        }
        if let Err(e) = window.release(slot) {
            panic!("temp mapping: slot {} released but not held", e.0);
        }
    }
    call_hook(&UNPIN);
}

impl<A> Drop for TempMap<A> {
    fn drop(&mut self) {
        // SAFETY: the guard is pinned to the CPU that mapped it, and it is going away.
        unsafe { unmap_slot(self.cpu, self.slot) };
    }
}

/// Sets the pid charged for this CPU's mappings and adds the share of the task that ran
/// until now to `outgoing` (its counters; nothing, for the idle loop's `None`).
#[inline]
pub fn switch_accounting(next_pid: u32, outgoing: Option<&mut TempCounters>) {
    let cpu = cpu_id();
    CHARGED_PID[cpu].store(next_pid as usize, Ordering::Relaxed);
    // A task that made no mapping and holds none has an all-zero share, left as it is:
    // the shadow says so without the lock (interrupts are off, as in `park`).
    let shadow = &SHADOWS[cpu];
    if shadow.running_touched.load(Ordering::Relaxed) || shadow.held.load(Ordering::Relaxed) != 0 {
        hand_over_share(cpu, outgoing);
    }
}

fn hand_over_share(cpu: usize, outgoing: Option<&mut TempCounters>) {
    let share = window(cpu).take_running();
    if let Some(counters) = outgoing {
        counters.absorb(&share);
    }
}

/// The low 32 bits of the mappings made on this CPU since the running task was switched
/// in, without the window's lock (its shadow): for differences over a system call, taken
/// with wrapping arithmetic, on one CPU (preemption off around the read).
#[inline]
pub fn running_maps_low() -> u32 {
    SHADOWS[cpu_id()].running_maps.load(Ordering::Relaxed)
}

/// The running process's share of this CPU's counters since it was switched in.
pub fn running_counters() -> TempCounters {
    window(cpu_id()).running()
}

/// A CPU's lifetime counters.
pub fn cpu_counters(cpu: usize) -> TempCounters {
    window(cpu).cpu_counters()
}

/// Temp mappings still held on this CPU where none may be (return to user mode, context
/// switch): each slot and who mapped it.
pub struct Leak {
    pub cpu: usize,
    pub held: alloc::vec::Vec<(usize, Holder)>,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} temp mapping(s) held on cpu {}:",
            self.held.len(),
            self.cpu
        )?;
        for (slot, h) in &self.held {
            write!(f, " slot {slot} mapped at {} (pid {})", h.location, h.pid)?;
        }
        Ok(())
    }
}

/// Checks that this CPU holds no temp mapping.
pub fn check_none_held() -> Result<(), Leak> {
    if nothing_held() {
        return Ok(());
    }
    let cpu = cpu_id();
    if POOL_HELD[cpu].load(Ordering::Relaxed) != 0 {
        // This CPU's running context's own: a switched-out holder's slots are parked.
        let pid = CHARGED_PID[cpu].load(Ordering::Relaxed) as u32;
        let held = lock_pool()
            .held()
            .filter(|(_, h)| h.cpu == cpu && h.pid == pid)
            .collect();
        return Err(Leak { cpu, held });
    }
    let window = window(cpu);
    if window.depth() == 0 {
        return Ok(());
    }
    Err(Leak {
        cpu,
        held: window.held().collect(),
    })
}

/// The common case, read without the lock: this CPU holds no slot of its window and none
/// of the pool.
#[inline]
fn nothing_held() -> bool {
    let cpu = cpu_id();
    POOL_HELD[cpu].load(Ordering::Relaxed) == 0 && SHADOWS[cpu].held.load(Ordering::Relaxed) == 0
}

/// Panics, naming the culprits, if this CPU holds a temp mapping at `point` (at every
/// return to user mode: the common case is two loads, inline).
#[inline]
pub fn assert_none_held(point: &str) {
    if !nothing_held() {
        report_leak(point);
    }
}

#[cold]
fn report_leak(point: &str) {
    if let Err(leak) = check_none_held() {
        panic!("temp mapping leak at {point}: {leak}");
    }
}

/// The slot a temp-mapping address belongs to, as leak reports name it (the window's slot
/// number, or the pool's).
pub fn slot_of(address: usize) -> usize {
    let index = (address - TEMP_BASE) / PAGE_SIZE;
    match strategy() {
        Strategy::GlobalPool => index,
        Strategy::PerCpu => index % SLOTS_PER_CPU,
    }
}

/// Takes back the slot at `address` whose guard was leaked (`mem::forget`): only the leak
/// test does this.
///
/// # Safety
/// No guard for the slot may exist any more, and this CPU must have made it.
pub unsafe fn reclaim_leaked(address: usize) {
    let cpu = match strategy() {
        Strategy::GlobalPool => POOL,
        Strategy::PerCpu => cpu_id(),
    };
    // SAFETY: per the contract the slot has no guard left.
    unsafe { unmap_slot(cpu, slot_of(address)) };
}

#[cfg(target_arch = "x86")]
#[path = "tests.rs"]
mod tests;
