//! Putting the corpus into the database: COPY in batches, the same rows into cco and into each
//! baseline, and Claude Code JSONL for loading through `cco.ingest_transcript`.

use std::io::Write;
use std::time::Instant;

use postgres::Client;
use serde_json::json;

use crate::corpus::{Corpus, Message, MICROS_PER_SECOND};
use crate::scenarios::db;

/// Rows per COPY: bulk loads arrive in batches (a transcript file, a loader run), not as one
/// statement of a million rows.
pub const BATCH: usize = 5_000;

/// Text for a COPY field: backslash, tab, newline and carriage return escaped.
fn field(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
}

fn optional(out: &mut String, text: Option<&str>) {
    match text {
        Some(text) => field(out, text),
        None => out.push_str("\\N"),
    }
}

/// An ISO timestamp in UTC for Unix microseconds.
pub fn timestamp(micros: i64) -> String {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

fn copy(client: &mut Client, statement: &str, rows: &str) -> Result<(), String> {
    let mut writer = client
        .copy_in(statement)
        .map_err(|e| format!("{statement}: {}", db(e)))?;
    writer
        .write_all(rows.as_bytes())
        .map_err(|e| e.to_string())?;
    writer
        .finish()
        .map_err(|e| format!("{statement}: {}", db(e)))?;
    Ok(())
}

/// Projects and conversations into a schema laid out like cco's.
pub fn load_containers(client: &mut Client, schema: &str, corpus: &Corpus) -> Result<(), String> {
    let mut rows = String::new();
    for project in &corpus.projects {
        rows.push_str(&format!(
            "{}\t{}\t{}\n",
            project.id, project.name, project.path
        ));
    }
    copy(
        client,
        &format!("copy {schema}.projects (id, name, path) from stdin"),
        &rows,
    )?;
    rows.clear();
    for conversation in &corpus.conversations {
        rows.push_str(&conversation.id);
        rows.push('\t');
        rows.push_str(&corpus.projects[conversation.project].id);
        rows.push('\t');
        field(&mut rows, &conversation.title);
        rows.push('\t');
        field(&mut rows, &conversation.file_path);
        rows.push('\t');
        rows.push_str(&conversation.session_id);
        rows.push('\n');
    }
    copy(
        client,
        &format!(
            "copy {schema}.conversations (id, project_id, title, file_path, session_id) from stdin"
        ),
        &rows,
    )
}

fn message_row(out: &mut String, corpus: &Corpus, message: &Message) {
    let conversation = &corpus.conversations[message.conversation];
    let tokens = message.tokens;
    out.push_str(&message.id);
    out.push('\t');
    out.push_str(&conversation.id);
    out.push('\t');
    out.push_str(&corpus.projects[message.project].id);
    out.push('\t');
    out.push_str(message.role);
    out.push('\t');
    field(out, &message.content);
    out.push('\t');
    out.push_str(&timestamp(message.at));
    out.push_str(&format!(
        "\t{}\t{}\t{}\t{}\t{}\t",
        tokens.iter().sum::<i64>(),
        tokens[0],
        tokens[1],
        tokens[2],
        tokens[3]
    ));
    optional(out, message.model);
    out.push('\t');
    optional(out, message.parent.map(|p| corpus.messages[p].id.as_str()));
    out.push('\t');
    out.push_str(&message.external_id);
    out.push('\n');
}

const MESSAGE_COLUMNS: &str =
    "id, conversation_id, project_id, role, content, \"timestamp\", token_count, input_tokens, \
     output_tokens, cache_creation_tokens, cache_read_tokens, model, parent_id, external_id";

/// COPYs messages into `table` in batches and returns the seconds it took.
pub fn load_messages(
    client: &mut Client,
    table: &str,
    corpus: &Corpus,
    limit: usize,
) -> Result<f64, String> {
    let statement = format!("copy {table} ({MESSAGE_COLUMNS}) from stdin");
    let started = Instant::now();
    let mut rows = String::with_capacity(BATCH * 1024);
    for chunk in corpus.messages[..limit.min(corpus.messages.len())].chunks(BATCH) {
        rows.clear();
        for message in chunk {
            message_row(&mut rows, corpus, message);
        }
        copy(client, &statement, &rows)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// COPYs tool calls (with their outcome) and returns the seconds it took.
pub fn load_tool_calls(client: &mut Client, schema: &str, corpus: &Corpus) -> Result<f64, String> {
    let statement = format!(
        "copy {schema}.tool_calls (id, message_id, conversation_id, project_id, tool_name, input_data, \
         output_data, execution_time_ms, status, error_message, started_at, completed_at, external_id) from stdin"
    );
    let started = Instant::now();
    let mut rows = String::new();
    for chunk in corpus.tool_calls.chunks(BATCH) {
        rows.clear();
        for call in chunk {
            let message = &corpus.messages[call.message];
            rows.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t",
                call.id,
                message.id,
                corpus.conversations[message.conversation].id,
                corpus.projects[message.project].id,
                call.name
            ));
            field(&mut rows, &call.input);
            rows.push('\t');
            field(&mut rows, &json!(call.output).to_string());
            rows.push_str(&format!("\t{}\t{}\t", call.duration_ms, call.status));
            if call.status == "success" {
                rows.push_str("\\N");
            } else {
                field(
                    &mut rows,
                    &call.output.chars().take(500).collect::<String>(),
                );
            }
            rows.push_str(&format!(
                "\t{}\t{}\t{}\n",
                timestamp(call.started_at),
                timestamp(call.started_at + call.duration_ms * 1_000),
                call.external_id
            ));
        }
        copy(client, &statement, &rows)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The conversations of the corpus as Claude Code transcripts: (file path, JSONL, lines).
pub fn transcripts(corpus: &Corpus, lines_wanted: usize) -> Vec<(String, String, usize)> {
    let mut by_conversation: Vec<Vec<usize>> = vec![Vec::new(); corpus.conversations.len()];
    for (index, message) in corpus.messages.iter().enumerate() {
        by_conversation[message.conversation].push(index);
    }
    let call_of: std::collections::HashMap<usize, usize> = corpus
        .tool_calls
        .iter()
        .enumerate()
        .map(|(index, call)| (call.message, index))
        .collect();
    let mut files = Vec::new();
    let mut lines_total = 0;
    for (conversation, messages) in by_conversation.iter().enumerate() {
        if lines_total >= lines_wanted {
            break;
        }
        let info = &corpus.conversations[conversation];
        let cwd = &corpus.projects[info.project].path;
        let mut text = String::new();
        for &index in messages {
            let message = &corpus.messages[index];
            let parent = message
                .parent
                .map(|p| corpus.messages[p].external_id.clone());
            let content = transcript_content(corpus, index, call_of.get(&index).copied());
            let mut line = json!({
                "type": message.role, "uuid": message.external_id, "parentUuid": parent,
                "sessionId": info.session_id, "cwd": cwd, "version": "2.0.74", "gitBranch": "main",
                "timestamp": timestamp(message.at), "message": {"role": message.role, "content": content},
            });
            if let Some(model) = message.model {
                let t = message.tokens;
                line["requestId"] = json!(format!("req_{index:012x}"));
                line["message"]["model"] = json!(model);
                line["message"]["id"] = json!(format!("msg_{index:012x}"));
                line["message"]["usage"] = json!({"input_tokens": t[0], "output_tokens": t[1],
                    "cache_creation_input_tokens": t[2], "cache_read_input_tokens": t[3]});
            }
            text.push_str(&line.to_string());
            text.push('\n');
        }
        lines_total += messages.len();
        files.push((info.file_path.clone(), text, messages.len()));
    }
    files
}

/// A message's content as Claude Code writes it: a tool call as a tool_use block, a tool result
/// as a tool_result block, anything else as text.
fn transcript_content(
    corpus: &Corpus,
    index: usize,
    tool_call: Option<usize>,
) -> serde_json::Value {
    let message = &corpus.messages[index];
    if let Some(call) = message.answers {
        let call = &corpus.tool_calls[call];
        return json!([{"type": "tool_result", "tool_use_id": call.external_id, "content": call.output,
                       "is_error": call.status != "success"}]);
    }
    if let Some(call) = tool_call.map(|call| &corpus.tool_calls[call]) {
        return json!([{"type": "tool_use", "id": call.external_id, "name": call.name,
                       "input": serde_json::from_str::<serde_json::Value>(&call.input).unwrap_or_default()}]);
    }
    if message.role == "assistant" {
        json!([{"type": "text", "text": message.content}])
    } else {
        json!(message.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            timestamp(1_766_221_020_189_000),
            "2025-12-20T08:57:00.189000Z"
        );
        assert_eq!(
            timestamp(1_709_208_000_000_001),
            "2024-02-29T12:00:00.000001Z"
        );
    }

    #[test]
    fn copy_fields_are_escaped() {
        let mut out = String::new();
        field(&mut out, "a\tb\nc\\d");
        assert_eq!(out, "a\\tb\\nc\\\\d");
    }
}
