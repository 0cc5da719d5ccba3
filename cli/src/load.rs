//! `cco load`: loads every Claude Code transcript below a folder (default `~/.claude/projects`)
//! into a cco database. Safe to run again and again, from cron too: files already loaded at their
//! current size are skipped, and the database itself inserts only lines it does not have.

use std::collections::HashMap;
use std::path::Path;

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

/// Loads what is new in `files`, printing a line per loaded file unless `quiet`; a file that
/// fails is named on standard error and the others are loaded.
pub fn load_files(
    client: &mut Client,
    files: &[TranscriptFile],
    user_id: Option<&str>,
    quiet: bool,
) -> Outcome<Totals> {
    let loaded_sizes = loaded_sizes(client, files)?;
    let mut totals = Totals::default();
    for (index, file) in files.iter().enumerate() {
        let path = file.path.display().to_string();
        if loaded_sizes.get(&path) == Some(&file.bytes) {
            totals.unchanged += 1;
            continue;
        }
        match load_file(client, &file.path, user_id) {
            Ok(report) => {
                totals.add(&report);
                if !quiet {
                    println!(
                        "[{}/{}] {path}: +{} messages, +{} tool calls, {} results matched, {} lines skipped",
                        index + 1,
                        files.len(),
                        count(&report, "messages_inserted"),
                        count(&report, "tool_calls_inserted"),
                        count(&report, "tool_results_matched"),
                        count(&report, "lines_skipped"),
                    );
                }
            }
            Err(failure) if failure.kind == Kind::Connection => return Err(failure),
            Err(failure) => {
                totals.failed += 1;
                eprintln!("[{}/{}] {path}: {failure}", index + 1, files.len());
            }
        }
    }
    Ok(totals)
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

/// Loads one file in its own transaction and returns the database's report.
pub fn load_file(client: &mut Client, path: &Path, user_id: Option<&str>) -> Outcome<Value> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::new(Kind::Input, format!("cannot read {}: {e}", path.display())))?;
    // Transcripts are UTF-8; a damaged byte only spoils its own line, which the database skips.
    let text = String::from_utf8_lossy(&bytes);
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
    serde_json::from_str(&row.get::<_, String>(0))
        .map_err(|e| Failure::new(Kind::Database, e.to_string()))
}
