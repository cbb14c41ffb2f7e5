//! TLB-shootdown bookkeeping: a board with one request slot per initiating CPU and, in each
//! slot, a bit per target CPU that still has to flush (the scoreboard idea of FreeBSD's
//! `smp_targeted_tlb_shootdown`: several CPUs may initiate at once, with no global lock).
//!
//! Protocol, for initiator `i` and targets `T`:
//! 1. `i` writes what to flush into its slot (relaxed stores), then publishes `T` in the
//!    slot's `pending` mask with release ordering;
//! 2. `i` interrupts every CPU in `T` (the kernel fences before the IPI) and flushes its own
//!    TLB meanwhile;
//! 3. each target, in its interrupt handler, scans the board: for every slot whose `pending`
//!    has its bit (acquire load, so the flush description is visible), it flushes, then
//!    clears its bit (release: the flush happened before the ack);
//! 4. `i` waits until `pending` is 0 (acquire: every target's flush happened before), and
//!    while it waits it serves requests aimed at itself, so two initiators waiting on each
//!    other both make progress. Only then may the caller free the frames or page tables
//!    the old translations pointed at.
//!
//! A slot is reused only by its own CPU, and only after its previous round completed, so
//! its flush description never changes while any target can read it.

use core::sync::atomic::{AtomicU32, Ordering};

/// CPUs the board has slots for (one bit each in a `u32` mask).
pub const MAX_CPUS: usize = 16;

/// Most pages a page-list round names (more: a range or a full flush).
pub const MAX_LIST: usize = 8;

/// What a round flushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// `pages` pages from `start` (page-aligned).
    Range { start: u32, pages: u32 },
    /// The first `count` of `pages` (page-aligned addresses, anywhere).
    List { pages: [u32; MAX_LIST], count: u8 },
    /// The whole TLB (non-global entries; the kernel decides about global ones).
    All,
}

impl Flush {
    /// A range flush becomes a full flush above `ceiling` pages (a CR3 reload then costs
    /// less than `invlpg` page by page).
    pub fn with_ceiling(self, ceiling: u32) -> Flush {
        match self {
            Flush::Range { pages, .. } if pages > ceiling => Flush::All,
            Flush::List { count, .. } if u32::from(count) > ceiling => Flush::All,
            f => f,
        }
    }

    /// A page-list flush of `pages` (at most `MAX_LIST`; more become a full flush).
    pub fn list(pages: &[u32]) -> Flush {
        if pages.len() > MAX_LIST {
            return Flush::All;
        }
        let mut list = [0; MAX_LIST];
        list[..pages.len()].copy_from_slice(pages);
        Flush::List {
            pages: list,
            count: pages.len() as u8,
        }
    }

    /// Each page the flush names (none for a full flush).
    pub fn pages(&self) -> impl Iterator<Item = u32> + '_ {
        let (start, range, list): (u32, core::ops::Range<u32>, &[u32]) = match self {
            Flush::Range { start, pages } => (*start, 0..*pages, &[]),
            Flush::List { pages, count } => (0, 0..0, &pages[..usize::from(*count)]),
            Flush::All => (0, 0..0, &[]),
        };
        range
            .map(move |i| start + i * 4096)
            .chain(list.iter().copied())
    }
}

/// Which translations a round is about: one address space (by its page directory's
/// physical address) or the kernel's (shared by every space, often global).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Kernel,
    User { directory: u32 },
}

/// The CPUs a round must interrupt: for the kernel's space every online CPU, for a user
/// space the online CPUs that have it loaded (`active`); never the initiator `me`, which
/// flushes itself.
pub fn targets(space: Space, active: u32, online: u32, me: usize) -> u32 {
    let may_cache = match space {
        Space::Kernel => online,
        Space::User { .. } => active & online,
    };
    may_cache & !(1 << me)
}

/// A request as a target sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub initiator: usize,
    pub space: Space,
    pub flush: Flush,
}

/// One CPU's slot.
#[derive(Default)]
struct Slot {
    /// Target CPUs that have not acknowledged yet.
    pending: AtomicU32,
    /// 0: kernel; else the user directory's physical address.
    directory: AtomicU32,
    /// `FULL`: full flush; `LIST | n`: the first n entries of `list`; else the page count
    /// of the range from `start`.
    pages: AtomicU32,
    start: AtomicU32,
    list: [AtomicU32; MAX_LIST],
}

const FULL: u32 = u32::MAX;
const LIST: u32 = 1 << 31;

/// The scoreboard shared by every CPU.
pub struct Board {
    slots: [Slot; MAX_CPUS],
}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

/// Some targets did not acknowledge: their bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Silent(pub u32);

impl Silent {
    /// The first silent CPU.
    pub fn first(&self) -> usize {
        self.0.trailing_zeros() as usize
    }
}

impl Board {
    pub const fn new() -> Self {
        Self {
            slots: [const {
                Slot {
                    pending: AtomicU32::new(0),
                    directory: AtomicU32::new(0),
                    pages: AtomicU32::new(0),
                    start: AtomicU32::new(0),
                    list: [const { AtomicU32::new(0) }; MAX_LIST],
                }
            }; MAX_CPUS],
        }
    }

    /// Step 1: `initiator` publishes a request to `targets` (a CPU mask without itself).
    ///
    /// Panics if the initiator's previous round is still pending: a kernel bug.
    pub fn post(&self, initiator: usize, targets: u32, space: Space, flush: Flush) {
        let slot = &self.slots[initiator];
        assert_eq!(
            slot.pending.load(Ordering::Acquire),
            0,
            "cpu {initiator} posted over a pending round"
        );
        assert_eq!(
            targets & (1 << initiator),
            0,
            "an initiator does not target itself"
        );
        let directory = match space {
            Space::Kernel => 0,
            Space::User { directory } => directory,
        };
        let (start, pages) = match flush {
            Flush::Range { start, pages } => (start, pages.min(LIST - 1)),
            Flush::List { pages, count } => {
                for (slot, page) in slot.list.iter().zip(pages) {
                    slot.store(page, Ordering::Relaxed);
                }
                (0, LIST | u32::from(count))
            }
            Flush::All => (0, FULL),
        };
        slot.directory.store(directory, Ordering::Relaxed);
        slot.start.store(start, Ordering::Relaxed);
        slot.pages.store(pages, Ordering::Relaxed);
        slot.pending.store(targets, Ordering::Release);
    }

    /// Step 3, for target `cpu`: calls `flush` for every request aimed at it, then
    /// acknowledges it. Returns how many it served.
    pub fn serve(&self, cpu: usize, mut flush: impl FnMut(&Request)) -> usize {
        let bit = 1 << cpu;
        let mut served = 0;
        for (initiator, slot) in self.slots.iter().enumerate() {
            if slot.pending.load(Ordering::Acquire) & bit == 0 {
                continue;
            }
            let directory = slot.directory.load(Ordering::Relaxed);
            let pages = slot.pages.load(Ordering::Relaxed);
            let request = Request {
                initiator,
                space: if directory == 0 {
                    Space::Kernel
                } else {
                    Space::User { directory }
                },
                flush: if pages == FULL {
                    Flush::All
                } else if pages & LIST != 0 {
                    let mut list = [0; MAX_LIST];
                    for (page, stored) in list.iter_mut().zip(&slot.list) {
                        *page = stored.load(Ordering::Relaxed);
                    }
                    Flush::List {
                        pages: list,
                        count: (pages & !LIST) as u8,
                    }
                } else {
                    Flush::Range {
                        start: slot.start.load(Ordering::Relaxed),
                        pages,
                    }
                },
            };
            flush(&request);
            slot.pending.fetch_and(!bit, Ordering::Release);
            served += 1;
        }
        served
    }

    /// Step 4: whether every target of `initiator`'s round has acknowledged.
    pub fn done(&self, initiator: usize) -> Result<(), Silent> {
        match self.slots[initiator].pending.load(Ordering::Acquire) {
            0 => Ok(()),
            left => Err(Silent(left)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_utils::thread;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::vec::Vec;

    #[test]
    fn targets_are_the_cpus_that_may_cache_the_space() {
        let online = 0b1111;
        assert_eq!(
            targets(Space::Kernel, 0, online, 0),
            0b1110,
            "kernel: every other online CPU"
        );
        let user = Space::User { directory: 0x5000 };
        assert_eq!(
            targets(user, 0b0101, online, 0),
            0b0100,
            "user: where it is loaded, not me"
        );
        assert_eq!(
            targets(user, 0b0001, online, 0),
            0,
            "loaded only here: no IPI at all"
        );
        assert_eq!(
            targets(user, 0b1_0000_0010, online, 3),
            0b0010,
            "offline CPUs are never targets"
        );
        assert_eq!(
            targets(Space::Kernel, 0, 0b1, 0),
            0,
            "one CPU: nothing to send"
        );
    }

    #[test]
    fn ceiling_turns_big_ranges_into_full_flushes() {
        let r = Flush::Range {
            start: 0x1000,
            pages: 33,
        };
        assert_eq!(r.with_ceiling(32), Flush::All);
        assert_eq!(r.with_ceiling(33), r);
        assert_eq!(Flush::All.with_ceiling(0), Flush::All);
        // A list at the ceiling stays a list; one past it does not.
        let four = Flush::list(&[0x1000, 0x2000, 0x3000, 0x4000]);
        assert_eq!(four.with_ceiling(4), four);
        assert_eq!(four.with_ceiling(3), Flush::All);
    }

    #[test]
    fn a_list_of_max_list_pages_stays_a_list() {
        let pages: Vec<u32> = (1..=MAX_LIST as u32).map(|i| i * 4096).collect();
        let list = Flush::list(&pages);
        assert_ne!(list, Flush::All);
        assert_eq!(list.pages().collect::<Vec<_>>(), pages);
    }

    #[test]
    fn the_initiator_is_never_its_own_target() {
        for me in 0..8 {
            assert_eq!(
                targets(Space::Kernel, 0, 0xFF, me),
                0xFF & !(1 << me),
                "cpu {me}"
            );
        }
    }

    #[test]
    fn serve_counts_the_requests_it_served() {
        let board = Board::new();
        assert_eq!(board.serve(3, |_| {}), 0, "nothing posted");
        board.post(0, 1 << 3, Space::Kernel, Flush::All);
        board.post(1, 1 << 3, Space::Kernel, Flush::All);
        assert_eq!(board.serve(3, |_| {}), 2);
        assert_eq!(board.serve(3, |_| {}), 0, "both acknowledged");
    }

    #[test]
    fn a_huge_range_is_still_a_range_on_the_board() {
        // Rounds cap ranges at the ceiling first; the board must still never read a range
        // as a list or a full flush.
        let board = Board::new();
        board.post(
            0,
            0b10,
            Space::Kernel,
            Flush::Range {
                start: 0x1000,
                pages: u32::MAX,
            },
        );
        let mut got = None;
        board.serve(1, |r| got = Some(r.flush));
        assert!(
            matches!(got, Some(Flush::Range { start: 0x1000, pages }) if pages == (1 << 31) - 1),
            "{got:?}"
        );
    }

    #[test]
    fn targets_see_the_request_and_acks_complete_the_round() {
        let board = Board::new();
        board.post(
            0,
            0b110,
            Space::User {
                directory: 0x1234_5000,
            },
            Flush::Range {
                start: 0x4000_0000,
                pages: 3,
            },
        );
        assert_eq!(board.done(0), Err(Silent(0b110)));
        let mut seen = Vec::new();
        assert_eq!(board.serve(1, |r| seen.push(*r)), 1);
        assert_eq!(
            seen,
            [Request {
                initiator: 0,
                space: Space::User {
                    directory: 0x1234_5000
                },
                flush: Flush::Range {
                    start: 0x4000_0000,
                    pages: 3
                }
            }]
        );
        assert_eq!(board.done(0), Err(Silent(0b100)));
        assert_eq!(Silent(0b100).first(), 2);
        assert_eq!(board.serve(3, |_| panic!("cpu 3 was not targeted")), 0);
        assert_eq!(
            board.serve(2, |r| assert_eq!(
                r.flush,
                Flush::Range {
                    start: 0x4000_0000,
                    pages: 3
                }
            )),
            1
        );
        assert_eq!(board.done(0), Ok(()));
        // Served once only.
        assert_eq!(board.serve(1, |_| panic!("served twice")), 0);
    }

    #[test]
    fn page_lists_round_trip_and_big_lists_become_full_flushes() {
        let board = Board::new();
        let list = Flush::list(&[0x1000, 0x8000_0000, 0x4000]);
        assert_eq!(
            list.pages().collect::<std::vec::Vec<_>>(),
            [0x1000, 0x8000_0000, 0x4000]
        );
        board.post(2, 1 << 3, Space::User { directory: 0x9000 }, list);
        let mut got = None;
        board.serve(3, |r| got = Some(r.flush));
        assert_eq!(got, Some(list));
        assert_eq!(Flush::list(&[0; MAX_LIST + 1]), Flush::All);
        assert_eq!(Flush::list(&[0; 4]).with_ceiling(3), Flush::All);
        let range = Flush::Range {
            start: 0x2000,
            pages: 3,
        };
        assert_eq!(
            range.pages().collect::<std::vec::Vec<_>>(),
            [0x2000, 0x3000, 0x4000]
        );
        assert_eq!(Flush::All.pages().count(), 0);
    }

    #[test]
    fn kernel_and_full_requests_round_trip() {
        let board = Board::new();
        board.post(5, 1 << 7, Space::Kernel, Flush::All);
        let mut got = None;
        board.serve(7, |r| got = Some(*r));
        assert_eq!(
            got,
            Some(Request {
                initiator: 5,
                space: Space::Kernel,
                flush: Flush::All
            })
        );
    }

    #[test]
    #[should_panic(expected = "posted over a pending round")]
    fn a_second_round_waits_for_the_first() {
        let board = Board::new();
        board.post(0, 0b10, Space::Kernel, Flush::All);
        board.post(0, 0b10, Space::Kernel, Flush::All);
    }

    /// Every CPU initiates rounds at every other CPU at the same time, each serving its
    /// own requests while it waits (as the kernel's initiators do): no deadlock, every
    /// request is served exactly once by every target, and only after it was posted.
    #[test]
    fn concurrent_initiators_all_complete() {
        const CPUS: usize = 8;
        const ROUNDS: u32 = 2_000;
        let board = Board::new();
        let served: Vec<Mutex<Vec<(usize, u32)>>> =
            (0..CPUS).map(|_| Mutex::new(Vec::new())).collect();
        let stop = AtomicBool::new(false);
        let finished = AtomicUsize::new(0);
        thread::scope(|s| {
            for cpu in 0..CPUS {
                let (board, served, stop, finished) = (&board, &served, &stop, &finished);
                s.spawn(move |_| {
                    let others = ((1u32 << CPUS) - 1) & !(1 << cpu);
                    let mut log = Vec::new();
                    for round in 0..ROUNDS {
                        // The round number rides in `start` so targets can check what they saw.
                        board.post(
                            cpu,
                            others,
                            Space::Kernel,
                            Flush::Range {
                                start: round,
                                pages: 1,
                            },
                        );
                        let backoff = crossbeam_utils::Backoff::new();
                        while board.done(cpu).is_err() {
                            board.serve(cpu, |r| {
                                if let Flush::Range { start, .. } = r.flush {
                                    log.push((r.initiator, start));
                                }
                            });
                            backoff.snooze();
                        }
                    }
                    // Every round of this CPU was acknowledged; keep serving the others'
                    // until every initiator is done.
                    finished.fetch_add(1, Ordering::AcqRel);
                    while !stop.load(Ordering::Acquire) {
                        board.serve(cpu, |r| {
                            if let Flush::Range { start, .. } = r.flush {
                                log.push((r.initiator, start));
                            }
                        });
                        std::thread::yield_now();
                    }
                    *served[cpu].lock().unwrap() = log;
                });
            }
            while finished.load(Ordering::Acquire) < CPUS {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            stop.store(true, Ordering::Release);
        })
        .unwrap();
        for (cpu, log) in served.iter().enumerate() {
            let log = log.lock().unwrap();
            for initiator in (0..CPUS).filter(|&i| i != cpu) {
                let rounds: Vec<u32> = log
                    .iter()
                    .filter(|(i, _)| *i == initiator)
                    .map(|&(_, r)| r)
                    .collect();
                assert_eq!(
                    rounds,
                    (0..ROUNDS).collect::<Vec<_>>(),
                    "cpu {cpu} from cpu {initiator}"
                );
            }
        }
    }
}
