"""`cco report --team`, `--chart` and `heatmap`: team totals per member over the projects a login
can read, charts and the heat map as text (golden files), the heat map's counts from the raw JSONL."""

from __future__ import annotations

import datetime
import json
import os
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from conftest import scalar
from test_costs import synthetic_texts
from test_report import TOKEN_FIELDS, assert_golden, report, run

ALICE, BOB = "11111111-aaaa-4aaa-8aaa-111111111111", "22222222-bbbb-4bbb-8bbb-222222222222"
PASSWORD = "team-login-password"


@pytest.fixture(scope="module")
def team(db, fixtures_dir, tmp_path_factory):
    """Alice loads the synthetic transcripts, Bob the shared fixtures, each with their own login."""
    logins = {}
    for name, user_id in (("alice", ALICE), ("bob", BOB)):
        login = f"{db.name}_{name}"[-63:]
        db.admin.execute(f'drop role if exists "{login}"')
        db.admin.execute(f"create role \"{login}\" login password '{PASSWORD}'")
        db.admin.execute(f'select cco.grant_api_access(\'"{login}"\'::regrole)')
        db.admin.execute("insert into cco.user_logins (login, user_id) values (%s, %s)", [login, user_id])
        logins[name] = {"PGUSER": login, "PGPASSWORD": PASSWORD}
    folder = tmp_path_factory.mktemp("alice") / "-work-costs-project"
    folder.mkdir()
    texts = synthetic_texts()
    for file_name, text in texts.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    assert run(db, "load", "--dir", str(folder.parent), "--quiet", env_extra=logins["alice"]).returncode == 0
    assert run(db, "load", "--dir", os.path.dirname(fixtures_dir), "--quiet", env_extra=logins["bob"]).returncode == 0
    yield logins, texts
    for name in ("alice", "bob"):
        login = logins[name]["PGUSER"]
        db.admin.execute("delete from cco.user_logins where login = %s", [login])
        db.admin.execute(f'drop owned by "{login}"')
        db.admin.execute(f'drop role "{login}"')


def member_totals(db, user_id) -> list[int]:
    row = db.admin.execute(
        """select sum(m.input_tokens), sum(m.output_tokens), sum(m.cache_creation_tokens), sum(m.cache_read_tokens)
           from cco.messages m join cco.conversations c on c.id = m.conversation_id
           where m.token_count > 0 and c.created_by = %s""", [user_id]).fetchone()
    return [int(v) for v in row]


def members(value) -> dict:
    found: dict = {}
    for entry in value["monthly"]:
        for breakdown in entry["memberBreakdowns"]:
            sums = found.setdefault(breakdown["member"], [0, 0, 0, 0])
            for i, field in enumerate(TOKEN_FIELDS):
                sums[i] += breakdown[field]
    return found


def test_team_totals_per_member_over_the_readable_projects(db, team):
    logins, _ = team
    alice, bob = logins["alice"]["PGUSER"], logins["bob"]["PGUSER"]
    everyone = report(db, "monthly", "--team", "--timezone", "UTC")  # the superuser reads every project
    assert members(everyone) == {alice: member_totals(db, ALICE), bob: member_totals(db, BOB)}
    # Bob reads his own project only, and sees his own name (his login may read its own mapping)
    as_bob = run(db, "report", "monthly", "--team", "--json", "--timezone", "UTC", env_extra=logins["bob"])
    assert as_bob.returncode == 0, as_bob.stderr
    assert members(json.loads(as_bob.stdout)) == {bob: member_totals(db, BOB)}
    # Alice shares her project with Bob: his team report now has her, under her user id
    project = scalar(db.admin, "select id from cco.projects where owner_id = %s", [ALICE])
    db.admin.execute("insert into cco.project_members (project_id, user_id, role) values (%s, %s, 'viewer')",
                     [project, BOB])
    shared = json.loads(run(db, "report", "monthly", "--team", "--json", "--timezone", "UTC",
                            env_extra=logins["bob"]).stdout)
    assert members(shared) == {bob: member_totals(db, BOB), ALICE: member_totals(db, ALICE)}
    text = run(db, "report", "monthly", "--team", "--breakdown", "--timezone", "UTC",
               env_extra={**logins["bob"], "COLUMNS": "200"})
    assert "Members" in text.stdout and f"└─ {bob}" in text.stdout


def test_the_heatmap_counts_every_message_by_weekday_and_hour(db, team, fixtures_dir):
    _, texts = team
    zone = ZoneInfo("Asia/Kathmandu")
    expected: Counter = Counter()
    for folder_texts in (texts, {name: open(os.path.join(fixtures_dir, name), encoding="utf-8").read()
                                 for name in os.listdir(fixtures_dir) if name.endswith(".jsonl")}):
        for text in folder_texts.values():
            for raw in text.splitlines():
                line = json.loads(raw)
                if "uuid" in line and "timestamp" in line:
                    at = datetime.datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).astimezone(zone)
                    expected[(at.isoweekday(), at.hour)] += 1
    total = scalar(db.admin, "select count(*) from cco.messages")
    assert sum(expected.values()) == total
    cells = report(db, "heatmap", "--timezone", "Asia/Kathmandu")["heatmap"]
    assert {(c["weekday"], c["hour"]): c["messages"] for c in cells} == dict(expected)


@pytest.mark.parametrize("name, args", [
    ("daily-chart", ("report", "daily", "--chart", "--project", "/work/costs-project")),
    ("heatmap", ("report", "heatmap")),
])
def test_pictures_equal_the_golden_files(db, team, name, args):
    result = run(db, *args, "--timezone", "Asia/Kathmandu")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert_golden(result.stdout, f"report-{name}")


def test_charts_and_team_only_where_they_apply(db, team):
    for args in (("session", "--chart"), ("blocks", "--team")):
        result = run(db, "report", *args)
        assert result.returncode == 2 and "apply to the daily, weekly and monthly reports" in result.stderr
