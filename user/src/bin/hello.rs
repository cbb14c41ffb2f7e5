//! `hello`: greets with its pid and tid, and shows the temp-mapping counters its write caused.
#![no_std]
#![no_main]

use tempest_user::sys::{self, TempCounters, TempStats};
use tempest_user::{AT_PAGESZ, Args, Checks, println};

tempest_user::entry!(main);

fn main(args: &Args) -> i32 {
    let mut c = Checks::new("hello");
    let (pid, tid) = (sys::getpid(), sys::gettid());
    println!("Hello from user mode! pid={pid} tid={tid}");
    c.check(pid > 0, format_args!("getpid() = {pid} is positive"));
    c.eq("gettid() == getpid() (one thread)", tid, pid);
    c.check(
        !args.is_empty(),
        format_args!("argc = {} (argv[0] at least)", args.len()),
    );
    for (i, arg) in args.iter().enumerate() {
        println!(
            "argv[{i}] = {:?}",
            core::str::from_utf8(arg).unwrap_or("<not UTF-8>")
        );
    }
    println!("auxv AT_PAGESZ = {:?}", args.auxv(AT_PAGESZ));

    // The greeting above went through write(), whose buffer the kernel copies through
    // temporary mappings: the process has made some by now.
    let mut stats = TempStats::default();
    let ret = sys::temp_stats(&mut stats);
    c.eq("temp_stats(&stats)", ret, 0);
    show("process", &stats.process);
    show("cpu", &stats.cpu);
    c.check(
        stats.process.maps > 0,
        format_args!("process maps = {} > 0 after a write", stats.process.maps),
    );
    c.finish()
}

fn show(scope: &str, t: &TempCounters) {
    println!(
        "temp_stats {scope}: maps={} unmaps={} failures={} peak_depth={} depth={}",
        t.maps, t.unmaps, t.failures, t.peak_depth, t.depth
    );
}
