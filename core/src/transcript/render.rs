//! Readable text for the content of a transcript line, and the values PostgreSQL can store.
//!
//! A message's `content` column is what people read and search, so it renders every block:
//! text as written, thinking marked as such, a tool call as its name and key input
//! (`[tool: Bash] cargo test`), a tool result as its output (capped here; the full output is kept
//! on the tool call), images and other blocks as placeholders.

use serde_json::{Map, Value};

/// Most characters of one tool result shown in a message; the tool call keeps all of it.
pub const RESULT_CHARS_IN_MESSAGE: usize = 20_000;
/// Most characters of a tool input shown when the tool has no known key input.
const INPUT_CHARS: usize = 500;

/// Replaces NUL, which PostgreSQL's text and jsonb cannot hold, with U+FFFD.
pub fn sanitize_text(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.to_owned()
    }
}

/// Replaces NUL in every string and key of a JSON value (see `sanitize_text`).
pub fn sanitize_json(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('\0') => *text = text.replace('\0', "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(sanitize_json),
        Value::Object(object) => {
            if object.keys().any(|key| key.contains('\0')) {
                let entries: Vec<(String, Value)> = std::mem::take(object).into_iter().collect();
                *object = entries
                    .into_iter()
                    .map(|(key, value)| (sanitize_text(&key), value))
                    .collect();
            }
            object.values_mut().for_each(sanitize_json);
        }
        _ => {}
    }
}

/// Cuts text to at most `limit` characters, saying how much was left out.
pub fn cap(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let left_out = text[cut..].chars().count();
            format!("{}\n[… {left_out} more characters]", &text[..cut])
        }
    }
}

/// The text of a tool result's content: a string, or the text of its blocks.
pub fn result_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|block| match block_type(block) {
                "text" => str_field(block, "text").to_owned(),
                "image" => image_placeholder(block),
                other => format!("[block: {other}]"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The content of a line as readable text; see the module documentation.
pub fn render_content(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(render_block)
            .filter(|rendered| !rendered.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn render_block(block: &Value) -> String {
    match block_type(block) {
        "text" => str_field(block, "text").to_owned(),
        "thinking" => format!("[thinking]\n{}", str_field(block, "thinking")),
        "redacted_thinking" => "[thinking redacted]".to_owned(),
        "tool_use" | "server_tool_use" => {
            let name = str_field(block, "name");
            let input = block.get("input").unwrap_or(&Value::Null);
            match key_input(name, input) {
                Some(key) => format!("[tool: {name}] {key}"),
                None => format!("[tool: {name}]"),
            }
        }
        "tool_result" => {
            let output = cap(
                &result_text(block.get("content").unwrap_or(&Value::Null)),
                RESULT_CHARS_IN_MESSAGE,
            );
            let label = if block.get("is_error").and_then(Value::as_bool) == Some(true) {
                "tool error"
            } else {
                "tool result"
            };
            if output.is_empty() {
                format!("[{label}]")
            } else {
                format!("[{label}]\n{output}")
            }
        }
        "image" => image_placeholder(block),
        "document" => format!("[document: {}]", media_type(block)),
        other => format!("[block: {other}]"),
    }
}

/// The input that tells what a tool call did: the command, the file, the pattern, the URL.
pub fn key_input(tool: &str, input: &Value) -> Option<String> {
    let field = |name: &str| {
        input
            .get(name)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    let text = match tool {
        "Bash" | "BashOutput" => field("command").map(str::to_owned),
        "Read" | "Write" | "Edit" | "MultiEdit" => field("file_path").map(str::to_owned),
        "NotebookEdit" | "NotebookRead" => field("notebook_path")
            .or(field("file_path"))
            .map(str::to_owned),
        "Grep" => field("pattern").map(|pattern| match field("path") {
            Some(path) => format!("{pattern} in {path}"),
            None => pattern.to_owned(),
        }),
        "Glob" => field("pattern").map(str::to_owned),
        "LS" => field("path").map(str::to_owned),
        "Task" | "Agent" => field("description").or(field("prompt")).map(str::to_owned),
        "WebFetch" => field("url").map(str::to_owned),
        "WebSearch" => field("query").map(str::to_owned),
        "TodoWrite" => input.get("todos").and_then(Value::as_array).map(|todos| {
            todos
                .iter()
                .filter_map(|todo| todo.get("content").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("; ")
        }),
        _ => None,
    };
    text.filter(|text| !text.is_empty())
        .or_else(|| match input {
            Value::Object(object) if object.is_empty() => None,
            Value::Null => None,
            other => Some(cap(&other.to_string(), INPUT_CHARS)),
        })
}

fn block_type(block: &Value) -> &str {
    block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
}

fn str_field<'a>(value: &'a Value, name: &str) -> &'a str {
    value.get(name).and_then(Value::as_str).unwrap_or("")
}

fn media_type(block: &Value) -> &str {
    block
        .get("source")
        .and_then(|source| source.get("media_type"))
        .and_then(Value::as_str)
        .unwrap_or("unknown")
}

fn image_placeholder(block: &Value) -> String {
    format!("[image: {}]", media_type(block))
}

/// A JSON object of the fields of `source` worth keeping, under the same names.
pub fn pick(source: &Value, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|&name| {
            source
                .get(name)
                .filter(|v| !v.is_null())
                .map(|value| (name.to_owned(), value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_every_kind_of_block() {
        let content = json!([
            {"type": "thinking", "thinking": "Let me check", "signature": "x"},
            {"type": "text", "text": "Running the tests."},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "cargo test", "description": "run"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            {"type": "mystery"}
        ]);
        assert_eq!(
            render_content(&content),
            "[thinking]\nLet me check\n\nRunning the tests.\n\n[tool: Bash] cargo test\n\n[image: image/png]\n\n[block: mystery]"
        );
    }

    #[test]
    fn renders_results_and_errors() {
        let ok = json!([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "3 passed"}]}]);
        assert_eq!(render_content(&ok), "[tool result]\n3 passed");
        let failed = json!([{"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": true}]);
        assert_eq!(render_content(&failed), "[tool error]\nboom");
    }

    #[test]
    fn key_inputs_name_what_the_tool_touched() {
        assert_eq!(
            key_input("Read", &json!({"file_path": "/src/a.rs"})).as_deref(),
            Some("/src/a.rs")
        );
        assert_eq!(
            key_input("Grep", &json!({"pattern": "fn main", "path": "src"})).as_deref(),
            Some("fn main in src")
        );
        assert_eq!(
            key_input(
                "TodoWrite",
                &json!({"todos": [{"content": "a"}, {"content": "b"}]})
            )
            .as_deref(),
            Some("a; b")
        );
        assert_eq!(
            key_input("Custom", &json!({"x": 1})).as_deref(),
            Some("{\"x\":1}")
        );
        assert_eq!(key_input("Custom", &json!({})), None);
    }

    #[test]
    fn long_outputs_are_capped_with_a_note() {
        let capped = cap(&"é".repeat(30), 10);
        assert!(capped.starts_with(&"é".repeat(10)) && capped.ends_with("[… 20 more characters]"));
        assert_eq!(cap("short", 10), "short");
    }

    #[test]
    fn nul_is_replaced_everywhere() {
        let mut value = json!({"a\u{0}b": ["x\u{0}", {"k": "\u{0}"}]});
        sanitize_json(&mut value);
        assert_eq!(
            value,
            json!({"a\u{FFFD}b": ["x\u{FFFD}", {"k": "\u{FFFD}"}]})
        );
        assert_eq!(sanitize_text("a\u{0}"), "a\u{FFFD}");
    }
}
