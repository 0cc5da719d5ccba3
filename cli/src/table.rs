//! Tables for the terminal: aligned columns, numbers on the right, a totals row, and a width
//! they fit in. Too wide for it, a table first drops the columns marked optional, then the
//! spare ones, then wraps.

use comfy_table::{
    presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table as Grid,
};

/// A column's title and how it behaves.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    pub numeric: bool,
    /// Dropped first when the table does not fit.
    pub optional: bool,
    /// Dropped next, when the table would otherwise wrap (numbers cut over two lines).
    pub spare: bool,
}

/// What a row is, for its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Entry,
    /// A per-model line under its entry.
    Breakdown,
    Total,
}

/// Where the table goes: how wide it may be, whether it may use colour, and whether it should
/// leave out the optional columns whatever the width (ccusage's `--compact`).
#[derive(Debug, Clone, Copy)]
pub struct Screen {
    pub width: usize,
    pub colour: bool,
    pub compact: bool,
    /// Leave out the cost columns (ccusage's `--no-cost`).
    pub no_cost: bool,
}

impl Screen {
    /// Standard output as it is: a terminal's width and colour, else `COLUMNS` or 80 columns
    /// and no colour, so piped output is the same everywhere. Colour follows `colour` when given
    /// (`--color`, `--no-color`), else `NO_COLOR` (none) and `FORCE_COLOR` (some) as ccusage reads
    /// them.
    pub fn of_stdout(colour: Option<bool>, compact: bool, no_cost: bool) -> Screen {
        use std::io::IsTerminal;
        let terminal = std::io::stdout().is_terminal();
        let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
        let width = if terminal {
            Grid::new().width().map(usize::from).or(columns)
        } else {
            columns
        };
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
        let colour = colour.unwrap_or_else(|| !set("NO_COLOR") && (terminal || set("FORCE_COLOR")));
        Screen {
            width: width.unwrap_or(80).max(20),
            colour,
            compact,
            no_cost,
        }
    }
}

/// A column of money, left out by `--no-cost`.
pub fn is_cost(column: &Column) -> bool {
    column.title.starts_with("Cost")
}

/// The table as text, ending with a newline.
pub fn render(columns: &[Column], rows: &[(RowKind, Vec<String>)], screen: Screen) -> String {
    let all: Vec<usize> = (0..columns.len())
        .filter(|&i| !(screen.no_cost && is_cost(&columns[i])))
        .collect();
    let essential: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| !columns[i].optional)
        .collect();
    let least: Vec<usize> = essential
        .iter()
        .copied()
        .filter(|&i| !columns[i].spare)
        .collect();
    let tries: &[&Vec<usize>] = if screen.compact {
        &[&essential, &least]
    } else {
        &[&all, &essential, &least]
    };
    for shown in tries.iter().copied() {
        let text = draw(columns, rows, shown, None, false);
        if widest_line(&text) <= screen.width {
            return finish(if screen.colour {
                draw(columns, rows, shown, None, true)
            } else {
                text
            });
        }
    }
    finish(draw(
        columns,
        rows,
        &least,
        Some(screen.width),
        screen.colour,
    ))
}

fn finish(mut text: String) -> String {
    text.push('\n');
    text
}

fn widest_line(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

fn draw(
    columns: &[Column],
    rows: &[(RowKind, Vec<String>)],
    shown: &[usize],
    wrap_at: Option<usize>,
    colour: bool,
) -> String {
    let mut grid = Grid::new();
    grid.load_preset(presets::UTF8_FULL_CONDENSED);
    if colour {
        grid.enforce_styling();
    } else {
        grid.force_no_tty();
    }
    match wrap_at {
        Some(width) => {
            grid.set_content_arrangement(ContentArrangement::Dynamic);
            grid.set_width(u16::try_from(width).unwrap_or(u16::MAX));
        }
        None => {
            grid.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    grid.set_header(shown.iter().map(|&i| {
        let cell = Cell::new(columns[i].title).set_alignment(alignment(columns[i]));
        if colour {
            cell.fg(Color::Cyan)
        } else {
            cell
        }
    }));
    for (kind, values) in rows {
        grid.add_row(shown.iter().map(|&i| {
            let cell = Cell::new(values.get(i).map(String::as_str).unwrap_or(""))
                .set_alignment(alignment(columns[i]));
            match (colour, kind) {
                (true, RowKind::Total) => cell.fg(Color::Yellow).add_attribute(Attribute::Bold),
                (true, RowKind::Breakdown) => cell.fg(Color::DarkGrey),
                _ => cell,
            }
        }));
    }
    grid.to_string()
}

fn alignment(column: Column) -> CellAlignment {
    if column.numeric {
        CellAlignment::Right
    } else {
        CellAlignment::Left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [
        Column {
            title: "Day",
            numeric: false,
            optional: false,
            spare: false,
        },
        Column {
            title: "Cache Read",
            numeric: true,
            optional: true,
            spare: false,
        },
        Column {
            title: "Cost",
            numeric: true,
            optional: false,
            spare: false,
        },
    ];

    fn screen(width: usize, colour: bool) -> Screen {
        Screen {
            width,
            colour,
            compact: false,
            no_cost: false,
        }
    }

    fn rows() -> Vec<(RowKind, Vec<String>)> {
        vec![
            (
                RowKind::Entry,
                vec!["2025-01-01".into(), "1,234".into(), "$1.00".into()],
            ),
            (
                RowKind::Total,
                vec!["Total".into(), "1,234".into(), "$1.00".into()],
            ),
        ]
    }

    #[test]
    fn aligns_numbers_right_and_keeps_every_column_when_it_fits() {
        let text = render(&COLUMNS, &rows(), screen(80, false));
        assert_eq!(
            text,
            "\
┌────────────┬────────────┬───────┐
│ Day        ┆ Cache Read ┆  Cost │
╞════════════╪════════════╪═══════╡
│ 2025-01-01 ┆      1,234 ┆ $1.00 │
│ Total      ┆      1,234 ┆ $1.00 │
└────────────┴────────────┴───────┘
"
        );
    }

    #[test]
    fn drops_optional_columns_then_wraps_when_narrow() {
        let narrow = render(&COLUMNS, &rows(), screen(30, false));
        assert!(!narrow.contains("Cache Read"));
        assert!(narrow.lines().all(|l| l.chars().count() <= 30));
        let tiny = render(&COLUMNS, &rows(), screen(20, false));
        assert!(tiny.lines().all(|l| l.chars().count() <= 20), "{tiny}");
    }

    #[test]
    fn drops_spare_columns_before_cutting_numbers() {
        let mut columns = COLUMNS.to_vec();
        columns.push(Column {
            title: "Models",
            numeric: false,
            optional: false,
            spare: true,
        });
        let mut rows = rows();
        for (_, cells) in &mut rows {
            cells.push("- a-rather-long-model-name".into());
        }
        let screen = screen(30, false);
        let text = render(&columns, &rows, screen);
        assert!(!text.contains("Models") && text.contains("$1.00"), "{text}");
        assert_eq!(text.lines().count(), 6, "no wrapped line: {text}");
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = render(&COLUMNS, &rows(), screen(80, false));
        let coloured = render(&COLUMNS, &rows(), screen(80, true));
        assert!(!plain.contains('\u{1b}'));
        assert!(coloured.contains('\u{1b}'));
    }
}
