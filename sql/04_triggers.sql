-- Triggers that keep derived state exact and the trail complete.
--
-- Statistics are maintained per statement from transition tables, never per row: a bulk load of
-- 100k messages costs one UPDATE per affected conversation, not 100k counts. Locks are taken
-- project first, then conversations in id order, so concurrent loaders into the same project
-- queue instead of deadlocking, and increments stay exact under concurrency.

----------------------------------------------------------------------------------------------
-- updated_at: only changes a user makes to the row itself count; statistics updates do not.

create function cco.touch_updated_at() returns trigger
language plpgsql
as $$
begin
    -- never before created_at, even if the clock or a client-supplied created_at says otherwise
    new.updated_at := greatest(now(), new.created_at);
    return new;
end
$$;

comment on function cco.touch_updated_at() is
    'Sets updated_at when a user changes a row (attached to the user-editable columns only).';

create trigger projects_touch_updated_at
    before update of name, path, description, owner_id, settings, metadata, is_active, created_at
    on cco.projects for each row execute function cco.touch_updated_at();

create trigger conversations_touch_updated_at
    before update of file_path, title, session_id, status, metadata, created_at
    on cco.conversations for each row execute function cco.touch_updated_at();

----------------------------------------------------------------------------------------------
-- Derived columns start from nothing: a row being inserted has no messages yet. This also makes
-- a pg_dump restore exact: the dumped counters are reset and rebuilt as the messages are restored.

create function cco.project_reset_activity() returns trigger
language plpgsql
as $$
begin
    new.last_activity := null;
    return new;
end
$$;

comment on function cco.project_reset_activity() is
    'A new project has no messages: last_activity starts empty and follows its messages.';

create trigger projects_reset_activity
    before insert on cco.projects
    for each row execute function cco.project_reset_activity();

create function cco.conversation_reset_statistics() returns trigger
language plpgsql
as $$
begin
    new.message_count := 0;
    new.input_tokens := 0;
    new.output_tokens := 0;
    new.cache_creation_tokens := 0;
    new.cache_read_tokens := 0;
    new.search_length := 0;
    new.last_updated := null;
    return new;
end
$$;

comment on function cco.conversation_reset_statistics() is
    'A new conversation has no messages: its statistics start at zero and follow its messages.';

create trigger conversations_reset_statistics
    before insert on cco.conversations
    for each row execute function cco.conversation_reset_statistics();

----------------------------------------------------------------------------------------------
-- Rows do not move between projects: every key and every policy depends on project_id.

create function cco.conversation_keep_project() returns trigger
language plpgsql
as $$
begin
    if new.project_id is distinct from old.project_id then
        raise exception 'conversation % cannot move to another project', old.id
            using errcode = 'feature_not_supported',
                  hint = 'Copy its messages into a conversation of the other project instead.';
    end if;
    return new;
end
$$;

comment on function cco.conversation_keep_project() is
    'Rejects changing the project of a conversation.';

create trigger conversations_keep_project
    before update of project_id on cco.conversations
    for each row execute function cco.conversation_keep_project();

-- A project's owner_id names only the caller: a user takes over a project they co-own (a member
-- with role owner) by setting owner_id to themselves, never hands it to someone who did not ask.
-- Were any other value allowed, the unique keys (owner_id, name) and (owner_id, path) would
-- answer whether another user has a project of that name or path. Callers with full access (the
-- service role, superusers, roles that bypass row level security) may set anything.
create function cco.project_guard_owner() returns trigger
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

create trigger projects_guard_owner
    before update of owner_id on cco.projects
    for each row execute function cco.project_guard_owner();

-- Projects created through the API get an id from the server: an id the caller chose could collide
-- with another user's project and so tell them it exists. Full access keeps the id it gives
-- (restores, imports, administrators).
create function cco.project_assign_id() returns trigger
language plpgsql
as $$
begin
    -- Derived from the id the statement carries (a fresh random one unless the caller gave one) and
    -- the caller, never drawn here: on Citus this trigger fires on every node's copy of the
    -- projects reference table, and each copy must get the same id.
    if not cco.has_full_access() then
        new.id := substr(encode(sha256(convert_to(
                      coalesce(new.id::text, '') || '/' || coalesce(cco.current_user_id()::text, ''),
                      'UTF8')), 'hex'), 1, 32)::uuid;
    end if;
    return new;
end
$$;

comment on function cco.project_assign_id() is
    'Gives a project created by a caller without full access an id derived from the one given and the caller, which the caller cannot choose, so that ids never collide with (and reveal) other users'' projects.';

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

----------------------------------------------------------------------------------------------
-- Messages: project_id filled in, depth computed, threads kept acyclic (Rust, src/threads.rs).

create trigger messages_begin_statement
    before insert on cco.messages
    for each statement execute function cco.messages_begin_statement();

create trigger messages_resolve_thread
    before insert or update of parent_id, depth, conversation_id, project_id on cco.messages
    for each row execute function cco.message_resolve_thread();

-- A changed parent moves a whole subtree: recompute the depths of the conversations concerned.
-- Deleting a parent reaches here too, through its ON DELETE SET NULL action.
create function cco.messages_rethread_moved() returns trigger
language plpgsql
as $$
begin
    perform cco.rebuild_thread_depths(moved.conversation_id)
    from (
        select distinct n.conversation_id
        from updated_new n
        join updated_old o on o.id = n.id and o.project_id = n.project_id
        where n.parent_id is distinct from o.parent_id
    ) as moved;
    return null;
end
$$;

comment on function cco.messages_rethread_moved() is
    'After messages change parent, recomputes the depths of their conversations in one pass each.';

create trigger messages_rethread_moved
    after update on cco.messages
    referencing old table as updated_old new table as updated_new
    for each statement execute function cco.messages_rethread_moved();

----------------------------------------------------------------------------------------------
-- Conversation and project statistics, per statement. These run as the extension owner: the
-- counters must stay exact whoever writes the messages, and the writer's rights on messages were
-- already checked by row level security.

-- Whether the statistics triggers keep projects.last_activity. Always on a single server. On Citus
-- (cco.distribute) the triggers run on the message shards, where the project is a row of a
-- reference table that only a write to every node can change, and the writer's own distributed
-- transaction may hold that row: there they note the project for the coordinator's project
-- activity worker (sql/10_citus.sql).
create function cco.maintains_project_activity() returns boolean
language sql stable parallel safe
as $$
    select current_setting('cco.distributed', true) is distinct from 'on'
$$;

comment on function cco.maintains_project_activity() is
    'False where the statistics triggers leave projects.last_activity to the project activity worker (on Citus, after cco.distribute); true on a single server.';

-- Locks the projects, then the conversations, that a statement changed, in a fixed order.
-- Conversation ids are unique only within a project: conversations are locked only within the
-- statement's projects (which row level security let the writer change), never another project's
-- conversation that happens to share an id.
-- PL/pgSQL: Citus cannot plan a SQL function's parameterised statements on a shard.
create function cco.lock_for_statistics(conversation_ids uuid[], project_ids uuid[]) returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if cco.maintains_project_activity() then
        perform from cco.projects where id = any (project_ids)
        order by id for no key update;
    end if;
    perform from cco.conversations
    where id = any (conversation_ids) and project_id = any (project_ids)
    order by id, project_id for no key update;
end
$$;

comment on function cco.lock_for_statistics(uuid[], uuid[]) is
    'Locks projects, then their conversations of the given ids, in id order before their statistics change, so concurrent writers queue instead of deadlocking.';

revoke execute on function cco.lock_for_statistics(uuid[], uuid[]) from public;

create function cco.messages_count_inserted() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    conversation_ids uuid[];
    project_ids uuid[];
    added_messages bigint[];
    added_input bigint[];
    added_output bigint[];
    added_cache_creation bigint[];
    added_cache_read bigint[];
    added_search_length bigint[];
    newest_times timestamptz[];
begin
    -- Summed per conversation from the transition table alone, before any other table is read:
    -- on Citus the statements below run as queries on the shards, which cannot see it.
    select array_agg(conversation_id), array_agg(project_id), array_agg(messages),
           array_agg(input_tokens), array_agg(output_tokens), array_agg(cache_creation_tokens),
           array_agg(cache_read_tokens), array_agg(search_length), array_agg(newest)
    into conversation_ids, project_ids, added_messages, added_input, added_output,
         added_cache_creation, added_cache_read, added_search_length, newest_times
    from (
        select conversation_id, project_id,
               count(*)                               as messages,
               sum(input_tokens)                      as input_tokens,
               sum(output_tokens)                     as output_tokens,
               sum(cache_creation_tokens)             as cache_creation_tokens,
               sum(cache_read_tokens)                 as cache_read_tokens,
               sum(cco.search_length(search_vector))  as search_length,
               max("timestamp")                       as newest
        from inserted_messages
        group by conversation_id, project_id
    ) as added;

    perform cco.lock_for_statistics(conversation_ids, project_ids);

    update cco.conversations c
    set message_count         = c.message_count + added.messages,
        input_tokens          = c.input_tokens + added.input_tokens,
        output_tokens         = c.output_tokens + added.output_tokens,
        cache_creation_tokens = c.cache_creation_tokens + added.cache_creation_tokens,
        cache_read_tokens     = c.cache_read_tokens + added.cache_read_tokens,
        search_length         = c.search_length + added.search_length,
        last_updated          = greatest(c.last_updated, added.newest)
    from unnest(conversation_ids, project_ids, added_messages, added_input, added_output,
                added_cache_creation, added_cache_read, added_search_length, newest_times)
         as added(conversation_id, project_id, messages, input_tokens, output_tokens,
                  cache_creation_tokens, cache_read_tokens, search_length, newest)
    where c.id = added.conversation_id and c.project_id = added.project_id
      and c.project_id = any (project_ids);

    if cco.maintains_project_activity() then
        update cco.projects p
        set last_activity = greatest(p.last_activity, added.newest)
        from (
            select project_id, max(newest) as newest
            from unnest(project_ids, newest_times) as per_conversation(project_id, newest)
            group by project_id
        ) as added
        where p.id = added.project_id
          and (p.last_activity is null or p.last_activity < added.newest);
    else
        perform cco.note_project_activity(project_ids);
    end if;
    return null;
end
$$;

comment on function cco.messages_count_inserted() is
    'After messages are inserted, adds them to their conversations'' counts, token totals and search lengths, and advances last_updated and the project''s last_activity.';

create trigger messages_count_inserted
    after insert on cco.messages
    referencing new table as inserted_messages
    for each statement execute function cco.messages_count_inserted();

create function cco.messages_count_deleted() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    conversation_ids uuid[];
    project_ids uuid[];
    removed_messages bigint[];
    removed_input bigint[];
    removed_output bigint[];
    removed_cache_creation bigint[];
    removed_cache_read bigint[];
    removed_search_length bigint[];
begin
    -- From the transition table alone first, as in cco.messages_count_inserted.
    select array_agg(conversation_id), array_agg(project_id), array_agg(messages),
           array_agg(input_tokens), array_agg(output_tokens), array_agg(cache_creation_tokens),
           array_agg(cache_read_tokens), array_agg(search_length)
    into conversation_ids, project_ids, removed_messages, removed_input, removed_output,
         removed_cache_creation, removed_cache_read, removed_search_length
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
    ) as removed;
    if conversation_ids is null then
        return null;
    end if;

    perform cco.lock_for_statistics(conversation_ids, project_ids);

    -- One conversation at a time: the newest remaining message is looked up within the same
    -- conversation and project, a query Citus runs on the shard at hand.
    for i in 1 .. cardinality(conversation_ids) loop
        update cco.conversations c
        set message_count         = c.message_count - removed_messages[i],
            input_tokens          = c.input_tokens - removed_input[i],
            output_tokens         = c.output_tokens - removed_output[i],
            cache_creation_tokens = c.cache_creation_tokens - removed_cache_creation[i],
            cache_read_tokens     = c.cache_read_tokens - removed_cache_read[i],
            search_length         = c.search_length - removed_search_length[i],
            last_updated          = (select max(m."timestamp") from cco.messages m
                                     where m.conversation_id = conversation_ids[i]
                                       and m.project_id = project_ids[i])
        where c.id = conversation_ids[i] and c.project_id = project_ids[i];
    end loop;

    if cco.maintains_project_activity() then
        update cco.projects p
        set last_activity = (select max(c.last_updated) from cco.conversations c
                             where c.project_id = p.id)
        where p.id = any (project_ids);
    else
        perform cco.note_project_activity(project_ids);
    end if;
    return null;
end
$$;

comment on function cco.messages_count_deleted() is
    'After messages are deleted, subtracts them from their conversations and recomputes last_updated and last_activity.';

create trigger messages_count_deleted
    after delete on cco.messages
    referencing old table as deleted_messages
    for each statement execute function cco.messages_count_deleted();

create function cco.messages_count_updated() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    conversation_ids uuid[];
    project_ids uuid[];
    changed_input bigint[];
    changed_output bigint[];
    changed_cache_creation bigint[];
    changed_cache_read bigint[];
    changed_search_length bigint[];
    retimed_flags boolean[];
    retimed_projects uuid[];
begin
    -- From the transition tables alone first, as in cco.messages_count_inserted.
    select array_agg(conversation_id), array_agg(project_id), array_agg(input_tokens),
           array_agg(output_tokens), array_agg(cache_creation_tokens), array_agg(cache_read_tokens),
           array_agg(search_length), array_agg(retimed),
           array_agg(distinct project_id) filter (where retimed)
    into conversation_ids, project_ids, changed_input, changed_output, changed_cache_creation,
         changed_cache_read, changed_search_length, retimed_flags, retimed_projects
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
        where (n.input_tokens, n.output_tokens, n.cache_creation_tokens, n.cache_read_tokens,
               n."timestamp", n.content)
              is distinct from
              (o.input_tokens, o.output_tokens, o.cache_creation_tokens, o.cache_read_tokens,
               o."timestamp", o.content)
        group by n.conversation_id, n.project_id
    ) as changed;
    if conversation_ids is null then
        return null;
    end if;

    perform cco.lock_for_statistics(conversation_ids, project_ids);

    -- One conversation at a time, as in cco.messages_count_deleted.
    for i in 1 .. cardinality(conversation_ids) loop
        update cco.conversations c
        set input_tokens          = c.input_tokens + changed_input[i],
            output_tokens         = c.output_tokens + changed_output[i],
            cache_creation_tokens = c.cache_creation_tokens + changed_cache_creation[i],
            cache_read_tokens     = c.cache_read_tokens + changed_cache_read[i],
            search_length         = c.search_length + changed_search_length[i],
            last_updated          = case when retimed_flags[i]
                                         then (select max(m."timestamp") from cco.messages m
                                               where m.conversation_id = conversation_ids[i]
                                                 and m.project_id = project_ids[i])
                                         else c.last_updated end
        where c.id = conversation_ids[i] and c.project_id = project_ids[i];
    end loop;

    if retimed_projects is null then
        return null;
    elsif cco.maintains_project_activity() then
        update cco.projects p
        set last_activity = (select max(c.last_updated) from cco.conversations c
                             where c.project_id = p.id)
        where p.id = any (retimed_projects);
    else
        perform cco.note_project_activity(retimed_projects);
    end if;
    return null;
end
$$;

comment on function cco.messages_count_updated() is
    'After messages are updated, applies token changes to their conversations and recomputes last_updated and last_activity when timestamps moved.';

create trigger messages_count_updated
    after update on cco.messages
    referencing old table as updated_old new table as updated_new
    for each statement execute function cco.messages_count_updated();

----------------------------------------------------------------------------------------------
-- Tool calls take their conversation and project from the message that issued them.

-- Message ids, like conversation ids, are unique only within a project. The row trigger fills in a
-- tool call's project with this on a single server; on Citus, which must know the project before
-- it routes the row, the INSERT itself calls it (src/citus_inserts.rs).
create function cco.message_project(message_id uuid) returns uuid
language plpgsql stable parallel safe
as $$
declare
    projects uuid[];
begin
    select array_agg(m.project_id) into projects
    from (select project_id from cco.messages where id = message_id limit 2) as m;
    if projects is null then
        raise exception 'message % does not exist or is not visible to you', message_id
            using errcode = 'foreign_key_violation';
    end if;
    if cardinality(projects) > 1 then
        raise exception 'message % is in more than one project you can see: give the tool call''s project_id',
            message_id
            using errcode = 'cardinality_violation';
    end if;
    return projects[1];
end
$$;

comment on function cco.message_project(uuid) is
    'The project of a message the caller can see, for tool calls inserted without project_id.';

comment on function cco.conversation_project(uuid) is
    'The project of a conversation the caller can see, for messages inserted without project_id.';

create function cco.tool_call_resolve_message() returns trigger
language plpgsql
as $$
declare
    issuer record;
begin
    if tg_op = 'UPDATE' then
        if (new.message_id, new.conversation_id, new.project_id)
           is distinct from (old.message_id, old.conversation_id, old.project_id) then
            raise exception 'tool call % cannot move to another message', old.id
                using errcode = 'feature_not_supported';
        end if;
        return new;
    end if;

    select m.conversation_id, m.project_id into issuer
    from cco.messages m
    where m.id = new.message_id
      and m.project_id = coalesce(new.project_id, cco.message_project(new.message_id));
    if not found then
        raise exception 'message % does not exist or is not visible to you', new.message_id
            using errcode = 'foreign_key_violation';
    end if;
    if new.conversation_id is not null and new.conversation_id <> issuer.conversation_id then
        raise exception 'tool call conversation % does not match message % (conversation %)',
            new.conversation_id, new.message_id, issuer.conversation_id
            using errcode = 'check_violation';
    end if;
    new.conversation_id := issuer.conversation_id;
    new.project_id := issuer.project_id;
    return new;
end
$$;

comment on function cco.tool_call_resolve_message() is
    'Fills conversation_id and project_id of a tool call from its message, and keeps them fixed.';

create trigger tool_calls_resolve_message
    before insert or update of message_id, conversation_id, project_id on cco.tool_calls
    for each row execute function cco.tool_call_resolve_message();

----------------------------------------------------------------------------------------------
-- Audit trail. Written as the extension owner so users cannot write or forge entries; the actor
-- is the JWT identity of the request and the database role it runs as.

create function cco.audit_row_change() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    -- trigger arguments: the record id column, the project id column, then columns maintained
    -- by triggers, whose changes alone are bookkeeping and not audited
    record_column  text   := tg_argv[0];
    project_column text   := tg_argv[1];
    derived        text[] := tg_argv[2:];
    -- the search vector is derived from the other columns: noise in a trail of changes
    old_values     jsonb  := case when tg_op <> 'INSERT' then to_jsonb(old) - 'search_vector' end;
    new_values     jsonb  := case when tg_op <> 'DELETE' then to_jsonb(new) - 'search_vector' end;
    row_values     jsonb  := coalesce(new_values, old_values);
begin
    if tg_op = 'UPDATE' and (old_values - derived) = (new_values - derived) then
        return null;
    end if;
    -- On Citus (cco.distribute sets cco.distributed here) one node's copy writes the entry of a
    -- reference table's row (sql/10_citus.sql); a shard's own node always holds its entries.
    if current_setting('cco.distributed', true) is not distinct from 'on'
       and not cco.holds_audit_shard((row_values ->> project_column)::uuid) then
        return null;
    end if;
    insert into cco.audit_log (user_id, user_role, db_role, table_name, operation,
                               record_id, project_id, old_values, new_values)
    values (cco.current_user_id(),
            cco.current_user_role(),
            coalesce(nullif(current_setting('role'), 'none'), session_user),
            -- on Citus the trigger fires on a shard, named after its table and shard id
            tg_table_schema || '.' || regexp_replace(tg_table_name, '_[0-9]+$', ''),
            tg_op,
            (row_values ->> record_column)::uuid,
            (row_values ->> project_column)::uuid,
            old_values,
            new_values);
    return null;
end
$$;

comment on function cco.audit_row_change() is
    'Appends one cco.audit_log entry per changed row: who (JWT sub and role, database role), what (table, operation, row before and after), when.';

create trigger projects_audit
    after insert or update or delete on cco.projects
    for each row execute function cco.audit_row_change('id', 'id', 'last_activity', 'updated_at');

create trigger project_members_audit
    after insert or update or delete on cco.project_members
    for each row execute function cco.audit_row_change('user_id', 'project_id');

create trigger conversations_audit
    after insert or update or delete on cco.conversations
    for each row execute function cco.audit_row_change(
        'id', 'project_id', 'message_count', 'input_tokens', 'output_tokens',
        'cache_creation_tokens', 'cache_read_tokens', 'search_length', 'last_updated', 'updated_at',
        'model');

----------------------------------------------------------------------------------------------
-- Live updates. On Supabase-style platforms Realtime streams the tables of the publication
-- supabase_realtime and checks every change against row level security for each subscriber: that
-- is the per-tenant feed. Elsewhere clients LISTEN on channel cco_messages, notified once per
-- statement that inserts messages (not once per row). Any role that can connect may LISTEN to any
-- channel, so the notification is a bare signal with an empty payload: no ids, no counts, nothing
-- about another tenant. A listener asks, with its own rights, what is new.

create function cco.messages_notify_inserted() returns trigger
language plpgsql
as $$
begin
    perform pg_notify('cco_messages', '');
    return null;
end
$$;

comment on function cco.messages_notify_inserted() is
    'Notifies channel cco_messages, with an empty payload, once per statement that inserted messages: listeners then read what they may see.';

create trigger messages_notify_inserted
    after insert on cco.messages
    for each statement execute function cco.messages_notify_inserted();

do $$
begin
    if exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
        alter publication supabase_realtime add table
            cco.projects, cco.conversations, cco.messages, cco.tool_calls;
    end if;
end
$$;
