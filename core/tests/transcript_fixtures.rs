//! The parser against a real `~/.claude/projects` folder (shared with this workplace, read in
//! place; skipped with a message where it is absent). Every expected number is computed here from
//! the raw JSON, independently of the parser.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use cco_core::transcript::{parse, Transcript};
use serde_json::Value;

fn fixture_folder() -> Option<PathBuf> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/claude-code/-Users-user-project");
    if folder.is_dir() {
        Some(folder)
    } else {
        eprintln!("skipping: the shared transcript fixtures are not next to this checkout");
        None
    }
}

fn fixture_files() -> Vec<(String, String)> {
    let Some(folder) = fixture_folder() else {
        return Vec::new();
    };
    let mut files: Vec<(String, String)> = std::fs::read_dir(&folder)
        .expect("fixture folder is readable")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "jsonl"))
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (
                name,
                std::fs::read_to_string(entry.path()).expect("fixture is UTF-8"),
            )
        })
        .collect();
    files.sort();
    files
}

fn raw_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixtures are valid JSON"))
        .collect()
}

fn blocks(line: &Value) -> Vec<&Value> {
    line.get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .map(|b| b.iter().collect())
        .unwrap_or_default()
}

#[test]
fn every_file_parses_to_exactly_what_its_lines_hold() {
    let files = fixture_files();
    for (name, text) in &files {
        let raw = raw_lines(text);
        let transcript = parse(text);
        let of_type = |t: &str| raw.iter().filter(|l| l["type"] == t).count();
        let message_lines = raw
            .iter()
            .filter(|l| {
                matches!(l["type"].as_str(), Some("user" | "assistant" | "system"))
                    && l.get("uuid").is_some()
            })
            .count();
        let tool_uses = raw
            .iter()
            .flat_map(blocks)
            .filter(|b| b["type"] == "tool_use")
            .count();
        let tool_results: Vec<&Value> = raw
            .iter()
            .flat_map(blocks)
            .filter(|b| b["type"] == "tool_result")
            .collect();
        let errors = tool_results
            .iter()
            .filter(|b| {
                b.get("is_error") == Some(&Value::Bool(true))
                    || (b.get("is_error").is_none()
                        && b["content"]
                            .as_str()
                            .is_some_and(|s| s.starts_with("Error")))
            })
            .count();

        assert_eq!(transcript.messages.len(), message_lines, "{name}: messages");
        assert_eq!(transcript.tool_uses.len(), tool_uses, "{name}: tool uses");
        assert_eq!(
            transcript.tool_results.len(),
            tool_results.len(),
            "{name}: tool results"
        );
        assert_eq!(
            transcript
                .tool_results
                .iter()
                .filter(|r| r.is_error)
                .count(),
            errors,
            "{name}: errors"
        );
        assert_eq!(
            transcript.summaries.len(),
            of_type("summary"),
            "{name}: summaries"
        );
        assert_eq!(
            transcript.snapshot_lines,
            of_type("file-history-snapshot"),
            "{name}: snapshots"
        );
        assert!(
            transcript.skipped.is_empty(),
            "{name}: {:?}",
            transcript.skipped
        );
        for message in &transcript.messages {
            assert!(!message.content.is_empty() && message.content.chars().count() <= 1_000_000);
            assert!(
                message.timestamp_micros.is_some(),
                "{name}: every fixture line has a timestamp"
            );
        }
    }
    if !files.is_empty() {
        assert_eq!(files.len(), 29);
    }
}

#[test]
fn token_totals_count_each_api_response_once() {
    for (name, text) in fixture_files() {
        // Independently: per (message.id, requestId), the line with the highest output tokens.
        let mut best: HashMap<(String, String), [i64; 4]> = HashMap::new();
        for line in raw_lines(&text) {
            let (Some(message), Some(request)) = (
                line.get("message"),
                line.get("requestId").and_then(Value::as_str),
            ) else {
                continue;
            };
            let (Some(id), Some(usage)) = (
                message.get("id").and_then(Value::as_str),
                message.get("usage"),
            ) else {
                continue;
            };
            let counts = [
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
            ]
            .map(|k| usage.get(k).and_then(Value::as_i64).unwrap_or(0));
            let entry = best
                .entry((id.to_owned(), request.to_owned()))
                .or_insert(counts);
            if counts[1] > entry[1] {
                *entry = counts;
            }
        }
        let expected = best.values().fold([0i64; 4], |mut sum, c| {
            (0..4).for_each(|i| sum[i] += c[i]);
            sum
        });

        let transcript = parse(&text);
        let mut parsed = [0i64; 4];
        for (message, counts) in transcript.messages.iter().zip(transcript.counts_usage()) {
            if let (true, Some(usage)) = (counts, message.usage.as_ref()) {
                parsed[0] += usage.input_tokens;
                parsed[1] += usage.output_tokens;
                parsed[2] += usage.cache_creation_input_tokens;
                parsed[3] += usage.cache_read_input_tokens;
            }
        }
        assert_eq!(parsed, expected, "{name}");
    }
}

fn main_session() -> Option<Transcript> {
    fixture_files()
        .into_iter()
        .find(|(name, _)| name.starts_with("b3edadab"))
        .map(|(_, text)| parse(&text))
}

#[test]
fn the_main_session_branches_where_the_fixture_says() {
    // The fixture's README draws five branch ends (the leaves its summaries name). In the data,
    // the third and fourth are continued by the next turn ("Hi", and the retried request), so
    // the tree has three leaves and the fork after the subagent's answer has three children.
    let Some(transcript) = main_session() else {
        return;
    };
    let parents: HashMap<&str, Option<&str>> = transcript
        .messages
        .iter()
        .map(|m| (m.uuid.as_str(), m.parent_uuid.as_deref()))
        .collect();
    let has_children: HashSet<&str> = parents.values().flatten().copied().collect();
    let mut leaves: Vec<&str> = parents
        .keys()
        .filter(|id| !has_children.contains(*id))
        .map(|id| &id[..8])
        .collect();
    leaves.sort();
    assert_eq!(leaves, ["38842167", "39a76b25", "51be2f36"]);
    for summarised in ["51be2f36", "39a76b25", "a625e20b", "feae9236", "38842167"] {
        assert!(
            parents.keys().any(|id| id.starts_with(summarised)),
            "{summarised} is a message of the session"
        );
    }
    let mut child_count: HashMap<&str, usize> = HashMap::new();
    for parent in parents.values().flatten() {
        *child_count.entry(parent).or_default() += 1;
    }
    let forks: Vec<(&str, usize)> = child_count
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(p, &n)| (&p[..8], n))
        .collect();
    assert_eq!(forks, [("8fe00b4a", 3)]);
    // Parent order puts every parent first.
    let order = transcript.messages_in_parent_order();
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(at, &i)| (transcript.messages[i].uuid.as_str(), at))
        .collect();
    for message in &transcript.messages {
        if let Some(parent) = message
            .parent_uuid
            .as_deref()
            .filter(|p| position.contains_key(p))
        {
            assert!(position[parent] < position[message.uuid.as_str()]);
        }
    }
    assert_eq!(
        transcript.first_prompt_title().as_deref(),
        Some("Hello I want to have some test conversation with you create some file for me")
    );
}

#[test]
fn the_subagent_file_is_a_sidechain_of_the_main_session() {
    let Some((_, text)) = fixture_files()
        .into_iter()
        .find(|(name, _)| name == "agent-a434715.jsonl")
    else {
        return;
    };
    let transcript = parse(&text);
    assert!(transcript.messages.iter().all(|m| m.is_sidechain));
    assert_eq!(transcript.agent_id(), Some("a434715"));
    assert_eq!(
        transcript.session_id(),
        Some("b3edadab-bca0-4054-9b41-f7ffa6941260")
    );
    assert_eq!(
        transcript
            .tool_uses
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["Read", "Edit"]
    );
    assert_eq!(transcript.tool_results.len(), 2);
}

#[test]
fn summary_only_snapshot_only_and_empty_files_hold_no_messages() {
    for (name, text) in fixture_files() {
        let transcript = parse(&text);
        let prefix = &name[..8];
        match prefix {
            "be89c3cd" | "a751b8dd" | "3f6ddfee" => {
                assert!(
                    transcript.messages.is_empty() && !transcript.summaries.is_empty(),
                    "{name}"
                )
            }
            "6d3dc917" | "b8649630" | "e9040aa9" => {
                assert!(
                    transcript.messages.is_empty() && transcript.snapshot_lines > 0,
                    "{name}"
                )
            }
            "0f13eeba" | "34d48ba8" => assert_eq!(transcript, Transcript::default(), "{name}"),
            _ => {}
        }
    }
}

#[test]
fn the_clear_command_file_keeps_its_meta_lines_and_has_no_title_prompt() {
    let Some((_, text)) = fixture_files()
        .into_iter()
        .find(|(name, _)| name.starts_with("0d3b22c1"))
    else {
        return;
    };
    let transcript = parse(&text);
    assert_eq!(transcript.messages.iter().filter(|m| m.is_meta).count(), 1);
    assert_eq!(transcript.first_prompt_title(), None);
}
