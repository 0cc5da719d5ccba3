//! cco-load: loads every Claude Code transcript below a folder (default `~/.claude/projects`)
//! into a cco database. Safe to run again and again, from cron too: files already loaded at their
//! current size are skipped, and the database itself inserts only lines it does not have.

mod connect;
mod discover;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use discover::TranscriptFile;
use postgres::Client;
use serde_json::Value;

const USAGE: &str = "\
Usage: cco-load [--dir FOLDER] [--dsn CONNECTION] [--user-id UUID] [--quiet]

Loads Claude Code transcripts into a database that has the cco extension.

  --dir FOLDER      folder to load (default: ~/.claude/projects)
  --dsn CONNECTION  connection string or URL (default: the libpq environment,
                    PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE)
  --user-id UUID    load as this user: an administrator's override, honoured
                    only on a superuser's or an API login's connection (the
                    database ignores claims from any other login: each file
                    then fails saying so); a developer connects with their own login,
                    which cco.user_logins maps to their user id
  --quiet           print only the final summary (for cron)
";

struct Options {
    dir: PathBuf,
    dsn: Option<String>,
    user_id: Option<String>,
    quiet: bool,
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    let mut options = Options {
        dir: Path::new(&home).join(".claude/projects"),
        dsn: None,
        user_id: None,
        quiet: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--dir" => options.dir = PathBuf::from(value("--dir")?),
            "--dsn" => options.dsn = Some(value("--dsn")?),
            "--user-id" => options.user_id = Some(value("--user-id")?),
            "--quiet" => options.quiet = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// Totals of a run.
#[derive(Default)]
struct Totals {
    loaded: usize,
    unchanged: usize,
    failed: usize,
    messages: u64,
    tool_calls: u64,
    results: u64,
    lines_skipped: u64,
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("cco-load: {message}");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(totals) if totals.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(message) => {
            eprintln!("cco-load: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(options: &Options) -> Result<Totals, String> {
    let files = discover::transcript_files(&options.dir)
        .map_err(|e| format!("cannot read {}: {e}", options.dir.display()))?;
    let mut client = connect::connect(options.dsn.as_deref())?;
    let loaded_sizes = loaded_sizes(&mut client, &files)?;
    let mut totals = Totals::default();
    for (index, file) in files.iter().enumerate() {
        let path = file.path.display().to_string();
        if loaded_sizes.get(&path) == Some(&file.bytes) {
            totals.unchanged += 1;
            continue;
        }
        match load_file(&mut client, file, options.user_id.as_deref()) {
            Ok(report) => {
                let count = |name: &str| report.get(name).and_then(Value::as_u64).unwrap_or(0);
                totals.loaded += 1;
                totals.messages += count("messages_inserted");
                totals.tool_calls += count("tool_calls_inserted");
                totals.results += count("tool_results_matched");
                totals.lines_skipped += count("lines_skipped");
                if !options.quiet {
                    println!(
                        "[{}/{}] {path}: +{} messages, +{} tool calls, {} results matched, {} lines skipped",
                        index + 1,
                        files.len(),
                        count("messages_inserted"),
                        count("tool_calls_inserted"),
                        count("tool_results_matched"),
                        count("lines_skipped"),
                    );
                }
            }
            Err(message) => {
                totals.failed += 1;
                eprintln!("[{}/{}] {path}: {message}", index + 1, files.len());
            }
        }
    }
    println!(
        "cco-load: {} files ({} loaded, {} unchanged, {} failed): +{} messages, +{} tool calls, {} results matched, {} lines skipped",
        files.len(), totals.loaded, totals.unchanged, totals.failed, totals.messages, totals.tool_calls, totals.results,
        totals.lines_skipped
    );
    Ok(totals)
}

/// Sizes the database recorded for files it already loaded (conversations keep the byte length
/// of the content they were loaded from).
fn loaded_sizes(
    client: &mut Client,
    files: &[TranscriptFile],
) -> Result<HashMap<String, u64>, String> {
    let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    let rows = client
        .query(
            "select file_path, (metadata->>'source_bytes')::bigint from cco.conversations
             where file_path = any ($1) and metadata ? 'source_bytes'",
            &[&paths],
        )
        .map_err(|e| {
            format!("cannot read what was loaded before (is the cco extension installed?): {e}")
        })?;
    Ok(rows
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1).max(0) as u64))
        .collect())
}

/// Loads one file in its own transaction and returns the database's report.
fn load_file(
    client: &mut Client,
    file: &TranscriptFile,
    user_id: Option<&str>,
) -> Result<Value, String> {
    let bytes = std::fs::read(&file.path).map_err(|e| format!("cannot read: {e}"))?;
    // Transcripts are UTF-8; a damaged byte only spoils its own line, which the database skips.
    let text = String::from_utf8_lossy(&bytes);
    let mut transaction = client.transaction().map_err(|e| e.to_string())?;
    if let Some(user) = user_id {
        let claims = serde_json::json!({"sub": user, "role": "authenticated"}).to_string();
        transaction
            .execute(
                "select set_config('request.jwt.claims', $1, true)",
                &[&claims],
            )
            .map_err(|e| e.to_string())?;
        let acting: Option<String> = transaction
            .query_one("select cco.current_user_id()::text", &[])
            .map_err(|e| e.to_string())?
            .get(0);
        if acting != Some(user.trim().to_ascii_lowercase()) {
            return Err(format!(
                "--user-id is ignored on this connection (its login is neither a superuser nor an API login): \
                 the database identifies it as {}; connect with that user's own login instead",
                acting.as_deref().unwrap_or("nobody")
            ));
        }
    }
    let path = file.path.display().to_string();
    let row = transaction
        .query_one(
            "select cco.ingest_transcript($1, $2)::text",
            &[&text.as_ref(), &path],
        )
        .map_err(|e| {
            e.as_db_error()
                .map_or_else(|| e.to_string(), |db| db.message().to_owned())
        })?;
    transaction.commit().map_err(|e| e.to_string())?;
    serde_json::from_str(&row.get::<_, String>(0)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        parse_options(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn options_are_read() {
        let options = parse(&[
            "--dir",
            "/t",
            "--quiet",
            "--user-id",
            "u",
            "--dsn",
            "host=x",
        ])
        .unwrap();
        assert_eq!(options.dir, PathBuf::from("/t"));
        assert!(options.quiet);
        assert_eq!(options.user_id.as_deref(), Some("u"));
        assert_eq!(options.dsn.as_deref(), Some("host=x"));
        assert!(parse(&["--dir"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&[]).unwrap().dir.ends_with(".claude/projects"));
    }
}
