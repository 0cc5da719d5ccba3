-- The native baseline: what a user would build with plain PostgreSQL, given the same data.
--
-- native          the seed design done right: the same tables and columns as cco, full-text
--                 search with to_tsvector('english') in a generated column and a GIN index,
--                 indexes for the same queries, and statistics triggers as the seed wrote them
--                 (one count(*) per inserted row).
-- native_setbased the same schema with those triggers made set-based (statement-level with
--                 transition tables, increments), so ingest is compared fairly. Searches and
--                 analytics of the baseline run on this schema.
-- native_fts      only the messages table with its english tsvector, GIN index and primary key:
--                 the cost of native search indexing alone.
-- bare            only the messages columns and a primary key: the bare limit of INSERT.
--
-- And cco's own counterpart of native_fts:
-- cco_search      the same table with cco's search vector and its rank index instead: the cost
--                 of cco's search indexing alone, compared with native_fts like for like.

create schema native;

create table native.projects (
    id uuid primary key, name text not null, path text not null, description text, owner_id uuid,
    settings jsonb not null default '{}', metadata jsonb not null default '{}',
    created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
    last_activity timestamptz, is_active boolean not null default true
);

create table native.conversations (
    id uuid primary key, project_id uuid not null references native.projects on delete cascade,
    file_path text, title text, session_id text, status text not null default 'active',
    message_count integer not null default 0, created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(), last_updated timestamptz,
    metadata jsonb not null default '{}'
);
create index on native.conversations (project_id, last_updated desc);

create table native.messages (
    id uuid primary key,
    conversation_id uuid not null references native.conversations on delete cascade,
    project_id uuid not null, role text not null, content text not null,
    "timestamp" timestamptz not null default now(), token_count integer not null default 0,
    input_tokens integer not null default 0, output_tokens integer not null default 0,
    cache_creation_tokens integer not null default 0, cache_read_tokens integer not null default 0,
    model text, parent_id uuid, depth integer not null default 0,
    metadata jsonb not null default '{}', created_at timestamptz not null default now(),
    external_id text,
    search_vector tsvector generated always as (to_tsvector('english', content)) stored
);
create index on native.messages using gin (search_vector);
create index on native.messages (conversation_id, "timestamp");
create index on native.messages (parent_id) where parent_id is not null;
create unique index on native.messages (conversation_id, external_id);

create table native.tool_calls (
    id uuid primary key, message_id uuid not null references native.messages on delete cascade,
    conversation_id uuid not null, project_id uuid not null, tool_name text not null,
    input_data jsonb not null default '{}', output_data jsonb, execution_time_ms bigint,
    status text not null default 'pending', error_message text, started_at timestamptz,
    completed_at timestamptz, metadata jsonb not null default '{}',
    created_at timestamptz not null default now(), external_id text
);
create index on native.tool_calls (message_id);
create index on native.tool_calls (conversation_id);
create index on native.tool_calls (tool_name, started_at desc);
create index on native.tool_calls (project_id, started_at desc);

-- The seed's statistics trigger: a count per inserted row.
create function native.count_messages_per_row() returns trigger language plpgsql as $$
begin
    update native.conversations
    set message_count = (select count(*) from native.messages where conversation_id = new.conversation_id),
        last_updated = greatest(last_updated, new."timestamp")
    where id = new.conversation_id;
    return new;
end $$;
create trigger count_messages after insert on native.messages
    for each row execute function native.count_messages_per_row();

-- The same tables for the set-based variant.
create schema native_setbased;
create table native_setbased.projects (like native.projects including all);
create table native_setbased.conversations (like native.conversations including all);
create table native_setbased.messages (like native.messages including all);
create table native_setbased.tool_calls (like native.tool_calls including all);
alter table native_setbased.conversations add foreign key (project_id) references native_setbased.projects on delete cascade;
alter table native_setbased.messages add foreign key (conversation_id) references native_setbased.conversations on delete cascade;
alter table native_setbased.tool_calls add foreign key (message_id) references native_setbased.messages on delete cascade;

create function native_setbased.count_messages() returns trigger language plpgsql as $$
begin
    update native_setbased.conversations c
    set message_count = c.message_count + n.added, last_updated = greatest(c.last_updated, n.newest)
    from (select conversation_id, count(*) as added, max("timestamp") as newest
          from inserted group by conversation_id) n
    where c.id = n.conversation_id;
    return null;
end $$;
create trigger count_messages after insert on native_setbased.messages
    referencing new table as inserted for each statement execute function native_setbased.count_messages();

create schema native_fts;
create table native_fts.messages (
    id uuid primary key, conversation_id uuid not null, project_id uuid not null, role text not null,
    content text not null, "timestamp" timestamptz not null, token_count integer not null default 0,
    input_tokens integer not null default 0, output_tokens integer not null default 0,
    cache_creation_tokens integer not null default 0, cache_read_tokens integer not null default 0,
    model text, parent_id uuid, external_id text,
    search_vector tsvector generated always as (to_tsvector('english', content)) stored
);
create index on native_fts.messages using gin (search_vector);

create schema cco_search;
create table cco_search.messages (like native_fts.messages excluding generated);
alter table cco_search.messages drop column search_vector;
alter table cco_search.messages add primary key (id),
    add column search_vector tsvector generated always as (cco.to_tsvector(content)) stored;
create index on cco_search.messages using cco_rank (project_id, search_vector);

create schema bare;
create table bare.messages (like native_fts.messages excluding generated);
alter table bare.messages drop column search_vector;
alter table bare.messages add primary key (id);
