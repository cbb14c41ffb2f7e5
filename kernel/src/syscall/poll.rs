//! Waiting for several descriptors: `poll`, `ppoll`(`_time64`), `select` (the old one with
//! its arguments in a block), `_newselect` and `pselect6`(`_time64`). All of them ask one
//! question of each file, [`ready`], and wait the same way, [`wait_for`]: looking again
//! every timer tick until something is ready, the deadline passes or a signal comes.

use super::sched::{Layout, read_timespec, write_timespec};
use super::{SysResult, read_user, write_user};
use crate::errno::Errno;
use crate::files::{Device, Object};
use crate::fs::File;
use crate::fs::ramfs::Handle;
use crate::proc::NO_DEADLINE;
use crate::sched;
use alloc::vec::Vec;

const POLLIN: u16 = 0x1;
const POLLPRI: u16 = 0x2;
const POLLOUT: u16 = 0x4;
const POLLERR: u16 = 0x8;
const POLLHUP: u16 = 0x10;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLWRNORM: u16 = 0x100;
/// Reported whether asked for or not.
const POLLALWAYS: u16 = POLLERR | POLLHUP | POLLNVAL;

/// What makes a descriptor ready for `select`'s three sets (Linux's `POLLIN_SET`,
/// `POLLOUT_SET`, `POLLEX_SET`).
const SELECT_READ: u16 = POLLIN | POLLRDNORM | POLLHUP | POLLERR;
const SELECT_WRITE: u16 = POLLOUT | POLLWRNORM | POLLERR;
const SELECT_EXCEPT: u16 = POLLPRI;

/// `select`'s largest set: `FD_SETSIZE` descriptors.
const FD_SETSIZE: u32 = 1024;

/// What `file` is ready for now: a pipe as its ring and ends say; every device and file
/// takes writes at once, and reads (end of file, for the console without input: see
/// `io::read`) at once.
fn ready(file: Option<&File>) -> u16 {
    match file.map(|f| &f.object) {
        None => POLLNVAL,
        Some(Object::Node(Handle::Pipe(end))) => {
            let r = end.pipe.readiness(end.write);
            let mut events = 0;
            if r.readable {
                events |= POLLIN | POLLRDNORM;
            }
            if r.writable {
                events |= POLLOUT | POLLWRNORM;
            }
            if r.hung_up {
                events |= if end.write { POLLERR } else { POLLHUP };
            }
            events
        }
        Some(Object::Device(Device::Console)) if !crate::tty::console::readable() => {
            POLLOUT | POLLWRNORM
        }
        // Linux's DEFAULT_POLLMASK, whatever the open mode, as its `/dev/null` reports.
        Some(_) => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
    }
}

/// How often a waiter looks again: every timer tick. (A pipe does not wake a poller yet;
/// it is found ready at the next look.)
const RECHECK_NS: u64 = 1_000_000_000 / crate::sched::HZ;

/// Asks `check` (which counts what is ready) until it counts something, the deadline
/// passes (then its last count, 0) or a signal or the process's end interrupts the wait
/// (`EINTR`). `check` runs at least once, so a deadline in the past is a plain look.
fn wait_for(deadline: u64, mut check: impl FnMut() -> u32) -> SysResult {
    loop {
        let count = check();
        let now = crate::time::monotonic_ns();
        if count > 0 || now >= deadline {
            return Ok(count);
        }
        if !sched::block::sleep_until(deadline.min(now + RECHECK_NS)) {
            return Err(Errno::EINTR);
        }
    }
}

/// The deadline of a relative timeout read from `timeout` (a `timespec`); none for a null
/// pointer.
fn deadline_of_timespec(timeout: u32, layout: Layout) -> Result<u64, Errno> {
    if timeout == 0 {
        return Ok(NO_DEADLINE);
    }
    let ns = read_timespec(timeout, layout)?;
    Ok(crate::time::monotonic_ns().saturating_add(ns))
}

/// Writes back what is left of a timeout, as Linux does for `select`, `pselect6` and
/// `ppoll` (a failed write is ignored, as there).
fn write_back_timespec(timeout: u32, deadline: u64, layout: Layout) {
    if timeout != 0 {
        let left = deadline.saturating_sub(crate::time::monotonic_ns());
        let _ = write_timespec(timeout, left, layout);
    }
}

/// Runs `wait` with the signal mask read from `mask` (a `sigset_t` of `size` bytes; none
/// for a null pointer) in force, as `ppoll` and `pselect6` do. Interrupted, the old mask
/// comes back after the handler (its frame saves the old one); otherwise at once.
fn with_mask(mask: u32, size: u32, wait: impl FnOnce() -> SysResult) -> SysResult {
    if mask == 0 {
        return wait();
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let raw: [u8; 8] = read_user(mask, 8)?;
    let old = crate::proc::signal::blocked();
    crate::proc::signal::set_blocked(u64::from_le_bytes(raw));
    let result = wait();
    if result == Err(Errno::EINTR) {
        sched::with_current(|t| t.signals.lock().saved_blocked = Some(old));
    } else {
        crate::proc::signal::set_blocked(old);
    }
    result
}

/// `poll(fds, nfds, timeout)`: [`ready`] for each `struct pollfd`; with nothing ready it
/// waits up to `timeout` ms (for ever when negative). 0 at the timeout, `EINTR` for a
/// signal or the process's end. `EINVAL` past 16 entries (`RLIMIT_NOFILE`), `EFAULT`.
pub fn poll(fds: u32, nfds: u32, timeout: u32) -> SysResult {
    let timeout = timeout as i32;
    let deadline = if timeout < 0 {
        NO_DEADLINE
    } else {
        crate::time::monotonic_ns() + timeout as u64 * 1_000_000
    };
    poll_until(fds, nfds, deadline)
}

/// `ppoll(fds, nfds, timeout, sigmask, sigsetsize)` and `ppoll_time64`: `poll` with a
/// `timespec` timeout (null: for ever; what is left is written back) and the signal mask
/// `sigmask` while it waits.
pub fn ppoll(
    fds: u32,
    nfds: u32,
    timeout: u32,
    sigmask: u32,
    sigsetsize: u32,
    layout: Layout,
) -> SysResult {
    let deadline = deadline_of_timespec(timeout, layout)?;
    let result = with_mask(sigmask, sigsetsize, || poll_until(fds, nfds, deadline));
    write_back_timespec(timeout, deadline, layout);
    result
}

fn poll_until(fds: u32, nfds: u32, deadline: u64) -> SysResult {
    if nfds as usize > crate::files::MAX_FILES {
        return Err(Errno::EINVAL);
    }
    let len = nfds as usize * 8;
    let mut raw = [0u8; crate::files::MAX_FILES * 8];
    if len > 0 {
        raw = read_user(fds, len)?;
    }
    let process = sched::current_process();
    let count = wait_for(deadline, || {
        // The files first, under the table's lock; their readiness after it (a pipe's
        // ring has a sleeping lock).
        let files: Vec<(Option<File>, u16)> = {
            let table = process.files.lock();
            raw[..len]
                .chunks(8)
                .map(|entry| {
                    let fd = i32::from_le_bytes(entry[0..4].try_into().expect("4"));
                    let events = u16::from_le_bytes(entry[4..6].try_into().expect("2"));
                    match u32::try_from(fd) {
                        Ok(fd) => (table.get(fd).ok(), events | POLLALWAYS),
                        // A negative fd is skipped: no events, whatever it asks.
                        Err(_) => (None, 0),
                    }
                })
                .collect()
        };
        let mut count = 0;
        for ((file, mask), entry) in files.iter().zip(raw[..len].chunks_mut(8)) {
            let revents = if *mask == 0 {
                0
            } else {
                ready(file.as_ref()) & mask
            };
            entry[6..8].copy_from_slice(&revents.to_le_bytes());
            count += u32::from(revents != 0);
        }
        count
    })?;
    if len > 0 {
        write_user(fds, &raw[..len])?;
    }
    Ok(count)
}

/// `select`'s three sets of one call: the bitmaps as read (a null pointer reads as empty
/// and is not written back), `words` 32-bit words each.
struct Sets {
    addresses: [u32; 3],
    bits: [[u32; (FD_SETSIZE / 32) as usize]; 3],
    words: usize,
}

impl Sets {
    fn read(nfds: u32, addresses: [u32; 3]) -> Result<Sets, Errno> {
        let words = nfds.div_ceil(32) as usize;
        let mut bits = [[0u32; (FD_SETSIZE / 32) as usize]; 3];
        for (set, &address) in bits.iter_mut().zip(&addresses) {
            if address != 0 && words > 0 {
                let raw: [u8; (FD_SETSIZE / 8) as usize] = read_user(address, words * 4)?;
                for (word, bytes) in set.iter_mut().zip(raw.chunks(4)).take(words) {
                    *word = u32::from_le_bytes(bytes.try_into().expect("4"));
                }
            }
        }
        // Bits past `nfds` in the last word are not the call's.
        if !nfds.is_multiple_of(32) {
            for set in &mut bits {
                set[words - 1] &= (1 << (nfds % 32)) - 1;
            }
        }
        Ok(Sets {
            addresses,
            bits,
            words,
        })
    }

    fn has(&self, set: usize, fd: u32) -> bool {
        self.bits[set][(fd / 32) as usize] & (1 << (fd % 32)) != 0
    }

    fn write(&self) -> Result<(), Errno> {
        for (set, &address) in self.bits.iter().zip(&self.addresses) {
            if address != 0 && self.words > 0 {
                let bytes: Vec<u8> = set[..self.words]
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .collect();
                write_user(address, &bytes)?;
            }
        }
        Ok(())
    }
}

/// The common part of the `select` family: waits until a descriptor of the read, write
/// or exception set (`sets`, bitmaps of `nfds` bits) is ready, then leaves in each set
/// only the ready ones and returns how many bits that is. `EBADF` for a descriptor in a
/// set that is not open, `EINVAL` for a negative `nfds`; `nfds` past `FD_SETSIZE` counts
/// as `FD_SETSIZE`.
fn select_until(nfds: u32, sets: [u32; 3], deadline: u64) -> SysResult {
    if (nfds as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let nfds = nfds.min(FD_SETSIZE);
    let mut sets = Sets::read(nfds, sets)?;
    let process = sched::current_process();
    // (fd, file, which sets ask for it), the files held from here to the end.
    let asked: Vec<(u32, File, [bool; 3])> = {
        let table = process.files.lock();
        (0..nfds)
            .filter_map(|fd| {
                let wants = [0, 1, 2].map(|set| sets.has(set, fd));
                wants
                    .contains(&true)
                    .then(|| table.get(fd).map(|file| (fd, file, wants)))
            })
            .collect::<Result<_, _>>()?
    };
    let mut out = [[0u32; (FD_SETSIZE / 32) as usize]; 3];
    let count = wait_for(deadline, || {
        out = Default::default();
        let mut count = 0;
        for (fd, file, wants) in &asked {
            let events = ready(Some(file));
            for (set, mask) in [SELECT_READ, SELECT_WRITE, SELECT_EXCEPT]
                .into_iter()
                .enumerate()
            {
                if wants[set] && events & mask != 0 {
                    out[set][(fd / 32) as usize] |= 1 << (fd % 32);
                    count += 1;
                }
            }
        }
        count
    })?;
    sets.bits = out;
    sets.write()?;
    Ok(count)
}

/// `_newselect(nfds, readfds, writefds, exceptfds, timeout)`: [`select_until`] with a
/// `struct timeval` timeout (null: for ever; microseconds past a second carry into the
/// seconds, as on Linux; negative: `EINVAL`), what is left of it written back.
pub fn newselect(nfds: u32, read: u32, write: u32, except: u32, timeout: u32) -> SysResult {
    let deadline = if timeout == 0 {
        NO_DEADLINE
    } else {
        let raw: [u8; 8] = read_user(timeout, 8)?;
        let sec = i32::from_le_bytes(raw[0..4].try_into().expect("4"));
        let usec = i32::from_le_bytes(raw[4..8].try_into().expect("4"));
        if sec < 0 || usec < 0 {
            return Err(Errno::EINVAL);
        }
        let ns = sec as u64 * 1_000_000_000 + usec as u64 * 1_000;
        crate::time::monotonic_ns().saturating_add(ns)
    };
    let result = select_until(nfds, [read, write, except], deadline);
    if timeout != 0 {
        let left = deadline.saturating_sub(crate::time::monotonic_ns());
        let mut raw = [0u8; 8];
        raw[0..4].copy_from_slice(&((left / 1_000_000_000) as u32).to_le_bytes());
        raw[4..8].copy_from_slice(&((left % 1_000_000_000 / 1_000) as u32).to_le_bytes());
        let _ = write_user(timeout, &raw);
    }
    result
}

/// `select(args)`, i386's old call (82): the five arguments of `_newselect` in a block.
pub fn old_select(args: u32) -> SysResult {
    let raw: [u8; 20] = read_user(args, 20)?;
    let arg = |i: usize| u32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().expect("4"));
    newselect(arg(0), arg(1), arg(2), arg(3), arg(4))
}

/// `pselect6(nfds, readfds, writefds, exceptfds, timeout, sigmask)` and
/// `pselect6_time64`: [`select_until`] with a `timespec` timeout (what is left written
/// back) and, when `sigmask` points at `{ const sigset_t *set; size_t size; }` with a set,
/// that signal mask while it waits.
pub fn pselect6(
    nfds: u32,
    read: u32,
    write: u32,
    except: u32,
    timeout: u32,
    sigmask: u32,
    layout: Layout,
) -> SysResult {
    let deadline = deadline_of_timespec(timeout, layout)?;
    let (mask, size) = if sigmask == 0 {
        (0, 0)
    } else {
        let raw: [u8; 8] = read_user(sigmask, 8)?;
        (
            u32::from_le_bytes(raw[0..4].try_into().expect("4")),
            u32::from_le_bytes(raw[4..8].try_into().expect("4")),
        )
    };
    let result = with_mask(mask, size, || {
        select_until(nfds, [read, write, except], deadline)
    });
    write_back_timespec(timeout, deadline, layout);
    result
}
