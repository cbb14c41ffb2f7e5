//! `execve`: the calling process becomes a new program from a file of the root file
//! system. Everything that can fail is done before the caller's memory is touched: the
//! file is found and read, its image loaded into a fresh address space with its initial
//! stack; only then does the process take the new user half. A failed exec leaves the
//! caller as it was, with the error.
//!
//! The new user half is moved into the process's own page directory (`AddressSpace::
//! swap_user_half`), so the directory every CPU knows the process by stays the same; the
//! old half's translations are dropped on every CPU that has the space loaded (one full
//! round) before its frames go.

use crate::errno::Errno;
use crate::fs::ramfs::{self, FileData, Handle};
use crate::fs::tree::Ino;
use crate::loader::{self, LoadError};
use crate::mm::space::AddressSpace;
use crate::sched;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch::trap::TrapFrame;
use core::sync::atomic::Ordering;
use smp::shootdown::Flush;

/// Interpreter lines (`#!`) followed before `ELOOP`, as Linux's `BINPRM_MAX_RECURSION`.
const MAX_INTERPRETERS: usize = 4;
/// The longest `#!` line read (Linux's `BINPRM_BUF_SIZE`).
const SHEBANG_MAX: usize = 256;

/// The executable file `path` and its first `loader::HEAD_MAX` bytes (its headers, or
/// its `#!` line): `ENOENT`, `ENOTDIR`, `ELOOP`, `EACCES` (not a regular file, or no
/// execute bit).
fn image(cwd: Ino, path: &[u8]) -> Result<(Arc<FileData>, Vec<u8>), Errno> {
    let data = {
        let fs = ramfs::lock();
        let ino = fs.resolve(cwd, path, true)?;
        let inode = fs.get(ino).ok_or(Errno::ENOENT)?;
        if inode.mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        match ramfs::handle(&fs, ino) {
            Ok(Handle::File { data, .. }) => data,
            _ => return Err(Errno::EACCES),
        }
    };
    let mut head = alloc::vec![0u8; (data.size() as usize).min(loader::HEAD_MAX)];
    data.read_at(0, &mut head)?;
    Ok((data, head))
}

/// The interpreter and its optional argument of a `#!` image, if it is one.
fn shebang(image: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let rest = image.strip_prefix(b"#!")?;
    let line = &rest[..rest.len().min(SHEBANG_MAX)];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let mut words = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty());
    let interpreter = words.next()?.to_vec();
    // Linux passes everything after the interpreter as one argument.
    let start = line
        .windows(interpreter.len())
        .position(|w| w == interpreter.as_slice())
        .map_or(line.len(), |i| i + interpreter.len());
    let arg = core::str::from_utf8(&line[start..])
        .ok()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| a.as_bytes().to_vec());
    Some((interpreter, arg))
}

/// Turns the calling thread's process into the program at `path` with `argv` and `envp`
/// (already copied from user memory). On success `frame` enters the new program.
pub fn exec(
    frame: &mut TrapFrame,
    path: Vec<u8>,
    mut argv: Vec<String>,
    envp: Vec<String>,
) -> Result<(), Errno> {
    let process = sched::current_process();
    if process.threads.load(Ordering::SeqCst) > 1 {
        // Linux ends the other threads first (`de_thread`); Tempest does not yet.
        return Err(Errno::EAGAIN);
    }
    let cwd = process.cwd.load(Ordering::Relaxed);
    let mut path = crate::proc::self_exe_or(path)?;
    let (mut file, mut bytes) = image(cwd, &path)?;
    for depth in 0..=MAX_INTERPRETERS {
        if !bytes.starts_with(b"#!") {
            break;
        }
        if depth == MAX_INTERPRETERS {
            return Err(Errno::ELOOP);
        }
        // A `#!` line that names nothing is no script: an image the loader refuses.
        let Some((interpreter, arg)) = shebang(&bytes) else {
            return Err(Errno::ENOEXEC);
        };
        // argv becomes: interpreter [arg] path argv[1..].
        let script = String::from_utf8_lossy(&path).into_owned();
        let mut next = alloc::vec![String::from_utf8_lossy(&interpreter).into_owned()];
        if let Some(arg) = arg {
            next.push(String::from_utf8_lossy(&arg).into_owned());
        }
        next.push(script);
        next.extend(argv.drain(..).skip(1));
        argv = next;
        (file, bytes) = image(cwd, &interpreter)?;
        path = interpreter;
    }
    let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let envp_refs: Vec<&str> = envp.iter().map(String::as_str).collect();
    let size = file.size() as usize;
    let mut read_at = |offset: usize, buf: &mut [u8]| file.read_at(offset, buf);
    let loaded = loader::load_from(&bytes, size, &mut read_at, &argv_refs, &envp_refs);
    let loaded = loaded.map_err(|e| {
        log::info!(
            "pid {}: exec {} refused: {e}",
            process.tgid,
            core::str::from_utf8(&path).unwrap_or("?")
        );
        e
    });
    let loaded = loaded.map_err(|e| match e {
        LoadError::Elf(_) | LoadError::OverlapsStack { .. } => Errno::ENOEXEC,
        LoadError::ArgumentsTooLong => Errno::E2BIG,
        LoadError::Map(_) | LoadError::Copy(_) => Errno::ENOMEM,
    })?;
    drop(bytes);
    // The point of no return: the process takes the new image.
    let mut new = loaded.mem;
    let old: AddressSpace = {
        let mut memory = process.mem.lock();
        memory.space.swap_user_half(&mut new.space);
        memory.brk_start = new.brk_start;
        memory.brk = new.brk;
        // Every CPU drops the old half's translations (this one included) before its
        // frames go back with `new.space`, which holds the old half now.
        process.flush(Flush::All);
        new.space
    };
    drop(old);
    reset_for_exec(&process);
    let exe = if path.starts_with(b"/") {
        path.clone()
    } else {
        let mut dir = ramfs::lock().path_of(cwd).unwrap_or_default();
        if dir.last() != Some(&b'/') {
            dir.push(b'/');
        }
        dir.extend_from_slice(&path);
        dir
    };
    *process.exe.lock() = exe;
    *frame = crate::proc::user_entry_frame(loaded.entry, loaded.stack);
    log::debug!(
        "pid {}: exec {}",
        process.tgid,
        core::str::from_utf8(&path).unwrap_or("?")
    );
    Ok(())
}

/// What a new program does not inherit: handlers (a caught signal goes back to its
/// default; an ignored one stays ignored), the alternate signal stack, the TLS entries,
/// the LDT, the x87/SSE registers, and the descriptors marked close-on-exec.
fn reset_for_exec(process: &crate::proc::Process) {
    process.ldt.clear(process.active_mask());
    {
        let mut signals = process.signals.lock();
        for action in signals.actions.iter_mut() {
            if action.handler != crate::signal::SIG_IGN {
                *action = crate::signal::Action::default();
            }
        }
    }
    sched::with_own_context(|ctx| {
        ctx.alt_stack = crate::signal::Stack::default();
        ctx.tls = [0; arch::gdt::TLS_ENTRIES];
        ctx.fpu = arch::fpu::FpuState::initial();
        // This CPU's registers and descriptors too: the context is loaded at switch-in
        // only.
        ctx.fpu.restore();
        let _irq = arch::cpu::IrqGuard::new();
        // SAFETY: this CPU's tables, interrupts off; empty descriptors.
        unsafe { crate::cpu::percpu::this().tables.set_tls(&ctx.tls) };
    });
    let closed = process.files.lock().close_on_exec();
    drop(closed);
}
