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

-- Usage blocks price each model and day once instead of each message.
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
    with usage as (
        select m."timestamp" as at, m."timestamp"::date as day, m.model,
               m.input_tokens, m.output_tokens, m.cache_creation_tokens, m.cache_read_tokens
        from cco.messages m
        where m.token_count > 0
          and (usage_blocks.project_ids is null or m.project_id = any (usage_blocks.project_ids))
          and (usage_blocks.since is null or m."timestamp" >= usage_blocks.since)
    ),
    -- Prices are looked up once per model and day, not once per message: a model's price per
    -- million tokens of a kind is the cost of a million tokens of that kind.
    prices as (
        select d.model, d.day,
               cco.usage_cost(d.model, d.day::timestamptz, 1000000, 0, 0, 0) as input_per_million,
               cco.usage_cost(d.model, d.day::timestamptz, 0, 1000000, 0, 0) as output_per_million,
               cco.usage_cost(d.model, d.day::timestamptz, 0, 0, 1000000, 0) as cache_write_per_million,
               cco.usage_cost(d.model, d.day::timestamptz, 0, 0, 0, 1000000) as cache_read_per_million
        from (select distinct model, day from usage) as d
    )
    select b.*
    from (
        select array_agg(u.at)                          as at,
               array_agg(u.input_tokens::bigint)        as input,
               array_agg(u.output_tokens::bigint)       as output,
               array_agg(u.cache_creation_tokens::bigint) as cache_creation,
               array_agg(u.cache_read_tokens::bigint)   as cache_read,
               -- As cco.usage_cost prices each message: the same sum, rounded the same way.
               array_agg(coalesce(round((u.input_tokens * p.input_per_million
                                         + u.output_tokens * p.output_per_million
                                         + u.cache_creation_tokens * p.cache_write_per_million
                                         + u.cache_read_tokens * p.cache_read_per_million) / 1000000, 6),
                                  0)::float8)           as cost,
               array_agg(u.model)                       as model
        from usage u
        left join prices p on p.model = u.model and p.day = u.day
    ) as usage
    cross join lateral cco.compute_usage_blocks(usage.at, usage.input, usage.output, usage.cache_creation,
                                                usage.cache_read, usage.cost, usage.model, now(),
                                                usage_blocks.block_length) as b
    where usage.at is not null
$$;
