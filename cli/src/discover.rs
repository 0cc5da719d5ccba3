//! Finding transcript files: every `*.jsonl` below the projects folder, including the
//! `<session>/subagents/` folders of newer versions, in a stable order. Links to transcript
//! files are followed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A transcript file and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptFile {
    pub path: PathBuf,
    pub bytes: u64,
}

/// All transcript files below `root`, sorted by path. Unreadable subfolders are skipped rather
/// than stopping the whole run; a missing or unreadable root is an error.
pub fn transcript_files(root: &Path) -> io::Result<Vec<TranscriptFile>> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    let mut first = true;
    while let Some(folder) = folders.pop() {
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if first => return Err(error),
            Err(_) => continue,
        };
        first = false;
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            let transcript = path.extension().is_some_and(|ext| ext == "jsonl");
            if kind.is_dir() {
                folders.push(path);
            } else if kind.is_file() && transcript {
                let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
                found.push(TranscriptFile { path, bytes });
            } else if kind.is_symlink() && transcript {
                // A linked transcript is followed (linked folders are not: they could loop); a
                // dangling link is listed so that loading it names it.
                match fs::metadata(&path) {
                    Ok(target) if target.is_file() => found.push(TranscriptFile {
                        path,
                        bytes: target.len(),
                    }),
                    Ok(_) => {}
                    Err(_) => found.push(TranscriptFile { path, bytes: 0 }),
                }
            }
        }
    }
    // As strings, so a session file comes before its own subagents folder.
    found.sort_by(|a, b| a.path.as_os_str().cmp(b.path.as_os_str()));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sessions_and_subagents_and_nothing_else() {
        let root = std::env::temp_dir().join(format!("cco-load-discover-{}", std::process::id()));
        let project = root.join("-home-dev-app");
        fs::create_dir_all(project.join("s1/subagents")).unwrap();
        fs::write(project.join("s1.jsonl"), "{}\n").unwrap();
        fs::write(project.join("s1/subagents/agent-a1.jsonl"), "").unwrap();
        fs::write(project.join("notes.txt"), "x").unwrap();
        let files = transcript_files(&root).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "-home-dev-app/s1.jsonl",
                "-home-dev-app/s1/subagents/agent-a1.jsonl"
            ]
        );
        assert_eq!(files[0].bytes, 3);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_missing_root_is_an_error() {
        assert!(transcript_files(Path::new("/nonexistent/cco/projects")).is_err());
    }
}
