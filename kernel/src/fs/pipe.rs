//! Pipes: a ring of 16 pages (64 KiB, Linux's default capacity) whose frames come from
//! highmem first and are reached only through temp mappings, so every byte through a pipe
//! crosses two of them (the pipe's page and the user's). Readers block while it is empty
//! and writers while it is full; the last writer's close is the readers' end of file, and
//! a write with no reader left is `EPIPE` with SIGPIPE to the writer, as on Linux. Writes of
//! at most `PIPE_BUF` (4096) bytes are never interleaved with others.
//!
//! The ring is behind a sleeping lock, held across the copies (they may fault in the
//! user's page tables' checks and be preempted). The open ends are counted in atomics, and
//! blocked tasks wait on a `WaitList`: a waiter reads its change counter before it looks at
//! the ring and sleeps only if the counter has not moved since, so no wake-up falls between
//! its look and its sleep, and a read or write that wakes nobody takes no lock for it.

use crate::errno::Errno;
use crate::mm::frames;
use crate::mm::space::AddressSpace;
use crate::mm::temp::{TempMap, Writable};
use crate::mm::uaccess;
use crate::mm::zones::Frame;
use crate::proc::Process;
use crate::sched::{self, mutex::Mutex, waitlist::WaitList};
use alloc::sync::Arc;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::{AtomicU32, Ordering};

/// Pages in a pipe's ring.
pub const PIPE_PAGES: usize = 16;
/// Bytes a pipe holds.
pub const CAPACITY: usize = PIPE_PAGES * PAGE_SIZE;
/// Writes of at most this many bytes are atomic.
pub const PIPE_BUF: usize = 4096;

struct Ring {
    frames: [Option<Frame>; PIPE_PAGES],
    /// Where the oldest byte is, and how many there are.
    head: usize,
    len: usize,
}

impl Drop for Ring {
    fn drop(&mut self) {
        for f in self.frames.iter_mut().filter_map(Option::take) {
            frames::free(f);
        }
    }
}

pub struct Pipe {
    ring: Mutex<Ring>,
    /// Open ends of each kind (the last of a kind to go is the other side's end of file,
    /// or `EPIPE`).
    readers: AtomicU32,
    writers: AtomicU32,
    /// Moves at every change of the ring or of the ends; readers and writers wait on it.
    events: WaitList,
    /// An inode number for `fstat` (pipes have no name).
    pub id: u32,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1 << 20);

/// One end of a pipe, held by an open file description; the last one of a kind to go
/// is the other side's end of file (or `EPIPE`).
pub struct End {
    pub pipe: Arc<Pipe>,
    pub write: bool,
}

impl core::fmt::Debug for End {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let side = if self.write { "write" } else { "read" };
        write!(f, "pipe {} ({side} end)", self.pipe.id)
    }
}

impl Drop for End {
    fn drop(&mut self) {
        let ends = if self.write {
            &self.pipe.writers
        } else {
            &self.pipe.readers
        };
        ends.fetch_sub(1, Ordering::SeqCst);
        self.pipe.events.notify_all();
    }
}

/// A new pipe: its read end and its write end.
pub fn new() -> (End, End) {
    let pipe = Arc::new(Pipe {
        ring: Mutex::new(Ring {
            frames: [None; PIPE_PAGES],
            head: 0,
            len: 0,
        }),
        readers: AtomicU32::new(1),
        writers: AtomicU32::new(1),
        events: WaitList::new(),
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
    });
    (
        End {
            pipe: pipe.clone(),
            write: false,
        },
        End { pipe, write: true },
    )
}

/// What `poll` sees of an end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    pub readable: bool,
    pub writable: bool,
    /// The other side is gone for good (no writer for a reader: `POLLHUP`; no reader for a
    /// writer: `POLLERR`).
    pub hung_up: bool,
}

impl Pipe {
    pub fn readiness(&self, write: bool) -> Readiness {
        let len = self.ring.lock().len;
        let readers = self.readers.load(Ordering::SeqCst);
        if write {
            Readiness {
                readable: false,
                // As Linux: room for a whole page, so a `PIPE_BUF` write would not wait.
                writable: readers > 0 && CAPACITY - len >= PIPE_BUF,
                hung_up: readers == 0,
            }
        } else {
            // As Linux: `POLLIN` for bytes only; with no writer left, `POLLHUP` says a read
            // will return the end of file.
            Readiness {
                readable: len > 0,
                writable: false,
                hung_up: self.writers.load(Ordering::SeqCst) == 0,
            }
        }
    }

    /// `read`: up to `len` bytes into `buf`, waiting while the pipe is empty and a writer
    /// is left (0 when none is: end of file). `EAGAIN` instead of waiting with `nonblock`,
    /// `EINTR` for a signal, `EFAULT` for a bad first user page.
    pub fn read(
        &self,
        process: &Process,
        buf: u32,
        len: u32,
        nonblock: bool,
    ) -> Result<u32, Errno> {
        if len == 0 {
            return Ok(0);
        }
        loop {
            let seen = self.events.changes();
            {
                let mut ring = self.ring.lock();
                if ring.len > 0 {
                    // The memory's lock only around the copy: never held while waiting.
                    let n = ring.copy_out(&process.mem.lock().space, buf, len)?;
                    drop(ring);
                    self.events.notify_all();
                    return Ok(n);
                }
            }
            if self.writers.load(Ordering::SeqCst) == 0 {
                return Ok(0);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.events.wait(seen)?;
        }
    }

    /// `write`: all of `len` bytes from `buf`, waiting while the pipe is full (and, for
    /// at most `PIPE_BUF` bytes, until they fit at once). `EPIPE` (and SIGPIPE to the
    /// caller) when no reader is left; with `nonblock`, what fits now or `EAGAIN`; a signal
    /// or a bad user page after some bytes ends the write with their count, before any it
    /// is `EINTR` or `EFAULT`.
    pub fn write(
        &self,
        process: &Process,
        buf: u32,
        len: u32,
        nonblock: bool,
    ) -> Result<u32, Errno> {
        let atomic = len as usize <= PIPE_BUF;
        let mut done = 0u32;
        while done < len || len == 0 {
            let seen = self.events.changes();
            if self.readers.load(Ordering::SeqCst) == 0 {
                broken_pipe();
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EPIPE)
                };
            }
            if len == 0 {
                return Ok(0);
            }
            let copied = {
                let mut ring = self.ring.lock();
                let room = CAPACITY - ring.len;
                let want = (len - done) as usize;
                if room == 0 || (atomic && room < want) {
                    None
                } else {
                    let memory = process.mem.lock();
                    let n = want.min(room) as u32;
                    Some(ring.copy_in(&memory.space, buf.wrapping_add(done), n))
                }
            };
            match copied {
                Some(Ok(n)) => {
                    done += n;
                    self.events.notify_all();
                }
                Some(Err(e)) => return if done > 0 { Ok(done) } else { Err(e) },
                None if nonblock => {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EAGAIN)
                    };
                }
                None => {
                    if let Err(e) = self.events.wait(seen) {
                        return if done > 0 { Ok(done) } else { Err(e) };
                    }
                }
            }
        }
        Ok(done)
    }
}

/// SIGPIPE to the calling thread, as a write to a pipe without readers sends it.
fn broken_pipe() {
    let me = sched::current();
    let info = crate::signal::Info::sent(crate::signal::SIGPIPE, 0, me.process.tgid);
    crate::proc::signal::send_to_thread(&me, info);
}

impl Ring {
    /// Copies up to `len` bytes out to the user buffer at `buf`, oldest first, a pipe
    /// page at a time through a temp mapping. A bad user page after some bytes ends with
    /// their count; before any, `EFAULT`.
    fn copy_out(&mut self, space: &AddressSpace, buf: u32, len: u32) -> Result<u32, Errno> {
        let want = self.len.min(len as usize);
        let mut done = 0;
        while done < want {
            let at = (self.head + done) % CAPACITY;
            let chunk = (PAGE_SIZE - at % PAGE_SIZE).min(want - done);
            let frame = self.frames[at / PAGE_SIZE].expect("a page that holds bytes has a frame");
            // SAFETY: the pipe's own frame, under the ring's lock.
            let page = unsafe { TempMap::read(frame) }.map_err(|_| Errno::ENOMEM)?;
            let from = &page[at % PAGE_SIZE..at % PAGE_SIZE + chunk];
            match uaccess::copy_to_user(space, buf.wrapping_add(done as u32), from) {
                Ok(()) => done += chunk,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        self.head = (self.head + done) % CAPACITY;
        self.len -= done;
        if self.len == 0 {
            self.head = 0;
        }
        Ok(done as u32)
    }

    /// Copies `len` bytes (which fit) in from the user buffer at `buf`, making the frames
    /// of the pages it reaches (highmem first). A bad user page or no frame after some
    /// bytes ends with their count; before any, `EFAULT` or `ENOMEM`.
    fn copy_in(&mut self, space: &AddressSpace, buf: u32, len: u32) -> Result<u32, Errno> {
        let len = len as usize;
        let mut done = 0;
        let mut failure = None;
        while done < len {
            let at = (self.head + self.len + done) % CAPACITY;
            let chunk = (PAGE_SIZE - at % PAGE_SIZE).min(len - done);
            let index = at / PAGE_SIZE;
            let frame = match self.frames[index] {
                Some(f) => f,
                None => match frames::alloc_user() {
                    Some((f, _)) => {
                        self.frames[index] = Some(f);
                        f
                    }
                    None => {
                        failure = Some(Errno::ENOMEM);
                        break;
                    }
                },
            };
            // SAFETY: the pipe's own frame, under the ring's lock.
            let copied = unsafe { TempMap::<Writable>::write(frame) }
                .map_err(|_| Errno::ENOMEM)
                .and_then(|mut page| {
                    let to = &mut page[at % PAGE_SIZE..at % PAGE_SIZE + chunk];
                    uaccess::copy_from_user(space, to, buf.wrapping_add(done as u32))
                });
            match copied {
                Ok(()) => done += chunk,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        self.len += done;
        match failure {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done as u32),
        }
    }
}
