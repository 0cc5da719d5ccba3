"""The access matrix over everything callable: every function and view an API role can reach is
called by every actor, as PostgREST would call it, and must show each actor exactly the projects
that actor may read: not in its rows, not in a count, a suggestion, an error message or a summary.

Two projects carry marker words that occur nowhere else: the shared project (owner, editor,
viewer) says "quokkaflux", the stranger's own project says "zebrastripe". Each call is made once
per project, asking for that project's marker; the result, or the error, is then searched for
both markers and both projects' ids.

A catalog walk keeps the matrix complete: a function or view that API roles can use and that
this file does not cover fails the suite until it is added here.
"""

from __future__ import annotations

import datetime
import json

import psycopg
import pytest

from conftest import new_id, request, scalar
from test_security import Actor

EVERYONE = ("owner", "editor", "viewer", "stranger", "anonymous", "service", "service_claim")
# The service role claim on a request that does not run as the service_role database role is a
# forgery: "service_claim" must see what a caller without identity sees.
SERVICES = {"service"}
# Who may read each project.
READS = {
    "shared": {"owner", "editor", "viewer"} | SERVICES,
    "own": {"stranger"} | SERVICES,
}
MARKER = {"shared": "quokkaflux", "own": "zebrastripe"}


@pytest.fixture(scope="module")
def world(db):
    owner, editor, viewer, stranger = new_id(), new_id(), new_id(), new_id()
    actors = {
        "owner": Actor("owner", owner, "authenticated", "authenticated"),
        "editor": Actor("editor", editor, "authenticated", "authenticated"),
        "viewer": Actor("viewer", viewer, "authenticated", "authenticated"),
        "stranger": Actor("stranger", stranger, "authenticated", "authenticated"),
        "anonymous": Actor("anonymous", None, "anon", "anon"),
        "service": Actor("service", None, "service_role", "service_role"),
        "service_claim": Actor("service_claim", None, "authenticated", "service_role"),
    }
    api = db.connect_api()

    def call(actor, query, params=None):
        with request(api, claims=actors[actor].claims(), role=actors[actor].role):
            return scalar(api, query, params)

    ids = {}
    recent = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    for side, creator, tokens in (("shared", "owner", 7770777), ("own", "stranger", 5550555)):
        word = MARKER[side]
        project = call(creator, "insert into cco.projects (name, path) values (%s, %s) returning id",
                       [f"{word}-app", f"/src/{word}"])
        if side == "shared":
            for member, role in (("editor", "editor"), ("viewer", "viewer")):
                call("owner", "insert into cco.project_members (project_id, user_id, role) values (%s, %s, %s) returning 1",
                     [project, actors[member].user, role])
        writer = "editor" if side == "shared" else "stranger"
        conversation = call(writer, "insert into cco.conversations (project_id, title, file_path) values (%s, %s, %s) returning id",
                            [project, f"{word} crash", f"/home/dev/.claude/projects/{word}/session.jsonl"])
        message = call(writer,
                       "insert into cco.messages (conversation_id, role, content, \"timestamp\", model,"
                       " input_tokens, output_tokens, token_count) values (%s, 'assistant', %s, %s, %s, %s, 10, %s + 10) returning id",
                       [conversation, f"the {word} handler failed in src/api/{word}_handler.rs with E0382",
                        recent, f"claude-{word}", tokens, tokens])
        call(writer, "insert into cco.tool_calls (message_id, tool_name, input_data, status, execution_time_ms, started_at)"
                     " values (%s, %s, %s, 'success', 42, %s) returning 1",
             [message, f"{word.capitalize()}Tool", json.dumps({"command": f"cargo test {word}"}), recent])
        call(creator, "select cco.log_search_query(%s, 'message', 1, 3)", [f"{word} handler"])
        ids[side] = {"project": str(project), "conversation": str(conversation), "message": str(message),
                     "tokens": str(tokens)}
    db.admin.execute("select cco.refresh_analytics()")
    return {"api": api, "actors": actors, "ids": ids}


def run(world, actor: str, query: str, params=None) -> str:
    """The whole result of a call, or its error, as text; the call's changes are undone."""
    api = world["api"]
    who = world["actors"][actor]
    try:
        with api.transaction():
            api.execute(f"set local role {who.role}")
            api.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(who.claims())])
            rows = api.execute(query, params).fetchall()
            raise psycopg.Rollback(json.dumps(rows, default=str))
    except psycopg.Rollback as done:
        return "rows " + str(done)
    except psycopg.Error as error:
        return f"error {error.sqlstate} {error}"


def visible(text: str, world, side: str) -> bool:
    ids = world["ids"][side]
    lowered = text.lower()
    return MARKER[side] in lowered or ids["project"] in text or ids["message"] in text


# Calls that read: template and parameters per side. Each must show a side's data to exactly
# the actors who may read that side.
READ_CALLS = {
    "search_messages": ("select * from cco.search_messages(%s)", lambda i, w: [w]),
    "search_conversations": ("select * from cco.search_conversations(%s)", lambda i, w: [w]),
    "search_projects": ("select * from cco.search_projects(%s)", lambda i, w: [w]),
    "search_tool_usage": ("select * from cco.search_tool_usage(%s)", lambda i, w: [w + "*"]),
    # Document frequencies count only what the caller may read.
    "message_ranking": (
        "select case when (frequencies)[1] > 0 then %s end from cco.message_ranking(%s)",
        lambda i, w: [w, w]),
    # NULL (every project) only for callers who see everything.
    "search_scope": ("select coalesce(cco.search_scope(), array(select id from cco.projects))::text", lambda i, w: []),
    "search_statistics": (
        "select case when (document_frequencies)[1] > 0 then %s end from cco.search_statistics(%s)",
        lambda i, w: [w, w]),
    "similar_messages": ("select * from cco.similar_messages(%s, similarity_threshold => 0.1)",
                         lambda i, w: [f"the {w} handler failed in src/api/{w}_handler.rs"]),
    "get_search_suggestions": ("select * from cco.get_search_suggestions(%s, 'message', 10)", lambda i, w: [w[:6]]),
    "get_search_suggestions tool": ("select * from cco.get_search_suggestions(%s, 'tool', 10)", lambda i, w: [w[:6]]),
    "get_search_suggestions project": ("select * from cco.get_search_suggestions(%s, 'project', 10)", lambda i, w: [w[:6]]),
    "message_thread": ("select * from cco.message_thread(%s)", lambda i, w: [i["message"]]),
    "usage_blocks": ("select *, %s::text from cco.usage_blocks(array[%s]::uuid[]) where total_tokens > 0",
                     lambda i, w: [w, i["project"]]),
    "read_project_summary_stats": ("select * from cco.read_project_summary_stats() where project_id = %s",
                                   lambda i, w: [i["project"]]),
}

# Views with the column that names a project's data in them.
VIEW_MARKERS = {
    "message_usage": "project_id", "conversation_analytics": "project_id", "project_analytics": "project_id",
    "tool_analytics": "tool_name", "tool_usage_daily": "tool_name", "daily_activity": "project_id",
    "hourly_activity": "project_id", "user_activity_analytics": "project_id", "token_usage_daily": "model",
    "project_usage_blocks": "project_id", "project_summary": "project_id", "unpriced_models": "model",
}
# Views for the operator of the database: empty for every user.
OPERATOR_VIEWS = ("table_analytics", "system_performance", "index_usage_stats")

CASES = [(name, side, actor) for name in READ_CALLS for side in ("shared", "own") for actor in EVERYONE]


@pytest.mark.parametrize("name, side, actor", CASES)
def test_functions_show_each_actor_exactly_what_they_may_read(world, name, side, actor):
    template, params = READ_CALLS[name]
    text = run(world, actor, template, params(world["ids"][side], MARKER[side]))
    assert not text.startswith("error"), f"{name} failed for {actor}: {text}"
    # What was asked for shows when the actor may read it; the other project never shows unless
    # the actor may read it too (a similar message of one's own is a fair answer).
    assert visible(text, world, side) == (actor in READS[side]), f"{name} as {actor} asking for {side}: {text[:300]}"
    other = "own" if side == "shared" else "shared"
    if actor not in READS[other]:
        assert not visible(text, world, other), f"{name} as {actor} leaks {other}: {text[:300]}"


@pytest.mark.parametrize("view", sorted(VIEW_MARKERS))
@pytest.mark.parametrize("actor", EVERYONE)
def test_views_show_each_actor_exactly_their_projects(world, view, actor):
    column = VIEW_MARKERS[view]
    text = run(world, actor, f"select {column}::text from cco.{view}")
    assert not text.startswith("error"), f"{view} failed for {actor}: {text}"
    for side in ("shared", "own"):
        assert visible(text, world, side) == (actor in READS[side]), f"{view} as {actor}: {text[:300]}"


@pytest.mark.parametrize("view", OPERATOR_VIEWS)
@pytest.mark.parametrize("actor", EVERYONE)
def test_operator_views_show_users_nothing(world, view, actor):
    text = run(world, actor, f"select * from cco.{view}")
    if actor in SERVICES:
        assert text.startswith("rows"), text
    else:
        assert text == "rows []", f"{view} as {actor}: {text[:200]}"


@pytest.mark.parametrize("actor", EVERYONE)
def test_search_summaries_show_only_the_callers_own_searches(world, actor):
    text = run(world, actor, "select user_id from cco.search_summary")
    for searcher in ("owner", "stranger"):
        shown = str(world["actors"][searcher].user) in text
        assert shown == (actor == searcher or actor in SERVICES), f"{actor}: {text}"
    assert run(world, actor, "select * from cco.read_search_analytics()").startswith("rows")


@pytest.mark.parametrize("actor", EVERYONE)
def test_membership_helpers_name_only_the_callers_projects(world, actor):
    ids = world["ids"]
    expected = {
        "readable_project_ids": {"owner": "shared", "editor": "shared", "viewer": "shared", "stranger": "own"},
        "writable_project_ids": {"owner": "shared", "editor": "shared", "stranger": "own"},
        "owned_project_ids": {"owner": "shared", "stranger": "own"},
    }
    for helper, sides in expected.items():
        text = run(world, actor, f"select cco.{helper}()")
        for side in ("shared", "own"):
            assert (ids[side]["project"] in text) == (sides.get(actor) == side), f"{helper} as {actor}: {text}"


@pytest.mark.parametrize("actor", EVERYONE)
def test_identity_functions_report_only_the_callers_claims(world, actor):
    who = world["actors"][actor]
    text = run(world, actor, "select cco.current_user_id(), cco.current_user_role(), cco.is_service_role(), cco.has_full_access()")
    service = actor in SERVICES
    assert text == "rows " + json.dumps([[str(who.user) if who.user else None, who.claims_role, service, service]])


@pytest.mark.parametrize("actor", EVERYONE)
def test_writing_functions_change_only_what_the_caller_may_write(db, world, actor):
    ids = world["ids"]["shared"]
    before = db.admin.execute("select title, message_count from cco.conversations where id = %s", [ids["conversation"]]).fetchone()
    text = run(world, actor, "select cco.rebuild_thread_depths(%s)", [ids["conversation"]])
    # Depths are already right, so nobody has anything to repair; the call must still succeed.
    assert text == "rows [[0]]", f"rebuild_thread_depths as {actor}: {text}"
    text = run(world, actor, "select cco.apply_summary_titles(array[%s]::uuid[])", [ids["conversation"]])
    assert text.startswith("rows"), text
    text = run(world, actor, "select cco.refresh_analytics()")
    assert text.startswith("rows" if actor == "service" else "error 42501"), f"refresh_analytics as {actor}: {text}"
    text = run(world, actor, "select cco.log_search_query('mine', 'message', 0, 1) is not null")
    assert text in ("rows [[true]]", ) or (actor in {"anonymous", "service", "service_claim"} and text.startswith("error")), text
    assert db.admin.execute("select title, message_count from cco.conversations where id = %s", [ids["conversation"]]).fetchone() == before


@pytest.mark.parametrize("actor", EVERYONE)
def test_project_lookups_answer_only_for_what_the_caller_may_read(world, actor):
    for side in ("shared", "own"):
        ids = world["ids"][side]
        for function, argument in (("conversation_project", ids["conversation"]),
                                   ("message_project", ids["message"])):
            text = run(world, actor, f"select cco.{function}(%s)", [argument])
            if actor in READS[side]:
                assert text == "rows " + json.dumps([[ids["project"]]]), f"{function} as {actor}: {text}"
            else:
                assert text.startswith("error 23503") and "is not visible to you" in text, \
                    f"{function} as {actor} on {side}: {text}"


COVERED_FUNCTIONS = {name.split(" ")[0] for name in READ_CALLS} | {
    "readable_project_ids", "writable_project_ids", "owned_project_ids", "current_user_id",
    "current_user_role", "is_service_role", "has_full_access", "rebuild_thread_depths",
    "apply_summary_titles", "refresh_analytics", "log_search_query", "read_search_analytics",
    # Changes only a project the caller co-owns (test_tenant_isolation.py).
    "take_over_project",
    # Covered in test_ingest.py (loading into others' projects) and test_security.py.
    "ingest_transcript",
    # Parameter checks that read nothing.
    "check_page", "document_frequency_cap",
    # Read only the price list, which every caller may read.
    "usage_cost", "response_cost",
    # Reads only its argument; cco.import_prices writes through the price list's policies.
    "litellm_anthropic_prices", "import_prices",
    # Sees only the arrays its caller passes (cco.usage_blocks passes the visible rows), and the
    # price list.
    "compute_usage_blocks",
    # Reads and returns nothing: refreshes planner statistics when a table outgrew them.
    "refresh_outgrown_statistics",
    # Read only a setting and Citus's node metadata (sql/04_triggers.sql, sql/10_citus.sql).
    "maintains_project_activity", "on_citus_coordinator", "holds_audit_shard",
    # Copies the caller's own claims into a SET LOCAL (sql/10_citus.sql).
    "forward_request_claims",
    # Whether the server preloaded cco: reads nothing else.
    "loaded_at_server_start",
    # Name the project of a visible conversation or message only (test below).
    "conversation_project", "message_project",
    # Answers only for projects the caller may read (test_citus.py, on Citus).
    "project_ranking",
    # Do nothing on a single server; on Citus take an advisory lock on a project, or move up to
    # its conversations' newest time only a project the caller may update, as the statistics
    # triggers would (test_citus.py).
    "advance_project_activity", "routed_project",
}

# Not for API roles at all (tests below check they cannot execute them).
ADMINISTRATIVE_FUNCTIONS = {"optimize_rank_index", "ranking_within", "rank_index_segments",
                            "distribute", "prepare_distribution", "prepare_added_nodes",
                            "ranking_across_shards",
                            "refresh_project_activity", "catch_up_project_activity",
                            "note_project_activity", "set_project_activity"}


def test_the_matrix_covers_every_function_and_view_the_api_can_reach(db):
    # Functions that read no table are immutable; aggregates and their support functions only
    # see the rows their caller feeds them.
    reachable = {row[0] for row in db.admin.execute(
        """
        select p.proname from pg_proc p
        where p.pronamespace = 'cco'::regnamespace and p.prokind = 'f' and p.provolatile <> 'i'
          and p.prorettype <> 'trigger'::regtype
          and not ('internal'::regtype = any (p.proargtypes))
          and (has_function_privilege('authenticated', p.oid, 'execute')
               or has_function_privilege('anon', p.oid, 'execute')
               or has_function_privilege('service_role', p.oid, 'execute'))
        """)}
    assert reachable & ADMINISTRATIVE_FUNCTIONS == set(), "administrative functions must not be granted to API roles"
    assert reachable - COVERED_FUNCTIONS == set(), "add these functions to the access matrix"
    views = {row[0] for row in db.admin.execute(
        "select relname from pg_class where relnamespace = 'cco'::regnamespace and relkind in ('v', 'm')"
        " and (has_table_privilege('authenticated', oid, 'select') or has_table_privilege('anon', oid, 'select'))")}
    assert views - set(VIEW_MARKERS) - set(OPERATOR_VIEWS) - {"search_summary"} == set(), "add these views to the access matrix"
