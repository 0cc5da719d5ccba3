//! `cco hook`: a Claude Code hook (Stop, SubagentStop, SessionEnd) that loads the session's
//! transcript as the session runs. Claude Code passes a JSON object on standard input with the
//! transcript's path; only what is new is loaded, as `cco load` does for a folder.

use std::path::PathBuf;

use serde_json::Value;

use crate::failure::{Failure, Kind, Outcome};

/// What a hook needs from Claude Code's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookInput {
    pub transcript_path: PathBuf,
    pub event: Option<String>,
}

impl HookInput {
    pub fn parse(text: &str) -> Outcome<HookInput> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Failure::new(
                Kind::Input,
                format!("the standard input is not Claude Code's hook JSON: {e}"),
            )
        })?;
        let path = value
            .get("transcript_path")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                Failure::new(
                    Kind::Input,
                    "the hook JSON has no transcript_path: run cco hook from a Stop, SubagentStop or SessionEnd hook",
                )
            })?;
        Ok(HookInput {
            transcript_path: expand_home(path),
            event: value
                .get("hook_event_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// Claude Code writes `~/.claude/...` in some versions.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// A hook's failure: Claude Code reads exit code 2 from a Stop hook as "do not stop" and feeds
/// the message to the model, so a hook's usage failure exits with 1 instead.
pub fn as_hook_failure(mut failure: Failure) -> Failure {
    if failure.kind == Kind::Usage {
        failure.kind = Kind::Partial;
    }
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_transcript_path() {
        let input = HookInput::parse(
            r#"{"session_id":"s","transcript_path":"/h/.claude/projects/p/s.jsonl","hook_event_name":"Stop","stop_hook_active":false}"#,
        )
        .unwrap();
        assert_eq!(
            input.transcript_path,
            PathBuf::from("/h/.claude/projects/p/s.jsonl")
        );
        assert_eq!(input.event.as_deref(), Some("Stop"));
        let missing = HookInput::parse(r#"{"session_id":"s"}"#).unwrap_err();
        assert!(missing.message.contains("no transcript_path"));
        assert_eq!(HookInput::parse("").unwrap_err().kind, Kind::Input);
    }

    #[test]
    fn a_hook_never_exits_with_2() {
        let usage = as_hook_failure(Failure::new(Kind::Usage, "x"));
        assert_eq!(usage.kind.exit_code(), 1);
        let connection = as_hook_failure(Failure::new(Kind::Connection, "x"));
        assert_eq!(connection.kind.exit_code(), 3);
    }
}
