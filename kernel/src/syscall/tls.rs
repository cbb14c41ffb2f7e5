//! Thread-local storage: `set_thread_area` and `get_thread_area` (Linux i386 243/244), and
//! the `CLONE_SETTLS` descriptor of a new thread. A task's three TLS descriptors live in
//! its context and are installed in the CPU's GDT at every switch to it
//! (`sched::runqueue::switch_to`); the encoding and Linux's checks are `crate::tls`.

use super::{SysResult, read_user, write_user};
use crate::errno::Errno;
use crate::ldt::Table;
use crate::sched;
use crate::tls::{USER_DESC_SIZE, UserDesc};
use arch::gdt::{TLS_ENTRIES, TLS_MIN};

/// `entry_number` asking the kernel to pick a free entry.
const ANY_ENTRY: u32 = u32::MAX;

/// Applies `desc` to the TLS array `tls`: the entry it names, or (`allocate`, for
/// `entry_number` -1) the first empty one, whose number is returned. `EINVAL` for another
/// entry or a descriptor Linux refuses, `ESRCH` when none is free.
pub fn apply(tls: &mut [u64; TLS_ENTRIES], desc: &UserDesc, allocate: bool) -> Result<u32, Errno> {
    let index = if desc.entry_number == ANY_ENTRY && allocate {
        tls.iter().position(|&d| d == 0).ok_or(Errno::ESRCH)?
    } else {
        tls_index(desc.entry_number)?
    };
    tls[index] = desc.to_descriptor()?;
    Ok((TLS_MIN + index) as u32)
}

/// The index in a task's TLS array of GDT entry `entry` (`EINVAL` outside 6..=8).
fn tls_index(entry: u32) -> Result<usize, Errno> {
    (entry as usize)
        .checked_sub(TLS_MIN)
        .filter(|&i| i < TLS_ENTRIES)
        .ok_or(Errno::EINVAL)
}

fn read_desc(address: u32) -> Result<UserDesc, Errno> {
    let raw: [u8; USER_DESC_SIZE] = read_user(address, USER_DESC_SIZE)?;
    Ok(UserDesc::parse(&raw))
}

/// Runs `f` on the running task's TLS array and installs the result in this CPU's GDT at
/// once (the task's own segment registers may use it on the way back to user mode).
fn with_own_tls<R>(f: impl FnOnce(&mut [u64; TLS_ENTRIES]) -> R) -> R {
    sched::with_own_context(|ctx| {
        let r = f(&mut ctx.tls);
        let _irq = arch::cpu::IrqGuard::new();
        // SAFETY: this CPU's tables, interrupts off; the entries were checked by `apply`.
        unsafe { crate::cpu::percpu::this().tables.set_tls(&ctx.tls) };
        r
    })
}

/// `set_thread_area(u_info)`: sets the TLS entry `u_info` names (or, for -1, picks a free
/// one and writes its number back).
pub fn set_thread_area(u_info: u32) -> SysResult {
    let desc = read_desc(u_info)?;
    let entry = with_own_tls(|tls| apply(tls, &desc, true))?;
    if desc.entry_number == ANY_ENTRY {
        write_user(u_info, &entry.to_le_bytes())?;
    }
    Ok(0)
}

/// `get_thread_area(u_info)`: fills `u_info` with the TLS entry its `entry_number` names.
pub fn get_thread_area(u_info: u32) -> SysResult {
    let entry = read_desc(u_info)?.entry_number;
    let index = tls_index(entry)?;
    let descriptor = sched::with_own_context(|ctx| ctx.tls[index]);
    write_user(
        u_info,
        &UserDesc::from_descriptor(entry, descriptor).to_bytes(),
    )?;
    Ok(0)
}

/// The TLS array of a thread `clone` makes: the caller's, and with `CLONE_SETTLS` the
/// descriptor at `tls` applied to it (its entry must be named: no -1, as on Linux).
pub fn for_new_thread(settls: bool, tls: u32) -> Result<[u64; TLS_ENTRIES], Errno> {
    let mut array = sched::with_own_context(|ctx| ctx.tls);
    if settls {
        apply(&mut array, &read_desc(tls)?, false)?;
    }
    Ok(array)
}

/// `modify_ldt(func, ptr, bytecount)` (Linux i386 123), on the caller's process's LDT:
/// - 0: reads it into `ptr` (see `crate::ldt::Table::read_image`); 0 without a table;
/// - 1 and 0x11: writes the `struct user_desc` at `ptr` (`bytecount` must be its size) in
///   the old and the new form; every CPU running the process has the new table before
///   this returns (`proc::ldt`);
/// - 2: reads the default LDT (40 zero bytes at most);
/// - anything else: `ENOSYS`.
pub fn modify_ldt(func: u32, ptr: u32, bytecount: u32) -> SysResult {
    let process = sched::current_process();
    match func {
        0 => {
            let image = process
                .ldt
                .read(|table| table.map(|t| t.read_image(bytecount as usize)));
            let Some(image) = image else {
                return Ok(0);
            };
            write_user(ptr, &image)?;
            Ok(image.len() as u32)
        }
        1 | 0x11 => {
            if bytecount as usize != USER_DESC_SIZE {
                return Err(Errno::EINVAL);
            }
            let desc = read_desc(ptr)?;
            let index = desc.entry_number as usize;
            if index >= crate::ldt::MAX_ENTRIES {
                return Err(Errno::EINVAL);
            }
            let descriptor = desc.to_ldt_descriptor(func == 1)?;
            process.ldt.update(process.active_mask(), |old| {
                Ok::<_, Errno>(Some(Table::with_entry(old, index, descriptor)))
            })?;
            Ok(0)
        }
        2 => {
            let len = (bytecount as usize).min(crate::ldt::DEFAULT_BYTES);
            write_user(ptr, &[0; crate::ldt::DEFAULT_BYTES][..len])?;
            Ok(len as u32)
        }
        _ => Err(Errno::ENOSYS),
    }
}
