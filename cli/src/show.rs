//! `cco show`: a conversation as a thread, in order, with tool calls and long tool output folded
//! and the session's subagent conversations marked.

use postgres::Client;
use serde_json::{json, Value};

use crate::failure::{Failure, Kind, Outcome};

/// A conversation found by its id, a message's id or a Claude Code session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: String,
    pub project_id: String,
    pub project_name: String,
    pub title: Option<String>,
    pub session_id: Option<String>,
    /// The message asked for, when a message's id was given.
    pub focus: Option<String>,
}

/// A message of the thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub role: String,
    pub timestamp: String,
    pub depth: i32,
    pub content: String,
    pub tools: Vec<ToolCall>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub name: String,
    pub status: String,
}

/// A subagent conversation of the same session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subagent {
    pub id: String,
    pub agent_id: String,
    pub title: Option<String>,
    pub messages: i32,
    /// What the subagent was asked: its conversation's first user message.
    pub first_prompt: Option<String>,
    /// The message of the thread whose tool call (Task, Agent) launched the subagent, when the
    /// thread holds it.
    pub launched_by: Option<String>,
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Finds the conversation `wanted` names: a conversation id, a message id, or a session id (its
/// main transcript rather than a subagent's).
pub fn find(client: &mut Client, wanted: &str) -> Outcome<Conversation> {
    let as_uuid = is_uuid(wanted).then(|| wanted.to_ascii_lowercase());
    let row = client
        .query_opt(
            "with wanted as (
                 select c.id, c.project_id, null::uuid as focus, 0 as preference
                 from cco.conversations c where c.id = $1::text::uuid
                 union all
                 select m.conversation_id, m.project_id, m.id, 1
                 from cco.messages m where m.id = $1::text::uuid
                 union all
                 select c.id, c.project_id, null, case when c.metadata ? 'agent_id' then 3 else 2 end
                 from cco.conversations c where c.session_id = $2)
             select c.id::text, c.project_id::text, p.name, c.title, c.session_id, w.focus::text
             from wanted w
             join cco.conversations c on c.id = w.id and c.project_id = w.project_id
             join cco.projects p on p.id = c.project_id
             order by w.preference, c.created_at
             limit 1",
            &[&as_uuid, &wanted],
        )
        .map_err(|e| Failure::from_database(&e))?
        .ok_or_else(|| {
            Failure::new(
                Kind::Input,
                format!("no conversation, message or session `{wanted}` that you can read"),
            )
        })?;
    Ok(Conversation {
        id: row.get(0),
        project_id: row.get(1),
        project_name: row.get(2),
        title: row.get(3),
        session_id: row.get(4),
        focus: row.get(5),
    })
}

/// The conversation's messages in order, each with its tool calls.
pub fn messages(client: &mut Client, conversation: &Conversation) -> Outcome<Vec<Message>> {
    let rows = client
        .query(
            "select m.id::text, m.role, to_char(m.\"timestamp\", 'YYYY-MM-DD HH24:MI:SS'), m.depth,
                    m.content,
                    array(select t.tool_name || ' ' || t.status from cco.tool_calls t
                          where t.message_id = m.id and t.project_id = m.project_id
                          order by t.started_at, t.id)
             from cco.messages m
             where m.conversation_id = $1::text::uuid and m.project_id = $2::text::uuid
             order by m.\"timestamp\", (m.metadata->>'line')::int, m.id",
            &[&conversation.id, &conversation.project_id],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(rows
        .iter()
        .map(|row| Message {
            id: row.get(0),
            role: row.get(1),
            timestamp: row.get(2),
            depth: row.get(3),
            content: row.get(4),
            tools: row
                .get::<_, Vec<String>>(5)
                .into_iter()
                .map(|entry| {
                    let (name, status) = entry.rsplit_once(' ').unwrap_or((&entry, ""));
                    ToolCall {
                        name: name.to_owned(),
                        status: status.to_owned(),
                    }
                })
                .collect(),
        })
        .collect())
}

/// The subagent conversations of the conversation's session, each with the message that launched
/// it. Claude Code starts a subagent with the tool call's `prompt` as its first user message, so
/// the launching call is the thread's call with that prompt, the latest one started before the
/// subagent's first message (a transcript names the agent only inside the tool result's
/// `toolUseResult`, which cco does not keep). Subagents launched by no call of the thread (Claude
/// Code's warm-up agents, or a thread loaded without its parent) have none.
pub fn subagents(client: &mut Client, conversation: &Conversation) -> Outcome<Vec<Subagent>> {
    let Some(session) = &conversation.session_id else {
        return Ok(Vec::new());
    };
    let rows = client
        .query(
            "select c.id::text, c.metadata->>'agent_id', c.title, c.message_count,
                    first_prompt.content, launch.message_id::text
             from cco.conversations c
             left join lateral (
                 select m.content, m.\"timestamp\"
                 from cco.messages m
                 where m.conversation_id = c.id and m.project_id = c.project_id
                   and m.role = 'user'
                 order by m.\"timestamp\", (m.metadata->>'line')::int, m.id
                 limit 1) first_prompt on true
             left join lateral (
                 select t.message_id
                 from cco.tool_calls t
                 where t.conversation_id = $2::text::uuid and t.project_id = $3::text::uuid
                   and t.input_data->>'prompt' = first_prompt.content
                   and (t.started_at is null or t.started_at <= first_prompt.\"timestamp\")
                 order by t.started_at desc nulls last, t.id
                 limit 1) launch on true
             where c.metadata @> jsonb_build_object('parent_session_id', $1::text)
               and c.id <> $2::text::uuid
             order by c.created_at, c.id",
            &[session, &conversation.id, &conversation.project_id],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(rows
        .iter()
        .map(|row| Subagent {
            id: row.get(0),
            agent_id: row.get::<_, Option<String>>(1).unwrap_or_default(),
            title: row.get(2),
            messages: row.get(3),
            first_prompt: row.get(4),
            launched_by: row.get(5),
        })
        .collect())
}

/// Lines kept of a message before it is folded.
const KEPT_LINES: usize = 12;

/// The thread as text. Tool results and thinking show their first line, other messages their
/// first lines, unless `full`; each message's tool calls are one line.
pub fn thread_text(
    conversation: &Conversation,
    messages: &[Message],
    subagents: &[Subagent],
    full: bool,
) -> String {
    let mut text = format!(
        "{} · {}\n{} messages{}\n",
        conversation.project_name,
        conversation.title.as_deref().unwrap_or("(untitled)"),
        messages.len(),
        conversation
            .session_id
            .as_deref()
            .map(|s| format!(", session {s}"))
            .unwrap_or_default()
    );
    for message in messages {
        let marker = if conversation.focus.as_deref() == Some(message.id.as_str()) {
            "▶ "
        } else {
            ""
        };
        text.push_str(&format!(
            "\n{marker}[{}] {} (depth {})\n",
            message.timestamp, message.role, message.depth
        ));
        for line in folded(&message.content, full) {
            text.push_str("  ");
            text.push_str(&line);
            text.push('\n');
        }
        for tool in &message.tools {
            text.push_str(&format!("  ⚙ {} ({})\n", tool.name, tool.status));
        }
        for agent in subagents
            .iter()
            .filter(|agent| agent.launched_by.as_deref() == Some(message.id.as_str()))
        {
            text.push_str(&format!("  ↳ {}", subagent_line(agent)));
        }
    }
    let elsewhere: Vec<&Subagent> = subagents
        .iter()
        .filter(|agent| {
            agent
                .launched_by
                .as_ref()
                .is_none_or(|id| !messages.iter().any(|m| &m.id == id))
        })
        .collect();
    if !elsewhere.is_empty() {
        text.push_str("\nSubagents of this session launched by no message shown:\n");
        for agent in elsewhere {
            text.push_str(&format!("  ↳ {}", subagent_line(agent)));
        }
    }
    text
}

/// Characters of a subagent's first prompt shown on its line.
const PROMPT_CHARS: usize = 72;

/// A subagent's summary, two lines: its agent id, message count and first prompt, then the command
/// that shows it.
fn subagent_line(agent: &Subagent) -> String {
    let prompt = agent
        .first_prompt
        .as_deref()
        .or(agent.title.as_deref())
        .map(|prompt| one_line(prompt, PROMPT_CHARS))
        .unwrap_or_else(|| "(no prompt)".into());
    format!(
        "subagent {} · {} message{} · {}\n    cco show {}\n",
        agent.agent_id,
        agent.messages,
        if agent.messages == 1 { "" } else { "s" },
        prompt,
        agent.id
    )
}

/// Text on one line of at most `max_chars` characters: whitespace runs become one space, and a
/// cut ends with `…`.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max_chars {
        return joined;
    }
    let kept: String = joined.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// A message's lines as shown: tool results and thinking fold to their first line, anything
/// else to its first lines; the fold says how much it hides.
pub fn folded(content: &str, full: bool) -> Vec<String> {
    let lines: Vec<&str> = content.lines().collect();
    let kept = if full {
        lines.len()
    } else if content.starts_with("[tool result]") || content.starts_with("[thinking]") {
        1
    } else {
        KEPT_LINES
    };
    let mut shown: Vec<String> = lines.iter().take(kept).map(|l| (*l).to_owned()).collect();
    let hidden = lines.len().saturating_sub(kept);
    if hidden > 0 {
        let fold = format!("… {hidden} more line{}", if hidden == 1 { "" } else { "s" });
        match shown.last_mut() {
            // A one-line fold stays on the marker's line: `[thinking] … 3 more lines`.
            Some(last) if kept == 1 => {
                last.push(' ');
                last.push_str(&fold);
            }
            _ => shown.push(fold),
        }
    }
    shown
}

pub fn thread_json(
    conversation: &Conversation,
    messages: &[Message],
    subagents: &[Subagent],
) -> Value {
    json!({
        "conversation_id": conversation.id,
        "project_name": conversation.project_name,
        "title": conversation.title,
        "session_id": conversation.session_id,
        "messages": messages.iter().map(|m| json!({
            "id": m.id, "role": m.role, "timestamp": m.timestamp, "depth": m.depth,
            "content": m.content,
            "tool_calls": m.tools.iter().map(|t| json!({"tool_name": t.name, "status": t.status})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "subagents": subagents.iter().map(|a| json!({
            "conversation_id": a.id, "agent_id": a.agent_id, "title": a.title, "messages": a.messages,
            "first_prompt": a.first_prompt, "launched_by_message_id": a.launched_by,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_results_and_thinking_fold_to_one_line() {
        assert_eq!(
            folded("[tool result]\nline 1\nline 2", false),
            ["[tool result] … 2 more lines"]
        );
        assert_eq!(
            folded("[thinking]\nhmm", false),
            ["[thinking] … 1 more line"]
        );
        assert_eq!(folded("[tool result]\nline 1", true).len(), 2);
        let long: String = (0..20).map(|i| format!("l{i}\n")).collect();
        let shown = folded(&long, false);
        assert_eq!(shown.len(), KEPT_LINES + 1);
        assert_eq!(shown.last().unwrap(), "… 8 more lines");
        assert_eq!(folded("short", false), ["short"]);
    }

    #[test]
    fn knows_a_uuid() {
        assert!(is_uuid("b3edadab-bca0-4054-9b41-f7ffa6941260"));
        assert!(!is_uuid("b3edadab"));
        assert!(!is_uuid("b3edadab-bca0-4054-9b41-f7ffa694126g"));
    }

    #[test]
    fn the_thread_marks_the_message_asked_for_and_lists_subagents() {
        let conversation = Conversation {
            id: "c".into(),
            project_id: "p".into(),
            project_name: "shop".into(),
            title: Some("Fix the total".into()),
            session_id: Some("s".into()),
            focus: Some("m2".into()),
        };
        let message = |id: &str, content: &str| Message {
            id: id.into(),
            role: "assistant".into(),
            timestamp: "2025-12-20 09:00:00".into(),
            depth: 1,
            content: content.into(),
            tools: vec![],
        };
        let mut with_tool = message("m2", "[tool: Task] explore");
        with_tool.tools.push(ToolCall {
            name: "Task".into(),
            status: "success".into(),
        });
        let text = thread_text(
            &conversation,
            &[message("m1", "Hello"), with_tool],
            &[
                Subagent {
                    id: "c2".into(),
                    agent_id: "a1".into(),
                    title: None,
                    messages: 4,
                    first_prompt: Some("Explore\n  the   code".into()),
                    launched_by: Some("m2".into()),
                },
                Subagent {
                    id: "c3".into(),
                    agent_id: "a2".into(),
                    title: None,
                    messages: 1,
                    first_prompt: Some("Warmup".into()),
                    launched_by: None,
                },
            ],
            false,
        );
        assert_eq!(
            text,
            "shop · Fix the total\n2 messages, session s\n\n[2025-12-20 09:00:00] assistant (depth 1)\n  Hello\n\n▶ [2025-12-20 09:00:00] assistant (depth 1)\n  [tool: Task] explore\n  ⚙ Task (success)\n  ↳ subagent a1 · 4 messages · Explore the code\n    cco show c2\n\nSubagents of this session launched by no message shown:\n  ↳ subagent a2 · 1 message · Warmup\n    cco show c3\n"
        );
    }

    #[test]
    fn a_prompt_is_shown_on_one_short_line() {
        assert_eq!(one_line("a\n b\t c", 10), "a b c");
        assert_eq!(one_line("abcdefghij", 10), "abcdefghij");
        assert_eq!(one_line("abcde fghijk", 10), "abcde fgh…");
        assert_eq!(one_line("abcd  efghijk", 6), "abcd…");
        assert_eq!(one_line("", 5), "");
    }
}
