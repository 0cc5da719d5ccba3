//! `cco report tools` and `cco report projects`: the extension's per-tool and per-project
//! analytics views, as tables or JSON (the views' own column names).

use postgres::Client;
use serde_json::Value;

use crate::failure::{Failure, Outcome};
use crate::format::{dollars, thousands};
use crate::table::{render, Column, RowKind, Screen};

/// How a view's value is written in a table.
#[derive(Debug, Clone, Copy)]
enum Shown {
    Text,
    Count,
    Percent,
    Milliseconds,
    Dollars,
    /// A timestamp, as `YYYY-MM-DD HH:MM` in the session's time zone.
    Time,
}

/// A report over one of the analytics views.
pub struct ViewReport {
    view: &'static str,
    order: &'static str,
    /// A condition on the view's project columns, `$1` the project's name or path.
    project_filter: &'static str,
    columns: &'static [(&'static str, &'static str, Shown, bool)],
}

/// Per tool: calls, success rate, timings, reach, last use (from cco.tool_analytics, which
/// totals every project the caller reads: --project does not apply).
pub const TOOLS: ViewReport = ViewReport {
    view: "cco.tool_analytics",
    order: "executions desc, tool_name",
    project_filter: "",
    columns: &[
        ("Tool", "tool_name", Shown::Text, false),
        ("Calls", "executions", Shown::Count, false),
        ("Success", "success_rate", Shown::Percent, false),
        ("Median", "median_ms", Shown::Milliseconds, true),
        ("p95", "p95_ms", Shown::Milliseconds, false),
        ("Conversations", "conversations", Shown::Count, true),
        ("Last used", "last_used", Shown::Time, false),
    ],
};

/// Per project: conversations, messages, tokens, cost, tool calls, last message (from
/// cco.project_analytics).
pub const PROJECTS: ViewReport = ViewReport {
    view: "cco.project_analytics",
    order: "cost desc nulls last, name",
    project_filter: "(v.name = $1 or v.path = $1)",
    columns: &[
        ("Project", "name", Shown::Text, false),
        ("Path", "path", Shown::Text, true),
        ("Conversations", "conversations", Shown::Count, true),
        ("Messages", "messages", Shown::Count, false),
        ("Tokens", "total_tokens", Shown::Count, false),
        ("Cost (USD)", "cost", Shown::Dollars, false),
        ("Tool calls", "tool_calls", Shown::Count, true),
        ("Last message", "last_message_at", Shown::Time, false),
    ],
};

impl ViewReport {
    /// The view's rows as JSON objects, in the report's order.
    pub fn rows(&self, client: &mut Client, project: Option<&str>) -> Outcome<Vec<Value>> {
        if project.is_some() && self.project_filter.is_empty() {
            return Err(Failure::new(
                crate::failure::Kind::Usage,
                format!(
                    "{} has no project column: --project does not apply",
                    self.view
                ),
            ));
        }
        let filter = if self.project_filter.is_empty() {
            "$1::text is null".to_owned()
        } else {
            format!("($1::text is null or {})", self.project_filter)
        };
        let row = client
            .query_one(
                &format!(
                    "select coalesce(json_agg(to_json(v) order by {}), '[]')::text
                     from {} v where {filter}",
                    self.order, self.view
                ),
                &[&project],
            )
            .map_err(|e| Failure::from_database(&e))?;
        let text: String = row.get(0);
        match serde_json::from_str(&text) {
            Ok(Value::Array(rows)) => Ok(rows),
            _ => Ok(Vec::new()),
        }
    }

    /// The rows as a table.
    pub fn table(&self, rows: &[Value], screen: Screen) -> String {
        let columns: Vec<Column> = self
            .columns
            .iter()
            .map(|&(title, _, shown, optional)| Column {
                title,
                numeric: !matches!(shown, Shown::Text | Shown::Time),
                optional,
                spare: false,
            })
            .collect();
        let lines: Vec<(RowKind, Vec<String>)> = rows
            .iter()
            .map(|row| {
                let cells = self
                    .columns
                    .iter()
                    .map(|&(_, key, shown, _)| cell(&row[key], shown))
                    .collect();
                (RowKind::Entry, cells)
            })
            .collect();
        render(&columns, &lines, screen)
    }
}

fn cell(value: &Value, shown: Shown) -> String {
    if value.is_null() {
        return String::new();
    }
    let number = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()));
    match (shown, number) {
        (Shown::Count, Some(n)) => thousands(n.round() as i64),
        (Shown::Percent, Some(n)) => format!("{n:.1}%"),
        (Shown::Milliseconds, Some(n)) => format!("{} ms", thousands(n.round() as i64)),
        (Shown::Dollars, Some(n)) => dollars(n),
        (Shown::Time, _) => value
            .as_str()
            .map(|t| t.get(..16).unwrap_or(t).replace('T', " "))
            .unwrap_or_default(),
        _ => value
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_read_as_their_kind() {
        assert_eq!(cell(&json!(1234), Shown::Count), "1,234");
        assert_eq!(cell(&json!(99.5), Shown::Percent), "99.5%");
        assert_eq!(cell(&json!(1686.1), Shown::Milliseconds), "1,686 ms");
        assert_eq!(cell(&json!(0.519926), Shown::Dollars), "$0.52");
        assert_eq!(
            cell(&json!("2025-12-20T08:57:28.106+00:00"), Shown::Time),
            "2025-12-20 08:57"
        );
        assert_eq!(cell(&Value::Null, Shown::Count), "");
        assert_eq!(cell(&json!("Edit"), Shown::Text), "Edit");
    }

    #[test]
    fn a_table_has_a_row_per_view_row() {
        let rows = vec![
            json!({"tool_name": "Edit", "executions": 4, "success_rate": 100.0,
            "median_ms": 1686.1, "p95_ms": 1975.0, "conversations": 2,
            "last_used": "2025-12-20T09:00:30.63+00:00"}),
        ];
        let text = TOOLS.table(
            &rows,
            Screen {
                width: 120,
                colour: false,
                compact: false,
                no_cost: false,
            },
        );
        assert!(
            text.contains("│ Edit ┆     4 ┆  100.0% ┆ 1,686 ms ┆ 1,975 ms ┆"),
            "{text}"
        );
    }
}
