//! std_threads: an ordinary Rust std program for `i686-unknown-linux-musl`, unchanged:
//! qemu/tests/runtimes.rs builds it with `rustc --target i686-unknown-linux-musl -O`, runs
//! it on the host's Linux and under Tempest, and compares what it prints. It uses what
//! musl's start-up and Rust's std need from a kernel: TLS (`set_thread_area`,
//! `CLONE_SETTLS`), the standard-fd check (`poll`), signal set-up (`rt_sigaction`,
//! `sigaltstack`, `rt_sigprocmask`), futex (Mutex, channel, join), `getrandom` (HashMap's
//! seed), mmap of thread stacks with a `PROT_NONE` guard, SSE (f64 maths), clocks and
//! sleep. Every line starts with "rs: " and depends on nothing but the program.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

fn main() {
    println!("rs: start");
    let total = Arc::new(Mutex::new(0u64));
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (1..=4u64)
        .map(|i| {
            let (total, tx) = (total.clone(), tx.clone());
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    *total.lock().unwrap() += i;
                }
                let root = (i as f64).sqrt();
                tx.send((i, root)).unwrap();
                i * 10
            })
        })
        .collect();
    drop(tx);
    let joined: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut roots: Vec<(u64, f64)> = rx.iter().collect();
    roots.sort_by_key(|r| r.0);
    for (i, root) in &roots {
        println!("rs: thread {i}: sqrt = {root:.9}");
    }
    println!("rs: total = {}, joined = {joined}", total.lock().unwrap());

    let mut words: HashMap<String, usize> = HashMap::new();
    for w in "the quick brown fox jumps over the lazy dog the end".split(' ') {
        *words.entry(w.to_string()).or_default() += 1;
    }
    let mut counts: Vec<_> = words.into_iter().collect();
    counts.sort();
    println!("rs: words = {counts:?}");

    let big = vec![7u8; 1 << 20];
    println!("rs: 1 MiB vector sums to {}", big.iter().map(|&b| b as u64).sum::<u64>());

    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(20));
    println!("rs: slept at least 20 ms: {}", start.elapsed() >= Duration::from_millis(20));
    println!("rs: {:.10} {:e}", std::f64::consts::PI.sin().abs() + 0.5, 6.02214076e23f64);
    println!("rs: done");
}
