"""Every dollar right: the usage and cost cco reports, checked against an independent computation
from the raw JSONL and LiteLLM's price data.

The computation here reads the transcripts and the price file itself (nothing from cco): each
API response counted once per project by (message.id, requestId), keeping its line with the most
output tokens; priced by the entry of its own model id or its id without a date suffix.

LiteLLM's price data is read from the file named by LITELLM_PRICES (the JSON the `litellm`
package ships as litellm/model_prices_and_context_window_backup.json; scripts/refresh-prices.sh
says how to get it). cco's seeded prices are generated from such a file; the test imports the
same file with cco.import_prices, so both sides read the same prices.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections import defaultdict

import pytest

from conftest import scalar, sqlstate_of

PROJECT = "/work/costs-project"


def litellm_prices() -> dict:
    path = os.environ.get("LITELLM_PRICES")
    if not path or not os.path.exists(path):
        pytest.skip("set LITELLM_PRICES to LiteLLM's model_prices_and_context_window JSON")
    with open(path, encoding="utf-8") as data:
        return json.load(data)


# --------------------------------------------------------------------------------------------
# Synthetic transcripts: one per duplication case and per billed dimension.

def usage(input_tokens=10, output=20, cache_5m=0, cache_1h=0, cache_read=0, searches=0, fetches=0,
          speed=None, tier="standard"):
    value = {
        "input_tokens": input_tokens, "output_tokens": output,
        "cache_creation_input_tokens": cache_5m + cache_1h, "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_5m, "ephemeral_1h_input_tokens": cache_1h},
        "service_tier": tier,
    }
    if searches or fetches:
        value["server_tool_use"] = {"web_search_requests": searches, "web_fetch_requests": fetches}
    if speed:
        value["speed"] = speed
    return value


def assistant(uuid, parent, session, at, model, message_id, request_id, text, usage_value, **extra):
    line = {
        "type": "assistant", "uuid": uuid, "parentUuid": parent, "sessionId": session,
        "timestamp": at, "cwd": PROJECT, "isSidechain": False, "requestId": request_id,
        "message": {"id": message_id, "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": text}], "usage": usage_value},
    }
    line.update(extra)
    return line


def user(uuid, parent, session, at, text, **extra):
    line = {"type": "user", "uuid": uuid, "parentUuid": parent, "sessionId": session, "timestamp": at,
            "cwd": PROJECT, "isSidechain": False, "message": {"role": "user", "content": text}}
    line.update(extra)
    return line


def synthetic_files() -> dict[str, list[dict]]:
    """Session files of one project; together they hold every case."""
    s1, s2, s3 = "11111111-0000-0000-0000-000000000001", "11111111-0000-0000-0000-000000000002", "11111111-0000-0000-0000-000000000003"
    day1, day2 = "2026-11-02T10:{:02d}:00.000Z", "2026-11-03T09:{:02d}:00.000Z"
    main = [
        user("u1", None, s1, day1.format(0), "Plan the refactor of the billing module"),
        # Streaming: one response over three lines, output growing to 300.
        assistant("a1", "u1", s1, day1.format(1), "claude-opus-4-6-20260205", "msg_stream", "req_stream", "thinking",
                  usage(1200, 5, cache_5m=3000, cache_1h=8000, cache_read=40000)),
        assistant("a2", "a1", s1, day1.format(1), "claude-opus-4-6-20260205", "msg_stream", "req_stream", "plan",
                  usage(1200, 120, cache_5m=3000, cache_1h=8000, cache_read=40000)),
        assistant("a3", "a2", s1, day1.format(2), "claude-opus-4-6-20260205", "msg_stream", "req_stream", "done",
                  usage(1200, 300, cache_5m=3000, cache_1h=8000, cache_read=40000)),
        user("u2", "a3", s1, day1.format(3), "Search the web for the tax rules"),
        # Web search and fetch, on a model with a search price.
        assistant("a4", "u2", s1, day1.format(4), "claude-sonnet-4-5-20250929", "msg_search", "req_search", "found",
                  usage(900, 400, cache_read=12000, searches=3, fetches=2)),
        # Fast mode on a model with a fast price (2x), and on one without (unpriced).
        assistant("a5", "a4", s1, day1.format(5), "claude-opus-5", "msg_fast", "req_fast", "quick",
                  usage(2000, 700, cache_1h=1000, speed="fast")),
        assistant("a6", "a5", s1, day1.format(6), "claude-opus-4-6", "msg_fast_unpriced", "req_fast_unpriced", "quick",
                  usage(100, 50, speed="fast")),
        # A model nobody prices, a priority-tier response, and a line Claude Code wrote itself.
        assistant("a7", "a6", s1, day1.format(7), "claude-opus-9-20270101", "msg_unknown", "req_unknown", "new",
                  usage(500, 60)),
        assistant("a8", "a7", s1, day1.format(8), "claude-sonnet-4-5-20250929", "msg_priority", "req_priority", "prio",
                  usage(10, 10, tier="priority")),
        assistant("a9", "a8", s1, day1.format(9), "<synthetic>", "msg_synthetic", "req_synthetic", "No response requested.",
                  usage(0, 0)),
        # Long context: a prompt over claude-haiku-5-5's 100k tokens bills the whole response higher.
        assistant("a10", "a9", s1, day1.format(10), "claude-haiku-5-5", "msg_long", "req_long", "long",
                  usage(60000, 2000, cache_5m=1000, cache_1h=500, cache_read=40000)),
        assistant("a11", "a10", s1, day1.format(11), "claude-haiku-5-5", "msg_short", "req_short", "short",
                  usage(60000, 2000, cache_read=39999)),
        # Compaction: the boundary, the summary, and the last response repeated after it.
        {"type": "system", "subtype": "compact_boundary", "uuid": "c1", "parentUuid": None, "logicalParentUuid": "a11",
         "sessionId": s1, "timestamp": day1.format(20), "cwd": PROJECT, "content": "Conversation compacted",
         "compactMetadata": {"trigger": "auto", "preTokens": 150000}},
        user("u3", "c1", s1, day1.format(20), "Summary of the conversation so far", isCompactSummary=True),
        assistant("a11-again", "u3", s1, day1.format(21), "claude-haiku-5-5", "msg_short", "req_short", "short",
                  usage(60000, 2000, cache_read=39999)),
    ]
    subagent = [
        # A subagent replays the parent's search response, then makes one of its own.
        assistant("s-a4", None, s1, day1.format(4), "claude-sonnet-4-5-20250929", "msg_search", "req_search", "found",
                  usage(900, 400, cache_read=12000, searches=3, fetches=2), isSidechain=True, agentId="a1b2c3d"),
        assistant("s-own", "s-a4", s1, day1.format(12), "claude-haiku-4-5-20251001", "msg_agent", "req_agent", "read",
                  usage(3000, 150, cache_5m=2000), isSidechain=True, agentId="a1b2c3d"),
    ]
    resumed = [
        # A resumed session copies the earlier lines into a new file with a new session id.
        *[dict(line, sessionId=s2) for line in main[:6]],
        user("r1", "a4", s2, day2.format(0), "Continue"),
        assistant("r2", "r1", s2, day2.format(1), "claude-opus-4-7", "msg_resumed", "req_resumed", "continued",
                  usage(700, 250, cache_1h=4000, cache_read=30000)),
    ]
    side_question = [
        # A side question replays the conversation so far under another session, then answers.
        *[dict(line, sessionId=s3, uuid="q-" + line["uuid"], parentUuid=line["parentUuid"] and "q-" + line["parentUuid"])
          for line in resumed[-2:]],
        user("q1", "q-r2", s3, day2.format(5), "By the way, what does this flag do?"),
        assistant("q2", "q1", s3, day2.format(6), "claude-sonnet-4-6", "msg_side", "req_side", "it toggles",
                  usage(400, 90, cache_read=8000)),
    ]
    return {
        f"{s1}.jsonl": main,
        "agent-a1b2c3d.jsonl": subagent,
        f"{s2}.jsonl": resumed,
        f"{s3}.jsonl": side_question,
    }


def synthetic_texts() -> dict[str, str]:
    # Compact, as Claude Code writes them (ccusage only reads lines with "usage":{ written so).
    return {name: "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
            for name, lines in synthetic_files().items()}


def fixture_texts(fixtures: str) -> dict[str, str]:
    folder = fixtures
    texts = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name), encoding="utf-8") as transcript:
                texts[name] = transcript.read()
    return texts


# --------------------------------------------------------------------------------------------
# The independent computation.

DATE_SUFFIX = re.compile(r"^(.+)-\d{8}$")
TIER = re.compile(r"_above_(\d+)k_tokens$")


def entry_for(prices: dict, model: str | None) -> dict | None:
    if not model or model == "<synthetic>":
        return None
    candidates = [model]
    stripped = DATE_SUFFIX.match(model)
    if stripped:
        candidates.append(stripped.group(1))
    for candidate in candidates:
        entry = prices.get(candidate)
        if isinstance(entry, dict) and entry.get("litellm_provider") == "anthropic":
            return entry
    return None


def response_cost(prices: dict, model: str | None, u: dict) -> float | None:
    """USD of one response, or None when the price data does not price it."""
    entry = entry_for(prices, model)
    if entry is None or u.get("service_tier", "standard") not in (None, "standard"):
        return None
    cache_1h = (u.get("cache_creation") or {}).get("ephemeral_1h_input_tokens", 0) or 0
    cache_all = u.get("cache_creation_input_tokens", 0) or 0
    counts = {
        "input": u.get("input_tokens", 0) or 0, "output": u.get("output_tokens", 0) or 0,
        "cache_5m": cache_all - cache_1h, "cache_1h": cache_1h, "cache_read": u.get("cache_read_input_tokens", 0) or 0,
    }
    prompt = counts["input"] + counts["cache_5m"] + counts["cache_1h"] + counts["cache_read"]

    def rates(suffix: str, base: dict | None) -> dict:
        def field(name):
            return entry.get(name + suffix)
        input_rate = field("input_cost_per_token")
        if input_rate is None:
            input_rate = base["input"]
        rate = {"input": input_rate}
        for key, name, fallback in (("output", "output_cost_per_token", None),
                                    ("cache_5m", "cache_creation_input_token_cost", 1.25 * input_rate),
                                    ("cache_1h", "cache_creation_input_token_cost_above_1hr", 2 * input_rate),
                                    ("cache_read", "cache_read_input_token_cost", 0.1 * input_rate)):
            value = field(name)
            if value is None:
                value = base[key] if base and key != "cache_1h" else fallback
            rate[key] = value
        return rate

    chosen = rates("", None)
    thresholds = {int(m.group(1)) for key in entry if (m := TIER.search(key))}
    if thresholds:
        (threshold,) = thresholds
        if prompt > threshold * 1000:
            chosen = rates(f"_above_{threshold}k_tokens", chosen)
    tokens = sum(counts[key] * chosen[key] for key in counts)
    speed = u.get("speed") or "standard"
    if speed == "fast":
        multiplier = (entry.get("provider_specific_entry") or {}).get("fast")
        if multiplier is None:
            return None
        tokens *= multiplier
    elif speed != "standard":
        return None
    tools = u.get("server_tool_use") or {}
    searches = tools.get("web_search_requests", 0) or 0
    if searches:
        per_query = (entry.get("search_context_cost_per_query") or {}).get("search_context_size_medium")
        if per_query is None:
            return None
        tokens += searches * per_query
    return tokens


def best_responses(texts: dict[str, str]) -> list[tuple[str, str | None, dict]]:
    """(timestamp, model, usage) of each API response of one project, counted once: by (message.id,
    requestId), on its line with the most output tokens; lines without the key each count."""
    best: dict = {}
    unkeyed = []
    for text in texts.values():
        for raw in text.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            message = line.get("message") if isinstance(line, dict) else None
            if line.get("type") != "assistant" or not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
                continue
            u = message["usage"]
            entry = (line["timestamp"], message.get("model"), u)
            key = (message.get("id"), line.get("requestId"))
            if None in key:
                unkeyed.append(entry)
            elif key not in best or (u.get("output_tokens") or 0) > (best[key][2].get("output_tokens") or 0):
                best[key] = entry
    return [*best.values(), *unkeyed]


def expected_daily(texts: dict[str, str], prices: dict, zone: datetime.tzinfo = datetime.timezone.utc) -> dict:
    """Per (day in `zone`, model): responses, tokens by kind, web requests, cost and unpriced responses."""
    daily: dict = defaultdict(lambda: defaultdict(float))
    for at, model, u in best_responses(texts):
        total = sum((u.get(k) or 0) for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                              "cache_read_input_tokens"))
        if total == 0:
            continue  # cco stores no usage for a response without tokens
        day = datetime.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(zone).date()
        row = daily[(day, model)]
        row["responses"] += 1
        row["input_tokens"] += u.get("input_tokens") or 0
        row["output_tokens"] += u.get("output_tokens") or 0
        row["cache_creation_tokens"] += u.get("cache_creation_input_tokens") or 0
        row["cache_creation_1h_tokens"] += (u.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") or 0
        row["cache_read_tokens"] += u.get("cache_read_input_tokens") or 0
        row["web_search_requests"] += (u.get("server_tool_use") or {}).get("web_search_requests") or 0
        row["web_fetch_requests"] += (u.get("server_tool_use") or {}).get("web_fetch_requests") or 0
        cost = response_cost(prices, model, u)
        if cost is None:
            row["unpriced_responses"] += 1
        else:
            row["cost"] += cost
    return daily


# --------------------------------------------------------------------------------------------

COLUMNS = ["responses", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_creation_1h_tokens",
           "cache_read_tokens", "web_search_requests", "web_fetch_requests", "unpriced_responses"]


def load(connection, texts: dict[str, str], folder: str, project_path: str) -> None:
    for name, text in texts.items():
        scalar(connection, "select cco.ingest_transcript(%s, %s, %s)", [text, f"{folder}/{name}", project_path])


PROJECT_OF_FOLDER = "select project_id from cco.conversations where file_path like %s || '/%%'"


def reported_daily(connection, folder: str) -> dict:
    rows = connection.execute(
        f"select day::date, model, cost, {', '.join(COLUMNS)} from cco.token_usage_daily u "
        f"where u.project_id in ({PROJECT_OF_FOLDER})", [folder]).fetchall()
    return {(row[0], row[1]): row for row in rows}


@pytest.mark.parametrize("source", ["synthetic", "fixtures"])
def test_daily_usage_and_cost_equal_an_independent_computation(db, request, source):
    prices = litellm_prices()
    texts = synthetic_texts() if source == "synthetic" else fixture_texts(request.getfixturevalue("fixtures_dir"))
    admin = db.admin
    admin.execute("set timezone = 'UTC'")
    assert scalar(admin, "select cco.import_prices(%s::jsonb)", [json.dumps(prices)]) > 0
    folder = f"/home/u/.claude/projects/{source}"
    # Loaded twice, in reverse order the second time: nothing may count again.
    load(admin, texts, folder, PROJECT)
    load(admin, dict(reversed(list(texts.items()))), folder, PROJECT)

    expected = expected_daily(texts, prices)
    reported = reported_daily(admin, folder)
    assert set(reported) == set(expected)
    for key, row in reported.items():
        want = expected[key]
        assert list(row[3:]) == [int(want[column]) for column in COLUMNS], key
        if want["responses"] == want["unpriced_responses"]:
            assert row[2] is None, key
        else:
            assert abs(float(row[2]) - want["cost"]) <= 1e-6, (key, row[2], want["cost"])

    total = sum(row["cost"] for row in expected.values())
    for view in ("project_analytics", "conversation_analytics"):
        reported_total = scalar(admin, f"select sum(v.cost) from cco.{view} v where v.project_id in ({PROJECT_OF_FOLDER})",
                                [folder])
        assert abs(float(reported_total) - total) <= 1e-6 * len(texts), view
    blocks = scalar(admin, f"select sum(b.cost) from cco.projects p cross join cco.usage_blocks(array[p.id]) b "
                           f"where p.id in ({PROJECT_OF_FOLDER})", [folder])
    assert abs(blocks - total) <= 1e-6


def test_every_case_is_in_the_synthetic_transcripts(db):
    """The synthetic files hold what the issue lists; the expected numbers show each case."""
    prices = litellm_prices()
    daily = expected_daily(synthetic_texts(), prices)
    by_model = defaultdict(lambda: defaultdict(float))
    for (_, model), row in daily.items():
        for key, value in row.items():
            by_model[model][key] += value
    # Streaming snapshots, the resumed copy and the compaction repeat count once each.
    assert by_model["claude-opus-4-6-20260205"]["responses"] == 1
    assert by_model["claude-opus-4-6-20260205"]["output_tokens"] == 300
    assert by_model["claude-haiku-5-5"]["responses"] == 2
    # The subagent's and the resumed session's replays of the search response count once.
    assert by_model["claude-sonnet-4-5-20250929"]["web_search_requests"] == 3
    assert by_model["claude-sonnet-4-5-20250929"]["unpriced_responses"] == 1  # the priority tier
    assert by_model["claude-opus-9-20270101"]["unpriced_responses"] == 1
    assert by_model["claude-opus-4-6"]["unpriced_responses"] == 1  # fast without a fast price
    assert "<synthetic>" not in by_model  # no tokens, nothing stored
    # Hand computation of three responses (USD per million: LiteLLM's numbers).
    opus_4_6 = prices["claude-opus-4-6-20260205"]
    assert abs(by_model["claude-opus-4-6-20260205"]["cost"]
               - (1200 * opus_4_6["input_cost_per_token"] + 300 * opus_4_6["output_cost_per_token"]
                  + 3000 * opus_4_6["cache_creation_input_token_cost"]
                  + 8000 * opus_4_6["cache_creation_input_token_cost_above_1hr"]
                  + 40000 * opus_4_6["cache_read_input_token_cost"])) < 1e-12
    opus_5 = prices["claude-opus-5"]
    assert abs(by_model["claude-opus-5"]["cost"]
               - 2 * (2000 * opus_5["input_cost_per_token"] + 700 * opus_5["output_cost_per_token"]
                      + 1000 * opus_5["cache_creation_input_token_cost_above_1hr"])) < 1e-12
    haiku = prices["claude-haiku-5-5"]
    long_cost = (60000 * haiku["input_cost_per_token_above_100k_tokens"] + 2000 * haiku["output_cost_per_token_above_100k_tokens"]
                 + 1000 * haiku["cache_creation_input_token_cost_above_100k_tokens"]
                 + 500 * haiku["cache_creation_input_token_cost_above_1hr_above_100k_tokens"]
                 + 40000 * haiku["cache_read_input_token_cost_above_100k_tokens"])
    short_cost = (60000 * haiku["input_cost_per_token"] + 2000 * haiku["output_cost_per_token"]
                  + 39999 * haiku["cache_read_input_token_cost"])
    assert abs(by_model["claude-haiku-5-5"]["cost"] - (long_cost + short_cost)) < 1e-12


def test_unpriced_models_are_listed_with_their_usage(db):
    admin = db.admin
    load(admin, synthetic_texts(), "/home/u/.claude/projects/unpriced", PROJECT)
    rows = dict(admin.execute("select model, responses from cco.unpriced_models").fetchall())
    assert rows.get("claude-opus-9-20270101") == 1
    assert rows.get("claude-opus-4-6") == 1
    assert "<synthetic>" not in rows
    assert scalar(admin, "select cost from cco.token_usage_daily where model = 'claude-opus-9-20270101'") is None


def test_prices_match_only_a_models_own_id(db):
    admin = db.admin
    cost = "select cco.usage_cost(%s, '2026-11-01', 1000000, 1000000, 0, 0)"
    assert scalar(admin, cost, ["claude-opus-4-6-20260205"]) == 30
    assert scalar(admin, cost, ["claude-opus-4-7-20260416"]) == 30
    assert scalar(admin, cost, ["claude-opus-5"]) == 30
    assert scalar(admin, cost, ["claude-sonnet-5"]) == 12
    assert scalar(admin, cost, ["claude-opus-4-9-20270101"]) is None
    assert scalar(admin, cost, ["<synthetic>"]) is None


def test_import_rejects_what_is_not_price_data(db):
    admin = db.admin
    assert sqlstate_of(lambda: scalar(admin, "select cco.import_prices('[]')")) == "22023"
    assert sqlstate_of(lambda: scalar(admin, "select cco.import_prices('{\"gpt\": {\"litellm_provider\": \"openai\"}}')")) == "22023"
    assert sqlstate_of(lambda: scalar(
        admin, "select cco.import_prices('{\"claude-x\": {\"litellm_provider\": \"anthropic\", \"input_cost_per_token\": \"1\"}}')")) == "22023"


def test_importing_again_replaces_imported_prices_and_keeps_the_operators(db):
    prices = litellm_prices()
    admin = db.admin
    data = json.dumps(prices)
    first = scalar(admin, "select cco.import_prices(%s::jsonb)", [data])
    admin.execute("update cco.model_pricing set input_per_million = 99 where model = 'claude-opus-4-7' and imported")
    assert scalar(admin, "select cco.import_prices(%s::jsonb)", [data]) == first
    assert scalar(admin, "select count(*) from cco.model_pricing where imported") == first
    # The edited row became the operator's: it stays, and it wins.
    assert scalar(admin, "select cco.usage_cost('claude-opus-4-7-20260416', now(), 1000000, 0, 0, 0)") == 99
