//! The kernel image itself: it executes no x87 or SSE instruction but the save and restore
//! of a task's registers, so the FPU state the switch saves is always the task's own (a
//! 64-bit atomic lowered to x87 `fild`/`fistp` would push onto the interrupted task's
//! register stack; docs/architecture.md). Read with `objdump -d`; the negative control runs
//! the same scan on `fpu_switch`, a user program that does use the x87 and SSE registers,
//! and must find them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

mod common;

/// What the kernel may execute of the FPU and SSE: the switch's save and restore, and the
/// reset at start-up (`arch::fpu`).
const ALLOWED: [&str; 5] = ["fxsave", "fxrstor", "fnsave", "frstor", "fninit"];

/// The x87 and SSE mnemonics in `elf`'s code (x87: `f...`, SSE: any instruction naming an
/// `%xmm` register, and `ldmxcsr`/`stmxcsr`), or why they could not be read.
fn fpu_instructions(elf: &Path) -> Result<BTreeSet<String>, String> {
    let out = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(elf)
        .output()
        .map_err(|e| format!("objdump is not installed ({e}; Debian: binutils)"))?;
    if !out.status.success() {
        return Err(format!(
            "objdump failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = BTreeSet::new();
    for line in text.lines() {
        // "c0100000:\tmnemonic operands"
        let Some(insn) = line.split('\t').nth(1) else {
            continue;
        };
        let mnemonic = insn.split_whitespace().next().unwrap_or("");
        let x87 = mnemonic.starts_with('f') && mnemonic != "fs" && !mnemonic.starts_with("fs:");
        let sse = insn.contains("%xmm") || mnemonic.ends_with("mxcsr");
        if x87 || sse {
            found.insert(mnemonic.to_owned());
        }
    }
    Ok(found)
}

/// The FPU/SSE instructions of `elf` beyond `ALLOWED`, and all of them; `None` when objdump
/// cannot run here and the test may skip (never in CI).
fn scan(test: &str, elf: &Path) -> Option<(Vec<String>, BTreeSet<String>)> {
    match fpu_instructions(elf) {
        Ok(found) => {
            let stray = found
                .iter()
                .filter(|m| !ALLOWED.contains(&m.as_str()))
                .cloned()
                .collect();
            Some((stray, found))
        }
        Err(why) => {
            assert!(common::skip_outside_ci(test, &why), "in CI: {why}");
            None
        }
    }
}

#[test]
fn the_kernel_runs_no_fpu_instruction_but_the_task_switch() {
    let root = qemu::build::workspace_root();
    let kernel = qemu::build::build_kernel(&root).expect("build the kernel");
    let Some((stray, found)) = scan("the_kernel_runs_no_fpu_instruction", &kernel) else {
        return;
    };
    assert!(
        stray.is_empty(),
        "the kernel executes FPU/SSE instructions outside arch::fpu: {stray:?}"
    );
    assert!(
        found.contains("fxsave") && found.contains("fxrstor"),
        "the task switch's save and restore are missing: {found:?}"
    );
}

/// Negative control: the scan finds the x87 and SSE instructions of a program that uses them.
#[test]
fn the_scan_finds_the_fpu_instructions_of_a_program_that_uses_them() {
    let elf = common::user_bins()
        .get("fpu_switch")
        .expect("the user package has fpu_switch");
    let Some((stray, found)) = scan("the_scan_finds_fpu_instructions", elf) else {
        return;
    };
    assert!(
        !stray.is_empty(),
        "the scan found no x87/SSE instruction in fpu_switch: {found:?}"
    );
}
