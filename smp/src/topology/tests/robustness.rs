//! Never panic: every truncation of every real dump, with and without its length field
//! following the cut, and thousands of deterministic random bit flips with the checksum
//! fixed again so the walk itself sees them.

use super::builder::{fix_checksum, set_length};
use super::*;

/// Invariants of every accepted table.
fn check_invariants(table: &[u8], topology: &Topology) {
    for (i, cpu) in topology.cpus.iter().enumerate() {
        assert!(
            topology.cpus[..i].iter().all(|c| c.apic_id != cpu.apic_id),
            "APIC id {} listed twice",
            cpu.apic_id
        );
        assert_ne!(cpu.apic_id, u32::MAX);
    }
    for skip in &topology.skipped {
        assert!(
            HEADER_LEN <= skip.offset && skip.offset < table.len(),
            "{skip}"
        );
        assert!(!skip.to_string().is_empty());
    }
    if let Some(stop) = &topology.stopped {
        assert!(!stop.to_string().is_empty());
    }
}

#[test]
fn every_truncation_is_refused() {
    for (name, dump) in DUMPS {
        for len in 0..dump.len() {
            let err = parse_madt(&dump[..len]).unwrap_err();
            let expected = if len < HEADER_LEN {
                MadtError::TruncatedHeader { len }
            } else {
                MadtError::LengthBeyondBuffer {
                    length: dump.len() as u32,
                    available: len,
                }
            };
            assert_eq!(err, expected, "{name} cut at {len}");
        }
    }
}

#[test]
fn every_truncation_with_its_length_fixed_keeps_a_prefix() {
    for (name, dump) in DUMPS {
        let full = parse_madt(dump).unwrap();
        // Entry boundaries: where a cut leaves only whole entries.
        let mut boundaries = vec![HEADER_LEN];
        while let Some(&at) = boundaries.last().filter(|&&at| at < dump.len()) {
            boundaries.push(at + usize::from(dump[at + 1]));
        }
        for len in HEADER_LEN..dump.len() {
            let mut cut = dump[..len].to_vec();
            set_length(&mut cut, len);
            let topology = parse_madt(&cut).unwrap_or_else(|e| panic!("{name} at {len}: {e}"));
            check_invariants(&cut, &topology);
            assert!(full.cpus.starts_with(&topology.cpus), "{name} at {len}");
            assert!(full.overrides.starts_with(&topology.overrides));
            assert_eq!(
                topology.stopped.is_some(),
                !boundaries.contains(&len),
                "{name} at {len}: {:?}",
                topology.stopped
            );
        }
    }
}

/// A deterministic xorshift32 generator.
struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }
}

#[test]
fn random_flips_with_the_checksum_fixed_never_panic() {
    let mut rng = XorShift(0x9e37_79b9);
    let (mut accepted, mut stopped, mut skipped) = (0, 0, 0);
    for round in 0..5000 {
        let (name, dump) = DUMPS[round % DUMPS.len()];
        let mut table = dump.to_vec();
        for _ in 0..1 + rng.below(4) {
            // Mostly the entries; the header sometimes (length, revision, flags).
            let at = if rng.below(8) == 0 {
                rng.below(table.len())
            } else {
                HEADER_LEN + rng.below(table.len() - HEADER_LEN)
            };
            table[at] ^= 1 << rng.below(8);
        }
        fix_checksum(&mut table);
        match parse_madt(&table) {
            Ok(topology) => {
                check_invariants(&table, &topology);
                accepted += 1;
                stopped += usize::from(topology.stopped.is_some());
                skipped += usize::from(!topology.skipped.is_empty());
            }
            Err(err) => assert!(!err.to_string().is_empty(), "{name} round {round}"),
        }
    }
    // The flips reach every path: accepted tables, stopped walks, skipped entries.
    assert!(accepted > 2500, "{accepted}");
    assert!(stopped > 100, "{stopped}");
    assert!(skipped > 100, "{skipped}");
}

#[test]
fn random_bytes_never_panic() {
    // Whole entry areas of random bytes behind a valid header.
    let mut rng = XorShift(0x2545_f491);
    for _ in 0..2000 {
        let mut table = PC_SMP4[..HEADER_LEN].to_vec();
        let extra = rng.below(200);
        table.extend((0..extra).map(|_| rng.next() as u8));
        set_length(&mut table, HEADER_LEN + extra);
        let topology = parse_madt(&table).unwrap();
        check_invariants(&table, &topology);
    }
}
