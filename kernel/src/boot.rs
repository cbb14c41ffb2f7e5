//! The boot CPU's path from the entry code to the first useful work: descriptor tables,
//! console, boot information, paging, frames, heap, then tests, a crash or the summary.

use crate::cmdline::{LogLevel, Options, kernel_arguments};
use crate::mm::bootinfo::BootInfo;
use crate::mm::layout::{BOOT_MAPPED, DIRECT_MAP_MAX, phys_to_virt, virt_to_phys};
use crate::mm::{frames, heap, paging};
use crate::{console, kprintln, time, traps};
use arch::paging::{LARGE_PAGE_SIZE, PAGE_SIZE};
use arch::qemu_exit::{Verdict, exit};
use log::info;
use multiboot::information::{MemoryManagement, SIGNATURE_EAX};
use spin::Once;

static BOOT_INFO: Once<BootInfo> = Once::new();

/// Reads the multiboot structures through the boot mapping (first 16 MiB).
struct BootMapping;

impl MemoryManagement for BootMapping {
    unsafe fn paddr_to_slice(&self, addr: u64, len: usize) -> Option<&'static [u8]> {
        let end = addr.checked_add(len as u64)?;
        // SAFETY: the boot tables map [0, BOOT_MAPPED) at KERNEL_BASE for as long as this
        // is used (before the kernel directory replaces them); the slice is only read.
        (end <= BOOT_MAPPED)
            .then(|| unsafe { core::slice::from_raw_parts(phys_to_virt(addr) as *const u8, len) })
    }

    unsafe fn allocate(&mut self, _len: usize) -> Option<(u64, &mut [u8])> {
        None
    }

    unsafe fn deallocate(&mut self, _addr: u64) {}
}

/// Kernel entry from `main.rs`, on the boot stack, paging on with the boot tables.
pub fn start(magic: u32, info_phys: u32, entry_tsc: u64) -> ! {
    // SAFETY: first code on the boot CPU, interrupts off, flat segments; nothing else runs.
    unsafe {
        crate::cpu::percpu::init_boot_cpu();
        arch::idt::init();
        arch::pic::remap_and_mask();
    }
    arch::trap::set_handler(traps::handle);
    crate::mm::temp::set_pin_hooks(crate::sched::migrate_disable, crate::sched::migrate_enable);
    crate::mm::cow::set_flush_hook(crate::proc::flush_space);
    console::init(LogLevel::Info);
    if magic != SIGNATURE_EAX {
        panic!("not started by a multiboot loader (eax={magic:#x})");
    }
    let info = match BootInfo::parse(u64::from(info_phys), &mut BootMapping) {
        Ok(info) => BOOT_INFO.call_once(|| info),
        Err(e) => panic!("cannot use the boot information: {e}"),
    };
    if info.modules_dropped > 0 {
        log::warn!(
            "{} modules beyond the first {} ignored",
            info.modules_dropped,
            crate::mm::bootinfo::MAX_MODULES
        );
    }
    if info.cmdline_truncated {
        log::warn!(
            "command line longer than {} bytes, cut",
            crate::mm::bootinfo::CMDLINE_MAX
        );
    }
    let args = kernel_arguments(info.cmdline());
    let opts = Options::parse(args, |p| log::warn!("{p}"));
    console::set_level(opts.log);
    info!("Tempest booting, command line `{args}`");

    let cpu = arch::cpu::features();
    info!(
        "cpu: pse={} pge={} tsc={} apic={} x2apic={}",
        cpu.pse, cpu.pge, cpu.tsc, cpu.apic, cpu.x2apic
    );
    let lowmem_end = setup_memory(info, &opts, cpu);
    time::calibrate();
    info!("tsc: {} kHz", time::tsc_per_ms());
    time::start_clocks();
    // The kernel's own share of the vDSO's data page: each process that maps it takes
    // another and gives it back, and this one is never given back, so the page (part of
    // the kernel image) never reaches the frame allocator.
    crate::mm::cow::share(crate::mm::zones::Frame::containing(time::VDSO_DATA.phys()));
    crate::random::init();
    // SAFETY: boot CPU, before any task exists.
    let fxsr = unsafe { arch::fpu::enable() };
    info!(
        "fpu: {} state saved per task at each switch",
        if fxsr {
            "x87+SSE (fxsave)"
        } else {
            "x87 (fnsave)"
        }
    );
    if opts.temp_global_pool {
        crate::mm::temp::set_strategy(crate::mm::temp::Strategy::GlobalPool);
    }
    if opts.no_remote_flush {
        crate::cpu::shootdown::disable_remote_flush();
    }
    if opts.shootdown_running_only {
        crate::cpu::shootdown::target_running_only();
    }
    if opts.no_fpu_save {
        crate::sched::disable_fpu_save();
    }
    if opts.no_tls_reload {
        crate::sched::disable_tls_reload();
    }
    if opts.poison_freed {
        crate::mm::frames::poison_freed_frames();
    }
    if opts.no_fork_flush {
        crate::mm::cow::skip_fork_flush();
    }
    if opts.free_before_flush {
        crate::syscall::free_before_flush();
    }
    if opts.tempest_calls {
        crate::syscall::enable_tempest_calls();
    }
    if opts.irqsoff {
        crate::cpu::percpu::track_irq_off();
    }
    if opts.no_io_bitmap_switch {
        crate::sched::disable_io_bitmap_switch();
    }
    if opts.no_vdso_follow {
        crate::syscall::disable_vdso_follow();
    }
    if opts.leak_temp_at_syscall {
        crate::syscall::leak_temp_at_next_syscall();
    }
    if opts.signal_no_fpu {
        crate::proc::signal::disable_frame_fpu();
    }
    if opts.no_return_fixup {
        crate::traps::disable_return_fixups();
    }
    if opts.no_ldt_ipi {
        crate::proc::ldt::disable_ipi();
    }
    if opts.no_sysenter_tf {
        crate::traps::disable_sysenter_tf();
    }
    if opts.no_espfix {
        log::warn!(
            "no-espfix: a return to a 16-bit stack segment leaks the kernel stack pointer's high half (negative control)"
        );
        arch::trap::disable_espfix();
    }
    if opts.sigreturn_any_segment {
        crate::proc::signal::disable_segment_check();
    }
    if opts.temp_no_pin {
        crate::sched::disable_temp_pinning();
    }
    if opts.no_kernel_preempt {
        crate::sched::disable_kernel_preemption();
    }
    if let Some(cpu) = opts.spawn_cpu {
        crate::sched::set_spawn_cpu(cpu);
    }
    let apic = crate::cpu::apic::init_boot_cpu(cpu);
    if apic.is_some()
        && let Some(topology) = crate::acpi::topology()
    {
        crate::cpu::ioapic::init(&topology);
        start_application_processors(&topology);
    }
    if opts.console_input {
        crate::tty::console::enable_input();
    }

    if let Some(filter) = opts.test {
        crate::ktest::run(filter);
    }
    if let Some(kind) = opts.crash {
        crate::crash::trigger(kind);
    }
    if let Some(workload) = opts.bench {
        if !crate::bench::run(workload) {
            log::error!(
                "unknown bench workload `{workload}` (known: temp, ipi, shootdown, flush-ceiling, all)"
            );
            exit(Verdict::TestsFailed);
        }
        exit(Verdict::Success);
    }
    if opts.unchecked_user_copies {
        crate::syscall::disable_user_copy_checks();
    }
    // The initramfs is unpacked first: its files stay in RAM to the end, so the frames
    // they take are not counted as leaked by the programs.
    let refused = crate::programs::unpack_initramfs(info.modules());
    let frames_before = frames::stats();
    let file_frames_before = crate::fs::ramfs::file_frames();
    let (heap_before, _) = heap::usage();
    let envp: alloc::vec::Vec<&str> = crate::cmdline::environment(args).collect();
    let started = crate::programs::start_all(info.modules(), &envp, refused);
    match apic {
        Some(_) => crate::cpu::apic::start_timer(),
        // SAFETY: the timer's handler (traps::handle) is in place.
        None => unsafe {
            arch::pit::start_periodic(crate::sched::HZ as u32);
            arch::pic::unmask(0);
        },
    }
    let exits = crate::sched::run();
    // Files the programs wrote stay in the file system: their frames are not a leak.
    let kept_in_files = i64::from(crate::fs::ramfs::file_frames()) - i64::from(file_frames_before);
    let leaked = i64::from(frames_before.low_free + frames_before.high_free)
        - i64::from(frames::stats().low_free + frames::stats().high_free)
        - kept_in_files;
    if kept_in_files != 0 {
        log::info!("files the programs left hold {kept_in_files} frames");
    }
    if leaked != 0 {
        panic!("{leaked} frames leaked after every process exited");
    }
    summary(lowmem_end, entry_tsc);
    let all_as_expected = crate::programs::report(&exits, started);
    drop(exits);
    // What the programs left on the kernel heap once every one is gone and its record
    // dropped: the hostile-program suite compares it with the start.
    let (heap_after, _) = heap::usage();
    console::record(format_args!(
        r#"{{"event":"heap","before_programs":{heap_before},"after_programs":{heap_after}}}"#
    ));
    exit(if all_as_expected {
        Verdict::Success
    } else {
        Verdict::ProgramsFailed
    })
}

/// Finds the other CPUs in the ACPI MADT and starts them.
fn start_application_processors(topology: &smp::topology::Topology) {
    let me = arch::lapic::id();
    let listed: alloc::vec::Vec<u32> = topology.usable_cpus().map(|c| c.apic_id).collect();
    for s in &topology.skipped {
        log::debug!("acpi: MADT entry skipped: {s}");
    }
    if let Some(e) = &topology.stopped {
        log::warn!("acpi: MADT walk stopped early: {e}");
    }
    let others: alloc::vec::Vec<u32> = listed.iter().copied().filter(|&id| id != me).collect();
    let online = crate::cpu::ap::start_all(&others, crate::sched::run_application_cpu);
    info!(
        "smp: {} CPUs listed (apic ids {listed:?}), {} online",
        listed.len(),
        online + 1
    );
}

/// Paging, frames and heap from the boot information. Returns the end of lowmem.
fn setup_memory(info: &BootInfo, opts: &Options<'_>, cpu: arch::cpu::Features) -> u64 {
    if info.ignored_above_4g > 0 {
        info!(
            "ignoring {} MiB of RAM above 4 GiB (no PAE)",
            info.ignored_above_4g >> 20
        );
    }
    for m in info.modules() {
        info!("module `{}` at {:#x}..{:#x}", m.name(), m.start, m.end);
    }
    let ram_top = info.ram.iter().map(|r| r.end).max().unwrap_or(0);
    let mut lowmem_end = ram_top
        .next_multiple_of(LARGE_PAGE_SIZE as u64)
        .clamp(BOOT_MAPPED, DIRECT_MAP_MAX);
    if let Some(mib) = opts.lowmem_mib {
        lowmem_end = lowmem_end.min(u64::from(mib) << 20);
    }
    let mut free = info
        .free_ram()
        .unwrap_or_else(|e| panic!("memory map: {e}"));
    unsafe extern "C" {
        static __kernel_start: u8;
        static __kernel_end: u8;
    }
    let image = (
        virt_to_phys(core::ptr::addr_of!(__kernel_start) as usize),
        virt_to_phys(core::ptr::addr_of!(__kernel_end) as usize),
    );
    free.remove(image.0, image.1)
        .unwrap_or_else(|e| panic!("memory map: {e}"));
    info!(
        "memory: {} MiB usable below 4 GiB, kernel image {:#x}..{:#x}",
        info.ram.total() >> 20,
        image.0,
        image.1
    );

    // SAFETY: boot CPU, once, boot tables live; `free` excludes everything in use.
    unsafe { paging::init(lowmem_end, cpu, &mut free) };

    let heap_size = (lowmem_end / 16).clamp(2 << 20, 16 << 20);
    let heap_pa = free
        .take(heap_size, PAGE_SIZE as u64, lowmem_end)
        .expect("no lowmem for the kernel heap");
    // SAFETY: taken from the free set, direct-mapped, never returned.
    unsafe { heap::init(phys_to_virt(heap_pa), heap_size as usize) };
    // The copy-on-write owner counts: 2 bytes per frame of RAM (1 MiB for 2 GiB), lowmem.
    let counted = ram_top.div_ceil(PAGE_SIZE as u64) as usize;
    let table_bytes = (counted * 2).next_multiple_of(PAGE_SIZE) as u64;
    match free.take(table_bytes, PAGE_SIZE as u64, lowmem_end) {
        // SAFETY: taken from the free set, direct-mapped, never returned; zeroed here, and
        // a zeroed u16 is a valid AtomicU16 of 0.
        Some(pa) => unsafe {
            core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, table_bytes as usize);
            crate::mm::cow::init(phys_to_virt(pa) as *const _, counted);
        },
        None => log::warn!(
            "no lowmem for the copy-on-write counters ({} KiB): fork shares through a locked map",
            table_bytes >> 10
        ),
    }
    // SAFETY: paging is up; `free` now excludes the page tables and the heap.
    unsafe { frames::init(free, lowmem_end) };
    arch::backtrace::set_stack_limit(phys_to_virt(lowmem_end));
    crate::mm::temp::init(paging::kernel_directory());
    lowmem_end
}

/// The closing report of a normal boot: people read the first line, the runner the record.
fn summary(lowmem_end: u64, entry_tsc: u64) {
    let s = frames::stats();
    let (heap_used, heap_size) = heap::usage();
    let boot_us = time::ticks_to_us(arch::cpu::rdtsc() - entry_tsc);
    kprintln!("Tempest summary");
    if crate::mm::temp::strategy() == crate::mm::temp::Strategy::GlobalPool {
        let (c, flushes) = crate::mm::temp::pool_counters();
        kprintln!(
            "  temp pool      : {} maps, {} unmaps, {} failures, peak depth {}, {} broadcast flush rounds",
            c.maps,
            c.unmaps,
            c.failures,
            c.peak_depth,
            flushes
        );
    }
    let mode = crate::cpu::apic::mode_name();
    kprintln!(
        "  cpus online    : {} ({mode})",
        crate::cpu::percpu::online().count()
    );
    kprintln!(
        "  lowmem         : {} MiB direct-mapped, {} of {} frames free",
        lowmem_end >> 20,
        s.low_free,
        s.low_total
    );
    kprintln!(
        "  highmem        : {} of {} frames free",
        s.high_free,
        s.high_total
    );
    kprintln!(
        "  heap           : {} KiB of {} KiB used",
        heap_used >> 10,
        heap_size >> 10
    );
    if crate::tty::console::input_enabled() {
        let (bytes, interrupts) = crate::tty::console::input_counters();
        kprintln!("  console input  : {bytes} bytes, {interrupts} receive interrupts");
    }
    let temp = crate::mm::temp::cpu_counters(0);
    kprintln!(
        "  temp mappings  : cpu0 {} maps, {} unmaps, {} failures, peak depth {}, held now {}",
        temp.maps,
        temp.unmaps,
        temp.failures,
        temp.peak_depth,
        temp.depth
    );
    let (mut switches, mut preemptions) = (0, 0);
    let mut per_cpu = alloc::string::String::new();
    let elapsed = arch::cpu::rdtsc() - entry_tsc;
    kprintln!(
        "  cpu  apic  switches  preempted (kernel)  syscalls  ticks  migr in/out  steals  idle  irq-off max  temp maps  peak"
    );
    for cpu in crate::cpu::percpu::online() {
        let st = &cpu.stats;
        let load = |c: &arch::atomic64::AtomicU64| c.load(core::sync::atomic::Ordering::Relaxed);
        let t = crate::mm::temp::cpu_counters(cpu.id());
        switches += st.context_switches.get();
        preemptions += load(&st.preemptions);
        let idle_us = time::ticks_to_us(load(&st.idle_cycles));
        let idle_pct = load(&st.idle_cycles) * 100 / elapsed.max(1);
        let irq_off = load(&st.irq_off_max);
        let irq_off_column = if crate::cpu::percpu::irq_off_tracked() {
            alloc::format!("{} us", time::ticks_to_us(irq_off))
        } else {
            "(irqsoff)".into()
        };
        let site = cpu
            .stats
            .irq_off_site()
            .map(|l| alloc::format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        use core::fmt::Write;
        let _ = write!(
            per_cpu,
            "{}{{\"cpu\":{},\"apic_id\":{},\"context_switches\":{},\"preemptions\":{},\"kernel_preemptions\":{},\"syscalls\":{},\"timer_ticks\":{},\"ipis\":{},\"ipis_sent\":{},\"shootdowns\":{},\"migrations_in\":{},\"migrations_out\":{},\"steals\":{},\"idle_us\":{idle_us},\"irq_off_max_cycles\":{irq_off},\"irq_off_max_us\":{},\"irq_off_max_at\":{},\"temp_maps\":{},\"temp_unmaps\":{},\"temp_held\":{},\"temp_preempted_holding\":{},\"temp_migrated_holding\":{},\"temp_by_class\":{{{}}}}}",
            if per_cpu.is_empty() { "" } else { "," },
            cpu.id(),
            cpu.apic_id.load(core::sync::atomic::Ordering::Relaxed),
            st.context_switches.get(),
            load(&st.preemptions),
            load(&st.kernel_preemptions),
            st.syscalls.get(),
            load(&st.timer_ticks),
            load(&st.ipis),
            load(&st.ipis_sent),
            load(&st.shootdowns),
            load(&st.migrations_in),
            load(&st.migrations_out),
            load(&st.steals),
            time::ticks_to_us(irq_off),
            crate::console::JsonStr(&site),
            t.maps,
            t.unmaps,
            t.depth,
            load(&st.temp_preempted_holding),
            load(&st.temp_migrated_holding),
            crate::syscall_table::CLASSES
                .iter()
                .map(|c| alloc::format!("\"{}\":{}", c.name(), st.temp_by_class[c.index()].get()))
                .collect::<alloc::vec::Vec<_>>()
                .join(","),
        );
        kprintln!(
            "  {:>3}  {:>4}  {:>8}  {:>9} {:>8}  {:>8}  {:>5}  {:>5}/{:<5}  {:>6}  {:>3}%  {:>11}  {:>9}  {:>4}",
            cpu.id(),
            cpu.apic_id.load(core::sync::atomic::Ordering::Relaxed),
            st.context_switches.get(),
            load(&st.preemptions),
            alloc::format!("({})", load(&st.kernel_preemptions)),
            st.syscalls.get(),
            load(&st.timer_ticks),
            load(&st.migrations_in),
            load(&st.migrations_out),
            load(&st.steals),
            idle_pct,
            irq_off_column,
            t.maps,
            t.peak_depth
        );
    }
    kprintln!(
        "  entry->summary : {}.{:03} ms",
        boot_us / 1000,
        boot_us % 1000
    );
    kprintln!(
        "@@tempest {{\"event\":\"summary\",\"cpus\":{},\"lowmem_mib\":{},\"lowmem_frames_free\":{},\"lowmem_frames\":{},\"highmem_frames_free\":{},\"highmem_frames\":{},\"heap_bytes\":{},\"context_switches\":{},\"preemptions\":{},\"temp_maps\":{},\"temp_unmaps\":{},\"temp_held\":{},\"apic\":\"{mode}\",\"unexpected_interrupts\":{},\"temp_strategy\":\"{:?}\",\"temp_pool_flushes\":{},\"irq_off_tracked\":{},\"per_cpu\":[{per_cpu}],\"boot_us\":{}}}",
        crate::cpu::percpu::online().count(),
        lowmem_end >> 20,
        s.low_free,
        s.low_total,
        s.high_free,
        s.high_total,
        heap_size,
        switches,
        preemptions,
        temp.maps,
        temp.unmaps,
        temp.depth,
        crate::traps::unexpected_interrupts(),
        crate::mm::temp::strategy(),
        crate::mm::temp::pool_counters().1,
        crate::cpu::percpu::irq_off_tracked(),
        boot_us
    );
}
