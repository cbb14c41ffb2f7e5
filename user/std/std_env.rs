//! A Rust std program (musl) that prints its arguments and environment: `cargo qemu
//! --env KEY=VALUE 'musl/std_env ARGS'` must give it what a shell gives it on Linux
//! (compared by qemu/tests/runtimes.rs).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("env: {} arguments", args.len());
    for (i, a) in args.iter().enumerate() {
        println!("env: arg {i} = {a}");
    }
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (k, v) in &vars {
        println!("env: var {k} = {v}");
    }
    println!(
        "env: GREETING is {}",
        std::env::var("GREETING").unwrap_or_else(|_| "unset".into())
    );
}
