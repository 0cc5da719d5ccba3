-- Scaling out on Citus (docs/citus.md). On a single server nothing here runs: cco.distribute is
-- called once, by the extension owner on the Citus coordinator, after the worker nodes are added.
--
-- What Citus needs that a single server does not, and how each need is met:
--
--   policies: Citus refuses subqueries in the policies of distributed tables, so the
--          "(select cco.f())" initPlan form becomes a plain call of the same helper;
--   foreign keys: making projects a reference table while other tables reference it makes Citus
--          convert every table of the foreign-key graph, which would drop and recreate the
--          extension's views; the keys are taken off, the tables distributed, the keys put back
--          (Citus does not take ON DELETE SET NULL with a column list: a trigger re-roots replies);
--   audit_log: a distributed table's keys include its distribution column (project_id);
--   triggers: Citus runs them on the shards. Row triggers on the reference tables fire on every
--          node's copy, so their audit entry is written by the copy on the node that holds the
--          audit log's shard for the row's project, locally (cco.holds_audit_shard). The
--          statistics triggers on message shards keep their conversations exact (co-located, on
--          the same node) but cannot write the project, a reference table: a write to every node,
--          which Citus refuses from a shard and which deadlocks against the writer's own
--          transaction when nested. They note the project in a co-located table instead, and the
--          coordinator's project activity worker (src/project_activity.rs) sets last_activity
--          from those notes within a second; a load (cco.ingest_transcript) advances it itself.
--          The coordinator locks a message's project before its rows are routed
--          (src/citus_inserts.rs), as the triggers lock it before its conversations on a single
--          server. The cco_messages notification trigger is dropped: it would fire on the
--          workers, where nobody listens, and a transaction that notified cannot take part in a
--          two-phase commit; the worker and the loads notify from the coordinator instead;
--   row level security: the policies run on the workers, as the role the coordinator's session
--          acts as; the membership helpers read the reference tables there. A login's identity
--          (cco.user_logins) reaches the workers by itself; an API request's JWT claims reach them
--          through cco.forward_request_claims (docs/citus.md).

-- True on the Citus coordinator (group 0), false on workers; only called once Citus is there.
create function cco.on_citus_coordinator() returns boolean
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
    return exists (select 1 from pg_catalog.pg_dist_local_group where groupid = 0);
end
$$;

comment on function cco.on_citus_coordinator() is
    'True when called on the Citus coordinator, where cco.distribute and cco.prepare_added_nodes run. Needs Citus.';

-- On Citus the row triggers of a reference table (projects, project_members) fire on every node's
-- copy; the audit entry of a change is written by the copy on the node that holds the audit log's
-- shard for its project, locally, in the writer's own transaction there, as the entries of
-- conversations are written on their shard. Written from anywhere else, as another role, it would
-- touch a shard the writer's transaction may have written ("cannot perform query on placements
-- that were modified in this transaction by a different user").
create function cco.holds_audit_shard(project uuid) returns boolean
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
    return project is not null and exists (
        select from pg_catalog.pg_dist_placement p
        where p.shardid = pg_catalog.get_shard_id_for_distribution_column('cco.audit_log', project)
          and p.groupid = (select l.groupid from pg_catalog.pg_dist_local_group l));
end
$$;

comment on function cco.holds_audit_shard(uuid) is
    'On Citus: whether this node holds the audit log''s shard for a project, and so writes the audit entries of that project''s rows in the reference tables. Needs Citus.';

comment on function cco.loaded_at_server_start() is
    'True when the server loaded cco from shared_preload_libraries: then every session, its first statement included, gives inserts of messages and tool calls without project_id their project before Citus routes them (cco.distribute requires it).';

-- The ON DELETE SET NULL (parent_id) action, for clusters where Citus refuses it: the replies of a
-- deleted message become roots, which fires the same update triggers (depths, statistics).
create function cco.messages_reroot_replies() returns trigger
language plpgsql
as $$
begin
    update cco.messages set parent_id = null
    where parent_id = old.id and project_id = old.project_id;
    return old;
end
$$;

comment on function cco.messages_reroot_replies() is
    'Trigger used on Citus only: before a message is deleted, makes its replies roots (what the foreign key''s ON DELETE SET NULL (parent_id) does on a single server).';

-- On Citus the statistics triggers on the message shards cannot write projects.last_activity (see
-- the top of this file): they note which projects' messages changed, here, co-located with the
-- messages, so that the note is a write of the shard at hand. Only the extension owner reads or
-- writes it: no policy, no grant.
create table cco.project_activity_changes (
    project_id uuid not null,
    noted_at timestamptz not null default pg_catalog.now()
);

alter table cco.project_activity_changes enable row level security;
-- what Citus's logical replication needs to move its shards (no key: the notes are a heap)
alter table cco.project_activity_changes replica identity full;

comment on table cco.project_activity_changes is
    'On Citus: the projects whose messages changed since the project activity worker last caught up (cco.catch_up_project_activity). Empty on a single server.';
comment on column cco.project_activity_changes.project_id is
    'A project whose messages were inserted, deleted or retimed.';
comment on column cco.project_activity_changes.noted_at is
    'When the writer''s transaction noted it.';

-- Called by the statistics triggers, which run as the extension owner; one row per project, each
-- a statement that Citus runs on the shard at hand.
create function cco.note_project_activity(project_ids uuid[]) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    project uuid;
begin
    foreach project in array array(select distinct p from unnest(project_ids) as p) loop
        insert into cco.project_activity_changes (project_id) values (project);
    end loop;
end
$$;

comment on function cco.note_project_activity(uuid[]) is
    'On Citus, for the statistics triggers: notes that these projects'' messages changed, for cco.catch_up_project_activity.';

revoke execute on function cco.note_project_activity(uuid[]) from public;

-- The class of the advisory locks below: "cca" in ASCII. Key 0: one catch-up or refresh at a
-- time; key 1: the project activity worker of a database (src/project_activity.rs).

-- Sets the given projects' last_activity to the newest last_updated of their conversations, which
-- the statistics triggers keep exact (NULL for a project without any), and returns how many
-- changed. The newest times first (a distributed aggregate), then projects written once, in a
-- statement of its own: Citus writes a reference table only in a statement that reads none of
-- the distributed tables.
create function cco.set_project_activity(project_ids uuid[]) returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    active_projects uuid[];
    newest_times timestamptz[];
    changed bigint;
begin
    select array_agg(c.project_id), array_agg(c.newest)
    into active_projects, newest_times
    from (select project_id, max(last_updated) as newest
          from cco.conversations
          where project_id = any (project_ids)
          group by project_id) as c;
    update cco.projects p
    set last_activity = n.last_activity
    from (select project.id, active.newest as last_activity
          from unnest(project_ids) as project(id)
          left join unnest(active_projects, newest_times) as active(id, newest)
                 on active.id = project.id) as n
    where p.id = n.id and p.last_activity is distinct from n.last_activity;
    get diagnostics changed = row_count;
    return changed;
end
$$;

comment on function cco.set_project_activity(uuid[]) is
    'For cco.catch_up_project_activity and cco.refresh_project_activity: sets these projects'' last_activity to the newest last_updated of their conversations and returns how many changed.';

revoke execute on function cco.set_project_activity(uuid[]) from public;

-- Run by the project activity worker on the coordinator. The notes are taken first; the projects
-- are read in the next statement, whose snapshot includes the commit of every note taken (a note
-- is visible only once its writer committed), and the catch-ups run one at a time, so none sets a
-- value older than an earlier one read. A note whose writer commits later stays for the next.
create function cco.catch_up_project_activity() returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    noted uuid[];
    changed bigint;
begin
    perform pg_advisory_xact_lock(6513505, 0);
    with taken as (
        delete from cco.project_activity_changes returning project_id
    )
    select array_agg(distinct project_id) into noted from taken;
    if noted is null then
        return 0;
    end if;
    changed := cco.set_project_activity(noted);
    -- What the dropped notification trigger sends on a single server, here where clients listen.
    perform pg_notify('cco_messages', '');
    return changed;
end
$$;

comment on function cco.catch_up_project_activity() is
    'On Citus, run every second by the coordinator''s project activity worker: sets the last_activity of the projects whose messages changed since the last catch-up, returns how many changed, and notifies channel cco_messages if any messages changed. Does nothing on a single server, where the triggers do both.';

revoke execute on function cco.catch_up_project_activity() from public;

-- A catch-up of every project at once: after a restore, or where no worker runs.
create function cco.refresh_project_activity() returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    perform pg_advisory_xact_lock(6513505, 0);
    delete from cco.project_activity_changes;
    return cco.set_project_activity(array(select id from cco.projects));
end
$$;

comment on function cco.refresh_project_activity() is
    'Sets every project''s last_activity to the newest last_updated of its conversations and returns how many projects changed. On Citus the project activity worker does so within a second of each write of messages; this catches up all projects at once, after a restore or where the worker does not run. A no-op on a single server, where the triggers keep it.';

revoke execute on function cco.refresh_project_activity() from public;

comment on function cco.routed_project(uuid) is
    'On Citus, in an INSERT of messages (added by cco while PostgreSQL parses it): returns its argument, the row''s project, after taking an advisory lock on that project the first time the transaction writes its messages, as the statistics triggers lock it before its conversations on a single server.';

-- On Citus the statistics triggers cannot write the projects reference table from the message
-- shards (see the top of this file). A load (cco.ingest_transcript, and so cco load) advances its
-- project's last_activity itself, at its end, on the coordinator, where writing a reference table
-- is an ordinary write of the caller's transaction: it reads alike right after, without waiting
-- for the project activity worker, which notifies channel cco_messages.
-- With the caller's rights: Citus refuses to read, as another role, shards that the transaction
-- wrote. A caller who may not update projects leaves last_activity to the project activity
-- worker. Monotone, so concurrent loads leave the newest time.
create function cco.advance_project_activity(project uuid) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    newest timestamptz;
begin
    if current_setting('cco.distributed', true) is distinct from 'on' then
        return;
    end if;
    if pg_catalog.has_table_privilege('cco.projects', 'update') then
        begin
            -- read first: Citus does not write a reference table in a statement that reads a shard
            select max(c.last_updated) into newest
            from cco.conversations c
            where c.project_id = project;
            update cco.projects p
            set last_activity = newest
            where p.id = project and (p.last_activity is null or p.last_activity < newest);
        exception when internal_error then
            -- Citus refuses to write projects in a transaction that read a table referencing it
            -- over several connections per node (a multi-shard query of the caller's before the
            -- load). The load stands; the project activity worker catches up.
            raise notice 'the last_activity of project % was not advanced: %', project, sqlerrm
                using hint = 'The project activity worker sets it within a second.';
        end;
    end if;
end
$$;

comment on function cco.advance_project_activity(uuid) is
    'On Citus, for cco.ingest_transcript: moves a project''s last_activity up to the newest last_updated of its conversations, if the caller may update the project. Does nothing on a single server, where the statistics triggers do.';

-- The ranking of a search on Citus. A rank index keeps its statistics per project, so the counts
-- of the projects in scope, read from the index of the shard holding each, add up to what one
-- index over all of them would count. The projects are found through their conversations, grouped
-- by project_id: Citus sends that query to the shards of the scope only, and each shard reads its
-- own projects' counts.
create function cco.project_ranking(project uuid, search_query text) returns cco.ranking
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    -- Citus runs it over the caller's own connection to the worker when the caller's transaction
    -- already used that shard: it answers only for a project the caller may read.
    if not (cco.has_full_access() or project = any (cco.readable_project_ids())) then
        return null;
    end if;
    return cco.ranking_within(
        format('cco.messages_rank_idx_%s',
               get_shard_id_for_distribution_column('cco.messages', project))::regclass,
        search_query, array[project]);
end
$$;

comment on function cco.project_ranking(uuid, text) is
    'On Citus, on the node holding the project: the ranking of a search over one project''s messages, read from its shard''s rank index; NULL for a project the caller may not read. For cco.ranking_across_shards.';

create function cco.ranking_across_shards(search_query text, scope uuid[]) returns cco.ranking
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    project record;
    part cco.ranking;
    combined cco.ranking;
begin
    for project in
        select cco.project_ranking(c.project_id, search_query) as ranking
        from cco.conversations c
        where scope is null or c.project_id = any (scope)
        group by c.project_id
    loop
        part := project.ranking;
        if part is null then
            continue;
        elsif combined is null then
            combined := part;
        else
            combined.frequencies := array(select mine + theirs
                                          from unnest(combined.frequencies, part.frequencies)
                                               as counts(mine, theirs));
            combined.documents := combined.documents + part.documents;
            combined.total_length := combined.total_length + part.total_length;
        end if;
    end loop;
    return coalesce(combined, cco.ranking_within('cco.messages_rank_idx'::regclass, search_query, '{}'));
end
$$;

comment on function cco.ranking_across_shards(text, uuid[]) is
    'On Citus: the ranking of a search over the projects of scope (all when NULL), summed over their shards'' rank indexes. For cco.message_ranking, which passes the caller''s scope.';

revoke execute on function cco.ranking_across_shards(text, uuid[]) from public;

-- The catalog changes every node needs before its tables are distributed, done on each node
-- (workers hold their own copy of the extension's tables). Returns the foreign keys it took off,
-- as the statements that put them back.
--
-- A node added to the cluster later gets the extension from Citus as a fresh install, and its
-- tables are already distributed: there it changes only that node's catalog, keeps the foreign
-- keys (the shells it holds are never written), and does nothing on a node already prepared.
create function cco.prepare_distribution(added_node boolean default false) returns text[]
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    -- "( SELECT cco.f() AS f)" as PostgreSQL prints an initPlan call in a policy
    init_plan_call constant text := '\( SELECT (cco\.\w+\(\)) AS \w+\)';
    policy record;
    key record;
    distributed_function regprocedure;
    removed_keys text[] := '{}';
begin
    if added_node then
        if not exists (select 1 from pg_trigger where tgrelid = 'cco.messages'::regclass
                                                  and tgname = 'messages_notify_inserted') then
            return removed_keys;
        end if;
        perform set_config('citus.enable_ddl_propagation', 'off', true);
    end if;

    for policy in
        select p.tablename, p.policyname, p.qual, p.with_check
        from pg_policies p where p.schemaname = 'cco'
          and (p.qual ~ init_plan_call or p.with_check ~ init_plan_call)
    loop
        execute format('alter policy %I on cco.%I %s %s', policy.policyname, policy.tablename,
            case when policy.qual is not null
                 then format('using (%s)', regexp_replace(policy.qual, init_plan_call, '\1', 'g'))
                 else '' end,
            case when policy.with_check is not null
                 then format('with check (%s)', regexp_replace(policy.with_check, init_plan_call, '\1', 'g'))
                 else '' end);
    end loop;

    if not exists (select 1 from pg_constraint
                   where conrelid = 'cco.audit_log'::regclass and conname = 'audit_log_pkey'
                     and cardinality(conkey) = 2) then
        alter table cco.audit_log drop constraint audit_log_pkey;
        alter table cco.audit_log alter column project_id set not null;
        alter table cco.audit_log add constraint audit_log_pkey primary key (id, project_id);
    end if;

    -- cco.distributed tells these functions they run on Citus: the statistics triggers note
    -- projects.last_activity for the worker, a load advances it, the ranking sums the shards' counts, one
    -- node writes the audit entry of a reference table's row.
    foreach distributed_function in array array[
        'cco.messages_count_inserted()', 'cco.messages_count_deleted()',
        'cco.messages_count_updated()', 'cco.message_ranking(text, uuid[])',
        'cco.advance_project_activity(uuid)', 'cco.audit_row_change()']::regprocedure[]
    loop
        execute format('alter function %s set cco.distributed = on', distributed_function);
    end loop;
    -- The identity and membership helpers run inside the queries on the shards, where Citus
    -- refuses a nested query on another table unless told: they read only reference tables
    -- (logins, projects, memberships), whose copy on the same node never moves.
    -- So do the analytics aggregates' and usage blocks' price lookups (the price list, a
    -- reference table too: a one-project cco.usage_blocks runs wholly on that project's shard),
    -- and the depth rebuild after a reply is re-rooted, which reads its conversation by id
    -- from every shard: Citus warns that such a nested query may miss rows of a shard that is
    -- being moved (docs/citus.md).
    foreach distributed_function in array array(
        select p.oid::regprocedure from pg_proc p
        where p.pronamespace = 'cco'::regnamespace
          and p.proname in ('current_user_id', 'readable_project_ids', 'writable_project_ids',
                            'owned_project_ids', 'summarize_messages_add', 'response_cost',
                            'rebuild_thread_depths', 'compute_usage_blocks')
        order by p.oid)
    loop
        execute format('alter function %s set citus.allow_nested_distributed_execution = on',
                       distributed_function);
    end loop;
    -- The project lookups of inserts without project_id (src/citus_inserts.rs) read every
    -- shard's conversations or messages by id, over one connection per node: once a transaction
    -- has read a table that references projects over several, Citus no longer lets it write
    -- projects, which a load does at its end (cco.advance_project_activity).
    alter function cco.conversation_project(uuid) set citus.multi_shard_modify_mode = 'sequential';
    alter function cco.message_project(uuid) set citus.multi_shard_modify_mode = 'sequential';
    -- Citus plans a query on distributed tables only with its parameters' values.
    alter function cco.search_messages(text, uuid[], uuid[], text[], integer, integer)
        set plan_cache_mode = force_custom_plan;
    -- A search's ranking asks every shard of its scope for a few counts, each in well under a
    -- millisecond: over the one connection per worker that Citus keeps open between statements,
    -- one after the other, instead of opening new connections to run them side by side, which
    -- took 10 times as long (docs/citus.md).
    alter function cco.ranking_across_shards(text, uuid[])
        set citus.max_adaptive_executor_pool_size = 1;

    -- These write or grant on reference tables after distributed ones in one transaction, which
    -- Citus does only over one connection per node.
    alter function cco.refresh_project_activity() set citus.multi_shard_modify_mode = 'sequential';
    alter function cco.catch_up_project_activity() set citus.multi_shard_modify_mode = 'sequential';
    alter function cco.grant_api_access(regrole) set citus.multi_shard_modify_mode = 'sequential';

    -- It would notify on the worker, where no client listens, and PostgreSQL cannot prepare (two-phase
    -- commit, which Citus uses for writes on several nodes) a transaction that notified. Dropped
    -- before the tables are distributed: distributing messages copies its rows into the shards.
    drop trigger messages_notify_inserted on cco.messages;

    if added_node then
        return removed_keys;
    end if;
    for key in
        select c.conname, c.conrelid::regclass as table_name, pg_get_constraintdef(c.oid) as definition
        from pg_constraint c
        join pg_class t on t.oid = c.conrelid
        where c.contype = 'f' and t.relnamespace = 'cco'::regnamespace
        order by c.conname
    loop
        removed_keys := removed_keys || format('alter table %s add constraint %I %s',
            key.table_name, key.conname,
            replace(key.definition, 'ON DELETE SET NULL (parent_id)', ''));
        execute format('alter table %s drop constraint %I', key.table_name, key.conname);
    end loop;
    return removed_keys;
end
$$;

comment on function cco.prepare_distribution(boolean) is
    'Part of cco.distribute, run on every node: rewrites the policies without subqueries, puts project_id in audit_log''s key, has the statistics triggers note projects.last_activity for the project activity worker, makes the ranking sum the shards, drops the cco_messages notification trigger, and takes off the foreign keys, returning the statements that put them back. With added_node, the same on a node added later (for cco.prepare_added_nodes), foreign keys kept.';

revoke execute on function cco.prepare_distribution(boolean) from public;

create function cco.distribute(shard_count integer default 32) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    removed_keys text[];
    restore_key text;
    failure record;
    data_table text;
begin
    if not exists (select 1 from pg_extension where extname = 'citus') then
        raise exception 'cco.distribute needs the citus extension, which is not installed in this database'
            using errcode = 'feature_not_supported',
                  hint = 'Install Citus from its own packages, add citus to shared_preload_libraries, '
                         'create extension citus, then add the worker nodes.';
    end if;
    if not cco.loaded_at_server_start() then
        raise exception 'cco.distribute needs cco in shared_preload_libraries'
            using errcode = 'object_not_in_prerequisite_state',
                  detail = 'On Citus, cco gives an INSERT of messages or tool calls without project_id '
                           'its project before Citus routes the rows: every session must have cco loaded.',
                  hint = 'Set shared_preload_libraries = ''citus,cco'' on every node and restart them.';
    end if;
    if shard_count is null or shard_count not between 1 and 64000 then
        raise exception 'shard_count must be between 1 and 64000, not %', shard_count
            using errcode = 'invalid_parameter_value';
    end if;
    if not cco.on_citus_coordinator() then
        raise exception 'cco.distribute runs on the Citus coordinator'
            using errcode = 'object_not_in_prerequisite_state';
    end if;
    -- Reference tables need a copy on the coordinator: the identity and membership helpers, the
    -- loads and cco.advance_project_activity read and write them there, in the caller's own
    -- transaction.
    if not exists (select 1 from pg_dist_node where groupid = 0) then
        raise exception 'the coordinator is not in the Citus metadata'
            using errcode = 'object_not_in_prerequisite_state',
                  hint = 'Run select citus_set_coordinator_host(''<its host>'', <its port>) first.';
    end if;
    if exists (select 1 from pg_dist_partition where logicalrelid = 'cco.messages'::regclass) then
        raise exception 'cco is already distributed'
            using errcode = 'object_not_in_prerequisite_state';
    end if;

    perform set_config('citus.enable_unsafe_triggers', 'on', true);
    perform set_config('citus.shard_count', shard_count::text, true);
    -- the foreign keys go back after the tables were filled: one connection per node
    perform set_config('citus.multi_shard_modify_mode', 'sequential', true);

    removed_keys := cco.prepare_distribution();
    for failure in
        select * from run_command_on_workers('select cco.prepare_distribution()') where not success
    loop
        raise exception 'preparing worker %:% failed: %', failure.nodename, failure.nodeport, failure.result;
    end loop;

    -- A database that already holds rows (a restored dump) has them copied into the shards, each
    -- table's rows as stored, where a reply may precede its parent: the copy keeps the rows and
    -- their derived columns as they are, with the tables' own triggers off until it is done.
    foreach data_table in array array['projects', 'project_members', 'conversations', 'messages',
                                      'tool_calls', 'transcript_summaries'] loop
        execute format('alter table cco.%I disable trigger user', data_table);
    end loop;

    perform create_reference_table('cco.user_logins');
    perform create_reference_table('cco.model_pricing');
    perform create_reference_table('cco.projects');
    perform create_reference_table('cco.project_members');
    perform create_distributed_table('cco.conversations', 'project_id');
    foreach data_table in array array['messages', 'tool_calls', 'transcript_summaries', 'audit_log',
                                      'project_activity_changes'] loop
        perform create_distributed_table(format('cco.%I', data_table), 'project_id',
                                         colocate_with => 'cco.conversations');
    end loop;
    perform create_distributed_table('cco.search_history', 'user_id');
    foreach data_table in array array['projects', 'project_members', 'conversations', 'messages',
                                      'tool_calls', 'transcript_summaries'] loop
        execute format('alter table cco.%I enable trigger user', data_table);
    end loop;

    foreach restore_key in array removed_keys loop
        execute restore_key;
    end loop;

    create trigger messages_reroot_replies
        before delete on cco.messages
        for each row execute function cco.messages_reroot_replies();
end
$$;

comment on function cco.distribute(integer) is
    'Distributes cco over a Citus cluster, once, on the coordinator: conversations, messages, tool calls, transcript summaries and the audit log by project_id in shard_count co-located shards, search history by user, projects, memberships, logins and prices as reference tables. See docs/citus.md.';

revoke execute on function cco.distribute(integer) from public;

-- Citus installs cco on a node it adds as a fresh install; before shards move there, the node
-- needs what cco.distribute did on the others.
create function cco.prepare_added_nodes() returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    unprepared integer;
    failure record;
begin
    -- two statements: without Citus, the second names a table that does not exist
    if not exists (select 1 from pg_extension where extname = 'citus') then
        raise exception 'cco is not distributed: cco.distribute prepares the nodes of a cluster'
            using errcode = 'object_not_in_prerequisite_state';
    end if;
    if not exists (select 1 from pg_dist_partition where logicalrelid = 'cco.messages'::regclass) then
        raise exception 'cco is not distributed: cco.distribute prepares the nodes of a cluster'
            using errcode = 'object_not_in_prerequisite_state';
    end if;
    if not cco.on_citus_coordinator() then
        raise exception 'cco.prepare_added_nodes runs on the Citus coordinator'
            using errcode = 'object_not_in_prerequisite_state';
    end if;
    select count(*) into unprepared
    from run_command_on_workers($check$
        select count(*) from pg_trigger
        where tgrelid = 'cco.messages'::regclass and tgname = 'messages_notify_inserted'
    $check$)
    where result = '1';
    for failure in
        select * from run_command_on_workers('select cco.prepare_distribution(added_node => true)')
        where not success
    loop
        raise exception 'preparing worker %:% failed: %', failure.nodename, failure.nodeport, failure.result;
    end loop;
    return unprepared;
end
$$;

comment on function cco.prepare_added_nodes() is
    'On the Citus coordinator, after citus_add_node and before rebalancing: prepares every worker added since cco.distribute as cco.distribute prepared the others. Returns how many it prepared; running it again does nothing. See docs/citus.md.';

revoke execute on function cco.prepare_added_nodes() from public;


-- PostgREST sets a request's JWT claims with set_config(), which Citus does not pass on to the
-- workers, where the policies run. Called before each request (PostgREST's db-pre-request), this
-- sets them again with SET LOCAL, which Citus passes on when citus.propagate_set_commands is
-- 'local' (docs/citus.md). It copies only the claims the session already holds: on a worker they
-- count only for the API logins named there in cco.api_logins.
create function cco.forward_request_claims() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    claims text := current_setting('request.jwt.claims', true);
begin
    if claims is not null then
        execute format('set local request.jwt.claims = %L', claims);
    end if;
end
$$;

comment on function cco.forward_request_claims() is
    'On Citus, PostgREST''s db-pre-request: sets the request''s JWT claims again with SET LOCAL, which Citus passes on to the workers when citus.propagate_set_commands = local. See docs/citus.md.';
