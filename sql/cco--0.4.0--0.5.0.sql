-- Updates cco 0.4.0 to 0.5.0 in place: ALTER EXTENSION cco UPDATE.
--
-- Every change to the schema files since 0.4.0 (frozen in releases/cco--0.4.0.sql) is repeated
-- here, so an updated database ends up exactly as a fresh install of 0.5.0; the client test
-- tests/client/test_upgrade.py compares the two object by object.

\echo Use "ALTER EXTENSION cco UPDATE" to load this file. \quit

-- ---------------------------------------------------------------------------------------------
-- Hostile input (issue: never a panic, never an uncancellable loop)
--
-- cco.get_search_suggestions refuses a partial query longer than 4096 bytes with 54000 instead of
-- matching every name against it (sql/06_search.sql). The Rust functions whose NULL arguments
-- now raise 22004 keep their signatures and strictness, so nothing else changes here.
create or replace function cco.get_search_suggestions(
    partial_query text,
    suggestion_type text default 'message',
    limit_count integer default 10)
returns table (suggestion text, frequency bigint, context text)
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
declare
    typed text := btrim(coalesce(partial_query, ''));
    like_prefix text := replace(replace(replace(btrim(coalesce(partial_query, '')), '\', '\\'), '%', '\%'), '_', '\_') || '%';
begin
    perform cco.check_page(limit_count, 0, 100);
    if suggestion_type is null or suggestion_type not in ('message', 'tool', 'project') then
        raise exception 'suggestion_type must be message, tool or project, got %', coalesce(suggestion_type, 'NULL')
            using errcode = 'invalid_parameter_value';
    end if;
    -- What someone types is short. Past the query parser's limit (4096 bytes, the rest of a
    -- search query is ignored) it is not a partial query, and matching names against a pattern
    -- that long costs time per row: refused, so no single argument makes this run for seconds.
    if octet_length(partial_query) > 4096 then
        raise exception 'partial_query is % bytes long; suggestions take at most 4096', octet_length(partial_query)
            using errcode = 'program_limit_exceeded';
    end if;
    if typed = '' then
        return;
    end if;

    if suggestion_type = 'tool' then
        return query
        select t.tool_name, count(*), 'tool, ' || count(*) || ' calls'
        from cco.tool_calls t
        where t.tool_name ilike like_prefix
        group by t.tool_name
        order by count(*) desc, t.tool_name
        limit limit_count;
    elsif suggestion_type = 'project' then
        return query
        select p.name, (select count(*) from cco.conversations c where c.project_id = p.id), p.path
        from cco.projects p
        where p.name ilike like_prefix or p.name ilike '%' || like_prefix
        order by (p.name ilike like_prefix) desc, p.last_activity desc nulls last, p.name
        limit limit_count;
    else
        -- The caller's own earlier searches first, then words of recent matching messages. Only a
        -- bounded sample of messages is read per keystroke, found through the search index.
        return query
        with earlier as (
            select h.query as suggestion, count(*) as frequency, 'your earlier searches'::text as context
            from cco.search_history h
            where h.search_type = 'message' and h.query ilike like_prefix
            group by h.query
        ),
        wanted as (select * from cco.suggestion_query(typed)),
        sample as (
            select m.content
            from wanted w
            join cco.messages m on m.search_vector operator(cco.@@) w.tsquery
            limit 200
        ),
        completed as (
            select w.head || word as suggestion, count(*) as frequency, 'in your messages'::text as context
            from wanted w
            cross join sample s
            cross join lateral unnest(cco.completions(s.content, w.prefix, 20)) as word
            group by w.head || word
        )
        select e.suggestion, e.frequency, e.context from earlier e
        union all
        select c.suggestion, c.frequency, c.context from completed c
        where not exists (select 1 from earlier e where lower(e.suggestion) = lower(c.suggestion))
        order by 3 desc, 2 desc, 1
        limit limit_count;
    end if;
end
$$;
