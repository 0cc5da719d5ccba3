//! A deterministic corpus of Claude Code conversations at a chosen scale: projects,
//! conversations with Pareto-distributed sizes (tens to thousands of messages), threaded messages
//! (a chain with occasional branches), tool calls with realistic outcomes and skewed latencies,
//! token usage per API response, timestamps with working-hour rhythms.

use crate::rng::{Rng, Zipf};
use crate::text::{Lexicon, Writer};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * MICROS_PER_SECOND;

#[derive(Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub path: String,
}

#[derive(Clone)]
pub struct Conversation {
    pub id: String,
    pub project: usize,
    pub title: String,
    pub file_path: String,
    pub session_id: String,
}

#[derive(Clone)]
pub struct Message {
    pub id: String,
    pub conversation: usize,
    pub project: usize,
    pub role: &'static str,
    pub content: String,
    /// Unix microseconds.
    pub at: i64,
    /// Index into `Corpus::messages` (always an earlier message of the same conversation).
    pub parent: Option<usize>,
    pub model: Option<&'static str>,
    /// input, output, cache creation, cache read: set on assistant messages.
    pub tokens: [i64; 4],
    pub external_id: String,
    /// For a tool result: the tool call it answers (index into `Corpus::tool_calls`).
    pub answers: Option<usize>,
}

#[derive(Clone)]
pub struct ToolCall {
    pub id: String,
    pub message: usize,
    pub name: &'static str,
    pub input: String,
    pub status: &'static str,
    pub started_at: i64,
    pub duration_ms: i64,
    pub external_id: String,
    pub output: String,
}

pub struct Corpus {
    pub projects: Vec<Project>,
    pub conversations: Vec<Conversation>,
    pub messages: Vec<Message>,
    pub tool_calls: Vec<ToolCall>,
}

/// Tools with their share of calls and their latency (median ms, spread).
const TOOLS: &[(&str, f64, f64, f64)] = &[
    ("Bash", 0.30, 900.0, 1.6),
    ("Read", 0.28, 35.0, 0.8),
    ("Edit", 0.15, 60.0, 0.7),
    ("Grep", 0.10, 140.0, 1.0),
    ("Glob", 0.06, 25.0, 0.8),
    ("Write", 0.05, 45.0, 0.6),
    ("Task", 0.04, 45_000.0, 1.0),
    ("WebFetch", 0.02, 1_800.0, 1.1),
];

const MODELS: &[(&str, f64)] = &[
    ("claude-sonnet-4-5-20250929", 0.70),
    ("claude-opus-4-5-20251101", 0.20),
    ("claude-haiku-4-5-20251001", 0.10),
];

/// A deterministic UUID for the n-th object of a kind.
pub fn uuid(kind: u16, n: usize) -> String {
    format!("00000000-{kind:04x}-4000-8000-{n:012x}")
}

fn weighted<'a, T>(rng: &mut Rng, items: &'a [(T, f64)]) -> &'a T {
    let mut target = rng.unit();
    for (item, weight) in items {
        if target < *weight {
            return item;
        }
        target -= weight;
    }
    &items[items.len() - 1].0
}

/// A moment in working hours: the hour of the day follows a day-shaped curve.
fn working_time(rng: &mut Rng, day_start: i64) -> i64 {
    let hour = match rng.below(10) {
        0 => rng.below(24),
        _ => 8 + rng.below(11),
    } as i64;
    day_start + hour * 3600 * MICROS_PER_SECOND + rng.below(3600) as i64 * MICROS_PER_SECOND
}

/// Generates `messages` messages (a few more: conversations are not cut short).
pub fn generate(messages: usize, seed: u64) -> Corpus {
    let mut rng = Rng::new(seed);
    let lexicon = Lexicon::new(60_000, &mut rng);
    let project_count = (messages / 20_000).clamp(5, 60);
    // End the corpus at a fixed day so figures do not depend on when they are produced; the
    // recent-activity views are checked elsewhere.
    let end = 1_767_225_600 * MICROS_PER_SECOND; // 2026-01-01
    let mut corpus = Corpus {
        projects: Vec::new(),
        conversations: Vec::new(),
        messages: Vec::with_capacity(messages + 5_000),
        tool_calls: Vec::new(),
    };
    let mut writers = Vec::new();
    for index in 0..project_count {
        let name = format!("{}-{}", lexicon.content_word(&mut rng), index);
        corpus.projects.push(Project {
            id: uuid(1, index),
            path: format!("/home/dev/{name}"),
            name,
        });
        let files = 150 + rng.below(400);
        writers.push(Writer::new(&lexicon, &mut rng, files));
    }
    let project_sizes = Zipf::new(project_count, 0.8);
    let tool_shares: Vec<((&str, f64, f64), f64)> =
        TOOLS.iter().map(|&(n, s, m, sp)| ((n, m, sp), s)).collect();

    while corpus.messages.len() < messages {
        let project = project_sizes.sample(&mut rng);
        let writer = &writers[project];
        let conversation = corpus.conversations.len();
        // Pareto sizes: most conversations are short, a few run to thousands of messages.
        let size = (12.0 * rng.unit().max(1e-9).powf(-1.0 / 1.25)).min(4_000.0) as usize;
        let day = end - (1 + rng.below(120) as i64) * DAY;
        let mut at = working_time(&mut rng, day - day.rem_euclid(DAY));
        let session_id = uuid(2, conversation);
        let first_prompt = writer.user_prompt(&mut rng);
        corpus.conversations.push(Conversation {
            id: uuid(3, conversation),
            project,
            title: first_prompt.chars().take(120).collect(),
            file_path: format!(
                "/home/dev/.claude/projects/-home-dev-{}/{}.jsonl",
                corpus.projects[project].name, session_id
            ),
            session_id,
        });

        let first = corpus.messages.len();
        let mut previous: Option<usize> = None;
        let mut pending_prompt = Some(first_prompt);
        while corpus.messages.len() - first < size {
            // a user turn
            let prompt = pending_prompt
                .take()
                .unwrap_or_else(|| writer.user_prompt(&mut rng));
            at += if rng.chance(0.03) {
                (1 + rng.below(16)) as i64 * 3600 * MICROS_PER_SECOND
            } else {
                (10 + rng.below(600)) as i64 * MICROS_PER_SECOND
            };
            previous = Some(push(
                &mut corpus,
                conversation,
                project,
                "user",
                prompt,
                at,
                previous,
                None,
                [0; 4],
                None,
            ));
            // assistant steps, many of them calling a tool
            for _ in 0..1 + rng.below(6) {
                let model = *weighted(&mut rng, MODELS);
                let tokens = [
                    1 + rng.below(60) as i64,
                    rng.log_normal(180.0, 1.0).min(30_000.0) as i64,
                    if rng.chance(0.3) {
                        rng.below(8_000) as i64
                    } else {
                        0
                    },
                    5_000 + rng.below(120_000) as i64,
                ];
                at += (2 + rng.below(25)) as i64 * MICROS_PER_SECOND;
                if rng.chance(0.65) {
                    let &(tool, median, spread) = weighted(&mut rng, &tool_shares);
                    let input = match tool {
                        "Bash" => writer.command(&mut rng),
                        "Read" | "Edit" | "Write" => writer.path(&mut rng).to_owned(),
                        "Grep" => format!(
                            "{} in {}",
                            writer.identifier(&mut rng),
                            writer.path(&mut rng)
                        ),
                        "Glob" => format!("**/*{}*", writer.identifier(&mut rng)),
                        _ => writer.prose(&mut rng, 1),
                    };
                    let message = push(
                        &mut corpus,
                        conversation,
                        project,
                        "assistant",
                        format!("[tool: {tool}] {input}"),
                        at,
                        previous,
                        Some(model),
                        tokens,
                        None,
                    );
                    let status = *weighted(
                        &mut rng,
                        &[("success", 0.90), ("error", 0.08), ("timeout", 0.02)],
                    );
                    let duration_ms = if status == "timeout" {
                        120_000
                    } else {
                        rng.log_normal(median, spread).clamp(1.0, 600_000.0) as i64
                    };
                    let output = writer.tool_output(&mut rng, status != "success");
                    let call = corpus.tool_calls.len();
                    corpus.tool_calls.push(ToolCall {
                        id: uuid(4, call),
                        message,
                        name: tool,
                        input: serde_json::json!({ "value": input }).to_string(),
                        status,
                        started_at: at,
                        duration_ms,
                        external_id: format!("toolu_{call:016x}"),
                        output: output.clone(),
                    });
                    at += duration_ms * 1_000;
                    let label = if status == "success" {
                        "tool result"
                    } else {
                        "tool error"
                    };
                    let rendered: String = output.chars().take(20_000).collect();
                    previous = Some(push(
                        &mut corpus,
                        conversation,
                        project,
                        "user",
                        format!("[{label}]\n{rendered}"),
                        at,
                        Some(message),
                        None,
                        [0; 4],
                        Some(call),
                    ));
                } else {
                    let text = writer.assistant_text(&mut rng);
                    previous = Some(push(
                        &mut corpus,
                        conversation,
                        project,
                        "assistant",
                        text,
                        at,
                        previous,
                        Some(model),
                        tokens,
                        None,
                    ));
                }
            }
            // now and then a checkpoint revert: the next turn answers an earlier message
            if rng.chance(0.02) && previous.is_some_and(|p| p > first) {
                previous = Some(first + rng.below(corpus.messages.len() - first));
            }
        }
    }
    corpus
}

#[allow(clippy::too_many_arguments)]
fn push(
    corpus: &mut Corpus,
    conversation: usize,
    project: usize,
    role: &'static str,
    content: String,
    at: i64,
    parent: Option<usize>,
    model: Option<&'static str>,
    tokens: [i64; 4],
    answers: Option<usize>,
) -> usize {
    let index = corpus.messages.len();
    corpus.messages.push(Message {
        id: uuid(5, index),
        conversation,
        project,
        role,
        content,
        at,
        parent,
        model,
        tokens,
        external_id: uuid(6, index),
        answers,
    });
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_corpus() {
        let (a, b) = (generate(3_000, 42), generate(3_000, 42));
        assert_eq!(a.messages.len(), b.messages.len());
        assert!(a
            .messages
            .iter()
            .zip(&b.messages)
            .all(|(x, y)| x.content == y.content && x.at == y.at && x.parent == y.parent));
        assert_ne!(
            generate(3_000, 43).messages[0].content,
            a.messages[0].content
        );
    }

    #[test]
    fn every_row_satisfies_the_schema() {
        let corpus = generate(20_000, 1);
        assert!(corpus.messages.len() >= 20_000);
        for (index, message) in corpus.messages.iter().enumerate() {
            let chars = message.content.chars().count();
            assert!((1..=1_000_000).contains(&chars) && !message.content.contains('\0'));
            assert!(["user", "assistant", "system"].contains(&message.role));
            if let Some(parent) = message.parent {
                assert!(parent < index, "parents come before their replies");
                assert_eq!(corpus.messages[parent].conversation, message.conversation);
            }
            assert!(message
                .tokens
                .iter()
                .all(|&t| (0..=i64::from(i32::MAX)).contains(&t)));
        }
        for call in &corpus.tool_calls {
            assert!(["success", "error", "timeout"].contains(&call.status));
            assert!(call.duration_ms >= 0 && call.message < corpus.messages.len());
        }
    }

    #[test]
    fn sizes_and_outcomes_are_skewed_as_designed() {
        let corpus = generate(60_000, 2);
        let mut sizes = vec![0usize; corpus.conversations.len()];
        corpus
            .messages
            .iter()
            .for_each(|m| sizes[m.conversation] += 1);
        sizes.sort_unstable();
        assert!(
            sizes[sizes.len() / 2] < 60 && *sizes.last().unwrap() > 400,
            "{:?}",
            (sizes[sizes.len() / 2], sizes.last())
        );
        let errors = corpus
            .tool_calls
            .iter()
            .filter(|c| c.status != "success")
            .count() as f64
            / corpus.tool_calls.len() as f64;
        assert!((0.05..0.16).contains(&errors), "{errors}");
        let per_message = corpus.tool_calls.len() as f64 / corpus.messages.len() as f64;
        assert!((0.15..0.45).contains(&per_message), "{per_message}");
    }
}
