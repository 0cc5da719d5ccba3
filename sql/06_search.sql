-- The search API. Every function runs with the caller's rights (SECURITY INVOKER): row level
-- security decides what each caller can find, including the statistics ranking uses.
--
-- How a search runs: PostgreSQL's GIN index on search_vector finds the candidate messages
-- (cco.to_tsquery, same tokenizer as the index), Rust ranks them with BM25 (cco.rank) using
-- statistics of the corpus the caller can see, and only the page returned is highlighted
-- (cco.highlight).

comment on function cco.tokenize(text) is
    'The search terms of a text in order: identifiers, paths, URLs and error codes whole and in parts (getUserData: getuserdata, get, user, data), prose lowercased and stemmed, stop words dropped.';
comment on function cco.to_tsvector(text) is
    'The search vector of a text, with positions (what messages.search_vector stores). Call it schema-qualified: pg_catalog.to_tsvector is a different function.';
comment on function cco.to_tsquery(text) is
    'Web-style search syntax to a tsquery: words AND-ed, "quoted phrase", or, -exclude, (grouping). Never raises; input with nothing searchable gives an empty query that matches nothing.';
comment on function cco.lexeme_tsquery(text) is
    'A tsquery matching exactly one stored lexeme.';
comment on function cco.query_terms(text) is
    'The lexemes of a search query that count for ranking (excluded terms left out).';
comment on function cco.search_length(tsvector) is
    'Number of term occurrences in a search vector: the document length BM25 normalises by.';
comment on function cco.rank(tsvector, text[], bigint[], bigint, double precision, double precision, double precision) is
    'BM25 score (k1 1.2, b 0.75 by default) of a search vector for query terms, given each term''s document frequency, the number of documents and their average length.';
comment on function cco.highlight(text, text, text, text, integer, integer) is
    'The best fragments of a text (max_fragments of max_words words; 0 fragments: the whole text) with every occurrence of the query''s terms wrapped in start_sel/stop_sel. HTML markers make the rest HTML-escaped.';
comment on function cco.suggestion_query(text) is
    'For type-ahead: the tsquery of messages that complete a partial query, its finished words and the word being typed.';
comment on function cco.completions(text, text, integer) is
    'Words and compounds of a text starting with a prefix, spelled as in the text.';

-- A term found in more messages than this is very common: counting further would cost a scan of
-- that many rows for every search, and BM25 gives such terms little weight anyway. Their
-- document frequency is taken as this cap (an IDF floor).
create function cco.document_frequency_cap() returns bigint
language sql immutable parallel safe
as $$ select 20000::bigint $$;

comment on function cco.document_frequency_cap() is
    'Document frequencies are counted up to this many messages; more common terms are ranked as if this common.';

create function cco.search_statistics(
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

comment on function cco.search_statistics(text, uuid[], uuid[]) is
    'What BM25 needs for a query over the messages the caller can see (optionally within projects or conversations): the query terms, their document frequencies (counted up to cco.document_frequency_cap()), the number of messages and their average search length. Row level security applies.';

-- Rejects a page that makes no sense instead of silently returning something else.
create function cco.check_page(limit_count integer, offset_count integer, largest_limit integer)
returns void
language plpgsql immutable parallel safe
as $$
begin
    if limit_count is null or limit_count < 0 or limit_count > largest_limit then
        raise exception 'limit_count must be between 0 and %, got %', largest_limit, coalesce(limit_count::text, 'NULL')
            using errcode = 'invalid_parameter_value';
    end if;
    if offset_count is null or offset_count < 0 then
        raise exception 'offset_count must be 0 or more, got %', coalesce(offset_count::text, 'NULL')
            using errcode = 'invalid_parameter_value';
    end if;
end
$$;

comment on function cco.check_page(integer, integer, integer) is
    'Raises invalid_parameter_value for a negative or too large limit, or a negative offset.';

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
    -- On Citus (cco.distribute) each shard's index counts its own rows: the counts are summed.
    if current_setting('cco.distributed', true) = 'on' then
        return cco.ranking_across_shards(search_query, cco.search_scope(project_ids));
    end if;
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

comment on function cco.verify_rank_index(regclass, boolean) is
    'Checks a cco_rank index like amcheck checks a B-tree: its root page, segments, posting blocks and their score bounds, per-project statistics, deleted lists, pending list and free-list queue; with heapallindexed, that every row of the table is in it with exactly its search vector. Raises index_corrupted (XX002) naming the page and the broken invariant, or returns what the index holds as jsonb. Locks the table against writes while it runs. For the index''s owner.';

-- Rewriting, walking and checking a whole index are maintenance for its owner, not API calls.
revoke execute on function cco.optimize_rank_index(regclass) from public;
revoke execute on function cco.rank_index_segments(regclass) from public;
revoke execute on function cco.verify_rank_index(regclass, boolean) from public;

create function cco.search_messages(
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
          -- The same condition in the form Citus prunes shards by: a search of some projects
          -- goes to their shards only. On a single server, a filter on the rows the index returns.
          and (scope is null or m.project_id = any (scope))
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
          -- On Citus, the scope's shards only, as for the page.
          and (scope is null or c.project_id = any (scope))
    )
    select m.id, m.conversation_id, m.project_id, m.role, m.content, m."timestamp", m.token_count,
           (0 - m.distance)::real, cco.highlight(m.content, search_query), p.name, c.title
    from page m
    join page_projects p on p.id = m.project_id
    left join page_conversations c on c.id = m.conversation_id and c.project_id = m.project_id
    order by m.distance, m."timestamp" desc, m.id;
end
$$;

comment on function cco.search_messages(text, uuid[], uuid[], text[], integer, integer) is
    'Messages matching a web-style query, best first (BM25), with highlighted fragments. Optional filters: projects, conversations, roles. limit_count up to 1000. Row level security applies.';

create function cco.search_conversations(
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

comment on function cco.search_conversations(text, uuid[], integer, integer) is
    'Conversations whose title, file path or messages match a web-style query, best first: title matches count double, then the best matching message, then how many messages matched. Row level security applies.';

create function cco.search_projects(
    search_query text,
    limit_count integer default 50,
    offset_count integer default 0)
returns table (id uuid, name text, description text, path text, last_activity timestamptz,
               conversation_count bigint, rank real, headline text)
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
begin
    perform cco.check_page(limit_count, offset_count, 1000);
    return query
    with query as (
        select cco.to_tsquery(search_query) as tsquery, cco.query_terms(search_query) as terms
    ),
    projects_seen as (
        select count(*) as documents,
               coalesce(avg(cco.search_length(p.search_vector)), 0) as average_length
        from cco.projects p
    ),
    term_frequencies as (
        select array_agg(f.projects order by t.position) as frequencies
        from query q
        cross join lateral unnest(q.terms) with ordinality as t(term, position)
        cross join lateral (
            select count(*) as projects from cco.projects p
            where p.search_vector operator(cco.@@) cco.lexeme_tsquery(t.term)
        ) as f
    ),
    title_matches as (
        -- conversations whose title matches: a project about the query talks about it
        select c.project_id, count(*) as conversations
        from query q
        join cco.conversations c on c.search_vector operator(cco.@@) q.tsquery
        group by c.project_id
    ),
    ranked as (
        select p.id, p.name, p.description, p.path, p.last_activity,
               (coalesce(cco.rank(case when p.search_vector operator(cco.@@) q.tsquery then p.search_vector end,
                                  q.terms, f.frequencies, s.documents, s.average_length), 0)
                + 0.5 * ln(1 + coalesce(tm.conversations, 0)))::real as score
        from cco.projects p
        cross join query q
        cross join projects_seen s
        cross join term_frequencies f
        left join title_matches tm on tm.project_id = p.id
        where p.search_vector operator(cco.@@) q.tsquery or tm.project_id is not null
        order by score desc, p.last_activity desc nulls last, p.id
        limit limit_count offset offset_count
    ),
    -- The page's conversation counts in one aggregate (Citus refuses a correlated subquery here)
    conversation_counts as (
        select c.project_id, count(*) as conversations
        from cco.conversations c
        where c.project_id = any (array(select r.id from ranked r))
        group by c.project_id
    )
    select r.id, r.name, r.description, r.path, r.last_activity,
           coalesce(cc.conversations, 0),
           r.score,
           cco.highlight(concat_ws(' — ', r.name, r.description, r.path), search_query)
    from ranked r
    left join conversation_counts cc on cc.project_id = r.id
    order by r.score desc, r.last_activity desc nulls last, r.id;
end
$$;

comment on function cco.search_projects(text, integer, integer) is
    'Projects whose name, description or path match a web-style query, or whose conversations'' titles do, best first. Row level security applies.';

create function cco.search_tool_usage(
    tool_name_pattern text default null,
    project_ids uuid[] default null,
    status_filter text[] default null,
    date_from timestamptz default null,
    date_to timestamptz default null,
    limit_count integer default 100)
returns table (tool_call_id uuid, message_id uuid, conversation_id uuid, project_id uuid,
               tool_name text, status text, execution_time_ms bigint, started_at timestamptz,
               input_data jsonb, project_name text)
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
declare
    -- The pattern is matched literally and case-insensitively, except that * matches anything:
    -- LIKE's own wildcards and escape character in user input are escaped first.
    like_pattern text := case
        when tool_name_pattern is null or tool_name_pattern = '' then null
        else replace(replace(replace(replace(tool_name_pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
    end;
begin
    perform cco.check_page(limit_count, 0, 10000);
    if date_from is not null and date_to is not null and date_from > date_to then
        raise exception 'date_from (%) is after date_to (%)', date_from, date_to
            using errcode = 'invalid_parameter_value';
    end if;
    return query
    select t.id, t.message_id, t.conversation_id, t.project_id, t.tool_name, t.status,
           t.execution_time_ms, t.started_at, t.input_data, p.name
    from cco.tool_calls t
    join cco.projects p on p.id = t.project_id
    where (like_pattern is null or t.tool_name ilike like_pattern)
      and (project_ids is null or t.project_id = any (project_ids))
      and (status_filter is null or t.status = any (status_filter))
      and (date_from is null or t.started_at >= date_from)
      and (date_to is null or t.started_at <= date_to)
    order by t.started_at desc nulls last, t.id
    limit limit_count;
end
$$;

comment on function cco.search_tool_usage(text, uuid[], text[], timestamptz, timestamptz, integer) is
    'Tool calls, newest first, filtered by tool name (case-insensitive; * matches anything, other characters literally), projects, statuses and a time range. Row level security applies.';

create function cco.similar_messages(
    target_content text,
    conversation_ids uuid[] default null,
    similarity_threshold real default 0.3,
    limit_count integer default 20)
returns table (id uuid, conversation_id uuid, content text, similarity real, "timestamp" timestamptz)
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
declare
    -- Candidates share the target's most telling terms: the index finds them, pg_trgm then measures
    -- how similar each really is. No session setting (pg_trgm.similarity_threshold) is touched:
    -- the threshold is compared explicitly.
    candidates_query tsquery;
begin
    perform cco.check_page(limit_count, 0, 1000);
    if similarity_threshold is null or similarity_threshold < 0 or similarity_threshold > 1 then
        raise exception 'similarity_threshold must be between 0 and 1, got %', similarity_threshold
            using errcode = 'invalid_parameter_value';
    end if;
    select string_agg(cco.lexeme_tsquery(term)::text, ' | ')::tsquery
    into candidates_query
    from (
        select term from unnest(cco.tokenize(left(target_content, 4000))) as term
        group by term
        order by length(term) desc, term
        limit 12
    ) as telling;
    if candidates_query is null then
        return;
    end if;
    return query
    select c.id, c.conversation_id, c.content, c.score, c."timestamp"
    from (
        select m.id, m.conversation_id, m.content, m."timestamp",
               similarity(left(m.content, 4000), left(target_content, 4000)) as score
        from (
            select * from cco.messages m
            where m.search_vector operator(cco.@@) candidates_query
              and (conversation_ids is null or m.conversation_id = any (conversation_ids))
            limit 5000
        ) as m
    ) as c
    where c.score >= similarity_threshold
    order by c.score desc, c."timestamp" desc, c.id
    limit limit_count;
end
$$;

comment on function cco.similar_messages(text, uuid[], real, integer) is
    'Messages whose text is similar to the target (pg_trgm similarity of the first 4000 characters, at least similarity_threshold), most similar first. Candidates come from the search index through the target''s most telling terms; no session settings are changed. Row level security applies.';

create function cco.get_search_suggestions(
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

comment on function cco.get_search_suggestions(text, text, integer) is
    'Completions of a partial query as the user types: for message, the caller''s earlier searches and words of matching messages (a bounded sample found through the index); for tool, tool names; for project, project names. Row level security applies.';

create function cco.log_search_query(
    query_text text,
    search_type text,
    result_count integer,
    execution_time_ms integer,
    filters jsonb default '{}')
returns uuid
language plpgsql volatile security invoker
as $$
declare
    entry uuid;
begin
    if cco.current_user_id() is null then
        raise exception 'logging a search needs a signed-in user (no valid sub claim)'
            using errcode = 'insufficient_privilege';
    end if;
    insert into cco.search_history (user_id, query, search_type, result_count, execution_time_ms, filters)
    values (cco.current_user_id(), query_text, search_type, result_count, execution_time_ms,
            coalesce(filters, '{}'))
    returning id into entry;
    return entry;
end
$$;

comment on function cco.log_search_query(text, text, integer, integer, jsonb) is
    'Records a search in the caller''s search history and returns its id. Needs a signed-in user; the table''s constraints check the values.';
