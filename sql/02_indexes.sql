-- Indexes, each named after the query it serves. Primary and unique keys (01_tables.sql) already
-- cover: lookups by id alone (keys lead with id), a conversation by (project, file path) for the
-- transcript loader, a message or tool call by (project, external id) for incremental loads and
-- cross-file references, members of a project, projects of an owner.

-- Who may see what: the security helpers list a user's projects through their memberships.
create index project_members_user_idx on cco.project_members (user_id);

-- A project's conversations, most recently active first (project pages, dashboards).
create index conversations_project_recent_idx
    on cco.conversations (project_id, last_updated desc nulls last);

-- Subagent conversations are linked to their parent session through metadata; the loader and
-- analytics look them up by containment (metadata @> '{"parent_session_id": ...}').
create index conversations_metadata_idx on cco.conversations using gin (metadata jsonb_path_ops);

-- A conversation's messages in time order: the conversation view, statistics recounts (max
-- timestamp after deletes) and the cascade when a conversation is deleted.
create index messages_conversation_time_idx
    on cco.messages (conversation_id, "timestamp", id);

-- A project's messages by conversation and time, with every column the analytics views read:
-- per-project and per-conversation analytics answer from this index alone, in conversation
-- order, without visiting the wide message rows.
create index messages_project_conversation_idx
    on cco.messages (project_id, conversation_id, "timestamp")
    include (role, model, token_count, input_tokens, output_tokens, cache_creation_tokens,
             cache_read_tokens, content_length, depth, parent_id, cache_creation_1h_tokens,
             web_search_requests, web_fetch_requests, speed, service_tier);

-- API responses by time: the active usage block (cco.usage_blocks over the last hours, as
-- `cco statusline` asks for it on every prompt) and today's cost read the recent responses
-- without scanning the older ones.
create index messages_usage_time_idx
    on cco.messages ("timestamp")
    where token_count > 0;

-- The message carrying each API response's usage, by response id within a project: a load
-- finds whether another file of the project (a subagent, a resumed session) counted it already.
create index messages_response_idx
    on cco.messages (project_id, (metadata->>'messageId'))
    where token_count > 0;

-- Replies of a message: thread traversal, and the ON DELETE SET NULL action when a parent is
-- deleted (without it every deleted message would scan the table for its children).
create index messages_parent_idx on cco.messages (parent_id) where parent_id is not null;

-- Search and row level security. When row level security applies, PostgreSQL uses an index only
-- for conditions whose function is LEAKPROOF (one that raised errors depending on the data could
-- reveal rows the caller cannot see). The built-in tsvector @@ tsquery (ts_match_vq) is not
-- marked so, and every user's search would read the whole table. cco matches with its own
-- operator cco.@@: the same built-in C function, declared LEAKPROOF because it only compares
-- lexemes and positions and raises no error that depends on the data. Its GIN operator class
-- uses PostgreSQL's own tsvector support functions, so the index is an ordinary tsvector index.
-- (In ad-hoc SQL, write operator(cco.@@), or put cco before pg_catalog in search_path.)
-- Its cost is what a match costs when done row by row: a stored search vector is mostly
-- compressed out of line and must be read back first. At the built-in cost of 1 the planner
-- counts a common term's messages by reading the table in order until it has enough (seconds
-- on a large corpus) instead of through the index.
create function cco.tsvector_matches(tsvector, tsquery) returns boolean
    language internal immutable strict parallel safe leakproof cost 100
    as 'ts_match_vq';

comment on function cco.tsvector_matches(tsvector, tsquery) is
    'tsvector @@ tsquery, declared LEAKPROOF so that searches under row level security can use the GIN index.';

create operator cco.@@ (
    leftarg = tsvector,
    rightarg = tsquery,
    function = cco.tsvector_matches,
    restrict = tsmatchsel,
    join = tsmatchjoinsel
);

comment on operator cco.@@ (tsvector, tsquery) is
    'Full-text match usable with indexes under row level security (see cco.tsvector_matches).';

create operator class cco.tsvector_search_ops for type tsvector using gin as
    operator 1 cco.@@ (tsvector, tsquery),
    function 1 gin_cmp_tslexeme(text, text),
    function 2 gin_extract_tsvector(tsvector, internal, internal),
    function 3 gin_extract_tsquery(tsvector, internal, smallint, internal, internal, internal, internal),
    function 4 gin_tsquery_consistent(internal, smallint, tsvector, integer, internal, internal, internal, internal),
    function 5 gin_cmp_prefix(text, text, smallint, internal),
    function 6 gin_tsquery_triconsistent(internal, smallint, tsvector, integer, internal, internal, internal),
    storage text;

-- The ranked search index (src/search_index, cco_core::search_index): an inverted index whose
-- posting lists carry term frequencies, document lengths and per-block score bounds, kept per
-- project. It answers "the best BM25 matches of this query in these projects" reading only the
-- blocks that can hold them, where GIN can only list every match to be ranked afterwards.
-- Access methods have no schema; the cco_ prefix says whose it is.
create access method cco_rank type index handler cco.rank_index_handler;

comment on function cco.rank_index_handler(internal) is
    'Handler of the cco_rank index access method.';

comment on access method cco_rank is
    'Ranked search index of cco: top-k BM25 matches of a tsquery with block-max pruning, per project.';

-- Orders rows by relevance: the negated BM25 score, so that the best match sorts first as
-- distances do. The index computes it for the rows it returns; other plans call the function.
create operator cco.<&> (
    leftarg = tsvector,
    rightarg = cco.ranking,
    function = cco.ranked_distance
);

comment on operator cco.<&> (tsvector, cco.ranking) is
    'Relevance as a distance: minus the BM25 score of a search vector under a ranking (ORDER BY search_vector <&> ranking puts the best first).';

create operator class cco.tsvector_rank_ops default for type tsvector using cco_rank as
    operator 1 cco.@@ (tsvector, tsquery),
    operator 2 pg_catalog.@@ (tsvector, tsquery),
    operator 3 cco.<&> (tsvector, cco.ranking) for order by pg_catalog.float_ops;

-- A project within a search scope, every project when the scope is NULL: one condition that
-- serves callers who see everything and callers limited to their projects. LEAKPROOF (it
-- raises nothing) so that it can be an index condition under row level security.
alter function cco.in_scope(uuid, uuid[]) leakproof;

comment on function cco.in_scope(uuid, uuid[]) is
    'True when the project is one of scope, or scope is NULL (every project): project_id <@ scope.';

create operator cco.<@ (
    leftarg = uuid,
    rightarg = uuid[],
    function = cco.in_scope
);

comment on operator cco.<@ (uuid, uuid[]) is
    'A project within a search scope (NULL: every project).';

create operator class cco.uuid_rank_ops default for type uuid using cco_rank as
    operator 1 pg_catalog.= (uuid, uuid),
    operator 2 cco.<@ (uuid, uuid[]);

-- Searches of messages: matches of a query, best first, within the projects searched. It also
-- answers plain @@ conditions (which messages match, unranked), so messages need no GIN index:
-- every insert maintains one search index, not two.
create index messages_rank_idx on cco.messages using cco_rank (project_id, search_vector);

-- Conversations by title and file path, projects by name, path and description: ranked indexes
-- too, not GIN, because a cco_rank scan confines a caller under row level security to their own
-- projects (src/search_index/scan.rs) where GIN would fetch every tenant's matching rows for the
-- policy to filter out (and EXPLAIN ANALYZE to count).
create index conversations_search_idx on cco.conversations using cco_rank (project_id, search_vector);
create index projects_search_idx on cco.projects using cco_rank (id, search_vector);

-- Tool calls of a message: the cascade when a message is deleted, and message detail views.
create index tool_calls_message_idx on cco.tool_calls (message_id);

-- Tool calls of a conversation (conversation view, per-conversation tool statistics).
create index tool_calls_conversation_idx on cco.tool_calls (conversation_id);

-- Usage of one tool over time (tool analytics, cco.search_tool_usage by name).
create index tool_calls_tool_time_idx on cco.tool_calls (tool_name, started_at desc);

-- A project's recent tool calls (search_tool_usage by project), with what the per-project tool
-- analytics read, so cco.tool_usage_daily and project_analytics answer from the index alone.
create index tool_calls_project_time_idx on cco.tool_calls (project_id, started_at desc)
    include (conversation_id, tool_name, status, execution_time_ms);

-- A project's tool calls in conversation order, with what per-conversation analytics read:
-- cco.conversation_analytics groups them by conversation from this index without sorting.
create index tool_calls_project_conversation_idx on cco.tool_calls (project_id, conversation_id)
    include (tool_name, status, execution_time_ms);

-- Failures are few and looked at often: a small partial index answers "recent failures".
create index tool_calls_failed_idx on cco.tool_calls (started_at desc)
    where status in ('error', 'timeout');

-- Slow calls (10 seconds or more) likewise. The threshold is a constant: a predicate must be
-- immutable, so "slow" cannot be relative to now() or to a percentile.
create index tool_calls_slow_idx on cco.tool_calls (execution_time_ms desc)
    where execution_time_ms >= 10000;

-- Tool inputs are queried by containment: which calls edited a file, ran a command.
create index tool_calls_input_idx on cco.tool_calls using gin (input_data jsonb_path_ops);

-- Summaries are looked up by the leaf message they title (primary key prefix covers it).

-- The audit trail of one row, and an owner's view of their project's trail.
create index audit_log_record_idx on cco.audit_log (record_id);
create index audit_log_project_idx on cco.audit_log (project_id, occurred_at);
-- Time-range scans over an append-only log: BRIN is tiny and fits insertion order.
create index audit_log_time_brin on cco.audit_log using brin (occurred_at);

-- A user's own recent searches.
create index search_history_user_time_idx on cco.search_history (user_id, "timestamp" desc);
