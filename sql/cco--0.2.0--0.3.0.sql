-- Updates cco 0.2.0 to 0.3.0 in place: ALTER EXTENSION cco UPDATE.
--
-- Every change to the schema files since 0.2.0 (frozen in releases/cco--0.2.0.sql) is repeated
-- here, so an updated database ends up exactly as a fresh install of 0.3.0; the client test
-- tests/client/test_upgrade.py compares the two object by object.
--
-- Adding messages.content_length rewrites the messages table once (a stored generated column is
-- computed for every existing row); plan the update for a quiet moment on a large database.

\echo Use "ALTER EXTENSION cco UPDATE" to load this file. \quit

-- Analytics read the length of a message without reading its content.
alter table cco.messages
    add column content_length integer generated always as (char_length(content)) stored;
comment on column cco.messages.content_length is 'Characters in the content (generated).';

-- Matching a stored search vector row by row costs its detoasting: the planner counts a common
-- term's messages through the index rather than by reading the table until it has enough.
alter function cco.tsvector_matches(tsvector, tsquery) cost 100;

-- A project's messages by conversation and time, with every column the analytics views read:
-- per-project and per-conversation analytics answer from this index alone, in conversation
-- order, without visiting the wide message rows.
create index messages_project_conversation_idx
    on cco.messages (project_id, conversation_id, "timestamp")
    include (role, model, token_count, input_tokens, output_tokens, cache_creation_tokens,
             cache_read_tokens, content_length, depth, parent_id);

drop index cco.tool_calls_project_time_idx;
create index tool_calls_project_time_idx on cco.tool_calls (project_id, started_at desc)
    include (conversation_id, tool_name, status, execution_time_ms);

-- The price rule in one place. A set-returning SQL function of one SELECT is inlined by the
-- planner: a view joining it laterally pays for a lookup in a table of a few rows, not for a
-- function call per group.
create function cco.priced_usage(
    model text, at timestamptz, input_tokens bigint, output_tokens bigint,
    cache_creation_tokens bigint, cache_read_tokens bigint)
returns table (cost numeric)
language sql stable parallel safe security invoker rows 1
as $$
    select round((priced_usage.input_tokens * p.input_per_million
                  + priced_usage.output_tokens * p.output_per_million
                  + priced_usage.cache_creation_tokens * p.cache_write_per_million
                  + priced_usage.cache_read_tokens * p.cache_read_per_million) / 1000000, 6)
    from cco.model_pricing p
    where starts_with(priced_usage.model, p.model)
      and p.effective_from <= coalesce(priced_usage.at, now())::date
    order by length(p.model) desc, p.effective_from desc, p.seeded
    limit 1
$$;

comment on function cco.priced_usage(text, timestamptz, bigint, bigint, bigint, bigint) is
    'Cost in USD of token counts for a model on a date, as a row (no row for a model without price); the form views join laterally. See cco.usage_cost.';

create or replace function cco.usage_cost(
    model text, at timestamptz, input_tokens bigint, output_tokens bigint,
    cache_creation_tokens bigint, cache_read_tokens bigint)
returns numeric
language sql stable parallel safe security invoker
as $$
    select cost from cco.priced_usage(model, at, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens)
$$;

comment on function cco.usage_cost(text, timestamptz, bigint, bigint, bigint, bigint) is
    'Cost in USD of token counts for a model on a date, from cco.model_pricing (longest model prefix, latest price not after the date, operators'' prices before seeded ones); NULL for a model without price. Cost is linear, so it can be applied to sums per model and day.';

-- Token usage grouped by conversation, model and day: the unit cost is computed on, since prices
-- depend on model and date and cost is linear in the counts.
create or replace view cco.message_usage with (security_invoker = true) as
select u.project_id, u.conversation_id, u.model, u.day, u.responses, u.input_tokens, u.output_tokens,
       u.cache_creation_tokens, u.cache_read_tokens, price.cost
from (
    select m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp") as day,
           count(*)                                 as responses,
           sum(m.input_tokens)::bigint              as input_tokens,
           sum(m.output_tokens)::bigint             as output_tokens,
           sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
           sum(m.cache_read_tokens)::bigint         as cache_read_tokens
    from cco.messages m
    where m.token_count > 0
    group by m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp")
) u
left join lateral cco.priced_usage(u.model, u.day, u.input_tokens, u.output_tokens,
                                   u.cache_creation_tokens, u.cache_read_tokens) price on true;

comment on view cco.message_usage is
    'Token usage and cost per conversation, model and day (each API response counted once).';

-- Set-based: each part aggregates a project's rows in one pass (from covering indexes) and is
-- joined by conversation, rather than looked up once per conversation. A filter on project_id
-- or conversation_id reaches every part through the join conditions.
create or replace view cco.conversation_analytics with (security_invoker = true) as
select c.id                                    as conversation_id,
       c.project_id,
       c.title,
       c.status,
       c.message_count,
       coalesce(m.user_messages, 0)            as user_messages,
       coalesce(m.assistant_messages, 0)       as assistant_messages,
       coalesce(m.system_messages, 0)          as system_messages,
       m.avg_content_length,
       m.max_content_length,
       (c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens) as total_tokens,
       round((c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens)::numeric
             / nullif(c.message_count, 0), 1)  as avg_tokens_per_message,
       c.input_tokens,
       c.output_tokens,
       c.cache_creation_tokens,
       c.cache_read_tokens,
       m.first_message_at,
       m.last_message_at,
       m.last_message_at - m.first_message_at  as duration,
       m.active_minutes,
       coalesce(t.distinct_tools, 0)           as distinct_tools,
       coalesce(t.tool_calls, 0)               as tool_calls,
       coalesce(t.successful_tool_calls, 0)    as successful_tool_calls,
       coalesce(t.failed_tool_calls, 0)        as failed_tool_calls,
       t.avg_tool_ms,
       coalesce(m.root_messages, 0)            as root_messages,
       m.max_depth,
       m.avg_depth,
       u.cost
from cco.conversations c
left join (
    select project_id,
           conversation_id,
           count(*) filter (where role = 'user')              as user_messages,
           count(*) filter (where role = 'assistant')         as assistant_messages,
           count(*) filter (where role = 'system')            as system_messages,
           round(avg(content_length), 1)                      as avg_content_length,
           max(content_length)                                as max_content_length,
           min("timestamp")                                    as first_message_at,
           max("timestamp")                                    as last_message_at,
           round((extract(epoch from cco.active_time("timestamp")) / 60)::numeric, 1) as active_minutes,
           count(*) filter (where parent_id is null)          as root_messages,
           max(depth)                                          as max_depth,
           round(avg(depth), 2)                                as avg_depth
    from cco.messages
    group by project_id, conversation_id
) m on m.project_id = c.project_id and m.conversation_id = c.id
left join (
    select project_id,
           conversation_id,
           count(distinct tool_name)                             as distinct_tools,
           count(*)                                              as tool_calls,
           count(*) filter (where status = 'success')           as successful_tool_calls,
           count(*) filter (where status in ('error', 'timeout')) as failed_tool_calls,
           round(avg(execution_time_ms), 1)                      as avg_tool_ms
    from cco.tool_calls
    group by project_id, conversation_id
) t on t.project_id = c.project_id and t.conversation_id = c.id
left join (
    select project_id, conversation_id, sum(cost) as cost
    from cco.message_usage
    group by project_id, conversation_id
) u on u.project_id = c.project_id and u.conversation_id = c.id;

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
    select count(distinct d.day)                      as active_days,
           count(distinct date_trunc('week', d.day))  as active_weeks,
           min(d.first_at)                             as first_message_at,
           max(d.last_at)                              as last_message_at,
           coalesce(sum(d.last_24h), 0)::bigint        as messages_last_24h,
           coalesce(sum(d.last_7d), 0)::bigint         as messages_last_7d,
           coalesce(sum(d.last_30d), 0)::bigint        as messages_last_30d,
           -- priced per model and day, the coarsest grouping prices allow
           sum(price.cost) filter (where d.responses > 0) as cost
    from (
        select date_trunc('day', q.quarter) as day, q.model,
               min(q.first_at) as first_at, max(q.last_at) as last_at,
               sum(q.last_24h) as last_24h, sum(q.last_7d) as last_7d, sum(q.last_30d) as last_30d,
               sum(q.responses) as responses,
               sum(q.input_tokens)::bigint as input_tokens, sum(q.output_tokens)::bigint as output_tokens,
               sum(q.cache_creation_tokens)::bigint as cache_creation_tokens,
               sum(q.cache_read_tokens)::bigint as cache_read_tokens
        from (
            -- One pass over messages_project_conversation_idx in quarter hours, then days: a
            -- day in the session's time zone is a costly computation per message, cheap per
            -- quarter hour. Exact for every time zone offset that is a whole number of quarter
            -- hours (all in use since the 1970s), as day boundaries then fall between quarters.
            select date_bin('15 minutes', m."timestamp", timestamptz '2000-01-01 00:00+00') as quarter,
                   m.model,
                   min(m."timestamp")                                                   as first_at,
                   max(m."timestamp")                                                   as last_at,
                   count(*) filter (where m."timestamp" > now() - interval '24 hours')  as last_24h,
                   count(*) filter (where m."timestamp" > now() - interval '7 days')    as last_7d,
                   count(*) filter (where m."timestamp" > now() - interval '30 days')   as last_30d,
                   count(*) filter (where m.token_count > 0)                            as responses,
                   sum(m.input_tokens) filter (where m.token_count > 0)                 as input_tokens,
                   sum(m.output_tokens) filter (where m.token_count > 0)                as output_tokens,
                   sum(m.cache_creation_tokens) filter (where m.token_count > 0)        as cache_creation_tokens,
                   sum(m.cache_read_tokens) filter (where m.token_count > 0)            as cache_read_tokens
            from cco.messages m
            where m.project_id = p.id
            group by 1, 2
        ) q
        group by 1, 2
    ) d
    left join lateral cco.priced_usage(d.model, d.day, d.input_tokens, d.output_tokens,
                                       d.cache_creation_tokens, d.cache_read_tokens) price
        on d.responses > 0
) m
cross join lateral (
    select count(distinct tool_name) as distinct_tools, count(*) as tool_calls,
           round(avg(execution_time_ms), 1) as avg_tool_ms
    from cco.tool_calls where project_id = p.id
) t;

create or replace view cco.token_usage_daily with (security_invoker = true) as
select u.day, u.project_id, u.model, u.responses, u.input_tokens, u.output_tokens,
       u.cache_creation_tokens, u.cache_read_tokens, price.cost
from (
    select date_trunc('day', m."timestamp")         as day,
           m.project_id,
           m.model,
           count(*)                                 as responses,
           sum(m.input_tokens)::bigint              as input_tokens,
           sum(m.output_tokens)::bigint             as output_tokens,
           sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
           sum(m.cache_read_tokens)::bigint         as cache_read_tokens
    from cco.messages m
    where m.token_count > 0
    group by date_trunc('day', m."timestamp"), m.project_id, m.model
) u
left join lateral cco.priced_usage(u.model, u.day, u.input_tokens, u.output_tokens,
                                   u.cache_creation_tokens, u.cache_read_tokens) price on true;


-- Searches: the corpus statistics are computed once per search and known to be one row.
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
    select query_terms, frequencies, coalesce(sum(c.message_count), 0)::bigint,
           coalesce(sum(c.search_length), 0)::double precision / nullif(sum(c.message_count), 0)
    from cco.conversations c
    where (search_statistics.project_ids is null or c.project_id = any (search_statistics.project_ids))
      and (search_statistics.conversation_ids is null or c.id = any (search_statistics.conversation_ids))
    having cardinality(query_terms) > 0;
end
$$;

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
as $$
#variable_conflict use_column
declare
    corpus record;
begin
    perform cco.check_page(limit_count, offset_count, 1000);
    -- Once, before the search: parallel workers then share the figures instead of each
    -- counting them again.
    select * into corpus from cco.search_statistics(search_query, project_ids, conversation_ids);
    if not found then
        return; -- nothing searchable in the query
    end if;
    return query
    -- Only keys and scores go through the ordering: a common term matches hundreds of
    -- thousands of messages, and carrying their contents through it would copy each one.
    with ranked as (
        select m.id, m.project_id, m."timestamp",
               cco.rank(m.search_vector, corpus.terms, corpus.document_frequencies, corpus.document_count,
                        corpus.average_length) as score
        from cco.messages m
        where m.search_vector operator(cco.@@) cco.to_tsquery(search_query)
          and (project_ids is null or m.project_id = any (project_ids))
          and (conversation_ids is null or m.conversation_id = any (conversation_ids))
          and (message_roles is null or m.role = any (message_roles))
        order by score desc, m."timestamp" desc, m.id
        limit limit_count offset offset_count
    )
    select m.id, m.conversation_id, m.project_id, m.role, m.content, m."timestamp", m.token_count,
           r.score, cco.highlight(m.content, search_query), p.name, c.title
    from ranked r
    join cco.messages m on m.id = r.id and m.project_id = r.project_id
    join cco.projects p on p.id = m.project_id
    left join cco.conversations c on c.id = m.conversation_id and c.project_id = m.project_id
    order by r.score desc, r."timestamp" desc, r.id;
end
$$;
