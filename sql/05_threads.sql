-- Thread structure: reading a message's ancestry. Depths are computed in Rust (src/threads.rs);
-- walking a chain of parents is what a recursive query does best.

create function cco.message_thread(message_id uuid)
returns table (id uuid, parent_id uuid, depth integer, role text, "timestamp" timestamptz)
language sql stable security invoker parallel safe
as $$
    with recursive chain as (
        select m.id, m.parent_id, m.project_id, m.depth, m.role, m."timestamp"
        from cco.messages m
        where m.id = message_thread.message_id
        union all
        select p.id, p.parent_id, p.project_id, p.depth, p.role, p."timestamp"
        from cco.messages p
        join chain c on p.id = c.parent_id and p.project_id = c.project_id
    ) cycle id set looped using visited
    select id, parent_id, depth, role, "timestamp"
    from chain
    where not looped
    order by depth, "timestamp"
$$;

comment on function cco.message_thread(uuid) is
    'The ancestor chain of a message, root first and ending with the message itself: (id, parent_id, depth, role, timestamp). Row level security applies.';

comment on function cco.rebuild_thread_depths(uuid) is
    'Recomputes the depth of every message of a conversation in one pass (for rows loaded out of order or with triggers disabled); returns how many depths changed.';
comment on function cco.message_resolve_thread() is
    'Trigger: fills a message''s project_id from its conversation, sets depth = parent depth + 1, rejects parents in another conversation and parent cycles.';
comment on function cco.messages_begin_statement() is
    'Trigger: starts each INSERT on messages with an empty memory of where its rows sit, which lets replies find parents inserted by the same statement without a lookup.';
