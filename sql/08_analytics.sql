-- Analytics: how people and their assistant work. Every view runs with the caller's rights
-- (security_invoker), so row level security decides which projects' numbers a caller sees.
-- Materialized summaries bypass row level security, so users read them only through functions
-- that filter to their projects.
--
-- The aggregates are written in Rust (src/analytics.rs): one pass, parallel-safe.

----------------------------------------------------------------------------------------------
-- Aggregates

-- The state functions are written against PostgreSQL's calling convention in src/analytics.rs
-- (they are the per-row cost of the aggregate), so declared here rather than generated; the
-- double precision one keeps the symbol earlier versions use. Execution times are bigint: their
-- own state function skips the conversion to double precision and the checks a fraction needs.
create function cco.latency_summary_add(state internal, value double precision) returns internal
    immutable parallel safe
    language c as 'MODULE_PATHNAME', 'latency_summary_add_wrapper';

create function cco.latency_summary_add(state internal, value bigint) returns internal
    immutable parallel safe
    language c as 'MODULE_PATHNAME', 'latency_summary_add_milliseconds';

create aggregate cco.latency_summary(double precision) (
    sfunc        = cco.latency_summary_add,
    stype        = internal,
    combinefunc  = cco.latency_summary_combine,
    serialfunc   = cco.latency_summary_serialize,
    deserialfunc = cco.latency_summary_deserialize,
    finalfunc    = cco.latency_summary_final,
    parallel     = safe
);

create aggregate cco.latency_summary(bigint) (
    sfunc        = cco.latency_summary_add,
    stype        = internal,
    combinefunc  = cco.latency_summary_combine,
    serialfunc   = cco.latency_summary_serialize,
    deserialfunc = cco.latency_summary_deserialize,
    finalfunc    = cco.latency_summary_final,
    parallel     = safe
);

comment on aggregate cco.latency_summary(double precision) is
    'Latency summary in one pass: count, exact min/max/mean, and p50/p90/p95/p99 within 1 % of the exact value at the same rank (logarithmic bucket sketch). Parallel-safe. Usage: (cco.latency_summary(execution_time_ms)).p95';
comment on aggregate cco.latency_summary(bigint) is
    'Latency summary of whole milliseconds (execution_time_ms): the same as the double precision form, a little faster per row.';

create aggregate cco.active_time(timestamptz) (
    sfunc        = cco.active_time_add_default,
    stype        = internal,
    combinefunc  = cco.active_time_combine,
    serialfunc   = cco.active_time_serialize,
    deserialfunc = cco.active_time_deserialize,
    finalfunc    = cco.active_time_final,
    parallel     = safe
);

create aggregate cco.active_time(timestamptz, interval) (
    sfunc        = cco.active_time_add,
    stype        = internal,
    combinefunc  = cco.active_time_combine,
    serialfunc   = cco.active_time_serialize,
    deserialfunc = cco.active_time_deserialize,
    finalfunc    = cco.active_time_final,
    parallel     = safe
);

comment on aggregate cco.active_time(timestamptz) is
    'Active time of a series of message timestamps: the sum of the gaps between consecutive ones, leaving out gaps longer than 30 minutes (the night between two days of work is not work).';
comment on aggregate cco.active_time(timestamptz, interval) is
    'Active time with a chosen idle cut-off: gaps longer than it count as nothing.';

-- A conversation's messages and its tool calls, each summarized in one pass: the aggregates
-- cco.conversation_analytics would otherwise run a dozen of over the same rows.
create aggregate cco.summarize_messages(
    role text, content_length integer, "timestamp" timestamptz, starts_thread boolean,
    depth integer, model text, input_tokens integer, output_tokens integer,
    cache_creation_tokens integer, cache_read_tokens integer, token_count integer,
    cache_creation_1h_tokens integer, web_search_requests integer, web_fetch_requests integer,
    speed text, service_tier text) (
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

comment on aggregate cco.summarize_messages(text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer, integer, integer, integer, text, text) is
    'A group of messages in one pass (see cco.message_summary), given each message''s role, content_length, timestamp, whether it starts a thread (parent_id is null), depth, model, tokens and what else its response is billed for; responses (token_count > 0) are priced as cco.response_cost prices them (unpriced ones add nothing). Parallel-safe.';
comment on aggregate cco.summarize_tool_calls(text, text, bigint) is
    'A group of tool calls in one pass (see cco.tool_call_summary), given each call''s tool_name, status and execution_time_ms. Parallel-safe.';

comment on function cco.latency_summary_add(internal, double precision) is 'State function of cco.latency_summary.';
comment on function cco.latency_summary_add(internal, bigint) is 'State function of cco.latency_summary over whole milliseconds.';
comment on function cco.latency_summary_combine(internal, internal) is 'Combines partial states of cco.latency_summary (parallel aggregation).';
comment on function cco.latency_summary_serialize(internal) is 'Serializes a cco.latency_summary state.';
comment on function cco.latency_summary_deserialize(bytea, internal) is 'Deserializes a cco.latency_summary state (rejects malformed bytes).';
comment on function cco.latency_summary_final(internal) is 'Final function of cco.latency_summary.';
comment on function cco.active_time_add(internal, timestamptz, interval) is 'State function of cco.active_time with a cut-off.';
comment on function cco.active_time_add_default(internal, timestamptz) is 'State function of cco.active_time.';
comment on function cco.active_time_combine(internal, internal) is 'Combines partial states of cco.active_time (parallel aggregation).';
comment on function cco.active_time_serialize(internal) is 'Serializes a cco.active_time state.';
comment on function cco.active_time_deserialize(bytea, internal) is 'Deserializes a cco.active_time state (rejects malformed bytes).';
comment on function cco.active_time_final(internal) is 'Final function of cco.active_time.';
comment on function cco.summarize_messages_add(internal, text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer, integer, integer, integer, text, text) is 'State function of cco.summarize_messages.';
comment on function cco.summarize_messages_combine(internal, internal) is 'Combines partial states of cco.summarize_messages (parallel aggregation).';
comment on function cco.summarize_messages_serialize(internal) is 'Serializes a cco.summarize_messages state.';
comment on function cco.summarize_messages_deserialize(bytea, internal) is 'Deserializes a cco.summarize_messages state (rejects malformed bytes).';
comment on function cco.summarize_messages_final(internal) is 'Final function of cco.summarize_messages.';
comment on function cco.summarize_tool_calls_add(internal, text, text, bigint) is 'State function of cco.summarize_tool_calls.';
comment on function cco.summarize_tool_calls_combine(internal, internal) is 'Combines partial states of cco.summarize_tool_calls (parallel aggregation).';
comment on function cco.summarize_tool_calls_serialize(internal) is 'Serializes a cco.summarize_tool_calls state.';
comment on function cco.summarize_tool_calls_deserialize(bytea, internal) is 'Deserializes a cco.summarize_tool_calls state (rejects malformed bytes).';
comment on function cco.summarize_tool_calls_final(internal) is 'Final function of cco.summarize_tool_calls.';

----------------------------------------------------------------------------------------------
-- Prices and cost

-- The seeded prices are generated from LiteLLM's price data into sql/09_prices.sql.

-- An operator who edits a seeded or imported price makes it their own: it is then dumped with
-- their data and outranks seeded and imported prices.
create function cco.model_pricing_own_edits() returns trigger
language plpgsql
as $$
begin
    new.seeded := false;
    new.imported := false;
    return new;
end
$$;

comment on function cco.model_pricing_own_edits() is
    'Marks an edited seeded or imported price as the operator''s, so dumps keep the edit and it wins over the others.';

create trigger model_pricing_own_edits
    before update on cco.model_pricing
    for each row when (old.seeded or old.imported) execute function cco.model_pricing_own_edits();

-- The price rule lives in Rust (cco_core::analytics::pricing) and cco.response_cost applies it;
-- this is its exact form for one response or any sum of token counts without long-context or
-- fast-mode prices.
create function cco.usage_cost(
    model text, at timestamptz, input_tokens bigint, output_tokens bigint,
    cache_creation_tokens bigint, cache_read_tokens bigint,
    cache_creation_1h_tokens bigint default 0, web_search_requests bigint default 0,
    web_fetch_requests bigint default 0, speed text default null, service_tier text default null)
returns numeric
language sql stable parallel safe security invoker
as $$
    select round(cco.response_cost(model, at, input_tokens, output_tokens, cache_creation_tokens,
                                   cache_read_tokens, cache_creation_1h_tokens, web_search_requests,
                                   web_fetch_requests, speed, service_tier)::numeric, 6)
$$;

comment on function cco.usage_cost(text, timestamptz, bigint, bigint, bigint, bigint, bigint, bigint, bigint, text, text) is
    'Cost in USD of an API response''s usage for a model on a date, from cco.model_pricing: input, output, cache writes (cache_creation_tokens: all of them, cache_creation_1h_tokens: the 1-hour part), cache reads, web searches and fetches, speed and service tier. A price applies to the model''s own id or its id without a date suffix, never another model''s; NULL for an unpriced model, or a response its price does not cover (fast mode without a fast price, a service tier other than standard).';

comment on function cco.response_cost(text, timestamptz, bigint, bigint, bigint, bigint, bigint, bigint, bigint, text, text) is
    'Cost in USD of one API response by the rule of cco.usage_cost, in double precision: reads the prices once per query and prices each model and day once, so views cost every response in the pass that counts them. NULL when unpriced.';

comment on function cco.litellm_anthropic_prices(text) is
    'The Anthropic models of LiteLLM''s price data (model_prices_and_context_window.json) as a JSON array of rows of cco.model_pricing''s price columns (exact decimal strings); cco.import_prices stores them.';

-- Importing prices: a copy of LiteLLM's price data, read by the caller (cco never downloads
-- anything), replaces the imported prices of the same day. Operators' own rows stay and win.
create function cco.import_prices(prices jsonb, effective_from date default '-infinity')
returns integer
language plpgsql volatile security invoker
set search_path = pg_catalog, pg_temp
as $$
declare
    loaded integer;
begin
    create temporary table imported_prices on commit drop as
    select r.*
    from jsonb_to_recordset(cco.litellm_anthropic_prices(prices::text)) as r (
        model text, input_per_million numeric, output_per_million numeric,
        cache_write_per_million numeric, cache_write_1h_per_million numeric, cache_read_per_million numeric,
        long_context_above_tokens bigint, input_above_per_million numeric, output_above_per_million numeric,
        cache_write_above_per_million numeric, cache_write_1h_above_per_million numeric,
        cache_read_above_per_million numeric, web_search_per_request numeric, fast_multiplier numeric);
    -- Replaced, not updated: editing a row makes it an operator's (cco.model_pricing_own_edits).
    delete from cco.model_pricing p
    using imported_prices i
    where p.imported and p.model = i.model and p.effective_from = import_prices.effective_from;
    insert into cco.model_pricing
        (model, effective_from, input_per_million, output_per_million, cache_write_per_million,
         cache_read_per_million, cache_write_1h_per_million, long_context_above_tokens,
         input_above_per_million, output_above_per_million, cache_write_above_per_million,
         cache_write_1h_above_per_million, cache_read_above_per_million, web_search_per_request,
         fast_multiplier, imported)
    select i.model, import_prices.effective_from, i.input_per_million, i.output_per_million,
           i.cache_write_per_million, i.cache_read_per_million, i.cache_write_1h_per_million,
           i.long_context_above_tokens, i.input_above_per_million, i.output_above_per_million,
           i.cache_write_above_per_million, i.cache_write_1h_above_per_million,
           i.cache_read_above_per_million, i.web_search_per_request, i.fast_multiplier, true
    from imported_prices i;
    get diagnostics loaded = row_count;
    drop table imported_prices;
    return loaded;
end
$$;

comment on function cco.import_prices(jsonb, date) is
    'Loads every Anthropic model''s prices from a copy of LiteLLM''s price data (model_prices_and_context_window.json, as jsonb): input, output, 5-minute and 1-hour cache writes, cache reads, long-context tiers, web search and fast mode. They apply from effective_from (default: always), replace earlier imports of the same day, rank above seeded prices and below an operator''s own rows. Returns the number of models loaded. For operators.';

-- Token usage grouped by conversation, model and day, each response priced on its own (long
-- context and fast mode make cost depend on the response, not only on the sums).
create view cco.message_usage with (security_invoker = true) as
select m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp") as day,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       round(sum(m.cost)::numeric, 6)           as cost,
       sum(m.cache_creation_1h_tokens)::bigint  as cache_creation_1h_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       sum(m.web_fetch_requests)::bigint        as web_fetch_requests,
       count(*) filter (where m.cost is null)   as unpriced_responses
-- The cost of each response computed once, in a subquery rather than a lateral one: Citus runs
-- it on the shards, where it refuses a lateral subquery that calls a function.
from (
    select m.*, cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                  m.cache_creation_tokens, m.cache_read_tokens,
                                  m.cache_creation_1h_tokens, m.web_search_requests,
                                  m.web_fetch_requests, m.speed, m.service_tier) as cost
    from cco.messages m
    where m.token_count > 0
) as m
group by m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp");

comment on view cco.message_usage is
    'Token usage and cost per conversation, model and day (each API response counted once; cost sums the priced responses, unpriced_responses counts the others).';

----------------------------------------------------------------------------------------------
-- Per conversation, project and tool

-- Set-based: each part aggregates a project's rows in one pass (from covering indexes, in
-- conversation order) and is joined by conversation, rather than looked up once per
-- conversation. Each part is one Rust aggregate (cco.summarize_messages, which also prices the
-- responses, and cco.summarize_tool_calls), one call per row where a dozen built-in aggregates
-- and a sort per conversation for the distinct tools would be. A filter on project_id or
-- conversation_id reaches every part through the join conditions.
create view cco.conversation_analytics with (security_invoker = true) as
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
                                  cache_read_tokens, token_count, cache_creation_1h_tokens,
                                  web_search_requests, web_fetch_requests, speed, service_tier) as summary
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

comment on view cco.conversation_analytics is
    'Per conversation: messages by role, content length, tokens (total, per message, by kind), first and last message, duration and active minutes (gaps over 30 minutes left out), tools and their outcomes, thread shape (roots, depth) and cost.';

-- Each table is aggregated by project_id on its own, then joined to the projects: Citus plans
-- that (each aggregate runs on the shards), where it refuses one lateral subquery per project.
-- A filter on project_id reaches into every aggregate, so one project's row reads only its rows.
create view cco.project_analytics with (security_invoker = true) as
select p.id                                  as project_id,
       p.name,
       p.path,
       coalesce(c.conversations, 0)          as conversations,
       coalesce(c.active_conversations, 0)   as active_conversations,
       coalesce(c.completed_conversations, 0) as completed_conversations,
       coalesce(c.messages, 0)               as messages,
       coalesce(c.total_tokens, 0)           as total_tokens,
       m.cost,
       coalesce(m.active_days, 0)            as active_days,
       coalesce(m.active_weeks, 0)           as active_weeks,
       m.first_message_at,
       m.last_message_at,
       coalesce(t.distinct_tools, 0)         as distinct_tools,
       coalesce(t.tool_calls, 0)             as tool_calls,
       t.avg_tool_ms,
       coalesce(m.messages_last_24h, 0)      as messages_last_24h,
       coalesce(m.messages_last_7d, 0)       as messages_last_7d,
       coalesce(m.messages_last_30d, 0)      as messages_last_30d
from cco.projects p
left join (
    select project_id,
           count(*)                                         as conversations,
           count(*) filter (where status = 'active')       as active_conversations,
           count(*) filter (where status = 'completed')    as completed_conversations,
           coalesce(sum(message_count), 0)                  as messages,
           coalesce(sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0) as total_tokens
    from cco.conversations
    group by project_id
) c on c.project_id = p.id
left join (
    select q.project_id,
           count(distinct date_trunc('day', q.quarter))   as active_days,
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
        select m.project_id,
               date_bin('15 minutes', m."timestamp", timestamptz '2000-01-01 00:00+00') as quarter,
               min(m."timestamp")                                                           as first_at,
               max(m."timestamp")                                                           as last_at,
               count(*) filter (where m."timestamp" > (select now() - interval '24 hours')) as last_24h,
               count(*) filter (where m."timestamp" > (select now() - interval '7 days'))   as last_7d,
               count(*) filter (where m."timestamp" > (select now() - interval '30 days'))  as last_30d,
               sum(cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                     m.cache_creation_tokens, m.cache_read_tokens,
                                     m.cache_creation_1h_tokens, m.web_search_requests,
                                     m.web_fetch_requests, m.speed, m.service_tier))
                   filter (where m.token_count > 0)                                         as cost
        from cco.messages m
        group by m.project_id, 2
    ) q
    group by q.project_id
) m on m.project_id = p.id
left join (
    select project_id, count(distinct tool_name) as distinct_tools, count(*) as tool_calls,
           round(avg(execution_time_ms), 1) as avg_tool_ms
    from cco.tool_calls
    group by project_id
) t on t.project_id = p.id;

comment on view cco.project_analytics is
    'Per project: conversations (total, active, completed), messages, tokens, cost, active days and weeks, first and last message, tools, and messages in the last 24 hours, 7 and 30 days.';

create view cco.tool_analytics with (security_invoker = true) as
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

comment on view cco.tool_analytics is
    'Per tool: executions, successes, failures, timeouts, success rate (of finished calls), average, median, p95, min and max time (cco.latency_summary: quantiles within 1 %), active days, distinct messages, conversations and projects, use in the last 24 hours and 7 days, first and last use.';

create view cco.tool_usage_daily with (security_invoker = true) as
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

comment on view cco.tool_usage_daily is
    'Per day, project and tool: calls, successes, failures, timeouts, average and p95 time.';

create view cco.daily_activity with (security_invoker = true) as
select date_trunc('day', m."timestamp")                      as day,
       m.project_id,
       count(*)                                               as messages,
       count(*) filter (where m.role = 'user')               as user_messages,
       count(*) filter (where m.role = 'assistant')          as assistant_messages,
       count(distinct m.conversation_id)                      as conversations,
       sum(m.input_tokens + m.output_tokens + m.cache_creation_tokens + m.cache_read_tokens)::bigint
                                                              as tokens,
       round((extract(epoch from cco.active_time(m."timestamp")) / 60)::numeric, 1) as active_minutes
from cco.messages m
where m."timestamp" >= date_trunc('day', now()) - interval '89 days'
group by date_trunc('day', m."timestamp"), m.project_id;

comment on view cco.daily_activity is
    'Per day (the last 90) and project: messages by role, conversations, tokens and active minutes.';

create view cco.hourly_activity with (security_invoker = true) as
select extract(isodow from m."timestamp")::integer   as day_of_week,
       extract(hour from m."timestamp")::integer     as hour_of_day,
       m.project_id,
       count(*)                                       as messages,
       count(distinct m.conversation_id)              as conversations,
       sum(m.output_tokens)::bigint                   as output_tokens
from cco.messages m
where m."timestamp" >= now() - interval '7 days'
group by 1, 2, m.project_id;

comment on view cco.hourly_activity is
    'Per day of the week (1 = Monday), hour of the day (in the session''s time zone) and project, over the last 7 days: messages, conversations and output tokens.';

-- The conversations are aggregated by project and creator, then joined to the memberships (no
-- lateral subquery, which Citus refuses next to the memberships of its reference tables).
create view cco.user_activity_analytics with (security_invoker = true) as
with memberships as (
    select p.id as project_id, p.owner_id as user_id, 'owner'::text as role from cco.projects p
    where p.owner_id is not null
    union
    select pm.project_id, pm.user_id, pm.role from cco.project_members pm
)
select ms.project_id,
       ms.user_id,
       ms.role,
       coalesce(a.conversations, 0)   as conversations,
       coalesce(a.messages, 0)        as messages,
       coalesce(a.tokens, 0)          as tokens,
       a.first_activity,
       a.last_activity
from memberships ms
left join (
    select c.project_id,
           c.created_by,
           count(*)                                                                    as conversations,
           sum(c.message_count)                                                        as messages,
           sum(c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens) as tokens,
           min(c.created_at)                                                           as first_activity,
           max(c.last_updated)                                                         as last_activity
    from cco.conversations c
    group by c.project_id, c.created_by
) a on a.project_id = ms.project_id and a.created_by = ms.user_id;

comment on view cco.user_activity_analytics is
    'Per project member (the owner included): role, and the conversations they created or loaded with their messages, tokens and first and last activity.';

create view cco.token_usage_daily with (security_invoker = true) as
select date_trunc('day', m."timestamp")         as day,
       m.project_id,
       m.model,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       round(sum(m.cost)::numeric, 6)           as cost,
       sum(m.cache_creation_1h_tokens)::bigint  as cache_creation_1h_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       sum(m.web_fetch_requests)::bigint        as web_fetch_requests,
       count(*) filter (where m.speed = 'fast') as fast_responses,
       count(*) filter (where m.cost is null)   as unpriced_responses
-- The cost of each response computed once, in a subquery rather than a lateral one: Citus runs
-- it on the shards, where it refuses a lateral subquery that calls a function.
from (
    select m.*, cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                  m.cache_creation_tokens, m.cache_read_tokens,
                                  m.cache_creation_1h_tokens, m.web_search_requests,
                                  m.web_fetch_requests, m.speed, m.service_tier) as cost
    from cco.messages m
    where m.token_count > 0
) as m
group by date_trunc('day', m."timestamp"), m.project_id, m.model;

comment on view cco.token_usage_daily is
    'Per day, project and model: API responses, tokens by kind, web searches and fetches, fast responses (each response counted once), cost of the priced responses and the number of unpriced ones.';

-- Models nobody has a price for, so their usage is visible instead of costing a silent zero.
create view cco.unpriced_models with (security_invoker = true) as
select m.model,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       min(m."timestamp")                       as first_message_at,
       max(m."timestamp")                       as last_message_at
from cco.messages m
where m.token_count > 0
  -- Lines Claude Code writes itself are not API responses: never priced, never missing a price.
  and m.model is distinct from '<synthetic>'
  and cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                        m.cache_creation_tokens, m.cache_read_tokens, m.cache_creation_1h_tokens,
                        m.web_search_requests, m.web_fetch_requests, m.speed, m.service_tier) is null
group by m.model;

comment on view cco.unpriced_models is
    'Models (NULL: responses without a model) with API responses cco.model_pricing does not price, or prices only in part (fast mode without a fast price, a service tier other than standard), and their usage: add a price or import newer price data to cost them.';

----------------------------------------------------------------------------------------------
-- Usage blocks

-- PL/pgSQL: Citus cannot plan a SQL function's parameterised statements on distributed tables.
create function cco.usage_blocks(
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
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
begin
    return query
    select b.*
    from (
        select array_agg(m."timestamp")                 as at,
               array_agg(m.input_tokens::bigint)        as input,
               array_agg(m.output_tokens::bigint)       as output,
               array_agg(m.cache_creation_tokens::bigint) as cache_creation,
               array_agg(m.cache_read_tokens::bigint)   as cache_read,
               array_agg(m.model)                       as model,
               array_agg(m.cache_creation_1h_tokens::bigint) as cache_creation_1h,
               array_agg(m.web_search_requests::bigint) as web_search,
               array_agg(m.web_fetch_requests::bigint)  as web_fetch,
               array_agg(m.speed)                       as speed,
               array_agg(m.service_tier)                as service_tier
        from cco.messages m
        where m.token_count > 0
          and (usage_blocks.project_ids is null or m.project_id = any (usage_blocks.project_ids))
          and (usage_blocks.since is null or m."timestamp" >= usage_blocks.since)
    ) as usage
    -- The block computation prices each response itself (as cco.response_cost does), without
    -- a numeric product per response.
    cross join lateral cco.compute_usage_blocks(usage.at, usage.input, usage.output, usage.cache_creation,
                                                usage.cache_read, usage.model, usage.cache_creation_1h,
                                                usage.web_search, usage.web_fetch, usage.speed,
                                                usage.service_tier, now(),
                                                usage_blocks.block_length) as b
    where usage.at is not null;
end
$$;

comment on function cco.usage_blocks(uuid[], timestamptz, interval) is
    'Usage in 5-hour blocks as Claude Code subscriptions meter it (the same rules as the ccusage CLI: blocks start at the first response after the previous one ended, floored to the hour; gaps between them; tokens by kind, cost, models, whether still active, burn rate and projected end-of-block usage). Over the responses the caller can see, optionally within projects and since a time.';
comment on function cco.compute_usage_blocks(timestamptz[], bigint[], bigint[], bigint[], bigint[], text[], bigint[], bigint[], bigint[], text[], text[], timestamptz, interval) is
    'Groups usage entries (parallel arrays) into 5-hour blocks and gaps as of a given time, pricing each by cco.model_pricing as cco.response_cost does (unpriced responses add nothing: see cco.unpriced_models); cco.usage_blocks calls it.';

create view cco.project_usage_blocks with (security_invoker = true) as
select p.id as project_id, p.name as project_name, b.*
from cco.projects p
cross join lateral cco.usage_blocks(array[p.id], now() - interval '30 days') as b;

comment on view cco.project_usage_blocks is
    'Usage blocks of each project over the last 30 days (see cco.usage_blocks).';

----------------------------------------------------------------------------------------------
-- Summaries for dashboards: refreshed by cco.refresh_analytics(), read through functions that
-- show each caller only their own projects' (or own searches') rows.

create materialized view cco.project_summary_stats as
select p.id                                                         as project_id,
       count(distinct c.id)                                         as conversations,
       coalesce(sum(c.message_count), 0)::bigint                    as messages,
       coalesce(sum(c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens), 0)::bigint
                                                                    as tokens,
       (select sum(u.cost) from cco.message_usage u where u.project_id = p.id) as cost,
       (select count(*) from cco.tool_calls t where t.project_id = p.id) as tool_calls,
       (select count(*) from cco.tool_calls t where t.project_id = p.id and t.status in ('error', 'timeout'))
                                                                    as failed_tool_calls,
       max(c.last_updated)                                          as last_activity,
       now()                                                        as refreshed_at
from cco.projects p
left join cco.conversations c on c.project_id = p.id
group by p.id;

create unique index project_summary_stats_project_idx on cco.project_summary_stats (project_id);

comment on materialized view cco.project_summary_stats is
    'Per project totals for dashboards, as of the last cco.refresh_analytics(). Not readable directly (it bypasses row level security): read cco.project_summary.';
comment on column cco.project_summary_stats.project_id is 'The project.';
comment on column cco.project_summary_stats.conversations is 'Conversations.';
comment on column cco.project_summary_stats.messages is 'Messages.';
comment on column cco.project_summary_stats.tokens is 'Tokens of all kinds, each response counted once.';
comment on column cco.project_summary_stats.cost is 'Cost in USD.';
comment on column cco.project_summary_stats.tool_calls is 'Tool calls.';
comment on column cco.project_summary_stats.failed_tool_calls is 'Tool calls that failed or timed out.';
comment on column cco.project_summary_stats.last_activity is 'Newest message.';
comment on column cco.project_summary_stats.refreshed_at is 'When the summary was computed.';

create materialized view cco.search_analytics as
select h.user_id,
       h.search_type,
       date_trunc('day', h."timestamp")                      as day,
       count(*)                                               as searches,
       count(distinct h.query)                                as distinct_queries,
       count(*) filter (where h.result_count = 0)            as searches_without_results,
       round(avg(h.result_count), 1)                          as avg_results,
       round(avg(h.execution_time_ms), 1)                     as avg_ms,
       now()                                                  as refreshed_at
from cco.search_history h
group by h.user_id, h.search_type, date_trunc('day', h."timestamp");

create unique index search_analytics_key_idx on cco.search_analytics (user_id, search_type, day);

comment on materialized view cco.search_analytics is
    'Per user, search type and day: searches, distinct queries, searches without results, average results and time, as of the last cco.refresh_analytics(). Not readable directly: read cco.search_summary.';
comment on column cco.search_analytics.user_id is 'Who searched.';
comment on column cco.search_analytics.search_type is 'message, conversation, project, tool, similar or suggestion.';
comment on column cco.search_analytics.day is 'Day of the searches.';
comment on column cco.search_analytics.searches is 'Searches run.';
comment on column cco.search_analytics.distinct_queries is 'Different queries.';
comment on column cco.search_analytics.searches_without_results is 'Searches that found nothing.';
comment on column cco.search_analytics.avg_results is 'Average number of results.';
comment on column cco.search_analytics.avg_ms is 'Average time in milliseconds.';
comment on column cco.search_analytics.refreshed_at is 'When the summary was computed.';

-- Readers of the summaries: they run as the owner of the summaries (which bypass row level
-- security) and return only the caller's projects or the caller's own searches.
create function cco.read_project_summary_stats()
returns setof cco.project_summary_stats
language sql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select s.* from cco.project_summary_stats s
    where cco.has_full_access() or s.project_id = any (cco.readable_project_ids())
$$;

create function cco.read_search_analytics()
returns setof cco.search_analytics
language sql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select s.* from cco.search_analytics s
    where cco.has_full_access() or s.user_id = cco.current_user_id()
$$;

comment on function cco.read_project_summary_stats() is
    'Rows of cco.project_summary_stats for the projects the caller can see.';
comment on function cco.read_search_analytics() is
    'Rows of cco.search_analytics for the caller''s own searches (all of them for the service role).';

create view cco.project_summary with (security_invoker = true) as
select * from cco.read_project_summary_stats();

create view cco.search_summary with (security_invoker = true) as
select * from cco.read_search_analytics();

comment on view cco.project_summary is
    'Dashboard totals of the caller''s projects, as of the last cco.refresh_analytics().';
comment on view cco.search_summary is
    'The caller''s search statistics per type and day, as of the last cco.refresh_analytics().';

create function cco.refresh_analytics() returns jsonb
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    started timestamptz;
    timings jsonb := '{}';
begin
    -- CONCURRENTLY: dashboards keep reading the previous contents while a refresh runs.
    started := clock_timestamp();
    refresh materialized view concurrently cco.project_summary_stats;
    timings := timings || jsonb_build_object('project_summary_stats_ms',
        round(extract(epoch from clock_timestamp() - started) * 1000, 1));
    started := clock_timestamp();
    refresh materialized view concurrently cco.search_analytics;
    timings := timings || jsonb_build_object('search_analytics_ms',
        round(extract(epoch from clock_timestamp() - started) * 1000, 1));
    return timings;
end
$$;

comment on function cco.refresh_analytics() is
    'Refreshes the dashboard summaries concurrently (readers are not blocked) and returns how long each took. For operators and the service role.';

revoke execute on function cco.refresh_analytics() from public;

----------------------------------------------------------------------------------------------
-- Operators: the database and cco's own tables and indexes. Rows only for callers with full
-- access: sizes and row counts describe every user's data.

create view cco.table_analytics with (security_invoker = true) as
select c.relname::text                                   as table_name,
       c.reltuples::bigint                               as estimated_rows,
       pg_relation_size(c.oid)                           as table_bytes,
       pg_indexes_size(c.oid)                            as index_bytes,
       coalesce(pg_relation_size(c.reltoastrelid), 0)    as toast_bytes,
       pg_total_relation_size(c.oid)                     as total_bytes,
       pg_size_pretty(pg_total_relation_size(c.oid))     as total_size,
       s.n_live_tup                                      as live_rows,
       s.n_dead_tup                                      as dead_rows,
       s.seq_scan                                        as sequential_scans,
       s.idx_scan                                        as index_scans,
       s.last_autovacuum,
       s.last_autoanalyze
from pg_catalog.pg_class c
left join pg_catalog.pg_stat_user_tables s on s.relid = c.oid
where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'm')
  and (select cco.has_full_access());

comment on view cco.table_analytics is
    'Size (table, indexes, TOAST, total), rows, dead rows, scans and last maintenance of cco''s tables and summaries. Rows only for callers with full access.';

create view cco.system_performance with (security_invoker = true) as
select current_database()::text                                        as database,
       pg_database_size(current_database())                             as database_bytes,
       (select sum(pg_total_relation_size(c.oid)) from pg_catalog.pg_class c
        where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'm'))::bigint as cco_bytes,
       (select round(100.0 * sum(heap_blks_hit + coalesce(idx_blks_hit, 0))
                     / nullif(sum(heap_blks_hit + heap_blks_read + coalesce(idx_blks_hit, 0) + coalesce(idx_blks_read, 0)), 0), 2)
        from pg_catalog.pg_statio_user_tables where schemaname = 'cco')   as cco_cache_hit_percent,
       d.numbackends                                                    as connections,
       d.xact_commit                                                    as transactions_committed,
       d.xact_rollback                                                  as transactions_rolled_back,
       d.deadlocks,
       d.temp_bytes,
       d.stats_reset
from pg_catalog.pg_stat_database d
where d.datname = current_database() and (select cco.has_full_access());

comment on view cco.system_performance is
    'The database at a glance: its size and cco''s share, cco''s cache hit ratio, connections, transactions, deadlocks and temporary file use. Rows only for callers with full access.';

create view cco.index_usage_stats with (security_invoker = true) as
select
    s.relname::text                                   as table_name,
    s.indexrelname::text                              as index_name,
    s.idx_scan                                        as scans,
    s.idx_tup_read                                    as tuples_read,
    s.idx_tup_fetch                                   as tuples_fetched,
    pg_relation_size(s.indexrelid)                    as size_bytes,
    pg_size_pretty(pg_relation_size(s.indexrelid))    as size,
    i.indisunique                                     as is_unique,
    i.indisprimary                                    as is_primary,
    pg_get_indexdef(s.indexrelid)                     as definition
from pg_catalog.pg_stat_user_indexes s
join pg_catalog.pg_index i on i.indexrelid = s.indexrelid
where s.schemaname = 'cco' and (select cco.has_full_access());

comment on view cco.index_usage_stats is
    'How often each cco index is used and what it costs on disk, so operators can see which indexes earn their keep (counters since the last statistics reset). Shows rows only to callers with full access.';
comment on column cco.index_usage_stats.table_name is 'Table the index belongs to.';
comment on column cco.index_usage_stats.index_name is 'Index name.';
comment on column cco.index_usage_stats.scans is 'Index scans started since the statistics were reset.';
comment on column cco.index_usage_stats.tuples_read is 'Index entries returned by those scans.';
comment on column cco.index_usage_stats.tuples_fetched is 'Table rows fetched through the index.';
comment on column cco.index_usage_stats.size_bytes is 'Size on disk in bytes.';
comment on column cco.index_usage_stats.size is 'Size on disk, human readable.';
comment on column cco.index_usage_stats.is_unique is 'Whether the index enforces uniqueness (it is then needed even when never scanned).';
comment on column cco.index_usage_stats.is_primary is 'Whether it is a primary key.';
comment on column cco.index_usage_stats.definition is 'CREATE INDEX statement.';

----------------------------------------------------------------------------------------------
-- Documentation of view columns. The same names mean the same thing in every view, so one
-- glossary documents them all; a client test fails if a view column is missing from it.

do $glossary$
declare
    glossary constant jsonb := $json${
        "active_conversations": "Conversations with status active.",
        "active_days": "Distinct days with activity.",
        "active_minutes": "Minutes of work: gaps between consecutive messages summed, gaps over 30 minutes left out.",
        "active_weeks": "Distinct weeks with activity.",
        "assistant_messages": "Messages written by the assistant.",
        "avg_content_length": "Average message length in characters.",
        "avg_depth": "Average thread depth of the messages.",
        "avg_ms": "Average duration in milliseconds.",
        "avg_results": "Average number of results.",
        "avg_tokens_per_message": "Tokens divided by messages.",
        "avg_tool_ms": "Average tool call duration in milliseconds.",
        "block_end": "End of the usage block (start + 5 hours), or of the gap.",
        "block_start": "Start of the usage block (first response floored to the hour), or of the gap.",
        "burn_cost_per_hour": "Cost per hour between the block's first and last response.",
        "burn_tokens_per_minute": "Input and output tokens per minute between the block's first and last response.",
        "cache_creation_tokens": "Prompt-cache write tokens, each API response counted once.",
        "cache_read_tokens": "Prompt-cache read tokens, each API response counted once.",
        "calls": "Tool calls.",
        "cco_bytes": "Size of cco's tables, indexes and summaries in bytes.",
        "cco_cache_hit_percent": "Share of cco's table and index reads served from shared buffers.",
        "completed_conversations": "Conversations with status completed.",
        "connections": "Open connections to the database.",
        "conversation_id": "The conversation.",
        "conversations": "Distinct conversations.",
        "cache_creation_1h_tokens": "The part of the cache write tokens written to the 1-hour cache, each API response counted once.",
        "cost": "Cost in USD from cco.model_pricing of the priced responses (unpriced ones add nothing: see unpriced_responses and cco.unpriced_models).",
        "fast_responses": "API responses generated in fast mode.",
        "database": "Database name.",
        "database_bytes": "Size of the database in bytes.",
        "day": "The day (start of day in the session's time zone).",
        "day_of_week": "ISO day of the week: 1 is Monday, 7 Sunday.",
        "dead_rows": "Dead row versions waiting for vacuum.",
        "deadlocks": "Deadlocks detected since statistics were reset.",
        "distinct_queries": "Different queries.",
        "distinct_tools": "Different tools used.",
        "duration": "Time from the first to the last message.",
        "entries": "API responses in the block (0 for a gap).",
        "estimated_rows": "Rows according to the planner's statistics.",
        "executions": "Tool calls.",
        "failed_tool_calls": "Tool calls that failed or timed out.",
        "failures": "Calls that ended in an error.",
        "first_activity": "Earliest creation of one of the member's conversations.",
        "first_entry": "First response in the block.",
        "first_message_at": "Timestamp of the first message.",
        "first_used": "First call.",
        "hour_of_day": "Hour of the day (0 to 23, in the session's time zone).",
        "index_bytes": "Size of the table's indexes in bytes.",
        "index_scans": "Index scans of the table.",
        "input_tokens": "Input tokens, each API response counted once.",
        "is_active": "Whether the block is still running: its last response is under 5 hours old and it has not ended.",
        "is_gap": "Whether this row is a gap between blocks.",
        "last_24h": "Calls in the last 24 hours.",
        "last_7d": "Calls in the last 7 days.",
        "last_activity": "Newest activity.",
        "last_autoanalyze": "When autovacuum last analyzed the table.",
        "last_autovacuum": "When autovacuum last vacuumed the table.",
        "last_entry": "Last response in the block.",
        "last_message_at": "Timestamp of the last message.",
        "last_used": "Last call.",
        "live_rows": "Live rows.",
        "max_content_length": "Longest message in characters.",
        "max_depth": "Deepest thread level.",
        "max_ms": "Longest duration in milliseconds (exact).",
        "median_ms": "Median duration in milliseconds (within 1 %).",
        "message_count": "Messages of the conversation.",
        "messages": "Messages.",
        "messages_last_24h": "Messages in the last 24 hours.",
        "messages_last_30d": "Messages in the last 30 days.",
        "messages_last_7d": "Messages in the last 7 days.",
        "min_ms": "Shortest duration in milliseconds (exact).",
        "model": "Model that wrote the responses.",
        "models": "Models used in the block, in order of first use.",
        "name": "Project name.",
        "output_tokens": "Output tokens, each API response counted once.",
        "p95_ms": "95th percentile duration in milliseconds (within 1 %).",
        "path": "Project path.",
        "project_id": "The project.",
        "project_name": "Project name.",
        "projected_cost": "Cost at the end of the active block if the burn rate holds.",
        "projected_total_tokens": "Input and output tokens at the end of the active block if the burn rate holds.",
        "projects": "Distinct projects.",
        "refreshed_at": "When the summary was computed.",
        "remaining_minutes": "Minutes left in the active block.",
        "responses": "API responses (each counted once).",
        "role": "Role of the member: owner, editor or viewer.",
        "root_messages": "Messages without a parent (thread roots).",
        "search_type": "message, conversation, project, tool, similar or suggestion.",
        "searches": "Searches run.",
        "searches_without_results": "Searches that found nothing.",
        "sequential_scans": "Sequential scans of the table.",
        "stats_reset": "When the database's statistics were last reset.",
        "status": "Conversation status: active, completed or archived.",
        "success_rate": "Percentage of finished calls that succeeded.",
        "successes": "Calls that succeeded.",
        "successful_tool_calls": "Tool calls that succeeded.",
        "system_messages": "System messages.",
        "table_bytes": "Size of the table's main data in bytes.",
        "table_name": "Table (or summary) name in schema cco.",
        "temp_bytes": "Bytes written to temporary files since statistics were reset.",
        "timeouts": "Calls that timed out.",
        "title": "Conversation title.",
        "toast_bytes": "Size of the table's out-of-line (TOAST) data in bytes.",
        "tokens": "Tokens of all kinds, each API response counted once.",
        "tool_calls": "Tool calls.",
        "tool_name": "Tool name.",
        "total_bytes": "Total size in bytes: table, indexes and TOAST.",
        "total_size": "Total size, human readable.",
        "total_tokens": "Tokens of all kinds, each API response counted once.",
        "transactions_committed": "Transactions committed since statistics were reset.",
        "transactions_rolled_back": "Transactions rolled back since statistics were reset.",
        "user_id": "The user (JWT sub).",
        "unpriced_responses": "API responses no price applies to (their cost is not in cost).",
        "user_messages": "Messages written by the user.",
        "web_fetch_requests": "Web fetch requests, each API response counted once.",
        "web_search_requests": "Web search requests, each API response counted once."
    }$json$;
    view_column record;
begin
    for view_column in
        select c.oid::regclass as view_name, a.attname as column_name
        from pg_class c
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relnamespace = 'cco'::regnamespace and c.relkind = 'v'
          and col_description(c.oid, a.attnum) is null
          and glossary ? a.attname
    loop
        execute format('comment on column %s.%I is %L',
                       view_column.view_name, view_column.column_name, glossary ->> view_column.column_name::text);
    end loop;
end
$glossary$;
