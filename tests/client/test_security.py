"""Who sees and changes what, tested as PostgREST calls the database.

Every call goes through the `authenticator` login role, switches to the role of the JWT with
`set local role` and sets `request.jwt.claims` for the transaction only. Actors: the project's
owner, an editor, a viewer, a stranger (a user with a project of their own), an anonymous caller,
the service role as Supabase has it (role with BYPASSRLS), and the service role claim on a request
running as `authenticated` (a forgery: it must get nothing).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

import psycopg
import pytest

from conftest import new_id, request, scalar, sqlstate_of

DENIED = "denied"  # the statement failed with insufficient privilege / RLS violation
NONE = "none"  # the statement ran and touched or returned no row
OK = "ok"  # the statement ran and touched or returned rows


@dataclass(frozen=True)
class Actor:
    name: str
    user: object
    role: str
    claims_role: str

    def claims(self) -> dict:
        claims = {"role": self.claims_role}
        if self.user is not None:
            claims["sub"] = str(self.user)
        return claims


@dataclass
class World:
    actors: dict
    project: object
    other_project: object
    conversation: object
    message: object
    tool_call: object


@pytest.fixture(scope="module")
def world(db) -> World:
    admin = db.admin
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
        with request(api, claims=actor.claims(), role=actor.role):
            return scalar(api, query, params)

    # Everything is created through the API, as the users themselves would.
    project = call(actors["owner"], "insert into cco.projects (name, path) values ('shop', '/src/shop') returning id")
    other = call(actors["stranger"], "insert into cco.projects (name, path) values ('mine', '/src/mine') returning id")
    for member, role in ((editor, "editor"), (viewer, "viewer")):
        call(actors["owner"], "insert into cco.project_members (project_id, user_id, role) values (%s, %s, %s) returning 1",
             [project, member, role])
    conversation = call(actors["editor"], "insert into cco.conversations (project_id, title) values (%s, 'checkout bug') returning id", [project])
    message = call(actors["editor"], "insert into cco.messages (conversation_id, role, content) values (%s, 'assistant', 'fixed the cart total') returning id", [conversation])
    tool_call = call(actors["editor"], "insert into cco.tool_calls (message_id, tool_name, input_data) values (%s, 'Bash', '{\"command\": \"cargo test\"}') returning id", [message])
    other_conversation = call(actors["stranger"], "insert into cco.conversations (project_id) values (%s) returning id", [other])
    call(actors["stranger"], "insert into cco.messages (conversation_id, role, content) values (%s, 'user', 'secret plans') returning id", [other_conversation])
    for actor in ("owner", "stranger"):
        call(actors[actor], "insert into cco.search_history (query, search_type) values (%s, 'message') returning 1", [f"query of {actor}"])
    return World(actors, project, other, conversation, message, tool_call)


@pytest.fixture(scope="module")
def api(db):
    return db.connect_api()


@contextlib.contextmanager
def rolled_back_request(api, actor):
    """A request whose changes are undone, so the world stays the same for the next case."""
    with contextlib.suppress(psycopg.Rollback):
        with request(api, claims=actor.claims(), role=actor.role):
            yield api
            raise psycopg.Rollback()


def outcome(api, actor, query, params=None) -> str:
    try:
        with rolled_back_request(api, actor):
            cursor = api.execute(query, params)
            touched = cursor.rowcount if cursor.description is None else len(cursor.fetchall())
            return OK if touched > 0 else NONE
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ForeignKeyViolation):
        # Referring to a row the caller cannot see fails like referring to a missing one.
        return DENIED


def count_outcome(api, actor, query, params=None) -> str:
    try:
        with rolled_back_request(api, actor):
            return OK if scalar(api, query, params) > 0 else NONE
    except psycopg.errors.InsufficientPrivilege:
        return DENIED


EVERYONE = ("owner", "editor", "viewer", "stranger", "anonymous", "service", "service_claim")
SERVICES = {"service"}
READERS = {"owner", "editor", "viewer"} | SERVICES
WRITERS = {"owner", "editor"} | SERVICES
OWNERS = {"owner"} | SERVICES


def statements(world: World) -> dict:
    """Per (table, operation): the statement, its parameters, and who may do it."""
    p, c, m, t = world.project, world.conversation, world.message, world.tool_call
    return {
        ("projects", "select"): ("select count(*) from cco.projects where id = %s", [p], READERS),
        ("projects", "update"): ("update cco.projects set description = 'x' where id = %s", [p], WRITERS),
        ("projects", "delete"): ("delete from cco.projects where id = %s", [p], OWNERS),
        ("project_members", "select"): ("select count(*) from cco.project_members where project_id = %s", [p], READERS),
        ("project_members", "insert"): ("insert into cco.project_members (project_id, user_id) values (%s, gen_random_uuid())", [p], OWNERS),
        ("project_members", "update"): ("update cco.project_members set role = 'editor' where project_id = %s and role = 'viewer'", [p], OWNERS),
        ("project_members", "delete"): ("delete from cco.project_members where project_id = %s", [p], OWNERS),
        ("conversations", "select"): ("select count(*) from cco.conversations where project_id = %s", [p], READERS),
        ("conversations", "insert"): ("insert into cco.conversations (project_id) values (%s)", [p], WRITERS),
        ("conversations", "update"): ("update cco.conversations set title = 'renamed' where id = %s", [c], WRITERS),
        ("conversations", "delete"): ("delete from cco.conversations where id = %s", [c], WRITERS),
        ("messages", "select"): ("select count(*) from cco.messages where project_id = %s", [p], READERS),
        ("messages", "insert"): ("insert into cco.messages (conversation_id, project_id, role, content) values (%s, %s, 'user', 'hi')", [c, p], WRITERS),
        ("messages", "update"): ("update cco.messages set content = 'edited' where id = %s", [m], WRITERS),
        ("messages", "delete"): ("delete from cco.messages where id = %s", [m], WRITERS),
        ("tool_calls", "select"): ("select count(*) from cco.tool_calls where project_id = %s", [p], READERS),
        ("tool_calls", "insert"): ("insert into cco.tool_calls (message_id, project_id, tool_name) values (%s, %s, 'Read')", [m, p], WRITERS),
        ("tool_calls", "update"): ("update cco.tool_calls set status = 'success' where id = %s", [t], WRITERS),
        ("tool_calls", "delete"): ("delete from cco.tool_calls where id = %s", [t], WRITERS),
        ("audit_log", "select"): ("select count(*) from cco.audit_log where project_id = %s", [p], OWNERS),
    }


CASES = [(table, op, actor) for table, op in [
    ("projects", "select"), ("projects", "update"), ("projects", "delete"),
    ("project_members", "select"), ("project_members", "insert"), ("project_members", "update"),
    ("project_members", "delete"),
    ("conversations", "select"), ("conversations", "insert"), ("conversations", "update"),
    ("conversations", "delete"),
    ("messages", "select"), ("messages", "insert"), ("messages", "update"), ("messages", "delete"),
    ("tool_calls", "select"), ("tool_calls", "insert"), ("tool_calls", "update"), ("tool_calls", "delete"),
    ("audit_log", "select"),
] for actor in EVERYONE]


@pytest.mark.parametrize("table, operation, actor", CASES)
def test_access_matrix(api, world, table, operation, actor):
    query, params, allowed = statements(world)[(table, operation)]
    who = world.actors[actor]
    if operation == "select":
        result = count_outcome(api, who, query, params)
        assert result == (OK if actor in allowed else NONE), f"{actor} {operation} {table}"
    elif operation == "insert":
        result = outcome(api, who, query, params)
        assert result == (OK if actor in allowed else DENIED), f"{actor} {operation} {table}"
    else:
        result = outcome(api, who, query, params)
        assert result == (OK if actor in allowed else NONE), f"{actor} {operation} {table}"


@pytest.mark.parametrize("actor", EVERYONE)
def test_nobody_writes_the_audit_trail_through_the_api(api, world, actor):
    who = world.actors[actor]
    for query in (
        "insert into cco.audit_log (table_name, operation) values ('cco.projects', 'INSERT')",
        "update cco.audit_log set operation = 'DELETE'",
        "delete from cco.audit_log",
    ):
        assert outcome(api, who, query) == DENIED, f"{actor}: {query}"


@pytest.mark.parametrize("actor", EVERYONE)
def test_the_other_project_stays_private(api, world, actor):
    who = world.actors[actor]
    expected = OK if actor in SERVICES | {"stranger"} else NONE
    for table in ("projects", "conversations", "messages"):
        column = "id" if table == "projects" else "project_id"
        assert count_outcome(
            api, who, f"select count(*) from cco.{table} where {column} = %s", [world.other_project]
        ) == expected, f"{actor} reads {table}"


@pytest.mark.parametrize("actor", ["owner", "editor", "viewer", "stranger"])
def test_any_user_may_create_their_own_project_but_not_someone_elses(api, world, actor):
    who = world.actors[actor]
    assert outcome(api, who, "insert into cco.projects (name, path) values ('new', '/new')") == OK
    assert outcome(api, who, "insert into cco.projects (name, path, owner_id) values ('new', '/new', gen_random_uuid())") == DENIED


def test_anonymous_callers_cannot_create_projects(api, world):
    assert outcome(api, world.actors["anonymous"], "insert into cco.projects (name, path) values ('x', '/x')") == DENIED


def test_an_editor_cannot_take_over_the_project(api, world):
    editor = world.actors["editor"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with rolled_back_request(api, editor):
            api.execute("update cco.projects set owner_id = %s where id = %s", [editor.user, world.project])


def test_the_owner_hands_over_the_project_to_a_co_owner_who_takes_it(api, world):
    owner, editor = world.actors["owner"], world.actors["editor"]
    with contextlib.suppress(psycopg.Rollback):
        with request(api, claims=owner.claims(), role=owner.role):
            # owner_id never names someone else: that would tell whether they have a project of
            # this name or path (the unique keys), and hand them a project they did not ask for.
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with api.transaction():
                    api.execute("update cco.projects set owner_id = %s where id = %s", [editor.user, world.project])
            api.execute("update cco.project_members set role = 'owner' where project_id = %s and user_id = %s",
                        [world.project, editor.user])
            api.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(editor.claims())])
            api.execute("select cco.take_over_project(%s)", [world.project])
            assert scalar(api, "select owner_id from cco.projects where id = %s", [world.project]) == editor.user
            # the previous owner stays a co-owner until someone removes them
            assert scalar(api, "select role from cco.project_members where project_id = %s and user_id = %s",
                          [world.project, owner.user]) == "owner"
            raise psycopg.Rollback()


def test_search_history_is_private(api, world):
    for actor, expected in (("owner", 1), ("stranger", 1), ("editor", 0), ("anonymous", 0)):
        with rolled_back_request(api, world.actors[actor]):
            assert scalar(api, "select count(*) from cco.search_history") == expected, actor
    with rolled_back_request(api, world.actors["service"]):
        assert scalar(api, "select count(*) from cco.search_history") >= 2
    assert outcome(api, world.actors["viewer"],
                   "insert into cco.search_history (user_id, query, search_type) values (%s, 'x', 'message')",
                   [world.actors["owner"].user]) == DENIED
    assert sqlstate_of(lambda: outcome(api, world.actors["anonymous"],
                       "insert into cco.search_history (query, search_type) values ('x', 'message')")) is None


def test_thread_functions_respect_row_level_security(api, world):
    for actor, expected in (("viewer", 1), ("stranger", 0), ("anonymous", 0)):
        with rolled_back_request(api, world.actors[actor]):
            assert scalar(api, "select count(*) from cco.message_thread(%s)", [world.message]) == expected
    with rolled_back_request(api, world.actors["stranger"]):
        assert scalar(api, "select cco.rebuild_thread_depths(%s)", [world.conversation]) == 0


def test_audit_entries_name_the_actor(db, world):
    rows = db.admin.execute(
        "select operation, user_id, user_role, db_role from cco.audit_log "
        "where table_name = 'cco.project_members' and project_id = %s order by occurred_at",
        [world.project],
    ).fetchall()
    assert len(rows) == 2
    for operation, user_id, user_role, db_role in rows:
        assert (operation, user_id, user_role, db_role) == (
            "INSERT", world.actors["owner"].user, "authenticated", "authenticated")


class TestClaimsTampering:
    """Broken or forged claims mean no identity: no error that breaks the request, no access."""

    @pytest.mark.parametrize("claims", [
        "", " ", "{", "not json", "[]", "null", '"text"', "{\"sub\": 42}", "{\"sub\": \"not-a-uuid\"}",
        "{\"sub\": null, \"role\": \"authenticated\"}", "{\"sub\": \"\"}", "{\"role\": [\"service_role\"]}",
    ])
    def test_malformed_claims_give_no_identity(self, api, world, claims):
        with contextlib.suppress(psycopg.Rollback):
            with request(api, role="authenticated", claims=claims):
                assert scalar(api, "select cco.current_user_id()") is None
                assert scalar(api, "select cco.is_service_role()") is False
                assert scalar(api, "select count(*) from cco.messages") == 0
                raise psycopg.Rollback()

    def test_settings_left_empty_after_a_transaction_give_no_identity(self, api, world):
        with request(api, claims={"sub": str(world.actors["owner"].user), "role": "authenticated"}):
            assert scalar(api, "select cco.current_user_id()") == world.actors["owner"].user
        # PostgREST's transaction is over: the setting now reads as '' in the next request
        with contextlib.suppress(psycopg.Rollback):
            with api.transaction():
                api.execute("set local role authenticated")
                assert scalar(api, "select current_setting('request.jwt.claims', true)") == ""
                assert scalar(api, "select cco.current_user_id()") is None
                assert scalar(api, "select count(*) from cco.projects") == 0
                raise psycopg.Rollback()

    def test_legacy_per_claim_settings_are_read(self, api, world):
        owner = world.actors["owner"].user
        with contextlib.suppress(psycopg.Rollback):
            with api.transaction():
                api.execute("set local role authenticated")
                api.execute("select set_config('request.jwt.claim.sub', %s, true)", [str(owner)])
                assert scalar(api, "select cco.current_user_id()") == owner
                assert scalar(api, "select count(*) from cco.projects where id = %s", [world.project]) == 1
                raise psycopg.Rollback()


def test_policies_are_evaluated_once_per_statement(db, world):
    """The membership lookup must run once per statement (an initPlan), not once per row."""
    claims = json.dumps({"sub": str(world.actors["viewer"].user), "role": "authenticated"})
    with contextlib.suppress(psycopg.Rollback):
        with db.admin.transaction():
            db.admin.execute("set local role authenticated")
            db.admin.execute("select set_config('request.jwt.claims', %s, true)", [claims])
            plan = db.admin.execute(
                "explain (format json) select * from cco.messages where content like '%%x%%'"
            ).fetchone()[0]
            raise psycopg.Rollback()
    init_plans = []

    def walk(node):
        if node.get("Parent Relationship") == "InitPlan":
            init_plans.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    assert len(init_plans) >= 2, "is_service_role() and readable_project_ids() should be initPlans"


def test_searches_under_row_level_security_use_the_search_index(db, world):
    """A user's search must not fall back to reading every message (see cco.tsvector_matches)."""
    db.admin.execute("set enable_seqscan = off")  # the tiny test table would otherwise favour a scan
    claims = json.dumps({"sub": str(world.actors["viewer"].user), "role": "authenticated"})
    try:
        with contextlib.suppress(psycopg.Rollback):
            with db.admin.transaction():
                db.admin.execute("set local role authenticated")
                db.admin.execute("select set_config('request.jwt.claims', %s, true)", [claims])
                plan = json.dumps(db.admin.execute(
                    "explain (format json) select id from cco.messages "
                    "where search_vector operator(cco.@@) cco.to_tsquery('cart')").fetchone()[0])
                # A ranked search as cco.search_messages runs it: best first, in the caller's
                # projects, through the ranked index.
                ranking = db.admin.execute("select cco.message_ranking('cart')::text").fetchone()[0]
                ranked_plan = json.dumps(db.admin.execute(
                    "explain (format json) select id from cco.messages "
                    "where search_vector operator(cco.@@) cco.to_tsquery('cart') and project_id = any (cco.search_scope()) "
                    "order by search_vector operator(cco.<&>) %s::cco.ranking limit 50", [ranking]).fetchone()[0])
                raise psycopg.Rollback()
    finally:
        db.admin.execute("reset enable_seqscan")
    assert "messages_rank_idx" in plan
    assert "messages_rank_idx" in ranked_plan and '"Sort"' not in ranked_plan
