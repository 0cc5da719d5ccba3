"""Crash safety: kill -9 the postmaster in the middle of a bulk load, restart, and check that every
committed load is complete, nothing half-loaded is visible, and the statistics match a recount.

The cluster is the one scripts/with-cluster.sh (or `pg_virtualenv`) started for the test run; it is
started again with `pg_ctl` (or `pg_ctlcluster`), which goes through crash recovery (WAL replay)
because it was not shut down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import scalar

MESSAGES_PER_LOAD = 40
CRASHES = 3


def postmaster_pid(connection) -> int:
    data_directory = scalar(connection, "show data_directory")
    with open(os.path.join(data_directory, "postmaster.pid"), encoding="utf-8") as pid_file:
        return int(pid_file.readline())


def children_of(pid: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in result.stdout.split()]


def start_server_again() -> None:
    bindir, data = os.environ.get("CCO_PG_BINDIR"), os.environ.get("CCO_PG_DATA")
    if bindir and data:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else ["sudo", "-u", "postgres"]
        log = os.environ.get("CCO_PG_LOG", os.path.join(data, "restart.log"))
        subprocess.run([*as_postgres, os.path.join(bindir, "pg_ctl"), "-D", data, "-l", log, "-w", "start"],
                       check=True, stdout=subprocess.DEVNULL)
    else:
        version = os.environ.get("PGVERSION", "15")
        subprocess.run(["pg_ctlcluster", version, "regress", "start"], check=True)


def crash_and_restart(admin_connection) -> None:
    """SIGKILL the postmaster, wait for its backends to notice, and start the cluster again."""
    pid = postmaster_pid(admin_connection)
    backends = children_of(pid)
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 20
    while time.time() < deadline and any(os.path.exists(f"/proc/{b}") for b in backends):
        time.sleep(0.1)
    for straggler in (b for b in backends if os.path.exists(f"/proc/{b}")):
        os.kill(straggler, signal.SIGKILL)  # a backend stuck in a long call: as if the host died
    time.sleep(0.5)
    start_server_again()
    deadline = time.time() + 60
    while True:
        try:
            with psycopg.connect(dbname="postgres", connect_timeout=2) as probe:
                probe.execute("select 1")
            return
        except psycopg.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


class Loader(threading.Thread):
    """Loads whole conversations, one transaction each, until the server goes away."""

    def __init__(self, dbname: str, project_id, number: int):
        super().__init__(daemon=True)
        self.dbname, self.project_id, self.number = dbname, project_id, number
        self.committed: list = []
        self.failure: Exception | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(dbname=self.dbname, autocommit=True) as connection:
                for load in range(100_000):
                    with connection.transaction():
                        conversation = scalar(
                            connection,
                            "insert into cco.conversations (project_id, file_path) values (%s, %s) returning id",
                            [self.project_id, f"/loader{self.number}/{load}.jsonl"])
                        # a threaded conversation: each message answers the previous one
                        connection.execute(
                            """
                            with ids as (
                                select g, gen_random_uuid() as id from generate_series(1, %(n)s) g
                            )
                            insert into cco.messages (id, conversation_id, role, content, parent_id, output_tokens)
                            select i.id, %(c)s, case when i.g %% 2 = 0 then 'assistant' else 'user' end,
                                   'line ' || i.g || ' of load ' || %(load)s, p.id, i.g
                            from ids i left join ids p on p.g = i.g - 1
                            order by i.g
                            """,
                            {"n": MESSAGES_PER_LOAD, "c": conversation, "load": load})
                        connection.execute(
                            "insert into cco.tool_calls (message_id, tool_name, status) "
                            "select id, 'Bash', 'success' from cco.messages "
                            "where conversation_id = %s and role = 'assistant'", [conversation])
                    self.committed.append(conversation)
        except psycopg.OperationalError:
            return  # the server was killed: whatever committed is in self.committed
        except psycopg.Error as error:
            self.failure = error


@pytest.fixture(scope="module")
def project(db):
    return scalar(db.admin, "insert into cco.projects (name, path) values ('crash', '/crash') returning id")


def test_committed_loads_survive_kill_9_of_the_postmaster(db, project):
    committed = []
    for crash in range(CRASHES):
        loaders = [Loader(db.name, project, number=crash * 10 + n) for n in range(3)]
        for loader in loaders:
            loader.start()
        time.sleep(1.5)
        admin = psycopg.connect(dbname=db.name, autocommit=True)
        crash_and_restart(admin)
        for loader in loaders:
            loader.join(timeout=30)
            assert loader.failure is None, f"the load failed before the crash: {loader.failure}"
            committed += loader.committed
    assert len(committed) > CRASHES, "the loaders should have committed something before each crash"

    with psycopg.connect(dbname=db.name, autocommit=True) as check:
        stored = {row[0]: row[1:] for row in check.execute(
            "select c.id, c.message_count, c.output_tokens, "
            "       (select count(*) from cco.messages m where m.conversation_id = c.id), "
            "       (select coalesce(sum(output_tokens), 0) from cco.messages m where m.conversation_id = c.id), "
            "       (select count(*) from cco.tool_calls t where t.conversation_id = c.id), "
            "       (select max(depth) from cco.messages m where m.conversation_id = c.id) "
            "from cco.conversations c where c.project_id = %s", [project])}
        # every committed load is there, complete
        missing = [c for c in committed if c not in stored]
        assert missing == []
        full_tokens = sum(range(1, MESSAGES_PER_LOAD + 1))
        for conversation, (count, tokens, recount, retokens, tool_calls, depth) in stored.items():
            # nothing half-loaded is visible: every stored conversation is whole
            assert recount == MESSAGES_PER_LOAD, conversation
            assert tool_calls == MESSAGES_PER_LOAD // 2
            assert depth == MESSAGES_PER_LOAD - 1
            # statistics match a recount
            assert (count, tokens) == (recount, retokens) == (MESSAGES_PER_LOAD, full_tokens)
        # the ranked search index agrees with the heap, before and after merging it whole
        def found(query: str, through_index: bool) -> int:
            with check.transaction():
                check.execute(f"set local enable_seqscan = {'off' if through_index else 'on'}")
                check.execute(f"set local enable_bitmapscan = {'on' if through_index else 'off'}")
                check.execute(f"set local enable_indexscan = {'on' if through_index else 'off'}")
                return scalar(check, "select count(*) from cco.messages where project_id = %s "
                                     "and search_vector @@ cco.to_tsquery(%s)", [project, query])
        for query in ("load", "line 7", "line -7"):
            assert found(query, True) == found(query, False), query
        check.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
        for query in ("load", "line 7"):
            assert found(query, True) == found(query, False), query
        # the database is healthy: indexes agree with the heap
        check.execute("create extension if not exists amcheck")
        for index in check.execute(
                "select c.oid::regclass::text from pg_index i join pg_class c on c.oid = i.indexrelid "
                "join pg_am a on a.oid = c.relam where c.relnamespace = 'cco'::regnamespace "
                "and a.amname = 'btree'").fetchall():
            check.execute("select bt_index_check(%s::regclass, true)", [index[0]])
