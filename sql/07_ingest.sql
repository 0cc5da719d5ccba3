-- Loading Claude Code transcripts (src/ingest.rs does the work; this file holds the SQL it
-- shares with users and the documentation of the entry point).

comment on function cco.ingest_transcript(text, text, text) is
    'Loads one Claude Code transcript (JSONL text) from file_path: creates or finds the project (from the lines'' cwd, else project_path, else the folder name) and the conversation, inserts new messages and tool calls, completes tool calls whose results arrived, counts each API response''s tokens once, and titles conversations from summaries. Idempotent and incremental; bad lines are skipped and reported. Returns {conversation_id, project_id, messages_inserted, tool_calls_inserted, tool_results_matched, lines_skipped, errors: [{line, reason}], ...}. Runs with the caller''s rights.';

-- A conversation is titled by the summary of its most recent summarised branch. Titles a user
-- set (no title_source) are left alone; titles cco derived are replaced as summaries arrive.
-- PL/pgSQL: Citus cannot plan a SQL function's parameterised statements on distributed tables.
create function cco.apply_summary_titles(conversation_ids uuid[]) returns void
language plpgsql volatile security invoker
as $$
begin
    update cco.conversations c
    set title = left(s.summary, 500),
        metadata = c.metadata || '{"title_source": "summary"}'
    from (
        select distinct on (m.conversation_id) m.conversation_id, ts.summary
        from cco.transcript_summaries ts
        join cco.messages m on m.project_id = ts.project_id and m.external_id = ts.leaf_external_id
        where m.conversation_id = any (conversation_ids)
        order by m.conversation_id, m."timestamp" desc, ts.created_at desc, ts.line desc
    ) as s
    where c.id = s.conversation_id
      and (c.title is null or c.metadata->>'title_source' in ('prompt', 'summary'))
      and c.title is distinct from left(s.summary, 500);
end
$$;

comment on function cco.apply_summary_titles(uuid[]) is
    'Titles the given conversations from the summary of their most recent summarised branch, unless a user set their title. Called by cco.ingest_transcript.';

-- Postgres plans the per-row checks of foreign keys once per session and keeps the plan until the
-- table's statistics change. Planned while cco.messages was small or never analyzed, the check
-- of a message's parent can read every message of the project instead of one index entry (the
-- project's indexes and the primary key cost the same when nothing is known), and a load of a
-- hundred thousand messages in one statement then takes minutes instead of seconds. Autovacuum
-- refreshes the statistics only after the load commits, so ingest does it itself, once the first
-- part of a large load is in: the fresh statistics invalidate the stale plans. A no-op unless a
-- table's pages outgrew what its statistics describe, so calling it costs nothing otherwise.
create function cco.refresh_outgrown_statistics() returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    outgrown text;
begin
    select string_agg(c.oid::regclass::text, ', ')
    into outgrown
    from pg_class c
    where c.oid in ('cco.messages'::regclass, 'cco.conversations'::regclass, 'cco.tool_calls'::regclass)
      and (c.reltuples < 0
           or pg_relation_size(c.oid) / current_setting('block_size')::bigint > 2 * c.relpages + 8);
    if outgrown is not null then
        execute 'analyze ' || outgrown;
    end if;
end
$$;

comment on function cco.refresh_outgrown_statistics() is
    'Analyzes cco.messages, cco.conversations and cco.tool_calls when they were never analyzed or have more than doubled since, so the plans of foreign-key checks fit the data during a large load. Called by cco.ingest_transcript.';
