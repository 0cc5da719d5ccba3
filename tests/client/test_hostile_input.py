"""Hostile input through every entry point: each gets a result or a clear error (a SQLSTATE that
names the problem, never an internal error), no text parameter is ever executed as SQL, and
nothing already stored changes.

Stored data is fingerprinted (every row of every table, hashed in key order) after a known load;
the fingerprint must be the same after every hostile call that is not meant to add data, and
the rows of earlier conversations must be the same after every hostile transcript load.
"""

from __future__ import annotations

import json
import os
import time

import psycopg
import pytest

from conftest import new_id, request, scalar

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SAMPLE = os.path.join(ROOT, "examples", "claude-projects", "-home-dev-shop")

TABLES = ("projects", "project_members", "conversations", "messages", "tool_calls",
          "transcript_summaries", "model_pricing", "audit_log", "search_history")


def stored(connection, but_project: str | None = None) -> dict:
    """A hash of every row of every table, leaving out one project's rows if asked."""
    fingerprint = {}
    for table in TABLES:
        columns = {row[0] for row in connection.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            [f"cco.{table}"])}
        key = "id" if table == "projects" else "project_id" if "project_id" in columns else None
        condition = f"{key} is distinct from %s" if but_project and key else "true"
        fingerprint[table] = scalar(
            connection,
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from cco.{table} t where {condition}",
            [but_project] if "%s" in condition else None,
        )
    return fingerprint


@pytest.fixture(scope="module")
def loaded(db):
    for name in sorted(os.listdir(SAMPLE)):
        with open(os.path.join(SAMPLE, name), encoding="utf-8") as transcript:
            db.admin.execute("select cco.ingest_transcript(%s, %s)", [transcript.read(), f"/sample/{name}"])
    owner = new_id()
    api = db.connect_api()
    with request(api, owner):
        project = scalar(api, "insert into cco.projects (name, path) values ('victim', '/src/victim') returning id")
        conversation = scalar(api, "insert into cco.conversations (project_id) values (%s) returning id", [project])
        scalar(api, "insert into cco.messages (conversation_id, role, content) values (%s, 'user', 'keep me') returning id",
               [conversation])
    return {"api": api, "stranger": new_id(), "owner": owner}


INJECTIONS = [
    "'; drop table cco.messages; --",
    "' or '1'='1",
    "') or true --",
    "$$; delete from cco.projects; $$",
    "\\'; truncate cco.conversations cascade; --",
    "%s %n %x %%",
    "*') or (1=1",
    "\" or \"\"=\"",
    "1; select pg_sleep(5)",
    "<script>alert(1)</script>",
    "\u202e\ufeff\u200b",
    "((((((((((((((((((((((((((((((((((((((((((((((",
    "\"unterminated phrase",
    "or or or - - - \"\" and not",
    "-",
    "",
    "   ",
    "😀" * 2_000,
    "a" * 200_000,
    "x" * 70_000 + " " + "y" * 70_000,
    "\\x00 \\u0000",
    "E'\\047'",
    "select * from cco.messages",
]

# Every API function with a text parameter, as a stranger calls it through PostgREST.
TEXT_ENTRY_POINTS = {
    "search_messages": "select count(*) from cco.search_messages(%s)",
    "search_conversations": "select count(*) from cco.search_conversations(%s)",
    "search_projects": "select count(*) from cco.search_projects(%s)",
    "search_tool_usage": "select count(*) from cco.search_tool_usage(%s)",
    "similar_messages": "select count(*) from cco.similar_messages(%s)",
    "get_search_suggestions": "select count(*) from cco.get_search_suggestions(%s)",
    "get_search_suggestions type": "select count(*) from cco.get_search_suggestions('ke', %s)",
    "log_search_query": "select cco.log_search_query(%s, 'message', 0, 1) is not null",
    "highlight": "select length(cco.highlight('keep me <b>safe</b>', %s))",
    "highlight markers": "select length(cco.highlight('keep me', 'keep', %s, %s))",
    "tokenize": "select cardinality(cco.tokenize(%s))",
    "to_tsquery": "select cco.to_tsquery(%s)::text is not null",
    "to_tsvector": "select length(cco.to_tsvector(%s))",
    "search_statistics": "select document_count from cco.search_statistics(%s)",
    "ingest_transcript file_path": "select cco.ingest_transcript('', %s)",
    "ingest_transcript project_path": "select cco.ingest_transcript('', 'x.jsonl', %s)",
}

# Errors a user may get for bad input: data exceptions (22), constraint violations (23) and
# documented limits (54: a partial query for suggestions over 4096 bytes).
ACCEPTED_ERRORS = ("22", "23", "54")


def call(loaded, query: str, value: str) -> str:
    api = loaded["api"]
    params = [value] * query.count("%s")
    try:
        with api.transaction():
            api.execute("set local role authenticated")
            api.execute("select set_config('request.jwt.claims', %s, true)",
                        [json.dumps({"sub": str(loaded["stranger"]), "role": "authenticated"})])
            api.execute("set local statement_timeout = '20s'")
            api.execute(query, params).fetchall()
            raise psycopg.Rollback()  # leaves the block quietly, undoing the call
    except psycopg.Error as error:
        return error.sqlstate or f"client error: {error}"
    return "ok"


@pytest.mark.parametrize("entry", sorted(TEXT_ENTRY_POINTS))
def test_text_parameters_are_never_executed_and_errors_are_clear(db, loaded, entry):
    before = stored(db.admin)
    outcomes = {}
    for value in INJECTIONS:
        started = time.monotonic()
        outcome = call(loaded, TEXT_ENTRY_POINTS[entry], value)
        outcomes[value[:40]] = outcome
        assert outcome == "ok" or outcome.startswith(ACCEPTED_ERRORS), f"{entry}({value[:60]!r}) failed with {outcome}"
        assert time.monotonic() - started < 15, f"{entry}({value[:60]!r}) ran for too long"
    assert stored(db.admin) == before, f"{entry} changed stored data: {outcomes}"


def test_nul_bytes_in_parameters_are_refused_before_they_reach_a_table(db, loaded):
    # PostgreSQL text cannot hold NUL: the call is refused, and nothing is stored.
    before = stored(db.admin)
    for query in TEXT_ENTRY_POINTS.values():
        assert call(loaded, query, "a\x00b") != "ok"
    assert stored(db.admin) == before


def line(kind="user", uuid=None, parent=None, content="hello", at="2025-03-01T10:00:00Z", **extra) -> str:
    record = {"type": kind, "uuid": uuid or str(new_id()), "parentUuid": parent, "cwd": "/src/hostile",
              "sessionId": "hostile", "timestamp": at, "message": {"role": kind, "content": content}}
    record.update(extra)
    return json.dumps(record)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# Each hostile transcript: its text and what the load must report (inserted, skipped).
def hostile_transcripts() -> dict:
    a, b = str(new_id()), str(new_id())
    far = [line(at=at, content=f"at {at}") for at in
           ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "+275760-09-13T00:00:00Z", "1969-12-31T23:59:59.999999Z",
            "2025-02-30T10:00:00Z", "2025-03-01T10:00:00+14:00", "", "now")]
    return {
        "nul escapes": (line(content="a\\u0000b".encode().decode("unicode_escape")), (1, 0)),
        "lone surrogates": ('{"type":"user","uuid":"s1","cwd":"/src/hostile","timestamp":"2025-01-01T00:00:00Z",'
                            '"message":{"content":"bad \\ud800 pair"}}', (1, 0)),
        "swapped surrogates": ('{"type":"user","uuid":"s2","cwd":"/src/hostile","timestamp":"2025-01-01T00:00:00Z",'
                               '"message":{"content":"\\udc00\\ud800"}}', (1, 0)),
        "content over a million characters": (line(content="x" * 1_000_001), (0, 1)),
        "content of exactly a million characters": (line(content="x" * 1_000_000), (1, 0)),
        "deeply nested json": ('{"type":"user","uuid":"d1","message":{"content":' + deep(100_000) + '}}', (0, 1)),
        "nested json just inside the limit": ('{"type":"user","uuid":"d2","cwd":"/src/hostile","timestamp":"2025-01-01T00:00:00Z",'
                                              '"message":{"content":"ok"},"x":' + deep(100) + '}', (1, 0)),
        "unknown types": ("\n".join(json.dumps({"type": kind, "uuid": str(new_id())}) for kind in
                                    ("mystery", "", "USER", "tool", "null")), (0, 5)),
        "not objects": ("\n".join(["[]", "42", "\"text\"", "null", "true", "{}", "{\"type\": 7}"]), (0, 7)),
        "circular parents": ("\n".join([line(uuid=a, parent=b, content="one"), line(uuid=b, parent=a, content="two")]), (2, 0)),
        "self parent": (line(uuid=a, parent=a, content="me"), (1, 0)),
        "parent in another file": (line(parent="00000000-0000-4000-8000-000000000001", content="orphan"), (1, 0)),
        "duplicate uuids": ("\n".join([line(uuid=a, content="first"), line(uuid=a, content="second")]), (1, 1)),
        "far timestamps": ("\n".join(far), None),
        "empty strings": ("\n".join([line(content=""), line(uuid=""), '{"type":"user","uuid":"e1","message":{"content":[]}}']), None),
        "blank lines and a byte order mark": ("\ufeff" + line(content="bom") + "\n\n   \n\r\n" + line(content="after"), (2, 0)),
        "crlf endings": (line(content="one") + "\r\n" + line(content="two") + "\r\n", (2, 0)),
        "tool result without its call": (json.dumps({
            "type": "user", "uuid": str(new_id()), "cwd": "/src/hostile", "timestamp": "2025-01-01T00:00:00Z",
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nowhere", "content": "?"}]}}), (1, 0)),
        "tool use without id or name": (json.dumps({
            "type": "assistant", "uuid": str(new_id()), "cwd": "/src/hostile", "timestamp": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": [{"type": "tool_use", "input": {"a": deep(50)}}]}}), None),
        "usage with absurd numbers": (line(kind="assistant", content="big",
                                           message={"role": "assistant", "content": "big", "id": "m1",
                                                    "usage": {"input_tokens": 10**30, "output_tokens": -5}}), None),
    }


@pytest.mark.parametrize("name", sorted(hostile_transcripts()))
def test_hostile_transcripts_load_what_is_valid_and_change_nothing_stored(db, loaded, name):
    text, expected = hostile_transcripts()[name]
    hostile_project = scalar(db.admin, "select id from cco.projects where path = '/src/hostile'")
    before = stored(db.admin, hostile_project)
    file_path = f"/hostile/{name.replace(' ', '-')}.jsonl"
    try:
        report = scalar(db.admin, "select cco.ingest_transcript(%s, %s, '/src/hostile')", [text, file_path])
    except psycopg.Error as error:
        pytest.fail(f"{name}: the load failed instead of skipping bad lines: {error.sqlstate} {error}")
    if hostile_project is None:
        hostile_project = scalar(db.admin, "select id from cco.projects where path = '/src/hostile'")
    inserted, skipped = report["messages_inserted"], report["lines_skipped"]
    if expected is not None:
        assert (inserted, skipped) == expected, f"{name}: {report}"
    # Every skipped line is reported with its reason; repairs (a dropped cyclic parent link, a
    # replaced surrogate) are reported too.
    assert len(report["errors"]) >= skipped and all(e["reason"] for e in report["errors"]), report
    # Stored rows are what the report says, the thread is sound, earlier data is untouched.
    if report["conversation_id"]:
        conversation = report["conversation_id"]
        assert scalar(db.admin, "select count(*) from cco.messages where conversation_id = %s", [conversation]) >= inserted
        assert scalar(db.admin, "select message_count = (select count(*) from cco.messages where conversation_id = c.id)"
                                " from cco.conversations c where id = %s", [conversation])
        assert scalar(db.admin, "select count(*) from cco.messages m join cco.messages p on p.id = m.parent_id"
                                " where m.conversation_id = %s and (p.conversation_id <> m.conversation_id"
                                " or m.depth <> p.depth + 1)", [conversation]) == 0
    assert stored(db.admin, hostile_project) == before, f"{name} changed data stored before it"
    # Loading it again adds nothing.
    again = scalar(db.admin, "select cco.ingest_transcript(%s, %s, '/src/hostile')", [text, file_path])
    assert again["messages_inserted"] == 0 and again["tool_calls_inserted"] == 0


def test_a_hundred_thousand_line_transcript_loads_completely(db):
    # Runs on the connection that loaded the small hostile files first: its foreign-key checks were
    # planned while the tables were small and never analyzed. Without the statistics refresh part
    # way through a large load, each of the 100,000 parent checks read the whole project (15 min).
    lines = []
    previous = None
    for n in range(100_000):
        uuid = f"00000000-0000-4000-9000-{n:012x}"
        lines.append(json.dumps({"type": "user" if n % 2 == 0 else "assistant", "uuid": uuid, "parentUuid": previous,
                                 "cwd": "/src/long", "timestamp": f"2025-04-01T{(n // 3600) % 24:02d}:{(n // 60) % 60:02d}:{n % 60:02d}Z",
                                 "message": {"content": f"step {n} of the long run"}}))
        previous = uuid
    report = scalar(db.admin, "select cco.ingest_transcript(%s, '/long/run.jsonl')", ["\n".join(lines)])
    assert report["messages_inserted"] == 100_000 and report["lines_skipped"] == 0, report
    assert scalar(db.admin, "select max(depth) from cco.messages where conversation_id = %s", [report["conversation_id"]]) == 99_999


def test_hostile_values_through_direct_writes_get_clear_errors(db, loaded):
    api = loaded["api"]
    before = stored(db.admin)
    cases = [
        ("insert into cco.projects (name, path) values (%s, '/p')", ["x" * 256], "23514"),
        ("insert into cco.projects (name, path) values ('n', %s)", [""], "23514"),
        ("insert into cco.projects (name, path, settings) values ('n', '/p', %s::jsonb)", ['{"a":' * 100_000 + '1' + '}' * 100_000], "54001"),
        ("insert into cco.projects (name, path, settings) values ('n', '/p', %s::jsonb)", ['"a string"'], "23514"),
        ("insert into cco.projects (name, path, metadata) values ('n', '/p', %s::jsonb)", ['{"a": "\\ud800"}'], "22P02"),
        ("insert into cco.search_history (query, search_type) values (%s, 'message')", ["q" * 2_000_000], "23514"),
    ]
    for query, params, sqlstate in cases:
        try:
            with request(api, loaded["owner"]):
                api.execute(query, params)
            outcome = "ok"
        except psycopg.Error as error:
            outcome = error.sqlstate
        assert outcome == sqlstate, f"{query} {str(params)[:40]}: {outcome}"
    assert stored(db.admin) == before


def test_highlights_of_hostile_content_are_safe_html(db):
    content = ('<script>alert(1)</script> the alert <mark>fake mark</mark> <b unbalanced '
               '&amp; "quotes" \'single\' </div></div> alert')
    highlighted = scalar(db.admin, "select cco.highlight(%s, 'alert', max_words => 100)", [content])
    # The content's own markup is escaped; the only tags are the markers around the matches.
    without_markers = highlighted.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in without_markers and ">" not in without_markers, highlighted
    assert "&lt;script&gt;" in highlighted and "&lt;mark&gt;fake mark&lt;/mark&gt;" in highlighted
    assert highlighted.count("<mark>") == highlighted.count("</mark>") >= 2
    # Markers that are not HTML leave the content as it is.
    plain = scalar(db.admin, "select cco.highlight(%s, 'alert', '[', ']', 100)", [content])
    assert "<script>" in plain and "[alert]" in plain
