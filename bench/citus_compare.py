#!/usr/bin/env python3
"""Ingest rate and search latency of a single server against a Citus cluster, on the same rows.

    python3 bench/citus_compare.py --single 'host=... port=...' --citus 'host=... port=...'

Both databases must have cco installed and empty; the Citus one already distributed
(select cco.distribute(...)). The script writes the same synthetic projects, conversations and
messages into each (one INSERT per conversation, as cco-load does), then runs the same searches,
straight after the load and again after VACUUM, and prints, for each database, messages per second
and search p50/p99 beside result counts, so a fast answer that found nothing shows as such. Needs psycopg 3 (tests/client/requirements.txt).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid

import psycopg

NAMESPACE = uuid.UUID("0b6d7a3e-6a52-4a8e-bb4c-93c1f1f5a2d4")
WORDS = (
    "error warning build test cargo npm install function return value parse json schema index "
    "query postgres citus shard worker coordinator search rank token cache session conversation "
    "message project tool bash read edit write grep readme config deploy docker compose kubernetes "
    "timeout retry panic unwrap option result trait struct enum module import export async await "
    "promise fetch request response header cookie auth login jwt claim policy role grant"
).split()
QUERIES = ["error", "cargo test", "postgres index", "timeout retry", "jwt claim policy",
           "docker compose deploy", "panic unwrap", "readme", "async await promise", "shard worker"]


def content(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))


def load(dsn: str, projects: int, conversations: int, messages: int) -> tuple[int, float]:
    rng = random.Random(42)
    inserted = 0
    with psycopg.connect(dsn, autocommit=True) as connection:
        started = time.perf_counter()
        for p in range(projects):
            project = uuid.uuid5(NAMESPACE, f"project {p}")
            connection.execute("insert into cco.projects (id, name, path) values (%s, %s, %s)",
                               [project, f"bench {p}", f"/bench/{p}"])
            for c in range(conversations):
                conversation = uuid.uuid5(NAMESPACE, f"conversation {p} {c}")
                connection.execute(
                    "insert into cco.conversations (id, project_id, title) values (%s, %s, %s)",
                    [conversation, project, f"bench conversation {c}"])
                rows = [(uuid.uuid5(NAMESPACE, f"message {p} {c} {m}"), content(rng), m * 5, m)
                        for m in range(messages)]
                connection.execute(
                    "insert into cco.messages (id, conversation_id, project_id, role, content, "
                    "\"timestamp\", input_tokens) "
                    "select r.id, %s, %s, 'user', r.content, "
                    "'2025-10-01'::timestamptz + make_interval(secs => r.second), r.tokens "
                    "from unnest(%s::uuid[], %s::text[], %s::int[], %s::int[]) "
                    "as r(id, content, tokens, second)",
                    [conversation, project, [r[0] for r in rows], [r[1] for r in rows],
                     [r[2] for r in rows], [r[3] for r in rows]])
                inserted += len(rows)
        elapsed = time.perf_counter() - started
    return inserted, elapsed


def search(dsn: str, repetitions: int, project: uuid.UUID | None) -> tuple[list[float], int]:
    timings: list[float] = []
    results = 0
    with psycopg.connect(dsn, autocommit=True) as connection:
        for query in QUERIES:  # warm the caches and plans once
            connection.execute("select count(*) from cco.search_messages(%s, %s)",
                               [query, None if project is None else [project]])
        for _ in range(repetitions):
            for query in QUERIES:
                started = time.perf_counter()
                rows = connection.execute("select id from cco.search_messages(%s, %s)",
                                          [query, None if project is None else [project]]).fetchall()
                timings.append((time.perf_counter() - started) * 1000)
                results += len(rows)
    return timings, results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", required=True, help="libpq connection string of the single server")
    parser.add_argument("--citus", required=True, help="libpq connection string of the coordinator")
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200, help="messages per conversation")
    parser.add_argument("--repetitions", type=int, default=10)
    arguments = parser.parse_args()
    one_project = uuid.uuid5(NAMESPACE, "project 0")
    databases = (("single", arguments.single), ("citus", arguments.citus))
    for name, dsn in databases:
        inserted, elapsed = load(dsn, arguments.projects, arguments.conversations, arguments.messages)
        print(f"{name}: ingest {inserted} messages in {elapsed:.2f} s = {inserted / elapsed:.0f} rows/s")
    # A rank index keeps its newest rows (up to 2,048) in a pending list that a search reads row by
    # row; a shard holding fewer rows than that has all of them there until VACUUM (or autovacuum,
    # which small shards seldom reach) flushes it. Both states are measured.
    for state in ("as loaded", "after VACUUM"):
        for name, dsn in databases:
            if state == "after VACUUM":
                with psycopg.connect(dsn, autocommit=True) as connection:
                    connection.execute("vacuum cco.messages")
            for scope, project in (("all projects", None), ("one project", one_project)):
                timings, results = search(dsn, arguments.repetitions, project)
                print(f"{name}: search {scope}, {state}: {len(timings)} searches, {results} results, "
                      f"p50 {statistics.median(timings):.2f} ms, p99 {percentile(timings, 0.99):.2f} ms")


if __name__ == "__main__":
    main()
