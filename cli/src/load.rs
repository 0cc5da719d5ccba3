//! `cco load`: loads every Claude Code transcript below a folder (default `~/.claude/projects`)
//! into a cco database. Safe to run again and again, from cron too: files already loaded at their
//! current size are skipped, and the database itself inserts only lines it does not have.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use postgres::Client;
use serde_json::Value;

use crate::discover::{self, TranscriptFile};
use crate::failure::{Failure, Kind, Outcome};

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Totals {
    pub loaded: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub messages: u64,
    pub tool_calls: u64,
    pub results: u64,
    pub lines_skipped: u64,
}

impl Totals {
    fn add(&mut self, report: &Value) {
        self.loaded += 1;
        self.messages += count(report, "messages_inserted");
        self.tool_calls += count(report, "tool_calls_inserted");
        self.results += count(report, "tool_results_matched");
        self.lines_skipped += count(report, "lines_skipped");
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} files ({} loaded, {} unchanged, {} failed): +{} messages, +{} tool calls, {} results matched, {} lines skipped",
            self.loaded + self.unchanged + self.failed,
            self.loaded,
            self.unchanged,
            self.failed,
            self.messages,
            self.tool_calls,
            self.results,
            self.lines_skipped
        )
    }
}

fn count(report: &Value, name: &str) -> u64 {
    report.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// The transcript files below `dir`, or why they cannot be listed.
pub fn transcript_files(dir: &Path) -> Outcome<Vec<TranscriptFile>> {
    discover::transcript_files(dir)
        .map_err(|e| Failure::new(Kind::Input, format!("cannot read {}: {e}", dir.display())))
}

/// Loads what is new in `files`, saying so per file unless `quiet` (on a terminal, with a
/// progress bar: files, lines per second, time left); a file that fails is named on standard
/// error and the others are loaded.
pub fn load_files(
    client: &mut Client,
    files: &[TranscriptFile],
    user_id: Option<&str>,
    quiet: bool,
) -> Outcome<Totals> {
    let loaded_sizes = loaded_sizes(client, files)?;
    let pending: Vec<(usize, &TranscriptFile)> = files
        .iter()
        .enumerate()
        .filter(|(_, file)| loaded_sizes.get(&file.path.display().to_string()) != Some(&file.bytes))
        .collect();
    let mut totals = Totals {
        unchanged: files.len() - pending.len(),
        ..Totals::default()
    };
    let progress = Progress::new(&pending, quiet);
    let started = Instant::now();
    let mut lines = 0_u64;
    for (done, &(index, file)) in pending.iter().enumerate() {
        let path = file.path.display().to_string();
        let position = format!("[{}/{}]", index + 1, files.len());
        match load_file(client, &file.path, user_id) {
            Ok((report, file_lines)) => {
                totals.add(&report);
                lines += file_lines;
                if !quiet {
                    progress.say(&format!(
                        "{position} {path}: +{} messages, +{} tool calls, {} results matched, {} lines skipped",
                        count(&report, "messages_inserted"),
                        count(&report, "tool_calls_inserted"),
                        count(&report, "tool_results_matched"),
                        count(&report, "lines_skipped"),
                    ));
                }
            }
            Err(failure) if failure.kind == Kind::Connection => return Err(failure),
            Err(failure) => {
                totals.failed += 1;
                progress.warn(&format!("{position} {path}: {failure}"));
            }
        }
        progress.advance(
            file.bytes,
            &rate_message(done + 1, pending.len(), lines, started.elapsed()),
        );
    }
    progress.finish();
    Ok(totals)
}

/// `12/40 files, 3,400 lines/s`.
pub fn rate_message(done: usize, total: usize, lines: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        (lines as f64 / seconds).round() as i64
    } else {
        0
    };
    format!(
        "{done}/{total} files, {} lines/s",
        crate::format::thousands(rate)
    )
}

/// Where a load says how far it is: a progress bar on a terminal, lines elsewhere.
enum Progress {
    Bar(ProgressBar),
    Lines,
}

impl Progress {
    fn new(pending: &[(usize, &TranscriptFile)], quiet: bool) -> Progress {
        if quiet || !std::io::stdout().is_terminal() {
            return Progress::Lines;
        }
        let bytes = pending.iter().map(|(_, file)| file.bytes).sum();
        let bar = ProgressBar::new(bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {binary_bytes}/{binary_total_bytes} {msg}, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress::Bar(bar)
    }

    fn say(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines => println!("{line}"),
        }
    }

    fn warn(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.suspend(|| eprintln!("{line}")),
            Progress::Lines => eprintln!("{line}"),
        }
    }

    fn advance(&self, bytes: u64, message: &str) {
        if let Progress::Bar(bar) = self {
            bar.set_message(message.to_owned());
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Sizes the database recorded for files it already loaded (conversations keep the byte length
/// of the content they were loaded from).
pub fn loaded_sizes(
    client: &mut Client,
    files: &[TranscriptFile],
) -> Outcome<HashMap<String, u64>> {
    let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    let rows = client
        .query(
            "select file_path, (metadata->>'source_bytes')::bigint from cco.conversations
             where file_path = any ($1) and metadata ? 'source_bytes'",
            &[&paths],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(rows
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1).max(0) as u64))
        .collect())
}

/// Loads one file in its own transaction and returns the database's report and the file's
/// number of lines.
pub fn load_file(client: &mut Client, path: &Path, user_id: Option<&str>) -> Outcome<(Value, u64)> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::new(Kind::Input, format!("cannot read {}: {e}", path.display())))?;
    // Transcripts are UTF-8; a damaged byte only spoils its own line, which the database skips.
    let text = String::from_utf8_lossy(&bytes);
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    let database = |e: postgres::Error| Failure::from_database(&e);
    let mut transaction = client.transaction().map_err(database)?;
    if let Some(user) = user_id {
        let claims = serde_json::json!({"sub": user, "role": "authenticated"}).to_string();
        transaction
            .execute(
                "select set_config('request.jwt.claims', $1, true)",
                &[&claims],
            )
            .map_err(database)?;
        let acting: Option<String> = transaction
            .query_one("select cco.current_user_id()::text", &[])
            .map_err(database)?
            .get(0);
        if acting != Some(user.trim().to_ascii_lowercase()) {
            return Err(Failure::new(Kind::Usage, format!(
                "--user-id is ignored on this connection (its login is neither a superuser nor an API login): \
                 the database identifies it as {}; connect with that user's own login instead",
                acting.as_deref().unwrap_or("nobody")
            )));
        }
    }
    let path = path.display().to_string();
    let row = transaction
        .query_one(
            "select cco.ingest_transcript($1, $2)::text",
            &[&text.as_ref(), &path],
        )
        .map_err(|e| {
            let mut failure = Failure::from_database(&e);
            if let Some(db) = e.as_db_error() {
                // The per-file line keeps the database's sentence alone.
                if failure.kind == Kind::Database {
                    failure.message = db.message().to_owned();
                }
            }
            failure
        })?;
    transaction.commit().map_err(database)?;
    let report = serde_json::from_str(&row.get::<_, String>(0))
        .map_err(|e| Failure::new(Kind::Database, e.to_string()))?;
    Ok((report, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_lines_per_second() {
        assert_eq!(
            rate_message(3, 40, 10_200, Duration::from_secs(3)),
            "3/40 files, 3,400 lines/s"
        );
        assert_eq!(
            rate_message(0, 1, 0, Duration::ZERO),
            "0/1 files, 0 lines/s"
        );
    }
}
