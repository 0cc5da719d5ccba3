"""Analytics views, aggregates and summaries, checked against straightforward SQL or Python on a
corpus of real transcripts plus recent synthetic activity, and seen by each kind of caller."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import uuid
from decimal import Decimal

import psycopg
import pytest

from conftest import new_id, request, scalar

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SAMPLE = os.path.join(ROOT, "examples", "claude-projects", "-home-dev-shop")
IDLE = dt.timedelta(minutes=30)


@pytest.fixture(scope="module")
def world(db, fixtures_dir):
    """Project A (the sample, owner O, viewer V, plus recent synthetic activity), project B (the
    real fixtures, owner S)."""
    owner, viewer, stranger = new_id(), new_id(), new_id()
    api = db.connect_api()

    def load(user, folder, name):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            text = handle.read()
        path = f"/home/{user}/.claude/projects/{os.path.basename(folder)}/{name}"
        with request(api, user):
            return scalar(api, "select cco.ingest_transcript(%s, %s)", [text, path])

    for name in sorted(os.listdir(SAMPLE)):
        a = uuid.UUID(load(owner, SAMPLE, name)["project_id"])
    for name in sorted(os.listdir(fixtures_dir)):
        if name.endswith(".jsonl"):
            load(stranger, fixtures_dir, name)
    b = scalar(db.admin, "select id from cco.projects where owner_id = %s", [stranger])
    with request(api, owner):
        api.execute("insert into cco.project_members (project_id, user_id, role) values (%s, %s, 'viewer')", [a, viewer])
        recent = scalar(api, "insert into cco.conversations (project_id, title) values (%s, 'recent work') returning id", [a])
        rng = random.Random(7)
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        parent = None
        for step in range(60):
            at = now - dt.timedelta(hours=3 * 24) + dt.timedelta(minutes=step * rng.choice([2, 3, 5, 50]))
            role = "assistant" if step % 2 else "user"
            parent = scalar(api,
                "insert into cco.messages (conversation_id, role, content, \"timestamp\", parent_id, model, "
                "input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, token_count) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
                [recent, role, f"step {step} of the refactor", at, parent,
                 "claude-sonnet-4-5-20250929" if role == "assistant" else None,
                 *( [10, 100 + step, 500, 4000] if role == "assistant" else [0, 0, 0, 0]),
                 4610 + step if role == "assistant" else 0])
            if role == "assistant" and step % 3 == 1:
                status = rng.choice(["success", "success", "error", "timeout"])
                api.execute(
                    "insert into cco.tool_calls (message_id, tool_name, status, started_at, completed_at, execution_time_ms) "
                    "values (%s, %s, %s, %s, %s, %s)",
                    [parent, rng.choice(["Bash", "Read"]), status, at, at + dt.timedelta(milliseconds=step * 37),
                     step * 37])
    return {"api": api, "a": a, "b": b, "owner": owner, "viewer": viewer, "stranger": stranger}


def as_user(api, user, query, params=None):
    with contextlib.suppress(psycopg.Rollback):
        with request(api, user, claims=None if user else {"role": "anon"}, role="authenticated" if user else "anon"):
            rows = api.execute(query, params).fetchall()
            raise psycopg.Rollback()
    return rows


def test_conversation_analytics_matches_direct_counts(db, world):
    admin = db.admin
    for conversation, in admin.execute("select id from cco.conversations").fetchall():
        view = admin.execute(
            "select user_messages, assistant_messages, system_messages, max_content_length, total_tokens, "
            "first_message_at, last_message_at, duration, active_minutes, tool_calls, failed_tool_calls, "
            "root_messages, max_depth, distinct_tools from cco.conversation_analytics where conversation_id = %s",
            [conversation]).fetchone()
        messages = admin.execute(
            "select role, char_length(content), \"timestamp\", parent_id, depth, "
            "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens "
            "from cco.messages where conversation_id = %s", [conversation]).fetchall()
        tools = admin.execute("select tool_name, status from cco.tool_calls where conversation_id = %s", [conversation]).fetchall()
        times = sorted(m[2] for m in messages)
        active = sum(((b - a) for a, b in zip(times, times[1:]) if b - a <= IDLE), dt.timedelta())
        expected = (
            sum(m[0] == "user" for m in messages), sum(m[0] == "assistant" for m in messages),
            sum(m[0] == "system" for m in messages), max((m[1] for m in messages), default=None),
            sum(m[5] for m in messages), times[0] if times else None, times[-1] if times else None,
            (times[-1] - times[0]) if times else None,
            Decimal(str(round(active.total_seconds() / 60, 1))) if times else None,
            len(tools), sum(t[1] in ("error", "timeout") for t in tools),
            sum(m[3] is None for m in messages), max((m[4] for m in messages), default=None),
            len({t[0] for t in tools}),
        )
        assert tuple(view) == expected, conversation


# What cco.conversation_analytics reports of messages and tool calls, with built-in aggregates.
BUILT_IN_CONVERSATION_FIGURES = """
select c.id, m.users, m.assistants, m.systems, m.avg_length, m.max_length, m.first_at, m.last_at,
       m.active, m.roots, m.max_depth, m.avg_depth, m.cost,
       t.tools, t.calls, t.successes, t.failures, t.avg_ms
from cco.conversations c
left join (
    select conversation_id,
           count(*) filter (where role = 'user') as users,
           count(*) filter (where role = 'assistant') as assistants,
           count(*) filter (where role = 'system') as systems,
           round(avg(content_length), 1) as avg_length, max(content_length) as max_length,
           min("timestamp") as first_at, max("timestamp") as last_at,
           round((extract(epoch from cco.active_time("timestamp")) / 60)::numeric, 1) as active,
           count(*) filter (where parent_id is null) as roots, max(depth) as max_depth,
           round(avg(depth), 2) as avg_depth,
           round(sum(cco.response_cost(model, "timestamp", input_tokens, output_tokens,
                                       cache_creation_tokens, cache_read_tokens, cache_creation_1h_tokens,
                                       web_search_requests, web_fetch_requests, speed, service_tier))
                 filter (where token_count > 0)::numeric, 6) as cost
    from cco.messages group by conversation_id) m on m.conversation_id = c.id
left join (
    select conversation_id, count(distinct tool_name) as tools, count(*) as calls,
           count(*) filter (where status = 'success') as successes,
           count(*) filter (where status in ('error', 'timeout')) as failures,
           round(avg(execution_time_ms), 1) as avg_ms
    from cco.tool_calls group by conversation_id) t on t.conversation_id = c.id
order by c.id
"""

VIEW_CONVERSATION_FIGURES = """
select conversation_id, user_messages, assistant_messages, system_messages, avg_content_length,
       max_content_length, first_message_at, last_message_at, active_minutes, root_messages,
       max_depth, avg_depth, cost, distinct_tools, tool_calls, successful_tool_calls,
       failed_tool_calls, avg_tool_ms
from cco.conversation_analytics order by conversation_id
"""


def test_conversation_analytics_equals_built_in_aggregates(db, world):
    expected = [tuple(0 if value is None and i in (1, 2, 3, 9, 13, 14, 15, 16) else value
                      for i, value in enumerate(row))
                for row in db.admin.execute(BUILT_IN_CONVERSATION_FIGURES).fetchall()]
    assert any(row[12] is not None for row in expected) and any(row[17] is not None for row in expected)
    assert [tuple(row) for row in db.admin.execute(VIEW_CONVERSATION_FIGURES).fetchall()] == expected


def test_summaries_merge_partial_states_in_parallel_plans(db):
    admin = db.admin
    admin.execute(
        "create table if not exists summary_sample as "
        "select g % 97 as grp, (array['user', 'assistant', 'system'])[1 + g % 3] as role, "
        "       1 + (g * 7919) % 5000 as content_length, "
        "       timestamptz '2026-01-01' + (g * interval '37 seconds') + ((g % 11) * interval '40 minutes') as at, "
        "       g % 5 = 0 as root, (g * 31) % 9 as depth, "
        "       (array['claude-sonnet-4-5', 'claude-haiku-4-5', null])[1 + g % 3] as model, "
        "       g % 1000 as tokens, (array['Read', 'Edit', 'Bash', 'Grep'])[1 + (g * 13) % 4] as tool, "
        "       (array['success', 'error', 'timeout', 'pending'])[1 + (g * 7) % 4] as status, "
        "       case when g % 10 = 0 then null else (g * 17) % 60000 end::bigint as ms "
        "from generate_series(1, 200000) g")
    admin.execute("analyze summary_sample")
    query = ("select grp, (cco.summarize_messages(role, content_length, at, root, depth, model, tokens, tokens, "
             "tokens, tokens, tokens, tokens / 2, tokens % 3, tokens % 2, null, null))::text, "
             "(cco.summarize_tool_calls(tool, status, ms))::text "
             "from summary_sample group by grp order by grp")
    built_in = admin.execute(
        "select grp, count(*), count(*) filter (where role = 'user'), count(*) filter (where role = 'assistant'), "
        "sum(content_length), max(content_length), min(at), max(at), cco.active_time(at), "
        "count(*) filter (where root), sum(depth), max(depth), "
        "count(distinct tool), count(*) filter (where status = 'success'), "
        "count(*) filter (where status in ('error', 'timeout')), sum(ms), count(ms) "
        "from summary_sample group by grp order by grp").fetchall()
    results = []
    for parallel in (False, True):
        with admin.transaction():
            plan_in_parallel(admin, parallel)
            plan = json.dumps(admin.execute(f"explain (format json) {query}").fetchone()[0])
            assert ('"Partial Mode": "Partial"' in plan) == parallel
            results.append(admin.execute(
                f"select grp, (m::cco.message_summary).*, (t::cco.tool_call_summary).* from ({query}) s(grp, m, t)"
            ).fetchall())
    serial, parallel = results
    for summaries in (serial, parallel):
        for row, exact in zip(summaries, built_in, strict=True):
            grp, messages, users, assistants, length_sum, length_count, max_length, first, last, active, \
                roots, depth_sum, depth_count, max_depth, cost, calls, successes, failures, tools, ms_sum, ms_count = row
            assert (grp, messages, users, assistants, length_sum, max_length, first, last, active, roots,
                    depth_sum, max_depth, tools, successes, failures, ms_sum, ms_count) == tuple(exact)
            assert length_count == depth_count == calls == messages and cost > 0
    # partial states merge to what one pass gives (costs to the rounding of a sum's order)
    assert [row[:14] + row[15:] for row in serial] == [row[:14] + row[15:] for row in parallel]
    assert all(abs(a[14] - b[14]) <= 1e-9 * a[14] for a, b in zip(serial, parallel))


def test_summaries_of_no_rows_and_of_null_columns(db):
    empty = db.admin.execute(
        "select cco.summarize_messages(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)::text, "
        "cco.summarize_tool_calls(null, null, null)::text from (select where false) nothing").fetchone()
    assert empty == ("(0,0,0,0,0,,,,,0,0,0,,)", "(0,0,0,0,0,0)")
    nulls = db.admin.execute(
        "select cco.summarize_messages(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)::text, "
        "cco.summarize_tool_calls(null, null, null)::text").fetchone()
    assert nulls == ("(1,0,0,0,0,,,,00:00:00,0,0,0,,)", "(1,0,0,0,0,0)")


def price(model, day):
    table = {"claude-sonnet-4-5": (3, 15, 3.75, 0.30), "claude-haiku-4-5": (1, 5, 1.25, 0.10),
             "claude-opus-4-5": (5, 25, 6.25, 0.50)}
    for prefix, prices in table.items():
        if model and model.startswith(prefix):
            return prices
    return None


def test_token_usage_daily_and_cost_match_a_direct_computation(db, world):
    rows = db.admin.execute(
        "select date_trunc('day', \"timestamp\"), project_id, model, input_tokens, output_tokens, "
        "cache_creation_tokens, cache_read_tokens from cco.messages where token_count > 0").fetchall()
    expected = {}
    for day, project, model, *tokens in rows:
        entry = expected.setdefault((day, project, model), [0, 0, 0, 0, 0])
        entry[0] += 1
        for index in range(4):
            entry[index + 1] += tokens[index]
    view = {(d, p, m): (r, i, o, w, c, cost) for d, p, m, r, i, o, w, c, cost in db.admin.execute(
        "select day, project_id, model, responses, input_tokens, output_tokens, cache_creation_tokens, "
        "cache_read_tokens, cost from cco.token_usage_daily").fetchall()}
    assert set(view) == set(expected)
    for key, (responses, *tokens) in expected.items():
        assert view[key][:5] == (responses, *tokens)
        prices = price(key[2], key[0])
        if prices is None:
            assert view[key][5] is None, key
        else:
            cost = sum(t * p for t, p in zip(tokens, prices)) / 1_000_000
            assert abs(float(view[key][5]) - cost) < 1e-5, key


def test_tool_analytics_matches_exact_statistics(db, world):
    admin = db.admin
    for name, executions, successes, failures, timeouts, rate, avg_ms, median, p95, low, high, conversations in admin.execute(
            "select tool_name, executions, successes, failures, timeouts, success_rate, avg_ms, median_ms, p95_ms, "
            "min_ms, max_ms, conversations from cco.tool_analytics").fetchall():
        exact = admin.execute(
            "select count(*), count(*) filter (where status = 'success'), count(*) filter (where status = 'error'), "
            "count(*) filter (where status = 'timeout'), avg(execution_time_ms), "
            "percentile_disc(0.5) within group (order by execution_time_ms), "
            "percentile_disc(0.95) within group (order by execution_time_ms), min(execution_time_ms), "
            "max(execution_time_ms), count(distinct conversation_id) from cco.tool_calls where tool_name = %s",
            [name]).fetchone()
        assert (executions, successes, failures, timeouts) == exact[:4]
        finished = successes + failures + timeouts
        assert rate == (round(Decimal(100 * successes) / finished, 1) if finished else None)
        if exact[4] is not None:
            assert abs(float(avg_ms) - float(exact[4])) <= 0.05
            for estimate, truth in ((median, exact[5]), (p95, exact[6])):
                assert abs(float(estimate) - truth) <= 0.01 * truth + 0.05, (name, estimate, truth)
            assert (low, high) == (exact[7], exact[8])
        assert conversations == exact[9]


def plan_in_parallel(admin, parallel):
    """For the current transaction: plan aggregates in parallel wherever possible, or never."""
    if parallel:
        for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0",
                        "min_parallel_table_scan_size = 0", "max_parallel_workers_per_gather = 2"):
            admin.execute(f"set local {setting}")
    else:
        admin.execute("set local max_parallel_workers_per_gather = 0")


def test_latency_summary_agrees_with_percentile_disc_in_serial_and_parallel_plans(db):
    admin = db.admin
    admin.execute("create table if not exists latency_sample as "
                  "select (exp(random() * 12))::double precision as ms from generate_series(1, 200000)")
    admin.execute("analyze latency_sample")
    exact = admin.execute(
        "select count(*), min(ms), max(ms), avg(ms), "
        "percentile_disc(array[0.5, 0.9, 0.95, 0.99]) within group (order by ms) from latency_sample").fetchone()
    results = []
    for parallel in (False, True):
        with admin.transaction():
            plan_in_parallel(admin, parallel)
            plan = json.dumps(admin.execute(
                "explain (format json) select cco.latency_summary(ms) from latency_sample").fetchone()[0])
            assert ('"Partial Mode": "Partial"' in plan) == parallel
            results.append(admin.execute(
                "select (s).count, (s).min, (s).max, (s).mean, (s).p50, (s).p90, (s).p95, (s).p99 "
                "from (select cco.latency_summary(ms) as s from latency_sample) x").fetchone())
    serial, parallel = results
    for summary in (serial, parallel):
        assert summary[:3] == exact[:3]
        assert abs(summary[3] - exact[3]) <= 1e-9 * exact[3]
        for estimate, truth in zip(summary[4:], exact[4]):
            assert abs(estimate - truth) <= 0.01 * truth, (estimate, truth)
    assert serial[4:] == parallel[4:]  # merging partial sketches changes nothing


def test_latency_summary_of_whole_milliseconds_equals_the_double_precision_form(db):
    admin = db.admin
    admin.execute("create table if not exists whole_ms_sample as "
                  "select case when g % 97 = 0 then null when g % 89 = 0 then -g "
                  "else (exp(random() * 14))::bigint end as ms from generate_series(1, 200000) g")
    admin.execute("analyze whole_ms_sample")
    for parallel in (False, True):
        with admin.transaction():
            plan_in_parallel(admin, parallel)
            plan = json.dumps(admin.execute(
                "explain (format json, verbose) select cco.latency_summary(ms) from whole_ms_sample").fetchone()[0])
            assert ('"Partial Mode": "Partial"' in plan) == parallel
            assert "double precision" not in plan, "bigint input takes the bigint form, without a cast"
            whole, converted = admin.execute(
                "select cco.latency_summary(ms)::text, cco.latency_summary(ms::double precision)::text "
                "from whole_ms_sample").fetchone()
            assert whole == converted
    assert scalar(admin, "select (cco.latency_summary(ms)).count from whole_ms_sample") == scalar(
        admin, "select count(*) from whole_ms_sample where ms >= 0")


def test_active_time_leaves_out_long_gaps(db):
    rows = db.admin.execute(
        "select cco.active_time(t), cco.active_time(t, interval '2 hours') from (values "
        "(timestamptz '2025-01-01 09:00'), ('2025-01-01 09:20'), ('2025-01-01 10:20'), ('2025-01-02 08:00')) v(t)"
    ).fetchone()
    assert rows == (dt.timedelta(minutes=20), dt.timedelta(minutes=80))
    assert scalar(db.admin, "select cco.active_time(t) from (select null::timestamptz where false) v(t)") is None


def test_daily_and_hourly_activity_cover_recent_messages(db, world):
    daily = db.admin.execute(
        "select day, messages, conversations, tokens from cco.daily_activity where project_id = %s order by day",
        [world["a"]]).fetchall()
    direct = db.admin.execute(
        "select date_trunc('day', \"timestamp\"), count(*), count(distinct conversation_id), "
        "sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens) from cco.messages "
        "where project_id = %s and \"timestamp\" >= date_trunc('day', now()) - interval '89 days' group by 1 order by 1",
        [world["a"]]).fetchall()
    assert daily == direct and len(daily) >= 1
    hourly = scalar(db.admin, "select sum(messages) from cco.hourly_activity where project_id = %s", [world["a"]])
    assert hourly == scalar(db.admin, "select count(*) from cco.messages where project_id = %s "
                                      "and \"timestamp\" >= now() - interval '7 days'", [world["a"]])


def test_user_activity_counts_what_each_member_loaded(db, world):
    rows = {(p, u): (role, c, m) for p, u, role, c, m in db.admin.execute(
        "select project_id, user_id, role, conversations, messages from cco.user_activity_analytics").fetchall()}
    assert rows[(world["a"], world["owner"])][0] == "owner"
    assert rows[(world["a"], world["owner"])][1] == scalar(
        db.admin, "select count(*) from cco.conversations where project_id = %s and created_by = %s", [world["a"], world["owner"]])
    assert rows[(world["a"], world["viewer"])] == ("viewer", 0, 0)


def ccusage_blocks(entries, now, length=dt.timedelta(hours=5)):
    """The ccusage block rules, written again here: (start, entries, tokens, is_gap)."""
    blocks, current, start = [], [], None
    for at, tokens in sorted(entries):
        if current and (at - start > length or at - current[-1][0] > length):
            blocks.append((start, len(current), sum(t for _, t in current), False))
            if at - current[-1][0] > length:
                blocks.append((current[-1][0] + length, 0, 0, True))
            current = []
        if not current:
            start = at.replace(minute=0, second=0, microsecond=0)
        current.append((at, tokens))
    if current:
        blocks.append((start, len(current), sum(t for _, t in current), False))
    return blocks


def test_usage_blocks_follow_the_ccusage_rules(db, world):
    entries = db.admin.execute(
        "select \"timestamp\", input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens "
        "from cco.messages where token_count > 0").fetchall()
    expected = ccusage_blocks(entries, dt.datetime.now(dt.timezone.utc))
    blocks = db.admin.execute(
        "select block_start, entries, total_tokens, is_gap from cco.usage_blocks() order by block_start").fetchall()
    assert [tuple(b) for b in blocks] == sorted(expected)


def test_every_cost_is_its_responses_priced_by_the_price_rule(db):
    """Views and usage blocks price each response in Rust, in the pass that reads it; every cost
    must be the sum of cco.usage_cost over its responses, also under a price that changes part
    way through the corpus and in a time zone whose days start at a quarter hour."""
    admin = db.admin
    priced = ("select count(*), coalesce(sum(cco.usage_cost(model, \"timestamp\", input_tokens, output_tokens, "
              "cache_creation_tokens, cache_read_tokens)), 0) from cco.messages where token_count > 0 and {} = %s")

    def assert_close(cost, key, column):
        responses, expected = admin.execute(priced.format(column), [key]).fetchone()
        # cco.usage_cost rounds each response to a millionth of a dollar; the views round sums.
        assert abs(float(cost or 0) - float(expected)) <= 1e-6 * (responses + 1), (column, key, cost, expected)

    with contextlib.suppress(psycopg.Rollback):
        with admin.transaction():
            admin.execute("set local timezone = 'Asia/Kathmandu'")
            middle = scalar(admin, "select (percentile_disc(0.5) within group (order by \"timestamp\"))::date "
                                   "from cco.messages where token_count > 0 and model like 'claude-sonnet-4-5%%'")
            assert middle is not None
            admin.execute(
                "insert into cco.model_pricing (model, effective_from, input_per_million, output_per_million, "
                "cache_write_per_million, cache_read_per_million) values ('claude-sonnet-4-5', %s, 7, 70, 7, 0.7)",
                [middle])
            conversations = admin.execute("select conversation_id, cost from cco.conversation_analytics").fetchall()
            assert any(cost for _, cost in conversations)
            for conversation, cost in conversations:
                assert_close(cost, conversation, "conversation_id")
            for project, cost in admin.execute("select project_id, cost from cco.project_analytics").fetchall():
                assert_close(cost, project, "project_id")
                blocks = scalar(admin, "select sum(cost) from cco.usage_blocks(array[%s]::uuid[])", [project])
                assert_close(blocks, project, "project_id")
            raise psycopg.Rollback()


def test_usage_blocks_without_prices_still_count_usage(db):
    admin = db.admin
    with contextlib.suppress(psycopg.Rollback):
        with admin.transaction():
            counted = scalar(admin, "select sum(entries) from cco.usage_blocks()")
            admin.execute("delete from cco.model_pricing")
            assert admin.execute("select sum(entries), sum(cost) from cco.usage_blocks()").fetchone() == (counted, 0)
            assert scalar(admin, "select count(cost) from cco.conversation_analytics") == 0
            raise psycopg.Rollback()


class TestVisibility:
    """A viewer of one project sees only that project's numbers in every view and summary."""

    VIEWS = ["conversation_analytics", "project_analytics", "daily_activity", "hourly_activity",
             "user_activity_analytics", "token_usage_daily", "tool_usage_daily", "message_usage",
             "project_usage_blocks", "project_summary"]

    @pytest.mark.parametrize("view", VIEWS)
    def test_each_caller_sees_only_their_projects(self, db, world, view):
        db.admin.execute("select cco.refresh_analytics()")
        column = "project_id"
        everything = {r[0] for r in db.admin.execute(f"select distinct {column} from cco.{view}").fetchall()}
        assert world["a"] in everything
        for user, allowed in ((world["viewer"], {world["a"]}), (world["owner"], {world["a"]}),
                              (world["stranger"], {world["b"]}), (None, set())):
            seen = {r[0] for r in as_user(world["api"], user, f"select distinct {column} from cco.{view}")}
            assert seen <= allowed and seen == (allowed & everything), (view, user)

    def test_tool_analytics_counts_only_visible_calls(self, db, world):
        visible = as_user(world["api"], world["viewer"], "select sum(executions) from cco.tool_analytics")[0][0]
        assert visible == scalar(db.admin, "select count(*) from cco.tool_calls where project_id = %s", [world["a"]])

    def test_usage_blocks_count_only_visible_usage(self, db, world):
        visible = as_user(world["api"], world["viewer"], "select coalesce(sum(entries), 0) from cco.usage_blocks()")[0][0]
        assert visible == scalar(db.admin, "select count(*) from cco.messages where project_id = %s and token_count > 0",
                                 [world["a"]])

    def test_summaries_are_not_readable_directly(self, world):
        for summary in ("project_summary_stats", "search_analytics"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                as_user(world["api"], world["owner"], f"select * from cco.{summary}")

    def test_search_summary_shows_only_own_searches(self, db, world):
        api = world["api"]
        for user in (world["owner"], world["stranger"]):
            with request(api, user):
                api.execute("select cco.log_search_query('handler', 'message', 3, 12)")
        db.admin.execute("select cco.refresh_analytics()")
        for user in (world["owner"], world["stranger"]):
            users = {r[0] for r in as_user(api, user, "select user_id from cco.search_summary")}
            assert users == {user}

    @pytest.mark.parametrize("view", ["table_analytics", "system_performance", "index_usage_stats"])
    def test_operator_views_show_nothing_to_users(self, db, world, view):
        assert as_user(world["api"], world["owner"], f"select count(*) from cco.{view}")[0][0] == 0
        assert scalar(db.admin, f"select count(*) from cco.{view}") > 0

    def test_only_operators_refresh_the_summaries(self, world):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_user(world["api"], world["owner"], "select cco.refresh_analytics()")
        with request(world["api"], None, role="service_role"):
            timings = scalar(world["api"], "select cco.refresh_analytics()")
        assert set(timings) == {"project_summary_stats_ms", "search_analytics_ms"}


def test_prices_can_be_changed_and_survive_as_the_operators_own(db):
    admin = db.admin
    admin.execute("update cco.model_pricing set output_per_million = 16 where model = 'claude-sonnet-4-5' and seeded")
    assert scalar(admin, "select seeded from cco.model_pricing where model = 'claude-sonnet-4-5' "
                         "and output_per_million = 16") is False
    assert scalar(admin, "select cco.usage_cost('claude-sonnet-4-5-20250929', now(), 0, 1000000, 0, 0)") == 16
    assert scalar(admin, "select cco.usage_cost('an-unknown-model', now(), 1, 1, 1, 1)") is None
