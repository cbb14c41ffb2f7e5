//! `oracle_init PROGRAM`: the init of the Linux boots that judge Tempest's conformance
//! (`cargo run -p conformance -- kselftest-x86 --oracle linux-qemu`, docs/conformance.md).
//! A test cannot be Linux's init itself (init's exit panics the kernel), so this runs it
//! as its child, with no arguments or environment, waits for it, prints one line
//! `@@oracle {"status":N}` (N = its exit status, or 128 + the signal that ended it) and
//! powers the machine off. It mounts `/proc` first, as a system's init would (`ldt_gdt`
//! executes `/proc/self/exe`). Linux's system calls only.
#![no_std]
#![no_main]

use tempest_user::{Args, println, sys};

tempest_user::entry!(main);

/// Linux's `reboot` and its magic numbers for `LINUX_REBOOT_CMD_POWER_OFF`.
const SYS_REBOOT: u32 = 88;
const MAGIC1: usize = 0xfee1_dead;
const MAGIC2: usize = 672_274_793;
const POWER_OFF: usize = 0x4321_fedc;
const SYS_MKDIR: u32 = 39;
const SYS_MOUNT: u32 = 21;

fn main(args: &Args) -> i32 {
    let Some(path) = args.get(1) else {
        println!("@@oracle {{\"error\":\"no program to run\"}}");
        return power_off();
    };
    // An existing /proc is fine; a failed mount is said, and the test runs all the same.
    sys::syscall6(SYS_MKDIR, c"/proc".as_ptr() as usize, 0o555, 0, 0, 0, 0);
    let proc = c"proc".as_ptr() as usize;
    let mounted = sys::syscall6(SYS_MOUNT, proc, c"/proc".as_ptr() as usize, proc, 0, 0, 0);
    if mounted != 0 {
        println!("oracle_init: mount /proc = {mounted}");
    }
    // The kernel's argument strings are NUL-terminated, so `path` is a C string.
    let argv = [path.as_ptr(), core::ptr::null(), core::ptr::null()];
    match sys::fork_and_wait(Some((path.as_ptr(), &argv))) {
        Ok(wait) => println!("@@oracle {{\"status\":{}}}", status(wait)),
        Err(e) => println!("@@oracle {{\"error\":\"fork or wait4: {e}\"}}"),
    }
    power_off()
}

/// A `wait4` status as an exit status: the code, or 128 + the signal.
fn status(wait: u32) -> u32 {
    match wait & 0x7f {
        0 => (wait >> 8) & 0xff,
        signal => 128 + signal,
    }
}

fn power_off() -> i32 {
    sys::syscall6(SYS_REBOOT, MAGIC1, MAGIC2, POWER_OFF, 0, 0, 0);
    // Not Linux's pid 1 after all (run by hand): nothing to power off.
    0
}
