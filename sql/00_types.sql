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
