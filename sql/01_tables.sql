-- The observatory's data model.
--
-- Every row of conversation data carries project_id, and every primary, unique and foreign key
-- of those tables includes it: the tables can then be distributed by project_id (docs/citus.md)
-- without a schema change, and row level security decides on project_id alone, without joins.
-- Primary keys lead with id so that lookups by id alone use them.
--
-- Columns that summarise other rows (message counts, token totals, last activity) are derived
-- state: triggers keep them exact (03_triggers.sql) and reset them when a row is inserted, which is
-- also what makes a pg_dump restore rebuild them instead of counting twice.

create table cco.projects (
    id            uuid        not null default gen_random_uuid(),
    name          text        not null,
    path          text        not null,
    description   text,
    owner_id      uuid                 default cco.current_user_id(),
    settings      jsonb       not null default '{}',
    metadata      jsonb       not null default '{}',
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    last_activity timestamptz,
    is_active     boolean     not null default true,
    search_vector tsvector    generated always as (
                      cco.to_tsvector(name || ' ' || path || ' ' || coalesce(description, ''))) stored,

    constraint projects_pkey primary key (id),
    constraint projects_name_length check (char_length(name) between 1 and 255),
    constraint projects_path_not_empty check (char_length(btrim(path)) > 0),
    constraint projects_description_length check (char_length(description) <= 2000),
    constraint projects_settings_is_object check (jsonb_typeof(settings) = 'object'),
    constraint projects_metadata_is_object check (jsonb_typeof(metadata) = 'object'),
    constraint projects_updated_after_created check (updated_at >= created_at),
    -- Unique per owner, not globally: two people's checkouts are often both called "api" and
    -- live at the same path on their own machines. NULLS NOT DISTINCT keeps projects created
    -- without an owner (by the service role) unique among themselves too.
    constraint projects_owner_name_key unique nulls not distinct (owner_id, name),
    constraint projects_owner_path_key unique nulls not distinct (owner_id, path)
);

comment on table cco.projects is
    'A code base whose conversations are observed: usually one working directory. Its owner and members (cco.project_members) decide who sees its data.';
comment on column cco.projects.id is 'Stable identifier of the project.';
comment on column cco.projects.name is 'Readable name, unique per owner (1 to 255 characters).';
comment on column cco.projects.path is 'Working directory the conversations ran in, unique per owner.';
comment on column cco.projects.description is 'Free text description (at most 2000 characters).';
comment on column cco.projects.owner_id is 'User (JWT sub) who owns the project; defaults to the caller. Owners have full rights.';
comment on column cco.projects.settings is 'Per-project settings as a JSON object.';
comment on column cco.projects.metadata is 'Free-form JSON object for integrations.';
comment on column cco.projects.created_at is 'When the project was created.';
comment on column cco.projects.updated_at is 'When a user last changed the project itself (maintained by trigger).';
comment on column cco.projects.last_activity is 'Timestamp of the newest message in any of its conversations (maintained by trigger).';
comment on column cco.projects.is_active is 'False hides the project from day-to-day views without deleting data.';
comment on column cco.projects.search_vector is 'Search terms of the name, path and description (cco.to_tsvector).';

create table cco.project_members (
    project_id uuid        not null,
    user_id    uuid        not null,
    role       text        not null default 'viewer',
    created_at timestamptz not null default now(),

    constraint project_members_pkey primary key (project_id, user_id),
    constraint project_members_project_fkey foreign key (project_id)
        references cco.projects (id) on delete cascade,
    constraint project_members_role_check check (role in ('viewer', 'editor', 'owner'))
);

comment on table cco.project_members is
    'Who besides the owner may use a project: viewers read, editors read and write data, owners also delete the project and manage members.';
comment on column cco.project_members.project_id is 'The shared project.';
comment on column cco.project_members.user_id is 'The member (JWT sub).';
comment on column cco.project_members.role is 'viewer, editor or owner.';
comment on column cco.project_members.created_at is 'When the membership was granted.';

create table cco.conversations (
    id                    uuid        not null default gen_random_uuid(),
    project_id            uuid        not null,
    file_path             text,
    title                 text,
    session_id            text,
    status                text        not null default 'active',
    message_count         integer     not null default 0,
    input_tokens          bigint      not null default 0,
    output_tokens         bigint      not null default 0,
    cache_creation_tokens bigint      not null default 0,
    cache_read_tokens     bigint      not null default 0,
    model                 text,
    search_length         bigint      not null default 0,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    last_updated          timestamptz,
    metadata              jsonb       not null default '{}',
    created_by            uuid                 default cco.current_user_id(),
    search_vector         tsvector    generated always as (
                              cco.to_tsvector(coalesce(title, '') || ' ' || coalesce(file_path, ''))) stored,

    constraint conversations_pkey primary key (id, project_id),
    constraint conversations_project_fkey foreign key (project_id)
        references cco.projects (id) on delete cascade,
    constraint conversations_file_path_key unique (project_id, file_path),
    constraint conversations_title_length check (char_length(title) <= 500),
    constraint conversations_status_check check (status in ('active', 'completed', 'archived')),
    constraint conversations_message_count_check check (message_count >= 0),
    constraint conversations_tokens_check check (
        input_tokens >= 0 and output_tokens >= 0
        and cache_creation_tokens >= 0 and cache_read_tokens >= 0),
    constraint conversations_metadata_is_object check (jsonb_typeof(metadata) = 'object'),
    constraint conversations_updated_after_created check (updated_at >= created_at)
);

comment on table cco.conversations is
    'One conversation (a transcript file or an API-created thread) in a project, with statistics kept exact by triggers.';
comment on column cco.conversations.id is 'Stable identifier of the conversation.';
comment on column cco.conversations.project_id is 'Project the conversation belongs to (immutable).';
comment on column cco.conversations.file_path is 'Transcript file it was loaded from; unique within the project.';
comment on column cco.conversations.title is 'Readable title (at most 500 characters): the transcript summary or first prompt.';
comment on column cco.conversations.session_id is 'Session identifier written by the client that recorded the conversation.';
comment on column cco.conversations.status is 'active, completed or archived.';
comment on column cco.conversations.message_count is 'Number of messages (maintained by trigger).';
comment on column cco.conversations.input_tokens is 'Input tokens of its API responses, each response counted once (maintained by trigger).';
comment on column cco.conversations.output_tokens is 'Output tokens, each response counted once (maintained by trigger).';
comment on column cco.conversations.cache_creation_tokens is 'Prompt-cache write tokens, each response counted once (maintained by trigger).';
comment on column cco.conversations.cache_read_tokens is 'Prompt-cache read tokens, each response counted once (maintained by trigger).';
comment on column cco.conversations.model is 'Model that produced most of the conversation''s output.';
comment on column cco.conversations.search_length is 'Term occurrences in the search vectors of its messages: with message_count, gives ranking the average document length without a scan (maintained by trigger).';
comment on column cco.conversations.created_at is 'When the conversation was created.';
comment on column cco.conversations.updated_at is 'When a user last changed the conversation itself (maintained by trigger).';
comment on column cco.conversations.last_updated is 'Timestamp of its newest message (maintained by trigger).';
comment on column cco.conversations.metadata is 'Free-form JSON object: for transcripts, the session and subagent linkage.';
comment on column cco.conversations.created_by is 'User (JWT sub) who created or loaded the conversation; NULL without identity.';
comment on column cco.conversations.search_vector is 'Search terms of the title and file path (cco.to_tsvector).';

create table cco.messages (
    id                    uuid        not null default gen_random_uuid(),
    conversation_id       uuid        not null,
    project_id            uuid        not null,
    role                  text        not null,
    content               text        not null,
    "timestamp"           timestamptz not null default now(),
    token_count           integer     not null default 0,
    input_tokens          integer     not null default 0,
    output_tokens         integer     not null default 0,
    cache_creation_tokens integer     not null default 0,
    cache_read_tokens     integer     not null default 0,
    model                 text,
    parent_id             uuid,
    depth                 integer     not null default 0,
    metadata              jsonb       not null default '{}',
    created_at            timestamptz not null default now(),
    external_id           text,
    -- Searchable terms of the content (src/search.rs): identifiers, paths and error codes whole
    -- and in parts, prose stemmed. Generated, so it can never disagree with the content.
    search_vector         tsvector    generated always as (cco.to_tsvector(content)) stored,
    -- Kept so analytics never read (and decompress) the content to learn its length.
    content_length        integer     generated always as (char_length(content)) stored,
    -- What else the API response is billed for (cco.response_cost), counted on the same message
    -- as its tokens. Speed and service tier only when not standard (NULL: standard or not given),
    -- so the usual response stores two nulls, not two words.
    cache_creation_1h_tokens integer  not null default 0,
    web_search_requests   integer     not null default 0,
    web_fetch_requests    integer     not null default 0,
    speed                 text,
    service_tier          text,

    constraint messages_pkey primary key (id, project_id),
    constraint messages_conversation_fkey foreign key (conversation_id, project_id)
        references cco.conversations (id, project_id) on delete cascade,
    -- Deleting a parent orphans its replies rather than deleting them; the thread trigger then
    -- recomputes the depth of the orphaned subtree.
    constraint messages_parent_fkey foreign key (parent_id, project_id)
        references cco.messages (id, project_id) on delete set null (parent_id),
    -- external_id second: the loader also finds lines of other files of the same project by
    -- their uuid alone (summaries name the last message of a branch in another file).
    constraint messages_external_id_key unique (project_id, external_id, conversation_id),
    constraint messages_role_check check (role in ('user', 'assistant', 'system')),
    constraint messages_content_length check (char_length(content) between 1 and 1000000),
    constraint messages_token_count_check check (token_count >= 0),
    constraint messages_tokens_check check (
        input_tokens >= 0 and output_tokens >= 0
        and cache_creation_tokens >= 0 and cache_read_tokens >= 0),
    constraint messages_depth_check check (depth >= 0),
    constraint messages_billing_check check (
        cache_creation_1h_tokens between 0 and cache_creation_tokens
        and web_search_requests >= 0 and web_fetch_requests >= 0),
    constraint messages_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

comment on table cco.messages is
    'Every message of every conversation, threaded by parent_id. project_id is filled from the conversation when omitted.';
comment on column cco.messages.id is 'Stable identifier of the message.';
comment on column cco.messages.conversation_id is 'Conversation the message belongs to (immutable).';
comment on column cco.messages.project_id is 'Project of the conversation; filled automatically when omitted.';
comment on column cco.messages.role is 'user, assistant or system.';
comment on column cco.messages.content is 'Readable text of the message (1 to 1,000,000 characters).';
comment on column cco.messages."timestamp" is 'When the message was written.';
comment on column cco.messages.token_count is 'Tokens billed for the API response this message carries (0 when another message of the same response carries them).';
comment on column cco.messages.input_tokens is 'Input tokens of its API response, counted on one message per response.';
comment on column cco.messages.output_tokens is 'Output tokens of its API response, counted on one message per response.';
comment on column cco.messages.cache_creation_tokens is 'Prompt-cache write tokens, counted on one message per response.';
comment on column cco.messages.cache_read_tokens is 'Prompt-cache read tokens, counted on one message per response.';
comment on column cco.messages.model is 'Model that wrote the message (assistant messages).';
comment on column cco.messages.parent_id is 'Message this one replies to, in the same conversation; NULL for a root.';
comment on column cco.messages.depth is 'Distance from the thread root: parent depth + 1, computed by trigger.';
comment on column cco.messages.metadata is 'Details of the source line worth keeping (model, request id, usage, flags).';
comment on column cco.messages.created_at is 'When the row was stored.';
comment on column cco.messages.external_id is 'Identifier of the message in its source (the transcript line uuid); unique per conversation.';
comment on column cco.messages.search_vector is 'Search terms of the content with positions (cco.to_tsvector): identifiers, paths and error codes whole and in parts, prose stemmed.';
comment on column cco.messages.content_length is 'Characters in the content (generated).';
comment on column cco.messages.cache_creation_1h_tokens is 'The part of cache_creation_tokens written to the 1-hour cache (billed 2x input where 5-minute writes are billed 1.25x), counted on one message per response.';
comment on column cco.messages.web_search_requests is 'Web searches the API response made (usage.server_tool_use), billed per request; counted on one message per response.';
comment on column cco.messages.web_fetch_requests is 'Web fetches the API response made (usage.server_tool_use); counted on one message per response.';
comment on column cco.messages.speed is 'usage.speed of the API response when not standard: fast (billed at a multiple); NULL for standard or not given.';
comment on column cco.messages.service_tier is 'usage.service_tier of the API response when not standard (priority, batch: unpriced); NULL for standard or not given.';

-- Message contents and search vectors are compressed with lz4 where the server has it: it
-- compresses a message in a fraction of pglz's time (about 8 of the 120 microseconds a message
-- costs to load) into about the same size, and decompresses search results faster.
do $$
begin
    alter table cco.messages alter column content set compression lz4,
                             alter column search_vector set compression lz4;
exception when feature_not_supported then
    null; -- built without lz4: the default (pglz) stays
end
$$;

create table cco.tool_calls (
    id                uuid        not null default gen_random_uuid(),
    message_id        uuid        not null,
    conversation_id   uuid        not null,
    project_id        uuid        not null,
    tool_name         text        not null,
    input_data        jsonb       not null default '{}',
    output_data       jsonb,
    execution_time_ms bigint,
    status            text        not null default 'pending',
    error_message     text,
    started_at        timestamptz,
    completed_at      timestamptz,
    metadata          jsonb       not null default '{}',
    created_at        timestamptz not null default now(),
    external_id       text,

    constraint tool_calls_pkey primary key (id, project_id),
    constraint tool_calls_message_fkey foreign key (message_id, project_id)
        references cco.messages (id, project_id) on delete cascade,
    constraint tool_calls_external_id_key unique (project_id, external_id, conversation_id),
    constraint tool_calls_tool_name_not_empty check (char_length(btrim(tool_name)) > 0),
    constraint tool_calls_execution_time_check check (execution_time_ms >= 0),
    constraint tool_calls_status_check check (
        status in ('pending', 'running', 'success', 'error', 'timeout')),
    constraint tool_calls_completed_after_started check (completed_at >= started_at),
    constraint tool_calls_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

comment on table cco.tool_calls is
    'Every tool the assistant invoked, with its input and, once its result arrived, output, status and duration.';
comment on column cco.tool_calls.id is 'Stable identifier of the tool call.';
comment on column cco.tool_calls.message_id is 'Message that issued the call; conversation_id and project_id are taken from it.';
comment on column cco.tool_calls.conversation_id is 'Conversation of the issuing message (filled automatically).';
comment on column cco.tool_calls.project_id is 'Project of the issuing message (filled automatically).';
comment on column cco.tool_calls.tool_name is 'Name of the tool (Bash, Read, Edit, ...).';
comment on column cco.tool_calls.input_data is 'Arguments the tool was called with.';
comment on column cco.tool_calls.output_data is 'What the tool returned, as JSON (a string or content blocks).';
comment on column cco.tool_calls.execution_time_ms is 'Milliseconds from the call to its result.';
comment on column cco.tool_calls.status is 'pending, running, success, error or timeout.';
comment on column cco.tool_calls.error_message is 'Error text when the call failed.';
comment on column cco.tool_calls.started_at is 'When the call was issued.';
comment on column cco.tool_calls.completed_at is 'When its result arrived (not before started_at).';
comment on column cco.tool_calls.metadata is 'Free-form JSON object.';
comment on column cco.tool_calls.created_at is 'When the row was stored.';
comment on column cco.tool_calls.external_id is 'Identifier of the call in its source (the tool_use id); unique per conversation.';

create table cco.transcript_summaries (
    project_id       uuid        not null,
    leaf_external_id text        not null,
    summary          text        not null,
    file_path        text        not null,
    line             integer     not null,
    created_at       timestamptz not null default now(),

    constraint transcript_summaries_pkey primary key (project_id, leaf_external_id, file_path, line),
    constraint transcript_summaries_project_fkey foreign key (project_id)
        references cco.projects (id) on delete cascade,
    constraint transcript_summaries_summary_length check (char_length(summary) between 1 and 10000)
);

comment on table cco.transcript_summaries is
    'Summary lines of transcripts. A summary titles the conversation holding its leaf message, which may be in another file or loaded later, so summaries are kept until their leaf arrives.';
comment on column cco.transcript_summaries.project_id is 'Project of the transcript the summary came from.';
comment on column cco.transcript_summaries.leaf_external_id is 'Transcript uuid of the last message of the summarised branch.';
comment on column cco.transcript_summaries.summary is 'The summary text.';
comment on column cco.transcript_summaries.file_path is 'Transcript file the summary line is in.';
comment on column cco.transcript_summaries.line is 'Line number of the summary in that file (later lines supersede earlier ones).';
comment on column cco.transcript_summaries.created_at is 'When the summary was loaded.';

create table cco.model_pricing (
    id                      uuid          not null default gen_random_uuid(),
    model                   text          not null,
    effective_from          date          not null default current_date,
    input_per_million       numeric(12,4) not null,
    output_per_million      numeric(12,4) not null,
    cache_write_per_million numeric(12,4) not null,
    cache_read_per_million  numeric(12,4) not null,
    seeded                  boolean       not null default false,
    created_at              timestamptz   not null default now(),
    cache_write_1h_per_million       numeric(12,4),
    long_context_above_tokens        bigint,
    input_above_per_million          numeric(12,4),
    output_above_per_million         numeric(12,4),
    cache_write_above_per_million    numeric(12,4),
    cache_write_1h_above_per_million numeric(12,4),
    cache_read_above_per_million     numeric(12,4),
    web_search_per_request           numeric(12,6),
    web_fetch_per_request            numeric(12,6) not null default 0,
    fast_multiplier                  numeric(8,4),
    imported                         boolean       not null default false,

    constraint model_pricing_pkey primary key (id),
    -- An operator's, an imported and a seeded price for the same model and day may coexist: the
    -- operator's wins, then the imported one (cco.response_cost), and a restore brings them back
    -- without a conflict.
    constraint model_pricing_model_day_source_key unique (model, effective_from, seeded, imported),
    constraint model_pricing_model_not_empty check (char_length(btrim(model)) > 0),
    constraint model_pricing_prices_check check (
        input_per_million >= 0 and output_per_million >= 0
        and cache_write_per_million >= 0 and cache_read_per_million >= 0),
    constraint model_pricing_other_prices_check check (
        cache_write_1h_per_million >= 0 and input_above_per_million >= 0 and output_above_per_million >= 0
        and cache_write_above_per_million >= 0 and cache_write_1h_above_per_million >= 0
        and cache_read_above_per_million >= 0 and web_search_per_request >= 0
        and web_fetch_per_request >= 0 and fast_multiplier > 0),
    -- Long-context prices mean nothing without the prompt size they start above.
    constraint model_pricing_long_context_check check (
        long_context_above_tokens > 0
        or num_nulls(long_context_above_tokens, input_above_per_million, output_above_per_million,
                     cache_write_above_per_million, cache_write_1h_above_per_million,
                     cache_read_above_per_million) = 6),
    constraint model_pricing_one_source check (not (seeded and imported))
);

comment on table cco.model_pricing is
    'Prices by model from a date on. A price applies to the model of the same id, or to that id with a release date appended (claude-opus-4-7 prices claude-opus-4-7-20260416), never to another model. Seeded from LiteLLM''s price data (scripts/refresh-prices.sh); cco.import_prices loads a newer copy; an operator''s own rows win over both. Readable by everyone, written by operators.';
comment on column cco.model_pricing.id is 'Identifier of the price row.';
comment on column cco.model_pricing.model is 'Model id it prices (see the table comment for how ids match).';
comment on column cco.model_pricing.effective_from is 'First day the prices apply (the latest row not after a response''s day applies to it; -infinity: always).';
comment on column cco.model_pricing.input_per_million is 'USD per million input tokens.';
comment on column cco.model_pricing.output_per_million is 'USD per million output tokens.';
comment on column cco.model_pricing.cache_write_per_million is 'USD per million tokens written to the 5-minute prompt cache (1.25x input).';
comment on column cco.model_pricing.cache_read_per_million is 'USD per million prompt-cache read tokens (0.1x input).';
comment on column cco.model_pricing.seeded is 'Row installed by cco. Seeded rows are not dumped (the extension installs them again); editing one turns it into an operator''s row.';
comment on column cco.model_pricing.created_at is 'When the row was added.';
comment on column cco.model_pricing.cache_write_1h_per_million is 'USD per million tokens written to the 1-hour prompt cache; NULL: 2x input, Anthropic''s published rule.';
comment on column cco.model_pricing.long_context_above_tokens is 'Prompt size (input, cache writes and reads of one response) above which the whole response is billed at the *_above_per_million prices; NULL: no long-context prices.';
comment on column cco.model_pricing.input_above_per_million is 'USD per million input tokens of a long-context response; NULL: the normal price.';
comment on column cco.model_pricing.output_above_per_million is 'USD per million output tokens of a long-context response; NULL: the normal price.';
comment on column cco.model_pricing.cache_write_above_per_million is 'USD per million 5-minute cache write tokens of a long-context response; NULL: the normal price.';
comment on column cco.model_pricing.cache_write_1h_above_per_million is 'USD per million 1-hour cache write tokens of a long-context response; NULL: 2x the long-context input price.';
comment on column cco.model_pricing.cache_read_above_per_million is 'USD per million cache read tokens of a long-context response; NULL: the normal price.';
comment on column cco.model_pricing.web_search_per_request is 'USD per web search request; NULL: no price, so responses that searched are unpriced.';
comment on column cco.model_pricing.web_fetch_per_request is 'USD per web fetch request (Anthropic bills fetched content as input tokens only: 0).';
comment on column cco.model_pricing.fast_multiplier is 'What fast mode (usage.speed = fast) multiplies the token cost by; NULL: no fast price, so fast responses are unpriced.';
comment on column cco.model_pricing.imported is 'Row loaded by cco.import_prices: dumped with the data, outranked by an operator''s row; editing one turns it into an operator''s row.';

create table cco.audit_log (
    id          uuid        not null default gen_random_uuid(),
    occurred_at timestamptz not null default now(),
    transaction_id xid8     not null default pg_current_xact_id(),
    user_id     uuid,
    user_role   text,
    db_role     text        not null default current_user,
    table_name  text        not null,
    operation   text        not null,
    record_id   uuid,
    project_id  uuid,
    old_values  jsonb,
    new_values  jsonb,

    constraint audit_log_pkey primary key (id),
    constraint audit_log_operation_check check (operation in ('INSERT', 'UPDATE', 'DELETE'))
);

comment on table cco.audit_log is
    'Append-only trail of changes to projects, memberships and conversations: who (JWT identity and database role), what (row before and after), when.';
comment on column cco.audit_log.id is 'Identifier of the audit entry.';
comment on column cco.audit_log.occurred_at is 'Transaction time of the change.';
comment on column cco.audit_log.transaction_id is 'Transaction that made the change, to group and order entries.';
comment on column cco.audit_log.user_id is 'JWT sub of the caller, NULL without identity.';
comment on column cco.audit_log.user_role is 'JWT role claim of the caller.';
comment on column cco.audit_log.db_role is 'Database role that executed the change.';
comment on column cco.audit_log.table_name is 'Changed table, schema-qualified.';
comment on column cco.audit_log.operation is 'INSERT, UPDATE or DELETE.';
comment on column cco.audit_log.record_id is 'Identifier of the changed row (for memberships: the member).';
comment on column cco.audit_log.project_id is 'Project the changed row belongs to.';
comment on column cco.audit_log.old_values is 'Row before the change (UPDATE, DELETE).';
comment on column cco.audit_log.new_values is 'Row after the change (INSERT, UPDATE).';

create table cco.search_history (
    id                uuid        not null default gen_random_uuid(),
    user_id           uuid        not null default cco.current_user_id(),
    query             text        not null,
    search_type       text        not null,
    result_count      integer     not null default 0,
    execution_time_ms integer,
    filters           jsonb       not null default '{}',
    "timestamp"       timestamptz not null default now(),

    constraint search_history_pkey primary key (id, user_id),
    constraint search_history_query_length check (char_length(query) between 1 and 1000),
    constraint search_history_search_type_check check (
        search_type in ('message', 'conversation', 'project', 'tool', 'similar', 'suggestion')),
    constraint search_history_result_count_check check (result_count >= 0),
    constraint search_history_execution_time_check check (execution_time_ms >= 0),
    constraint search_history_filters_is_object check (jsonb_typeof(filters) = 'object')
);

comment on table cco.search_history is
    'Searches each user ran, for their own history and for search analytics. Users see only their own entries.';
comment on column cco.search_history.id is 'Identifier of the entry.';
comment on column cco.search_history.user_id is 'User who searched (JWT sub).';
comment on column cco.search_history.query is 'The search text (1 to 1000 characters).';
comment on column cco.search_history.search_type is 'message, conversation, project, tool, similar or suggestion.';
comment on column cco.search_history.result_count is 'How many results the search returned.';
comment on column cco.search_history.execution_time_ms is 'How long the search took.';
comment on column cco.search_history.filters is 'Filters applied, as a JSON object.';
comment on column cco.search_history."timestamp" is 'When the search ran.';

-- pg_dump skips the data of extension tables unless they are registered here.
select pg_catalog.pg_extension_config_dump('cco.projects', '');
select pg_catalog.pg_extension_config_dump('cco.project_members', '');
select pg_catalog.pg_extension_config_dump('cco.conversations', '');
select pg_catalog.pg_extension_config_dump('cco.messages', '');
select pg_catalog.pg_extension_config_dump('cco.tool_calls', '');
select pg_catalog.pg_extension_config_dump('cco.transcript_summaries', '');
select pg_catalog.pg_extension_config_dump('cco.model_pricing', 'where not seeded');
select pg_catalog.pg_extension_config_dump('cco.audit_log', '');
select pg_catalog.pg_extension_config_dump('cco.search_history', '');
