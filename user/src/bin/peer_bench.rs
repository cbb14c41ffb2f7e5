//! `peer_bench`: the same workloads on any kernel with the Linux i386 ABI, timed in user
//! mode with `rdtsc`, so Tempest and Linux can be measured by one binary on the same QEMU
//! (`cargo run -p bench --release -- --peer linux`, docs/benchmarks.md "Against Linux").
//! It uses Linux's calls only (Tempest's `temp_stats` is asked for the temp mappings per
//! operation, and simply missing elsewhere).
//!
//! One line per workload on standard output, `@@peer {json}`: `ops` samples, and their
//! per-operation cycles `p50`, `min` and `mean`; or `skipped` with the reason (a workload
//! that needs more CPUs than the machine has, or a program file it cannot execute). A
//! first `@@peer` line names the kernel (`uname`) and the CPUs; a last one says `done`.
//!
//! `peer_bench exit` exits at once (what `fork_exec_wait` executes). Started as pid 1 with
//! the argument `poweroff` (the benchmark boots), it powers the machine off at the end
//! (Linux's `reboot`; where that is not available it just exits, as Tempest's init ends
//! a run). Never as another pid: run by hand on a host, it cannot power anything off.
//! `only=PREFIX` runs just the workloads whose names start with `PREFIX` (to profile one,
//! e.g. `cargo qemu --icount --initrd DIR --init '/init only=context_switch'`).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PAGE_SIZE, PROT_READ};
use tempest_user::thread::usable_cpus;
use tempest_user::{Args, Thread, println, rdtsc};

tempest_user::entry!(main);

const PROT_RW: u32 = PROT_READ | sys::PROT_WRITE;

/// Linux's numbers of the calls the workloads make beyond `tempest_user::sys`.
const SYS_READ: u32 = 3;
const SYS_PIPE: u32 = 42;
const SYS_REBOOT: u32 = 88;
const SYS_UNAME: u32 = 122;

/// Untimed rounds, then counted samples.
const WARMUP: usize = 8;
const SAMPLES: usize = 100;

/// The `only=` prefix: workloads whose names do not start with it are not run.
static mut ONLY: &str = "";

/// Whether the `only=` argument lets workload `name` run.
fn selected(name: &str) -> bool {
    // SAFETY: written once by `main` before any workload or helper thread starts.
    name.starts_with(unsafe { ONLY })
}

/// Set when the helper threads of a workload must end.
static STOP: AtomicU32 = AtomicU32::new(0);
/// Helper threads that are running (on their CPUs).
static RUNNING: AtomicU32 = AtomicU32::new(0);
/// The page the shootdown workloads' readers read.
static TARGET: AtomicU32 = AtomicU32::new(0);

fn main(args: &Args) -> i32 {
    if args.str(1) == Some("exit") {
        return 0;
    }
    if let Some(prefix) = args.iter().find_map(|a| a.strip_prefix(b"only=")) {
        // SAFETY: no workload or helper thread runs yet.
        unsafe { ONLY = core::str::from_utf8(prefix).unwrap_or("") };
    }
    let cpus = usable_cpus();
    let mut uname = [0u8; 6 * 65];
    sys::syscall1(SYS_UNAME, uname.as_mut_ptr() as usize);
    let field = |i: usize| {
        let f = &uname[i * 65..(i + 1) * 65];
        let end = f.iter().position(|&b| b == 0).unwrap_or(65);
        core::str::from_utf8(&f[..end]).unwrap_or("?")
    };
    println!(
        "@@peer {{\"event\":\"start\",\"kernel\":\"{} {}\",\"cpus\":{}}}",
        field(0),
        field(2),
        cpus.count_ones()
    );
    if sys::pin_to_cpu(0) != 0 {
        println!("peer_bench: FAIL: cannot pin to cpu 0");
        return 1;
    }
    let mut ok = true;
    ok &= measure("getpid", 64, |_| {
        for _ in 0..64 {
            sys::getpid();
        }
        Ok(())
    });
    ok &= measure("mmap_touch_munmap_1", 1, |_| map_touch_unmap(1));
    ok &= measure("mmap_touch_munmap_64", 64, |_| map_touch_unmap(64));
    ok &= pipe("pipe_4k", 4096);
    ok &= pipe("pipe_64k", 65536);
    for readers in 1..=3 {
        ok &= shootdown(cpus, readers, Shootdown::Mprotect);
        ok &= shootdown(cpus, readers, Shootdown::Remap);
        ok &= shootdown(cpus, readers, Shootdown::Munmap);
    }
    ok &= measure("thread_create_join", 1, |_| {
        let t = Thread::spawn(exit_at_once, 0).map_err(|e| e as i64)?;
        t.join();
        Ok(())
    });
    ok &= context_switch();
    ok &= futex_pingpong(cpus);
    ok &= measure("fork_exit_wait", 1, |_| fork_wait(None));
    ok &= fork_exec(args);
    println!("@@peer {{\"event\":\"done\",\"ok\":{ok}}}");
    if sys::getpid() == 1 && args.iter().any(|a| a == b"poweroff") {
        // LINUX_REBOOT_MAGIC1, MAGIC2, CMD_POWER_OFF.
        sys::syscall6(SYS_REBOOT, 0xfee1_dead, 672_274_793, 0x4321_fedc, 0, 0, 0);
    }
    if ok { 0 } else { 1 }
}

/// Runs `round` `WARMUP` times untimed, then `SAMPLES` times timed, and prints the
/// per-operation figures (`ops_per_round` operations per round). A round's error (a
/// `-errno`) fails the workload with a line saying so.
fn measure(name: &str, ops_per_round: u64, round: impl FnMut(usize) -> Result<(), i64>) -> bool {
    measure_after(name, ops_per_round, |_| Ok(()), round)
}

/// [`measure`], with `setup(i)` run untimed before each round.
fn measure_after(
    name: &str,
    ops_per_round: u64,
    mut setup: impl FnMut(usize) -> Result<(), i64>,
    mut round: impl FnMut(usize) -> Result<(), i64>,
) -> bool {
    if !selected(name) {
        return true;
    }
    let mut samples = [0u64; SAMPLES];
    let maps_before = temp_maps();
    for i in 0..WARMUP + SAMPLES {
        if let Err(e) = setup(i) {
            println!(
                "@@peer {{\"workload\":\"{name}\",\"failed\":\"error {e} in the set-up of round {i}\"}}"
            );
            return false;
        }
        let t0 = rdtsc();
        if let Err(e) = round(i) {
            println!("@@peer {{\"workload\":\"{name}\",\"failed\":\"error {e} in round {i}\"}}");
            return false;
        }
        let cycles = rdtsc() - t0;
        if i >= WARMUP {
            samples[i - WARMUP] = cycles / ops_per_round;
        }
    }
    let maps = temp_maps().zip(maps_before).map(|(after, before)| {
        let ops = (WARMUP + SAMPLES) as u64 * ops_per_round;
        (after - before) * 100 / ops
    });
    report(name, &mut samples, maps);
    true
}

fn report(name: &str, samples: &mut [u64], temp_maps_x100: Option<u64>) {
    samples.sort_unstable();
    let mean = samples.iter().sum::<u64>() / samples.len() as u64;
    let maps = match temp_maps_x100 {
        Some(m) => Maps(m),
        None => Maps(u64::MAX),
    };
    println!(
        "@@peer {{\"workload\":\"{name}\",\"ops\":{},\"p50\":{},\"min\":{},\"mean\":{mean},\"temp_maps_per_op\":{maps}}}",
        samples.len(),
        samples[samples.len() / 2],
        samples[0]
    );
}

/// Hundredths printed as a decimal (`1.50`), or `null` when not known.
struct Maps(u64);

impl core::fmt::Display for Maps {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == u64::MAX {
            f.write_str("null")
        } else {
            write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
        }
    }
}

fn skip(name: &str, why: core::fmt::Arguments) -> bool {
    println!("@@peer {{\"workload\":\"{name}\",\"skipped\":\"{why}\"}}");
    true
}

/// This process's temp mappings so far (Tempest's `temp_stats`; `None` on other kernels).
fn temp_maps() -> Option<u64> {
    let mut stats = sys::TempStats::default();
    (sys::temp_stats(&mut stats) == 0).then_some(stats.process.maps)
}

/// mmap `pages` fresh pages, write to each, munmap them.
fn map_touch_unmap(pages: usize) -> Result<(), i64> {
    let len = pages * PAGE_SIZE;
    let addr = sys::map_anonymous(len);
    if sys::is_error(addr) {
        return Err(addr as i64);
    }
    for page in 0..pages {
        // SAFETY: a fresh read-write mapping of `len` bytes of this process.
        unsafe { ((addr as usize + page * PAGE_SIZE) as *mut u8).write_volatile(1) };
    }
    // SAFETY: unmaps the mapping made above, used by nothing else.
    let r = unsafe { sys::munmap(addr as usize, len) };
    if r < 0 { Err(r as i64) } else { Ok(()) }
}

/// `bytes` written into a pipe and read back by the same thread, one round each.
fn pipe(name: &str, bytes: usize) -> bool {
    let mut fds = [0i32; 2];
    let made = sys::syscall1(SYS_PIPE, fds.as_mut_ptr() as usize);
    let (from, to) = (sys::map_anonymous(bytes), sys::map_anonymous(bytes));
    if made != 0 || sys::is_error(from) || sys::is_error(to) {
        return skip(name, format_args!("pipe = {made}, buffers {from} {to}"));
    }
    let ok = measure(name, 1, |_| {
        let wrote = sys::write(fds[1], from as *const u8, bytes);
        if wrote != bytes as isize {
            return Err(wrote as i64);
        }
        let mut read = 0;
        while read < bytes {
            let n = sys::syscall3(SYS_READ, fds[0] as usize, to as usize + read, bytes - read);
            if n <= 0 {
                return Err(n as i64);
            }
            read += n as usize;
        }
        Ok(())
    });
    sys::close(fds[0]);
    sys::close(fds[1]);
    ok
}

#[derive(Clone, Copy)]
enum Shootdown {
    /// `mprotect` of the readers' page from read-write to read-only: the sample is that
    /// call, which must drop the readers' translations (the way back to read-write, which
    /// Linux makes without a flush, is made untimed before each round).
    Mprotect,
    /// `mmap` with `MAP_FIXED` over the readers' page: a fresh page in its place.
    Remap,
    /// `mmap`, touch and `munmap` of another page while the readers run.
    Munmap,
}

/// A reader: pinned to CPU `arg`, reads the target page until told to stop.
extern "C" fn reader(cpu: usize) -> ! {
    if sys::pin_to_cpu(cpu as u32) != 0 {
        sys::exit(1);
    }
    RUNNING.fetch_add(1, Ordering::AcqRel);
    while STOP.load(Ordering::Acquire) == 0 {
        let page = TARGET.load(Ordering::Relaxed) as usize;
        // SAFETY: the target page stays mapped and readable while readers run (the
        // workloads change its protection between read-only and read-write, or replace
        // it in one step with MAP_FIXED).
        unsafe { (page as *const u32).read_volatile() };
        core::hint::spin_loop();
    }
    sys::exit(0);
}

extern "C" fn exit_at_once(_: usize) -> ! {
    sys::exit(0);
}

/// A shootdown workload with `readers` threads reading one page on CPUs 1..=readers.
fn shootdown(cpus: u32, readers: u32, kind: Shootdown) -> bool {
    let what = match kind {
        Shootdown::Mprotect => "mprotect",
        Shootdown::Remap => "remap",
        Shootdown::Munmap => "munmap",
    };
    let mut name_buf = [0u8; 32];
    let name = fmt_name(&mut name_buf, format_args!("shootdown_{what}_{readers}"));
    if cpus.count_ones() < readers + 1 {
        return skip(
            name,
            format_args!(
                "needs {} CPUs, the machine has {}",
                readers + 1,
                cpus.count_ones()
            ),
        );
    }
    let page = sys::map_anonymous(PAGE_SIZE);
    if sys::is_error(page) {
        return skip(name, format_args!("mmap = {page}"));
    }
    TARGET.store(page as u32, Ordering::Release);
    STOP.store(0, Ordering::Release);
    RUNNING.store(0, Ordering::Release);
    let mut threads = [None; 3];
    for (i, slot) in threads.iter_mut().enumerate().take(readers as usize) {
        match Thread::spawn(reader, i + 1) {
            Ok(t) => *slot = Some(t),
            Err(e) => return skip(name, format_args!("clone = {e}")),
        }
    }
    if !tempest_user::thread::wait_for_count(&RUNNING, readers, 10_000) {
        STOP.store(1, Ordering::Release);
        return skip(name, format_args!("the readers did not start"));
    }
    let page = page as usize;
    let setup = |i: usize| {
        if let Shootdown::Mprotect = kind {
            // SAFETY: the workload's own page, readable either way; written once it is
            // writable, so that a kernel that maps pages on demand (Linux: the readers'
            // reads alone map the shared zero page, read-only) has a writable entry for
            // the timed call to take away, as Tempest, which maps eagerly, always has.
            let r = unsafe { sys::mprotect(page, PAGE_SIZE, PROT_RW) };
            if sys::is_error(r) {
                return Err(r as i64);
            }
            // SAFETY: as above: the page is read-write now.
            unsafe { (page as *mut u32).write_volatile(i as u32) };
        }
        Ok(())
    };
    let ok = measure_after(name, 1, setup, |_| {
        // SAFETY: the workload's own page (and, for munmap, a fresh one of its own).
        let r = unsafe {
            match kind {
                Shootdown::Mprotect => sys::mprotect(page, PAGE_SIZE, PROT_READ),
                Shootdown::Remap => sys::mmap2(
                    page,
                    PAGE_SIZE,
                    PROT_RW,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                    -1,
                    0,
                ),
                Shootdown::Munmap => return map_touch_unmap(1),
            }
        };
        if sys::is_error(r) {
            Err(r as i64)
        } else {
            Ok(())
        }
    });
    STOP.store(1, Ordering::Release);
    for t in threads.iter().flatten() {
        t.join();
    }
    // SAFETY: the readers are gone; nothing else uses the page.
    unsafe { sys::munmap(page, PAGE_SIZE) };
    ok
}

/// Formats a workload name into `buf`.
fn fmt_name<'a>(buf: &'a mut [u8], args: core::fmt::Arguments) -> &'a str {
    struct Into<'b>(&'b mut [u8], usize);
    impl core::fmt::Write for Into<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut w = Into(buf, 0);
    let _ = core::fmt::write(&mut w, args);
    let len = w.1;
    core::str::from_utf8(&buf[..len]).unwrap_or("?")
}

/// Turns handed over by `context_switch`'s partner.
static TURNS: AtomicU32 = AtomicU32::new(0);

extern "C" fn yielder(_: usize) -> ! {
    if sys::pin_to_cpu(0) != 0 {
        sys::exit(1);
    }
    RUNNING.fetch_add(1, Ordering::AcqRel);
    while STOP.load(Ordering::Acquire) == 0 {
        TURNS.fetch_add(1, Ordering::AcqRel);
        sys::sched_yield();
    }
    sys::exit(0);
}

/// Two threads on CPU 0 hand it to each other with `sched_yield`; a round trip is two
/// switches, the sample is half of it.
fn context_switch() -> bool {
    STOP.store(0, Ordering::Release);
    RUNNING.store(0, Ordering::Release);
    let partner = match Thread::spawn(yielder, 0) {
        Ok(t) => t,
        Err(e) => return skip("context_switch", format_args!("clone = {e}")),
    };
    if !tempest_user::thread::wait_for_count(&RUNNING, 1, 10_000) {
        STOP.store(1, Ordering::Release);
        return skip("context_switch", format_args!("the partner did not start"));
    }
    let ok = measure("context_switch", 2, |_| {
        sys::sched_yield();
        Ok(())
    });
    STOP.store(1, Ordering::Release);
    partner.join();
    ok
}

/// The ping-pong word: 1 when it is the partner's turn, 0 when it is the main thread's.
static BALL: AtomicU32 = AtomicU32::new(0);
const FUTEX_PRIVATE: u32 = 128;

extern "C" fn ponger(cpu: usize) -> ! {
    if sys::pin_to_cpu(cpu as u32) != 0 {
        sys::exit(1);
    }
    RUNNING.fetch_add(1, Ordering::AcqRel);
    loop {
        while BALL.load(Ordering::Acquire) == 0 {
            if STOP.load(Ordering::Acquire) != 0 {
                sys::exit(0);
            }
            sys::futex_wait(&BALL, 0, None, FUTEX_PRIVATE);
        }
        BALL.store(0, Ordering::Release);
        sys::futex_wake(&BALL, 1, FUTEX_PRIVATE);
    }
}

/// Main on CPU 0 and a partner on CPU 1 hand a word back and forth through `FUTEX_WAIT`
/// and `FUTEX_WAKE`; the sample is a round trip (two wake-ups on other CPUs).
fn futex_pingpong(cpus: u32) -> bool {
    if cpus.count_ones() < 2 {
        return skip(
            "futex_pingpong",
            format_args!("needs 2 CPUs, the machine has 1"),
        );
    }
    STOP.store(0, Ordering::Release);
    RUNNING.store(0, Ordering::Release);
    BALL.store(0, Ordering::Release);
    let partner = match Thread::spawn(ponger, 1) {
        Ok(t) => t,
        Err(e) => return skip("futex_pingpong", format_args!("clone = {e}")),
    };
    if !tempest_user::thread::wait_for_count(&RUNNING, 1, 10_000) {
        STOP.store(1, Ordering::Release);
        return skip("futex_pingpong", format_args!("the partner did not start"));
    }
    let ok = measure("futex_pingpong", 1, |_| {
        BALL.store(1, Ordering::Release);
        sys::futex_wake(&BALL, 1, FUTEX_PRIVATE);
        while BALL.load(Ordering::Acquire) == 1 {
            sys::futex_wait(&BALL, 1, None, FUTEX_PRIVATE);
        }
        Ok(())
    });
    STOP.store(1, Ordering::Release);
    BALL.store(1, Ordering::Release);
    sys::futex_wake(&BALL, 1, FUTEX_PRIVATE);
    partner.join();
    ok
}

/// Forks a child that executes `exec` (path and argv, NULL-terminated) or exits at once,
/// and waits for it; an error unless it ended with status 0 (127: the exec failed).
fn fork_wait(exec: Option<(*const u8, &[*const u8; 3])>) -> Result<(), i64> {
    match sys::fork_and_wait(exec) {
        Ok(0) => Ok(()),
        Ok(status) => Err(-i64::from(status)),
        Err(e) => Err(e as i64),
    }
}

/// `fork_exec_wait`: the child executes this very program (`argv[0]`) with `exit`.
fn fork_exec(args: &Args) -> bool {
    let Some(path) = args.get(0) else {
        return skip("fork_exec_wait", format_args!("no argv[0]"));
    };
    // argv[0] is the kernel's NUL-terminated string, so its pointer is a C string.
    let argv = [
        path.as_ptr(),
        c"exit".as_ptr().cast::<u8>(),
        core::ptr::null(),
    ];
    if fork_wait(Some((path.as_ptr(), &argv))).is_err() {
        return skip(
            "fork_exec_wait",
            format_args!(
                "{} cannot be executed",
                core::str::from_utf8(path).unwrap_or("argv[0]")
            ),
        );
    }
    measure("fork_exec_wait", 1, |_| {
        fork_wait(Some((path.as_ptr(), &argv)))
    })
}
