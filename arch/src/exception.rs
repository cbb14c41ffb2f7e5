//! Names of the 32 architecture-defined exception vectors.

/// Mnemonic and name of exception `vector`, or `None` past the reserved range.
pub const fn name(vector: u32) -> Option<(&'static str, &'static str)> {
    Some(match vector {
        0 => ("#DE", "Divide Error"),
        1 => ("#DB", "Debug"),
        2 => ("NMI", "Non-Maskable Interrupt"),
        3 => ("#BP", "Breakpoint"),
        4 => ("#OF", "Overflow"),
        5 => ("#BR", "Bound Range Exceeded"),
        6 => ("#UD", "Invalid Opcode"),
        7 => ("#NM", "Device Not Available"),
        8 => ("#DF", "Double Fault"),
        9 => ("CSO", "Coprocessor Segment Overrun"),
        10 => ("#TS", "Invalid TSS"),
        11 => ("#NP", "Segment Not Present"),
        12 => ("#SS", "Stack-Segment Fault"),
        13 => ("#GP", "General Protection Fault"),
        14 => ("#PF", "Page Fault"),
        16 => ("#MF", "x87 Floating-Point Error"),
        17 => ("#AC", "Alignment Check"),
        18 => ("#MC", "Machine Check"),
        19 => ("#XM", "SIMD Floating-Point Exception"),
        20 => ("#VE", "Virtualization Exception"),
        21 => ("#CP", "Control Protection Exception"),
        15 | 22..=31 => ("#??", "Reserved Exception"),
        _ => return None,
    })
}

/// Whether the CPU pushes an error code for exception `vector`.
pub const fn has_error_code(vector: u32) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// A page fault's error code, decoded for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    /// `"read of"`, `"write to"` or `"fetch from"`.
    pub access: &'static str,
    /// `"page not present"` or `"protection violation"`.
    pub cause: &'static str,
    /// Whether the access came from user mode.
    pub user: bool,
}

impl PageFault {
    pub const fn from_error_code(e: u32) -> Self {
        Self {
            access: if e & 2 != 0 {
                "write to"
            } else if e & 16 != 0 {
                "fetch from"
            } else {
                "read of"
            },
            cause: if e & 1 != 0 {
                "protection violation"
            } else {
                "page not present"
            },
            user: e & 4 != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_fault_is_named() {
        assert_eq!(name(14), Some(("#PF", "Page Fault")));
        assert_eq!(name(32), None);
        assert!(name(31).is_some());
    }

    #[test]
    fn page_fault_error_codes() {
        let f = PageFault::from_error_code(0);
        assert_eq!(
            (f.access, f.cause, f.user),
            ("read of", "page not present", false)
        );
        let f = PageFault::from_error_code(0b111);
        assert_eq!(
            (f.access, f.cause, f.user),
            ("write to", "protection violation", true)
        );
        assert_eq!(PageFault::from_error_code(0x15).access, "fetch from");
    }

    #[test]
    fn error_code_vectors() {
        let with: std::vec::Vec<u32> = (0..32).filter(|&v| has_error_code(v)).collect();
        assert_eq!(with, [8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
    }
}
