-- Updates cco 0.3.0 to 0.4.0 in place: ALTER EXTENSION cco UPDATE.
--
-- Every change to the schema files since 0.3.0 (frozen in releases/cco--0.3.0.sql) is repeated
-- here, so an updated database ends up exactly as a fresh install of 0.4.0; the client test
-- tests/client/test_upgrade.py compares the two object by object.

\echo Use "ALTER EXTENSION cco UPDATE" to load this file. \quit

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

-- The corpus figures of a search sum search lengths in double precision instead of numeric.
create or replace function cco.search_statistics(
    search_query text,
    project_ids uuid[] default null,
    conversation_ids uuid[] default null)
returns table (terms text[], document_frequencies bigint[], document_count bigint,
               average_length double precision)
language plpgsql stable security invoker parallel safe
-- One row at most: told so, the planner does not expect a thousand and cost the search that
-- joins it a thousand times too high (enough to have it compiled to machine code first).
rows 1
as $$
declare
    query_terms text[] := cco.query_terms(search_query);
    term text;
    -- A variable, not an expression over a row: the planner sees a value it can give the
    -- search index, under row level security too (a function call in the condition would
    -- have to wait until the policy filtered every row).
    term_query tsquery;
    frequencies bigint[] := '{}';
begin
    foreach term in array query_terms loop
        term_query := cco.lexeme_tsquery(term);
        frequencies := frequencies || (
            select count(*)
            from (
                select
                from cco.messages m
                where m.search_vector operator(cco.@@) term_query
                  and (search_statistics.project_ids is null or m.project_id = any (search_statistics.project_ids))
                  and (search_statistics.conversation_ids is null or m.conversation_id = any (search_statistics.conversation_ids))
                limit cco.document_frequency_cap()
            ) as capped);
    end loop;
    -- Conversations keep their message count and total search length, so the corpus the caller
    -- can see is summed over conversations rather than counted over messages.
    return query
    -- Summed as double precision: a bigint sum is a numeric one, several times slower per row,
    -- and the average needs no more than 53 bits.
    select query_terms, frequencies, coalesce(sum(c.message_count), 0)::bigint,
           coalesce(sum(c.search_length::double precision), 0) / nullif(sum(c.message_count), 0)
    from cco.conversations c
    where (search_statistics.project_ids is null or c.project_id = any (search_statistics.project_ids))
      and (search_statistics.conversation_ids is null or c.id = any (search_statistics.conversation_ids))
    having cardinality(query_terms) > 0;
end
$$;

-- Usage blocks price each response in Rust from the price list, instead of a numeric product per
-- response in SQL; the block computation reads the price list in place of taking the costs.
drop function cco.compute_usage_blocks(timestamptz[], bigint[], bigint[], bigint[], bigint[], double precision[], text[], timestamptz, interval);

CREATE FUNCTION cco."compute_usage_blocks"(
	"entry_times" timestamp with time zone[], /* Vec < Option < TimestampWithTimeZone > > */
	"input_tokens" bigint[], /* Vec < Option < i64 > > */
	"output_tokens" bigint[], /* Vec < Option < i64 > > */
	"cache_creation_tokens" bigint[], /* Vec < Option < i64 > > */
	"cache_read_tokens" bigint[], /* Vec < Option < i64 > > */
	"models" TEXT[], /* Vec < Option < String > > */
	"now" timestamp with time zone, /* TimestampWithTimeZone */
	"block_length" interval DEFAULT '5 hours' /* Interval */
) RETURNS TABLE (
	"block_start" timestamp with time zone,  /* TimestampWithTimeZone */
	"block_end" timestamp with time zone,  /* TimestampWithTimeZone */
	"first_entry" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"last_entry" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"is_active" bool,  /* bool */
	"is_gap" bool,  /* bool */
	"entries" bigint,  /* i64 */
	"input_tokens" bigint,  /* i64 */
	"output_tokens" bigint,  /* i64 */
	"cache_creation_tokens" bigint,  /* i64 */
	"cache_read_tokens" bigint,  /* i64 */
	"total_tokens" bigint,  /* i64 */
	"cost" double precision,  /* f64 */
	"models" TEXT[],  /* Vec < String > */
	"burn_tokens_per_minute" double precision,  /* Option < f64 > */
	"burn_cost_per_hour" double precision,  /* Option < f64 > */
	"projected_total_tokens" bigint,  /* Option < i64 > */
	"projected_cost" double precision,  /* Option < f64 > */
	"remaining_minutes" bigint  /* Option < i64 > */
)
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'compute_usage_blocks_wrapper';

comment on function cco.compute_usage_blocks(timestamptz[], bigint[], bigint[], bigint[], bigint[], text[], timestamptz, interval) is
    'Groups usage entries (parallel arrays) into 5-hour blocks and gaps as of a given time, pricing each by cco.model_pricing as cco.response_cost does; cco.usage_blocks calls it.';

create or replace function cco.usage_blocks(
    project_ids uuid[] default null,
    since timestamptz default null,
    block_length interval default '5 hours')
returns table (block_start timestamptz, block_end timestamptz, first_entry timestamptz,
               last_entry timestamptz, is_active boolean, is_gap boolean, entries bigint,
               input_tokens bigint, output_tokens bigint, cache_creation_tokens bigint,
               cache_read_tokens bigint, total_tokens bigint, cost double precision, models text[],
               burn_tokens_per_minute double precision, burn_cost_per_hour double precision,
               projected_total_tokens bigint, projected_cost double precision,
               remaining_minutes bigint)
language sql stable security invoker parallel safe
as $$
    select b.*
    from (
        select array_agg(m."timestamp")                 as at,
               array_agg(m.input_tokens::bigint)        as input,
               array_agg(m.output_tokens::bigint)       as output,
               array_agg(m.cache_creation_tokens::bigint) as cache_creation,
               array_agg(m.cache_read_tokens::bigint)   as cache_read,
               array_agg(m.model)                       as model
        from cco.messages m
        where m.token_count > 0
          and (usage_blocks.project_ids is null or m.project_id = any (usage_blocks.project_ids))
          and (usage_blocks.since is null or m."timestamp" >= usage_blocks.since)
    ) as usage
    -- The block computation prices each response itself (as cco.response_cost does), without
    -- a numeric product per response.
    cross join lateral cco.compute_usage_blocks(usage.at, usage.input, usage.output, usage.cache_creation,
                                                usage.cache_read, usage.model, now(),
                                                usage_blocks.block_length) as b
    where usage.at is not null
$$;

-- Dashboards price each response in the pass that counts it (cco.response_cost reads the prices
-- once per query) instead of grouping usage by model and day and pricing each group in SQL;
-- per-conversation tool statistics read tool calls in conversation order from an index.
CREATE FUNCTION cco."response_cost"(
	"model" TEXT, /* Option < & str > */
	"at" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"input_tokens" bigint, /* Option < i64 > */
	"output_tokens" bigint, /* Option < i64 > */
	"cache_creation_tokens" bigint, /* Option < i64 > */
	"cache_read_tokens" bigint /* Option < i64 > */
) RETURNS double precision /* Option < f64 > */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'response_cost_wrapper';

comment on function cco.response_cost(text, timestamptz, bigint, bigint, bigint, bigint) is
    'Cost in USD of one API response by the rule of cco.usage_cost, in double precision: reads the prices once per query and prices each model and day once, so views cost every response in the pass that counts them. NULL for a model without price.';

create index tool_calls_project_conversation_idx on cco.tool_calls (project_id, conversation_id)
    include (tool_name, status, execution_time_ms);

-- Per-conversation analytics fold each conversation's messages, and its tool calls, with one
-- Rust aggregate each instead of a dozen built-in aggregates and a distinct sort.
create type cco.message_summary as (
    messages             bigint,
    user_messages        bigint,
    assistant_messages   bigint,
    content_length_sum   bigint,
    content_length_count bigint,
    max_content_length   integer,
    first_message_at     timestamptz,
    last_message_at      timestamptz,
    active_time          interval,
    root_messages        bigint,
    depth_sum            bigint,
    depth_count          bigint,
    max_depth            integer,
    cost                 double precision
);

comment on type cco.message_summary is
    'What cco.summarize_messages returns of a group of messages: counts (all, by role, thread roots), content length and depth as exact sums, counts and maxima (so averages divide as avg does), first and last message, active time (gaps over 30 minutes left out) and the cost of the priced responses.';

create type cco.tool_call_summary as (
    calls                bigint,
    successful_calls     bigint,
    failed_calls         bigint,
    distinct_tools       bigint,
    execution_ms_sum     bigint,
    execution_ms_count   bigint
);

comment on type cco.tool_call_summary is
    'What cco.summarize_tool_calls returns of a group of tool calls: how many, how many succeeded and failed (error or timeout), distinct tools, and execution time as an exact sum and count.';

CREATE FUNCTION cco."summarize_messages_add"(
	"state" internal, /* Internal */
	"role" TEXT, /* Option < & str > */
	"content_length" INT, /* Option < i32 > */
	"at" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"starts_thread" bool, /* Option < bool > */
	"depth" INT, /* Option < i32 > */
	"model" TEXT, /* Option < & str > */
	"input_tokens" INT, /* Option < i32 > */
	"output_tokens" INT, /* Option < i32 > */
	"cache_creation_tokens" INT, /* Option < i32 > */
	"cache_read_tokens" INT, /* Option < i32 > */
	"token_count" INT /* Option < i32 > */
) RETURNS internal /* Internal */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_messages_add_wrapper';

CREATE FUNCTION cco."summarize_messages_combine"(
	"left" internal, /* Internal */
	"right" internal /* Internal */
) RETURNS internal /* Internal */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_messages_combine_wrapper';

CREATE FUNCTION cco."summarize_messages_serialize"(
	"state" internal /* Internal */
) RETURNS bytea /* Vec < u8 > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_messages_serialize_wrapper';

CREATE FUNCTION cco."summarize_messages_deserialize"(
	"bytes" bytea, /* & [u8] */
	"_unused" internal /* Internal */
) RETURNS internal /* Internal */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_messages_deserialize_wrapper';

CREATE FUNCTION cco."summarize_messages_final"(
	"state" internal /* Internal */
) RETURNS cco.message_summary /* :: pgrx :: heap_tuple :: PgHeapTuple < '_, :: pgrx :: pgbox :: AllocatedByRust
> */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_messages_final_wrapper';

CREATE FUNCTION cco."summarize_tool_calls_add"(
	"state" internal, /* Internal */
	"tool_name" TEXT, /* Option < & str > */
	"status" TEXT, /* Option < & str > */
	"execution_time_ms" bigint /* Option < i64 > */
) RETURNS internal /* Internal */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_tool_calls_add_wrapper';

CREATE FUNCTION cco."summarize_tool_calls_combine"(
	"left" internal, /* Internal */
	"right" internal /* Internal */
) RETURNS internal /* Internal */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_tool_calls_combine_wrapper';

CREATE FUNCTION cco."summarize_tool_calls_serialize"(
	"state" internal /* Internal */
) RETURNS bytea /* Vec < u8 > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_tool_calls_serialize_wrapper';

CREATE FUNCTION cco."summarize_tool_calls_deserialize"(
	"bytes" bytea, /* & [u8] */
	"_unused" internal /* Internal */
) RETURNS internal /* Internal */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_tool_calls_deserialize_wrapper';

CREATE FUNCTION cco."summarize_tool_calls_final"(
	"state" internal /* Internal */
) RETURNS cco.tool_call_summary /* :: pgrx :: heap_tuple :: PgHeapTuple < '_, :: pgrx :: pgbox :: AllocatedByRust
> */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_tool_calls_final_wrapper';

-- A conversation's messages and its tool calls, each summarized in one pass: the aggregates
-- cco.conversation_analytics would otherwise run a dozen of over the same rows.
create aggregate cco.summarize_messages(
    role text, content_length integer, "timestamp" timestamptz, starts_thread boolean,
    depth integer, model text, input_tokens integer, output_tokens integer,
    cache_creation_tokens integer, cache_read_tokens integer, token_count integer) (
    sfunc        = cco.summarize_messages_add,
    stype        = internal,
    combinefunc  = cco.summarize_messages_combine,
    serialfunc   = cco.summarize_messages_serialize,
    deserialfunc = cco.summarize_messages_deserialize,
    finalfunc    = cco.summarize_messages_final,
    parallel     = safe
);

create aggregate cco.summarize_tool_calls(tool_name text, status text, execution_time_ms bigint) (
    sfunc        = cco.summarize_tool_calls_add,
    stype        = internal,
    combinefunc  = cco.summarize_tool_calls_combine,
    serialfunc   = cco.summarize_tool_calls_serialize,
    deserialfunc = cco.summarize_tool_calls_deserialize,
    finalfunc    = cco.summarize_tool_calls_final,
    parallel     = safe
);

comment on aggregate cco.summarize_messages(text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer) is
    'A group of messages in one pass (see cco.message_summary), given each message''s role, content_length, timestamp, whether it starts a thread (parent_id is null), depth, model and tokens; responses (token_count > 0) are priced as cco.response_cost prices them. Parallel-safe.';
comment on aggregate cco.summarize_tool_calls(text, text, bigint) is
    'A group of tool calls in one pass (see cco.tool_call_summary), given each call''s tool_name, status and execution_time_ms. Parallel-safe.';

comment on function cco.summarize_messages_add(internal, text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer) is 'State function of cco.summarize_messages.';
comment on function cco.summarize_messages_combine(internal, internal) is 'Combines partial states of cco.summarize_messages (parallel aggregation).';
comment on function cco.summarize_messages_serialize(internal) is 'Serializes a cco.summarize_messages state.';
comment on function cco.summarize_messages_deserialize(bytea, internal) is 'Deserializes a cco.summarize_messages state (rejects malformed bytes).';
comment on function cco.summarize_messages_final(internal) is 'Final function of cco.summarize_messages.';
comment on function cco.summarize_tool_calls_add(internal, text, text, bigint) is 'State function of cco.summarize_tool_calls.';
comment on function cco.summarize_tool_calls_combine(internal, internal) is 'Combines partial states of cco.summarize_tool_calls (parallel aggregation).';
comment on function cco.summarize_tool_calls_serialize(internal) is 'Serializes a cco.summarize_tool_calls state.';
comment on function cco.summarize_tool_calls_deserialize(bytea, internal) is 'Deserializes a cco.summarize_tool_calls state (rejects malformed bytes).';
comment on function cco.summarize_tool_calls_final(internal) is 'Final function of cco.summarize_tool_calls.';

create or replace view cco.conversation_analytics with (security_invoker = true) as
select c.id                                    as conversation_id,
       c.project_id,
       c.title,
       c.status,
       c.message_count,
       coalesce((m.summary).user_messages, 0)      as user_messages,
       coalesce((m.summary).assistant_messages, 0) as assistant_messages,
       -- the only other role (messages_role_check)
       coalesce((m.summary).messages - (m.summary).user_messages - (m.summary).assistant_messages, 0)
                                               as system_messages,
       round((m.summary).content_length_sum::numeric / nullif((m.summary).content_length_count, 0), 1)
                                               as avg_content_length,
       (m.summary).max_content_length,
       (c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens) as total_tokens,
       round((c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens)::numeric
             / nullif(c.message_count, 0), 1)  as avg_tokens_per_message,
       c.input_tokens,
       c.output_tokens,
       c.cache_creation_tokens,
       c.cache_read_tokens,
       (m.summary).first_message_at,
       (m.summary).last_message_at,
       (m.summary).last_message_at - (m.summary).first_message_at as duration,
       round((extract(epoch from (m.summary).active_time) / 60)::numeric, 1) as active_minutes,
       coalesce((t.summary).distinct_tools, 0)     as distinct_tools,
       coalesce((t.summary).calls, 0)              as tool_calls,
       coalesce((t.summary).successful_calls, 0)   as successful_tool_calls,
       coalesce((t.summary).failed_calls, 0)       as failed_tool_calls,
       round((t.summary).execution_ms_sum::numeric / nullif((t.summary).execution_ms_count, 0), 1)
                                               as avg_tool_ms,
       coalesce((m.summary).root_messages, 0)      as root_messages,
       (m.summary).max_depth,
       round((m.summary).depth_sum::numeric / nullif((m.summary).depth_count, 0), 2) as avg_depth,
       round((m.summary).cost::numeric, 6)         as cost
from cco.conversations c
left join (
    select project_id,
           conversation_id,
           cco.summarize_messages(role, content_length, "timestamp", parent_id is null, depth, model,
                                  input_tokens, output_tokens, cache_creation_tokens,
                                  cache_read_tokens, token_count) as summary
    from cco.messages
    group by project_id, conversation_id
) m on m.project_id = c.project_id and m.conversation_id = c.id
left join (
    select project_id,
           conversation_id,
           cco.summarize_tool_calls(tool_name, status, execution_time_ms) as summary
    from cco.tool_calls
    group by project_id, conversation_id
) t on t.project_id = c.project_id and t.conversation_id = c.id;

create or replace view cco.project_analytics with (security_invoker = true) as
select p.id                                  as project_id,
       p.name,
       p.path,
       c.conversations,
       c.active_conversations,
       c.completed_conversations,
       c.messages,
       c.total_tokens,
       m.cost,
       m.active_days,
       m.active_weeks,
       m.first_message_at,
       m.last_message_at,
       t.distinct_tools,
       t.tool_calls,
       t.avg_tool_ms,
       m.messages_last_24h,
       m.messages_last_7d,
       m.messages_last_30d
from cco.projects p
cross join lateral (
    select count(*)                                         as conversations,
           count(*) filter (where status = 'active')       as active_conversations,
           count(*) filter (where status = 'completed')    as completed_conversations,
           coalesce(sum(message_count), 0)                  as messages,
           coalesce(sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0) as total_tokens
    from cco.conversations where project_id = p.id
) c
cross join lateral (
    select count(distinct date_trunc('day', q.quarter))   as active_days,
           count(distinct date_trunc('week', q.quarter))  as active_weeks,
           min(q.first_at)                                 as first_message_at,
           max(q.last_at)                                  as last_message_at,
           coalesce(sum(q.last_24h), 0)::bigint            as messages_last_24h,
           coalesce(sum(q.last_7d), 0)::bigint             as messages_last_7d,
           coalesce(sum(q.last_30d), 0)::bigint            as messages_last_30d,
           round(sum(q.cost)::numeric, 6)                  as cost
    from (
        -- One pass over messages_project_conversation_idx in quarter hours, then days: a day in
        -- the session's time zone is a costly computation per message, cheap per quarter hour.
        -- Exact for every time zone offset that is a whole number of quarter hours (all in use
        -- since the 1970s), as day boundaries then fall between quarters. The bounds of the
        -- recent windows are computed once (subqueries), not once per message.
        select date_bin('15 minutes', m."timestamp", timestamptz '2000-01-01 00:00+00') as quarter,
               min(m."timestamp")                                                           as first_at,
               max(m."timestamp")                                                           as last_at,
               count(*) filter (where m."timestamp" > (select now() - interval '24 hours')) as last_24h,
               count(*) filter (where m."timestamp" > (select now() - interval '7 days'))   as last_7d,
               count(*) filter (where m."timestamp" > (select now() - interval '30 days'))  as last_30d,
               sum(cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                     m.cache_creation_tokens, m.cache_read_tokens))
                   filter (where m.token_count > 0)                                         as cost
        from cco.messages m
        where m.project_id = p.id
        group by 1
    ) q
) m
cross join lateral (
    select count(distinct tool_name) as distinct_tools, count(*) as tool_calls,
           round(avg(execution_time_ms), 1) as avg_tool_ms
    from cco.tool_calls where project_id = p.id
) t;

-- Ranked search: the cco_rank index access method (src/search_index, cco_core::search_index)
-- answers "the best BM25 matches of this query in these projects" reading only the posting
-- blocks that can hold them, with statistics kept per project. search_messages and
-- search_conversations rank through it, and it answers plain @@ conditions too, so it replaces
-- the GIN index on messages. Building messages_rank_idx reads every message once.

create type cco.ranking as (
    terms        text[],
    frequencies  bigint[],
    documents    bigint,
    total_length bigint,
    k1           double precision,
    b            double precision
);

comment on type cco.ranking is
    'How a search ranks (BM25): its terms with the number of messages holding each, the number of messages searched and their total length, and the parameters k1 and b. Made by cco.message_ranking over what the caller may see; rows are ordered by it with search_vector <&> ranking.';

-- Message contents and search vectors are compressed with lz4 where the server has it: it
-- compresses a message in a fraction of pglz's time (about 8 of the 120 microseconds a message
-- costs to load) into about the same size, and decompresses search results faster.
do $$
begin
    alter table cco.messages alter column content set compression lz4,
                             alter column search_vector set compression lz4;
exception when feature_not_supported then
    null; -- built without lz4: the default (pglz) stays
end
$$;

create function cco.ranked_distance(search_vector tsvector, ranking cco.ranking) returns double precision
        language c immutable parallel safe cost 1000 as 'MODULE_PATHNAME', 'ranked_distance_wrapper';

CREATE  FUNCTION "in_scope"(
	"project" uuid, /* Option < Uuid > */
	"scope" uuid[] /* :: std :: option :: Option < pgrx :: Array < '_, Uuid > > */
) RETURNS bool /* bool */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'in_scope_wrapper';

create function cco.rank_index_handler(internal) returns index_am_handler
        language c strict as 'MODULE_PATHNAME', 'rank_index_handler_wrapper';

CREATE  FUNCTION "ranking_within"(
	"index" regclass, /* pgrx :: PgRelation */
	"search_query" TEXT, /* Option < & str > */
	"scope" uuid[] /* :: std :: option :: Option < Vec < Option < Uuid > > > */
) RETURNS cco.ranking /* :: pgrx :: heap_tuple :: PgHeapTuple < '_, :: pgrx :: pgbox :: AllocatedByRust
> */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ranking_within_wrapper';

CREATE  FUNCTION "optimize_rank_index"(
	"index" regclass /* pgrx :: PgRelation */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'optimize_rank_index_wrapper';

CREATE  FUNCTION "rank_index_segments"(
	"index" regclass /* pgrx :: PgRelation */
) RETURNS TABLE (
	"segment" bigint,  /* i64 */
	"documents" bigint,  /* i64 */
	"deleted" bigint,  /* i64 */
	"terms" bigint,  /* i64 */
	"inline_terms" bigint,  /* i64 */
	"postings" bigint,  /* i64 */
	"block_bytes" bigint,  /* i64 */
	"directory_bytes" bigint,  /* i64 */
	"dictionary_bytes" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rank_index_segments_wrapper';

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


drop index cco.messages_search_idx;

-- The projects a search covers: those asked for (every one when none are) that the caller may
-- read. NULL means every project, for callers who see everything and asked for no subset.
create function cco.search_scope(project_ids uuid[] default null) returns uuid[]
language plpgsql stable security invoker parallel safe
-- Pinned like every function on a search's path, so none of them is replanned for running under
-- another search_path than last time (see cco.has_full_access).
set search_path = pg_catalog, pg_temp
as $$
declare
    readable uuid[];
begin
    if cco.has_full_access() then
        return project_ids;
    end if;
    readable := cco.readable_project_ids();
    if project_ids is null then
        return readable;
    end if;
    return array(select unnest(readable) intersect select unnest(project_ids));
end
$$;

comment on function cco.search_scope(uuid[]) is
    'The projects a search of project_ids (all when NULL) covers for the caller: those the caller may read. NULL for callers with full access who asked for all.';

-- Statistics of the projects the caller may read, never others: the function that reads them
-- for any projects is the extension owner's alone, called here with the caller's scope.
create function cco.message_ranking(search_query text, project_ids uuid[] default null)
returns cco.ranking
language plpgsql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $$
begin
    return cco.ranking_within('cco.messages_rank_idx'::regclass, search_query, cco.search_scope(project_ids));
end
$$;

revoke execute on function cco.ranking_within(regclass, text, uuid[]) from public;

comment on function cco.ranking_within(regclass, text, uuid[]) is
    'The ranking of a query over the rows of some projects (all when NULL) as a cco_rank index counts them. For the extension owner: API callers use cco.message_ranking.';
comment on function cco.message_ranking(text, uuid[]) is
    'How a search of messages ranks: the query''s terms with their document frequencies, the number of messages and their total length, over the messages the caller may see (within project_ids when given). Read from the ranked search index in microseconds.';
comment on function cco.ranked_distance(tsvector, cco.ranking) is
    'Minus the BM25 score of a search vector under a ranking: what ORDER BY search_vector <&> ranking sorts by.';
comment on function cco.optimize_rank_index(regclass) is
    'Writes the pending entries of a cco_rank index out and merges its segments into one. VACUUM keeps the index in shape by itself; this is for after a bulk load.';

comment on function cco.rank_index_segments(regclass) is
    'The segments of a cco_rank index: documents, deleted documents, terms, postings and the bytes of their blocks, directories and dictionary. Reads the whole index.';

-- Rewriting and walking a whole index are maintenance for its owner, not API calls.
revoke execute on function cco.optimize_rank_index(regclass) from public;
revoke execute on function cco.rank_index_segments(regclass) from public;


create or replace function cco.search_messages(
    search_query text,
    project_ids uuid[] default null,
    conversation_ids uuid[] default null,
    message_roles text[] default null,
    limit_count integer default 50,
    offset_count integer default 0)
returns table (id uuid, conversation_id uuid, project_id uuid, role text, content text,
               "timestamp" timestamptz, token_count integer, rank real, headline text,
               project_name text, conversation_title text)
language plpgsql stable security invoker parallel safe
-- One plan for every query: the ranked index serves them all alike, and planning afresh for each
-- query's words (what PostgreSQL does while it judges a custom plan cheaper) would take longer than
-- many searches. The search_path is pinned for the reason cco.search_scope's is.
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    scope uuid[] := cco.search_scope(project_ids);
    matching tsquery := cco.to_tsquery(search_query);
    ranking cco.ranking;
begin
    perform cco.check_page(limit_count, offset_count, 1000);
    if numnode(matching) = 0 then
        return; -- nothing searchable in the query
    end if;
    ranking := cco.message_ranking(search_query, project_ids);
    -- The ranked index (messages_rank_idx) walks the best matches first and stops after the
    -- page; the projects searched are an index condition, so it reads only theirs.
    return query
    with page as materialized (
        select m.id, m.conversation_id, m.project_id, m.role, m.content, m."timestamp", m.token_count,
               m.search_vector operator(cco.<&>) ranking as distance
        from cco.messages m
        where m.search_vector operator(cco.@@) matching
          and m.project_id operator(cco.<@) scope
          and (conversation_ids is null or m.conversation_id = any (conversation_ids))
          and (message_roles is null or m.role = any (message_roles))
        order by m.search_vector operator(cco.<&>) ranking
        limit limit_count offset offset_count
    ),
    -- The page's projects and conversations, each read once (joined row by row, the small
    -- projects table is scanned again for every message, its row level security condition
    -- with it, and a conversation with several hits is looked up for each).
    page_projects as materialized (
        select p.id, p.name from cco.projects p where p.id in (select page.project_id from page)
    ),
    page_conversations as materialized (
        select c.id, c.project_id, c.title
        from cco.conversations c
        where c.id = any (array(select distinct page.conversation_id from page))
    )
    select m.id, m.conversation_id, m.project_id, m.role, m.content, m."timestamp", m.token_count,
           (0 - m.distance)::real, cco.highlight(m.content, search_query), p.name, c.title
    from page m
    join page_projects p on p.id = m.project_id
    left join page_conversations c on c.id = m.conversation_id and c.project_id = m.project_id
    order by m.distance, m."timestamp" desc, m.id;
end
$$;

create or replace function cco.search_conversations(
    search_query text,
    project_ids uuid[] default null,
    limit_count integer default 50,
    offset_count integer default 0)
returns table (id uuid, project_id uuid, title text, file_path text, message_count integer,
               created_at timestamptz, last_updated timestamptz, rank real, headline text,
               project_name text)
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
begin
    perform cco.check_page(limit_count, offset_count, 1000);
    return query
    with ranking as (
        select cco.message_ranking(search_query, project_ids) as ranking
    ),
    message_hits as (
        -- per conversation: its best message, how well it matched, and how many messages matched
        select distinct on (scored.conversation_id)
               scored.conversation_id, scored.content, scored.score,
               count(*) over (partition by scored.conversation_id) as hits
        from (
            select m.conversation_id, m.content, 0 - (m.search_vector operator(cco.<&>) k.ranking) as score
            from ranking k
            join cco.messages m on m.search_vector operator(cco.@@) cco.to_tsquery(search_query)
            where project_ids is null or m.project_id = any (project_ids)
        ) as scored
        order by scored.conversation_id, scored.score desc
    ),
    title_hits as (
        select c.id, 0 - (c.search_vector operator(cco.<&>) k.ranking) as score
        from ranking k
        join cco.conversations c on c.search_vector operator(cco.@@) cco.to_tsquery(search_query)
        where project_ids is null or c.project_id = any (project_ids)
    ),
    ranked as (
        -- A match in the title or file path counts double; many matching messages add a little.
        select c.id, c.project_id, c.title, c.file_path, c.message_count, c.created_at, c.last_updated,
               (2 * coalesce(t.score, 0) + coalesce(h.score, 0) + 0.5 * ln(1 + coalesce(h.hits, 0)))::real
                   as score,
               case when t.id is not null then cco.highlight(concat_ws(' — ', c.title, c.file_path), search_query)
                    else cco.highlight(h.content, search_query) end as headline
        from cco.conversations c
        left join title_hits t on t.id = c.id
        left join message_hits h on h.conversation_id = c.id
        where (t.id is not null or h.conversation_id is not null)
          and (project_ids is null or c.project_id = any (project_ids))
        order by score desc, c.last_updated desc nulls last, c.id
        limit limit_count offset offset_count
    )
    select r.id, r.project_id, r.title, r.file_path, r.message_count, r.created_at, r.last_updated,
           r.score, r.headline, p.name
    from ranked r
    join cco.projects p on p.id = r.project_id
    order by r.score desc, r.last_updated desc nulls last, r.id;
end
$$;

-- The membership helpers keep their plans (PL/pgSQL): searches call them for every table they read.
create or replace function cco.readable_project_ids() returns uuid[]
language plpgsql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    me uuid := cco.current_user_id();
begin
    if me is null then
        return '{}';
    end if;
    return (select coalesce(array_agg(distinct project_id), '{}')
            from (
                select p.id from cco.projects p where p.owner_id = me
                union all
                select m.project_id from cco.project_members m where m.user_id = me
            ) as mine(project_id));
end
$$;

create or replace function cco.writable_project_ids() returns uuid[]
language plpgsql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    me uuid := cco.current_user_id();
begin
    if me is null then
        return '{}';
    end if;
    return (select coalesce(array_agg(distinct project_id), '{}')
            from (
                select p.id from cco.projects p where p.owner_id = me
                union all
                select m.project_id from cco.project_members m
                where m.user_id = me and m.role in ('editor', 'owner')
            ) as mine(project_id));
end
$$;

create or replace function cco.owned_project_ids() returns uuid[]
language plpgsql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    me uuid := cco.current_user_id();
begin
    if me is null then
        return '{}';
    end if;
    return (select coalesce(array_agg(distinct project_id), '{}')
            from (
                select p.id from cco.projects p where p.owner_id = me
                union all
                select m.project_id from cco.project_members m
                where m.user_id = me and m.role = 'owner'
            ) as mine(project_id));
end
$$;

create or replace function cco.has_full_access() returns boolean
language plpgsql stable security invoker parallel safe
set search_path = pg_catalog, pg_temp
as $$
begin
    return cco.is_service_role()
        or exists (select 1 from pg_catalog.pg_roles r
                   where r.rolname = coalesce(nullif(current_setting('role'), 'none'), session_user)
                     and (r.rolsuper or r.rolbypassrls));
end
$$;

-- End of the ranked search changes.

-- cco.latency_summary over bigint, the type of execution_time_ms: its own state function skips
-- the conversion to double precision. The views that summarise execution times are created
-- again so they call it, as a fresh install's do.
create function cco.latency_summary_add(state internal, value bigint) returns internal
    immutable parallel safe
    language c as 'MODULE_PATHNAME', 'latency_summary_add_milliseconds';

create aggregate cco.latency_summary(bigint) (
    sfunc        = cco.latency_summary_add,
    stype        = internal,
    combinefunc  = cco.latency_summary_combine,
    serialfunc   = cco.latency_summary_serialize,
    deserialfunc = cco.latency_summary_deserialize,
    finalfunc    = cco.latency_summary_final,
    parallel     = safe
);

comment on aggregate cco.latency_summary(bigint) is
    'Latency summary of whole milliseconds (execution_time_ms): the same as the double precision form, a little faster per row.';
comment on function cco.latency_summary_add(internal, bigint) is 'State function of cco.latency_summary over whole milliseconds.';

create or replace view cco.tool_analytics with (security_invoker = true) as
select s.tool_name,
       s.executions,
       s.successes,
       s.failures,
       s.timeouts,
       round(100.0 * s.successes / nullif(s.successes + s.failures + s.timeouts, 0), 1) as success_rate,
       round((s.latency).mean::numeric, 1)  as avg_ms,
       round((s.latency).p50::numeric, 1)   as median_ms,
       round((s.latency).p95::numeric, 1)   as p95_ms,
       (s.latency).min                      as min_ms,
       (s.latency).max                      as max_ms,
       s.active_days,
       s.messages,
       s.conversations,
       s.projects,
       s.last_24h,
       s.last_7d,
       s.first_used,
       s.last_used
from (
    select t.tool_name,
           count(*)                                                  as executions,
           count(*) filter (where t.status = 'success')             as successes,
           count(*) filter (where t.status = 'error')               as failures,
           count(*) filter (where t.status = 'timeout')             as timeouts,
           cco.latency_summary(t.execution_time_ms)                  as latency,
           count(distinct date_trunc('day', t.started_at))           as active_days,
           count(distinct t.message_id)                              as messages,
           count(distinct t.conversation_id)                         as conversations,
           count(distinct t.project_id)                              as projects,
           count(*) filter (where t.started_at > now() - interval '24 hours') as last_24h,
           count(*) filter (where t.started_at > now() - interval '7 days')   as last_7d,
           min(t.started_at)                                         as first_used,
           max(t.started_at)                                         as last_used
    from cco.tool_calls t
    group by t.tool_name
) s;

create or replace view cco.tool_usage_daily with (security_invoker = true) as
select s.day, s.project_id, s.tool_name, s.calls, s.successes, s.failures, s.timeouts,
       round((s.latency).mean::numeric, 1) as avg_ms,
       round((s.latency).p95::numeric, 1)  as p95_ms
from (
    select date_trunc('day', t.started_at)               as day,
           t.project_id,
           t.tool_name,
           count(*)                                       as calls,
           count(*) filter (where t.status = 'success')  as successes,
           count(*) filter (where t.status = 'error')    as failures,
           count(*) filter (where t.status = 'timeout')  as timeouts,
           cco.latency_summary(t.execution_time_ms)       as latency
    from cco.tool_calls t
    where t.started_at is not null
    group by date_trunc('day', t.started_at), t.project_id, t.tool_name
) s;
