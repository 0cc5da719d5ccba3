"""Loading real Claude Code transcripts with cco.ingest_transcript.

The fixture folder is a real ~/.claude/projects folder shared with this workplace (read in place).
Every expected number is computed here from the raw JSONL, independently of the Rust parser.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import psycopg
import pytest

from conftest import new_id, request, scalar, sqlstate_of

FOLDER = "/home/dev/.claude/projects/-Users-user-project"  # where the files "live" for cco


def raw_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def message_lines(lines):
    return [l for l in lines if l.get("type") in ("user", "assistant", "system") and l.get("uuid")]


def blocks(line):
    content = (line.get("message") or {}).get("content")
    return content if isinstance(content, list) else []


def is_error(block) -> bool:
    if block.get("is_error") is True:
        return True
    return "is_error" not in block and isinstance(block.get("content"), str) and block["content"].startswith("Error")


@pytest.fixture(scope="module")
def fixture_files(fixtures_dir):
    files = {}
    for name in sorted(os.listdir(fixtures_dir)):
        if name.endswith(".jsonl"):
            with open(os.path.join(fixtures_dir, name), encoding="utf-8") as handle:
                files[name] = handle.read()
    return files


def ingest(connection, text, name, project_path=None):
    report = scalar(connection, "select cco.ingest_transcript(%s, %s, %s)", [text, f"{FOLDER}/{name}", project_path])
    return report


@pytest.fixture(scope="module")
def loaded(db, fixture_files):
    """Every fixture file loaded once, in name order, each in its own transaction."""
    reports = {name: ingest(db.admin, text, name) for name, text in fixture_files.items()}
    return reports


def conversation_of(admin, name):
    return scalar(admin, "select id from cco.conversations where file_path = %s", [f"{FOLDER}/{name}"])


def test_every_file_stores_exactly_its_messages_tool_calls_and_errors(db, fixture_files, loaded):
    admin = db.admin
    for name, text in fixture_files.items():
        lines = raw_lines(text)
        messages = message_lines(lines)
        tool_uses = [b for l in messages for b in blocks(l) if b.get("type") == "tool_use"]
        results = [b for l in messages for b in blocks(l) if b.get("type") == "tool_result"]
        report = loaded[name]
        assert report["lines_skipped"] == 0 and report["errors"] == [], name
        assert report["messages_inserted"] == len(messages), name
        assert report["tool_calls_inserted"] == len(tool_uses), name
        assert report["snapshot_lines_skipped"] == sum(1 for l in lines if l["type"] == "file-history-snapshot")
        conversation = conversation_of(admin, name)
        if not messages:
            assert conversation is None, f"{name}: files without messages create no conversation"
            continue
        assert scalar(admin, "select message_count from cco.conversations where id = %s", [conversation]) == len(messages)
        stored_tools = admin.execute(
            "select external_id, status, error_message is not null from cco.tool_calls where conversation_id = %s",
            [conversation]).fetchall()
        assert sorted(t[0] for t in stored_tools) == sorted(b["id"] for b in tool_uses), name
        errors = {b["tool_use_id"] for b in results if is_error(b)}
        for external_id, status, has_error in stored_tools:
            expected = "error" if external_id in errors else ("success" if any(
                b["tool_use_id"] == external_id for b in results) else "pending")
            assert status == expected and has_error == (status == "error"), (name, external_id)


def test_parents_and_depths_follow_the_transcript(db, fixture_files, loaded):
    admin = db.admin
    for name, text in fixture_files.items():
        messages = {l["uuid"]: l for l in message_lines(raw_lines(text))}
        if not messages:
            continue

        def depth(uuid, seen=()):
            parent = messages[uuid].get("parentUuid")
            return 0 if parent not in messages or parent in seen else 1 + depth(parent, seen + (uuid,))

        stored = admin.execute(
            "select m.external_id, p.external_id, m.depth from cco.messages m "
            "left join cco.messages p on p.id = m.parent_id and p.project_id = m.project_id "
            "where m.conversation_id = %s", [conversation_of(admin, name)]).fetchall()
        for external_id, parent_external_id, stored_depth in stored:
            raw_parent = messages[external_id].get("parentUuid")
            assert parent_external_id == (raw_parent if raw_parent in messages else None), (name, external_id)
            assert stored_depth == depth(external_id), (name, external_id)


def test_the_main_session_keeps_its_branches(db, loaded):
    forks = db.admin.execute(
        "select p.external_id, count(*) from cco.messages m join cco.messages p on p.id = m.parent_id "
        "where m.conversation_id = %s group by p.external_id having count(*) > 1",
        [conversation_of(db.admin, "b3edadab-bca0-4054-9b41-f7ffa6941260.jsonl")]).fetchall()
    assert [(fork[:8], children) for fork, children in forks] == [("8fe00b4a", 3)]


def test_subagent_files_are_linked_to_their_parent_session(db, loaded):
    agent = db.admin.execute(
        "select session_id, metadata->>'agent_id', metadata->>'parent_session_id' from cco.conversations "
        "where file_path = %s", [f"{FOLDER}/agent-a434715.jsonl"]).fetchone()
    assert agent == ("b3edadab-bca0-4054-9b41-f7ffa6941260", "a434715", "b3edadab-bca0-4054-9b41-f7ffa6941260")


def test_tokens_count_once_per_api_response_across_the_session(db, fixture_files, loaded):
    # A file belongs to the first session its lines name (a resumed session can name two).
    best = {}
    sessions = defaultdict(dict)
    for name, text in fixture_files.items():
        lines = message_lines(raw_lines(text))
        file_session = next((l["sessionId"] for l in lines if l.get("sessionId")), None)
        for line in lines:
            message, request_id = line.get("message") or {}, line.get("requestId")
            if not (message.get("id") and request_id and message.get("usage")):
                continue
            usage = message["usage"]
            counts = tuple(usage.get(k, 0) for k in (
                "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
            key = (file_session, message["id"], request_id)
            if key not in best or counts[1] > best[key][1]:
                best[key] = counts
    for (session, _, _), counts in best.items():
        totals = sessions[session].setdefault("totals", [0, 0, 0, 0])
        for index in range(4):
            totals[index] += counts[index]
    for session, expected in sessions.items():
        stored = db.admin.execute(
            "select sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), sum(cache_read_tokens) "
            "from cco.conversations where session_id = %s", [session]).fetchone()
        assert list(stored) == expected["totals"], session


def test_summaries_title_the_conversation_of_their_latest_branch(db, fixture_files, loaded):
    # Independently: the summarised leaf with the latest timestamp, and of its summaries the one
    # loaded last (files load in name order; within a file, the last line).
    main = {l["uuid"]: l for l in message_lines(raw_lines(fixture_files["b3edadab-bca0-4054-9b41-f7ffa6941260.jsonl"]))}
    candidates = []
    for order, (name, text) in enumerate(fixture_files.items()):
        for line_number, line in enumerate(text.splitlines(), 1):
            if line.strip() and (entry := json.loads(line)).get("type") == "summary" and entry["leafUuid"] in main:
                candidates.append((main[entry["leafUuid"]]["timestamp"], order, line_number, entry["summary"]))
    expected = max(candidates)[3]
    title = scalar(db.admin, "select title from cco.conversations where file_path = %s",
                   [f"{FOLDER}/b3edadab-bca0-4054-9b41-f7ffa6941260.jsonl"])
    assert title == expected


def test_without_a_summary_the_title_is_the_first_prompt(db, loaded):
    title = scalar(db.admin, "select title from cco.conversations where file_path = %s",
                   [f"{FOLDER}/agent-a434715.jsonl"])
    assert title.startswith("Read the file at /Users/user/project/test-file.txt")
    assert len(title) <= 120


def test_the_project_comes_from_the_lines_cwd(db, loaded):
    projects = db.admin.execute("select name, path from cco.projects").fetchall()
    assert projects == [("project", "/Users/user/project")]


def test_loading_again_changes_nothing(db, fixture_files, loaded):
    before = db.admin.execute("select count(*), sum(message_count), sum(output_tokens) from cco.conversations").fetchone()
    tool_calls = scalar(db.admin, "select count(*) from cco.tool_calls")
    for name, text in fixture_files.items():
        report = ingest(db.admin, text, name)
        assert (report["messages_inserted"], report["tool_calls_inserted"], report["tool_results_matched"]) == (0, 0, 0), name
    after = db.admin.execute("select count(*), sum(message_count), sum(output_tokens) from cco.conversations").fetchone()
    assert after == before and scalar(db.admin, "select count(*) from cco.tool_calls") == tool_calls


def snapshot(admin, conversation):
    messages = admin.execute(
        "select m.external_id, p.external_id, m.depth, m.content, m.token_count, m.output_tokens "
        "from cco.messages m left join cco.messages p on p.id = m.parent_id where m.conversation_id = %s "
        "order by m.external_id", [conversation]).fetchall()
    tools = admin.execute(
        "select external_id, status, output_data, execution_time_ms from cco.tool_calls "
        "where conversation_id = %s order by external_id", [conversation]).fetchall()
    totals = admin.execute(
        "select message_count, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, title "
        "from cco.conversations where id = %s", [conversation]).fetchone()
    return messages, tools, totals


@pytest.mark.parametrize("cut", ["mid_line", "half", "every_line"])
def test_a_growing_file_ends_as_if_loaded_once(cluster, fixture_files, cut):
    from conftest import create_database, drop_database
    name = "b3edadab-bca0-4054-9b41-f7ffa6941260.jsonl"
    text = fixture_files[name]
    once, grown = create_database("cco_ingest_once"), create_database("cco_ingest_grown")
    try:
        ingest(once.admin, text, name)
        if cut == "mid_line":
            prefixes = [text[: len(text) // 2]]
        elif cut == "half":
            prefixes = ["\n".join(text.splitlines()[: len(text.splitlines()) // 2]) + "\n"]
        else:
            lines = text.splitlines(keepends=True)
            prefixes = ["".join(lines[:n]) for n in range(1, len(lines))]
        for prefix in prefixes:
            report = ingest(grown.admin, prefix, name)
            if cut == "mid_line":
                assert report["lines_skipped"] == 1 and "cut off" in report["errors"][0]["reason"]
        ingest(grown.admin, text, name)
        assert snapshot(grown.admin, conversation_of(grown.admin, name)) == snapshot(once.admin, conversation_of(once.admin, name))
    finally:
        drop_database(once)
        drop_database(grown)


def chain_transcript(count: int, cwd: str) -> str:
    lines, previous = [], None
    for n in range(count):
        uuid = f"00000000-0000-4000-a000-{n:012x}"
        lines.append(json.dumps({"type": "user" if n % 2 == 0 else "assistant", "uuid": uuid, "parentUuid": previous,
                                 "cwd": cwd, "timestamp": f"2025-05-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                                 "message": {"content": f"line {n}"}}))
        previous = uuid
    return "\n".join(lines)


def test_a_large_load_refreshes_the_statistics_its_tables_outgrew(cluster):
    # Foreign-key checks are planned from the tables' statistics and the plan is kept for the
    # session; a large load refreshes outgrown statistics part way, inside its own transaction.
    from conftest import create_database, drop_database
    database = create_database("cco_ingest_statistics")
    statistics = "select reltuples from pg_class where oid = 'cco.messages'::regclass"
    try:
        admin = database.admin
        assert scalar(admin, statistics) < 0, "a new table has never been analyzed"
        ingest(admin, chain_transcript(10, "/src/small"), "small.jsonl")
        assert scalar(admin, statistics) < 0, "a small load leaves statistics to autovacuum"
        # Through the API, as a user who does not own the tables (only their owner may analyze).
        api = database.connect_api()
        with request(api, new_id()):
            report = scalar(api, "select cco.ingest_transcript(%s, '/h/u/large.jsonl')", [chain_transcript(5_000, "/src/large")])
            assert report["messages_inserted"] == 5_000
            assert scalar(api, statistics) >= 2_000, "analyzed once the first part was in"
        depths = admin.execute("select min(depth), max(depth), count(*) from cco.messages m "
                               "join cco.conversations c on c.id = m.conversation_id where c.file_path like '%large.jsonl'").fetchone()
        assert depths == (0, 4_999, 5_000), "the two statements of the load make one thread"
    finally:
        drop_database(database)


def test_bad_lines_are_skipped_and_the_rest_is_stored(db):
    lines = [
        json.dumps({"type": "user", "uuid": "bad-1", "parentUuid": None, "cwd": "/tmp/bad",
                    "timestamp": "2025-01-01T00:00:00Z", "message": {"role": "user", "content": "first"}}),
        "{truncated",
        json.dumps({"type": "mystery-line", "x": 1}),
        json.dumps({"type": "user", "uuid": "bad-2", "timestamp": "not a time", "message": {"content": "x"}}),
        json.dumps({"type": "assistant", "uuid": "bad-3", "parentUuid": "bad-1",
                    "timestamp": "2025-01-01T00:00:01Z", "message": {"content": "x" * 1_000_001}}),
        json.dumps({"type": "assistant", "uuid": "bad-4", "parentUuid": "bad-1", "timestamp": "2025-01-01T00:00:02Z",
                    "message": {"content": [{"type": "text", "text": "nul \u0000 inside"}]}}),
    ]
    report = ingest(db.admin, "\n".join(lines), "bad-lines.jsonl", "/tmp/bad")
    assert report["messages_inserted"] == 2 and report["lines_skipped"] == 4
    assert [e["line"] for e in report["errors"]] == [2, 3, 4, 5]
    assert scalar(db.admin, "select content from cco.messages where external_id = 'bad-4'") == "nul \ufffd inside"


def test_empty_input_and_arguments(db):
    report = ingest(db.admin, "", "empty.jsonl", "/tmp/empty")
    assert report["conversation_id"] is None and report["messages_inserted"] == 0
    assert sqlstate_of(lambda: scalar(db.admin, "select cco.ingest_transcript('{}', '')")) == "22023"
    assert sqlstate_of(lambda: scalar(db.admin, "select cco.ingest_transcript(null, 'x.jsonl')")) == "22004"
    assert sqlstate_of(lambda: scalar(db.admin, "select cco.ingest_transcript(%s, 'x.jsonl')",
                                      ['{"type":"user","uuid":"x","message":{"content":"no cwd"}}'])) == "22023"


class TestIngestSecurity:
    def test_users_load_into_projects_of_their_own(self, db, fixture_files):
        api = db.connect_api()
        owner, stranger = new_id(), new_id()
        text = fixture_files["agent-a434715.jsonl"]
        with request(api, owner):
            mine = scalar(api, "select cco.ingest_transcript(%s, '/h/o/agent-a434715.jsonl')", [text])
        with request(api, stranger):
            theirs = scalar(api, "select cco.ingest_transcript(%s, '/h/s/agent-a434715.jsonl')", [text])
        assert mine["project_id"] != theirs["project_id"]
        assert mine["messages_inserted"] == theirs["messages_inserted"] > 0
        with request(api, stranger):
            assert scalar(api, "select count(*) from cco.messages where project_id = %s", [mine["project_id"]]) == 0

    def test_an_editor_loads_into_the_shared_project(self, db, fixture_files):
        api = db.connect_api()
        owner, editor = new_id(), new_id()
        with request(api, owner):
            project = scalar(api, "insert into cco.projects (name, path) values ('shared', '/Users/user/project') returning id")
            scalar(api, "insert into cco.project_members (project_id, user_id, role) values (%s, %s, 'editor') returning 1",
                   [project, editor])
        with request(api, editor):
            report = scalar(api, "select cco.ingest_transcript(%s, '/h/e/agent-a434715.jsonl')",
                            [fixture_files["agent-a434715.jsonl"]])
        assert report["project_id"] == str(project)

    def test_anonymous_callers_cannot_load(self, db, fixture_files):
        api = db.connect_api()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with request(api, None, role="anon"):
                scalar(api, "select cco.ingest_transcript(%s, '/h/a/agent-a434715.jsonl')",
                       [fixture_files["agent-a434715.jsonl"]])
