//! Timestamps of transcript lines: RFC 3339 (`2025-12-20T08:57:00.189Z`) to Unix microseconds.
//!
//! Strict on purpose: a value the database would reject must be caught here, so that one bad line
//! is skipped instead of failing the whole load.

/// Parses an RFC 3339 timestamp with a `Z` or `±hh:mm` offset and up to 9 fraction digits into
/// microseconds since 1970-01-01 UTC. Years 0001 to 9999 are accepted.
pub fn parse_rfc3339_micros(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if year < 1
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut at = 19;
    let mut micros = 0i64;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        let fraction = &text[start..at];
        if fraction.is_empty() || fraction.len() > 9 {
            return None;
        }
        let padded = format!("{fraction:0<6}");
        micros = padded[..6].parse().ok()?;
    }
    let offset_seconds = match &text[at..] {
        "Z" | "z" => 0,
        rest if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let hours = number(at + 1..at + 3)?;
            let minutes = number(at + 4..at + 6)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_seconds;
    Some(seconds * 1_000_000 + micros)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil calendar algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_transcripts_write() {
        assert_eq!(parse_rfc3339_micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_micros("2025-12-20T08:57:00.189Z"),
            Some(1_766_221_020_189_000)
        );
        assert_eq!(
            parse_rfc3339_micros("2025-12-20T09:57:00.189+01:00"),
            Some(1_766_221_020_189_000)
        );
        assert_eq!(
            parse_rfc3339_micros("2025-12-20T08:57:00.123456789Z"),
            Some(1_766_221_020_123_456)
        );
        assert_eq!(
            parse_rfc3339_micros("2024-02-29T12:00:00Z"),
            Some(1_709_208_000_000_000)
        );
    }

    #[test]
    fn far_past_and_future_are_kept() {
        assert_eq!(
            parse_rfc3339_micros("0001-01-01T00:00:00Z"),
            Some(-62_135_596_800_000_000)
        );
        assert_eq!(
            parse_rfc3339_micros("9999-12-31T23:59:59Z"),
            Some(253_402_300_799_000_000)
        );
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "2025-12-20",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2025-12-20T24:00:00Z",
            "2025-12-20T08:57:00",
            "2025-12-20T08:57:00.Z",
            "0000-01-01T00:00:00Z",
            "2025-12-20T08:57:00+25:00",
            "２０２５-12-20T08:57:00Z",
            "2025-12-20T08:57:00.1234567890Z",
            "+12025-12-20T08:57:00Z",
        ] {
            assert_eq!(parse_rfc3339_micros(bad), None, "{bad:?}");
        }
    }
}
