//! `cco load --watch`: follows the projects folders and loads what Claude Code writes as it
//! writes it. File events (notify: inotify on Linux) name the files that changed; they are
//! loaded a quarter of a second after the last event of a burst, only what is new. A full rescan
//! every half minute catches events the system dropped; a lost connection is opened again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{Event, EventKind, RecursiveMode, Watcher};
use postgres::Client;

use crate::connect;
use crate::discover::TranscriptFile;
use crate::failure::{Failure, Kind, Outcome};
use crate::load;

/// Quiet time after an event before its files are loaded: a streamed response is several lines
/// written within milliseconds.
const SETTLE: Duration = Duration::from_millis(250);
/// A full rescan when no event came for this long.
const RESCAN: Duration = Duration::from_secs(30);
/// Wait before connecting again after the connection was lost.
const RECONNECT: Duration = Duration::from_secs(2);

/// How to load what changed.
pub struct Target<'a> {
    pub dsn: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub quiet: bool,
}

/// Loads the folders, then follows them until the process is stopped.
pub fn watch(dirs: &[PathBuf], target: &Target) -> Outcome<()> {
    let (sender, events) = channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = sender.send(event);
    })
    .map_err(|e| Failure::new(Kind::Input, format!("cannot watch files: {e}")))?;
    // Watching first, then the first full pass: nothing written in between is missed.
    for dir in dirs {
        watcher.watch(dir, RecursiveMode::Recursive).map_err(|e| {
            Failure::new(Kind::Input, format!("cannot watch {}: {e}", dir.display()))
        })?;
    }
    let mut client = Some(connect::connect(target.dsn)?);
    load_all(&mut client, dirs, target)?;
    if !target.quiet {
        let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        println!("cco: watching {}", names.join(", "));
    }
    loop {
        let first = match events.recv_timeout(RESCAN) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                load_all(&mut client, dirs, target)?;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Failure::new(Kind::Input, "the file watcher stopped"))
            }
        };
        let mut changed = BTreeSet::new();
        collect(first, &mut changed);
        // Until the burst settles.
        let mut settle_until = Instant::now() + SETTLE;
        loop {
            match events.recv_timeout(settle_until.saturating_duration_since(Instant::now())) {
                Ok(event) => {
                    collect(event, &mut changed);
                    settle_until = Instant::now() + SETTLE;
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Failure::new(Kind::Input, "the file watcher stopped"))
                }
            }
        }
        let files: Vec<TranscriptFile> = changed
            .into_iter()
            .filter_map(|path| {
                let bytes = std::fs::metadata(&path).ok().filter(|m| m.is_file())?.len();
                Some(TranscriptFile { path, bytes })
            })
            .collect();
        load_some(&mut client, &files, target)?;
    }
}

/// The transcript files an event names: `*.jsonl` created, written or moved into place. A
/// watcher error (the system dropped events) names none; the next rescan catches up.
pub fn changed_transcripts(event: &notify::Result<Event>) -> Vec<PathBuf> {
    let Ok(event) = event else {
        return Vec::new();
    };
    if !matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any
    ) {
        return Vec::new();
    }
    event
        .paths
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .cloned()
        .collect()
}

fn collect(event: notify::Result<Event>, changed: &mut BTreeSet<PathBuf>) {
    changed.extend(changed_transcripts(&event));
    // A folder made while being watched may hold files written before its own watch was set.
    if let Ok(Event {
        kind: EventKind::Create(_),
        paths,
        ..
    }) = &event
    {
        for folder in paths.iter().filter(|path| path.is_dir()) {
            let found = crate::discover::transcript_files(folder).unwrap_or_default();
            changed.extend(found.into_iter().map(|file| file.path));
        }
    }
}

fn load_all(client: &mut Option<Client>, dirs: &[PathBuf], target: &Target) -> Outcome<()> {
    let mut files = Vec::new();
    for dir in dirs {
        files.extend(load::transcript_files(dir)?);
    }
    load_some(client, &files, target)
}

/// Loads the files on the connection, opening it again if it was lost (the files are then
/// loaded by the next event or rescan).
fn load_some(
    client: &mut Option<Client>,
    files: &[TranscriptFile],
    target: &Target,
) -> Outcome<()> {
    if files.is_empty() {
        return Ok(());
    }
    let connection = match client {
        Some(connection) => connection,
        None => match connect::connect(target.dsn) {
            Ok(connection) => client.insert(connection),
            Err(failure) => {
                eprintln!("cco: {failure}; trying again");
                std::thread::sleep(RECONNECT);
                return Ok(());
            }
        },
    };
    match load::load_files(connection, files, target.user_id, target.quiet) {
        Ok(_) => Ok(()),
        Err(failure) if failure.kind == Kind::Connection => {
            eprintln!("cco: {failure}; connecting again");
            *client = None;
            Ok(())
        }
        Err(failure) => Err(failure),
    }
}

/// Claude Code's projects folders: each folder of `CLAUDE_CONFIG_DIR` (a comma-separated list)
/// with `projects` below it, else `~/.claude/projects`.
pub fn default_projects_dirs() -> Vec<PathBuf> {
    let configured: Vec<PathBuf> = std::env::var("CLAUDE_CONFIG_DIR")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|dir| !dir.is_empty())
        .map(|dir| {
            let dir = Path::new(dir);
            if dir.ends_with("projects") {
                dir.to_path_buf()
            } else {
                dir.join("projects")
            }
        })
        .collect();
    if !configured.is_empty() {
        return configured;
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    vec![PathBuf::from(home).join(".claude/projects")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RemoveKind};

    #[test]
    fn only_transcripts_written_or_created_count() {
        let event = |kind, path: &str| Ok(Event::new(kind).add_path(PathBuf::from(path)));
        assert_eq!(
            changed_transcripts(&event(EventKind::Modify(ModifyKind::Any), "/p/a.jsonl")),
            [PathBuf::from("/p/a.jsonl")]
        );
        assert_eq!(
            changed_transcripts(&event(EventKind::Create(CreateKind::File), "/p/b.jsonl")).len(),
            1
        );
        assert!(
            changed_transcripts(&event(EventKind::Modify(ModifyKind::Any), "/p/notes.txt"))
                .is_empty()
        );
        assert!(
            changed_transcripts(&event(EventKind::Remove(RemoveKind::File), "/p/a.jsonl"))
                .is_empty()
        );
        assert!(changed_transcripts(&Err(notify::Error::generic("overflow"))).is_empty());
    }
}
