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
-- Costs: prices from LiteLLM's price data matched to a model's own id only, every billed
-- dimension of a response stored and priced, each response counted once per project.

-- Prices: the dimensions LiteLLM's price data has beyond the four 0.4.0 knew, and imported rows
-- (cco.import_prices) between seeded ones and an operator's.
alter table cco.model_pricing
    add column cache_write_1h_per_million       numeric(12,4),
    add column long_context_above_tokens        bigint,
    add column input_above_per_million          numeric(12,4),
    add column output_above_per_million         numeric(12,4),
    add column cache_write_above_per_million    numeric(12,4),
    add column cache_write_1h_above_per_million numeric(12,4),
    add column cache_read_above_per_million     numeric(12,4),
    add column web_search_per_request           numeric(12,6),
    add column web_fetch_per_request            numeric(12,6) not null default 0,
    add column fast_multiplier                  numeric(8,4),
    add column imported                         boolean       not null default false,
    drop constraint model_pricing_model_day_key,
    add constraint model_pricing_model_day_source_key unique (model, effective_from, seeded, imported),
    add constraint model_pricing_other_prices_check check (
        cache_write_1h_per_million >= 0 and input_above_per_million >= 0 and output_above_per_million >= 0
        and cache_write_above_per_million >= 0 and cache_write_1h_above_per_million >= 0
        and cache_read_above_per_million >= 0 and web_search_per_request >= 0
        and web_fetch_per_request >= 0 and fast_multiplier > 0),
    add constraint model_pricing_long_context_check check (
        long_context_above_tokens > 0
        or num_nulls(long_context_above_tokens, input_above_per_million, output_above_per_million,
                     cache_write_above_per_million, cache_write_1h_above_per_million,
                     cache_read_above_per_million) = 6),
    add constraint model_pricing_one_source check (not (seeded and imported));

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

-- The 0.4.0 seeds were typed by hand and matched by prefix; the generated ones replace them.
delete from cco.model_pricing where seeded;

-- begin generated prices
insert into cco.model_pricing
    (model, input_per_million, output_per_million, cache_write_per_million, cache_write_1h_per_million,
     cache_read_per_million, long_context_above_tokens, input_above_per_million, output_above_per_million,
     cache_write_above_per_million, cache_write_1h_above_per_million, cache_read_above_per_million,
     web_search_per_request, fast_multiplier, effective_from, seeded)
select v.model, v.input::numeric, v.output::numeric, v.cache_write::numeric, v.cache_write_1h::numeric,
       v.cache_read::numeric, v.above_tokens::bigint, v.input_above::numeric, v.output_above::numeric,
       v.cache_write_above::numeric, v.cache_write_1h_above::numeric, v.cache_read_above::numeric,
       v.web_search::numeric, v.fast::numeric, '-infinity'::date, true
from (values
    ('claude-fable-5', 10, 50, 12.5, 20, 1, null, null, null, null, null, null, 0.01, null),
    ('claude-fable-5-1', 10, 50, 12.5, 20, 0.25, null, null, null, null, null, null, 0.01, null),
    ('claude-haiku-4-5', 1, 5, 1.25, 2, 0.1, null, null, null, null, null, null, null, null),
    ('claude-haiku-4-5-20251001', 1, 5, 1.25, 2, 0.1, null, null, null, null, null, null, null, null),
    ('claude-haiku-5-5', 0.1, 0.5, 0.125, 0.2, 0.01, 100000, 0.5, 2.5, 0.625, 1, 0.05, 0.01, null),
    ('claude-mythos-5', 10, 50, 12.5, 20, 1, null, null, null, null, null, null, 0.01, null),
    ('claude-mythos-5-1', 10, 50, 12.5, 20, 0.25, null, null, null, null, null, null, 0.01, null),
    ('claude-mythos-preview', 10, 50, 12.5, 20, 1, null, null, null, null, null, null, 0.01, null),
    ('claude-opus-4-5', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, null),
    ('claude-opus-4-5-20251101', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, null),
    ('claude-opus-4-6', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, null),
    ('claude-opus-4-6-20260205', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, null),
    ('claude-opus-4-7', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, null),
    ('claude-opus-4-7-20260416', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, null),
    ('claude-opus-4-8', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, 2),
    ('claude-opus-5', 5, 25, 6.25, 10, 0.5, null, null, null, null, null, null, 0.01, 2),
    ('claude-opus-5-5', 4, 20, 5, 8, 0.2, null, null, null, null, null, null, 0.01, 2),
    ('claude-sonnet-4-5', 3, 15, 3.75, 6, 0.3, null, null, null, null, null, null, 0.01, null),
    ('claude-sonnet-4-5-20250929', 3, 15, 3.75, 6, 0.3, null, null, null, null, null, null, 0.01, null),
    ('claude-sonnet-4-6', 3, 15, 3.75, 6, 0.3, null, null, null, null, null, null, 0.01, null),
    ('claude-sonnet-5', 2, 10, 2.5, 4, 0.2, null, null, null, null, null, null, 0.01, null),
    ('claude-sonnet-5-5', 2, 10, 2.5, 4, 0.1, null, null, null, null, null, null, 0.01, null)
) as v (model, input, output, cache_write, cache_write_1h, cache_read, above_tokens, input_above, output_above,
         cache_write_above, cache_write_1h_above, cache_read_above, web_search, fast);
-- end generated prices

-- Messages: what else a response is billed for, on the message that counts its tokens.
alter table cco.messages
    add column cache_creation_1h_tokens integer not null default 0,
    add column web_search_requests      integer not null default 0,
    add column web_fetch_requests       integer not null default 0,
    add column speed                    text,
    add column service_tier             text,
    add constraint messages_billing_check check (
        cache_creation_1h_tokens between 0 and cache_creation_tokens
        and web_search_requests >= 0 and web_fetch_requests >= 0);

comment on column cco.messages.cache_creation_1h_tokens is 'The part of cache_creation_tokens written to the 1-hour cache (billed 2x input where 5-minute writes are billed 1.25x), counted on one message per response.';
comment on column cco.messages.web_search_requests is 'Web searches the API response made (usage.server_tool_use), billed per request; counted on one message per response.';
comment on column cco.messages.web_fetch_requests is 'Web fetches the API response made (usage.server_tool_use); counted on one message per response.';
comment on column cco.messages.speed is 'usage.speed of the API response when not standard: fast (billed at a multiple); NULL for standard or not given.';
comment on column cco.messages.service_tier is 'usage.service_tier of the API response when not standard (priority, batch: unpriced); NULL for standard or not given.';

-- Every message keeps its line's usage in metadata, so the split is recovered for the messages
-- that count a response (nothing is lost: 0.4.0 kept the whole usage object). Malformed counts
-- stay 0.
update cco.messages m
   set cache_creation_1h_tokens = least(m.cache_creation_tokens, u.cache_1h),
       web_search_requests = u.web_searches,
       web_fetch_requests = u.web_fetches,
       speed = u.speed,
       service_tier = u.service_tier
  from (select id, project_id,
               coalesce(case when jsonb_typeof(metadata #> '{usage,cache_creation,ephemeral_1h_input_tokens}') = 'number'
                             then least(greatest(floor((metadata #>> '{usage,cache_creation,ephemeral_1h_input_tokens}')::numeric), 0), 2147483647)::integer end, 0) as cache_1h,
               coalesce(case when jsonb_typeof(metadata #> '{usage,server_tool_use,web_search_requests}') = 'number'
                             then least(greatest(floor((metadata #>> '{usage,server_tool_use,web_search_requests}')::numeric), 0), 2147483647)::integer end, 0) as web_searches,
               coalesce(case when jsonb_typeof(metadata #> '{usage,server_tool_use,web_fetch_requests}') = 'number'
                             then least(greatest(floor((metadata #>> '{usage,server_tool_use,web_fetch_requests}')::numeric), 0), 2147483647)::integer end, 0) as web_fetches,
               left(nullif(nullif(metadata #>> '{usage,speed}', ''), 'standard'), 40) as speed,
               left(nullif(nullif(metadata #>> '{usage,service_tier}', ''), 'standard'), 40) as service_tier
        from cco.messages
        where token_count > 0 and jsonb_typeof(metadata -> 'usage') = 'object') u
 where m.id = u.id and m.project_id = u.project_id
   -- Rows whose response used none of it keep their defaults and are not rewritten.
   and (u.cache_1h > 0 or u.web_searches > 0 or u.web_fetches > 0
        or u.speed is not null or u.service_tier is not null);

-- 0.4.0 counted a response once per session; a resumed session or a copy in another session's
-- file counted it again. Each response now counts once per project: the message with the most
-- output tokens keeps it (the earliest on a tie), as a load decides.
update cco.messages m
   set token_count = 0, input_tokens = 0, output_tokens = 0, cache_creation_tokens = 0,
       cache_read_tokens = 0, cache_creation_1h_tokens = 0, web_search_requests = 0,
       web_fetch_requests = 0, speed = null, service_tier = null
  from (select id, project_id,
               row_number() over (partition by project_id, metadata->>'messageId', metadata->>'requestId'
                                  order by output_tokens desc, "timestamp", created_at, id) as place
        from cco.messages
        where token_count > 0 and metadata ? 'messageId' and metadata ? 'requestId') ranked
 where ranked.place > 1 and m.id = ranked.id and m.project_id = ranked.project_id;

drop index cco.messages_project_conversation_idx;
create index messages_project_conversation_idx
    on cco.messages (project_id, conversation_id, "timestamp")
    include (role, model, token_count, input_tokens, output_tokens, cache_creation_tokens,
             cache_read_tokens, content_length, depth, parent_id, cache_creation_1h_tokens,
             web_search_requests, web_fetch_requests, speed, service_tier);

-- The message carrying each API response's usage, by response id within a project: a load
-- finds whether another file of the project (a subagent, a resumed session) counted it already.
create index messages_response_idx
    on cco.messages (project_id, (metadata->>'messageId'))
    where token_count > 0;

-- The Rust functions that price responses take every billed dimension.
CREATE FUNCTION cco."response_cost"(
	"model" TEXT, /* Option < & str > */
	"at" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"input_tokens" bigint, /* Option < i64 > */
	"output_tokens" bigint, /* Option < i64 > */
	"cache_creation_tokens" bigint, /* Option < i64 > */
	"cache_read_tokens" bigint, /* Option < i64 > */
	"cache_creation_1h_tokens" bigint, /* Option < i64 > */
	"web_search_requests" bigint, /* Option < i64 > */
	"web_fetch_requests" bigint, /* Option < i64 > */
	"speed" TEXT, /* Option < & str > */
	"service_tier" TEXT /* Option < & str > */
) RETURNS double precision /* Option < f64 > */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'response_cost_wrapper';

CREATE FUNCTION cco."summarize_messages_add"(
	"state" internal, /* Internal */
	"role" TEXT, /* Option < & str > */
	"content_length" INT, /* Option < i32 > */
	"at" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"starts_thread" bool, /* Option < bool > */
	"depth" INT, /* Option < i32 > */
	"model" TEXT, /* Option < & str > */
	"input_tokens" INT, /* Option < i32 > */
	"output_tokens" INT, /* Option < i32 > */
	"cache_creation_tokens" INT, /* Option < i32 > */
	"cache_read_tokens" INT, /* Option < i32 > */
	"token_count" INT, /* Option < i32 > */
	"cache_creation_1h_tokens" INT, /* Option < i32 > */
	"web_search_requests" INT, /* Option < i32 > */
	"web_fetch_requests" INT, /* Option < i32 > */
	"speed" TEXT, /* Option < & str > */
	"service_tier" TEXT /* Option < & str > */
) RETURNS internal /* Internal */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'summarize_messages_add_wrapper';

CREATE FUNCTION cco."compute_usage_blocks"(
	"entry_times" timestamp with time zone[], /* Vec < Option < TimestampWithTimeZone > > */
	"input_tokens" bigint[], /* Vec < Option < i64 > > */
	"output_tokens" bigint[], /* Vec < Option < i64 > > */
	"cache_creation_tokens" bigint[], /* Vec < Option < i64 > > */
	"cache_read_tokens" bigint[], /* Vec < Option < i64 > > */
	"models" TEXT[], /* Vec < Option < String > > */
	"cache_creation_1h_tokens" bigint[], /* Vec < Option < i64 > > */
	"web_search_requests" bigint[], /* Vec < Option < i64 > > */
	"web_fetch_requests" bigint[], /* Vec < Option < i64 > > */
	"speeds" TEXT[], /* Vec < Option < String > > */
	"service_tiers" TEXT[], /* Vec < Option < String > > */
	"now" timestamp with time zone, /* TimestampWithTimeZone */
	"block_length" interval DEFAULT '5 hours' /* Interval */
) RETURNS TABLE (
	"block_start" timestamp with time zone,  /* TimestampWithTimeZone */
	"block_end" timestamp with time zone,  /* TimestampWithTimeZone */
	"first_entry" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"last_entry" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"is_active" bool,  /* bool */
	"is_gap" bool,  /* bool */
	"entries" bigint,  /* i64 */
	"input_tokens" bigint,  /* i64 */
	"output_tokens" bigint,  /* i64 */
	"cache_creation_tokens" bigint,  /* i64 */
	"cache_read_tokens" bigint,  /* i64 */
	"total_tokens" bigint,  /* i64 */
	"cost" double precision,  /* f64 */
	"models" TEXT[],  /* Vec < String > */
	"burn_tokens_per_minute" double precision,  /* Option < f64 > */
	"burn_cost_per_hour" double precision,  /* Option < f64 > */
	"projected_total_tokens" bigint,  /* Option < i64 > */
	"projected_cost" double precision,  /* Option < f64 > */
	"remaining_minutes" bigint  /* Option < i64 > */
)
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'compute_usage_blocks_wrapper';

CREATE FUNCTION cco."litellm_anthropic_prices"(
	"prices" TEXT /* &str */
) RETURNS jsonb /* pgrx :: JsonB */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'litellm_anthropic_prices_wrapper';

create aggregate cco.summarize_messages(
    role text, content_length integer, "timestamp" timestamptz, starts_thread boolean,
    depth integer, model text, input_tokens integer, output_tokens integer,
    cache_creation_tokens integer, cache_read_tokens integer, token_count integer,
    cache_creation_1h_tokens integer, web_search_requests integer, web_fetch_requests integer,
    speed text, service_tier text) (
    sfunc        = cco.summarize_messages_add,
    stype        = internal,
    combinefunc  = cco.summarize_messages_combine,
    serialfunc   = cco.summarize_messages_serialize,
    deserialfunc = cco.summarize_messages_deserialize,
    finalfunc    = cco.summarize_messages_final,
    parallel     = safe
);

comment on aggregate cco.summarize_messages(text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer, integer, integer, integer, text, text) is
    'A group of messages in one pass (see cco.message_summary), given each message''s role, content_length, timestamp, whether it starts a thread (parent_id is null), depth, model, tokens and what else its response is billed for; responses (token_count > 0) are priced as cco.response_cost prices them (unpriced ones add nothing). Parallel-safe.';
comment on function cco.summarize_messages_add(internal, text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer, integer, integer, integer, text, text) is 'State function of cco.summarize_messages.';
comment on function cco.compute_usage_blocks(timestamptz[], bigint[], bigint[], bigint[], bigint[], text[], bigint[], bigint[], bigint[], text[], text[], timestamptz, interval) is
    'Groups usage entries (parallel arrays) into 5-hour blocks and gaps as of a given time, pricing each by cco.model_pricing as cco.response_cost does (unpriced responses add nothing: see cco.unpriced_models); cco.usage_blocks calls it.';

-- An operator who edits a seeded or imported price makes it their own: it is then dumped with
-- their data and outranks seeded and imported prices.
create or replace function cco.model_pricing_own_edits() returns trigger
language plpgsql
as $$
begin
    new.seeded := false;
    new.imported := false;
    return new;
end
$$;

comment on function cco.model_pricing_own_edits() is
    'Marks an edited seeded or imported price as the operator''s, so dumps keep the edit and it wins over the others.';

drop trigger model_pricing_own_edits on cco.model_pricing;
create trigger model_pricing_own_edits
    before update on cco.model_pricing
    for each row when (old.seeded or old.imported) execute function cco.model_pricing_own_edits();

-- The price rule lives in Rust (cco_core::analytics::pricing) and cco.response_cost applies it;
-- this is its exact form for one response or any sum of token counts without long-context or
-- fast-mode prices.
drop function cco.usage_cost(text, timestamptz, bigint, bigint, bigint, bigint);
create function cco.usage_cost(
    model text, at timestamptz, input_tokens bigint, output_tokens bigint,
    cache_creation_tokens bigint, cache_read_tokens bigint,
    cache_creation_1h_tokens bigint default 0, web_search_requests bigint default 0,
    web_fetch_requests bigint default 0, speed text default null, service_tier text default null)
returns numeric
language sql stable parallel safe security invoker
as $$
    select round(cco.response_cost(model, at, input_tokens, output_tokens, cache_creation_tokens,
                                   cache_read_tokens, cache_creation_1h_tokens, web_search_requests,
                                   web_fetch_requests, speed, service_tier)::numeric, 6)
$$;

comment on function cco.usage_cost(text, timestamptz, bigint, bigint, bigint, bigint, bigint, bigint, bigint, text, text) is
    'Cost in USD of an API response''s usage for a model on a date, from cco.model_pricing: input, output, cache writes (cache_creation_tokens: all of them, cache_creation_1h_tokens: the 1-hour part), cache reads, web searches and fetches, speed and service tier. A price applies to the model''s own id or its id without a date suffix, never another model''s; NULL for an unpriced model, or a response its price does not cover (fast mode without a fast price, a service tier other than standard).';

comment on function cco.response_cost(text, timestamptz, bigint, bigint, bigint, bigint, bigint, bigint, bigint, text, text) is
    'Cost in USD of one API response by the rule of cco.usage_cost, in double precision: reads the prices once per query and prices each model and day once, so views cost every response in the pass that counts them. NULL when unpriced.';

comment on function cco.litellm_anthropic_prices(text) is
    'The Anthropic models of LiteLLM''s price data (model_prices_and_context_window.json) as a JSON array of rows of cco.model_pricing''s price columns (exact decimal strings); cco.import_prices stores them.';

-- Importing prices: a copy of LiteLLM's price data, read by the caller (cco never downloads
-- anything), replaces the imported prices of the same day. Operators' own rows stay and win.
create function cco.import_prices(prices jsonb, effective_from date default '-infinity')
returns integer
language plpgsql volatile security invoker
set search_path = pg_catalog, pg_temp
as $$
declare
    loaded integer;
begin
    create temporary table imported_prices on commit drop as
    select r.*
    from jsonb_to_recordset(cco.litellm_anthropic_prices(prices::text)) as r (
        model text, input_per_million numeric, output_per_million numeric,
        cache_write_per_million numeric, cache_write_1h_per_million numeric, cache_read_per_million numeric,
        long_context_above_tokens bigint, input_above_per_million numeric, output_above_per_million numeric,
        cache_write_above_per_million numeric, cache_write_1h_above_per_million numeric,
        cache_read_above_per_million numeric, web_search_per_request numeric, fast_multiplier numeric);
    -- Replaced, not updated: editing a row makes it an operator's (cco.model_pricing_own_edits).
    delete from cco.model_pricing p
    using imported_prices i
    where p.imported and p.model = i.model and p.effective_from = import_prices.effective_from;
    insert into cco.model_pricing
        (model, effective_from, input_per_million, output_per_million, cache_write_per_million,
         cache_read_per_million, cache_write_1h_per_million, long_context_above_tokens,
         input_above_per_million, output_above_per_million, cache_write_above_per_million,
         cache_write_1h_above_per_million, cache_read_above_per_million, web_search_per_request,
         fast_multiplier, imported)
    select i.model, import_prices.effective_from, i.input_per_million, i.output_per_million,
           i.cache_write_per_million, i.cache_read_per_million, i.cache_write_1h_per_million,
           i.long_context_above_tokens, i.input_above_per_million, i.output_above_per_million,
           i.cache_write_above_per_million, i.cache_write_1h_above_per_million,
           i.cache_read_above_per_million, i.web_search_per_request, i.fast_multiplier, true
    from imported_prices i;
    get diagnostics loaded = row_count;
    drop table imported_prices;
    return loaded;
end
$$;

comment on function cco.import_prices(jsonb, date) is
    'Loads every Anthropic model''s prices from a copy of LiteLLM''s price data (model_prices_and_context_window.json, as jsonb): input, output, 5-minute and 1-hour cache writes, cache reads, long-context tiers, web search and fast mode. They apply from effective_from (default: always), replace earlier imports of the same day, rank above seeded prices and below an operator''s own rows. Returns the number of models loaded. For operators.';

create or replace view cco.message_usage with (security_invoker = true) as
select m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp") as day,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       round(sum(c.cost)::numeric, 6)           as cost,
       sum(m.cache_creation_1h_tokens)::bigint  as cache_creation_1h_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       sum(m.web_fetch_requests)::bigint        as web_fetch_requests,
       count(*) filter (where c.cost is null)   as unpriced_responses
from cco.messages m
cross join lateral (select cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                             m.cache_creation_tokens, m.cache_read_tokens,
                                             m.cache_creation_1h_tokens, m.web_search_requests,
                                             m.web_fetch_requests, m.speed, m.service_tier) as cost) c
where m.token_count > 0
group by m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp");

comment on view cco.message_usage is
    'Token usage and cost per conversation, model and day (each API response counted once; cost sums the priced responses, unpriced_responses counts the others).';

create or replace view cco.conversation_analytics with (security_invoker = true) as
select c.id                                    as conversation_id,
       c.project_id,
       c.title,
       c.status,
       c.message_count,
       coalesce((m.summary).user_messages, 0)      as user_messages,
       coalesce((m.summary).assistant_messages, 0) as assistant_messages,
       -- the only other role (messages_role_check)
       coalesce((m.summary).messages - (m.summary).user_messages - (m.summary).assistant_messages, 0)
                                               as system_messages,
       round((m.summary).content_length_sum::numeric / nullif((m.summary).content_length_count, 0), 1)
                                               as avg_content_length,
       (m.summary).max_content_length,
       (c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens) as total_tokens,
       round((c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens)::numeric
             / nullif(c.message_count, 0), 1)  as avg_tokens_per_message,
       c.input_tokens,
       c.output_tokens,
       c.cache_creation_tokens,
       c.cache_read_tokens,
       (m.summary).first_message_at,
       (m.summary).last_message_at,
       (m.summary).last_message_at - (m.summary).first_message_at as duration,
       round((extract(epoch from (m.summary).active_time) / 60)::numeric, 1) as active_minutes,
       coalesce((t.summary).distinct_tools, 0)     as distinct_tools,
       coalesce((t.summary).calls, 0)              as tool_calls,
       coalesce((t.summary).successful_calls, 0)   as successful_tool_calls,
       coalesce((t.summary).failed_calls, 0)       as failed_tool_calls,
       round((t.summary).execution_ms_sum::numeric / nullif((t.summary).execution_ms_count, 0), 1)
                                               as avg_tool_ms,
       coalesce((m.summary).root_messages, 0)      as root_messages,
       (m.summary).max_depth,
       round((m.summary).depth_sum::numeric / nullif((m.summary).depth_count, 0), 2) as avg_depth,
       round((m.summary).cost::numeric, 6)         as cost
from cco.conversations c
left join (
    select project_id,
           conversation_id,
           cco.summarize_messages(role, content_length, "timestamp", parent_id is null, depth, model,
                                  input_tokens, output_tokens, cache_creation_tokens,
                                  cache_read_tokens, token_count, cache_creation_1h_tokens,
                                  web_search_requests, web_fetch_requests, speed, service_tier) as summary
    from cco.messages
    group by project_id, conversation_id
) m on m.project_id = c.project_id and m.conversation_id = c.id
left join (
    select project_id,
           conversation_id,
           cco.summarize_tool_calls(tool_name, status, execution_time_ms) as summary
    from cco.tool_calls
    group by project_id, conversation_id
) t on t.project_id = c.project_id and t.conversation_id = c.id;

comment on view cco.conversation_analytics is
    'Per conversation: messages by role, content length, tokens (total, per message, by kind), first and last message, duration and active minutes (gaps over 30 minutes left out), tools and their outcomes, thread shape (roots, depth) and cost.';

create or replace view cco.project_analytics with (security_invoker = true) as
select p.id                                  as project_id,
       p.name,
       p.path,
       c.conversations,
       c.active_conversations,
       c.completed_conversations,
       c.messages,
       c.total_tokens,
       m.cost,
       m.active_days,
       m.active_weeks,
       m.first_message_at,
       m.last_message_at,
       t.distinct_tools,
       t.tool_calls,
       t.avg_tool_ms,
       m.messages_last_24h,
       m.messages_last_7d,
       m.messages_last_30d
from cco.projects p
cross join lateral (
    select count(*)                                         as conversations,
           count(*) filter (where status = 'active')       as active_conversations,
           count(*) filter (where status = 'completed')    as completed_conversations,
           coalesce(sum(message_count), 0)                  as messages,
           coalesce(sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0) as total_tokens
    from cco.conversations where project_id = p.id
) c
cross join lateral (
    select count(distinct date_trunc('day', q.quarter))   as active_days,
           count(distinct date_trunc('week', q.quarter))  as active_weeks,
           min(q.first_at)                                 as first_message_at,
           max(q.last_at)                                  as last_message_at,
           coalesce(sum(q.last_24h), 0)::bigint            as messages_last_24h,
           coalesce(sum(q.last_7d), 0)::bigint             as messages_last_7d,
           coalesce(sum(q.last_30d), 0)::bigint            as messages_last_30d,
           round(sum(q.cost)::numeric, 6)                  as cost
    from (
        -- One pass over messages_project_conversation_idx in quarter hours, then days: a day in
        -- the session's time zone is a costly computation per message, cheap per quarter hour.
        -- Exact for every time zone offset that is a whole number of quarter hours (all in use
        -- since the 1970s), as day boundaries then fall between quarters. The bounds of the
        -- recent windows are computed once (subqueries), not once per message.
        select date_bin('15 minutes', m."timestamp", timestamptz '2000-01-01 00:00+00') as quarter,
               min(m."timestamp")                                                           as first_at,
               max(m."timestamp")                                                           as last_at,
               count(*) filter (where m."timestamp" > (select now() - interval '24 hours')) as last_24h,
               count(*) filter (where m."timestamp" > (select now() - interval '7 days'))   as last_7d,
               count(*) filter (where m."timestamp" > (select now() - interval '30 days'))  as last_30d,
               sum(cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                     m.cache_creation_tokens, m.cache_read_tokens,
                                     m.cache_creation_1h_tokens, m.web_search_requests,
                                     m.web_fetch_requests, m.speed, m.service_tier))
                   filter (where m.token_count > 0)                                         as cost
        from cco.messages m
        where m.project_id = p.id
        group by 1
    ) q
) m
cross join lateral (
    select count(distinct tool_name) as distinct_tools, count(*) as tool_calls,
           round(avg(execution_time_ms), 1) as avg_tool_ms
    from cco.tool_calls where project_id = p.id
) t;

comment on view cco.project_analytics is
    'Per project: conversations (total, active, completed), messages, tokens, cost, active days and weeks, first and last message, tools, and messages in the last 24 hours, 7 and 30 days.';

create or replace view cco.token_usage_daily with (security_invoker = true) as
select date_trunc('day', m."timestamp")         as day,
       m.project_id,
       m.model,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       round(sum(c.cost)::numeric, 6)           as cost,
       sum(m.cache_creation_1h_tokens)::bigint  as cache_creation_1h_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       sum(m.web_fetch_requests)::bigint        as web_fetch_requests,
       count(*) filter (where m.speed = 'fast') as fast_responses,
       count(*) filter (where c.cost is null)   as unpriced_responses
from cco.messages m
cross join lateral (select cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                             m.cache_creation_tokens, m.cache_read_tokens,
                                             m.cache_creation_1h_tokens, m.web_search_requests,
                                             m.web_fetch_requests, m.speed, m.service_tier) as cost) c
where m.token_count > 0
group by date_trunc('day', m."timestamp"), m.project_id, m.model;

comment on view cco.token_usage_daily is
    'Per day, project and model: API responses, tokens by kind, web searches and fetches, fast responses (each response counted once), cost of the priced responses and the number of unpriced ones.';

-- Models nobody has a price for, so their usage is visible instead of costing a silent zero.
create view cco.unpriced_models with (security_invoker = true) as
select m.model,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       min(m."timestamp")                       as first_message_at,
       max(m."timestamp")                       as last_message_at
from cco.messages m
where m.token_count > 0
  -- Lines Claude Code writes itself are not API responses: never priced, never missing a price.
  and m.model is distinct from '<synthetic>'
  and cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                        m.cache_creation_tokens, m.cache_read_tokens, m.cache_creation_1h_tokens,
                        m.web_search_requests, m.web_fetch_requests, m.speed, m.service_tier) is null
group by m.model;

grant select on cco.unpriced_models to anon, authenticated, service_role;

comment on view cco.unpriced_models is
    'Models (NULL: responses without a model) with API responses cco.model_pricing does not price, or prices only in part (fast mode without a fast price, a service tier other than standard), and their usage: add a price or import newer price data to cost them.';

create or replace function cco.usage_blocks(
    project_ids uuid[] default null,
    since timestamptz default null,
    block_length interval default '5 hours')
returns table (block_start timestamptz, block_end timestamptz, first_entry timestamptz,
               last_entry timestamptz, is_active boolean, is_gap boolean, entries bigint,
               input_tokens bigint, output_tokens bigint, cache_creation_tokens bigint,
               cache_read_tokens bigint, total_tokens bigint, cost double precision, models text[],
               burn_tokens_per_minute double precision, burn_cost_per_hour double precision,
               projected_total_tokens bigint, projected_cost double precision,
               remaining_minutes bigint)
language sql stable security invoker parallel safe
as $$
    select b.*
    from (
        select array_agg(m."timestamp")                 as at,
               array_agg(m.input_tokens::bigint)        as input,
               array_agg(m.output_tokens::bigint)       as output,
               array_agg(m.cache_creation_tokens::bigint) as cache_creation,
               array_agg(m.cache_read_tokens::bigint)   as cache_read,
               array_agg(m.model)                       as model,
               array_agg(m.cache_creation_1h_tokens::bigint) as cache_creation_1h,
               array_agg(m.web_search_requests::bigint) as web_search,
               array_agg(m.web_fetch_requests::bigint)  as web_fetch,
               array_agg(m.speed)                       as speed,
               array_agg(m.service_tier)                as service_tier
        from cco.messages m
        where m.token_count > 0
          and (usage_blocks.project_ids is null or m.project_id = any (usage_blocks.project_ids))
          and (usage_blocks.since is null or m."timestamp" >= usage_blocks.since)
    ) as usage
    -- The block computation prices each response itself (as cco.response_cost does), without
    -- a numeric product per response.
    cross join lateral cco.compute_usage_blocks(usage.at, usage.input, usage.output, usage.cache_creation,
                                                usage.cache_read, usage.model, usage.cache_creation_1h,
                                                usage.web_search, usage.web_fetch, usage.speed,
                                                usage.service_tier, now(),
                                                usage_blocks.block_length) as b
    where usage.at is not null
$$;

-- What the new functions replaced.
drop aggregate cco.summarize_messages(text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer);
drop function cco.summarize_messages_add(internal, text, integer, timestamptz, boolean, integer, text, integer, integer, integer, integer, integer);
drop function cco.compute_usage_blocks(timestamptz[], bigint[], bigint[], bigint[], bigint[], text[], timestamptz, interval);
drop function cco.priced_usage(text, timestamptz, bigint, bigint, bigint, bigint);
drop function cco.response_cost(text, timestamptz, bigint, bigint, bigint, bigint);

-- View columns new or changed in meaning (the glossary of sql/08_analytics.sql).
comment on column cco.conversation_analytics.cost is 'Cost in USD from cco.model_pricing of the priced responses (unpriced ones add nothing: see unpriced_responses and cco.unpriced_models).';
comment on column cco.message_usage.cost is 'Cost in USD from cco.model_pricing of the priced responses (unpriced ones add nothing: see unpriced_responses and cco.unpriced_models).';
comment on column cco.message_usage.cache_creation_1h_tokens is 'The part of the cache write tokens written to the 1-hour cache, each API response counted once.';
comment on column cco.message_usage.web_search_requests is 'Web search requests, each API response counted once.';
comment on column cco.message_usage.web_fetch_requests is 'Web fetch requests, each API response counted once.';
comment on column cco.message_usage.unpriced_responses is 'API responses no price applies to (their cost is not in cost).';
comment on column cco.project_analytics.cost is 'Cost in USD from cco.model_pricing of the priced responses (unpriced ones add nothing: see unpriced_responses and cco.unpriced_models).';
comment on column cco.project_summary.cost is 'Cost in USD from cco.model_pricing of the priced responses (unpriced ones add nothing: see unpriced_responses and cco.unpriced_models).';
comment on column cco.project_usage_blocks.cost is 'Cost in USD from cco.model_pricing of the priced responses (unpriced ones add nothing: see unpriced_responses and cco.unpriced_models).';
comment on column cco.token_usage_daily.cost is 'Cost in USD from cco.model_pricing of the priced responses (unpriced ones add nothing: see unpriced_responses and cco.unpriced_models).';
comment on column cco.token_usage_daily.cache_creation_1h_tokens is 'The part of the cache write tokens written to the 1-hour cache, each API response counted once.';
comment on column cco.token_usage_daily.web_search_requests is 'Web search requests, each API response counted once.';
comment on column cco.token_usage_daily.web_fetch_requests is 'Web fetch requests, each API response counted once.';
comment on column cco.token_usage_daily.fast_responses is 'API responses generated in fast mode.';
comment on column cco.token_usage_daily.unpriced_responses is 'API responses no price applies to (their cost is not in cost).';
comment on column cco.unpriced_models.model is 'Model that wrote the responses.';
comment on column cco.unpriced_models.responses is 'API responses (each counted once).';
comment on column cco.unpriced_models.input_tokens is 'Input tokens, each API response counted once.';
comment on column cco.unpriced_models.output_tokens is 'Output tokens, each API response counted once.';
comment on column cco.unpriced_models.cache_creation_tokens is 'Prompt-cache write tokens, each API response counted once.';
comment on column cco.unpriced_models.cache_read_tokens is 'Prompt-cache read tokens, each API response counted once.';
comment on column cco.unpriced_models.web_search_requests is 'Web search requests, each API response counted once.';
comment on column cco.unpriced_models.first_message_at is 'Timestamp of the first message.';
comment on column cco.unpriced_models.last_message_at is 'Timestamp of the last message.';

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

-- Recent API responses by time, new in 0.5.0 (sql/02_indexes.sql): `cco statusline` reads the
-- active usage block and today's cost on every prompt, from the last hours of responses only.
create index messages_usage_time_idx
    on cco.messages ("timestamp")
    where token_count > 0;
