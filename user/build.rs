//! Passes the user programs' linker script, for the i386 target only.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("i586-") || target.starts_with("i686-") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/user.ld");
        // Programs travel as multiboot modules, which the bootloader packs into low memory
        // right after the kernel: without DWARF they are ~20 KiB instead of ~600 KiB, so a
        // few dozen of them leave room for the kernel's page tables below 16 MiB.
        println!("cargo:rustc-link-arg-bins=--strip-debug");
    }
    println!("cargo:rerun-if-changed=user.ld");
}
