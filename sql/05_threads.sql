-- Thread structure: reading a message's ancestry. Depths are computed in Rust (src/threads.rs);
-- walking a chain of parents is what a recursive query does best.

-- PL/pgSQL: Citus cannot plan a SQL function's parameterised statements on distributed tables,
-- and runs a recursive query only when it names the distribution column (and without a CYCLE
-- clause): the chain is walked within the message's project, found first.
create function cco.message_thread(message_id uuid)
returns table (id uuid, parent_id uuid, depth integer, role text, "timestamp" timestamptz)
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
declare
    thread_project uuid;
begin
    for thread_project in
        select m.project_id from cco.messages m where m.id = message_thread.message_id
    loop
        return query
        with recursive chain as (
            select m.id, m.parent_id, m.depth, m.role, m."timestamp", array[m.id] as visited
            from cco.messages m
            where m.id = message_thread.message_id and m.project_id = thread_project
            union all
            select p.id, p.parent_id, p.depth, p.role, p."timestamp", c.visited || p.id
            from cco.messages p
            join chain c on p.id = c.parent_id
            -- a cycle (possible only in rows loaded with triggers disabled) ends the walk
            where p.project_id = thread_project and not p.id = any (c.visited)
        )
        select id, parent_id, depth, role, "timestamp"
        from chain
        order by depth, "timestamp";
    end loop;
end
$$;

comment on function cco.message_thread(uuid) is
    'The ancestor chain of a message, root first and ending with the message itself: (id, parent_id, depth, role, timestamp). Row level security applies.';

comment on function cco.rebuild_thread_depths(uuid) is
    'Recomputes the depth of every message of a conversation in one pass (for rows loaded out of order or with triggers disabled); returns how many depths changed.';
comment on function cco.message_resolve_thread() is
    'Trigger: fills a message''s project_id from its conversation, sets depth = parent depth + 1, rejects parents in another conversation and parent cycles.';
comment on function cco.messages_begin_statement() is
    'Trigger: starts each INSERT on messages with an empty memory of where its rows sit, which lets replies find parents inserted by the same statement without a lookup.';
