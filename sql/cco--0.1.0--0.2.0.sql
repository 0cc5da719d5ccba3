-- Updates cco 0.1.0 to 0.2.0 in place: ALTER EXTENSION cco UPDATE.
--
-- Every change to the schema files since 0.1.0 (frozen in releases/cco--0.1.0.sql) is repeated
-- here, so an updated database ends up exactly as a fresh install of 0.2.0; the client test
-- tests/client/test_upgrade.py compares the two object by object.

\echo Use "ALTER EXTENSION cco UPDATE" to load this file. \quit

-- Document frequencies are counted with the term's tsquery held in a variable, so searches under
-- row level security use the search index for them too.
create or replace function cco.search_statistics(
    search_query text,
    project_ids uuid[] default null,
    conversation_ids uuid[] default null)
returns table (terms text[], document_frequencies bigint[], document_count bigint,
               average_length double precision)
language plpgsql stable security invoker parallel safe
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

