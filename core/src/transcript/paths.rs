//! Where transcripts live and what their names say: the project folder, the kind of session
//! file, a readable project name and a conversation title.

/// The working directory a `~/.claude/projects/<folder>` name stands for. Every character that
/// is not a letter or digit was replaced by `-`, so this is a guess (`-Users-x-my-app` gives
/// `/Users/x/my/app`); prefer the `cwd` the lines themselves carry.
pub fn decode_project_folder(folder: &str) -> String {
    let decoded = folder.replace('-', "/");
    if decoded.starts_with('/') {
        decoded
    } else {
        format!("/{decoded}")
    }
}

/// What a transcript file holds, judged by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionFile {
    /// A session: `<session id>.jsonl`.
    Session { session_id: String },
    /// A subagent's session: `agent-<id>.jsonl` (beside the session, or in
    /// `<session id>/subagents/`).
    Subagent {
        agent_id: String,
        parent_session_id: Option<String>,
    },
    /// Some other file.
    Other,
}

/// Classifies a transcript file path.
pub fn session_file(path: &str) -> SessionFile {
    let components: Vec<&str> = path.split(['/', '\\']).filter(|c| !c.is_empty()).collect();
    let Some(name) = components.last() else {
        return SessionFile::Other;
    };
    let Some(stem) = name.strip_suffix(".jsonl") else {
        return SessionFile::Other;
    };
    if let Some(agent_id) = stem.strip_prefix("agent-") {
        let parent_session_id = match components.as_slice() {
            [.., session, "subagents", _] => Some((*session).to_owned()),
            _ => None,
        };
        return SessionFile::Subagent {
            agent_id: agent_id.to_owned(),
            parent_session_id,
        };
    }
    if stem.is_empty() {
        SessionFile::Other
    } else {
        SessionFile::Session {
            session_id: stem.to_owned(),
        }
    }
}

/// The folder (project) part of a transcript path: the directory holding the session file, or
/// the one above `<session>/subagents/`.
pub fn project_folder(path: &str) -> Option<&str> {
    let trimmed = path.trim_end_matches(['/', '\\']);
    let directory = &trimmed[..trimmed.rfind(['/', '\\'])?];
    let directory = match directory.rsplit_once(['/', '\\']) {
        Some((above, "subagents")) => &above[..above.rfind(['/', '\\']).unwrap_or(0)],
        _ => directory,
    };
    let name = directory.rsplit(['/', '\\']).next()?;
    (!name.is_empty()).then_some(name)
}

/// A readable project name for a path: its last component (`/Users/x/my_app` gives `my_app`).
pub fn project_name_from_path(path: &str) -> String {
    let name = path
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("");
    if name.is_empty() {
        path.chars().take(255).collect()
    } else {
        name.chars().take(255).collect()
    }
}

/// Most characters of a title made from a prompt.
pub const TITLE_CHARS: usize = 120;

/// A prompt shortened to a title: the first line, at most `TITLE_CHARS` characters, cut at a word
/// boundary with an ellipsis.
pub fn title_from_prompt(prompt: &str) -> String {
    let line = prompt
        .trim()
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.chars().count() <= TITLE_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(TITLE_CHARS - 1).collect();
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(space) if space > TITLE_CHARS / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", at_word.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_decode_to_paths() {
        assert_eq!(
            decode_project_folder("-Users-user-project"),
            "/Users/user/project"
        );
        assert_eq!(decode_project_folder("-Users-x-my-app"), "/Users/x/my/app");
    }

    #[test]
    fn file_kinds_are_recognised() {
        assert_eq!(
            session_file("/h/.claude/projects/-p/b3edadab-bca0.jsonl"),
            SessionFile::Session {
                session_id: "b3edadab-bca0".into()
            }
        );
        assert_eq!(
            session_file("/h/.claude/projects/-p/agent-a434715.jsonl"),
            SessionFile::Subagent {
                agent_id: "a434715".into(),
                parent_session_id: None
            }
        );
        assert_eq!(
            session_file("-p/b3ed/subagents/agent-a1.jsonl"),
            SessionFile::Subagent {
                agent_id: "a1".into(),
                parent_session_id: Some("b3ed".into())
            }
        );
        assert_eq!(session_file("notes.txt"), SessionFile::Other);
    }

    #[test]
    fn the_project_folder_is_found_for_both_layouts() {
        assert_eq!(
            project_folder("/h/.claude/projects/-Users-x-app/s1.jsonl"),
            Some("-Users-x-app")
        );
        assert_eq!(
            project_folder("/h/.claude/projects/-Users-x-app/s1/subagents/agent-a.jsonl"),
            Some("-Users-x-app")
        );
        assert_eq!(project_folder("s1.jsonl"), None);
    }

    #[test]
    fn names_and_titles_are_readable() {
        assert_eq!(project_name_from_path("/Users/x/my_app/"), "my_app");
        assert_eq!(
            title_from_prompt("  Fix the login bug\nmore details"),
            "Fix the login bug"
        );
        let long = "word ".repeat(60);
        let title = title_from_prompt(&long);
        assert!(title.chars().count() <= TITLE_CHARS && title.ends_with("word…"));
    }
}
