//! The `Display` messages of every `MadtError` and `SkipReason`: each names its numbers.

use super::*;

fn skipped(offset: usize, entry_type: u8, reason: SkipReason) -> Skipped {
    Skipped {
        offset,
        entry_type,
        reason,
    }
}

#[test]
fn messages_name_the_numbers() {
    let cases: [(String, &[&str]); 10] = [
        (
            MadtError::TruncatedHeader { len: 7 }.to_string(),
            &["7", "44"],
        ),
        (
            MadtError::BadSignature {
                found: *b"FA\0\xff",
            }
            .to_string(),
            &["FA\\x00\\xff", "APIC"],
        ),
        (
            MadtError::LengthTooSmall { length: 40 }.to_string(),
            &["40"],
        ),
        (
            MadtError::LengthBeyondBuffer {
                length: 200,
                available: 144,
            }
            .to_string(),
            &["200", "144"],
        ),
        (MadtError::BadChecksum { sum: 0x10 }.to_string(), &["0x10"]),
        (
            MadtError::TruncatedEntryHeader { offset: 0x8f }.to_string(),
            &["0x8f", "stopped"],
        ),
        (
            MadtError::BadEntryLength {
                offset: 0x34,
                entry_type: 1,
                length: 0,
            }
            .to_string(),
            &["I/O APIC", "0x34", "length 0"],
        ),
        (
            MadtError::EntryPastEnd {
                offset: 0x40,
                entry_type: 9,
                length: 16,
                table_len: 0x48,
            }
            .to_string(),
            &["x2APIC", "0x40", "16", "0x48"],
        ),
        (
            skipped(0x2c, 0x80, SkipReason::Unhandled).to_string(),
            &["OEM", "0x80", "0x2c"],
        ),
        (
            skipped(0x34, 9, SkipReason::DuplicateApicId { apic_id: 3 }).to_string(),
            &["x2APIC", "APIC id 3"],
        ),
    ];
    for (message, parts) in cases {
        for part in parts {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
    }
    let short = SkipReason::TooShort {
        length: 6,
        needed: 8,
    };
    let message = skipped(0x2c, 0, short).to_string();
    assert!(
        message.contains("6 bytes") && message.contains("8-byte"),
        "{message}"
    );
    let message = skipped(0x2c, 0, SkipReason::BroadcastApicId).to_string();
    assert!(message.contains("broadcast"), "{message}");
}
