"""`cco report`: every number checked against a computation from the raw JSONL (the one of
test_costs.py, which reads the transcripts and LiteLLM's price data, nothing from cco) or against
SQL over cco.messages that does not go through the views the reports read; the JSON's shape; a
quarter-hour time zone; --since/--until edges; the terminal text against golden files.

Set CCO_UPDATE_GOLDEN=1 to rewrite the golden files from the current output (then read the diff).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest

from conftest import scalar
from test_costs import (assistant, best_responses, expected_daily, fixture_texts, litellm_prices,
                        synthetic_texts, usage, user)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CCO = os.environ.get("CCO", os.path.join(ROOT, "target", "debug", "cco"))
GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
TOKEN_FIELDS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
EXPECTED_FIELDS = {"inputTokens": "input_tokens", "outputTokens": "output_tokens",
                   "cacheCreationTokens": "cache_creation_tokens", "cacheReadTokens": "cache_read_tokens"}
EDGES_PROJECT = "/work/report-edges"
SESSION = "22222222-0000-0000-0000-000000000001"


def edge_texts() -> dict[str, str]:
    """Responses five minutes either side of midnight in Kathmandu (UTC+05:45)."""
    lines = [
        user("e0", None, SESSION, "2026-11-04T18:00:00.000Z", "Before midnight in Kathmandu"),
        assistant("e1", "e0", SESSION, "2026-11-04T18:10:00.000Z", "claude-sonnet-4-5-20250929", "msg_e1", "req_e1",
                  "23:55 local", usage(100, 10, cache_read=1000)),
        assistant("e2", "e1", SESSION, "2026-11-04T18:20:00.000Z", "claude-sonnet-4-5-20250929", "msg_e2", "req_e2",
                  "00:05 local", usage(200, 20, cache_5m=500)),
    ]
    for line in lines:
        line["cwd"] = EDGES_PROJECT
    return {f"{SESSION}.jsonl": "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)}


def run(db, *args, env_extra=None, stdin=None) -> subprocess.CompletedProcess:
    """The cco command on the module's database, as if no terminal, no configuration file, no TZ."""
    if not os.path.exists(CCO):
        pytest.fail(f"{CCO} is missing: build it with cargo build -p cco-cli")
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "NO_COLOR", "TZ")}
    env.update({"PGDATABASE": db.name, "CCO_CONFIG": "/nonexistent/cco-config", **(env_extra or {})})
    return subprocess.run([CCO, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def assert_golden(text: str, name: str) -> None:
    """The text equals golden/<name>.txt (CCO_UPDATE_GOLDEN=1 writes it first)."""
    path = os.path.join(GOLDEN, f"{name}.txt")
    if os.environ.get("CCO_UPDATE_GOLDEN"):
        with open(path, "w", encoding="utf-8") as golden:
            golden.write(text)
    with open(path, encoding="utf-8") as golden:
        assert text == golden.read()


def report(db, *args) -> dict:
    result = run(db, "report", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sources(db, fixtures_dir, tmp_path_factory) -> dict[str, dict[str, str]]:
    """Loads the shared fixtures (read in place), test_costs.py's synthetic transcripts and the
    midnight edges with `cco load`, each as its own project; returns each project's texts."""
    prices = litellm_prices()
    scalar(db.admin, "select cco.import_prices(%s::jsonb)", [json.dumps(prices)])
    root = tmp_path_factory.mktemp("projects")
    texts = {"fixtures": fixture_texts(fixtures_dir), "synthetic": synthetic_texts(), "edges": edge_texts()}
    for name in ("synthetic", "edges"):
        folder = root / f"-work-{name}"
        folder.mkdir()
        for file_name, text in texts[name].items():
            (folder / file_name).write_text(text, encoding="utf-8")
    for folder in (os.path.dirname(fixtures_dir), str(root)):
        loaded = run(db, "load", "--dir", folder, "--quiet")
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.startswith("cco load: "), loaded.stdout  # cco-load says "cco-load: "
    return texts


def expected_by_day(sources, zone: str) -> dict:
    """Per (day, model) over every project: cco counts a response once per project."""
    prices = litellm_prices()
    merged: dict = defaultdict(lambda: defaultdict(float))
    for texts in sources.values():
        for key, row in expected_daily(texts, prices, ZoneInfo(zone)).items():
            for column, value in row.items():
                merged[key][column] += value
    return merged


def assert_period_report(entries: list[dict], expected: dict) -> None:
    reported = {(entry["period"], b["modelName"]): b for entry in entries for b in entry["modelBreakdowns"]}
    assert set(reported) == set(expected)
    for key, row in expected.items():
        for field, column in EXPECTED_FIELDS.items():
            assert reported[key][field] == row[column], (key, field)
        assert reported[key]["cost"] == pytest.approx(row["cost"], abs=1e-5), key
    for entry in entries:
        assert entry["totalTokens"] == sum(entry[f] for f in TOKEN_FIELDS)
        assert entry["totalCost"] == pytest.approx(sum(b["cost"] for b in entry["modelBreakdowns"]), abs=1e-9)
        assert entry["modelsUsed"] == sorted(b["modelName"] for b in entry["modelBreakdowns"])


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "America/St_Johns"])
def test_daily_equals_the_computation_from_the_raw_transcripts(db, sources, zone):
    value = report(db, "daily", "--timezone", zone)
    expected = {(day.isoformat(), model): row for (day, model), row in expected_by_day(sources, zone).items()}
    assert_period_report(value["daily"], expected)
    assert [e["date"] for e in value["daily"]] == sorted(e["period"] for e in value["daily"])
    totals = value["totals"]
    for field in TOKEN_FIELDS:
        assert totals[field] == sum(e[field] for e in value["daily"])
    assert totals["totalCost"] == pytest.approx(sum(r["cost"] for r in expected.values()), abs=1e-5)


def test_a_quarter_hour_zone_splits_midnight_where_it_falls(db, sources):
    utc = report(db, "daily", "--project", EDGES_PROJECT, "--timezone", "UTC")["daily"]
    kathmandu = report(db, "daily", "--project", EDGES_PROJECT, "--timezone", "Asia/Kathmandu")["daily"]
    assert [(e["period"], e["inputTokens"]) for e in utc] == [("2026-11-04", 300)]
    assert [(e["period"], e["inputTokens"]) for e in kathmandu] == [("2026-11-04", 100), ("2026-11-05", 200)]


def test_since_and_until_include_their_days_in_both_forms(db, sources):
    zone = ("--timezone", "Asia/Kathmandu", "--project", EDGES_PROJECT)
    day = report(db, "daily", *zone, "--since", "20261104", "--until", "20261104")["daily"]
    assert [(e["period"], e["inputTokens"]) for e in day] == [("2026-11-04", 100)]
    iso = report(db, "daily", *zone, "--since", "2026-11-04", "--until", "2026-11-04")
    assert iso["daily"] == day
    after = report(db, "daily", *zone, "--since", "20261105")["daily"]
    assert [(e["period"], e["inputTokens"]) for e in after] == [("2026-11-05", 200)]
    before = report(db, "daily", *zone, "--until", "20261103")
    assert before["daily"] == [] and before["totals"]["totalTokens"] == 0


def test_weeks_and_months_sum_the_days(db, sources):
    days = expected_by_day(sources, "UTC")
    for flag, start in (("sunday", lambda d: d - datetime.timedelta(days=(d.weekday() + 1) % 7)),
                        ("monday", lambda d: d - datetime.timedelta(days=d.weekday()))):
        weeks: dict = defaultdict(lambda: defaultdict(float))
        for (day, model), row in days.items():
            for column, value in row.items():
                weeks[(start(day).isoformat(), model)][column] += value
        value = report(db, "weekly", "--timezone", "UTC", "--start-of-week", flag)
        assert_period_report(value["weekly"], weeks)
        assert all(e["week"] == e["period"] for e in value["weekly"])
    months: dict = defaultdict(lambda: defaultdict(float))
    for (day, model), row in days.items():
        for column, value in row.items():
            months[(day.strftime("%Y-%m"), model)][column] += value
    assert_period_report(report(db, "monthly", "--timezone", "UTC")["monthly"], months)


def test_project_and_order(db, sources):
    only = report(db, "monthly", "--project", "/Users/user/project", "--timezone", "UTC")
    expected = expected_daily(sources["fixtures"], litellm_prices())
    assert only["totals"]["inputTokens"] == sum(row["input_tokens"] for row in expected.values())
    ascending = report(db, "daily", "--timezone", "UTC")["daily"]
    descending = report(db, "daily", "--timezone", "UTC", "--order", "desc")["daily"]
    assert descending == list(reversed(ascending)) and len(ascending) > 1
    assert report(db, "daily", "--timezone", "UTC", "--offline")["daily"] == ascending  # ccusage's flag
    nobody = report(db, "daily", "--project", "/no/such/project")
    assert nobody["daily"] == [] and nobody["totals"]["totalCost"] == 0


def test_sessions_equal_sql_over_the_messages(db, sources):
    value = report(db, "session", "--timezone", "UTC")
    rows = db.admin.execute(
        """select coalesce(c.session_id, c.id::text), sum(m.input_tokens), sum(m.output_tokens),
                  sum(m.cache_creation_tokens), sum(m.cache_read_tokens),
                  coalesce(sum(cco.usage_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
                      m.cache_creation_tokens, m.cache_read_tokens, m.cache_creation_1h_tokens,
                      m.web_search_requests, m.web_fetch_requests, m.speed, m.service_tier)), 0)
           from cco.messages m join cco.conversations c on c.id = m.conversation_id
           where m.token_count > 0 group by 1""").fetchall()
    expected = {row[0]: row[1:] for row in rows}
    reported = {e["sessionId"]: e for e in value["session"]}
    assert set(reported) == set(expected)
    for session, (input_tokens, output, cache_creation, cache_read, cost) in expected.items():
        entry = reported[session]
        assert [entry[f] for f in TOKEN_FIELDS] == [input_tokens, output, cache_creation, cache_read]
        assert entry["totalCost"] == pytest.approx(float(cost), abs=1e-5)
        assert entry["period"] == session and entry["lastActivity"].endswith("Z")
    last = [e["lastActivity"] for e in value["session"]]
    assert last == sorted(last)


def expected_blocks(sources) -> list[tuple[str, int, int]]:
    """(start, entries, total tokens) of each block, by ccusage's rule: a block starts at the hour
    of its first response and ends five hours later, or at a pause of five hours."""
    responses = []
    for texts in sources.values():
        for at, _, u in best_responses(texts):
            tokens = sum(u.get(k) or 0 for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                                 "cache_read_input_tokens"))
            if tokens > 0:
                responses.append((datetime.datetime.fromisoformat(at.replace("Z", "+00:00")), tokens))
    blocks: list = []
    five_hours = datetime.timedelta(hours=5)
    for at, tokens in sorted(responses):
        if not blocks or at - blocks[-1]["start"] >= five_hours or at - blocks[-1]["last"] >= five_hours:
            blocks.append({"start": at.replace(minute=0, second=0, microsecond=0), "last": at, "entries": 0, "tokens": 0})
        block = blocks[-1]
        block["last"], block["entries"], block["tokens"] = at, block["entries"] + 1, block["tokens"] + tokens
    return [(b["start"].strftime("%Y-%m-%dT%H:%M:%S.000Z"), b["entries"], b["tokens"]) for b in blocks]


def test_blocks_equal_the_rule_applied_to_the_raw_transcripts(db, sources):
    value = report(db, "blocks", "--timezone", "Asia/Kathmandu")
    blocks = [b for b in value["blocks"] if not b["isGap"]]
    assert [(b["startTime"], b["entries"], b["totalTokens"]) for b in blocks] == expected_blocks(sources)
    for block in blocks:
        assert block["id"] == block["startTime"]
        assert block["totalTokens"] == sum(block["tokenCounts"].values())
        assert not block["isActive"] and block["burnRate"] is None and block["projection"] is None
    since = report(db, "blocks", "--since", "20261104", "--timezone", "UTC")["blocks"]
    assert [b["startTime"] for b in since] == ["2026-11-04T18:00:00.000Z"]


def test_the_active_block_has_burn_rate_and_projection(db, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = lambda minutes: (now - datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    lines = [user("n0", None, "33333333-0000-0000-0000-000000000001", stamp(40), "Now"),
             assistant("n1", "n0", "33333333-0000-0000-0000-000000000001", stamp(30), "claude-sonnet-4-5-20250929",
                       "msg_n1", "req_n1", "a", usage(1000, 100)),
             assistant("n2", "n1", "33333333-0000-0000-0000-000000000001", stamp(10), "claude-sonnet-4-5-20250929",
                       "msg_n2", "req_n2", "b", usage(2000, 200))]
    folder = tmp_path / "-work-active"
    folder.mkdir()
    (folder / "active.jsonl").write_text("".join(json.dumps(dict(l, cwd="/work/active")) + "\n" for l in lines))
    assert run(db, "load", "--dir", str(tmp_path), "--quiet").returncode == 0
    active = [b for b in report(db, "blocks", "--project", "/work/active")["blocks"] if b["isActive"]]
    assert len(active) == 1
    block = active[0]
    assert block["totalTokens"] == 3300 and block["entries"] == 2
    assert block["burnRate"]["tokensPerMinute"] > 0 and block["burnRate"]["costPerHour"] > 0
    projection = block["projection"]
    assert 0 < projection["remainingMinutes"] <= 300
    assert projection["totalTokens"] >= 3300 and projection["totalCost"] >= block["costUSD"]
    text = run(db, "report", "blocks", "--project", "/work/active")
    assert text.returncode == 0 and "ACTIVE" in text.stdout
    assert "Burn rate:" in text.stdout and "Projection:" in text.stdout


def test_wrong_arguments_say_what_is_wrong_in_one_line(db, sources):
    for args, words in ((("--since", "2026-13-01"), "is not a day"),
                        (("--since", "20261105", "--until", "20261104"), "is before --since"),
                        (("--timezone", "Mars/Olympus"), "unknown time zone `Mars/Olympus`")):
        result = run(db, "report", "daily", *args)
        assert result.returncode == 2 and words in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.mark.parametrize("name, args", [
    ("daily-breakdown", ("daily", "--breakdown")),
    ("weekly", ("weekly",)),
    ("monthly", ("monthly",)),
    ("session", ("session",)),
    ("blocks", ("blocks",)),
    ("daily-wide", ("daily",)),
])
def test_terminal_text_equals_the_golden_file(db, sources, name, args):
    env = {"COLUMNS": "160"} if name.endswith("-wide") else {}
    result = run(db, "report", *args, "--timezone", "Asia/Kathmandu", "--project", "/Users/user/project",
                 env_extra=env)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout  # no colour when the output is not a terminal
    width = int(env.get("COLUMNS", 80))
    assert all(len(line) <= width for line in result.stdout.splitlines())
    assert_golden(result.stdout, f"report-{name}")


def test_the_configuration_file_names_the_database_and_the_time_zone(db, sources, tmp_path):
    config = tmp_path / "config"
    config.write_text(f"# cco\ndsn = dbname={db.name}\ntimezone = Asia/Kathmandu  # home\n", encoding="utf-8")
    result = run(db, "report", "daily", "--project", EDGES_PROJECT, "--json",
                 env_extra={"CCO_CONFIG": str(config), "PGDATABASE": "postgres"})
    assert result.returncode == 0, result.stderr
    days = [(e["period"], e["inputTokens"]) for e in json.loads(result.stdout)["daily"]]
    assert days == [("2026-11-04", 100), ("2026-11-05", 200)]  # Kathmandu's days, the file's database
    flag = run(db, "report", "daily", "--project", EDGES_PROJECT, "--json", "--timezone", "UTC",
               env_extra={"CCO_CONFIG": str(config)})
    assert [e["period"] for e in json.loads(flag.stdout)["daily"]] == ["2026-11-04"]  # the flag wins
    config.write_text("dsn = x\nport 5432\n", encoding="utf-8")
    wrong = run(db, "report", "daily", env_extra={"CCO_CONFIG": str(config)})
    assert wrong.returncode == 2 and wrong.stderr == f"cco: {config}: line 2: expected `key = value`\n"


def test_compact_and_colour_as_ccusage_takes_them(db, sources):
    wide = {"COLUMNS": "160"}
    full = run(db, "report", "daily", "--timezone", "UTC", env_extra=wide)
    compact = run(db, "report", "daily", "--timezone", "UTC", "--compact", env_extra=wide)
    assert "Cache Create" in full.stdout and "Cache Create" not in compact.stdout
    assert "Total Tokens" in compact.stdout
    cases = (((), {}, False), (("--color",), {}, True), ((), {"FORCE_COLOR": "1"}, True),
             (("--no-color",), {"FORCE_COLOR": "1"}, False), ((), {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
             (("--color",), {"NO_COLOR": "1"}, True))
    for flags, env, coloured in cases:
        result = run(db, "report", "monthly", "--timezone", "UTC", *flags, env_extra=env)
        assert result.returncode == 0 and ("\x1b[" in result.stdout) == coloured, (flags, env)
    both = run(db, "report", "monthly", "--color", "--no-color")
    assert both.returncode == 2


def test_last_keeps_the_current_periods(db, sources):
    """--last N: the current period (today's, in the time zone) and the N - 1 before it."""
    today = datetime.datetime.now(ZoneInfo("Asia/Kathmandu")).date()
    months = [e["period"] for e in report(db, "monthly", "--timezone", "Asia/Kathmandu")["monthly"]]
    this_month = today.replace(day=1)
    previous = (this_month - datetime.timedelta(days=1)).replace(day=1)
    for count, first in ((1, this_month), (2, previous)):
        kept = [e["period"] for e in report(db, "monthly", "--timezone", "Asia/Kathmandu", "--last", str(count))["monthly"]]
        assert kept == [m for m in months if m >= first.strftime("%Y-%m")], count
    days = [e["period"] for e in report(db, "daily", "--timezone", "Asia/Kathmandu")["daily"]]
    everything = report(db, "daily", "--timezone", "Asia/Kathmandu", "--last", "100000")["daily"]
    assert [e["period"] for e in everything] == days
    week_start = today - datetime.timedelta(days=today.weekday())
    this_week = report(db, "weekly", "--timezone", "Asia/Kathmandu", "--last", "1")["weekly"]
    assert all(e["period"] == week_start.isoformat() for e in this_week)
    assert run(db, "report", "daily", "--last", "0").returncode == 2


def test_instances_break_down_by_project(db, sources):
    value = report(db, "monthly", "--instances", "--timezone", "UTC")
    reported: dict = {}
    for entry in value["monthly"]:
        assert entry["projects"] == sorted(b["project"] for b in entry["projectBreakdowns"])
        for breakdown in entry["projectBreakdowns"]:
            sums = reported.setdefault(breakdown["project"], [0, 0, 0, 0])
            for i, field in enumerate(TOKEN_FIELDS):
                sums[i] += breakdown[field]
    rows = db.admin.execute(
        """select p.name, sum(m.input_tokens), sum(m.output_tokens), sum(m.cache_creation_tokens),
                  sum(m.cache_read_tokens)
           from cco.messages m join cco.projects p on p.id = m.project_id
           where m.token_count > 0 group by p.name""").fetchall()
    assert reported == {name: [int(v) for v in values] for name, *values in rows}
    assert run(db, "report", "daily", "--instances", "--team").returncode == 2


def without_costs(value):
    """The JSON with every cost field left out, computed here."""
    if isinstance(value, dict):
        return {k: without_costs(v) for k, v in value.items() if k not in ("totalCost", "cost", "costUSD", "costPerHour")}
    if isinstance(value, list):
        return [without_costs(v) for v in value]
    return value


def steady(value):
    """A report's JSON without what moves with the clock: the active block's burn rate and projection
    (its minutes left and the rate change from one run to the next)."""
    value = json.loads(json.dumps(value))
    for block in value.get("blocks", []):
        if block["isActive"]:
            block["burnRate"] = block["projection"] = None
    return value


def json_keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from json_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from json_keys(inner)


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "session", "blocks"])
def test_no_cost_leaves_money_out(db, sources, kind):
    full = steady(report(db, kind, "--timezone", "UTC", "--breakdown"))
    plain = steady(report(db, kind, "--timezone", "UTC", "--breakdown", "--no-cost"))
    assert plain == without_costs(full) and plain != full
    assert not any("cost" in key.lower() for key in json_keys(plain))
    text = run(db, "report", kind, "--timezone", "UTC", "--no-cost", env_extra={"COLUMNS": "200"})
    assert text.returncode == 0 and "$" not in text.stdout and "Cost" not in text.stdout
    assert "Total" in text.stdout


def test_ccusage_flags_without_meaning_in_cco_change_nothing(db, sources):
    """--mode, --debug, --debug-samples, --single-thread, --all, --by-agent, --no-offline: accepted,
    the report is the same."""
    for kind in ("daily", "session", "blocks"):
        plain = steady(report(db, kind, "--timezone", "UTC"))
        for flags in (("--mode", "calculate"), ("-m", "display"), ("--mode",), ("--debug", "--debug-samples", "3"),
                      ("-d",), ("--single-thread",), ("--all",), ("--by-agent",), ("--offline", "--no-offline")):
            assert steady(report(db, kind, "--timezone", "UTC", *flags)) == plain, (kind, flags)
    assert steady(report(db, "blocks", "--timezone", "UTC", "--session-length", "5")) == \
        steady(report(db, "blocks", "--timezone", "UTC"))
    wrong = run(db, "report", "blocks", "--session-length", "3")
    assert wrong.returncode == 2 and "5 hours long" in wrong.stderr
    for args in (("daily", "--active"), ("session", "--recent"), ("daily", "--id", SESSION),
                 ("daily", "--project-aliases", "a=b"), ("daily", "--mode", "exact")):
        assert run(db, "report", *args).returncode == 2, args


def test_session_id_keeps_that_session(db, sources):
    sessions = report(db, "session", "--timezone", "UTC")["session"]
    assert len(sessions) > 1
    for entry in sessions:
        only = report(db, "session", "--timezone", "UTC", "--id", entry["sessionId"])
        assert only["session"] == [entry]
        assert report(db, "session", "--timezone", "UTC", "-i", entry["sessionId"]) == only  # ccusage's short form
        assert only["totals"]["totalTokens"] == entry["totalTokens"]
    assert report(db, "session", "--id", "no-such-session")["session"] == []


def test_blocks_active_and_recent(db, sources):
    blocks = steady(report(db, "blocks", "--timezone", "UTC"))["blocks"]
    active = steady(report(db, "blocks", "--timezone", "UTC", "--active"))["blocks"]
    assert active == [b for b in blocks if b["isActive"]] and len(active) == 1  # loaded by an earlier test
    cutoff = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    recent = steady(report(db, "blocks", "--timezone", "UTC", "--recent"))["blocks"]
    assert recent == [b for b in blocks if b["isActive"] or b["startTime"] >= cutoff]
    assert len(recent) < len(blocks)  # the fixtures' blocks are older than 3 days


def test_project_aliases_rename_the_projects_of_instances(db, sources):
    plain = report(db, "monthly", "--instances", "--timezone", "UTC")
    names = sorted({b["project"] for e in plain["monthly"] for b in e["projectBreakdowns"]})
    assert len(names) >= 2
    aliases = {names[0]: "First Alias", names[1]: "Second"}
    aliased = report(db, "monthly", "--instances", "--timezone", "UTC", "--project-aliases",
                     ",".join(f"{name}={alias}" for name, alias in aliases.items()))
    renamed = json.loads(json.dumps(plain))
    for entry in renamed["monthly"]:
        for breakdown in entry["projectBreakdowns"]:
            breakdown["project"] = aliases.get(breakdown["project"], breakdown["project"])
        entry["projects"] = sorted(b["project"] for b in entry["projectBreakdowns"])
    assert [e["projects"] for e in aliased["monthly"]] == [e["projects"] for e in renamed["monthly"]]
    assert aliased == renamed
    text = run(db, "report", "monthly", "--instances", "--timezone", "UTC", "--project-aliases", f"{names[0]}=First Alias")
    assert text.returncode == 0 and "First Alias" in text.stdout
    wrong = run(db, "report", "monthly", "--instances", "--project-aliases", "nothing")
    assert wrong.returncode == 2 and "is not `name=alias`" in wrong.stderr


def test_config_names_the_configuration_file(db, sources, tmp_path):
    config = tmp_path / "named-config"
    config.write_text("timezone = Asia/Kathmandu\n", encoding="utf-8")
    named = run(db, "--config", str(config), "report", "daily", "--project", EDGES_PROJECT, "--json")
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout) == report(db, "daily", "--project", EDGES_PROJECT, "--timezone", "Asia/Kathmandu")
    after = run(db, "report", "daily", "--project", EDGES_PROJECT, "--json", "--config", str(config))
    assert after.stdout == named.stdout
    missing = run(db, "report", "daily", "--config", str(tmp_path / "missing"))
    assert missing.returncode == 5 and "missing" in missing.stderr


def test_token_limit_judges_the_active_blocks_projection(db, sources):
    """blocks --token-limit N|max: ccusage's tokenLimitStatus on the active block, computed here from
    the report's own projection (the active block is the one test_the_active_block_... loaded)."""
    plain = report(db, "blocks", "--timezone", "UTC")["blocks"]
    most = max(b["totalTokens"] for b in plain if not b["isActive"] and not b["isGap"])
    for flag, limit in (("100", 100), ("1000000000", 1_000_000_000), ("max", most)):
        blocks = report(db, "blocks", "--timezone", "UTC", "--token-limit", flag)["blocks"]
        active = [b for b in blocks if b["isActive"]]
        assert len(active) == 1 and all("tokenLimitStatus" not in b for b in blocks if not b["isActive"])
        status = active[0]["tokenLimitStatus"]
        projected = active[0]["projection"]["totalTokens"]
        assert (status["limit"], status["projectedUsage"]) == (limit, projected)
        assert status["percentUsed"] == pytest.approx(projected * 100 / limit)
        expected = "exceeds" if projected > limit else "warning" if projected * 100 / limit > 80 else "ok"
        assert status["status"] == expected
    text = run(db, "report", "blocks", "--timezone", "UTC", "--token-limit", "100")
    assert text.returncode == 0 and "Token limit: 100 tokens, projected" in text.stdout and "EXCEEDS LIMIT" in text.stdout
    for args in (("blocks", "--token-limit", "lots"), ("daily", "--token-limit", "100")):
        assert run(db, "report", *args).returncode == 2, args


def test_sections_give_several_reports_from_one_command(db, sources):
    """--sections (ccusage 20): each report's list under its name, the totals once; the text is each
    report's table under its name."""
    merged = report(db, "daily", "--timezone", "UTC", "--sections", "daily,monthly,session")
    alone = {kind: report(db, kind, "--timezone", "UTC") for kind in ("daily", "monthly", "session")}
    assert list(merged) == ["daily", "monthly", "session", "totals"]
    for kind, value in alone.items():
        assert merged[kind] == value[kind]
        assert value["totals"]["totalTokens"] == merged["totals"]["totalTokens"]
    assert merged["totals"] == alone["daily"]["totals"]
    weekly = report(db, "weekly", "--timezone", "UTC", "-w", "sunday", "--sections", "weekly")
    assert weekly == report(db, "weekly", "--timezone", "UTC", "--start-of-week", "sunday")
    text = run(db, "report", "monthly", "--timezone", "UTC", "--sections", "monthly,daily")
    tables = [run(db, "report", kind, "--timezone", "UTC").stdout for kind in ("monthly", "daily")]
    assert text.returncode == 0 and text.stdout == f"Monthly\n{tables[0]}\nDaily\n{tables[1]}"
    for args in (("daily", "--sections", "daily,blocks"), ("blocks", "--sections", "daily")):
        wrong = run(db, "report", *args)
        assert wrong.returncode == 2 and "section" in wrong.stderr, args
