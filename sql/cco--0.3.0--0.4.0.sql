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
