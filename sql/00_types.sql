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
