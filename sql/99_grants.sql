-- Table privileges for the roles that connect on behalf of users. Row level security decides which
-- rows; these grants decide which statements. This file runs last, when every relation exists.
--
-- Materialized views are never granted: they bypass row level security, so users read them through
-- security-invoker views and functions that filter to their projects.

create function cco.grant_api_access(grantee regrole) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    relation record;
    privileges text;
begin
    execute format('grant usage on schema cco to %s', grantee);
    for relation in
        select c.relname, c.relkind
        from pg_class c
        where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'v')
          -- the extension's own bookkeeping on Citus (sql/10_citus.sql)
          and c.relname <> 'project_activity_changes'
        order by c.relname
    loop
        privileges := case
            when relation.relkind = 'v' then 'select'
            -- Written only by triggers; nobody changes the trail through the API.
            when relation.relname = 'audit_log' then 'select'
            -- Which login is which user: an administrator's table (sql/03_security.sql).
            when relation.relname = 'user_logins' then 'select'
            -- Users keep and clear their own history; entries are never edited.
            when relation.relname = 'search_history' then 'select, insert, delete'
            -- Reference data: row level security lets only the service role change it.
            when relation.relname = 'model_pricing' then 'select, insert, update, delete'
            else 'select, insert, update, delete'
        end;
        execute format('grant %s on cco.%I to %s', privileges, relation.relname, grantee);
    end loop;
    if grantee::text = 'service_role' then
        execute format('grant execute on function cco.refresh_analytics() to %s', grantee);
    end if;
end
$$;

comment on function cco.grant_api_access(regrole) is
    'Grants a role what the API needs: schema usage, the data tables, the audit trail read-only, and the views. Run it for each role that connects on behalf of users; on Supabase-style platforms it already ran for anon, authenticated and service_role.';

-- On Supabase-style platforms the API roles exist: grant them now. On plain PostgreSQL nothing is
-- granted until an administrator calls cco.grant_api_access(), so no role gets access by accident.
do $$
declare
    api_role text;
begin
    for api_role in
        select rolname from pg_roles where rolname in ('anon', 'authenticated', 'service_role')
    loop
        perform cco.grant_api_access(api_role::regrole);
    end loop;
end
$$;

-- Granting is an administrator's act, not an API call.
revoke execute on function cco.grant_api_access(regrole) from public;
