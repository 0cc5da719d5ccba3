"""`cco statusline` and `cco hook`, fed the JSON Claude Code sends (recorded under golden/)."""

from __future__ import annotations

import datetime
import json
import os
import re

from conftest import scalar
from test_costs import assistant, usage, user
from test_report import GOLDEN, run

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "claude-projects", "-home-dev-shop",
                      "5b0c7a52-1d3e-4f6a-9b21-7c4e8d2f9a10.jsonl")
COST = """coalesce(sum(cco.usage_cost(m.model, m."timestamp", m.input_tokens, m.output_tokens,
              m.cache_creation_tokens, m.cache_read_tokens, m.cache_creation_1h_tokens,
              m.web_search_requests, m.web_fetch_requests, m.speed, m.service_tier)), 0)::float8"""


def recorded(name: str) -> str:
    with open(os.path.join(GOLDEN, name), encoding="utf-8") as recording:
        return recording.read()


def run_with_input(db, stdin: str, *args, env_extra=None):
    return run(db, *args, env_extra=env_extra, stdin=stdin)


def dollars(value: float) -> str:
    return f"${value:,.2f}"


def test_the_statusline_shows_session_today_and_the_active_block(db, fixtures_dir, tmp_path):
    assert run(db, "load", "--dir", os.path.dirname(fixtures_dir), "--quiet").returncode == 0
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = lambda minutes: (now - datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    session = "44444444-0000-0000-0000-000000000001"
    lines = [user("t0", None, session, stamp(50), "Now"),
             assistant("t1", "t0", session, stamp(40), "claude-sonnet-4-5-20250929", "msg_t1", "req_t1", "a",
                       usage(10000, 1000, cache_read=50000)),
             assistant("t2", "t1", session, stamp(20), "claude-opus-4-5-20251101", "msg_t2", "req_t2", "b",
                       usage(20000, 2000))]
    folder = tmp_path / "-work-now"
    folder.mkdir()
    (folder / f"{session}.jsonl").write_text("".join(json.dumps(dict(l, cwd="/work/now")) + "\n" for l in lines))
    assert run(db, "load", "--dir", str(tmp_path), "--quiet").returncode == 0

    result = run_with_input(db, recorded("statusline-input.json"), "statusline", "--timezone", "UTC")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\n") == 1
    session_cost = scalar(db.admin, f"""select {COST} from cco.messages m join cco.conversations c
        on c.id = m.conversation_id where c.session_id = 'b3edadab-bca0-4054-9b41-f7ffa6941260'""")
    today = scalar(db.admin, f"""select {COST} from cco.messages m
        where m."timestamp" >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'""")
    block = scalar(db.admin, f"""select {COST} from cco.messages m join cco.conversations c
        on c.id = m.conversation_id where c.session_id = '{session}'""")
    assert session_cost > 0.4 and block > 0
    match = re.fullmatch(r"🤖 Opus 4\.5 \| 💰 (\S+) session / (\S+) today / (\S+) block \((\d+)h (\d\d)m left\) \| 🔥 (\S+)/hr\n",
                         result.stdout)
    assert match, result.stdout
    assert match.group(1) == dollars(session_cost)
    assert match.group(2) == dollars(today)
    assert match.group(3) == dollars(block)
    left = int(match.group(4)) * 60 + int(match.group(5))
    assert 0 < left <= 300
    # the block started at the hour of its first response, 40 minutes ago
    started = (now - datetime.timedelta(minutes=40)).replace(minute=0, second=0, microsecond=0)
    expected_left = (started + datetime.timedelta(hours=5) - now).total_seconds() / 60
    assert abs(left - expected_left) <= 1.5


def test_the_statusline_says_what_is_wrong_on_its_line(db):
    bad = run_with_input(db, "not json", "statusline")
    assert bad.returncode == 5 and bad.stdout.startswith("cco: the standard input is not")
    unreachable = run_with_input(db, recorded("statusline-input.json"), "statusline", env_extra={"PGPORT": "1"})
    assert unreachable.returncode == 3 and unreachable.stdout.startswith("cco: cannot connect")


def uuid_lines(text: str) -> int:
    count = 0
    for raw in text.splitlines(keepends=True):
        try:
            if raw.endswith("\n") and "uuid" in json.loads(raw):
                count += 1
        except ValueError:
            pass
    return count


def test_the_hook_loads_a_growing_transcript_once(db, tmp_path):
    with open(SAMPLE, encoding="utf-8") as source:
        text = source.read()
    folder = tmp_path / "-home-dev-hooked"
    folder.mkdir()
    transcript = folder / "5b0c7a52-1d3e-4f6a-9b21-7c4e8d2f9a10.jsonl"
    hook_input = recorded("hook-stop-input.json").replace("TRANSCRIPT", str(transcript))
    messages = f"select count(*) from cco.messages m join cco.conversations c on c.id = m.conversation_id " \
               f"where c.file_path = '{transcript}'"
    # Chunks as Claude Code writes them, the cuts falling inside lines.
    cuts = [len(text) // 3, len(text) // 3 + 17, 2 * len(text) // 3, len(text)]
    for cut in cuts:
        transcript.write_text(text[:cut], encoding="utf-8")
        for _ in range(2):  # a hook that fires twice loads nothing twice
            result = run_with_input(db, hook_input, "hook")
            assert result.returncode == 0, result.stdout + result.stderr
            assert result.stdout == ""
            assert scalar(db.admin, messages) == uuid_lines(text[:cut])
    assert scalar(db.admin, messages) == uuid_lines(text) == 17
    for event in ("SubagentStop", "SessionEnd"):
        again = run_with_input(db, hook_input.replace('"Stop"', f'"{event}"'), "hook")
        assert again.returncode == 0 and scalar(db.admin, messages) == 17


def test_the_hook_never_exits_with_2(db, tmp_path):
    """Claude Code reads 2 from a Stop hook as 'do not stop'."""
    missing = run_with_input(db, '{"session_id": "s"}', "hook")
    assert missing.returncode == 5 and "no transcript_path" in missing.stderr
    gone = run_with_input(db, json.dumps({"transcript_path": str(tmp_path / "gone.jsonl")}), "hook")
    assert gone.returncode == 5 and "cannot read" in gone.stderr
    user_id = run_with_input(db, recorded("hook-stop-input.json").replace("TRANSCRIPT", SAMPLE), "hook",
                             "--user-id", "not-a-uuid")
    assert user_id.returncode not in (0, 2)
    bad_flag = run_with_input(db, "{}", "--dsn", "host=/nowhere", "hook", "--bogus")
    assert bad_flag.returncode == 1 and "unexpected argument '--bogus'" in bad_flag.stderr
    elsewhere = run(db, "report", "--bogus")
    assert elsewhere.returncode == 2


def test_the_statusline_accepts_ccusage_flags(db):
    """ccusage 20's statusline flags, accepted so that a settings.json written for ccusage works: the
    line is the same as without them."""
    plain = run_with_input(db, recorded("statusline-input.json"), "statusline", "--timezone", "UTC")
    flagged = run_with_input(db, recorded("statusline-input.json"), "statusline", "--timezone", "UTC",
                             "--offline", "--no-offline", "-B", "emoji-text", "--cost-source", "both", "--cache",
                             "--no-cache", "--refresh-interval", "5", "--context-low-threshold", "40",
                             "--context-medium-threshold", "70", "--debug")
    assert flagged.returncode == plain.returncode == 0, flagged.stderr
    # The block's time left and burn rate may move between the two runs by a minute: compare the costs.
    assert flagged.stdout.split("|")[:2] == plain.stdout.split("|")[:2]
    wrong = run_with_input(db, recorded("statusline-input.json"), "statusline", "--cost-source", "guess")
    assert wrong.returncode == 2
