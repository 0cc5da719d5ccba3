-- Who sees what. Identity comes from one of two ways in (src/identity.rs,
-- cco_core::claims::Session::identity_source):
--
--   API login: a session opened by a login named in the cco.api_logins setting (PostgREST's
--          authenticator by default) is identified by the JWT claims the gateway verified and set
--          for the request (request.jwt.claims); the service_role claim counts only when the
--          request also runs as the service_role database role;
--   own login: any other session is identified by the login the server authenticated, through
--          cco.user_logins; whatever claims it sets are ignored. (A superuser's claims are
--          believed: it may read and change everything anyway.)
--
-- Access is per project:
--
--   owner (projects.owner_id, or member with role owner): everything in the project, including
--          deleting it and managing its members;
--   editor: reads and writes conversations, messages and tool calls, edits the project;
--   viewer: reads;
--   anyone else, and callers without identity: nothing;
--   service_role (claim and database role), or a database role with BYPASSRLS: everything.
--
-- Policies decide on project_id alone: the caller's project ids are computed once per statement
-- (the "(select ...)" form becomes an initPlan) and rows are filtered with "= any(array)", which
-- the planner can match to an index, instead of a join or a function call per row.

comment on function cco.current_user_id() is
    'The caller''s user id: on a session of an API login (cco.api_logins), the sub claim of request.jwt.claims (or request.jwt.claim.sub) as a uuid; on any other session, the user id cco.user_logins maps its login to. NULL when there is none or it is malformed.';
comment on function cco.current_user_role() is
    'The caller''s role claim from request.jwt.claims (or request.jwt.claim.role) on a session of an API login; NULL when absent and on other sessions.';
comment on function cco.is_service_role() is
    'True when a request of an API login carries the service_role claim and runs as the service_role database role: it sees and changes everything.';

-- Logins that are users. A developer who connects with their own login (psql, cco-load) is the
-- user this table names, whatever claims the session sets. Only the extension owner writes it, or
-- an administrator role it grants insert, update and delete to; everyone reads their own row
-- (cco.current_user_id() reads it with the caller's rights).
create table cco.user_logins (
    login      text        not null,
    user_id    uuid        not null,
    created_at timestamptz not null default now(),
    constraint user_logins_pkey primary key (login),
    constraint user_logins_login_check check (length(login) between 1 and 63)
);

comment on table cco.user_logins is
    'Database logins that identify a user: a session whose login (session_user) is listed here, and is not an API login, acts as that user id. Written by the extension owner or an administrator it grants writes to.';
comment on column cco.user_logins.login is 'Role name the server authenticates (session_user).';
comment on column cco.user_logins.user_id is 'User id the login acts as (the same ids as JWT sub claims); several logins may share one.';
comment on column cco.user_logins.created_at is 'When the login was mapped.';

select pg_catalog.pg_extension_config_dump('cco.user_logins', '');

alter table cco.user_logins enable row level security;

-- Each login reads its own row; whoever may write the table (an administrator) reads all of it.
create policy user_logins_select on cco.user_logins for select using (
    login = session_user or pg_catalog.has_table_privilege('cco.user_logins', 'insert'));
create policy user_logins_insert on cco.user_logins for insert with check (true);
create policy user_logins_update on cco.user_logins for update using (true) with check (true);
create policy user_logins_delete on cco.user_logins for delete using (true);

grant select on cco.user_logins to public;

-- The membership helpers run as the extension owner so that the policies on project_members do not
-- recurse into themselves. They return only the caller's own project ids. PL/pgSQL rather than
-- SQL: a search calls them for every table it reads, and PL/pgSQL keeps their plans where a SQL
-- function with these settings is planned again at every call. The caller's id is read once, not
-- once per row compared.
create function cco.readable_project_ids() returns uuid[]
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

create function cco.writable_project_ids() returns uuid[]
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

create function cco.owned_project_ids() returns uuid[]
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

-- Operators' views (sizes, row counts, index use) describe the whole database, so they show
-- rows only to callers who may see everything. The caller is judged by the role they act as
-- (the one SET ROLE chose, else the one they logged in as), never by current_user: inside a
-- SECURITY DEFINER function current_user is the function's owner, not the caller.
create function cco.has_full_access() returns boolean
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

-- PL/pgSQL, like the membership helpers: a SQL function is planned anew at every call. Its
-- search_path is pinned because it is called from functions that pin theirs and from functions
-- that do not: PostgreSQL replans a function's statements whenever it is called under another
-- search_path than the last time.
comment on function cco.has_full_access() is
    'True when the caller (the role they act as, also inside SECURITY DEFINER functions) has the service role claim, is a superuser or bypasses row level security.';

comment on function cco.readable_project_ids() is
    'Projects the caller owns or is a member of (any role). Used by row level security.';
comment on function cco.writable_project_ids() is
    'Projects the caller owns or edits. Used by row level security.';
comment on function cco.owned_project_ids() is
    'Projects the caller owns. Used by row level security.';

alter table cco.projects        enable row level security;
alter table cco.project_members enable row level security;
alter table cco.conversations   enable row level security;
alter table cco.messages        enable row level security;
alter table cco.tool_calls      enable row level security;
alter table cco.transcript_summaries enable row level security;
alter table cco.model_pricing   enable row level security;
alter table cco.audit_log       enable row level security;
alter table cco.search_history  enable row level security;

-- Projects. A caller with identity may create projects they own; the owner_id test lets an
-- INSERT ... RETURNING see the new row before any membership exists.
create policy projects_select on cco.projects for select using (
    (select cco.is_service_role())
    or id = any ((select cco.readable_project_ids())::uuid[])
    or owner_id = (select cco.current_user_id()));
create policy projects_insert on cco.projects for insert with check (
    (select cco.is_service_role())
    or owner_id = (select cco.current_user_id()));
create policy projects_update on cco.projects for update
    using ((select cco.is_service_role()) or id = any ((select cco.writable_project_ids())::uuid[]))
    with check ((select cco.is_service_role()) or id = any ((select cco.writable_project_ids())::uuid[]));
create policy projects_delete on cco.projects for delete using (
    (select cco.is_service_role()) or id = any ((select cco.owned_project_ids())::uuid[]));

-- Memberships: members see who else is in the project; only owners change them.
create policy project_members_select on cco.project_members for select using (
    (select cco.is_service_role())
    or project_id = any ((select cco.readable_project_ids())::uuid[])
    or user_id = (select cco.current_user_id()));
create policy project_members_insert on cco.project_members for insert with check (
    (select cco.is_service_role()) or project_id = any ((select cco.owned_project_ids())::uuid[]));
create policy project_members_update on cco.project_members for update
    using ((select cco.is_service_role()) or project_id = any ((select cco.owned_project_ids())::uuid[]))
    with check ((select cco.is_service_role()) or project_id = any ((select cco.owned_project_ids())::uuid[]));
create policy project_members_delete on cco.project_members for delete using (
    (select cco.is_service_role()) or project_id = any ((select cco.owned_project_ids())::uuid[]));

-- Conversation data: the same four policies on each table, readable by members and writable by
-- editors and owners.
do $policies$
declare
    data_table text;
begin
    foreach data_table in array array['conversations', 'messages', 'tool_calls', 'transcript_summaries'] loop
        execute format($sql$
            create policy %1$s_select on cco.%1$I for select using (
                (select cco.is_service_role())
                or project_id = any ((select cco.readable_project_ids())::uuid[]));
            create policy %1$s_insert on cco.%1$I for insert with check (
                (select cco.is_service_role())
                or project_id = any ((select cco.writable_project_ids())::uuid[]));
            create policy %1$s_update on cco.%1$I for update
                using ((select cco.is_service_role())
                       or project_id = any ((select cco.writable_project_ids())::uuid[]))
                with check ((select cco.is_service_role())
                       or project_id = any ((select cco.writable_project_ids())::uuid[]));
            create policy %1$s_delete on cco.%1$I for delete using (
                (select cco.is_service_role())
                or project_id = any ((select cco.writable_project_ids())::uuid[]));
            $sql$, data_table);
    end loop;
end
$policies$;

-- Prices are reference data: everyone reads them, the service role maintains them.
create policy model_pricing_select on cco.model_pricing for select using (true);
create policy model_pricing_insert on cco.model_pricing for insert with check ((select cco.is_service_role()));
create policy model_pricing_update on cco.model_pricing for update
    using ((select cco.is_service_role())) with check ((select cco.is_service_role()));
create policy model_pricing_delete on cco.model_pricing for delete using ((select cco.is_service_role()));

-- The audit trail is written only by its trigger and read by the service role and by owners for
-- their own projects. No policy allows INSERT, UPDATE or DELETE, and no API role is granted them.
create policy audit_log_select on cco.audit_log for select using (
    (select cco.is_service_role()) or project_id = any ((select cco.owned_project_ids())::uuid[]));

-- Search history is private to each user.
create policy search_history_select on cco.search_history for select using (
    (select cco.is_service_role()) or user_id = (select cco.current_user_id()));
create policy search_history_insert on cco.search_history for insert with check (
    (select cco.is_service_role()) or user_id = (select cco.current_user_id()));
create policy search_history_delete on cco.search_history for delete using (
    (select cco.is_service_role()) or user_id = (select cco.current_user_id()));
