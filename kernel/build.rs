//! Passes the kernel's linker script, for the i386 target only (host builds of the
//! package compile just its portable library for the unit tests).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("i586-") || target.starts_with("i686-") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/kernel.ld");
    }
    println!("cargo:rerun-if-changed=kernel.ld");
}
