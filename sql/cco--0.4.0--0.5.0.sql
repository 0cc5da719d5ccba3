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

----------------------------------------------------------------------------------------------
-- Tenant isolation: identity by login (claims only from API logins, cco.api_logins), statistics
-- and locks keyed by (id, project_id), notifications without ids, owner_id only ever the caller,
-- server-generated project ids. The same statements as sql/03_security.sql, sql/04_triggers.sql
-- and sql/99_grants.sql.

-- Identity: what the functions read now (src/identity.rs).
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

-- Ownership: owner_id becomes only the caller, hand-over by the receiver, ids from the server.
-- A project's owner_id names only the caller: a user takes over a project they co-own (a member
-- with role owner) by setting owner_id to themselves, never hands it to someone who did not ask.
-- Were any other value allowed, the unique keys (owner_id, name) and (owner_id, path) would
-- answer whether another user has a project of that name or path. Callers with full access (the
-- service role, superusers, roles that bypass row level security) may set anything.
create or replace function cco.project_guard_owner() returns trigger
language plpgsql
as $$
begin
    if new.owner_id is distinct from old.owner_id
       and not cco.has_full_access()
       and not coalesce(new.owner_id = cco.current_user_id() and old.id = any (cco.owned_project_ids()), false)
    then
        raise exception 'owner_id of project % can only become your own user id, and only when you are an owner of it', old.id
            using errcode = 'insufficient_privilege',
                  hint = 'To hand a project over, add the new owner as a member with role owner; they call cco.take_over_project.';
    end if;
    return new;
end
$$;

comment on function cco.project_guard_owner() is
    'Rejects a change of owner_id unless the caller, an owner of the project, sets it to themselves (or has full access).';

-- Projects created through the API get an id from the server: an id the caller chose could collide
-- with another user's project and so tell them it exists. Full access keeps the id it gives
-- (restores, imports, administrators).
create function cco.project_assign_id() returns trigger
language plpgsql
as $$
begin
    if not cco.has_full_access() then
        new.id := gen_random_uuid();
    end if;
    return new;
end
$$;

comment on function cco.project_assign_id() is
    'Gives a project created by a caller without full access a server-generated id, so that ids never collide with (and reveal) other users'' projects.';

create trigger projects_assign_id
    before insert on cco.projects
    for each row execute function cco.project_assign_id();

-- The hand-over, both sides agreeing: the owner made the new owner a member with role owner, and
-- the new owner takes the project. The previous owner stays a co-owner until someone removes them.
create function cco.take_over_project(project uuid) returns void
language plpgsql
security invoker
set search_path = pg_catalog, pg_temp
as $$
declare
    me uuid := cco.current_user_id();
    previous uuid;
begin
    if me is null then
        raise exception 'taking over a project needs an identity'
            using errcode = 'insufficient_privilege';
    end if;
    select p.owner_id into previous from cco.projects p where p.id = project;
    if not found or not project = any (cco.owned_project_ids()) then
        raise exception 'project % does not exist or you are not one of its owners', project
            using errcode = 'insufficient_privilege',
                  hint = 'Its owner adds you as a member with role owner first.';
    end if;
    if previous is not distinct from me then
        return;
    end if;
    update cco.projects set owner_id = me where id = project;
    delete from cco.project_members where project_id = project and user_id = me;
    if previous is not null then
        insert into cco.project_members (project_id, user_id, role)
        values (project, previous, 'owner')
        on conflict (project_id, user_id) do update set role = 'owner';
    end if;
end
$$;

comment on function cco.take_over_project(uuid) is
    'Makes the caller the owner (owner_id) of a project they co-own as a member with role owner; the previous owner becomes a member with role owner.';

-- Statistics: locks and max(timestamp) by (id, project_id), never by conversation id alone.
create or replace function cco.lock_for_statistics(conversation_ids uuid[], project_ids uuid[]) returns void
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
    select count(*) from (
        select 1 from cco.projects where id = any (project_ids)
        order by id for no key update
    ) as projects_locked;
    select count(*) from (
        select 1 from cco.conversations
        where id = any (conversation_ids) and project_id = any (project_ids)
        order by id, project_id for no key update
    ) as conversations_locked;
$$;

comment on function cco.lock_for_statistics(uuid[], uuid[]) is
    'Locks projects, then their conversations of the given ids, in id order before their statistics change, so concurrent writers queue instead of deadlocking.';

create or replace function cco.messages_count_deleted() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    perform cco.lock_for_statistics(
        array(select distinct conversation_id from deleted_messages),
        array(select distinct project_id from deleted_messages));

    update cco.conversations c
    set message_count         = c.message_count - removed.messages,
        input_tokens          = c.input_tokens - removed.input_tokens,
        output_tokens         = c.output_tokens - removed.output_tokens,
        cache_creation_tokens = c.cache_creation_tokens - removed.cache_creation_tokens,
        cache_read_tokens     = c.cache_read_tokens - removed.cache_read_tokens,
        search_length         = c.search_length - removed.search_length,
        last_updated          = (select max(m."timestamp") from cco.messages m
                                 where m.conversation_id = c.id and m.project_id = c.project_id)
    from (
        select conversation_id, project_id,
               count(*)                               as messages,
               sum(input_tokens)                      as input_tokens,
               sum(output_tokens)                     as output_tokens,
               sum(cache_creation_tokens)             as cache_creation_tokens,
               sum(cache_read_tokens)                 as cache_read_tokens,
               sum(cco.search_length(search_vector))  as search_length
        from deleted_messages
        group by conversation_id, project_id
    ) as removed
    where c.id = removed.conversation_id and c.project_id = removed.project_id;

    update cco.projects p
    set last_activity = (select max(c.last_updated) from cco.conversations c
                         where c.project_id = p.id)
    where p.id in (select project_id from deleted_messages);
    return null;
end
$$;

comment on function cco.messages_count_deleted() is
    'After messages are deleted, subtracts them from their conversations and recomputes last_updated and last_activity.';

create or replace function cco.messages_count_updated() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    changed_conversations uuid[];
    changed_projects uuid[];
begin
    select array_agg(distinct n.conversation_id), array_agg(distinct n.project_id)
    into changed_conversations, changed_projects
    from updated_new n
    join updated_old o on o.id = n.id and o.project_id = n.project_id
    where (n.input_tokens, n.output_tokens, n.cache_creation_tokens, n.cache_read_tokens, n."timestamp",
           n.content)
          is distinct from
          (o.input_tokens, o.output_tokens, o.cache_creation_tokens, o.cache_read_tokens, o."timestamp",
           o.content);
    if changed_conversations is null then
        return null;
    end if;

    perform cco.lock_for_statistics(changed_conversations, changed_projects);

    update cco.conversations c
    set input_tokens          = c.input_tokens + d.input_tokens,
        output_tokens         = c.output_tokens + d.output_tokens,
        cache_creation_tokens = c.cache_creation_tokens + d.cache_creation_tokens,
        cache_read_tokens     = c.cache_read_tokens + d.cache_read_tokens,
        search_length         = c.search_length + d.search_length,
        last_updated          = case when d.retimed
                                     then (select max(m."timestamp") from cco.messages m
                                           where m.conversation_id = c.id
                                             and m.project_id = c.project_id)
                                     else c.last_updated end
    from (
        select n.conversation_id, n.project_id,
               sum(n.input_tokens - o.input_tokens)                   as input_tokens,
               sum(n.output_tokens - o.output_tokens)                 as output_tokens,
               sum(n.cache_creation_tokens - o.cache_creation_tokens) as cache_creation_tokens,
               sum(n.cache_read_tokens - o.cache_read_tokens)         as cache_read_tokens,
               sum(cco.search_length(n.search_vector)
                   - cco.search_length(o.search_vector))              as search_length,
               bool_or(n."timestamp" <> o."timestamp")                as retimed
        from updated_new n
        join updated_old o on o.id = n.id and o.project_id = n.project_id
        where n.conversation_id = any (changed_conversations)
        group by n.conversation_id, n.project_id
    ) as d
    where c.id = d.conversation_id and c.project_id = d.project_id;

    update cco.projects p
    set last_activity = (select max(c.last_updated) from cco.conversations c
                         where c.project_id = p.id)
    where p.id in (
        select n.project_id
        from updated_new n
        join updated_old o on o.id = n.id and o.project_id = n.project_id
        where n."timestamp" <> o."timestamp");
    return null;
end
$$;

comment on function cco.messages_count_updated() is
    'After messages are updated, applies token changes to their conversations and recomputes last_updated and last_activity when timestamps moved.';

-- Notifications: a bare signal; the trigger no longer needs the inserted rows.
create or replace function cco.messages_notify_inserted() returns trigger
language plpgsql
as $$
begin
    perform pg_notify('cco_messages', '');
    return null;
end
$$;

comment on function cco.messages_notify_inserted() is
    'Notifies channel cco_messages, with an empty payload, once per statement that inserted messages: listeners then read what they may see.';

drop trigger messages_notify_inserted on cco.messages;
create trigger messages_notify_inserted
    after insert on cco.messages
    for each statement execute function cco.messages_notify_inserted();

-- Conversations' and projects' searches through ranked indexes, which confine callers to their
-- projects inside the scan (sql/02_indexes.sql).
drop index cco.conversations_search_idx;
drop index cco.projects_search_idx;
create index conversations_search_idx on cco.conversations using cco_rank (project_id, search_vector);
create index projects_search_idx on cco.projects using cco_rank (id, search_vector);

-- API grants: cco.user_logins is read-only for API roles; grant the new table to the roles
-- the installer granted.
create or replace function cco.grant_api_access(grantee regrole) returns void
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

-- Rank index verification: cco.verify_rank_index, an amcheck-style check of a cco_rank index
-- (and, with heapallindexed, of its table's rows against it), new in 0.5.0 (sql/06_search.sql).
CREATE  FUNCTION "verify_rank_index"(
	"index" regclass, /* pgrx::rel::PgRelation */
	"heapallindexed" bool DEFAULT false /* bool */
) RETURNS jsonb /* pgrx::datum::json::JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'verify_rank_index_wrapper';

comment on function cco.verify_rank_index(regclass, boolean) is
    'Checks a cco_rank index like amcheck checks a B-tree: its root page, segments, posting blocks and their score bounds, per-project statistics, deleted lists, pending list and free-list queue; with heapallindexed, that every row of the table is in it with exactly its search vector. Raises index_corrupted (XX002) naming the page and the broken invariant, or returns what the index holds as jsonb. Locks the table against writes while it runs. For the index''s owner.';

revoke execute on function cco.verify_rank_index(regclass, boolean) from public;
