-- The cco demo: what a user sees in psql. Run by scripts/demo.sh in a throwaway cluster.
\pset footer off
set client_min_messages = warning;
\echo '-- create extension cco: the whole observatory schema, secure by default'
create extension cco cascade;

\echo '-- a project with a conversation, as the loader or the API would write it'
insert into cco.projects (id, name, path)
values ('11111111-1111-4111-8111-111111111111', 'shop', '/home/dev/shop');
insert into cco.conversations (id, project_id, title)
values ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111',
        'Fix the checkout total');

-- a thread: question, answer, follow-up; project_id and depth are filled in by the database
insert into cco.messages (id, conversation_id, role, content, parent_id, output_tokens)
values
  ('33333333-3333-4333-8333-333333333331', '22222222-2222-4222-8222-222222222222', 'user',
   'The cart total in src/checkout/cartTotal.ts ignores discounts', null, 0),
  ('33333333-3333-4333-8333-333333333332', '22222222-2222-4222-8222-222222222222', 'assistant',
   'calculateCartTotal() never calls applyDiscounts(); I will fix it and add a test.',
   '33333333-3333-4333-8333-333333333331', 182),
  ('33333333-3333-4333-8333-333333333333', '22222222-2222-4222-8222-222222222222', 'user',
   'Also run the test suite', '33333333-3333-4333-8333-333333333332', 0);
insert into cco.tool_calls (message_id, tool_name, input_data, status, execution_time_ms)
values ('33333333-3333-4333-8333-333333333332', 'Bash', '{"command": "npm test"}', 'success', 5230);

\echo '-- statistics kept exact by set-based triggers'
select title, message_count, output_tokens, last_updated is not null as has_activity
from cco.conversations;

\echo '-- the thread of the last message, root first'
select t.depth, t.role, left(m.content, 60) as content
from cco.message_thread('33333333-3333-4333-8333-333333333333') t
join cco.messages m using (id);
