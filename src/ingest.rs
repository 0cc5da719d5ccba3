//! Loading Claude Code transcripts: `cco.ingest_transcript` parses a JSONL file with
//! `cco_core::transcript` and stores it through the same tables, triggers and row level security
//! as any other client. It runs with the caller's rights: a user loads only into projects they
//! may write.
//!
//! Loading is idempotent and incremental. Lines are keyed by their uuid (messages) and tool_use id
//! (tool calls), so loading a file again inserts nothing, and loading a file that has grown
//! inserts only its new lines, links them to parents loaded before, and completes the tool calls
//! whose results arrived. Concurrent loads of the same file queue on the conversation row.

use std::collections::{HashMap, HashSet};

use cco_core::transcript::{self, paths, MessageLine, Transcript, Usage};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode, Uuid};
use serde_json::{json, Value};

use crate::errors::{raise, spi};
use crate::queries::{optional_one, Lookup};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Loads one transcript file (see the module documentation) and reports what it did:
/// `{conversation_id, project_id, messages_inserted, tool_calls_inserted, tool_results_matched,
/// lines_skipped, errors: [{line, reason}], ...}`.
#[pg_extern(volatile, parallel_unsafe)]
fn ingest_transcript(
    jsonl: Option<&str>,
    file_path: Option<&str>,
    project_path: default!(Option<&str>, "NULL"),
) -> JsonB {
    let jsonl = jsonl.unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "jsonl must not be NULL",
        )
    });
    let file_path = file_path
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "file_path must be a non-empty path",
            )
        });
    let transcript = transcript::parse(jsonl);
    JsonB(load(&transcript, file_path, project_path, jsonl.len()))
}

fn load(
    transcript: &Transcript,
    file_path: &str,
    project_path: Option<&str>,
    bytes: usize,
) -> Value {
    let mut report = Report::new(transcript, file_path);
    if transcript.messages.is_empty() && transcript.summaries.is_empty() {
        return report.into_json();
    }
    let path = project_directory(transcript, file_path, project_path);
    let project_id = find_or_create_project(&path);
    report.project_id = Some(project_id);
    store_summaries(project_id, transcript, file_path);

    let mut titled: Vec<Uuid> = summarised_conversations(project_id, transcript);
    if !transcript.messages.is_empty() {
        let conversation_id = find_or_create_conversation(project_id, file_path, transcript, bytes);
        report.conversation_id = Some(conversation_id);
        let conversation = ConversationLoad::new(project_id, conversation_id, transcript);
        report.messages_inserted = conversation.insert_messages();
        conversation.link_orphans();
        report.tool_calls_inserted = conversation.insert_tool_calls();
        titled.push(conversation_id);
        if report.messages_inserted > 0 {
            advance_project_activity(project_id);
        }
    }
    if !transcript.tool_results.is_empty() {
        report.tool_results_matched = complete_tool_calls(project_id, transcript);
    }
    apply_titles(&titled);
    report.into_json()
}

/// What a load did, returned to the caller as JSON.
struct Report<'a> {
    transcript: &'a Transcript,
    file_path: &'a str,
    project_id: Option<Uuid>,
    conversation_id: Option<Uuid>,
    messages_inserted: usize,
    tool_calls_inserted: usize,
    tool_results_matched: usize,
}

impl<'a> Report<'a> {
    fn new(transcript: &'a Transcript, file_path: &'a str) -> Report<'a> {
        Report {
            transcript,
            file_path,
            project_id: None,
            conversation_id: None,
            messages_inserted: 0,
            tool_calls_inserted: 0,
            tool_results_matched: 0,
        }
    }

    fn into_json(self) -> Value {
        let mut notes: Vec<&transcript::LineNote> = self
            .transcript
            .skipped
            .iter()
            .chain(&self.transcript.repaired)
            .collect();
        notes.sort_by_key(|note| note.line);
        json!({
            "file_path": self.file_path,
            "project_id": self.project_id.map(|id| id.to_string()),
            "conversation_id": self.conversation_id.map(|id| id.to_string()),
            "messages_inserted": self.messages_inserted,
            "tool_calls_inserted": self.tool_calls_inserted,
            "tool_results_matched": self.tool_results_matched,
            "summaries_read": self.transcript.summaries.len(),
            "snapshot_lines_skipped": self.transcript.snapshot_lines,
            "lines_skipped": self.transcript.skipped.len(),
            "errors": notes.iter().map(|note| json!({"line": note.line, "reason": note.reason})).collect::<Vec<_>>(),
        })
    }
}

/// The working directory the transcript belongs to: the lines' `cwd`, else the caller's
/// `project_path`, else the one the Claude Code folder name encodes.
fn project_directory(
    transcript: &Transcript,
    file_path: &str,
    project_path: Option<&str>,
) -> String {
    let given = project_path.map(str::trim).filter(|path| !path.is_empty());
    transcript
        .cwd()
        .map(str::to_owned)
        .or_else(|| given.map(str::to_owned))
        .or_else(|| paths::project_folder(file_path).map(paths::decode_project_folder))
        .unwrap_or_else(|| {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("cannot tell which project {file_path} belongs to: its lines carry no cwd and no project_path was given"),
            )
        })
}

const PROJECT_BY_PATH: Lookup = Lookup {
    // The caller's own project first, then one they may write as an editor.
    sql: "select p.id from cco.projects p
          where p.path = $1
            and (p.owner_id is not distinct from cco.current_user_id()
                 or p.id = any (cco.writable_project_ids())
                 or cco.is_service_role())
          order by (p.owner_id is not distinct from cco.current_user_id()) desc, p.created_at
          limit 1",
    arg_types: &[pgrx::pg_sys::PgOid::BuiltIn(
        pgrx::pg_sys::BuiltinOid::TEXTOID,
    )],
};

/// Finds the project for a directory among those the caller may write, or creates it with a
/// readable name that does not collide with the caller's other projects.
fn find_or_create_project(path: &str) -> Uuid {
    if let Some(id) = optional_one::<Uuid>(&PROJECT_BY_PATH, &[path.into()]) {
        return id;
    }
    let base = paths::project_name_from_path(path);
    for attempt in 1..=20 {
        let name = match attempt {
            1 => base.clone(),
            n => format!("{} ({n})", base.chars().take(240).collect::<String>()),
        };
        let created = spi(Spi::connect_mut(|client| {
            let inserted = client.update(
                "insert into cco.projects (name, path) values ($1, $2) on conflict do nothing returning id",
                None,
                &[name.as_str().into(), path.into()],
            )?;
            if inserted.is_empty() {
                Ok(None)
            } else {
                inserted.first().get_one::<Uuid>()
            }
        }));
        if let Some(id) = created {
            return id;
        }
        // Either the name is taken, or another load created this path meanwhile.
        if let Some(id) = optional_one::<Uuid>(&PROJECT_BY_PATH, &[path.into()]) {
            return id;
        }
    }
    raise(
        PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
        format!("no free project name for {path}"),
    )
}

fn find_or_create_conversation(
    project_id: Uuid,
    file_path: &str,
    transcript: &Transcript,
    bytes: usize,
) -> Uuid {
    let (session_id, mut metadata) = match paths::session_file(file_path) {
        paths::SessionFile::Subagent {
            agent_id,
            parent_session_id,
        } => (
            transcript
                .session_id()
                .map(str::to_owned)
                .or(parent_session_id.clone()),
            json!({"agent_id": agent_id, "parent_session_id": transcript.session_id().map(str::to_owned).or(parent_session_id)}),
        ),
        paths::SessionFile::Session { session_id } => (
            transcript
                .session_id()
                .map(str::to_owned)
                .or(Some(session_id)),
            json!({}),
        ),
        paths::SessionFile::Other => (transcript.session_id().map(str::to_owned), json!({})),
    };
    metadata["source"] = json!("claude-code");
    metadata["source_bytes"] = json!(bytes);
    let title = transcript.first_prompt_title();
    if title.is_some() {
        metadata["title_source"] = json!("prompt");
    }
    spi(Spi::connect_mut(|client| {
        client.update(
            "insert into cco.conversations (project_id, file_path, session_id, title, model, metadata)
             values ($1, $2, $3, left($4, 500), $5, $6::jsonb)
             on conflict (project_id, file_path) do nothing",
            None,
            &[
                project_id.into(),
                file_path.into(),
                session_id.as_deref().into(),
                title.as_deref().into(),
                transcript.main_model().into(),
                metadata.to_string().into(),
            ],
        )?;
        // Concurrent loads of the same file queue here until the first one commits.
        let locked = client.update(
            "update cco.conversations
                set metadata = metadata || jsonb_build_object('source_bytes', $3::bigint),
                    model = coalesce(model, $4)
              where project_id = $1 and file_path = $2
              returning id",
            None,
            &[project_id.into(), file_path.into(), (bytes as i64).into(), transcript.main_model().into()],
        )?;
        if locked.is_empty() {
            return Ok(None);
        }
        locked.first().get_one::<Uuid>()
    }))
    .unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("you may not write the conversation of {file_path} in this project"),
        )
    })
}

/// A stored message that carries the usage of an API response.
struct CountedRow {
    /// (message id, request id) of the API response.
    key: (String, String),
    id: Uuid,
    output_tokens: i64,
}

/// A message already stored in the conversation.
struct StoredMessage {
    id: Uuid,
}

/// Loading the messages and tool calls of one file into its conversation.
struct ConversationLoad<'a> {
    project_id: Uuid,
    conversation_id: Uuid,
    transcript: &'a Transcript,
    stored: HashMap<String, StoredMessage>,
    /// Row id of every message of the file, stored before or inserted now.
    id_of: HashMap<&'a str, Uuid>,
}

impl<'a> ConversationLoad<'a> {
    fn new(
        project_id: Uuid,
        conversation_id: Uuid,
        transcript: &'a Transcript,
    ) -> ConversationLoad<'a> {
        let stored: HashMap<String, StoredMessage> = spi(Spi::connect(|client| {
            client
                .select(
                    "select external_id, id from cco.messages
                     where conversation_id = $1 and project_id = $2 and external_id is not null",
                    None,
                    &[conversation_id.into(), project_id.into()],
                )?
                .map(|row| Ok((row.get::<String>(1)?, row.get::<Uuid>(2)?)))
                .filter_map(|row: Result<_, pgrx::spi::Error>| match row {
                    Ok((Some(external), Some(id))) => Some(Ok((external, StoredMessage { id }))),
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                })
                .collect::<Result<_, _>>()
        }));
        let mut id_of = HashMap::with_capacity(transcript.messages.len());
        for message in &transcript.messages {
            let id = stored
                .get(&message.uuid)
                .map_or_else(new_uuid, |row| row.id);
            id_of.insert(message.uuid.as_str(), id);
        }
        ConversationLoad {
            project_id,
            conversation_id,
            transcript,
            stored,
            id_of,
        }
    }

    fn is_new(&self, message: &MessageLine) -> bool {
        !self.stored.contains_key(&message.uuid)
    }

    /// Inserts the file's new messages, parents before replies, and returns how many were inserted.
    fn insert_messages(&self) -> usize {
        let counted = self.counted_usage();
        let mut rows = MessageRows::default();
        let fallback_time = self
            .transcript
            .messages
            .iter()
            .filter_map(|m| m.timestamp_micros)
            .max();
        for index in self.transcript.messages_in_parent_order() {
            let message = &self.transcript.messages[index];
            if !self.is_new(message) {
                continue;
            }
            let parent = message
                .parent_uuid
                .as_deref()
                .and_then(|parent| self.id_of.get(parent).copied());
            let usage = counted.get(&index).cloned().unwrap_or_default();
            rows.push(
                self.id_of[message.uuid.as_str()],
                message,
                parent,
                usage,
                message.timestamp_micros.or(fallback_time),
            );
        }
        if rows.ids.is_empty() {
            return 0;
        }
        // A large load goes in two statements: the first part, then the rest once the statistics
        // describe a table of that size (see cco.refresh_outgrown_statistics).
        let inserted = if rows.ids.len() > FIRST_PART_OF_LARGE_LOAD {
            let rest = rows.split_off(FIRST_PART_OF_LARGE_LOAD);
            let first = self.insert_rows(rows);
            spi(Spi::run("select cco.refresh_outgrown_statistics()"));
            first + self.insert_rows(rest)
        } else {
            self.insert_rows(rows)
        };
        self.zero_superseded_usage(&counted);
        inserted
    }

    /// Inserts rows in one statement, in the order given, and returns how many were inserted.
    fn insert_rows(&self, rows: MessageRows) -> usize {
        // A database still on a schema before 0.5.0 (the library is installed before ALTER
        // EXTENSION UPDATE runs) has no billing columns: its loads store what it can hold.
        let billing = billing_columns_exist();
        let (columns, values, arrays, names) = if billing {
            (
                ", cache_creation_1h_tokens, web_search_requests, web_fetch_requests, speed, service_tier",
                ", n.cache_write_1h, n.web_searches, n.web_fetches, n.speed, n.service_tier",
                ", $15::int[], $16::int[], $17::int[], $18::text[], $19::text[]",
                ", cache_write_1h, web_searches, web_fetches, speed, service_tier",
            )
        } else {
            ("", "", "", "")
        };
        let statement = format!(
            "insert into cco.messages (id, conversation_id, project_id, role, content, \"timestamp\",
                 token_count, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens,
                 model, parent_id, metadata, external_id{columns})
             select n.id, $1, $2, n.role, n.content, coalesce(n.written_at, now()),
                    n.input + n.output + n.cache_write + n.cache_read,
                    n.input, n.output, n.cache_write, n.cache_read,
                    n.model, n.parent_id, n.metadata::jsonb, n.external_id{values}
             from unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::int[], $8::int[],
                         $9::int[], $10::int[], $11::text[], $12::uuid[], $13::text[], $14::text[]{arrays})
                  with ordinality
                  as n(id, role, content, written_at, input, output, cache_write, cache_read,
                       model, parent_id, metadata, external_id{names}, place)
             order by n.place
             on conflict (project_id, external_id, conversation_id) do nothing"
        );
        let mut arguments: Vec<pgrx::datum::DatumWithOid> = vec![
            self.conversation_id.into(),
            self.project_id.into(),
            rows.ids.into(),
            rows.roles.into(),
            rows.contents.into(),
            rows.timestamps.into(),
            rows.input.into(),
            rows.output.into(),
            rows.cache_write.into(),
            rows.cache_read.into(),
            rows.models.into(),
            rows.parents.into(),
            rows.metadata.into(),
            rows.external_ids.into(),
        ];
        if billing {
            arguments.extend([
                rows.cache_write_1h.into(),
                rows.web_searches.into(),
                rows.web_fetches.into(),
                rows.speeds.into(),
                rows.service_tiers.into(),
            ]);
        }
        spi(Spi::connect_mut(|client| {
            client
                .update(&statement, None, &arguments)
                .map(|table| table.len())
        }))
    }

    /// Usage each new message carries. Lines of one API response repeat its usage; only the line
    /// with the most output tokens counts, across this file, earlier loads of it and every other
    /// file of the project: a subagent replays its parent's messages, a resumed or forked session
    /// copies earlier lines into a new file with a new session id, a side question replays the
    /// conversation so far.
    fn counted_usage(&self) -> HashMap<usize, Usage> {
        let in_file = self.transcript.counts_usage();
        let mut counted: HashMap<usize, Usage> = HashMap::new();
        let mut keys: Vec<String> = Vec::new();
        for (index, message) in self.transcript.messages.iter().enumerate() {
            if in_file[index] && self.is_new(message) {
                if let Some(usage) = &message.usage {
                    counted.insert(index, usage.clone());
                    if let Some((api_id, _)) = message.usage_key() {
                        keys.push(api_id.to_owned());
                    }
                }
            }
        }
        if keys.is_empty() {
            return counted;
        }
        let mut earlier_best: HashMap<(String, String), i64> = HashMap::new();
        for row in self.previously_counted(&keys) {
            let best = earlier_best.entry(row.key).or_insert(row.output_tokens);
            *best = (*best).max(row.output_tokens);
        }
        counted.retain(|&index, usage| {
            let message = &self.transcript.messages[index];
            match message
                .usage_key()
                .and_then(|(api, request)| earlier_best.get(&(api.to_owned(), request.to_owned())))
            {
                Some(&earlier_output) => usage.output_tokens > earlier_output,
                None => true,
            }
        });
        counted
    }

    /// Stored messages of this project that carry the usage of the given API responses
    /// (messages_response_idx finds them).
    fn previously_counted(&self, api_ids: &[String]) -> Vec<CountedRow> {
        spi(Spi::connect(|client| {
            client
                .select(
                    "select m.id, m.metadata->>'messageId', m.metadata->>'requestId', m.output_tokens::bigint
                     from cco.messages m
                     where m.project_id = $1
                       and m.token_count > 0
                       and m.metadata->>'messageId' = any ($2)",
                    None,
                    &[self.project_id.into(), api_ids.to_vec().into()],
                )?
                .map(|row| Ok((row.get::<Uuid>(1)?, row.get::<String>(2)?, row.get::<String>(3)?, row.get::<i64>(4)?)))
                .filter_map(|row: Result<_, pgrx::spi::Error>| match row {
                    Ok((Some(id), Some(api), Some(request), output)) => {
                        Some(Ok(CountedRow { key: (api, request), id, output_tokens: output.unwrap_or(0) }))
                    }
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                })
                .collect::<Result<_, _>>()
        }))
    }

    /// When a new line of an API response outranks the one counted before, the earlier one stops
    /// counting, so every response is counted exactly once.
    fn zero_superseded_usage(&self, counted: &HashMap<usize, Usage>) {
        let keys: Vec<String> = counted
            .keys()
            .filter_map(|&index| {
                self.transcript.messages[index]
                    .usage_key()
                    .map(|(api, _)| api.to_owned())
            })
            .collect();
        if keys.is_empty() {
            return;
        }
        let new_ids: HashSet<Uuid> = counted
            .keys()
            .map(|&index| self.id_of[self.transcript.messages[index].uuid.as_str()])
            .collect();
        let counted_keys: HashSet<(&str, &str)> = counted
            .keys()
            .filter_map(|&index| self.transcript.messages[index].usage_key())
            .collect();
        let superseded: Vec<Uuid> = self
            .previously_counted(&keys)
            .into_iter()
            .filter(|row| {
                !new_ids.contains(&row.id)
                    && counted_keys.contains(&(row.key.0.as_str(), row.key.1.as_str()))
            })
            .map(|row| row.id)
            .collect();
        if superseded.is_empty() {
            return;
        }
        let billing = if billing_columns_exist() {
            ", cache_creation_1h_tokens = 0, web_search_requests = 0, web_fetch_requests = 0, speed = null, service_tier = null"
        } else {
            ""
        };
        spi(Spi::run_with_args(
            &format!(
                "update cco.messages
                    set token_count = 0, input_tokens = 0, output_tokens = 0,
                        cache_creation_tokens = 0, cache_read_tokens = 0{billing}
                  where project_id = $1 and id = any ($2)"
            ),
            &[self.project_id.into(), superseded.into()],
        ));
    }

    /// Messages stored earlier without a parent because theirs had not arrived: link them now.
    fn link_orphans(&self) {
        spi(Spi::run_with_args(
            "update cco.messages child
                set parent_id = parent.id
               from cco.messages parent
              where child.conversation_id = $1 and child.project_id = $2
                and child.parent_id is null and child.metadata ? 'parentUuid'
                and parent.conversation_id = $1 and parent.project_id = $2
                and parent.external_id = child.metadata->>'parentUuid'
                and parent.id <> child.id
                and child.external_id <> all ($3)",
            &[
                self.conversation_id.into(),
                self.project_id.into(),
                self.transcript.unlinked.clone().into(),
            ],
        ));
    }

    /// Inserts a row per new tool_use block and returns how many were inserted.
    fn insert_tool_calls(&self) -> usize {
        let stored: HashSet<String> = spi(Spi::connect(|client| {
            client
                .select(
                    "select external_id from cco.tool_calls
                     where conversation_id = $1 and project_id = $2 and external_id is not null",
                    None,
                    &[self.conversation_id.into(), self.project_id.into()],
                )?
                .filter_map(|row| row.get::<String>(1).transpose())
                .collect::<Result<_, _>>()
        }));
        let mut seen = HashSet::new();
        let (mut ids, mut messages, mut names, mut inputs, mut started, mut external_ids) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for tool_use in &self.transcript.tool_uses {
            let name = tool_use.name.trim();
            if stored.contains(&tool_use.id)
                || name.is_empty()
                || !seen.insert(tool_use.id.as_str())
            {
                continue;
            }
            let Some(&message_id) = self.id_of.get(tool_use.message_uuid.as_str()) else {
                continue;
            };
            ids.push(new_uuid());
            messages.push(message_id);
            names.push(name.to_owned());
            inputs.push(tool_use.input.to_string());
            started.push(tool_use.timestamp_micros.and_then(timestamp));
            external_ids.push(tool_use.id.clone());
        }
        if ids.is_empty() {
            return 0;
        }
        spi(Spi::connect_mut(|client| {
            client
                .update(
                    "insert into cco.tool_calls (id, message_id, conversation_id, project_id, tool_name,
                         input_data, status, started_at, external_id)
                     select t.id, t.message_id, $1, $2, t.tool_name, t.input::jsonb, 'pending', t.started_at,
                            t.external_id
                     from unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
                          as t(id, message_id, tool_name, input, started_at, external_id)
                     on conflict (project_id, external_id, conversation_id) do nothing",
                    None,
                    &[
                        self.conversation_id.into(),
                        self.project_id.into(),
                        ids.into(),
                        messages.into(),
                        names.into(),
                        inputs.into(),
                        started.into(),
                        external_ids.into(),
                    ],
                )
                .map(|table| table.len())
        }))
    }
}

/// Completes pending tool calls of the project whose results this file holds; returns how many.
fn complete_tool_calls(project_id: Uuid, transcript: &Transcript) -> usize {
    let (mut tool_use_ids, mut outputs, mut errors, mut messages, mut times) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for result in &transcript.tool_results {
        tool_use_ids.push(result.tool_use_id.clone());
        outputs.push(result.output.to_string());
        errors.push(result.is_error);
        messages.push(result.error_message.clone());
        times.push(result.timestamp_micros.and_then(timestamp));
    }
    spi(Spi::connect_mut(|client| {
        client
            .update(
                "update cco.tool_calls t
                    set status = case when r.is_error then 'error' else 'success' end,
                        output_data = r.output::jsonb,
                        error_message = r.error_message,
                        completed_at = greatest(coalesce(r.completed_at, t.started_at), t.started_at),
                        execution_time_ms = greatest(0, round(extract(epoch from
                            (greatest(coalesce(r.completed_at, t.started_at), t.started_at) - t.started_at)) * 1000))::bigint
                   from (
                       select distinct on (tool_use_id) *
                       from unnest($2::text[], $3::text[], $4::boolean[], $5::text[], $6::timestamptz[])
                            with ordinality as r(tool_use_id, output, is_error, error_message, completed_at, place)
                       order by tool_use_id, place
                   ) r
                  where t.project_id = $1 and t.external_id = r.tool_use_id
                    and t.status in ('pending', 'running')",
                None,
                &[project_id.into(), tool_use_ids.into(), outputs.into(), errors.into(), messages.into(), times.into()],
            )
            .map(|table| table.len())
    }))
}

fn store_summaries(project_id: Uuid, transcript: &Transcript, file_path: &str) {
    if transcript.summaries.is_empty() {
        return;
    }
    let leaves: Vec<String> = transcript
        .summaries
        .iter()
        .map(|s| s.leaf_uuid.clone())
        .collect();
    let texts: Vec<String> = transcript
        .summaries
        .iter()
        .map(|s| s.text.clone())
        .collect();
    let lines: Vec<i32> = transcript
        .summaries
        .iter()
        .map(|s| i32::try_from(s.line).unwrap_or(i32::MAX))
        .collect();
    spi(Spi::run_with_args(
        "insert into cco.transcript_summaries (project_id, leaf_external_id, summary, file_path, line)
         select $1, s.leaf, left(s.summary, 10000), $2, s.line
         from unnest($3::text[], $4::text[], $5::int[]) as s(leaf, summary, line)
         on conflict do nothing",
        &[project_id.into(), file_path.into(), leaves.into(), texts.into(), lines.into()],
    ));
}

/// Conversations of the project that hold the leaves this file's summaries name.
fn summarised_conversations(project_id: Uuid, transcript: &Transcript) -> Vec<Uuid> {
    if transcript.summaries.is_empty() {
        return Vec::new();
    }
    let leaves: Vec<String> = transcript
        .summaries
        .iter()
        .map(|s| s.leaf_uuid.clone())
        .collect();
    spi(Spi::connect(|client| {
        client
            .select(
                "select distinct conversation_id from cco.messages where project_id = $1 and external_id = any ($2)",
                None,
                &[project_id.into(), leaves.into()],
            )?
            .filter_map(|row| row.get::<Uuid>(1).transpose())
            .collect::<Result<_, _>>()
    }))
}

/// Titles conversations from the summary of their most recent summarised branch, unless a user
/// gave them a title of their own.
fn apply_titles(conversations: &[Uuid]) {
    if conversations.is_empty() {
        return;
    }
    spi(Spi::run_with_args(
        "select cco.apply_summary_titles($1)",
        &[conversations.to_vec().into()],
    ));
}

/// Where the statistics triggers cannot keep the project's last activity (Citus), the load does.
/// The function is new in 0.5.0: a 0.4.0 schema not yet updated has none to call.
fn advance_project_activity(project_id: Uuid) {
    let defined = spi(Spi::get_one::<bool>(
        "select pg_catalog.to_regprocedure('cco.advance_project_activity(uuid)') is not null",
    ))
    .unwrap_or(false);
    if !defined {
        return;
    }
    spi(Spi::run_with_args(
        "select cco.advance_project_activity($1)",
        &[project_id.into()],
    ));
}

/// Whether cco.messages has the billing columns of 0.5.0 (see `ConversationLoad::insert_rows`).
fn billing_columns_exist() -> bool {
    spi(Spi::get_one::<bool>(
        "select exists (select from pg_catalog.pg_attribute
                        where attrelid = 'cco.messages'::regclass and attname = 'web_fetch_requests'
                          and not attisdropped)",
    ))
    .unwrap_or(false)
}

/// Beyond this many new messages, a load refreshes outgrown planner statistics part way.
const FIRST_PART_OF_LARGE_LOAD: usize = 2_000;

/// The arrays one INSERT of messages takes.
#[derive(Default)]
struct MessageRows {
    ids: Vec<Uuid>,
    roles: Vec<&'static str>,
    contents: Vec<String>,
    timestamps: Vec<Option<TimestampWithTimeZone>>,
    input: Vec<i32>,
    output: Vec<i32>,
    cache_write: Vec<i32>,
    cache_read: Vec<i32>,
    models: Vec<Option<String>>,
    parents: Vec<Option<Uuid>>,
    metadata: Vec<String>,
    external_ids: Vec<String>,
    cache_write_1h: Vec<i32>,
    web_searches: Vec<i32>,
    web_fetches: Vec<i32>,
    speeds: Vec<Option<String>>,
    service_tiers: Vec<Option<String>>,
}

impl MessageRows {
    fn push(
        &mut self,
        id: Uuid,
        message: &MessageLine,
        parent: Option<Uuid>,
        usage: Usage,
        micros: Option<i64>,
    ) {
        let clamp = |tokens: i64| i32::try_from(tokens).unwrap_or(i32::MAX);
        self.ids.push(id);
        self.roles.push(message.role.as_str());
        self.contents.push(message.content.clone());
        self.timestamps.push(micros.and_then(timestamp));
        self.input.push(clamp(usage.input_tokens));
        self.output.push(clamp(usage.output_tokens));
        self.cache_write
            .push(clamp(usage.cache_creation_input_tokens));
        self.cache_read.push(clamp(usage.cache_read_input_tokens));
        self.models.push(message.model.clone());
        self.parents.push(parent);
        self.metadata.push(message.metadata.to_string());
        self.external_ids.push(message.uuid.clone());
        self.cache_write_1h
            .push(clamp(usage.cache_creation_1h_input_tokens));
        self.web_searches.push(clamp(usage.web_search_requests));
        self.web_fetches.push(clamp(usage.web_fetch_requests));
        self.speeds.push(usage.speed);
        self.service_tiers.push(usage.service_tier);
    }

    /// Keeps the first `at` rows and returns the others.
    fn split_off(&mut self, at: usize) -> MessageRows {
        MessageRows {
            ids: self.ids.split_off(at),
            roles: self.roles.split_off(at),
            contents: self.contents.split_off(at),
            timestamps: self.timestamps.split_off(at),
            input: self.input.split_off(at),
            output: self.output.split_off(at),
            cache_write: self.cache_write.split_off(at),
            cache_read: self.cache_read.split_off(at),
            models: self.models.split_off(at),
            parents: self.parents.split_off(at),
            metadata: self.metadata.split_off(at),
            external_ids: self.external_ids.split_off(at),
            cache_write_1h: self.cache_write_1h.split_off(at),
            web_searches: self.web_searches.split_off(at),
            web_fetches: self.web_fetches.split_off(at),
            speeds: self.speeds.split_off(at),
            service_tiers: self.service_tiers.split_off(at),
        }
    }
}

fn timestamp(unix_micros: i64) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(unix_micros.checked_sub(POSTGRES_EPOCH_MICROS)?).ok()
}

fn new_uuid() -> Uuid {
    Uuid::from_bytes(*uuid::Uuid::new_v4().as_bytes())
}
