//! The CMOS real-time clock: the date and time at boot, for CLOCK_REALTIME.

use x86::io::{inb, outb};

/// A calendar date and time of day as the RTC keeps it (assumed UTC, as QEMU's default
/// `-rtc base=utc` sets it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Date {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

fn register(index: u8) -> u8 {
    // SAFETY: ports 0x70/0x71 are the CMOS index and data ports; selecting a register and
    // reading it changes nothing else (bit 7 of the index, NMI disable, stays clear).
    unsafe {
        outb(0x70, index);
        inb(0x71)
    }
}

fn updating() -> bool {
    register(0x0a) & 0x80 != 0
}

fn read_raw() -> [u8; 7] {
    while updating() {
        core::hint::spin_loop();
    }
    [0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32].map(register)
}

/// Reads the RTC, twice until two reads agree (an update may land between the registers),
/// decoding BCD and the 12-hour format when the status register says so.
pub fn read() -> Date {
    let mut raw = read_raw();
    loop {
        let again = read_raw();
        if again == raw {
            break;
        }
        raw = again;
    }
    let status_b = register(0x0b);
    let binary = status_b & 0x04 != 0;
    let h24 = status_b & 0x02 != 0;
    let decode = |v: u8| {
        if binary {
            u32::from(v)
        } else {
            u32::from(v & 0x0f) + u32::from(v >> 4) * 10
        }
    };
    let [second, minute, hour, day, month, year, century] = raw;
    let pm = hour & 0x80 != 0;
    let mut hour = decode(hour & 0x7f);
    if !h24 {
        hour %= 12;
        if pm {
            hour += 12;
        }
    }
    let century = match decode(century) {
        c @ 19..=21 => c,
        _ => 20,
    };
    Date {
        year: century * 100 + decode(year),
        month: decode(month),
        day: decode(day),
        hour,
        minute: decode(minute),
        second: decode(second),
    }
}
