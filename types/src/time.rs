//! The one time format of Snapline: RFC 3339 in UTC with milliseconds and `Z`
//! (`2025-11-09T14:30:45.000Z`), as the vendor document writes it. The API, the catalog, the
//! dashboard and the CLI all write times with [`format_millis`] and read them with
//! [`epoch_millis`]; no other formatter exists.
//!
//! Plain integer arithmetic (Howard Hinnant's civil-date algorithms), so the browser's wasm
//! bundle formats times the same way without a date library.

/// Formats milliseconds since the Unix epoch: `2025-11-09T14:30:45.000Z`.
pub fn format_millis(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let s = ms_of_day / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms_of_day % 1000
    )
}

/// Milliseconds since the Unix epoch of a time written by [`format_millis`] (any number of
/// fraction digits, or none); `None` for anything else.
pub fn epoch_millis(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !t.ends_with('Z') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let frac = &t[19..t.len() - 1];
    let millis = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) => {
            let first3: String = digits.chars().chain("00".chars()).take(3).collect();
            first3.parse::<i64>().ok()?
        }
        _ => return None,
    };
    let days = days_from_civil(y, m, d);
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000 + millis)
}

/// Seconds since the Unix epoch of a time written by [`format_millis`]; `None` for anything
/// else.
pub fn epoch_seconds(t: &str) -> Option<i64> {
    epoch_millis(t).map(|ms| ms.div_euclid(1000))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_762_698_645_000), "2025-11-09T14:30:45.000Z");
        assert_eq!(format_millis(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            epoch_seconds("2025-11-09T14:30:45.000Z"),
            Some(1_762_698_645)
        );
        assert_eq!(
            epoch_millis("2025-11-09T14:30:45Z"),
            Some(1_762_698_645_000)
        );
        assert_eq!(
            epoch_millis("2025-11-09T14:30:45.5Z"),
            Some(1_762_698_645_500)
        );
    }

    #[test]
    fn round_trips_over_four_centuries() {
        // Every 9,999,991 ms (a prime step) from 1900 to 2300.
        let mut ms = -2_208_988_800_000i64;
        while ms < 10_413_792_000_000 {
            let s = format_millis(ms);
            assert_eq!(epoch_millis(&s), Some(ms), "{s}");
            ms += 9_999_991_000;
        }
    }

    #[test]
    fn refuses_what_is_not_the_format() {
        for bad in [
            "",
            "2025-11-09",
            "2025-11-09 14:30:45.000Z",
            "2025-11-09T14:30:45.000+01:00",
            "2025-13-09T14:30:45.000Z",
            "2025-11-09T24:30:45.000Z",
            "2025-11-09T14:30:45.Z",
            "2025-11-09T14:30:45.0a0Z",
            "+025-11-09T14:30:45.000Z",
        ] {
            assert_eq!(epoch_millis(bad), None, "{bad:?}");
        }
    }
}
