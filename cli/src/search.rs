//! `cco search`: the ranked message search of the database (`cco.search_messages`), printed with
//! the matches highlighted on a terminal.

use postgres::Client;
use serde_json::{json, Value};

use crate::failure::{Failure, Outcome};

/// What to search for and where.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub text: String,
    pub project: Option<String>,
    pub role: Option<String>,
    pub tool: Option<String>,
    /// First day (ISO), in the session's time zone.
    pub since: Option<String>,
    pub limit: i32,
}

/// One match.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub message_id: String,
    pub conversation_id: String,
    pub project_name: String,
    pub conversation_title: Option<String>,
    pub role: String,
    pub timestamp: String,
    pub rank: f32,
    /// The content with `<mark>` around matches, HTML-escaped.
    pub headline: String,
}

/// The best matches, best first. Filters the ranked search cannot apply itself (a tool, a first
/// day) are applied to its best 1000 matches.
pub fn search(client: &mut Client, query: &Query) -> Outcome<Vec<Hit>> {
    let post_filtered = query.tool.is_some() || query.since.is_some();
    let ranked_limit = if post_filtered { 1000 } else { query.limit };
    let roles: Option<Vec<String>> = query.role.clone().map(|r| vec![r]);
    let rows = client
        .query(
            "select s.id::text, s.conversation_id::text, s.project_name, s.conversation_title,
                    s.role, to_char(s.\"timestamp\", 'YYYY-MM-DD HH24:MI'), s.rank, s.headline
             from cco.search_messages(
                      $1,
                      case when $2::text is null then null
                           else array(select p.id from cco.projects p where p.name = $2 or p.path = $2)
                      end,
                      null, $3, $4) as s
             where ($5::text is null or exists (
                        select 1 from cco.tool_calls t
                        where t.message_id = s.id and t.project_id = s.project_id and t.tool_name = $5))
               and ($6::text is null or s.\"timestamp\" >= $6::text::date)
             limit $7",
            &[
                &query.text,
                &query.project,
                &roles,
                &ranked_limit,
                &query.tool,
                &query.since,
                &i64::from(query.limit),
            ],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(rows
        .iter()
        .map(|row| Hit {
            message_id: row.get(0),
            conversation_id: row.get(1),
            project_name: row.get(2),
            conversation_title: row.get(3),
            role: row.get(4),
            timestamp: row.get(5),
            rank: row.get(6),
            headline: row.get(7),
        })
        .collect())
}

pub fn hits_json(hits: &[Hit]) -> Value {
    Value::Array(
        hits.iter()
            .map(|hit| {
                json!({
                    "message_id": hit.message_id,
                    "conversation_id": hit.conversation_id,
                    "project_name": hit.project_name,
                    "conversation_title": hit.conversation_title,
                    "role": hit.role,
                    "timestamp": hit.timestamp,
                    "rank": hit.rank,
                    "headline": hit.headline,
                })
            })
            .collect(),
    )
}

/// The matches as text: a heading line per match, then the highlighted fragment.
pub fn hits_text(hits: &[Hit], colour: bool, width: usize) -> String {
    let mut text = String::new();
    for (index, hit) in hits.iter().enumerate() {
        text.push_str(&format!(
            "{}. {}  {}  {} · {}  [{:.2}]\n   {}\n   cco show {}\n",
            index + 1,
            hit.timestamp,
            hit.role,
            hit.project_name,
            hit.conversation_title.as_deref().unwrap_or("(untitled)"),
            hit.rank,
            fragment(&hit.headline, width.saturating_sub(3).max(20), colour),
            hit.message_id,
        ));
    }
    if hits.is_empty() {
        text.push_str("no matches\n");
    }
    text
}

/// The part of a highlighted headline around its first match, on one line, at most `width`
/// characters: marks become bold on a terminal and disappear elsewhere, entities are decoded.
pub fn fragment(headline: &str, width: usize, colour: bool) -> String {
    let characters = marked_characters(headline);
    let first_match = characters
        .iter()
        .position(|&(_, marked)| marked)
        .unwrap_or(0);
    let room = width.max(8);
    let start = first_match.saturating_sub(room / 4);
    let mut end = (start + room).min(characters.len());
    let mut out = String::new();
    let mut budget = room;
    if start > 0 {
        out.push('…');
        budget -= 1;
    }
    if end - start > budget {
        end = start + budget - 1;
    }
    let mut in_mark = false;
    for &(ch, marked) in &characters[start..end] {
        if colour && marked != in_mark {
            out.push_str(if marked { "\u{1b}[1;33m" } else { "\u{1b}[0m" });
            in_mark = marked;
        }
        out.push(ch);
    }
    if in_mark {
        out.push_str("\u{1b}[0m");
    }
    if end < characters.len() {
        out.push('…');
    }
    out
}

/// The headline's characters, each with whether it is inside a match, entities decoded and
/// runs of white space made one space.
fn marked_characters(headline: &str) -> Vec<(char, bool)> {
    let mut characters: Vec<(char, bool)> = Vec::new();
    let mut push = |text: &str, marked: bool| {
        for ch in decode(text).chars() {
            let ch = if ch.is_whitespace() { ' ' } else { ch };
            let after_space = characters.last().is_none_or(|&(last, _)| last == ' ');
            if !(ch == ' ' && after_space) {
                characters.push((ch, marked));
            }
        }
    };
    let mut rest = headline;
    while let Some(open) = rest.find("<mark>") {
        push(&rest[..open], false);
        let after = &rest[open + "<mark>".len()..];
        let close = after.find("</mark>").unwrap_or(after.len());
        push(&after[..close], true);
        rest = after.get(close + "</mark>".len()..).unwrap_or("");
    }
    push(rest, false);
    characters
}

fn decode(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_bold_on_a_terminal_only() {
        let headline = "a &lt;b&gt; <mark>file</mark>\nnamed x";
        assert_eq!(fragment(headline, 80, false), "a <b> file named x");
        assert_eq!(
            fragment(headline, 80, true),
            "a <b> \u{1b}[1;33mfile\u{1b}[0m named x"
        );
    }

    #[test]
    fn long_text_is_cut_around_the_first_match() {
        let headline = format!(
            "{} <mark>needle</mark> {}",
            "x".repeat(200),
            "y".repeat(200)
        );
        let shown = fragment(&headline, 40, false);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert!(shown.contains("needle"));
        assert!(shown.chars().count() <= 41);
    }
}
