//! Days given on the command line: ccusage's `YYYYMMDD` or ISO `YYYY-MM-DD`.

/// A calendar day, checked to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl Day {
    /// Reads `20250131` or `2025-01-31`.
    pub fn parse(text: &str) -> Result<Day, String> {
        let digits: String = match text.len() {
            8 => text.to_owned(),
            10 if text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' => text.replace('-', ""),
            _ => String::new(),
        };
        let wrong = || format!("`{text}` is not a day: write YYYYMMDD or YYYY-MM-DD");
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(wrong());
        }
        let number = |range: std::ops::Range<usize>| digits[range].parse::<u32>().unwrap_or(0);
        let day = Day {
            year: number(0..4),
            month: number(4..6),
            day: number(6..8),
        };
        if day.year == 0 || !(1..=12).contains(&day.month) || day.day == 0 {
            return Err(wrong());
        }
        if day.day > days_in_month(day.year, day.month) {
            return Err(format!("{text} does not exist"));
        }
        Ok(day)
    }

    /// The ISO form PostgreSQL reads as a date.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// Checks a `--since`/`--until` pair and returns their ISO forms.
pub fn day_range(
    since: Option<&str>,
    until: Option<&str>,
) -> Result<(Option<String>, Option<String>), String> {
    let since = since.map(Day::parse).transpose()?;
    let until = until.map(Day::parse).transpose()?;
    if let (Some(since), Some(until)) = (since, until) {
        if until < since {
            return Err(format!(
                "--until {} is before --since {}",
                until.iso(),
                since.iso()
            ));
        }
    }
    Ok((since.map(|d| d.iso()), until.map(|d| d.iso())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms() {
        assert_eq!(Day::parse("20250131").unwrap().iso(), "2025-01-31");
        assert_eq!(Day::parse("2025-01-31").unwrap().iso(), "2025-01-31");
        assert_eq!(Day::parse("20240229").unwrap().iso(), "2024-02-29");
    }

    #[test]
    fn refuses_what_is_no_day() {
        for text in [
            "2025131",
            "2025-1-31",
            "20251301",
            "20250000",
            "2025/01/31",
            "yesterday",
            "",
        ] {
            assert!(
                Day::parse(text).unwrap_err().contains("is not a day"),
                "{text}"
            );
        }
        assert_eq!(
            Day::parse("20230229").unwrap_err(),
            "20230229 does not exist"
        );
        assert!(Day::parse("19000229").is_err());
        assert!(Day::parse("20000229").is_ok());
    }

    #[test]
    fn a_range_must_not_run_backwards() {
        assert_eq!(
            day_range(Some("20250102"), Some("2025-01-02")).unwrap(),
            (Some("2025-01-02".into()), Some("2025-01-02".into()))
        );
        assert!(day_range(Some("20250102"), Some("20250101"))
            .unwrap_err()
            .contains("before"));
        assert_eq!(day_range(None, None).unwrap(), (None, None));
    }
}
