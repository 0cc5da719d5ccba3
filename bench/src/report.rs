//! Figures, and how they are shown: a markdown table (scenario, cco, native, ratio, target, met)
//! and the same data as JSON.

use serde_json::{json, Value};

/// Whether a larger or a smaller number is better for a figure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured figure, with its baseline when there is one.
pub struct Figure {
    pub scenario: String,
    pub unit: &'static str,
    pub cco: Option<f64>,
    pub native: Option<f64>,
    pub better: Better,
    /// The target as written in the issue, and whether it was met (None: no target).
    pub target: Option<(String, bool)>,
    pub note: String,
}

impl Figure {
    pub fn new(scenario: impl Into<String>, unit: &'static str, better: Better) -> Figure {
        Figure {
            scenario: scenario.into(),
            unit,
            cco: None,
            native: None,
            better,
            target: None,
            note: String::new(),
        }
    }

    pub fn cco(mut self, value: f64) -> Figure {
        self.cco = Some(value);
        self
    }

    pub fn native(mut self, value: f64) -> Figure {
        self.native = Some(value);
        self
    }

    pub fn target(mut self, text: impl Into<String>, met: bool) -> Figure {
        self.target = Some((text.into(), met));
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Figure {
        self.note = note.into();
        self
    }

    /// How many times better cco is than native (above 1: cco is better).
    pub fn ratio(&self) -> Option<f64> {
        match (self.cco, self.native, self.better) {
            (Some(c), Some(n), Better::Higher) if n > 0.0 => Some(c / n),
            (Some(c), Some(n), Better::Lower) if c > 0.0 => Some(n / c),
            _ => None,
        }
    }
}

fn number(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "–".into(),
        Some(v) if v >= 1000.0 => format!("{} {unit}", group_thousands(v.round() as i64)),
        Some(v) if v >= 10.0 => format!("{v:.1} {unit}"),
        Some(v) => format!("{v:.2} {unit}"),
    }
}

fn group_thousands(value: i64) -> String {
    let digits = value.abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

pub fn markdown(figures: &[Figure]) -> String {
    let mut table = String::from("| scenario | cco | native | cco advantage | target | met |\n| --- | --- | --- | --- | --- | --- |\n");
    for figure in figures {
        let (target, met) = match &figure.target {
            Some((text, met)) => (text.clone(), if *met { "yes" } else { "**no**" }.to_owned()),
            None => ("".into(), "".into()),
        };
        let note = if figure.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", figure.note)
        };
        table.push_str(&format!(
            "| {}{} | {} | {} | {} | {} | {} |\n",
            figure.scenario,
            note,
            number(figure.cco, figure.unit),
            number(figure.native, figure.unit),
            figure.ratio().map_or("–".into(), |r| format!("{r:.1}x")),
            target,
            met
        ));
    }
    table
}

pub fn json(figures: &[Figure], context: Value) -> Value {
    json!({
        "context": context,
        "figures": figures.iter().map(|f| json!({
            "scenario": f.scenario, "unit": f.unit, "cco": f.cco, "native": f.native,
            "better": if f.better == Better::Higher { "higher" } else { "lower" },
            "cco_advantage": f.ratio(), "target": f.target.as_ref().map(|t| &t.0),
            "met": f.target.as_ref().map(|t| t.1), "note": f.note,
        })).collect::<Vec<_>>(),
    })
}

/// The value at a quantile of a sample (nearest rank).
/// How this run was started, with the program named as users call it rather than by its path.
pub fn command_line() -> String {
    std::iter::once("cco-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_favour_cco_above_one() {
        assert_eq!(
            Figure::new("x", "ms", Better::Lower)
                .cco(10.0)
                .native(100.0)
                .ratio(),
            Some(10.0)
        );
        assert_eq!(
            Figure::new("x", "rows/s", Better::Higher)
                .cco(50.0)
                .native(25.0)
                .ratio(),
            Some(2.0)
        );
        assert_eq!(
            Figure::new("x", "ms", Better::Lower).cco(10.0).ratio(),
            None
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(Some(1234567.0), "rows/s"), "1,234,567 rows/s");
        assert_eq!(number(Some(1.23456), "ms"), "1.23 ms");
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
    }
}
