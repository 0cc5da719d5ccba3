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
          -- the extension's own bookkeeping on Citus (sql/10_citus.sql)
          and c.relname <> 'project_activity_changes'
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

-- Citus (scale-out): cco.distribute and its helpers (sql/10_citus.sql). Functions Citus cannot
-- plan as SQL functions are PL/pgSQL now (message_thread, apply_summary_titles, usage_blocks,
-- lock_for_statistics); the statistics triggers read their transition tables before any other
-- table and, once distributed, leave projects.last_activity to cco.refresh_project_activity; the
-- audit names a shard's table, not the shard; message_usage and token_usage_daily compute each
-- response's cost in a plain subquery; the ranking may be summed over shards (sql/04_triggers.sql,
-- 05_threads.sql, 06_search.sql, 07_ingest.sql, 08_analytics.sql).
create function cco.maintains_project_activity() returns boolean
language sql stable parallel safe
as $$
    select current_setting('cco.distributed', true) is distinct from 'on'
$$;

comment on function cco.maintains_project_activity() is
    'False where the statistics triggers leave projects.last_activity to the project activity worker (on Citus, after cco.distribute); true on a single server.';

create or replace function cco.lock_for_statistics(conversation_ids uuid[], project_ids uuid[]) returns void
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

create or replace function cco.messages_count_inserted() returns trigger
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

create or replace function cco.messages_count_deleted() returns trigger
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

create or replace function cco.messages_count_updated() returns trigger
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

create or replace function cco.audit_row_change() returns trigger
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

create or replace function cco.message_thread(message_id uuid)
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

create or replace function cco.apply_summary_titles(conversation_ids uuid[]) returns void
language plpgsql volatile security invoker
as $$
begin
    update cco.conversations c
    set title = left(s.summary, 500),
        metadata = c.metadata || '{"title_source": "summary"}'
    from (
        select distinct on (m.conversation_id) m.conversation_id, ts.summary
        from cco.transcript_summaries ts
        join cco.messages m on m.project_id = ts.project_id and m.external_id = ts.leaf_external_id
        where m.conversation_id = any (conversation_ids)
        order by m.conversation_id, m."timestamp" desc, ts.created_at desc, ts.line desc
    ) as s
    where c.id = s.conversation_id
      and (c.title is null or c.metadata->>'title_source' in ('prompt', 'summary'))
      and c.title is distinct from left(s.summary, 500);
end
$$;

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
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
begin
    return query
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
    where usage.at is not null;
end
$$;

create or replace view cco.message_usage with (security_invoker = true) as
select m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp") as day,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       round(sum(m.cost)::numeric, 6)           as cost,
       sum(m.cache_creation_1h_tokens)::bigint  as cache_creation_1h_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       sum(m.web_fetch_requests)::bigint        as web_fetch_requests,
       count(*) filter (where m.cost is null)   as unpriced_responses
-- The cost of each response computed once, in a subquery rather than a lateral one: Citus runs
-- it on the shards, where it refuses a lateral subquery that calls a function.
from (
    select m.*, cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                  m.cache_creation_tokens, m.cache_read_tokens,
                                  m.cache_creation_1h_tokens, m.web_search_requests,
                                  m.web_fetch_requests, m.speed, m.service_tier) as cost
    from cco.messages m
    where m.token_count > 0
) as m
group by m.project_id, m.conversation_id, m.model, date_trunc('day', m."timestamp");

create or replace view cco.token_usage_daily with (security_invoker = true) as
select date_trunc('day', m."timestamp")         as day,
       m.project_id,
       m.model,
       count(*)                                 as responses,
       sum(m.input_tokens)::bigint              as input_tokens,
       sum(m.output_tokens)::bigint             as output_tokens,
       sum(m.cache_creation_tokens)::bigint     as cache_creation_tokens,
       sum(m.cache_read_tokens)::bigint         as cache_read_tokens,
       round(sum(m.cost)::numeric, 6)           as cost,
       sum(m.cache_creation_1h_tokens)::bigint  as cache_creation_1h_tokens,
       sum(m.web_search_requests)::bigint       as web_search_requests,
       sum(m.web_fetch_requests)::bigint        as web_fetch_requests,
       count(*) filter (where m.speed = 'fast') as fast_responses,
       count(*) filter (where m.cost is null)   as unpriced_responses
-- The cost of each response computed once, in a subquery rather than a lateral one: Citus runs
-- it on the shards, where it refuses a lateral subquery that calls a function.
from (
    select m.*, cco.response_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                                  m.cache_creation_tokens, m.cache_read_tokens,
                                  m.cache_creation_1h_tokens, m.web_search_requests,
                                  m.web_fetch_requests, m.speed, m.service_tier) as cost
    from cco.messages m
    where m.token_count > 0
) as m
group by date_trunc('day', m."timestamp"), m.project_id, m.model;

create or replace function cco.message_ranking(search_query text, project_ids uuid[] default null)
returns cco.ranking
language plpgsql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $$
begin
    -- On Citus (cco.distribute) each shard's index counts its own rows: the counts are summed.
    if current_setting('cco.distributed', true) = 'on' then
        return cco.ranking_across_shards(search_query, cco.search_scope(project_ids));
    end if;
    return cco.ranking_within('cco.messages_rank_idx'::regclass, search_query, cco.search_scope(project_ids));
end
$$;

create or replace function cco.search_messages(
    search_query text,
    project_ids uuid[] default null,
    conversation_ids uuid[] default null,
    message_roles text[] default null,
    limit_count integer default 50,
    offset_count integer default 0)
returns table (id uuid, conversation_id uuid, project_id uuid, role text, content text,
               "timestamp" timestamptz, token_count integer, rank real, headline text,
               project_name text, conversation_title text)
language plpgsql stable security invoker parallel safe
-- One plan for every query: the ranked index serves them all alike, and planning afresh for each
-- query's words (what PostgreSQL does while it judges a custom plan cheaper) would take longer than
-- many searches. The search_path is pinned for the reason cco.search_scope's is.
set plan_cache_mode = force_generic_plan
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    scope uuid[] := cco.search_scope(project_ids);
    matching tsquery := cco.to_tsquery(search_query);
    ranking cco.ranking;
begin
    perform cco.check_page(limit_count, offset_count, 1000);
    if numnode(matching) = 0 then
        return; -- nothing searchable in the query
    end if;
    ranking := cco.message_ranking(search_query, project_ids);
    -- The ranked index (messages_rank_idx) walks the best matches first and stops after the
    -- page; the projects searched are an index condition, so it reads only theirs.
    return query
    with page as materialized (
        select m.id, m.conversation_id, m.project_id, m.role, m.content, m."timestamp", m.token_count,
               m.search_vector operator(cco.<&>) ranking as distance
        from cco.messages m
        where m.search_vector operator(cco.@@) matching
          and m.project_id operator(cco.<@) scope
          -- The same condition in the form Citus prunes shards by: a search of some projects
          -- goes to their shards only. On a single server, a filter on the rows the index returns.
          and (scope is null or m.project_id = any (scope))
          and (conversation_ids is null or m.conversation_id = any (conversation_ids))
          and (message_roles is null or m.role = any (message_roles))
        order by m.search_vector operator(cco.<&>) ranking
        limit limit_count offset offset_count
    ),
    -- The page's projects and conversations, each read once (joined row by row, the small
    -- projects table is scanned again for every message, its row level security condition
    -- with it, and a conversation with several hits is looked up for each).
    page_projects as materialized (
        select p.id, p.name from cco.projects p where p.id in (select page.project_id from page)
    ),
    page_conversations as materialized (
        select c.id, c.project_id, c.title
        from cco.conversations c
        where c.id = any (array(select distinct page.conversation_id from page))
          -- On Citus, the scope's shards only, as for the page.
          and (scope is null or c.project_id = any (scope))
    )
    select m.id, m.conversation_id, m.project_id, m.role, m.content, m."timestamp", m.token_count,
           (0 - m.distance)::real, cco.highlight(m.content, search_query), p.name, c.title
    from page m
    join page_projects p on p.id = m.project_id
    left join page_conversations c on c.id = m.conversation_id and c.project_id = m.project_id
    order by m.distance, m."timestamp" desc, m.id;
end
$$;

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

CREATE  FUNCTION "loaded_at_server_start"() RETURNS bool /* bool */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'loaded_at_server_start_wrapper';

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

CREATE  FUNCTION "routed_project"(
	"project" uuid /* pgrx::datum::uuid::Uuid */
) RETURNS uuid /* pgrx::datum::uuid::Uuid */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'routed_project_wrapper';

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

-- Recent API responses by time, new in 0.5.0 (sql/02_indexes.sql): `cco statusline` reads the
-- active usage block and today's cost on every prompt, from the last hours of responses only.
create index messages_usage_time_idx
    on cco.messages ("timestamp")
    where token_count > 0;

-- Citus plans the analytics views and cco.search_projects (docs/citus.md): each table aggregated
-- by project_id in a subquery joined afterwards, instead of lateral and correlated subqueries. The
-- same results on a single server; the comments are unchanged.
create or replace view cco.project_analytics with (security_invoker = true) as
select p.id                                  as project_id,
       p.name,
       p.path,
       coalesce(c.conversations, 0)          as conversations,
       coalesce(c.active_conversations, 0)   as active_conversations,
       coalesce(c.completed_conversations, 0) as completed_conversations,
       coalesce(c.messages, 0)               as messages,
       coalesce(c.total_tokens, 0)           as total_tokens,
       m.cost,
       coalesce(m.active_days, 0)            as active_days,
       coalesce(m.active_weeks, 0)           as active_weeks,
       m.first_message_at,
       m.last_message_at,
       coalesce(t.distinct_tools, 0)         as distinct_tools,
       coalesce(t.tool_calls, 0)             as tool_calls,
       t.avg_tool_ms,
       coalesce(m.messages_last_24h, 0)      as messages_last_24h,
       coalesce(m.messages_last_7d, 0)       as messages_last_7d,
       coalesce(m.messages_last_30d, 0)      as messages_last_30d
from cco.projects p
left join (
    select project_id,
           count(*)                                         as conversations,
           count(*) filter (where status = 'active')       as active_conversations,
           count(*) filter (where status = 'completed')    as completed_conversations,
           coalesce(sum(message_count), 0)                  as messages,
           coalesce(sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0) as total_tokens
    from cco.conversations
    group by project_id
) c on c.project_id = p.id
left join (
    select q.project_id,
           count(distinct date_trunc('day', q.quarter))   as active_days,
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
        select m.project_id,
               date_bin('15 minutes', m."timestamp", timestamptz '2000-01-01 00:00+00') as quarter,
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
        group by m.project_id, 2
    ) q
    group by q.project_id
) m on m.project_id = p.id
left join (
    select project_id, count(distinct tool_name) as distinct_tools, count(*) as tool_calls,
           round(avg(execution_time_ms), 1) as avg_tool_ms
    from cco.tool_calls
    group by project_id
) t on t.project_id = p.id;

create or replace view cco.user_activity_analytics with (security_invoker = true) as
with memberships as (
    select p.id as project_id, p.owner_id as user_id, 'owner'::text as role from cco.projects p
    where p.owner_id is not null
    union
    select pm.project_id, pm.user_id, pm.role from cco.project_members pm
)
select ms.project_id,
       ms.user_id,
       ms.role,
       coalesce(a.conversations, 0)   as conversations,
       coalesce(a.messages, 0)        as messages,
       coalesce(a.tokens, 0)          as tokens,
       a.first_activity,
       a.last_activity
from memberships ms
left join (
    select c.project_id,
           c.created_by,
           count(*)                                                                    as conversations,
           sum(c.message_count)                                                        as messages,
           sum(c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens) as tokens,
           min(c.created_at)                                                           as first_activity,
           max(c.last_updated)                                                         as last_activity
    from cco.conversations c
    group by c.project_id, c.created_by
) a on a.project_id = ms.project_id and a.created_by = ms.user_id;

create or replace function cco.search_projects(
    search_query text,
    limit_count integer default 50,
    offset_count integer default 0)
returns table (id uuid, name text, description text, path text, last_activity timestamptz,
               conversation_count bigint, rank real, headline text)
language plpgsql stable security invoker parallel safe
as $$
#variable_conflict use_column
begin
    perform cco.check_page(limit_count, offset_count, 1000);
    return query
    with query as (
        select cco.to_tsquery(search_query) as tsquery, cco.query_terms(search_query) as terms
    ),
    projects_seen as (
        select count(*) as documents,
               coalesce(avg(cco.search_length(p.search_vector)), 0) as average_length
        from cco.projects p
    ),
    term_frequencies as (
        select array_agg(f.projects order by t.position) as frequencies
        from query q
        cross join lateral unnest(q.terms) with ordinality as t(term, position)
        cross join lateral (
            select count(*) as projects from cco.projects p
            where p.search_vector operator(cco.@@) cco.lexeme_tsquery(t.term)
        ) as f
    ),
    title_matches as (
        -- conversations whose title matches: a project about the query talks about it
        select c.project_id, count(*) as conversations
        from query q
        join cco.conversations c on c.search_vector operator(cco.@@) q.tsquery
        group by c.project_id
    ),
    ranked as (
        select p.id, p.name, p.description, p.path, p.last_activity,
               (coalesce(cco.rank(case when p.search_vector operator(cco.@@) q.tsquery then p.search_vector end,
                                  q.terms, f.frequencies, s.documents, s.average_length), 0)
                + 0.5 * ln(1 + coalesce(tm.conversations, 0)))::real as score
        from cco.projects p
        cross join query q
        cross join projects_seen s
        cross join term_frequencies f
        left join title_matches tm on tm.project_id = p.id
        where p.search_vector operator(cco.@@) q.tsquery or tm.project_id is not null
        order by score desc, p.last_activity desc nulls last, p.id
        limit limit_count offset offset_count
    ),
    -- The page's conversation counts in one aggregate (Citus refuses a correlated subquery here)
    conversation_counts as (
        select c.project_id, count(*) as conversations
        from cco.conversations c
        where c.project_id = any (array(select r.id from ranked r))
        group by c.project_id
    )
    select r.id, r.name, r.description, r.path, r.last_activity,
           coalesce(cc.conversations, 0),
           r.score,
           cco.highlight(concat_ws(' — ', r.name, r.description, r.path), search_query)
    from ranked r
    left join conversation_counts cc on cc.project_id = r.id
    order by r.score desc, r.last_activity desc nulls last, r.id;
end
$$;

-- Citus, distribution (sql/10_citus.sql): a cco.usage_blocks call within one project runs wholly
-- on that project's shard, where the block computation's price lookups (the price list, a
-- reference table) need the same permission for a nested query as the other price lookups; the
-- notification trigger is dropped before the tables are distributed, and their own triggers are
-- off while cco.distribute copies the rows a database already holds (a restored dump) into the
-- shards, where a reply may come before its parent.
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

----------------------------------------------------------------------------------------------
-- Inserts without project_id on Citus: the project a message or tool call belongs to, from its
-- conversation or message, as functions that an INSERT calls before Citus routes the rows
-- (src/citus_inserts.rs) and the row triggers call on a single server. An id in more than one
-- project the caller can see is refused instead of filled in from one of them.

CREATE  FUNCTION "conversation_project"(
	"conversation_id" uuid /* pgrx::datum::uuid::Uuid */
) RETURNS uuid /* pgrx::datum::uuid::Uuid */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'conversation_project_wrapper';

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

create or replace function cco.tool_call_resolve_message() returns trigger
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

