//! Local descriptor tables as Linux i386's `modify_ldt` keeps them: one per process (its
//! threads share it, `fork` copies it, `execve` drops it), up to 8192 descriptors, grown to
//! the highest entry ever written and never shrunk. A version of a table is never changed
//! once a CPU may have loaded it: every write makes a new copy, which the process publishes
//! and every CPU that has the process loaded switches to before the call returns
//! (`proc::ldt`). This part is portable and host-tested: the copies, and the bytes
//! `modify_ldt`'s reads return.

use alloc::vec::Vec;

/// Most entries a table has (`LDT_ENTRIES`): 64 KiB of descriptors, the most a selector's
/// 13-bit index reaches.
pub const MAX_ENTRIES: usize = 8192;
/// Bytes of one descriptor.
pub const ENTRY_SIZE: usize = 8;
/// What `modify_ldt(2, ...)` reads as the default LDT on i386: five empty descriptors.
pub const DEFAULT_BYTES: usize = 5 * ENTRY_SIZE;

/// One version of a process's LDT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    entries: Vec<u64>,
}

impl Table {
    /// `old` (or no table) with entry `index` (below [`MAX_ENTRIES`]) set to `descriptor`:
    /// a new table, as long as `old` or long enough to hold `index`, whichever is longer.
    pub fn with_entry(old: Option<&Table>, index: usize, descriptor: u64) -> Table {
        assert!(index < MAX_ENTRIES, "LDT entry {index} out of range");
        let len = old.map_or(0, |t| t.entries.len()).max(index + 1);
        let mut entries = Vec::with_capacity(len);
        if let Some(old) = old {
            entries.extend_from_slice(&old.entries);
        }
        entries.resize(len, 0);
        entries[index] = descriptor;
        Table { entries }
    }

    /// The descriptors, for the CPU: their address and how many (the LDT's limit).
    pub fn entries(&self) -> &[u64] {
        &self.entries
    }

    /// What `modify_ldt(0, ptr, bytecount)` copies out, as Linux's `read_ldt`: the
    /// descriptors, cut to `bytecount` (at most 64 KiB), then zeros up to it. Its length is
    /// the call's result.
    pub fn read_image(&self, bytecount: usize) -> Vec<u8> {
        let len = bytecount.min(MAX_ENTRIES * ENTRY_SIZE);
        let mut out: Vec<u8> = self.entries.iter().flat_map(|d| d.to_le_bytes()).collect();
        out.resize(len, 0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_grows_to_the_highest_entry_and_never_shrinks() {
        let first = Table::with_entry(None, 2, 0xaa);
        assert_eq!(first.entries(), &[0, 0, 0xaa]);
        let second = Table::with_entry(Some(&first), 0, 0xbb);
        assert_eq!(second.entries(), &[0xbb, 0, 0xaa]);
        // Clearing an entry keeps the length: Linux does not shrink a table.
        let cleared = Table::with_entry(Some(&second), 2, 0);
        assert_eq!(cleared.entries(), &[0xbb, 0, 0]);
        // The old versions are untouched (a CPU may still have them loaded).
        assert_eq!(first.entries(), &[0, 0, 0xaa]);
        let last = Table::with_entry(Some(&cleared), MAX_ENTRIES - 1, 1);
        assert_eq!(last.entries().len(), MAX_ENTRIES);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn an_entry_past_the_last_is_a_bug_of_the_caller() {
        Table::with_entry(None, MAX_ENTRIES, 1);
    }

    #[test]
    fn reads_cut_or_zero_fill_to_the_count_asked() {
        let t = Table::with_entry(None, 1, 0x0011_2233_4455_6677);
        let whole = t.read_image(16);
        assert_eq!(&whole[..8], &[0; 8]);
        assert_eq!(&whole[8..], &0x0011_2233_4455_6677u64.to_le_bytes());
        assert_eq!(t.read_image(12), whole[..12].to_vec());
        let padded = t.read_image(40);
        assert_eq!(padded.len(), 40);
        assert!(padded[16..].iter().all(|&b| b == 0));
        // Never more than a full table.
        assert_eq!(t.read_image(1 << 20).len(), MAX_ENTRIES * ENTRY_SIZE);
    }
}
