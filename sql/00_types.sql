-- Types that functions written in Rust return; created first, before those functions.

create type cco.latency_stats as (
    count bigint,
    min   double precision,
    max   double precision,
    mean  double precision,
    p50   double precision,
    p90   double precision,
    p95   double precision,
    p99   double precision
);

comment on type cco.latency_stats is
    'What cco.latency_summary returns: count, exact min/max/mean, and quantiles within 1 % of the exact value at the same rank.';

create type cco.message_summary as (
    messages             bigint,
    user_messages        bigint,
    assistant_messages   bigint,
    content_length_sum   bigint,
    content_length_count bigint,
    max_content_length   integer,
    first_message_at     timestamptz,
    last_message_at      timestamptz,
    active_time          interval,
    root_messages        bigint,
    depth_sum            bigint,
    depth_count          bigint,
    max_depth            integer,
    cost                 double precision
);

comment on type cco.message_summary is
    'What cco.summarize_messages returns of a group of messages: counts (all, by role, thread roots), content length and depth as exact sums, counts and maxima (so averages divide as avg does), first and last message, active time (gaps over 30 minutes left out) and the cost of the priced responses.';

create type cco.tool_call_summary as (
    calls                bigint,
    successful_calls     bigint,
    failed_calls         bigint,
    distinct_tools       bigint,
    execution_ms_sum     bigint,
    execution_ms_count   bigint
);

comment on type cco.tool_call_summary is
    'What cco.summarize_tool_calls returns of a group of tool calls: how many, how many succeeded and failed (error or timeout), distinct tools, and execution time as an exact sum and count.';

create type cco.ranking as (
    terms        text[],
    frequencies  bigint[],
    documents    bigint,
    total_length bigint,
    k1           double precision,
    b            double precision
);

comment on type cco.ranking is
    'How a search ranks (BM25): its terms with the number of messages holding each, the number of messages searched and their total length, and the parameters k1 and b. Made by cco.message_ranking over what the caller may see; rows are ordered by it with search_vector <&> ranking.';
