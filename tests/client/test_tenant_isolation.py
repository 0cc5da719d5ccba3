"""Two tenants on one database, and attackers who want the other tenant's data.

Tenant A is the shared project of test_function_access.py ("quokkaflux": owner, editor, viewer);
tenant B is the stranger's own project ("zebrastripe", in every column). The attackers are A's
owner, editor and viewer, an outsider with no project of B's, and callers without identity. They
come in both ways the database knows:

- through the API: the `authenticator` login with the claims PostgREST sets (test_function_access.py
  and test_security.py run the whole access matrix that way);
- through their own logins, which `cco.user_logins` maps to their user ids: here the same matrix of
  every function and view runs again, once as the login is and once with forged claims (B's owner
  as `sub`, `service_role` as role), which must change nothing.

Then each way a tenant once reached another is a regression test of its own: statistics triggers
and locks keyed by conversation id alone, notifications carrying ids, unique keys and project ids
answering existence questions, and the rank index fetching B's rows for row level security to
filter out.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading

import psycopg
import pytest

from conftest import new_id, request, scalar
from test_function_access import MARKER, READ_CALLS, VIEW_MARKERS, visible, world  # noqa: F401 (world is a fixture)
from test_security import Actor

LOGIN_PASSWORD = "tenant-login-test-password"
# Logins of users, and one login the table does not map (no identity).
LOGIN_ACTORS = ("owner", "editor", "viewer", "stranger", "outsider", "unmapped")
LOGIN_READS = {"shared": {"owner", "editor", "viewer"}, "own": {"stranger"}}
USERS_GROUP = "cco_tenant_users"


def login_name(db, actor: str) -> str:
    return f"{db.name}_{actor}"[-63:]


@pytest.fixture(scope="module")
def logins(db, world):
    """A login per actor, members of one group granted the API's privileges, mapped to the users."""
    admin = db.admin
    admin.execute(f"do $$ begin create role {USERS_GROUP} nologin; exception when duplicate_object then null; end $$")
    admin.execute("select cco.grant_api_access(%s::regrole)", [USERS_GROUP])
    users = {name: actor.user for name, actor in world["actors"].items()}
    users["outsider"] = new_id()
    connections = {}
    for actor in LOGIN_ACTORS:
        name = login_name(db, actor)
        admin.execute(f'drop role if exists "{name}"')
        admin.execute(f"create role \"{name}\" login password '{LOGIN_PASSWORD}' in role {USERS_GROUP}")
        if actor != "unmapped":
            admin.execute("insert into cco.user_logins (login, user_id) values (%s, %s)", [name, users[actor]])
        connections[actor] = psycopg.connect(dbname=db.name, user=name, password=LOGIN_PASSWORD, autocommit=True)
    yield {"connections": connections, "users": users}
    for actor, connection in connections.items():
        connection.close()
        name = login_name(db, actor)
        admin.execute(f'drop owned by "{name}"')
        admin.execute(f'drop role "{name}"')
    admin.execute(f"drop owned by {USERS_GROUP}")


def forged_claims(world) -> str:
    """What a login might claim to be: the owner of B, with the service role."""
    return json.dumps({"sub": str(world["actors"]["stranger"].user), "role": "service_role"})


def run_as_login(logins, world, actor, query, params=None, forge=False) -> str:
    """The whole result of a call on the actor's own login, or its error; changes are undone."""
    connection = logins["connections"][actor]
    try:
        with connection.transaction():
            if forge:
                connection.execute("select set_config('request.jwt.claims', %s, true)", [forged_claims(world)])
                connection.execute("select set_config('request.jwt.claim.role', 'service_role', true)")
            rows = connection.execute(query, params).fetchall()
            raise psycopg.Rollback(json.dumps(rows, default=str))
    except psycopg.Rollback as done:
        return "rows " + str(done)
    except psycopg.Error as error:
        return f"error {error.sqlstate} {error}"


# ------------------------------------------------------------------------------------------------
# The access matrix through per-user logins, with and without forged claims.

LOGIN_CASES = [(name, side, actor, forge) for name in READ_CALLS for side in ("shared", "own")
               for actor in LOGIN_ACTORS for forge in (False, True)]


@pytest.mark.parametrize("name, side, actor, forge", LOGIN_CASES)
def test_logins_see_exactly_their_projects_through_every_function(logins, world, name, side, actor, forge):
    template, params = READ_CALLS[name]
    text = run_as_login(logins, world, actor, template, params(world["ids"][side], MARKER[side]), forge)
    assert not text.startswith("error"), f"{name} failed for {actor}: {text}"
    assert visible(text, world, side) == (actor in LOGIN_READS[side]), f"{name} as {actor} asking for {side}: {text[:300]}"
    other = "own" if side == "shared" else "shared"
    if actor not in LOGIN_READS[other]:
        assert not visible(text, world, other), f"{name} as {actor} leaks {other}: {text[:300]}"


@pytest.mark.parametrize("forge", (False, True))
@pytest.mark.parametrize("actor", LOGIN_ACTORS)
def test_logins_see_exactly_their_projects_in_every_table_and_view(logins, world, actor, forge):
    relations = [(view, column) for view, column in VIEW_MARKERS.items()] + [
        ("projects", "id"), ("project_members", "project_id"), ("conversations", "project_id"),
        ("messages", "project_id"), ("tool_calls", "project_id"), ("transcript_summaries", "project_id"),
        ("audit_log", "project_id"), ("search_history", "query"),
    ]
    for relation, column in relations:
        text = run_as_login(logins, world, actor, f"select {column}::text from cco.{relation}", forge=forge)
        assert not text.startswith("error"), f"{relation} failed for {actor}: {text}"
        assert not visible(text, world, "own") or actor == "stranger", f"{relation} as {actor}: {text[:300]}"
        if relation not in ("audit_log", "search_history", "transcript_summaries"):  # no rows of A's in the last
            assert visible(text, world, "shared") == (actor in LOGIN_READS["shared"]), f"{relation} as {actor}: {text[:300]}"


@pytest.mark.parametrize("actor", LOGIN_ACTORS)
def test_forged_claims_from_a_login_are_ignored(logins, world, actor):
    identity = "select cco.current_user_id(), cco.current_user_role(), cco.is_service_role(), cco.has_full_access()"
    expected = None if actor == "unmapped" else str(logins["users"][actor])
    for forge in (False, True):
        text = run_as_login(logins, world, actor, identity, forge=forge)
        assert text == "rows " + json.dumps([[expected, None, False, False]]), f"{actor} forge={forge}: {text}"


def test_a_login_cannot_name_itself_an_api_login_or_map_itself(db, logins, world):
    connection = logins["connections"]["outsider"]
    name = login_name(db, "outsider")
    connection.execute("select cco.current_user_id()")  # the library is loaded: its settings exist
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        connection.execute(f"set cco.api_logins = '{name}'")
    for statement in (
        "insert into cco.user_logins (login, user_id) values (session_user || 'x', gen_random_uuid())",
        "update cco.user_logins set user_id = gen_random_uuid()",
        "delete from cco.user_logins",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(statement)
    # each login reads its own mapping only
    assert connection.execute("select login from cco.user_logins").fetchall() == [(name,)]


def test_the_service_role_claim_without_the_service_role_is_ignored_through_the_api(db, world):
    api = world["api"]
    with contextlib.suppress(psycopg.Rollback):
        with request(api, role="authenticated", claims={"role": "service_role"}):
            assert scalar(api, "select cco.is_service_role()") is False
            assert scalar(api, "select count(*) from cco.projects") == 0
            raise psycopg.Rollback()
    with contextlib.suppress(psycopg.Rollback):
        with request(api, role="anon", claims={"role": "service_role"}):
            assert scalar(api, "select count(*) from cco.messages") == 0
            raise psycopg.Rollback()


# ------------------------------------------------------------------------------------------------
# Statistics and locks: conversation ids are unique only per project.

B_NEWEST = datetime.datetime(2031, 3, 3, 3, 3, 3, tzinfo=datetime.timezone.utc)
A_TIME = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def twin_conversations(db, world):
    """A conversation of B's, and one of A's with the same id: ids are unique only per project."""
    admin = db.admin
    twin = new_id()
    b_project, a_project = world["ids"]["own"]["project"], world["ids"]["shared"]["project"]
    admin.execute("insert into cco.conversations (id, project_id, title) values (%s, %s, 'zebrastripe twin')", [twin, b_project])
    admin.execute("insert into cco.messages (conversation_id, project_id, role, content, \"timestamp\") "
                  "values (%s, %s, 'user', 'zebrastripe secret', %s)", [twin, b_project, B_NEWEST])
    yield twin, a_project, b_project
    admin.execute("delete from cco.conversations where id = %s", [twin])


def as_editor(world):
    return world["actors"]["editor"]


def test_statistics_of_a_twin_conversation_never_read_the_other_projects_messages(db, world, twin_conversations):
    twin, a_project, _ = twin_conversations
    api, editor = world["api"], as_editor(world)
    with request(api, claims=editor.claims(), role=editor.role):
        api.execute("insert into cco.conversations (id, project_id) values (%s, %s)", [twin, a_project])
        first = scalar(api, "insert into cco.messages (conversation_id, project_id, role, content, \"timestamp\") "
                            "values (%s, %s, 'user', 'one', %s) returning id", [twin, a_project, A_TIME])
        api.execute("insert into cco.messages (conversation_id, project_id, role, content, \"timestamp\") "
                    "values (%s, %s, 'user', 'two', %s)", [twin, a_project, A_TIME])
        api.execute("delete from cco.messages where id = %s", [first])  # recomputes last_updated
        api.execute("update cco.messages set \"timestamp\" = %s where conversation_id = %s and project_id = %s",
                    [A_TIME + datetime.timedelta(seconds=1), twin, a_project])  # and again
        seen = api.execute("select c.last_updated, p.last_activity from cco.conversations c "
                           "join cco.projects p on p.id = c.project_id where c.id = %s", [twin]).fetchall()
    assert len(seen) == 1 and seen[0][0] == A_TIME + datetime.timedelta(seconds=1), seen
    assert seen[0][1] != B_NEWEST, "A's last_activity took B's newest message time"
    # B's conversation is untouched
    assert db.admin.execute("select last_updated, message_count from cco.conversations c "
                            "where id = %s and project_id <> %s", [twin, a_project]).fetchall() == [(B_NEWEST, 1)]


def test_a_writer_of_one_project_does_not_block_the_other_projects_writers(db, world, twin_conversations):
    twin, a_project, b_project = twin_conversations
    editor, b_owner = as_editor(world), world["actors"]["stranger"]
    holder, writer = db.connect_api(), db.connect_api()
    with request(holder, claims=editor.claims(), role=editor.role):
        holder.execute("insert into cco.conversations (id, project_id) values (%s, %s)", [twin, a_project])
    try:
        with request(holder, claims=editor.claims(), role=editor.role):
            # A's statement locks its conversation for the statistics and keeps the lock open
            holder.execute("insert into cco.messages (conversation_id, project_id, role, content) "
                           "values (%s, %s, 'user', 'holding')", [twin, a_project])
            with request(writer, claims=b_owner.claims(), role=b_owner.role):
                writer.execute("set local lock_timeout = '1s'")
                writer.execute("insert into cco.messages (conversation_id, project_id, role, content) "
                               "values (%s, %s, 'user', 'not blocked')", [twin, b_project])
    finally:
        holder.close()
        writer.close()


# ------------------------------------------------------------------------------------------------
# Notifications.

@pytest.mark.parametrize("listener_actor", ("outsider", "unmapped"))
def test_notifications_tell_a_listener_nothing_about_other_tenants(db, logins, world, listener_actor):
    listener = logins["connections"][listener_actor]
    listener.execute("listen cco_messages")
    try:
        b_owner = world["actors"]["stranger"]
        api = world["api"]
        with request(api, claims=b_owner.claims(), role=b_owner.role):
            api.execute("insert into cco.messages (conversation_id, role, content) values (%s, 'user', 'zebrastripe news')",
                        [world["ids"]["own"]["conversation"]])
            api.execute("delete from cco.messages where content = 'zebrastripe news'")
        received = list(listener.notifies(timeout=2, stop_after=1))
    finally:
        listener.execute("unlisten cco_messages")
    assert [n.payload for n in received] == [""]


# ------------------------------------------------------------------------------------------------
# Ownership: no answer to "does B have a project named so, at this path, with this id?".

def refused(api, actor, query, params=None) -> str | None:
    """The SQLSTATE a request fails with (None when it succeeds); undone either way."""
    try:
        with contextlib.suppress(psycopg.Rollback):
            with request(api, claims=actor.claims(), role=actor.role):
                api.execute(query, params)
                raise psycopg.Rollback()
    except psycopg.Error as error:
        return error.sqlstate
    return None


@pytest.mark.parametrize("attacker", ("owner", "editor", "viewer"))
def test_unique_keys_answer_no_existence_questions(db, world, attacker):
    api, actors = world["api"], world["actors"]
    who, b_owner = actors[attacker], actors["stranger"].user
    b_path, b_name = "/src/zebrastripe", "zebrastripe-app"
    with request(api, claims=who.claims(), role=who.role):
        mine = scalar(api, "insert into cco.projects (name, path) values (%s, %s) returning id",
                      [f"throwaway {attacker}", f"/tmp/{attacker}"])
    try:
        for owner in (b_owner, None):
            answers = {
                refused(api, who, "update cco.projects set owner_id = %s, path = %s where id = %s", [owner, path, mine])
                for path in (b_path, "/nowhere/at/all")
            } | {
                refused(api, who, "update cco.projects set owner_id = %s, name = %s where id = %s", [owner, name, mine])
                for name in (b_name, "no such name")
            } | {
                refused(api, who, "insert into cco.projects (name, path, owner_id) values (%s, %s, %s)", [name, path, owner])
                for name, path in ((b_name, b_path), ("no such name", "/nowhere/at/all"))
            }
            assert answers == {"42501"}, f"owner {owner}: {answers}"
    finally:
        db.admin.execute("delete from cco.projects where id = %s", [mine])


@pytest.mark.parametrize("attacker", ("owner", "stranger"))
def test_a_known_project_id_does_not_collide(db, world, attacker):
    api, who = world["api"], world["actors"][attacker]
    other = world["ids"]["own" if attacker == "owner" else "shared"]["project"]
    for wanted in (other, str(new_id())):
        with request(api, claims=who.claims(), role=who.role):
            given = scalar(api, "insert into cco.projects (id, name, path) values (%s, %s, %s) returning id",
                           [wanted, f"probe {wanted}", f"/probe/{wanted}"])
        assert str(given) != wanted  # the server chose the id
        db.admin.execute("delete from cco.projects where id = %s", [given])


def test_an_owner_cannot_give_a_project_away_or_take_one_not_theirs(db, world):
    api, actors = world["api"], world["actors"]
    shared, own = world["ids"]["shared"]["project"], world["ids"]["own"]["project"]
    assert refused(api, actors["owner"], "update cco.projects set owner_id = %s where id = %s",
                   [actors["viewer"].user, shared]) == "42501"
    assert refused(api, actors["editor"], "select cco.take_over_project(%s)", [shared]) == "42501"
    assert refused(api, actors["owner"], "select cco.take_over_project(%s)", [own]) == "42501"
    assert refused(api, actors["anonymous"], "insert into cco.projects (name, path) values ('x', '/x')") == "42501"


# ------------------------------------------------------------------------------------------------
# The rank index: rows of B are never fetched for A's callers, so neither EXPLAIN ANALYZE nor the
# statistics views can tell whether B's text holds a word.

ABSENT = "nosuchwordanywhere"
INDEX_CALLS = {
    "match": ("select count(*) from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s)", lambda w: [w]),
    "search_messages": ("select count(*) from cco.search_messages(%s)", lambda w: [w]),
    "search_conversations": ("select count(*) from cco.search_conversations(%s)", lambda w: [w]),
    "similar_messages": ("select count(*) from cco.similar_messages(%s, similarity_threshold => 0.01)",
                         lambda w: [f"{w} handler failed"]),
    "get_search_suggestions": ("select count(*) from cco.get_search_suggestions(%s, 'message', 10)", lambda w: [w[:6]]),
    "get_search_suggestions project": ("select count(*) from cco.get_search_suggestions(%s, 'project', 10)",
                                       lambda w: [w[:6]]),
    "search_projects": ("select count(*) from cco.search_projects(%s)", lambda w: [w]),
    "match conversations": ("select count(*) from cco.conversations where search_vector operator(cco.@@) cco.to_tsquery(%s)",
                            lambda w: [w]),
    "match projects": ("select count(*) from cco.projects where search_vector operator(cco.@@) cco.to_tsquery(%s)",
                       lambda w: [w]),
    "search_statistics": ("select document_frequencies from cco.search_statistics(%s)", lambda w: [w]),
}


# How each call is planned while its counters are compared. For a member of A the custom plan of
# search_conversations over conversations and projects changes with the planner's estimates for the
# word (PostgreSQL's statistics cover every tenant's rows: a channel docs/security.md lists), which
# moves those tables' counters by a row or two. Under one generic plan for both words nothing moves:
# the difference is the planner's, and cco's own scans fetch no row of B.
PLAN_CACHE_MODE = {"search_conversations": "force_generic_plan"}


def rows_fetched(connection, tables) -> int:
    return scalar(connection, "select coalesce(sum(idx_tup_fetch), 0)::bigint + coalesce(sum(seq_tup_read), 0)::bigint"
                              " from pg_stat_xact_user_tables where schemaname = 'cco' and relname = any (%s)",
                  [list(tables)])


def fetched_for(connection, query, params, tables) -> tuple[int, str]:
    before = rows_fetched(connection, tables)
    result = json.dumps(connection.execute(query, params).fetchall(), default=str)
    return rows_fetched(connection, tables) - before, result


@pytest.mark.parametrize("name", sorted(INDEX_CALLS))
@pytest.mark.parametrize("way", ("api", "login"))
@pytest.mark.parametrize("attacker", ("owner", "editor", "viewer", "outsider", "anonymous"))
def test_the_rank_index_fetches_no_row_of_another_tenant(db, logins, world, name, way, attacker):
    if way == "api" and attacker == "outsider":
        pytest.skip("the API's stranger is B's owner; its outsider is the login's")
    query, params = INDEX_CALLS[name]
    observed = {}
    for word in (MARKER["own"], ABSENT):
        if way == "api":
            connection, who = world["api"], world["actors"][attacker]
            context = request(connection, claims=who.claims(), role=who.role)
        else:
            connection = logins["connections"]["unmapped" if attacker == "anonymous" else attacker]
            context = connection.transaction()
        with contextlib.suppress(psycopg.Rollback):
            with context:
                if name in PLAN_CACHE_MODE:
                    connection.execute(f"set local plan_cache_mode = {PLAN_CACHE_MODE[name]}")
                observed[word] = fetched_for(connection, query, params(word),
                                             ("messages", "conversations", "projects"))
                raise psycopg.Rollback()
    fetched, result = observed[MARKER["own"]]
    assert (fetched, result) == observed[ABSENT], f"{name} as {attacker} through {way}: {observed}"


@pytest.mark.parametrize("attacker", ("owner", "editor", "viewer", "anonymous"))
def test_search_conversations_custom_plans_fetch_no_message_of_another_tenant(world, attacker):
    """Under the plans the planner picks per word, the messages B holds are still never fetched."""
    api, who = world["api"], world["actors"][attacker]
    query, params = INDEX_CALLS["search_conversations"]
    observed = {}
    for word in (MARKER["own"], ABSENT):
        with contextlib.suppress(psycopg.Rollback):
            with request(api, claims=who.claims(), role=who.role):
                observed[word] = fetched_for(api, query, params(word), ("messages",))
                raise psycopg.Rollback()
    assert observed[MARKER["own"]] == observed[ABSENT], observed


@pytest.mark.parametrize("table", ("messages", "conversations", "projects"))
def test_explain_analyze_removes_no_row_of_another_tenant(world, table):
    api, viewer = world["api"], world["actors"]["viewer"]
    plans = {}
    for word in (MARKER["own"], ABSENT):
        with contextlib.suppress(psycopg.Rollback):
            with request(api, claims=viewer.claims(), role=viewer.role):
                api.execute("set local enable_seqscan = off")  # the tiny tables would be scanned whole
                plans[word] = api.execute(
                    f"explain (analyze, format json) select * from cco.{table} "
                    "where search_vector operator(cco.@@) cco.to_tsquery(%s)", [word]).fetchone()[0]
                raise psycopg.Rollback()

    def removed(node) -> int:
        return (node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
                + sum(removed(child) for child in node.get("Plans", [])))

    for word, plan in plans.items():
        assert removed(plan[0]["Plan"]) == 0, f"{word}: {plan}"


def test_writers_under_row_level_security_still_find_their_own_rows(world):
    """The scope inside the scan is the caller's readable projects: their own matches still come."""
    api, viewer = world["api"], world["actors"]["viewer"]
    with request(api, claims=viewer.claims(), role=viewer.role):
        assert scalar(api, "select count(*) from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s)",
                      [MARKER["shared"]]) == 1
        assert scalar(api, "select count(*) from cco.search_messages(%s)", [MARKER["shared"]]) == 1


def test_concurrent_twin_inserts_keep_both_projects_statistics_exact(db, world, twin_conversations):
    twin, a_project, b_project = twin_conversations
    editor, b_owner = as_editor(world), world["actors"]["stranger"]
    with request(world["api"], claims=editor.claims(), role=editor.role):
        world["api"].execute("insert into cco.conversations (id, project_id) values (%s, %s)", [twin, a_project])
    errors = []

    def insert_many(actor, project):
        connection = db.connect_api()
        try:
            for _ in range(10):
                with request(connection, claims=actor.claims(), role=actor.role):
                    connection.execute("insert into cco.messages (conversation_id, project_id, role, content) "
                                       "select %s, %s, 'user', 'm' || g from generate_series(1, 5) g", [twin, project])
        except psycopg.Error as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=insert_many, args=(editor, a_project)),
               threading.Thread(target=insert_many, args=(b_owner, b_project))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = {str(project): count for project, count in db.admin.execute(
        "select project_id, message_count from cco.conversations where id = %s", [twin]).fetchall()}
    assert counts == {a_project: 50, b_project: 51}
