"""The data model: constraints, cascades, derived columns and threads, as an administrator sees them."""

from __future__ import annotations

import psycopg
import pytest

from conftest import new_id, scalar, sqlstate_of

CHECK = "23514"
NOT_NULL = "23502"
UNIQUE = "23505"
FOREIGN_KEY = "23503"
NOT_SUPPORTED = "0A000"


@pytest.fixture
def admin(db):
    return db.admin


def make_project(admin, name=None, path=None, owner=None):
    name = name or f"project-{new_id().hex[:8]}"
    return scalar(
        admin,
        "insert into cco.projects (name, path, owner_id) values (%s, %s, %s) returning id",
        [name, path or f"/src/{name}", owner],
    )


def make_conversation(admin, project_id, **columns):
    names = ["project_id", *columns]
    values = [project_id, *columns.values()]
    return scalar(
        admin,
        f"insert into cco.conversations ({', '.join(names)}) "
        f"values ({', '.join(['%s'] * len(values))}) returning id",
        values,
    )


def add_message(admin, conversation_id, content="hello", parent_id=None, role="user", **columns):
    names = ["conversation_id", "content", "parent_id", "role", *columns]
    values = [conversation_id, content, parent_id, role, *columns.values()]
    return scalar(
        admin,
        f"insert into cco.messages ({', '.join(names)}) "
        f"values ({', '.join(['%s'] * len(values))}) returning id",
        values,
    )


def conversation_row(admin, conversation_id):
    return admin.execute(
        "select message_count, input_tokens, output_tokens, cache_creation_tokens, "
        "cache_read_tokens, last_updated from cco.conversations where id = %s",
        [conversation_id],
    ).fetchone()


class TestConstraints:
    @pytest.mark.parametrize(
        "name, path, description, expected",
        [
            ("", "/p", None, CHECK),
            ("x" * 256, "/p", None, CHECK),
            ("ok", "", None, CHECK),
            ("ok", "   ", None, CHECK),
            ("ok", "/p", "d" * 2001, CHECK),
            (None, "/p", None, NOT_NULL),
            ("ok", None, None, NOT_NULL),
        ],
    )
    def test_project_columns_are_checked(self, admin, name, path, description, expected):
        assert sqlstate_of(lambda: admin.execute(
            "insert into cco.projects (name, path, description) values (%s, %s, %s)",
            [name, path, description],
        )) == expected

    def test_project_limits_are_inclusive(self, admin):
        make_project(admin, name="n" * 255)
        assert scalar(admin, "select count(*) from cco.projects where name = %s", ["n" * 255]) == 1
        assert sqlstate_of(lambda: admin.execute(
            "insert into cco.projects (name, path, description) values ('d2000', '/d', %s)",
            ["d" * 2000],
        )) is None

    def test_updated_at_cannot_precede_created_at(self, admin):
        assert sqlstate_of(lambda: admin.execute(
            "insert into cco.projects (name, path, created_at, updated_at) "
            "values ('early', '/early', now(), now() - interval '1 day')"
        )) == CHECK

    def test_project_name_and_path_are_unique_per_owner(self, admin):
        owner, other = new_id(), new_id()
        make_project(admin, name="api", path="/src/api", owner=owner)
        assert sqlstate_of(lambda: make_project(admin, "api", "/elsewhere", owner)) == UNIQUE
        assert sqlstate_of(lambda: make_project(admin, "api2", "/src/api", owner)) == UNIQUE
        # another owner may use the same name and path
        assert sqlstate_of(lambda: make_project(admin, "api", "/src/api", other)) is None
        # projects without owner are unique among themselves too
        make_project(admin, name="shared", path="/shared")
        assert sqlstate_of(lambda: make_project(admin, "shared", "/shared2")) == UNIQUE

    def test_settings_and_metadata_must_be_objects(self, admin):
        assert sqlstate_of(lambda: admin.execute(
            "insert into cco.projects (name, path, settings) values ('s', '/s', '[]')"
        )) == CHECK

    @pytest.mark.parametrize(
        "column, value",
        [("status", "paused"), ("title", "t" * 501), ("metadata", "\"text\"")],
    )
    def test_conversation_columns_are_checked(self, admin, column, value):
        project = make_project(admin)
        assert sqlstate_of(lambda: admin.execute(
            f"insert into cco.conversations (project_id, {column}) values (%s, %s)",
            [project, value],
        )) == CHECK

    def test_conversation_file_path_is_unique_in_a_project(self, admin):
        project = make_project(admin)
        make_conversation(admin, project, file_path="/t/a.jsonl")
        assert sqlstate_of(lambda: make_conversation(admin, project, file_path="/t/a.jsonl")) == UNIQUE
        assert sqlstate_of(lambda: make_conversation(admin, make_project(admin), file_path="/t/a.jsonl")) is None

    @pytest.mark.parametrize(
        "columns, expected",
        [
            ({"role": "robot"}, CHECK),
            ({"content": ""}, CHECK),
            ({"content": "x" * 1_000_001}, CHECK),
            ({"token_count": -1}, CHECK),
            ({"output_tokens": -5}, CHECK),
            ({"metadata": "[1]"}, CHECK),
            ({"content": None}, NOT_NULL),
            ({"role": None}, NOT_NULL),
        ],
    )
    def test_message_columns_are_checked(self, admin, columns, expected):
        conversation = make_conversation(admin, make_project(admin))
        values = {"content": "hi", "role": "user", **columns}
        assert sqlstate_of(lambda: admin.execute(
            f"insert into cco.messages (conversation_id, {', '.join(values)}) "
            f"values (%s, {', '.join(['%s'] * len(values))})",
            [conversation, *values.values()],
        )) == expected

    def test_message_content_of_exactly_one_million_characters_is_accepted(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        add_message(admin, conversation, content="é" * 1_000_000)
        assert scalar(admin, "select char_length(content) from cco.messages where conversation_id = %s",
                      [conversation]) == 1_000_000

    def test_external_id_is_unique_per_conversation(self, admin):
        project = make_project(admin)
        first, second = make_conversation(admin, project), make_conversation(admin, project)
        add_message(admin, first, external_id="line-1")
        assert sqlstate_of(lambda: add_message(admin, first, external_id="line-1")) == UNIQUE
        assert sqlstate_of(lambda: add_message(admin, second, external_id="line-1")) is None

    @pytest.mark.parametrize(
        "columns, expected",
        [
            ({"tool_name": ""}, CHECK),
            ({"tool_name": "  "}, CHECK),
            ({"status": "done"}, CHECK),
            ({"execution_time_ms": -1}, CHECK),
            ({"started_at": "2025-01-02", "completed_at": "2025-01-01"}, CHECK),
            ({"tool_name": None}, NOT_NULL),
        ],
    )
    def test_tool_call_columns_are_checked(self, admin, columns, expected):
        message = add_message(admin, make_conversation(admin, make_project(admin)), role="assistant")
        values = {"tool_name": "Bash", **columns}
        assert sqlstate_of(lambda: admin.execute(
            f"insert into cco.tool_calls (message_id, {', '.join(values)}) "
            f"values (%s, {', '.join(['%s'] * len(values))})",
            [message, *values.values()],
        )) == expected

    def test_membership_role_is_checked(self, admin):
        project = make_project(admin)
        assert sqlstate_of(lambda: admin.execute(
            "insert into cco.project_members (project_id, user_id, role) values (%s, %s, 'admin')",
            [project, new_id()],
        )) == CHECK


class TestProjectIdIsFilledIn:
    def test_a_message_needs_only_its_conversation(self, admin):
        project = make_project(admin)
        conversation = make_conversation(admin, project)
        message = add_message(admin, conversation)
        assert scalar(admin, "select project_id from cco.messages where id = %s", [message]) == project

    def test_a_tool_call_needs_only_its_message(self, admin):
        project = make_project(admin)
        conversation = make_conversation(admin, project)
        message = add_message(admin, conversation, role="assistant")
        row = admin.execute(
            "insert into cco.tool_calls (message_id, tool_name) values (%s, 'Read') "
            "returning conversation_id, project_id", [message]
        ).fetchone()
        assert row == (conversation, project)

    def test_an_unknown_conversation_is_a_foreign_key_error(self, admin):
        assert sqlstate_of(lambda: add_message(admin, new_id())) == FOREIGN_KEY

    def test_a_project_id_that_contradicts_the_conversation_is_rejected(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        assert sqlstate_of(lambda: add_message(admin, conversation, project_id=make_project(admin))) == FOREIGN_KEY

    def test_a_tool_call_conversation_that_contradicts_the_message_is_rejected(self, admin):
        project = make_project(admin)
        message = add_message(admin, make_conversation(admin, project), role="assistant")
        other = make_conversation(admin, project)
        assert sqlstate_of(lambda: admin.execute(
            "insert into cco.tool_calls (message_id, conversation_id, tool_name) values (%s, %s, 'Bash')",
            [message, other],
        )) == CHECK

    def test_rows_do_not_move_between_projects(self, admin):
        project = make_project(admin)
        conversation = make_conversation(admin, project)
        message = add_message(admin, conversation)
        assert sqlstate_of(lambda: admin.execute(
            "update cco.conversations set project_id = %s where id = %s", [make_project(admin), conversation]
        )) == NOT_SUPPORTED
        assert sqlstate_of(lambda: admin.execute(
            "update cco.messages set conversation_id = %s where id = %s",
            [make_conversation(admin, project), message],
        )) == NOT_SUPPORTED


class TestCascades:
    def test_deleting_a_project_removes_everything_in_it(self, admin):
        project = make_project(admin)
        conversation = make_conversation(admin, project)
        message = add_message(admin, conversation, role="assistant")
        admin.execute("insert into cco.tool_calls (message_id, tool_name) values (%s, 'Bash')", [message])
        admin.execute("insert into cco.project_members (project_id, user_id) values (%s, %s)", [project, new_id()])
        admin.execute("delete from cco.projects where id = %s", [project])
        for table in ("conversations", "messages", "tool_calls", "project_members"):
            assert scalar(admin, f"select count(*) from cco.{table} where project_id = %s", [project]) == 0

    def test_deleting_a_message_removes_its_tool_calls(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        message = add_message(admin, conversation, role="assistant")
        admin.execute("insert into cco.tool_calls (message_id, tool_name) values (%s, 'Bash')", [message])
        admin.execute("delete from cco.messages where id = %s", [message])
        assert scalar(admin, "select count(*) from cco.tool_calls where message_id = %s", [message]) == 0

    def test_deleting_a_parent_orphans_its_subtree_and_fixes_depths(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        root = add_message(admin, conversation, "root")
        middle = add_message(admin, conversation, "middle", root)
        child = add_message(admin, conversation, "child", middle)
        grandchild = add_message(admin, conversation, "grandchild", child)
        admin.execute("delete from cco.messages where id = %s", [middle])
        rows = {id_: (parent, depth) for id_, parent, depth in admin.execute(
            "select id, parent_id, depth from cco.messages where conversation_id = %s", [conversation]
        ).fetchall()}
        assert rows[root] == (None, 0)
        assert rows[child] == (None, 0)
        assert rows[grandchild] == (child, 1)


class TestThreads:
    def test_depth_is_parent_depth_plus_one_whatever_the_client_says(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        root = add_message(admin, conversation, depth=7)
        reply = add_message(admin, conversation, parent_id=root, depth=0)
        branch = add_message(admin, conversation, parent_id=root)
        leaf = add_message(admin, conversation, parent_id=reply)
        depths = dict(admin.execute(
            "select id, depth from cco.messages where conversation_id = %s", [conversation]
        ).fetchall())
        assert depths == {root: 0, reply: 1, branch: 1, leaf: 2}
        admin.execute("update cco.messages set depth = 40 where id = %s", [leaf])
        assert scalar(admin, "select depth from cco.messages where id = %s", [leaf]) == 2

    def test_parents_and_replies_in_one_statement(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        root, reply = new_id(), new_id()
        admin.execute(
            "insert into cco.messages (id, conversation_id, role, content, parent_id) "
            "values (%s, %s, 'user', 'q', null), (%s, %s, 'assistant', 'a', %s)",
            [root, conversation, reply, conversation, root],
        )
        assert scalar(admin, "select depth from cco.messages where id = %s", [reply]) == 1

    def test_a_parent_in_another_conversation_is_rejected(self, admin):
        project = make_project(admin)
        parent = add_message(admin, make_conversation(admin, project))
        error = None
        try:
            add_message(admin, make_conversation(admin, project), parent_id=parent)
        except psycopg.Error as caught:
            error = caught
        assert error is not None and error.sqlstate == CHECK
        assert "another conversation" in str(error)

    def test_a_missing_parent_is_a_foreign_key_error(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        assert sqlstate_of(lambda: add_message(admin, conversation, parent_id=new_id())) == FOREIGN_KEY

    def test_cycles_are_rejected(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        a = add_message(admin, conversation, "a")
        b = add_message(admin, conversation, "b", a)
        c = add_message(admin, conversation, "c", b)
        assert sqlstate_of(lambda: admin.execute(
            "update cco.messages set parent_id = %s where id = %s", [c, a])) == CHECK
        assert sqlstate_of(lambda: admin.execute(
            "update cco.messages set parent_id = %s where id = %s", [a, a])) == CHECK

    def test_moving_a_subtree_recomputes_its_depths(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        a = add_message(admin, conversation, "a")
        b = add_message(admin, conversation, "b")
        b1 = add_message(admin, conversation, "b1", b)
        b2 = add_message(admin, conversation, "b2", b1)
        admin.execute("update cco.messages set parent_id = %s where id = %s", [a, b])
        depths = dict(admin.execute(
            "select id, depth from cco.messages where conversation_id = %s", [conversation]).fetchall())
        assert depths == {a: 0, b: 1, b1: 2, b2: 3}

    def test_rebuild_thread_depths_repairs_rows_loaded_without_triggers(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        project = scalar(admin, "select project_id from cco.conversations where id = %s", [conversation])
        ids = [new_id() for _ in range(4)]
        with admin.transaction():
            admin.execute("set local session_replication_role = replica")
            # children first and every depth wrong: what a raw bulk load can leave behind
            for index in (3, 2, 1, 0):
                admin.execute(
                    "insert into cco.messages (id, conversation_id, project_id, role, content, parent_id, depth) "
                    "values (%s, %s, %s, 'user', 'x', %s, 99)",
                    [ids[index], conversation, project, ids[index - 1] if index else None],
                )
        assert scalar(admin, "select cco.rebuild_thread_depths(%s)", [conversation]) == 4
        assert scalar(admin, "select cco.rebuild_thread_depths(%s)", [conversation]) == 0
        depths = dict(admin.execute(
            "select id, depth from cco.messages where conversation_id = %s", [conversation]).fetchall())
        assert depths == {ids[0]: 0, ids[1]: 1, ids[2]: 2, ids[3]: 3}

    def test_message_thread_returns_ancestors_root_first(self, admin):
        conversation = make_conversation(admin, make_project(admin))
        a = add_message(admin, conversation, "a")
        b = add_message(admin, conversation, "b", a)
        add_message(admin, conversation, "sibling", a)
        c = add_message(admin, conversation, "c", b)
        rows = admin.execute("select id, parent_id, depth, role from cco.message_thread(%s)", [c]).fetchall()
        assert rows == [(a, None, 0, "user"), (b, a, 1, "user"), (c, b, 2, "user")]
        assert admin.execute("select * from cco.message_thread(%s)", [new_id()]).fetchall() == []


class TestDerivedColumns:
    def test_statistics_follow_inserts_updates_and_deletes(self, admin):
        project = make_project(admin)
        conversation = make_conversation(admin, project)
        assert conversation_row(admin, conversation) == (0, 0, 0, 0, 0, None)
        admin.execute(
            "insert into cco.messages (conversation_id, role, content, \"timestamp\", input_tokens, output_tokens, "
            "cache_creation_tokens, cache_read_tokens) select %s, 'assistant', 'm' || g, "
            "timestamptz '2025-01-01' + g * interval '1 minute', 1, 2, 3, 4 from generate_series(1, 100) g",
            [conversation],
        )
        count, inp, out, write, read, last = conversation_row(admin, conversation)
        assert (count, inp, out, write, read) == (100, 100, 200, 300, 400)
        assert str(last.date()) == "2025-01-01" and last.hour == 1 and last.minute == 40
        assert scalar(admin, "select last_activity from cco.projects where id = %s", [project]) == last

        admin.execute("update cco.messages set output_tokens = 0 where conversation_id = %s "
                      "and content in ('m1', 'm2')", [conversation])
        assert conversation_row(admin, conversation)[2] == 196

        admin.execute("delete from cco.messages where conversation_id = %s and content = 'm100'", [conversation])
        count, _, out, _, _, last = conversation_row(admin, conversation)
        assert (count, out) == (99, 194)
        assert last.hour == 1 and last.minute == 39
        assert scalar(admin, "select last_activity from cco.projects where id = %s", [project]) == last

        admin.execute("delete from cco.messages where conversation_id = %s", [conversation])
        assert conversation_row(admin, conversation) == (0, 0, 0, 0, 0, None)
        assert scalar(admin, "select last_activity from cco.projects where id = %s", [project]) is None

    def test_clients_cannot_insert_made_up_statistics(self, admin):
        project = scalar(admin, "insert into cco.projects (name, path, last_activity) values "
                                "('made-up', '/made-up', now()) returning id")
        conversation = make_conversation(admin, project, message_count=500, output_tokens=9)
        assert conversation_row(admin, conversation)[:3] == (0, 0, 0)
        assert scalar(admin, "select last_activity from cco.projects where id = %s", [project]) is None

    def test_updated_at_moves_on_user_changes_only(self, admin):
        project = make_project(admin)
        conversation = make_conversation(admin, project)
        admin.execute("update cco.conversations set updated_at = created_at where id = %s", [conversation])
        before = scalar(admin, "select updated_at from cco.conversations where id = %s", [conversation])
        add_message(admin, conversation)
        assert scalar(admin, "select updated_at from cco.conversations where id = %s", [conversation]) == before
        admin.execute("update cco.conversations set title = 'renamed' where id = %s", [conversation])
        assert scalar(admin, "select updated_at > %s from cco.conversations where id = %s",
                      [before, conversation]) in (True, False)  # same transaction time is allowed
        admin.execute("update cco.projects set description = 'changed' where id = %s", [project])
        assert scalar(admin, "select updated_at >= created_at from cco.projects where id = %s", [project])


class TestCatalog:
    """Properties of the installed schema that must hold for every object, now and later."""

    def test_nothing_is_installed_in_public(self, admin):
        objects = admin.execute(
            "select classid::regclass, objid from pg_depend d join pg_extension e on e.oid = d.refobjid "
            "where e.extname = 'cco' and d.deptype = 'e' and ("
            "  (classid = 'pg_class'::regclass and (select relnamespace from pg_class where oid = objid) <> 'cco'::regnamespace)"
            "  or (classid = 'pg_proc'::regclass and (select pronamespace from pg_proc where oid = objid) <> 'cco'::regnamespace))"
        ).fetchall()
        assert objects == []

    def test_every_table_has_row_level_security(self, admin):
        unprotected = admin.execute(
            "select relname from pg_class where relnamespace = 'cco'::regnamespace "
            "and relkind = 'r' and not relrowsecurity"
        ).fetchall()
        assert unprotected == []

    def test_every_security_definer_function_pins_its_search_path(self, admin):
        unpinned = admin.execute(
            "select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'cco'::regnamespace "
            "and p.prosecdef and not exists (select 1 from unnest(p.proconfig) c where c like 'search_path=%%')"
        ).fetchall()
        assert unpinned == []

    def test_every_view_runs_with_the_callers_rights(self, admin):
        definer_views = admin.execute(
            "select relname from pg_class where relnamespace = 'cco'::regnamespace and relkind = 'v' "
            "and not coalesce(reloptions @> array['security_invoker=true'], false)"
        ).fetchall()
        assert definer_views == []

    def test_every_table_column_view_and_function_is_documented(self, admin):
        missing = admin.execute(
            """
            select 'relation ' || c.relname from pg_class c
            where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'v', 'm')
              and obj_description(c.oid, 'pg_class') is null
            union all
            select 'column ' || c.relname || '.' || a.attname from pg_class c
            join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'v', 'm')
              and col_description(c.oid, a.attnum) is null
            union all
            select 'function ' || p.oid::regprocedure from pg_proc p
            where p.pronamespace = 'cco'::regnamespace and obj_description(p.oid, 'pg_proc') is null
            """
        ).fetchall()
        assert missing == []
