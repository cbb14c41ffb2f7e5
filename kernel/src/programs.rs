//! The user programs of a run: one process per multiboot module, started at boot, and the
//! closing report of how each ended.
//!
//! A module's string is `PATH [ARG...] [expect=N]`: the program is named after PATH's last
//! component, ARGs become argv[1..], and `expect=N` (default 0) is the exit status the run
//! expects of it. A module that is a cpio archive is an initramfs: it is unpacked into the
//! root file system first (`unpack_initramfs`), and its string is `ARCHIVE [INIT [ARG...]]
//! [expect=N]`: the init program inside it (`/init` by default), started with its path as
//! argv[0].

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
    /// The path as given.
    pub path: &'a str,
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
        path,
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
    /// The module it came from (its start address).
    pub module: u64,
}

/// Unpacks every module that is a cpio archive into the root file system. Returns the
/// archives that were refused (a malformed one keeps what came before the fault), each
/// under its init's name: a run with a broken initramfs fails with the reason.
pub fn unpack_initramfs(modules: &[Module]) -> Vec<Refused> {
    let mut refused = Vec::new();
    for m in modules {
        let bytes = match module_bytes(m) {
            Ok(bytes) if crate::fs::cpio::is_archive(&bytes) => bytes,
            _ => continue,
        };
        let name = init_spec(m.name()).name;
        if let Err(e) = crate::fs::ramfs::unpack(m.name(), &bytes) {
            log::error!("initramfs `{}` refused: {e}", m.name());
            refused.push(Refused {
                name: name.into(),
                reason: alloc::format!("initramfs refused: {e}"),
                module: m.start,
            });
        }
    }
    refused
}

/// Loads the file `path` of the root file system (an initramfs's init), its segments
/// read straight from the file's pages.
fn load_file(path: &str, argv: &[&str], envp: &[&str]) -> Result<crate::loader::Loaded, String> {
    let data = {
        let fs = crate::fs::ramfs::lock();
        let ino = fs
            .resolve(crate::fs::tree::ROOT, path.as_bytes(), true)
            .map_err(|e| alloc::format!("`{path}` is not in the initramfs (errno {})", e.0))?;
        match crate::fs::ramfs::handle(&fs, ino) {
            Ok(crate::fs::ramfs::Handle::File { data, .. }) => data,
            _ => return Err(alloc::format!("`{path}` is not a file")),
        }
    };
    let size = data.size() as usize;
    let mut head = alloc::vec![0u8; size.min(crate::loader::HEAD_MAX)];
    data.read_at(0, &mut head)
        .map_err(|e| alloc::format!("`{path}`: errno {}", e.0))?;
    let mut read_at = |offset: usize, buf: &mut [u8]| data.read_at(offset, buf);
    crate::loader::load_from(&head, size, &mut read_at, argv, envp)
        .map_err(|e| alloc::format!("{e}"))
}

/// The init an initramfs module's string names: the words after the archive's own path,
/// `/init` when no path comes before an `expect=N` or the end.
pub fn init_spec(line: &str) -> ProgramSpec<'_> {
    let rest = line
        .trim_start()
        .split_once(char::is_whitespace)
        .map_or("", |(_, rest)| rest);
    match parse_spec(rest) {
        Some(spec) if !spec.path.starts_with("expect=") => spec,
        _ => ProgramSpec {
            path: "/init",
            name: "init",
            args: Vec::new(),
            expected: rest
                .split_ascii_whitespace()
                .find_map(|w| w.strip_prefix("expect=")?.parse().ok())
                .unwrap_or(0),
        },
    }
}

/// Starts one process per module, each with the environment `envp`, but for the modules
/// already `refused` (added to, and returned). An initramfs module starts its init, with
/// the init's path as argv[0].
pub fn start_all(modules: &[Module], envp: &[&str], mut refused: Vec<Refused>) -> Vec<Refused> {
    for m in modules {
        if refused.iter().any(|r| r.module == m.start) {
            continue;
        }
        let bytes = match module_bytes(m) {
            Ok(bytes) => bytes,
            Err(e) => {
                let name = parse_spec(m.name()).map_or("?", |s| s.name);
                refused.push(Refused {
                    name: name.into(),
                    reason: e,
                    module: m.start,
                });
                continue;
            }
        };
        let archive = crate::fs::cpio::is_archive(&bytes);
        let spec = if archive {
            init_spec(m.name())
        } else {
            let Some(spec) = parse_spec(m.name()) else {
                log::warn!("module at {:#x} has no name, skipped", m.start);
                continue;
            };
            spec
        };
        let mut argv = alloc::vec![if archive { spec.path } else { spec.name }];
        argv.extend(spec.args.iter().copied());
        let loaded = if archive {
            drop(bytes);
            load_file(spec.path, &argv, envp)
        } else {
            crate::loader::load(&bytes, &argv, envp).map_err(|e| alloc::format!("{e}"))
        };
        let started = loaded.and_then(|loaded| {
            let entry = loaded.entry;
            // An init from the initramfs is a file `/proc/self/exe` can name.
            let exe = if archive { spec.path.as_bytes() } else { b"" };
            sched::spawn(
                spec.name.into(),
                exe,
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
                    module: m.start,
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
