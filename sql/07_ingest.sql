-- Loading Claude Code transcripts (src/ingest.rs does the work; this file holds the SQL it
-- shares with users and the documentation of the entry point).

comment on function cco.ingest_transcript(text, text, text) is
    'Loads one Claude Code transcript (JSONL text) from file_path: creates or finds the project (from the lines'' cwd, else project_path, else the folder name) and the conversation, inserts new messages and tool calls, completes tool calls whose results arrived, counts each API response''s tokens once, and titles conversations from summaries. Idempotent and incremental; bad lines are skipped and reported. Returns {conversation_id, project_id, messages_inserted, tool_calls_inserted, tool_results_matched, lines_skipped, errors: [{line, reason}], ...}. Runs with the caller''s rights.';

-- A conversation is titled by the summary of its most recent summarised branch. Titles a user
-- set (no title_source) are left alone; titles cco derived are replaced as summaries arrive.
create function cco.apply_summary_titles(conversation_ids uuid[]) returns void
language sql volatile security invoker
as $$
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
$$;

comment on function cco.apply_summary_titles(uuid[]) is
    'Titles the given conversations from the summary of their most recent summarised branch, unless a user set their title. Called by cco.ingest_transcript.';
