"""Every SQL function of cco, called the way a hostile client would: NULLs, empty, huge, Unicode,
control characters and extreme numbers in every argument, as the superuser and as the API role,
under a statement timeout. Nothing may end in an internal error (XX000, what a Rust panic
becomes) or take the server down; long loops must stop within a second of a cancel; every
aggregate gives the same answer in a parallel plan as in a serial one; and afterwards the search
index still answers exactly as a sequential scan does.

The functions are read from the catalog (pg_proc, schema cco), so a new function is fuzzed
without being listed here. `CCO_FUZZ_CASES` sets how many random argument combinations each
function gets on top of the systematic ones (default 4; the long run uses a few hundred), and
`CCO_FUZZ_SEED` makes a run repeatable. The counts of a run are printed at the end (pytest -s).
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import threading
import time

import psycopg
import pytest

from conftest import new_id, request, scalar

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SAMPLE = os.path.join(ROOT, "examples", "claude-projects", "-home-dev-shop")

RANDOM_CASES = int(os.environ.get("CCO_FUZZ_CASES", "4"))
SEED = int(os.environ.get("CCO_FUZZ_SEED", "26"))
STATEMENT_TIMEOUT_MS = 10_000

HUGE_WORDS = "handler foo getUserData src/api/handler.rs E0382 " * 4_000  # ~200 kB
TEXTS = [
    None, "", " ", "a\u00a0", "cargo\u2009runn", "\u3000", "a\u2028b", "e\u0301\u0301\u0301",
    "\u0000".replace("\u0000", "\\u0000"), "\x01\x07\x1b[31m\t\r\n", "😀" * 3, "中文 テスト 한국어",
    "\u202e\ufeff\u200b", "\"unterminated", "((((((((((((", "-", "or or - \"\"", "aB" * 2_000,
    "'; drop table cco.messages; --", "K\u212a İstanbul ǅ ß", HUGE_WORDS,
]
NUMBERS = {
    "integer": [None, 0, 1, -1, 2_147_483_647, -2_147_483_648],
    "bigint": [None, 0, 1, -1, 9_223_372_036_854_775_807, -9_223_372_036_854_775_808],
    "smallint": [None, 0, -1, 32_767],
    "double precision": [None, 0.0, -1.0, 1e308, -1e308, float("inf"), float("-inf"), float("nan"), 5e-324],
    "real": [None, 0.0, -1.0, 3.4e38, float("inf"), float("nan")],
    "numeric": [None, 0, -1, 10**40],
}
# Typed SQL literals for the other argument types.
LITERALS = {
    "boolean": ["null", "true", "false"],
    "uuid": ["null", "'00000000-0000-0000-0000-000000000000'", "gen_random_uuid()",
             "(select id from cco.projects order by id limit 1)"],
    "uuid[]": ["null", "'{}'", "'{NULL}'", "array[gen_random_uuid()]",
               "(select array_agg(id) from cco.projects)"],
    "text[]": ["null", "'{}'", "'{NULL}'", "array['handler', '']", "array[repeat('x', 100000)]"],
    "bigint[]": ["null", "'{}'", "'{NULL}'", "array[-1, 9223372036854775807]"],
    "integer[]": ["null", "'{}'", "'{NULL}'", "array[-1, 2147483647]"],
    "double precision[]": ["null", "'{}'", "array['NaN', 'Infinity']::float8[]"],
    "timestamp with time zone": ["null", "'infinity'", "'-infinity'", "'4713-01-01 BC'", "'294276-12-31'", "now()"],
    "timestamp with time zone[]": ["null", "'{}'", "'{NULL}'", "array['infinity', '-infinity', now()]::timestamptz[]"],
    "interval": ["null", "'0'", "'-1 hour'", "'178000000 years'", "'5 hours'"],
    "date": ["null", "'infinity'", "'4713-01-01 BC'", "current_date"],
    "jsonb": ["null", "'{}'", "'[]'", "'null'", "repeat('[', 500)::text || repeat(']', 500)", "'{\"a\": 1e400}'"],
    "json": ["null", "'{}'", "'[]'"],
    "regclass": ["null", "'cco.messages_rank_idx'", "'cco.messages'", "'pg_class'"],
    "tsvector": ["null", "''::tsvector", "cco.to_tsvector('handler getUserData')",
                 "cco.to_tsvector(repeat('handler foo ', 20000))"],
    "tsquery": ["null", "''::tsquery", "cco.to_tsquery('handler')"],
    "cco.ranking": ["null", "cco.message_ranking('handler')", "cco.message_ranking('')"],
    "internal": ["null"],
    "bytea": ["null", "''::bytea", "'\\x00ff'::bytea", "decode(repeat('ff', 1000), 'hex')"],
}

# Errors that mean "the input was refused": anything but an internal error or a crash. A
# statement timeout is reported separately (it means a call ran for 10 s).
INTERNAL_ERROR = "XX000"
TIMEOUT = "57014"


def sql_literal(value, type_name: str) -> str:
    if value is None:
        return f"null::{type_name}"
    if isinstance(value, float):
        if math.isnan(value):
            return f"'NaN'::{type_name}"
        if math.isinf(value):
            return f"'{'-' if value < 0 else ''}Infinity'::{type_name}"
        return f"{value!r}::{type_name}"
    if isinstance(value, int):
        return f"{value}::{type_name}"
    return "'" + value.replace("'", "''") + f"'::{type_name}"


def candidates(type_name: str) -> list[str]:
    """SQL expressions of hostile values of a type."""
    if type_name in ("text", "character varying", "name"):
        return [sql_literal(value, "text") for value in TEXTS]
    if type_name in NUMBERS:
        return [sql_literal(value, type_name) for value in NUMBERS[type_name]]
    if type_name in LITERALS:
        return [f"{expression}::{type_name}" if expression != "null" else f"null::{type_name}"
                for expression in LITERALS[type_name]]
    return [f"null::{type_name}"]


def typical(type_name: str) -> str:
    """A harmless value of a type, for the arguments not being fuzzed."""
    return {
        "text": "'handler'", "integer": "10::integer", "bigint": "10::bigint", "smallint": "1::smallint",
        "double precision": "1.5::float8", "real": "1.5::real", "numeric": "1::numeric", "boolean": "true",
        "uuid": "(select id from cco.projects order by id limit 1)",
        "uuid[]": "null::uuid[]", "timestamp with time zone": "now()", "interval": "'1 hour'::interval",
        "jsonb": "'{}'::jsonb", "regclass": "'cco.messages_rank_idx'::regclass", "date": "current_date",
        "tsvector": "cco.to_tsvector('handler')", "tsquery": "cco.to_tsquery('handler')",
        "cco.ranking": "cco.message_ranking('handler')",
    }.get(type_name, candidates(type_name)[-1] if len(candidates(type_name)) > 1 else f"null::{type_name}")


def functions(connection) -> list[tuple[str, str, list[str], str]]:
    """(name, kind, argument types, identity) of every function and aggregate in schema cco."""
    rows = connection.execute("""
        select p.proname, p.prokind, array(select format_type(t, null) from unnest(p.proargtypes) as t),
               p.oid::regprocedure::text, p.prorettype = 'trigger'::regtype
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'cco' order by p.oid::regprocedure::text""").fetchall()
    return [(name, kind, list(types), identity) for name, kind, types, identity, is_trigger in rows if not is_trigger]


def calls_of(name: str, kind: str, types: list[str], rng: random.Random) -> list[str]:
    """Systematic calls (all NULL; each argument through its hostile values, the others typical)
    and `RANDOM_CASES` random combinations."""
    def call(arguments: list[str]) -> str:
        invocation = f"cco.{name}({', '.join(arguments)})"
        if kind == "a":
            return f"select {invocation}::text"
        return f"select count(*) from (select {invocation}) as called"
    if not types:
        return [call([])]
    made = [call([f"null::{t}" for t in types])]
    for position, type_name in enumerate(types):
        for value in candidates(type_name):
            arguments = [typical(t) for t in types]
            arguments[position] = value
            made.append(call(arguments))
    for _ in range(RANDOM_CASES):
        made.append(call([rng.choice(candidates(t)) for t in types]))
    return list(dict.fromkeys(made))


def run_call(connection, sql: str, as_api: dict | None) -> str | None:
    """Runs one call in a transaction that is rolled back; returns its SQLSTATE or None."""
    try:
        with connection.transaction():
            if as_api is not None:
                connection.execute("set local role authenticated")
                connection.execute("select set_config('request.jwt.claims', %s, true)",
                                   [f'{{"sub": "{as_api["user"]}", "role": "authenticated"}}'])
            connection.execute(f"set local statement_timeout = {STATEMENT_TIMEOUT_MS}")
            connection.execute(sql).fetchall()
            raise psycopg.Rollback()
    except psycopg.Error as error:
        if error.sqlstate is None:
            raise  # the connection itself failed: a crash
        return error.sqlstate
    return None


@pytest.fixture(scope="module")
def loaded(db):
    for name in sorted(os.listdir(SAMPLE)):
        with open(os.path.join(SAMPLE, name), encoding="utf-8") as transcript:
            db.admin.execute("select cco.ingest_transcript(%s, %s)", [transcript.read(), f"/sample/{name}"])
    user = new_id()
    api = db.connect_api()
    with request(api, user):
        project = scalar(api, "insert into cco.projects (name, path) values ('fuzz', '/src/fuzz') returning id")
        conversation = scalar(api, "insert into cco.conversations (project_id) values (%s) returning id", [project])
        api.execute("insert into cco.messages (conversation_id, role, content) values (%s, 'user', %s)",
                    [conversation, "getUserData() in src/api/handler.rs failed with E0382 a\u00a0b"])
    return {"api": api, "user": user}


def test_every_function_refuses_hostile_input_without_an_internal_error(db, loaded):
    rng = random.Random(SEED)
    admin = db.connect_admin()
    backend = scalar(admin, "select pg_backend_pid()")
    counts: collections.Counter = collections.Counter()
    internal_errors: list[str] = []
    timeouts: list[str] = []
    listed = functions(admin)
    for name, kind, types, identity in listed:
        for sql in calls_of(name, kind, types, rng):
            for role, connection, as_api in (("superuser", admin, None), ("api", loaded["api"], loaded)):
                state = run_call(connection, sql, as_api)
                counts[(role, "ok" if state is None else state[:2])] += 1
                if state == INTERNAL_ERROR:
                    internal_errors.append(f"{role}: {sql[:300]}")
                elif state == TIMEOUT:
                    timeouts.append(f"{role}: {sql[:300]}")
    calls = sum(counts.values())
    print(f"\nfuzzed {len(listed)} functions with {calls} calls (seed {SEED}, {RANDOM_CASES} random cases each): "
          + ", ".join(f"{role} {outcome}: {n}" for (role, outcome), n in sorted(counts.items())))
    # The server survived: the same backend still answers (a crash would have reset it).
    assert scalar(admin, "select pg_backend_pid()") == backend
    assert not internal_errors, "internal errors:\n" + "\n".join(internal_errors[:20])
    assert not timeouts, f"calls that ran past {STATEMENT_TIMEOUT_MS} ms:\n" + "\n".join(timeouts[:20])


# Calls with loops whose length one argument decides, each sized to run for seconds unless
# cancelled (in a debug build as in a release one).
LONG_CALLS = {
    "tokenize": "select cardinality(cco.tokenize(repeat('getUserData src/api/handler.rs ', 3000000)))",
    "to_tsvector": "select length(cco.to_tsvector(repeat('getUserData src/api/handler.rs ', 3000000)))",
    "highlight": "select length(cco.highlight(repeat('handler foo ', 3000000), 'handler', '<b>', '</b>', 2147483647, 2147483647))",
    "completions": "select cardinality(cco.completions(repeat('handler foo getUserData ', 3000000), 'zz', 2147483647))",
    "ingest_transcript": """select cco.ingest_transcript(
        (select string_agg(format('{"type":"user","uuid":"u%s","sessionId":"s","timestamp":"2025-01-01T00:00:00Z","message":{"role":"user","content":"handler %s"}}', i, i), E'\\n')
         from generate_series(1, 400000) as i), '/fuzz/long.jsonl')""",
}


@pytest.mark.parametrize("name", sorted(LONG_CALLS))
def test_long_loops_stop_within_a_second_of_a_cancel(db, name):
    connection = db.connect_admin()
    canceller = db.connect_admin()
    pid = scalar(connection, "select pg_backend_pid()")
    # The statement timeout stops the call...
    connection.execute("set statement_timeout = 300")
    started = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled):
        connection.execute(LONG_CALLS[name]).fetchall()
    assert time.monotonic() - started < 1.3, f"{name} ran {time.monotonic() - started:.2f} s past a 0.3 s timeout"
    connection.execute("set statement_timeout = 0")
    # ... and so does a cancel from another session.
    timer = threading.Timer(0.3, lambda: canceller.execute("select pg_cancel_backend(%s)", [pid]))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            connection.execute(LONG_CALLS[name]).fetchall()
    finally:
        timer.join()
    assert time.monotonic() - started < 1.3, f"{name} ran {time.monotonic() - started:.2f} s though cancelled after 0.3 s"
    assert scalar(connection, "select 1") == 1


# force_parallel_mode is debug_parallel_query from PostgreSQL 16 on; the server takes either one.
PARALLEL_MODE = ("debug_parallel_query" if int(os.environ.get("PGVERSION", "15")) >= 16
                 else "force_parallel_mode")
PARALLEL = ("set local parallel_setup_cost = 0; set local parallel_tuple_cost = 0; "
            "set local min_parallel_table_scan_size = 0; set local max_parallel_workers_per_gather = 2; "
            f"set local {PARALLEL_MODE} = on")
SERIAL = "set local max_parallel_workers_per_gather = 0"

# Columns of the hostile table by type, for the aggregates' arguments.
COLUMN_OF_TYPE = {"double precision": "d", "bigint": "b", "integer": "i", "text": "t",
                  "timestamp with time zone": "ts", "interval": "iv", "boolean": "bo", "uuid": "u",
                  "numeric": "b::numeric", "real": "d::real"}


@pytest.fixture(scope="module")
def hostile_rows(db):
    """Groups of rows holding the extremes each aggregate's transition accepts, repeated so a
    parallel plan splits them between workers."""
    admin = db.connect_admin()
    admin.execute("""
        create table public.fuzz_rows (g integer, d double precision, b bigint, i integer, t text,
                                       ts timestamptz, iv interval, bo boolean, u uuid)""")
    admin.execute("""
        insert into public.fuzz_rows
        select g, v.d, v.b, v.i, v.t, v.ts, v.iv, v.bo, v.u
        from generate_series(1, 2000) as r,
             lateral (values (r % 7)) as k(g),
             lateral (values
                 (case g when 0 then 1e308 when 1 then (r % 5)::float8 when 2 then 'NaN'::float8
                         when 3 then 'Infinity'::float8 when 4 then -1.0 when 5 then null
                         else (array[1, 2, 3, 1e308])[1 + r % 4] end,
                  case g when 0 then 9223372036854775807 when 1 then -9223372036854775807
                         when 2 then r::bigint when 3 then null else (r % 3)::bigint end,
                  case g when 0 then 2147483647 when 1 then -2147483648 else (r % 11)::integer end,
                  case g when 2 then null when 3 then '' else (array['user', 'assistant', 'x\u00a0', 'success', 'error'])[1 + r % 5] end,
                  case g when 0 then 'infinity'::timestamptz when 1 then '-infinity'::timestamptz
                         when 4 then (array['infinity', '-infinity', '2025-01-01'])[1 + r % 3]::timestamptz
                         else timestamptz '2025-01-01' + r * interval '1 minute' end,
                  case g when 0 then null else interval '30 minutes' end,
                  r % 2 = 0,
                  case g when 3 then null else gen_random_uuid() end)) as v(d, b, i, t, ts, iv, bo, u)""")
    admin.execute("analyze public.fuzz_rows")
    return admin


def aggregates(connection) -> list[tuple[str, list[str], bool]]:
    """(name, argument types, whether it returns a composite) of every aggregate in schema cco."""
    rows = connection.execute("""
        select p.proname, array(select format_type(t, null) from unnest(p.proargtypes) as t),
               (select typtype = 'c' from pg_type where oid = p.prorettype)
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'cco' and p.prokind = 'a' order by 1, 2""").fetchall()
    return [(name, list(types), composite) for name, types, composite in rows]


def same(left, right) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or left == right or math.isclose(left, right, rel_tol=1e-12)
    if isinstance(left, tuple) and isinstance(right, tuple):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    return left == right


def test_every_aggregate_gives_the_same_answer_in_parallel_and_serial_plans(hostile_rows):
    connection = hostile_rows
    compared = 0
    for name, types, composite in aggregates(connection):
        if any(t not in COLUMN_OF_TYPE for t in types):
            pytest.fail(f"no column for an argument of cco.{name}({', '.join(types)}): add one to fuzz_rows")
        arguments = ", ".join(COLUMN_OF_TYPE[t] for t in types)
        result = f"(cco.{name}({arguments})).*" if composite else f"cco.{name}({arguments})"
        query = f"select g, {result} from public.fuzz_rows group by g order by g"
        results = {}
        for plan, settings in (("serial", SERIAL), ("parallel", PARALLEL)):
            with connection.transaction():
                connection.execute(settings)
                if plan == "parallel":
                    shown = "\n".join(row[0] for row in connection.execute(f"explain {query}"))
                    assert "Partial" in shown and "Gather" in shown, f"no parallel plan for {name}:\n{shown}"
                try:
                    results[plan] = ("rows", [tuple(row) for row in connection.execute(query).fetchall()])
                except psycopg.Error as error:
                    results[plan] = ("error", error.sqlstate)
                raise_rollback()
        assert results["serial"][0] == results["parallel"][0] and same(
            tuple(map(tuple, results["serial"][1])) if results["serial"][0] == "rows" else results["serial"][1],
            tuple(map(tuple, results["parallel"][1])) if results["parallel"][0] == "rows" else results["parallel"][1],
        ), f"cco.{name}({', '.join(types)}): serial {results['serial']} but parallel {results['parallel']}"
        assert results["serial"] != ("error", INTERNAL_ERROR)
        compared += 1
    print(f"\n{compared} aggregates: parallel plan = serial plan over 7 groups of extreme values")
    assert compared >= 4


def raise_rollback():
    """Ends a `transaction()` block without committing its settings."""
    raise psycopg.Rollback()


def test_latency_summary_of_the_largest_doubles_in_a_parallel_plan(hostile_rows):
    """The reported case: two rows of 1e308, and p50 of [1, 2, 3, 1e308] within 1 %."""
    connection = hostile_rows
    for settings in (SERIAL, PARALLEL):
        with connection.transaction():
            connection.execute(settings)
            count, mean = connection.execute(
                "select (s).count, (s).mean from (select cco.latency_summary(x) as s "
                "from (values (1e308::float8), (1e308)) as v(x)) as t").fetchone()
            assert (count, mean) == (2, float("inf"))
            p50 = scalar(connection, "select (cco.latency_summary(x)).p50 from unnest(array[1, 2, 3, 1e308]::float8[]) as x")
            assert abs(p50 - 2) <= 0.02
            raise_rollback()


def test_the_index_answers_as_a_sequential_scan_after_the_fuzzing(db, loaded):
    connection = db.connect_admin()
    queries = ["handler", "getUserData", "a\u00a0b", "\"src api\"", "E0382 or zzz", "-x handler", "aB" * 2000, ""]
    for query in queries:
        results = []
        for settings in ("set local enable_seqscan = off; set local enable_bitmapscan = on",
                         "set local enable_indexscan = off; set local enable_bitmapscan = off"):
            with connection.transaction():
                connection.execute(settings)
                results.append(sorted(row[0] for row in connection.execute(
                    "select id from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s)", [query])))
                raise_rollback()
        assert results[0] == results[1], query


# The cases the issue reported, each on its own.

@pytest.mark.parametrize("space", ["\u00a0", "\u2009", "\u3000", "\u2028"])
def test_multi_byte_whitespace_in_a_partial_query(db, loaded, space):
    with request(loaded["api"], loaded["user"]) as api:
        api.execute("select * from cco.get_search_suggestions(%s)", [f"a{space}"]).fetchall()
        api.execute("select * from cco.get_search_suggestions(%s)", [f"getUser{space}han"]).fetchall()


@pytest.mark.parametrize("call", [
    "select cco.highlight('x', 'x', NULL)",
    "select cco.highlight('x', 'x', '<b>', '</b>', NULL)",
    "select cco.rank(cco.to_tsvector('x'), array['x'], array[1::bigint], 1, 1.0, NULL)",
    "select cco.rank(cco.to_tsvector('x'), array['x'], array[1::bigint], 1, 1.0, 1.2, NULL)",
    "select cco.ranking_within(NULL, 'x', NULL)",
])
def test_null_in_a_required_argument_is_22004_naming_it(db, call):
    connection = db.connect_admin()
    with pytest.raises(psycopg.errors.NullValueNotAllowed, match="must not be NULL"):
        connection.execute(call)


def test_a_partial_query_past_the_limit_is_refused_at_once(db, loaded):
    connection = db.connect_admin()
    started = time.monotonic()
    with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="at most 4096"):
        connection.execute("select * from cco.get_search_suggestions(repeat('tool word ', 100000), 'tool', 1)")
    assert time.monotonic() - started < 1


def test_a_generic_plan_parses_a_long_query_once(db, loaded):
    connection = db.connect_admin()
    connection.execute("set plan_cache_mode = force_generic_plan")
    try:
        connection.execute("prepare conversations(text) as select count(*) from cco.search_conversations($1, NULL, 20, 0)")
        for _ in range(3):
            started = time.monotonic()
            connection.execute("execute conversations(repeat('aB', 2000))").fetchall()
            assert time.monotonic() - started < 2
    finally:
        connection.execute("deallocate all")
        connection.execute("reset plan_cache_mode")


def test_a_line_whose_usage_cannot_be_stored_is_skipped_and_the_rest_loads(db):
    def line(uuid, usage):
        return json.dumps({"type": "assistant", "uuid": uuid, "sessionId": "s", "timestamp": "2025-01-01T00:00:00Z",
                           "message": {"id": f"msg-{uuid}", "role": "assistant", "content": "ok", "usage": usage}})
    jsonl = "\n".join([line("a", {"input_tokens": 5, "output_tokens": 7}),
                        line("b", {"input_tokens": 2147483647, "output_tokens": 1}),
                        line("c", {"input_tokens": 1, "output_tokens": 2})])
    connection = db.connect_admin()
    report = scalar(connection, "select cco.ingest_transcript(%s, '/fuzz/usage.jsonl')", [jsonl])
    assert report["messages_inserted"] == 2
    assert report["lines_skipped"] == 1
    assert report["errors"][0]["line"] == 2 and "more than a message can store" in report["errors"][0]["reason"]
