"""`cco search` and `cco show` on the shared fixtures, against SQL and golden files."""

from __future__ import annotations

import json
import os
import re

import pytest

from conftest import scalar
from test_report import assert_golden, run

SESSION = "b3edadab-bca0-4054-9b41-f7ffa6941260"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def without_generated_ids(text: str) -> str:
    """Conversation and message ids are generated at load time: numbered in order of appearance."""
    numbers: dict[str, int] = {}
    def number(match):
        found = match.group(0)
        if found == SESSION:
            return found
        return f"<id {numbers.setdefault(found, len(numbers) + 1)}>"
    return UUID.sub(number, text)


@pytest.fixture(scope="module")
def loaded(db, fixtures_dir):
    result = run(db, "load", "--dir", os.path.dirname(fixtures_dir), "--quiet")
    assert result.returncode == 0, result.stderr


def search(db, *args) -> list[dict]:
    result = run(db, "search", *args, "--json", "--timezone", "UTC")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def ids(rows) -> list[str]:
    return [str(row[0]) for row in rows]


def test_search_ranks_as_the_database_does(db, loaded):
    hits = search(db, "test file")
    expected = db.admin.execute("select id from cco.search_messages('test file', limit_count => 20)").fetchall()
    assert [h["message_id"] for h in hits] == ids(expected) and len(hits) == 20
    assert all("<mark>" in h["headline"] for h in hits)
    assert [h["rank"] for h in hits] == sorted((h["rank"] for h in hits), reverse=True)


def test_search_filters(db, loaded):
    users = search(db, "file", "--role", "user", "--limit", "5")
    expected = db.admin.execute(
        "select id from cco.search_messages('file', message_roles => array['user'], limit_count => 5)").fetchall()
    assert [h["message_id"] for h in users] == ids(expected) and {h["role"] for h in users} == {"user"}
    edits = search(db, "file", "--tool", "Edit")
    expected = db.admin.execute(
        """select s.id from cco.search_messages('file', limit_count => 1000) s
           where exists (select 1 from cco.tool_calls t where t.message_id = s.id and t.tool_name = 'Edit')
           limit 20""").fetchall()
    assert [h["message_id"] for h in edits] == ids(expected) and edits
    assert search(db, "file", "--since", "20251221") == []
    assert len(search(db, "file", "--since", "2025-12-20", "--limit", "3")) == 3
    assert search(db, "file", "--project", "/no/such/project") == []
    assert search(db, "zzzunfindable") == []


def test_show_by_session_conversation_and_message(db, loaded):
    conversation = scalar(db.admin, "select id::text from cco.conversations where session_id = %s "
                                    "and not metadata ? 'agent_id'", [SESSION])
    count = scalar(db.admin, "select count(*) from cco.messages where conversation_id = %s", [conversation])
    agents = scalar(db.admin, "select count(*) from cco.conversations where metadata @> %s",
                    [json.dumps({"parent_session_id": SESSION})])
    by_session = json.loads(run(db, "show", SESSION, "--json").stdout)
    assert by_session["conversation_id"] == conversation
    assert len(by_session["messages"]) == count and len(by_session["subagents"]) == agents > 0
    times = [m["timestamp"] for m in by_session["messages"]]
    assert times == sorted(times)
    tools = scalar(db.admin, "select count(*) from cco.tool_calls where conversation_id = %s", [conversation])
    assert sum(len(m["tool_calls"]) for m in by_session["messages"]) == tools
    assert json.loads(run(db, "show", conversation, "--json").stdout) == by_session
    message = by_session["messages"][3]["id"]
    focused = run(db, "show", message, "--timezone", "UTC")
    assert focused.returncode == 0 and focused.stdout.count("▶ ") == 1
    missing = run(db, "show", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 5 and "no conversation, message or session" in missing.stderr


def launches_in_the_transcript(fixtures_dir: str) -> dict[str, str]:
    """Agent id -> the tool_use id that launched it, as the main transcript's tool results say
    (`toolUseResult.agentId`), read from the raw JSONL."""
    launches = {}
    with open(os.path.join(fixtures_dir, f"{SESSION}.jsonl"), encoding="utf-8") as transcript:
        for line in transcript:
            entry = json.loads(line)
            result = entry.get("toolUseResult")
            if not isinstance(result, dict) or "agentId" not in result:
                continue
            for block in entry["message"]["content"]:
                if block.get("type") == "tool_result":
                    launches[result["agentId"]] = block["tool_use_id"]
    return launches


def test_show_marks_each_subagent_under_the_message_that_launched_it(db, loaded, fixtures_dir):
    launches = launches_in_the_transcript(fixtures_dir)
    assert list(launches) == ["a434715"]
    shown = json.loads(run(db, "show", SESSION, "--json").stdout)
    by_agent = {agent["agent_id"]: agent for agent in shown["subagents"]}
    for agent_id, agent in by_agent.items():
        if agent_id in launches:
            launcher = scalar(db.admin, "select message_id::text from cco.tool_calls where external_id = %s",
                              [launches[agent_id]])
            assert agent["launched_by_message_id"] == launcher
            assert launcher in [m["id"] for m in shown["messages"]]
        else:
            assert agent["launched_by_message_id"] is None
        first = scalar(db.admin, """select content from cco.messages where conversation_id = %s and role = 'user'
                                    order by "timestamp", (metadata->>'line')::int limit 1""",
                       [agent["conversation_id"]])
        assert agent["first_prompt"] == first
    text = run(db, "show", SESSION, "--timezone", "UTC").stdout
    task_message = text.index("[tool: Task] Add content to test file")
    marker = text.index("↳ subagent a434715 · 8 messages · Read the file at")
    assert task_message < marker < text.index("\n\n", task_message)
    assert text.count("↳ subagent ") == len(by_agent)
    # From the subagent's side, nothing is launched inside its own thread.
    inside = run(db, "show", by_agent["a434715"]["conversation_id"], "--timezone", "UTC").stdout
    assert "a434715" not in inside


@pytest.mark.parametrize("name, args", [
    ("search", ("search", "edit the file", "--limit", "5")),
    ("show", ("show", SESSION)),
    ("report-tools", ("report", "tools")),
    ("report-projects", ("report", "projects")),
])
def test_terminal_text_equals_the_golden_file(db, loaded, name, args):
    result = run(db, *args, "--timezone", "UTC")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert_golden(without_generated_ids(result.stdout), name)


def test_tools_and_projects_equal_sql_over_the_tables(db, loaded):
    result = run(db, "report", "tools", "--json")
    assert result.returncode == 0, result.stderr
    tools = {row["tool_name"]: row["executions"] for row in json.loads(result.stdout)}
    expected = dict(db.admin.execute("select tool_name, count(*) from cco.tool_calls group by 1").fetchall())
    assert tools == expected and sum(tools.values()) == 9
    projects = json.loads(run(db, "report", "projects", "--json", "--project", "/Users/user/project").stdout)
    assert len(projects) == 1
    messages, tokens, cost = db.admin.execute(
        """select count(*), sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens),
                  sum(cco.usage_cost(model, "timestamp", input_tokens, output_tokens, cache_creation_tokens,
                      cache_read_tokens, cache_creation_1h_tokens, web_search_requests, web_fetch_requests,
                      speed, service_tier))
           from cco.messages""").fetchone()
    assert (projects[0]["messages"], projects[0]["total_tokens"]) == (messages, tokens)
    assert projects[0]["cost"] == pytest.approx(float(cost), abs=1e-5)  # usage_cost rounds each response
    wrong = run(db, "report", "tools", "--since", "20250101")
    assert wrong.returncode == 2 and "cover all time" in wrong.stderr
    no_project = run(db, "report", "tools", "--project", "x")
    assert no_project.returncode == 2 and "--project does not apply" in no_project.stderr
