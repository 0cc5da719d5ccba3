//! How numbers, money, durations and model names read in a terminal.

/// `1234567` as `1,234,567`.
pub fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        grouped.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// Dollars with cents and thousands separators: `$1,234.57`.
pub fn dollars(value: f64) -> String {
    let cents = (value * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    format!(
        "{sign}${}.{:02}",
        thousands((cents / 100).abs()),
        (cents % 100).abs()
    )
}

/// Minutes as `2h 05m` (or `45m`).
pub fn hours_minutes(minutes: i64) -> String {
    let minutes = minutes.max(0);
    if minutes < 60 {
        format!("{minutes}m")
    } else {
        format!("{}h {:02}m", minutes / 60, minutes % 60)
    }
}

/// A model id as a person says it: `claude-sonnet-4-5-20250929` is `sonnet-4-5`.
pub fn short_model(model: &str) -> String {
    let name = model.strip_prefix("claude-").unwrap_or(model);
    match name.rsplit_once('-') {
        Some((head, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => {
            head.to_owned()
        }
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1234), "-1,234");
    }

    #[test]
    fn money_and_time() {
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(1234.567), "$1,234.57");
        assert_eq!(dollars(0.004), "$0.00");
        assert_eq!(hours_minutes(45), "45m");
        assert_eq!(hours_minutes(125), "2h 05m");
        assert_eq!(hours_minutes(-3), "0m");
    }

    #[test]
    fn names_models_briefly() {
        assert_eq!(short_model("claude-sonnet-4-5-20250929"), "sonnet-4-5");
        assert_eq!(short_model("claude-opus-4-1"), "opus-4-1");
        assert_eq!(short_model("<synthetic>"), "<synthetic>");
    }
}
