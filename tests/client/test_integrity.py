"""Nothing is lost or miscounted: concurrent writers, notifications, and a dump/restore round trip."""

from __future__ import annotations

import os
import subprocess
import threading

import psycopg
import pytest

from conftest import create_database, drop_database, new_id, scalar

# The server's own client programs (scripts/with-cluster.sh names them): pg_dump refuses a server
# of a newer major than itself.
PG_BIN = os.environ.get("CCO_PG_BINDIR", "/usr/lib/postgresql/15/bin")


def make_conversation(admin):
    project = scalar(admin, "insert into cco.projects (name, path) values (%s, %s) returning id",
                     [f"p-{new_id().hex[:8]}", f"/p/{new_id().hex}"])
    conversation = scalar(admin, "insert into cco.conversations (project_id) values (%s) returning id", [project])
    return project, conversation


class TestConcurrentWriters:
    def test_counts_stay_exact_when_clients_insert_into_one_conversation_at_once(self, db):
        project, conversation = make_conversation(db.admin)
        second = scalar(db.admin, "insert into cco.conversations (project_id) values (%s) returning id", [project])
        clients, statements, rows_per_statement = 6, 15, 20
        errors = []

        def load(client: int):
            try:
                with psycopg.connect(dbname=db.name, autocommit=True) as connection:
                    for statement in range(statements):
                        # alternate the order of the two conversations to invite deadlocks
                        targets = [conversation, second] if (client + statement) % 2 else [second, conversation]
                        with connection.transaction():
                            for target in targets:
                                connection.execute(
                                    "insert into cco.messages (conversation_id, role, content, output_tokens) "
                                    "select %s, 'assistant', 'client ' || %s || ' row ' || g, 3 "
                                    "from generate_series(1, %s) g",
                                    [target, client, rows_per_statement])
            except Exception as error:  # collected and reported by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=load, args=(client,)) for client in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        expected = clients * statements * rows_per_statement
        for target in (conversation, second):
            count, tokens = db.admin.execute(
                "select message_count, output_tokens from cco.conversations where id = %s", [target]).fetchone()
            assert count == expected == scalar(db.admin, "select count(*) from cco.messages where conversation_id = %s", [target])
            assert tokens == 3 * expected

    def test_concurrent_deletes_and_inserts_keep_counts_exact(self, db):
        _, conversation = make_conversation(db.admin)
        db.admin.execute("insert into cco.messages (conversation_id, role, content) "
                         "select %s, 'user', 'seed ' || g from generate_series(1, 600) g", [conversation])

        def delete_some(remainder: int):
            with psycopg.connect(dbname=db.name, autocommit=True) as connection:
                for _ in range(10):
                    connection.execute(
                        "delete from cco.messages where id in (select id from cco.messages "
                        "where conversation_id = %s and content like 'seed %%' "
                        "and right(content, 1)::int %% 3 = %s limit 15)", [conversation, remainder])

        def insert_some():
            with psycopg.connect(dbname=db.name, autocommit=True) as connection:
                for _ in range(10):
                    connection.execute("insert into cco.messages (conversation_id, role, content) "
                                       "select %s, 'user', 'new' from generate_series(1, 7)", [conversation])

        threads = [threading.Thread(target=delete_some, args=(r,)) for r in range(3)]
        threads += [threading.Thread(target=insert_some) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = db.admin.execute(
            "select message_count, search_length from cco.conversations where id = %s", [conversation]).fetchone()
        # The BM25 statistics (documents and their total length) equal a recount too.
        assert stored == db.admin.execute(
            "select count(*)::int, coalesce(sum(cco.search_length(search_vector)), 0)::bigint"
            " from cco.messages where conversation_id = %s", [conversation]).fetchone()


class TestProjectFillIn:
    """A message or tool call inserted without project_id takes its conversation's (its message's)
    project: never one picked at random from several that share the id."""

    def test_an_id_in_two_projects_is_refused_instead_of_guessed(self, db):
        first, conversation = make_conversation(db.admin)
        second, _ = make_conversation(db.admin)
        db.admin.execute("insert into cco.conversations (id, project_id) values (%s, %s)", [conversation, second])
        with pytest.raises(psycopg.errors.CardinalityViolation, match="give the message's project_id"):
            db.admin.execute("insert into cco.messages (conversation_id, role, content) values (%s, 'user', 'x')",
                             [conversation])
        message = new_id()
        for project in (first, second):
            db.admin.execute("insert into cco.messages (id, conversation_id, project_id, role, content) "
                             "values (%s, %s, %s, 'user', 'twin')", [message, conversation, project])
        with pytest.raises(psycopg.errors.CardinalityViolation, match="give the tool call's project_id"):
            db.admin.execute("insert into cco.tool_calls (message_id, tool_name) values (%s, 'Read')", [message])
        # With the project given, both are taken.
        db.admin.execute("insert into cco.tool_calls (message_id, project_id, tool_name) values (%s, %s, 'Read')",
                         [message, second])
        assert scalar(db.admin, "select cco.conversation_project(%s)", [make_conversation(db.admin)[1]])

    def test_without_citus_an_insert_is_planned_as_written(self, db):
        _, conversation = make_conversation(db.admin)
        plan = "\n".join(row[0] for row in db.admin.execute(
            "explain (verbose, costs off) insert into cco.messages (conversation_id, role, content) "
            "values (%s, 'user', 'x'), (%s, 'user', 'y')", [conversation, conversation]))
        assert "conversation_project" not in plan


class TestNotifications:
    def test_one_notification_per_inserting_statement(self, db):
        _, conversation = make_conversation(db.admin)
        with psycopg.connect(dbname=db.name, autocommit=True) as listener:
            listener.execute("listen cco_messages")
            db.admin.execute("insert into cco.messages (conversation_id, role, content) "
                             "select %s, 'user', 'm' || g from generate_series(1, 250) g", [conversation])
            received = []
            for notification in listener.notifies(timeout=2):
                received.append(notification)
                if len(received) >= 1:
                    break
            # give a wrongly per-row trigger time to flood the channel
            extra = list(listener.notifies(timeout=0.5, stop_after=5))
        assert len(received) == 1 and extra == []
        # Any role may LISTEN: the signal says nothing about whose messages arrived.
        assert received[0].payload == ""


def test_tables_join_the_realtime_publication_when_it_exists(cluster):
    name = "cco_realtime_publication"
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    with psycopg.connect(dbname=name, autocommit=True) as connection:
        connection.execute("create publication supabase_realtime")
        connection.execute("create extension cco cascade")
        tables = {row[0] for row in connection.execute(
            "select tablename from pg_publication_tables where pubname = 'supabase_realtime'")}
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute(f'drop database "{name}" with (force)')
    assert {"projects", "conversations", "messages", "tool_calls"} <= tables


@pytest.fixture(scope="module")
def dump_source(cluster):
    database = create_database("cco_dump_source")
    admin = database.admin
    owner = new_id()
    admin.execute("select set_config('request.jwt.claims', %s, false)",
                  [f'{{"sub": "{owner}", "role": "authenticated"}}'])
    project = scalar(admin, "insert into cco.projects (name, path, description) values "
                            "('dumped', '/src/dumped', 'survives a restore') returning id")
    admin.execute("insert into cco.project_members (project_id, user_id, role) values (%s, %s, 'viewer')",
                  [project, new_id()])
    for index in range(3):
        conversation = scalar(admin, "insert into cco.conversations (project_id, title, file_path) "
                                     "values (%s, %s, %s) returning id",
                              [project, f"conversation {index}", f"/t/{index}.jsonl"])
        root = scalar(admin, "insert into cco.messages (conversation_id, role, content, external_id) "
                             "values (%s, 'user', 'question', 'root') returning id", [conversation])
        reply = scalar(admin, "insert into cco.messages (conversation_id, role, content, parent_id, "
                              "output_tokens, input_tokens, \"timestamp\") values (%s, 'assistant', 'it''s "
                              "fixed: ''quotes'', \\backslashes\\, tabs\t and ünïcödé', %s, 40, 12, now() + interval '1 minute') "
                              "returning id", [conversation, root])
        admin.execute("insert into cco.tool_calls (message_id, tool_name, input_data, status) "
                      "values (%s, 'Bash', '{\"command\": \"ls\"}', 'success')", [reply])
    admin.execute("insert into cco.search_history (query, search_type) values ('dump', 'message')")
    admin.execute("select set_config('request.jwt.claims', '', false)")
    yield database
    drop_database(database)


class TestDumpAndRestore:
    """pg_dump must carry all data, and a dump must restore into a fresh database as it was."""

    TABLES = ("projects", "project_members", "conversations", "messages", "tool_calls", "search_history")

    @staticmethod
    def snapshot(connection, tables):
        return {
            table: sorted(tuple(map(str, row)) for row in connection.execute(f"select * from cco.{table}"))
            for table in tables
        }

    @staticmethod
    def policies(connection):
        return sorted(connection.execute(
            "select tablename, policyname, cmd, qual, with_check from pg_policies where schemaname = 'cco'"
        ).fetchall())

    def restore_and_compare(self, source, dump_args, restore):
        target = "cco_dump_target"
        with psycopg.connect(dbname="postgres", autocommit=True) as admin:
            admin.execute(f'drop database if exists "{target}" with (force)')
            admin.execute(f'create database "{target}"')
        dump_file = f"/tmp/{target}.dump"
        subprocess.run([f"{PG_BIN}/pg_dump", *dump_args, "-f", dump_file, source.name], check=True)
        result = subprocess.run(restore(dump_file, target), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        with psycopg.connect(dbname=target, autocommit=True) as restored:
            assert self.snapshot(restored, self.TABLES) == self.snapshot(source.admin, self.TABLES)
            assert self.policies(restored) == self.policies(source.admin)
            # every original audit entry is back; the restore itself is audited on top
            original = self.snapshot(source.admin, ["audit_log"])["audit_log"]
            assert set(original) <= set(self.snapshot(restored, ["audit_log"])["audit_log"])
            assert scalar(restored, "select count(*) from cco.conversations c where message_count <> "
                                    "(select count(*) from cco.messages m where m.conversation_id = c.id)") == 0
        with psycopg.connect(dbname="postgres", autocommit=True) as admin:
            admin.execute(f'drop database "{target}" with (force)')
        os.remove(dump_file)

    def test_custom_format_with_pg_restore(self, dump_source):
        self.restore_and_compare(
            dump_source, ["-Fc"],
            lambda dump, target: [f"{PG_BIN}/pg_restore", "--exit-on-error", "-d", target, dump])

    def test_plain_sql_with_psql(self, dump_source):
        self.restore_and_compare(
            dump_source, ["-Fp"],
            lambda dump, target: [f"{PG_BIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-f", dump])
