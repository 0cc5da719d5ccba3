//! Claude Code transcripts: one JSONL file per session, parsed into the messages, tool calls,
//! tool results and summaries cco stores.
//!
//! Parsing never fails as a whole and never panics. Each line is read on its own; a line that
//! cannot be stored (truncated or invalid JSON, an unknown or missing type, a message without
//! uuid or with an invalid timestamp, a duplicate uuid, content over the size limit) is reported
//! in `Transcript::skipped` with its line number, and everything else is kept. Blank lines are
//! ignored. JSON that serde_json refuses (lone surrogate escapes, nesting deeper than 128) is
//! invalid JSON here too. Every string bound for PostgreSQL has NUL replaced (`render`).

pub mod paths;
pub mod render;
pub mod time;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use render::{pick, render_content, result_text, sanitize_json, sanitize_text};
use time::parse_rfc3339_micros;

/// Longest message content the database accepts, in characters.
pub const MAX_CONTENT_CHARS: usize = 1_000_000;
/// Most characters kept of an error message.
const ERROR_MESSAGE_CHARS: usize = 2_000;

/// Who wrote a message line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }
}

/// Token usage of one API response, as its lines repeat it: every dimension it is billed by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// All prompt-cache writes (`cache_creation_input_tokens`), 5-minute and 1-hour together.
    pub cache_creation_input_tokens: i64,
    /// The 1-hour part of the cache writes (`cache_creation.ephemeral_1h_input_tokens`).
    pub cache_creation_1h_input_tokens: i64,
    pub cache_read_input_tokens: i64,
    /// `server_tool_use.web_search_requests`.
    pub web_search_requests: i64,
    /// `server_tool_use.web_fetch_requests`.
    pub web_fetch_requests: i64,
    /// `speed` when not "standard" (absent and standard are billed alike): "fast".
    pub speed: Option<String>,
    /// `service_tier` when not "standard": "priority" or "batch".
    pub service_tier: Option<String>,
}

impl Usage {
    /// The usage of a message line, or why it cannot be stored: each count, and their sum (the
    /// message's token count), must fit a message's integer columns. Counts that are missing or
    /// not numbers count as 0.
    fn from_json(usage: &Value) -> Result<Usage, String> {
        let count_in = |object: &Value, name: &str| -> Result<i64, String> {
            match object.get(name) {
                Some(Value::Number(number)) => match number.as_i64() {
                    Some(count) if (0..=i64::from(i32::MAX)).contains(&count) => Ok(count),
                    _ => Err(format!(
                        "usage {name} is {number}: not a whole number from 0 to {}",
                        i32::MAX
                    )),
                },
                _ => Ok(0),
            }
        };
        let count = |name: &str| count_in(usage, name);
        let cache_creation = count("cache_creation_input_tokens")?;
        let server_tools = usage.get("server_tool_use").unwrap_or(&Value::Null);
        let label = |name: &str| {
            usage
                .get(name)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty() && *text != "standard")
                .map(|text| text.chars().take(40).collect())
        };
        let usage = Usage {
            input_tokens: count("input_tokens")?,
            output_tokens: count("output_tokens")?,
            cache_creation_input_tokens: cache_creation,
            // Part of the writes counted above: never more than they are.
            cache_creation_1h_input_tokens: count_in(
                usage.get("cache_creation").unwrap_or(&Value::Null),
                "ephemeral_1h_input_tokens",
            )?
            .min(cache_creation),
            cache_read_input_tokens: count("cache_read_input_tokens")?,
            web_search_requests: count_in(server_tools, "web_search_requests")?,
            web_fetch_requests: count_in(server_tools, "web_fetch_requests")?,
            speed: label("speed"),
            service_tier: label("service_tier"),
        };
        if usage.total() > i64::from(i32::MAX) {
            return Err(format!(
                "usage adds up to {} tokens, more than a message can store ({})",
                usage.total(),
                i32::MAX
            ));
        }
        Ok(usage)
    }

    pub fn total(&self) -> i64 {
        self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
    }
}

/// A `user`, `assistant` or `system` line: one message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageLine {
    /// Line number in the file, 1-based.
    pub line: usize,
    pub uuid: String,
    pub parent_uuid: Option<String>,
    pub role: Role,
    pub timestamp_micros: Option<i64>,
    /// Readable rendering of the content (1 to MAX_CONTENT_CHARS characters).
    pub content: String,
    /// Details of the line worth keeping, as a JSON object.
    pub metadata: Value,
    pub session_id: Option<String>,
    /// `message.id` of an assistant line: its API response.
    pub api_message_id: Option<String>,
    pub request_id: Option<String>,
    pub model: Option<String>,
    pub usage: Option<Usage>,
    pub is_sidechain: bool,
    pub is_meta: bool,
    pub agent_id: Option<String>,
    pub cwd: Option<String>,
    /// A prompt the user typed (not a tool result, command echo or injected note).
    pub is_prompt: bool,
}

impl MessageLine {
    /// Lines of one API response share this key and repeat its usage.
    pub fn usage_key(&self) -> Option<(&str, &str)> {
        Some((self.api_message_id.as_deref()?, self.request_id.as_deref()?))
    }
}

/// A `tool_use` block: one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUse {
    pub line: usize,
    pub message_uuid: String,
    pub id: String,
    pub name: String,
    pub input: Value,
    pub timestamp_micros: Option<i64>,
}

/// A `tool_result` block: the outcome of a tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub line: usize,
    pub message_uuid: String,
    pub tool_use_id: String,
    /// The result content as JSON (a string or content blocks).
    pub output: Value,
    /// A result is an error when its block says `is_error: true`, or when `is_error` is absent and
    /// the result (or the line's `toolUseResult`) is a string starting with "Error".
    pub is_error: bool,
    pub error_message: Option<String>,
    pub timestamp_micros: Option<i64>,
}

/// A `summary` line: the title of the conversation holding `leaf_uuid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub line: usize,
    pub leaf_uuid: String,
    pub text: String,
}

/// A line that was not stored, or was stored with a repair, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineNote {
    pub line: usize,
    pub reason: String,
}

/// Everything a transcript file holds that cco stores.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcript {
    pub messages: Vec<MessageLine>,
    pub tool_uses: Vec<ToolUse>,
    pub tool_results: Vec<ToolResult>,
    pub summaries: Vec<Summary>,
    /// `file-history-snapshot` lines: file backup bookkeeping, skipped on purpose.
    pub snapshot_lines: usize,
    /// Lines not stored.
    pub skipped: Vec<LineNote>,
    /// Lines stored with a repair (a parent link that closed a cycle was dropped).
    pub repaired: Vec<LineNote>,
    /// Uuids of the messages whose parent link was dropped: they must stay roots, also when a
    /// later load would otherwise link them to a parent that has arrived since.
    pub unlinked: Vec<String>,
}

/// Parses a transcript; see the module documentation.
pub fn parse(jsonl: &str) -> Transcript {
    let mut transcript = Transcript::default();
    let mut seen_uuids: HashSet<String> = HashSet::new();
    // Editors on some systems start a UTF-8 file with a byte order mark; it is not content.
    let jsonl = jsonl.strip_prefix('\u{feff}').unwrap_or(jsonl);
    for (index, line) in jsonl.split('\n').enumerate() {
        crate::interrupts::check();
        let number = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Err(reason) = parse_line(line, number, &mut transcript, &mut seen_uuids) {
            transcript.skipped.push(LineNote {
                line: number,
                reason,
            });
        }
    }
    transcript.break_parent_cycles();
    transcript
}

/// What is wrong, in serde_json's words, without its "at line 1 column N" suffix.
fn json_problem(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The line with every `\\u` escape of a lone UTF-16 surrogate replaced by `\\ufffd`, or `None`
/// when it has none. JSON allows such escapes, Rust strings (and PostgreSQL text) cannot hold
/// them; keeping the rest of the message is better than losing the line.
fn replace_lone_surrogates(line: &str) -> Option<String> {
    let bytes = line.as_bytes();
    let hex_at = |at: usize| -> Option<u16> {
        let digits = line.get(at..at + 4)?;
        u16::from_str_radix(digits, 16).ok()
    };
    let escape_at = |at: usize| -> Option<u16> {
        (bytes.get(at) == Some(&b'\\') && bytes.get(at + 1) == Some(&b'u'))
            .then(|| hex_at(at + 2))
            .flatten()
    };
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut replaced = false;
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            at += 1;
            continue;
        }
        match escape_at(at) {
            // A well-formed pair stays as it is.
            Some(0xD800..=0xDBFF) if matches!(escape_at(at + 6), Some(0xDC00..=0xDFFF)) => at += 12,
            Some(0xD800..=0xDFFF) => {
                out.push_str(&line[copied..at]);
                out.push_str("\\ufffd");
                replaced = true;
                at += 6;
                copied = at;
            }
            // Any other escape, including an escaped backslash, is two characters or more.
            _ => at += 2,
        }
    }
    replaced.then(|| {
        out.push_str(&line[copied..]);
        out
    })
}

fn parse_json(line: &str) -> Result<(Value, bool), String> {
    let explain = |error: serde_json::Error| match error.classify() {
        serde_json::error::Category::Eof => "incomplete JSON (the line was cut off)".to_owned(),
        _ => format!(
            "invalid JSON at column {}: {}",
            error.column(),
            json_problem(&error)
        ),
    };
    match serde_json::from_str(line) {
        Ok(value) => Ok((value, false)),
        Err(error) => match replace_lone_surrogates(line) {
            Some(repaired) => serde_json::from_str(&repaired)
                .map(|value| (value, true))
                .map_err(explain),
            None => Err(explain(error)),
        },
    }
}

fn parse_line(
    line: &str,
    number: usize,
    transcript: &mut Transcript,
    seen: &mut HashSet<String>,
) -> Result<(), String> {
    let (mut value, surrogates_replaced) = parse_json(line)?;
    if surrogates_replaced {
        transcript.repaired.push(LineNote {
            line: number,
            reason: "lone UTF-16 surrogate replaced with U+FFFD".into(),
        });
    }
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    sanitize_json(&mut value);
    let line_type = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or("missing type")?;
    match line_type {
        "user" | "assistant" | "system" => {
            let message = message_line(&value, line_type, number)?;
            if !seen.insert(message.uuid.clone()) {
                return Err(format!("duplicate uuid {}", message.uuid));
            }
            collect_tool_blocks(&value, &message, transcript);
            transcript.messages.push(message);
            Ok(())
        }
        "summary" => {
            let leaf_uuid = string_field(&value, "leafUuid").ok_or("summary without leafUuid")?;
            let text = string_field(&value, "summary").ok_or("summary without text")?;
            transcript.summaries.push(Summary {
                line: number,
                leaf_uuid,
                text,
            });
            Ok(())
        }
        "file-history-snapshot" => {
            transcript.snapshot_lines += 1;
            Ok(())
        }
        other => Err(format!(
            "unknown line type {}",
            other.chars().take(40).collect::<String>()
        )),
    }
}

fn string_field(value: &Value, name: &str) -> Option<String> {
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn message_line(value: &Value, line_type: &str, number: usize) -> Result<MessageLine, String> {
    let uuid = string_field(value, "uuid").ok_or("message line without uuid")?;
    let timestamp_micros = match value.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(parse_rfc3339_micros(text).ok_or("invalid timestamp")?),
        Some(_) => return Err("invalid timestamp".into()),
    };
    let role = match line_type {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => Role::System,
    };
    let message = value.get("message").unwrap_or(&Value::Null);
    let raw_content = match role {
        Role::System => value
            .get("content")
            .or_else(|| message.get("content"))
            .unwrap_or(&Value::Null),
        _ => message.get("content").unwrap_or(&Value::Null),
    };
    let mut content = render_content(raw_content);
    if role == Role::System {
        if let Some(subtype) = value.get("subtype").and_then(Value::as_str) {
            content = if content.is_empty() {
                format!("[system: {subtype}]")
            } else {
                format!("[system: {subtype}] {content}")
            };
        }
    }
    if content.trim().is_empty() {
        content = "[empty message]".to_owned();
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(format!("content over {MAX_CONTENT_CHARS} characters"));
    }

    let is_meta = value
        .get("isMeta")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let usage = message
        .get("usage")
        .filter(|usage| usage.is_object())
        .map(Usage::from_json)
        .transpose()?;
    let is_prompt = role == Role::User && !is_meta && is_typed_prompt(raw_content);

    let mut metadata = Map::new();
    metadata.insert("line".into(), Value::from(number));
    let from_line = pick(
        value,
        &[
            "parentUuid",
            "logicalParentUuid",
            "sessionId",
            "requestId",
            "isSidechain",
            "isMeta",
            "agentId",
            "gitBranch",
            "cwd",
            "version",
            "userType",
            "slug",
            "subtype",
            "level",
            "durationMs",
            "compactMetadata",
        ],
    );
    let from_message = pick(message, &["model", "id", "stop_reason", "usage"]);
    metadata.extend(from_line);
    for (key, field) in from_message {
        metadata.insert(if key == "id" { "messageId".into() } else { key }, field);
    }

    Ok(MessageLine {
        line: number,
        parent_uuid: string_field(value, "parentUuid"),
        role,
        timestamp_micros,
        content,
        session_id: string_field(value, "sessionId"),
        api_message_id: string_field(message, "id"),
        request_id: string_field(value, "requestId"),
        model: string_field(message, "model"),
        usage,
        is_sidechain: value
            .get("isSidechain")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        is_meta,
        agent_id: string_field(value, "agentId"),
        cwd: string_field(value, "cwd"),
        is_prompt,
        metadata: Value::Object(metadata),
        uuid,
    })
}

/// Text the user typed, as opposed to tool results, command echoes, caveats and interruptions.
fn is_typed_prompt(content: &Value) -> bool {
    let text = match content {
        Value::String(text) => text.as_str(),
        Value::Array(blocks)
            if blocks
                .iter()
                .all(|b| b.get("type").and_then(Value::as_str) == Some("text")) =>
        {
            blocks
                .first()
                .and_then(|b| b.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("")
        }
        _ => return false,
    };
    let text = text.trim_start();
    !(text.is_empty()
        || text.starts_with('<')
        || text.starts_with("Caveat:")
        || text == "Warmup"
        || text.starts_with("[Request interrupted"))
}

fn collect_tool_blocks(value: &Value, message: &MessageLine, transcript: &mut Transcript) {
    let Some(blocks) = value
        .get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
    else {
        return;
    };
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("tool_use") => {
                let (Some(id), Some(name)) =
                    (string_field(block, "id"), string_field(block, "name"))
                else {
                    continue;
                };
                transcript.tool_uses.push(ToolUse {
                    line: message.line,
                    message_uuid: message.uuid.clone(),
                    id,
                    name,
                    input: block
                        .get("input")
                        .cloned()
                        .unwrap_or(Value::Object(Map::new())),
                    timestamp_micros: message.timestamp_micros,
                });
            }
            Some("tool_result") => {
                let Some(tool_use_id) = string_field(block, "tool_use_id") else {
                    continue;
                };
                let output = block.get("content").cloned().unwrap_or(Value::Null);
                let text = result_text(&output);
                let is_error = match block.get("is_error").and_then(Value::as_bool) {
                    Some(flag) => flag,
                    None => {
                        let structured = value
                            .get("toolUseResult")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        text.trim_start().starts_with("Error")
                            || structured.trim_start().starts_with("Error")
                    }
                };
                let error_message = is_error.then(|| render::cap(text.trim(), ERROR_MESSAGE_CHARS));
                transcript.tool_results.push(ToolResult {
                    line: message.line,
                    message_uuid: message.uuid.clone(),
                    tool_use_id,
                    output,
                    is_error,
                    error_message,
                    timestamp_micros: message.timestamp_micros,
                });
            }
            _ => {}
        }
    }
}

impl Transcript {
    /// Drops parent links that would make a message its own ancestor (only a corrupt file has
    /// them); the database would reject such a thread.
    fn break_parent_cycles(&mut self) {
        let index_of: HashMap<&str, usize> = self
            .messages
            .iter()
            .enumerate()
            .map(|(index, m)| (m.uuid.as_str(), index))
            .collect();
        let mut state = vec![0u8; self.messages.len()]; // 0 unvisited, 1 on the current walk, 2 settled
        let mut broken: Vec<usize> = Vec::new();
        for start in 0..self.messages.len() {
            let mut walk = Vec::new();
            let mut current = Some(start);
            while let Some(index) = current {
                match state[index] {
                    2 => break,
                    1 => {
                        broken.push(index);
                        break;
                    }
                    _ => {}
                }
                state[index] = 1;
                walk.push(index);
                current = self.messages[index]
                    .parent_uuid
                    .as_deref()
                    .and_then(|parent| index_of.get(parent).copied());
            }
            for index in walk {
                state[index] = 2;
            }
        }
        for index in broken {
            let message = &mut self.messages[index];
            message.parent_uuid = None;
            self.unlinked.push(message.uuid.clone());
            self.repaired.push(LineNote {
                line: message.line,
                reason: "parent link dropped: it closed a cycle".into(),
            });
        }
    }

    /// Indices of `messages` with every parent before its children (when both are in the file);
    /// otherwise in file order.
    pub fn messages_in_parent_order(&self) -> Vec<usize> {
        let index_of: HashMap<&str, usize> = self
            .messages
            .iter()
            .enumerate()
            .map(|(index, m)| (m.uuid.as_str(), index))
            .collect();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.messages.len()];
        let mut roots = Vec::new();
        for (index, message) in self.messages.iter().enumerate() {
            match message
                .parent_uuid
                .as_deref()
                .and_then(|parent| index_of.get(parent))
            {
                Some(&parent) if parent != index => children[parent].push(index),
                _ => roots.push(index),
            }
        }
        let mut order = Vec::with_capacity(self.messages.len());
        let mut stack: Vec<usize> = roots.into_iter().rev().collect();
        while let Some(index) = stack.pop() {
            order.push(index);
            stack.extend(children[index].iter().rev().copied());
        }
        order
    }

    /// For each message, whether it carries the usage of its API response: lines of one response
    /// (same message id and request id) repeat it, and only the one with the most output tokens
    /// counts (the first of them on a tie).
    pub fn counts_usage(&self) -> Vec<bool> {
        let mut best: HashMap<(&str, &str), usize> = HashMap::new();
        for (index, message) in self.messages.iter().enumerate() {
            let (Some(key), Some(usage)) = (message.usage_key(), message.usage.as_ref()) else {
                continue;
            };
            best.entry(key)
                .and_modify(|current| {
                    let current_output = self.messages[*current]
                        .usage
                        .as_ref()
                        .map_or(0, |u| u.output_tokens);
                    if usage.output_tokens > current_output {
                        *current = index;
                    }
                })
                .or_insert(index);
        }
        self.messages
            .iter()
            .enumerate()
            .map(|(index, message)| match message.usage_key() {
                Some(key) => best.get(&key) == Some(&index),
                None => message.usage.is_some(),
            })
            .collect()
    }

    /// The session the file belongs to (the first line that names one).
    pub fn session_id(&self) -> Option<&str> {
        self.messages.iter().find_map(|m| m.session_id.as_deref())
    }

    /// The working directory of the session (the first line that names one).
    pub fn cwd(&self) -> Option<&str> {
        self.messages.iter().find_map(|m| m.cwd.as_deref())
    }

    /// The subagent that wrote the file, if any.
    pub fn agent_id(&self) -> Option<&str> {
        self.messages.iter().find_map(|m| m.agent_id.as_deref())
    }

    /// The model that wrote most of the output.
    pub fn main_model(&self) -> Option<&str> {
        let mut output_by_model: HashMap<&str, i64> = HashMap::new();
        for (message, counts) in self.messages.iter().zip(self.counts_usage()) {
            if let Some(model) = message.model.as_deref() {
                let output = if counts {
                    message.usage.as_ref().map_or(0, |u| u.output_tokens)
                } else {
                    0
                };
                *output_by_model.entry(model).or_default() += output + 1;
            }
        }
        output_by_model
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(model, _)| model)
    }

    /// The first prompt the user typed, shortened to a title.
    pub fn first_prompt_title(&self) -> Option<String> {
        self.messages
            .iter()
            .find(|m| m.is_prompt)
            .map(|m| paths::title_from_prompt(&sanitize_text(&m.content)))
            .filter(|title| !title.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_keeps_every_billed_dimension() {
        let usage = Usage::from_json(&serde_json::json!({
            "input_tokens": 10, "output_tokens": 20, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 4000,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
            "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
            "speed": "fast", "service_tier": "standard"
        }))
        .expect("counts that fit");
        assert_eq!(
            (
                usage.cache_creation_input_tokens,
                usage.cache_creation_1h_input_tokens
            ),
            (300, 200)
        );
        assert_eq!(
            (usage.web_search_requests, usage.web_fetch_requests),
            (2, 1)
        );
        assert_eq!(
            (usage.speed.as_deref(), usage.service_tier.as_deref()),
            (Some("fast"), None)
        );
        // The 1-hour part is never more than all writes; absent fields are zero or standard.
        let odd = Usage::from_json(
            &serde_json::json!({"cache_creation_input_tokens": 5, "cache_creation": {"ephemeral_1h_input_tokens": 9}, "service_tier": "priority"}),
        )
        .expect("counts that fit");
        assert_eq!(
            (
                odd.cache_creation_1h_input_tokens,
                odd.speed,
                odd.service_tier.as_deref()
            ),
            (5, None, Some("priority"))
        );
    }

    fn line(json: serde_json::Value) -> String {
        json.to_string()
    }

    fn user(uuid: &str, parent: Option<&str>, content: serde_json::Value) -> String {
        line(
            serde_json::json!({"type": "user", "uuid": uuid, "parentUuid": parent, "sessionId": "s1",
            "cwd": "/src/app", "timestamp": "2025-01-01T10:00:00Z", "message": {"role": "user", "content": content}}),
        )
    }

    fn assistant(
        uuid: &str,
        parent: &str,
        id: &str,
        output: i64,
        content: serde_json::Value,
    ) -> String {
        line(
            serde_json::json!({"type": "assistant", "uuid": uuid, "parentUuid": parent, "sessionId": "s1",
            "requestId": "req_1", "timestamp": "2025-01-01T10:00:05Z",
            "message": {"role": "assistant", "id": id, "model": "claude-opus-4-5", "content": content,
                        "usage": {"input_tokens": 10, "output_tokens": output, "cache_creation_input_tokens": 100,
                                  "cache_read_input_tokens": 1000}}}),
        )
    }

    #[test]
    fn a_small_session_becomes_messages_tool_calls_and_results() {
        let text = [
            user("u1", None, serde_json::json!("Run the tests please")),
            assistant("a1", "u1", "msg_1", 5, serde_json::json!([{"type": "text", "text": "Sure."}])),
            assistant("a2", "a1", "msg_1", 42, serde_json::json!([
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "cargo test"}}])),
            user("u2", Some("a2"), serde_json::json!([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}])),
            r#"{"type":"summary","summary":"Running tests","leafUuid":"u2"}"#.to_owned(),
            r#"{"type":"file-history-snapshot","messageId":"u1","snapshot":{}}"#.to_owned(),
        ]
        .join("\n");
        let transcript = parse(&text);
        assert_eq!(transcript.messages.len(), 4);
        assert_eq!(transcript.messages[2].content, "[tool: Bash] cargo test");
        assert_eq!(transcript.tool_uses.len(), 1);
        assert_eq!(transcript.tool_results.len(), 1);
        assert!(!transcript.tool_results[0].is_error);
        assert_eq!(transcript.summaries[0].leaf_uuid, "u2");
        assert_eq!(transcript.snapshot_lines, 1);
        assert!(transcript.skipped.is_empty());
        assert_eq!(transcript.counts_usage(), [false, false, true, false]);
        assert_eq!(
            transcript.first_prompt_title().as_deref(),
            Some("Run the tests please")
        );
        assert_eq!(transcript.session_id(), Some("s1"));
        assert_eq!(transcript.cwd(), Some("/src/app"));
        assert_eq!(transcript.main_model(), Some("claude-opus-4-5"));
        assert_eq!(
            transcript.messages[0].timestamp_micros,
            Some(1_735_725_600_000_000)
        );
    }

    #[test]
    fn bad_lines_are_skipped_and_reported_with_their_number() {
        let text = [
            user("u1", None, serde_json::json!("hello")),
            "{not json".to_owned(),
            r#"{"type":"queue-operation","operation":"enqueue"}"#.to_owned(),
            r#"{"uuid":"x"}"#.to_owned(),
            r#"{"type":"user","message":{"content":"no uuid"}}"#.to_owned(),
            r#"{"type":"user","uuid":"t1","timestamp":"yesterday","message":{"content":"x"}}"#.to_owned(),
            user("u1", None, serde_json::json!("again")),
            "[1,2]".to_owned(),
            String::new(),
            r#"{"type":"assistant","uuid":"cut","message":{"content":[{"type":"text","text":"partial"#.to_owned(),
        ]
        .join("\n");
        let transcript = parse(&text);
        assert_eq!(transcript.messages.len(), 1);
        let reasons: Vec<(usize, &str)> = transcript
            .skipped
            .iter()
            .map(|note| (note.line, note.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (2, "invalid JSON at column 2: key must be a string"),
                (3, "unknown line type queue-operation"),
                (4, "missing type"),
                (5, "message line without uuid"),
                (6, "invalid timestamp"),
                (7, "duplicate uuid u1"),
                (8, "not a JSON object"),
                (10, "incomplete JSON (the line was cut off)"),
            ]
        );
    }

    #[test]
    fn errors_are_recognised_by_flag_or_by_text() {
        let result = |block: serde_json::Value| {
            let transcript = parse(&user("u", None, serde_json::json!([block])));
            transcript.tool_results[0].is_error
        };
        assert!(result(
            serde_json::json!({"type": "tool_result", "tool_use_id": "t", "content": "x", "is_error": true})
        ));
        assert!(result(
            serde_json::json!({"type": "tool_result", "tool_use_id": "t", "content": "Error: no such file"})
        ));
        assert!(!result(
            serde_json::json!({"type": "tool_result", "tool_use_id": "t", "content": "Error: handled", "is_error": false})
        ));
        assert!(!result(
            serde_json::json!({"type": "tool_result", "tool_use_id": "t", "content": "fine"})
        ));
    }

    #[test]
    fn parents_come_before_children_and_cycles_are_broken() {
        let text = [
            user("c", Some("b"), serde_json::json!("child")),
            user("b", Some("a"), serde_json::json!("middle")),
            user("a", None, serde_json::json!("root")),
            user("x", Some("y"), serde_json::json!("loop 1")),
            user("y", Some("x"), serde_json::json!("loop 2")),
        ]
        .join("\n");
        let transcript = parse(&text);
        let order: Vec<&str> = transcript
            .messages_in_parent_order()
            .into_iter()
            .map(|i| transcript.messages[i].uuid.as_str())
            .collect();
        assert_eq!(&order[..3], ["a", "b", "c"]);
        assert_eq!(transcript.repaired.len(), 1);
        assert_eq!(transcript.unlinked, ["x"]);
        assert_eq!(order.len(), 5);
    }

    #[test]
    fn a_line_whose_usage_cannot_be_stored_is_skipped_and_the_rest_loads() {
        let line = |uuid: &str, usage: serde_json::Value| {
            serde_json::json!({"type": "assistant", "uuid": uuid, "sessionId": "s", "timestamp": "2025-01-01T00:00:00Z",
                "message": {"id": format!("msg-{uuid}"), "role": "assistant", "content": "ok", "usage": usage}})
            .to_string()
        };
        let jsonl = [
            line(
                "a",
                serde_json::json!({"input_tokens": 2147483647, "output_tokens": 1}),
            ),
            line(
                "b",
                serde_json::json!({"input_tokens": 5, "output_tokens": 7}),
            ),
            line("c", serde_json::json!({"input_tokens": -1})),
            line("d", serde_json::json!({"output_tokens": 1e12})),
            line(
                "e",
                serde_json::json!({"input_tokens": 2147483647, "output_tokens": "many"}),
            ),
        ]
        .join("\n");
        let transcript = parse(&jsonl);
        let stored: Vec<&str> = transcript
            .messages
            .iter()
            .map(|m| m.uuid.as_str())
            .collect();
        assert_eq!(stored, ["b", "e"]);
        let skipped: Vec<usize> = transcript.skipped.iter().map(|note| note.line).collect();
        assert_eq!(skipped, [1, 3, 4]);
        assert!(
            transcript.skipped[0].reason.contains("2147483648 tokens"),
            "{:?}",
            transcript.skipped
        );
        assert!(
            transcript.skipped[1].reason.contains("input_tokens is -1"),
            "{:?}",
            transcript.skipped
        );
    }

    #[test]
    fn a_byte_order_mark_and_crlf_endings_are_not_content() {
        let text = format!(
            "\u{feff}{}\r\n{}\r\n",
            user("a", None, serde_json::json!("one")),
            user("b", Some("a"), serde_json::json!("two"))
        );
        let transcript = parse(&text);
        assert!(transcript.skipped.is_empty(), "{:?}", transcript.skipped);
        assert_eq!(transcript.messages.len(), 2);
    }

    #[test]
    fn invalid_json_is_explained() {
        let transcript = parse(r#"{"type":"user","uuid":"s","message":{"content":[1,}}"#);
        assert_eq!(
            transcript.skipped[0].reason,
            "invalid JSON at column 51: expected value"
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let text = [
            r#"{"type":"user","uuid":"a","timestamp":"2025-01-01T00:00:00Z","message":{"content":"x\ud800 \udc00y \\ud800 \ud83d\ude00"}}"#,
            r#"{"type":"user","uuid":"b","timestamp":"2025-01-01T00:00:00Z","message":{"content":"end\uDBFF"}}"#,
        ]
        .join("\n");
        let transcript = parse(&text);
        assert!(transcript.skipped.is_empty(), "{:?}", transcript.skipped);
        assert_eq!(
            transcript.messages[0].content,
            "x\u{FFFD} \u{FFFD}y \\ud800 \u{1F600}"
        );
        assert_eq!(transcript.messages[1].content, "end\u{FFFD}");
        assert_eq!(transcript.repaired.len(), 2);
    }

    #[test]
    fn nul_and_oversized_content() {
        let transcript = parse(&user("u", None, serde_json::json!("a\u{0}b")));
        assert_eq!(transcript.messages[0].content, "a\u{FFFD}b");
        let huge = parse(&user(
            "u",
            None,
            serde_json::json!("x".repeat(MAX_CONTENT_CHARS + 1)),
        ));
        assert!(huge.messages.is_empty());
        assert_eq!(huge.skipped[0].reason, "content over 1000000 characters");
        let empty = parse(&user("u", None, serde_json::json!("")));
        assert_eq!(empty.messages[0].content, "[empty message]");
    }

    #[test]
    fn deep_nesting_is_refused_without_exhausting_the_stack() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let transcript = parse(&deep);
        assert_eq!(transcript.skipped.len(), 1);
        assert!(
            transcript.skipped[0].reason.contains("recursion limit"),
            "{:?}",
            transcript.skipped
        );
    }
}
