//! The user programs of a run: one process per multiboot module, started at boot, and the
//! closing report of how each ended.
//!
//! A module's string is `PATH [ARG...] [expect=N]`: the program is named after PATH's last
//! component, ARGs become argv[1..], and `expect=N` (default 0) is the exit status the run
//! expects of it.

use crate::console::JsonStr;
use crate::kprintln;
use crate::mm::bootinfo::Module;
use crate::mm::layout::phys_to_virt;
use crate::mm::temp::TempMap;
use crate::mm::zones::Frame;
use crate::sched::{self, ExitRecord};
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;

/// A module's string, split into name, arguments and expected status.
pub struct ProgramSpec<'a> {
    pub name: &'a str,
    pub args: Vec<&'a str>,
    pub expected: i32,
}

/// Parses a module string; `None` when it names no program.
pub fn parse_spec(line: &str) -> Option<ProgramSpec<'_>> {
    let mut words = line.split_ascii_whitespace();
    let path = words.next()?;
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut spec = ProgramSpec {
        name,
        args: Vec::new(),
        expected: 0,
    };
    for w in words {
        match w.strip_prefix("expect=").and_then(|v| v.parse().ok()) {
            Some(status) => spec.expected = status,
            None => spec.args.push(w),
        }
    }
    Some(spec)
}

/// A module's bytes: read in place through the direct map when the module lies in lowmem,
/// else copied out page by page through temp mappings (a module in highmem).
fn module_bytes(m: &Module) -> Result<Cow<'static, [u8]>, String> {
    let len = (m.end - m.start) as usize;
    if m.end <= crate::mm::frames::lowmem_end() {
        // SAFETY: modules are reserved (never handed out as frames) and the direct map
        // covers them; they are only read.
        let bytes = unsafe { core::slice::from_raw_parts(phys_to_virt(m.start) as *const u8, len) };
        return Ok(Cow::Borrowed(bytes));
    }
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(len)
        .map_err(|_| alloc::format!("module of {len} bytes does not fit the kernel heap"))?;
    let mut pa = m.start;
    while pa < m.end {
        let page_start = pa / PAGE_SIZE as u64 * PAGE_SIZE as u64;
        let upto = m.end.min(page_start + PAGE_SIZE as u64);
        // SAFETY: module frames are reserved at boot and never handed out or written.
        let page =
            unsafe { TempMap::read(Frame::containing(pa)) }.map_err(|e| alloc::format!("{e}"))?;
        bytes.extend_from_slice(&page[(pa - page_start) as usize..(upto - page_start) as usize]);
        pa = upto;
    }
    Ok(Cow::Owned(bytes))
}

/// A program that could not be started: counted as a failed program in the report.
pub struct Refused {
    pub name: String,
    pub reason: String,
}

/// Starts one process per module, each with the environment `envp`; returns the programs
/// that were refused.
pub fn start_all(modules: &[Module], envp: &[&str]) -> Vec<Refused> {
    let mut refused = Vec::new();
    for m in modules {
        let Some(spec) = parse_spec(m.name()) else {
            log::warn!("module at {:#x} has no name, skipped", m.start);
            continue;
        };
        let mut argv = alloc::vec![spec.name];
        argv.extend(spec.args.iter().copied());
        let started = module_bytes(m)
            .and_then(|image| {
                crate::loader::load(&image, &argv, envp).map_err(|e| alloc::format!("{e}"))
            })
            .and_then(|loaded| {
                let entry = loaded.entry;
                sched::spawn(
                    spec.name.into(),
                    spec.expected,
                    loaded.mem,
                    entry,
                    loaded.stack,
                )
                .map(|(pid, cpu)| (pid, cpu, entry))
                .map_err(|e| alloc::format!("no thread for it: {e:?}"))
            });
        match started {
            Ok((pid, cpu, entry)) => {
                log::info!("pid {pid} on cpu {cpu}: {} (entry {entry:#x})", m.name());
            }
            Err(e) => {
                log::error!("program `{}` refused: {e}", spec.name);
                refused.push(Refused {
                    name: spec.name.into(),
                    reason: e,
                });
            }
        }
    }
    refused
}

/// Prints the table of how each program ended; true when every one ended as expected and
/// none was refused.
pub fn report(exits: &[ExitRecord], refused: Vec<Refused>) -> bool {
    let mut exits = exits.to_vec();
    exits.sort_by_key(|e| e.pid);
    if exits.is_empty() && refused.is_empty() {
        return true;
    }
    kprintln!("  programs       :");
    kprintln!("    pid cpu name                 status expected  syscalls temp maps peak");
    let mut ok = true;
    for e in &exits {
        let verdict = if e.status == e.expected {
            "ok"
        } else {
            "MISMATCH"
        };
        ok &= e.status == e.expected;
        kprintln!(
            "    {:>3} {:>3} {:<20} {:>6} {:>8} {:>9} {:>9} {:>4}  {verdict}",
            e.pid,
            e.cpu,
            e.name,
            e.status,
            e.expected,
            e.syscalls,
            e.temp.maps,
            e.temp.peak_depth
        );
    }
    for r in &refused {
        ok = false;
        kprintln!("      - {:<20} refused: {}", r.name, r.reason);
        kprintln!(
            "@@tempest {{\"event\":\"refused\",\"name\":{},\"reason\":{}}}",
            JsonStr(&r.name),
            JsonStr(&r.reason)
        );
    }
    ok
}
