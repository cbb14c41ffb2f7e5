//! `bench --peer linux` end to end on TCG: Debian's i386 Linux and Tempest each boot the
//! `peer_bench` initramfs once at two CPUs, and every workload that two CPUs allow has
//! numbers on both kernels (those that need three or four CPUs say so on both). Skipped
//! with the reason when Debian's kernel package cannot be had; under `CI` that is a
//! failure. No timing is asserted.

use serde_json::Value;
use std::process::Command;

/// Whether two CPUs cannot run `workload`: the shootdowns with two or three readers need
/// a CPU for each and one for the caller.
fn needs_more_cpus(workload: &str) -> bool {
    workload.starts_with("shootdown_") && (workload.ends_with("_2") || workload.ends_with("_3"))
}

#[test]
fn linux_and_tempest_run_every_workload_side_by_side() {
    let test = "linux_and_tempest_run_every_workload_side_by_side";
    if let Err(e) = qemu::provision::debian_linux_kernel(&qemu::build::workspace_root()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: in CI: no peer kernel: {e:#}"
        );
        eprintln!("SKIPPED {test}: no peer kernel: {e:#}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tempest-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("peer.json");
    let svg = dir.join("svg");
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--peer", "linux", "--smp", "2", "--runs", "1", "--accel", "tcg",
        ])
        .args([
            "--json",
            json.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ])
        .output()
        .expect("run bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Tempest against Linux (cycles per operation"),
        "{stdout}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        doc["env"]["linux"]
            .as_str()
            .is_some_and(|k| k.starts_with("Linux 6.")),
        "{}",
        doc["env"]
    );
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), bench::peer::PEER_WORKLOADS.len(), "{doc}");
    for p in points {
        let workload = p["workload"].as_str().unwrap();
        for kernel in ["linux", "tempest"] {
            if needs_more_cpus(workload) {
                assert!(
                    p[kernel]["not_run"]
                        .as_str()
                        .is_some_and(|why| why.starts_with("needs")),
                    "{workload} on {kernel}: {p}"
                );
            } else {
                assert!(
                    p[kernel]["p50"].as_u64().is_some_and(|c| c > 0),
                    "{workload} on {kernel}: {p}"
                );
            }
        }
        if !needs_more_cpus(workload) {
            assert!(p["tempest_over_linux"].as_f64().is_some(), "{p}");
            // Tempest says how many temp mappings each operation made.
            assert!(p["tempest"]["temp_maps_per_op"].as_f64().is_some(), "{p}");
        }
    }
    let chart = std::fs::read_to_string(svg.join("peer-smp2.svg")).unwrap();
    assert!(chart.starts_with("<svg"));
    std::fs::remove_dir_all(&dir).unwrap();
}
