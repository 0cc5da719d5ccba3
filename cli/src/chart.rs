//! Pictures for the terminal: a bar chart of a value over periods (textplots' Braille canvas)
//! and a weekday-by-hour heat map.

use textplots::{Chart, LabelBuilder, LabelFormat, Plot, Shape};

/// A bar per period, `labels[i]` under the first and last bar, `format` on the y axis; `width`
/// is the room in terminal columns.
pub fn bars(
    title: &str,
    labels: &[String],
    values: &[f64],
    width: usize,
    format: fn(f64) -> String,
) -> String {
    if values.is_empty() {
        return format!("{title}: nothing to draw\n");
    }
    let highest = values.iter().copied().fold(0.0_f64, f64::max);
    // Bar i spans [i, i + 1] at values[i] (textplots draws a bar from one point to the next at
    // the next point's height).
    let mut points: Vec<(f32, f32)> = vec![(0.0, values[0] as f32)];
    points.extend(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| ((i + 1) as f32, *v as f32)),
    );
    // Two Braille dots per column; room for the y labels on the right.
    let label_room = format(highest)
        .chars()
        .count()
        .max(format(0.0).chars().count())
        + 2;
    let dots = (width.saturating_sub(label_room) * 2).clamp(32, 240) as u32;
    let first = labels.first().cloned().unwrap_or_default();
    let last = labels.last().cloned().unwrap_or_default();
    let count = values.len() as f32;
    let x_label = move |x: f32| {
        if x < count / 2.0 {
            first.clone()
        } else {
            last.clone()
        }
    };
    let y_top = if highest > 0.0 { highest as f32 } else { 1.0 };
    let shape = Shape::Bars(&points);
    let mut chart = Chart::new_with_y_range(dots, 32, 0.0, count, 0.0, y_top);
    let chart = chart
        .lineplot(&shape)
        .x_label_format(LabelFormat::Custom(Box::new(x_label)))
        .y_label_format(LabelFormat::Custom(Box::new(move |y| format(f64::from(y)))));
    chart.axis();
    chart.figures();
    format!("{title}\n{chart}")
}

/// Shades by quarters of the busiest cell (index 0 unused: an idle hour is a dot).
const SHADES: [char; 5] = ['·', '░', '▒', '▓', '█'];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Activity by weekday (rows, Monday first) and hour (columns), each cell shaded by its share
/// of the busiest cell; `counts[day][hour]`.
pub fn heatmap(counts: &[[i64; 24]; 7], what: &str) -> String {
    let busiest = counts.iter().flatten().copied().max().unwrap_or(0);
    let mut text = String::from("     ");
    for hour in 0..24 {
        text.push_str(&format!("{hour:<3}"));
    }
    text = text.trim_end().to_owned();
    text.push('\n');
    for (day, hours) in counts.iter().enumerate() {
        text.push_str(&format!("{:<5}", WEEKDAYS[day]));
        for &count in hours {
            let shade = shade(count, busiest);
            text.push(shade);
            text.push(shade);
            text.push(' ');
        }
        text = text.trim_end().to_owned();
        text.push('\n');
    }
    text.push_str(&format!(
        "     · none  {} ≤25%  {} ≤50%  {} ≤75%  {} ≤100% of the busiest hour ({} {what})\n",
        SHADES[1],
        SHADES[2],
        SHADES[3],
        SHADES[4],
        crate::format::thousands(busiest)
    ));
    text
}

fn shade(count: i64, busiest: i64) -> char {
    if count <= 0 || busiest <= 0 {
        return '·';
    }
    // 1..=4 by quarters of the busiest cell, never 0 for a cell with activity.
    let quarter = ((count as f64 / busiest as f64) * 4.0).ceil() as usize;
    SHADES[quarter.clamp(1, 4)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades_by_quarters_of_the_busiest_cell() {
        assert_eq!(shade(0, 10), '·');
        assert_eq!(shade(1, 10), '░');
        assert_eq!(shade(5, 10), '▒');
        assert_eq!(shade(7, 10), '▓');
        assert_eq!(shade(10, 10), '█');
    }

    #[test]
    fn the_heatmap_has_a_row_per_weekday_and_a_column_per_hour() {
        let mut counts = [[0_i64; 24]; 7];
        counts[0][9] = 4;
        counts[6][23] = 1;
        let text = heatmap(&counts, "responses");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 9);
        assert!(lines[0].starts_with("     0  1  2"));
        assert!(lines[1].starts_with("Mon  ·· ") && lines[1].contains("██"));
        assert_eq!(lines[7].chars().filter(|&c| c == '░').count(), 2);
        assert!(lines[8].ends_with("of the busiest hour (4 responses)"));
    }

    #[test]
    fn bars_are_labelled_with_the_first_and_last_period_and_the_top_value() {
        let text = bars(
            "Cost",
            &[
                "2025-12-01".into(),
                "2025-12-02".into(),
                "2025-12-03".into(),
            ],
            &[1.0, 3.0, 2.0],
            60,
            crate::format::dollars,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Cost");
        assert!(lines[1].ends_with(" $3.00"), "{text}");
        assert!(lines.last().unwrap().starts_with("2025-12-01"));
        assert!(lines.last().unwrap().ends_with("2025-12-03"));
        assert!(lines.iter().all(|l| l.chars().count() <= 60), "{text}");
        assert_eq!(
            bars("Cost", &[], &[], 60, crate::format::dollars),
            "Cost: nothing to draw\n"
        );
    }
}
