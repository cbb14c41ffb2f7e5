//! Clock arithmetic the clock system calls need, portable and host-tested: calendar dates
//! to Unix time, and Linux's `timespec` checks and conversions.

use crate::errno::Errno;

/// Days from 1970-01-01 to `year-month-day` (proleptic Gregorian): years are counted from
/// March, so the leap day ends a year and every month before it has a fixed length.
pub fn days_since_epoch(year: u32, month: u32, day: u32) -> i64 {
    let (y, m) = if month <= 2 {
        (i64::from(year) - 1, i64::from(month) + 9)
    } else {
        (i64::from(year), i64::from(month) - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    // Day of the March-based year: 153 days in every 5 months from March on.
    let day_of_year = (153 * m + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468: days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// Seconds since the Unix epoch of a UTC date and time (0 before the epoch).
pub fn unix_seconds(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> u64 {
    let days = days_since_epoch(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    secs.max(0) as u64
}

pub const NS_PER_SEC: u64 = 1_000_000_000;

/// A `timespec` read from user memory (32- or 64-bit layout), checked as Linux checks it:
/// `EINVAL` for a negative time or nanoseconds outside `0..1e9`.
pub fn timespec_ns(sec: i64, nsec: i64) -> Result<u64, Errno> {
    if sec < 0 || !(0..NS_PER_SEC as i64).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(NS_PER_SEC)
        .saturating_add(nsec as u64))
}

/// Splits nanoseconds into seconds and nanoseconds.
pub fn split_ns(ns: u64) -> (u64, u64) {
    (ns / NS_PER_SEC, ns % NS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_since_epoch(1970, 1, 1), 0);
        assert_eq!(days_since_epoch(1970, 3, 1), 59);
        assert_eq!(days_since_epoch(2000, 3, 1), 11_017);
        // date -d 2026-12-04 +%s = 1796342400
        assert_eq!(unix_seconds(2026, 12, 4, 0, 0, 0), 1_796_342_400);
        // date -d '2024-02-29 13:14:15 UTC' +%s = 1709212455
        assert_eq!(unix_seconds(2024, 2, 29, 13, 14, 15), 1_709_212_455);
        assert_eq!(unix_seconds(1969, 12, 31, 0, 0, 0), 0);
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        let mut expected = days_since_epoch(1999, 12, 31);
        for year in 2000..2101 {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let lengths = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            for (m, &len) in lengths.iter().enumerate() {
                for d in 1..=len {
                    expected += 1;
                    assert_eq!(days_since_epoch(year, m as u32 + 1, d), expected);
                }
            }
        }
    }

    #[test]
    fn timespecs_are_checked_as_linux_does() {
        assert_eq!(timespec_ns(1, 5), Ok(1_000_000_005));
        assert_eq!(timespec_ns(-1, 0), Err(Errno::EINVAL));
        assert_eq!(timespec_ns(0, 1_000_000_000), Err(Errno::EINVAL));
        assert_eq!(timespec_ns(0, -1), Err(Errno::EINVAL));
        assert_eq!(split_ns(2_500_000_000), (2, 500_000_000));
    }
}
