//! `cco statusline`: the line Claude Code shows under its prompt. Claude Code runs the command
//! with a JSON object on standard input (session_id, transcript_path, model, workspace, cost);
//! the line says what this session, today and the active 5-hour block cost, from the database,
//! in one statement.

use std::time::{Duration, SystemTime};

use postgres::Client;
use serde_json::Value;

use crate::failure::{Failure, Kind, Outcome};
use crate::format::{dollars, hours_minutes};

/// What the statusline needs from Claude Code's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInput {
    pub session_id: Option<String>,
    pub transcript_path: Option<String>,
    pub model: Option<String>,
}

impl StatusInput {
    pub fn parse(text: &str) -> Outcome<StatusInput> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Failure::new(
                Kind::Input,
                format!("the standard input is not Claude Code's statusline JSON: {e}"),
            )
        })?;
        let text_at = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(StatusInput {
            session_id: text_at("/session_id"),
            transcript_path: text_at("/transcript_path"),
            model: text_at("/model/display_name").or_else(|| text_at("/model/id")),
        })
    }
}

/// The numbers of the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    pub session_cost: f64,
    pub today_cost: f64,
    pub block: Option<ActiveBlock>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActiveBlock {
    pub cost: f64,
    pub remaining_minutes: i64,
    pub cost_per_hour: Option<f64>,
}

/// Reads the numbers in one statement. The session is found by its id or its transcript's path;
/// today is the day in `zone`. The active block is computed from the last 24 hours of usage
/// (`cco report blocks` computes it from all usage; the two can differ only when those 24 hours
/// hold no pause of 5 hours).
pub fn status(client: &mut Client, input: &StatusInput, zone: &str) -> Outcome<Status> {
    // A value, not an expression: the plan then reads the recent responses from
    // messages_usage_time_idx (an expression would leave cco.usage_blocks' "since is null or"
    // in the plan and scan every response).
    let block_window = SystemTime::now() - Duration::from_secs(24 * 3600);
    let row = client
        .query_one(
            "with session as (
                 -- each of the session's conversations through its own messages' index
                 select coalesce(sum(s.cost), 0) as cost
                 from cco.conversations c
                 cross join lateral (
                     select sum(cco.response_cost(m.model, m.\"timestamp\", m.input_tokens,
                                m.output_tokens, m.cache_creation_tokens, m.cache_read_tokens,
                                m.cache_creation_1h_tokens, m.web_search_requests,
                                m.web_fetch_requests, m.speed, m.service_tier)) as cost
                     from cco.messages m
                     where m.conversation_id = c.id and m.project_id = c.project_id
                       and m.token_count > 0) s
                 where c.session_id = $1 or c.file_path = $2
                    or c.metadata @> jsonb_build_object('parent_session_id', $1::text)),
             today as (
                 select coalesce(sum(cco.response_cost(m.model, m.\"timestamp\", m.input_tokens,
                            m.output_tokens, m.cache_creation_tokens, m.cache_read_tokens,
                            m.cache_creation_1h_tokens, m.web_search_requests,
                            m.web_fetch_requests, m.speed, m.service_tier)), 0) as cost
                 from cco.messages m
                 where m.token_count > 0
                   and m.\"timestamp\" >= date_trunc('day', now() at time zone $3) at time zone $3),
             block as (
                 select b.cost, b.remaining_minutes, b.burn_cost_per_hour
                 from cco.usage_blocks(null, $4) b
                 where b.is_active)
             select session.cost, today.cost, block.cost, block.remaining_minutes,
                    block.burn_cost_per_hour
             from session cross join today left join block on true",
            &[
                &input.session_id,
                &input.transcript_path,
                &zone,
                &block_window,
            ],
        )
        .map_err(|e| match e.as_db_error() {
            Some(db) if db.code().code() == "22023" => Failure::new(
                Kind::Usage,
                format!("unknown time zone `{zone}`: use an IANA name such as Europe/Berlin"),
            ),
            _ => Failure::from_database(&e),
        })?;
    let block = match (row.get::<_, Option<f64>>(2), row.get(3)) {
        (Some(cost), Some(remaining_minutes)) => Some(ActiveBlock {
            cost,
            remaining_minutes,
            cost_per_hour: row.get(4),
        }),
        _ => None,
    };
    Ok(Status {
        session_cost: row.get(0),
        today_cost: row.get(1),
        block,
    })
}

/// The line: `🤖 Opus | 💰 $0.23 session / $1.20 today / $0.45 block (2h 05m left) | 🔥 $0.12/hr`.
pub fn line(model: Option<&str>, status: &Status) -> String {
    let mut parts = Vec::new();
    if let Some(model) = model {
        parts.push(format!("🤖 {model}"));
    }
    let block = match status.block {
        Some(block) => format!(
            "{} block ({} left)",
            dollars(block.cost),
            hours_minutes(block.remaining_minutes)
        ),
        None => "no active block".to_owned(),
    };
    parts.push(format!(
        "💰 {} session / {} today / {block}",
        dollars(status.session_cost),
        dollars(status.today_cost)
    ));
    if let Some(rate) = status.block.and_then(|b| b.cost_per_hour) {
        parts.push(format!("🔥 {}/hr", dollars(rate)));
    }
    parts.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_claude_code_sends() {
        let input = StatusInput::parse(
            r#"{"hook_event_name":"Status","session_id":"abc","transcript_path":"/t.jsonl",
                "model":{"id":"claude-opus-4-1","display_name":"Opus"},
                "workspace":{"current_dir":"/w"},"cost":{"total_cost_usd":0.01}}"#,
        )
        .unwrap();
        assert_eq!(input.session_id.as_deref(), Some("abc"));
        assert_eq!(input.transcript_path.as_deref(), Some("/t.jsonl"));
        assert_eq!(input.model.as_deref(), Some("Opus"));
        assert_eq!(StatusInput::parse("{}").unwrap().model, None);
        assert_eq!(
            StatusInput::parse("not json").unwrap_err().kind,
            Kind::Input
        );
    }

    #[test]
    fn the_line_names_each_cost() {
        let status = Status {
            session_cost: 0.234,
            today_cost: 1234.5,
            block: Some(ActiveBlock {
                cost: 0.45,
                remaining_minutes: 125,
                cost_per_hour: Some(0.12),
            }),
        };
        assert_eq!(
            line(Some("Opus"), &status),
            "🤖 Opus | 💰 $0.23 session / $1,234.50 today / $0.45 block (2h 05m left) | 🔥 $0.12/hr"
        );
        let idle = Status {
            block: None,
            ..status
        };
        assert_eq!(
            line(None, &idle),
            "💰 $0.23 session / $1,234.50 today / no active block"
        );
    }
}
