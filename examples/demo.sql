-- The cco demo, after loading examples/claude-projects with cco-load: what a user sees in psql.
\pset footer off
\echo
\echo '-- conversations, with exact statistics kept by set-based triggers'
select title, message_count, input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens as tokens,
       model, metadata->>'agent_id' as subagent
from cco.conversations order by created_at;

\echo '-- search: "discount" finds prose, identifiers and file paths, best first, highlighted'
select round(rank::numeric, 2) as rank, role, headline
from cco.search_messages('discount', limit_count => 4);

\echo '-- a phrase matches identifiers by their parts: "apply discounts" finds applyDiscounts()'
select round(rank::numeric, 2) as rank, headline
from cco.search_messages('"apply discounts"', limit_count => 3);

\echo '-- tool calls that failed, with their error'
select tool_name, input_data->>'command' as command, execution_time_ms,
       left(replace(error_message, E'\n', ' '), 70) as error
from cco.tool_calls where status = 'error';

\echo '-- the last steps of the thread that led to the final answer'
select depth, role, content from (
    select t.depth, t.role, left(replace(m.content, E'\n', ' '), 70) as content
    from cco.message_thread((
        select m.id from cco.messages m join cco.conversations c on c.id = m.conversation_id
        where c.metadata->>'agent_id' is null and m.role = 'assistant'
        order by m."timestamp" desc limit 1)) t
    join cco.messages m using (id)
    order by t.depth desc limit 6
) last_steps order by depth;
