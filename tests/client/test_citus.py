"""cco on Citus: the same data in a single server and in a Citus cluster, and the same answers.

The module starts its own cluster (a coordinator and two workers, each its own data directory, on
free loopback ports, trust authentication), runs `cco.distribute`, loads the shared transcripts and
synthetic rows into it and into this suite's single server, and compares what both answer.

Citus is not part of cco and is not installed by its scripts: the module runs only when the
server's installation has Citus (`citus` in pg_available_extensions), and is skipped otherwise.
What does not work on Citus yet is listed in docs/citus.md.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import psycopg
import pytest

from conftest import request, scalar

NODE_START_SECONDS = 60
SHARD_COUNT = 8
# Synthetic rows get stable ids, so both databases hold exactly the same rows.
NAMESPACE = uuid.UUID("6f1c3e58-5a35-4c1e-9a57-0c2b8f6e1d10")
OWNER = uuid.uuid5(NAMESPACE, "owner")
STRANGER = uuid.uuid5(NAMESPACE, "stranger")
# Where the shared transcripts ran (their lines' cwd), and so the project a load puts them in.
ALICE_PROJECT = "/Users/user/project"
SEARCHES = ["file", "error", "test", "function", "readme failing test", "synthetic message", "readme"]


def stable_id(*parts) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts))


def _server_setting(admin: psycopg.Connection, name: str) -> str:
    return scalar(admin, "select setting from pg_config where name = %s", [name])


@pytest.fixture(scope="module")
def citus_binaries(db) -> str:
    """The server's bin directory, when its installation has Citus; skips the module otherwise."""
    available = scalar(db.admin, "select count(*) from pg_available_extensions where name = 'citus'")
    if not available:
        pytest.skip("Citus is not installed in this PostgreSQL (no citus in pg_available_extensions): "
                    "install it from Citus's own packages to run these tests")
    bindir = _server_setting(db.admin, "BINDIR")
    libdir = _server_setting(db.admin, "PKGLIBDIR")
    if not os.path.exists(os.path.join(libdir, "citus.so")):
        pytest.skip(f"citus is listed as available but {libdir}/citus.so is missing")
    for program in ("initdb", "pg_ctl"):
        if not os.access(os.path.join(bindir, program), os.X_OK):
            pytest.skip(f"{bindir}/{program} is not there to start a Citus cluster")
    return bindir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as postgres then."""
    if os.geteuid() != 0:
        return command
    runner = shutil.which("runuser")
    if runner:
        return [runner, "-u", "postgres", "--", *command]
    return ["sudo", "-u", "postgres", *command]


class Node:
    # cco is preloaded beside Citus, as docs/citus.md asks: it routes inserts without project_id.
    def __init__(self, bindir: str, base: str, name: str, preload: str = "citus,cco"):
        self.bindir = bindir
        self.preload = preload
        self.data = os.path.join(base, name)
        self.log = os.path.join(base, f"{name}.log")
        self.port = _free_port()
        self.pid: int | None = None
        self.workers: list[Node] = []

    def start(self) -> None:
        subprocess.run(
            _as_server_user([os.path.join(self.bindir, "initdb"), "-D", self.data, "-E", "UTF8",
                             "--locale=C.UTF-8", "-U", "postgres", "--auth=trust"]),
            check=True, capture_output=True, timeout=NODE_START_SECONDS)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(f"shared_preload_libraries = '{self.preload}'\nport = {self.port}\n"
                       f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{self.data}'\n"
                       "max_connections = 60\nfsync = off\n"
                       # Citus's background rebalancer moves shards by logical replication
                       "wal_level = logical\n")
        subprocess.run(
            _as_server_user([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log,
                             "-w", "-t", str(NODE_START_SECONDS), "start"]),
            check=True, capture_output=True, timeout=NODE_START_SECONDS + 10)
        with open(os.path.join(self.data, "postmaster.pid")) as pid_file:
            self.pid = int(pid_file.readline())

    def stop(self) -> None:
        """Fast shutdown of this node's postmaster, by its pid; immediate after 30 s."""
        if self.pid is None:
            return
        for sig, seconds in ((signal.SIGINT, 30), (signal.SIGQUIT, 10)):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    self.pid = None
                    return
                time.sleep(0.1)
        self.pid = None

    def connect(self, user: str = "postgres", **options) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=user, dbname="postgres",
                               autocommit=True, **options)


@contextlib.contextmanager
def citus_cluster(bindir: str, before_workers=lambda head: None, workers: int = 2,
                  preload: str = "citus,cco"):
    """A coordinator and its workers with Citus; before_workers(coordinator connection) runs
    before the workers are added. Yields the coordinator."""
    base = tempfile.mkdtemp(prefix="cco-citus-")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    names = ["coordinator"] + [f"worker{number}" for number in range(1, workers + 1)]
    nodes = [Node(bindir, base, name, preload) for name in names]
    try:
        for node in nodes:
            node.start()
        head, workers = nodes[0], nodes[1:]
        with head.connect() as admin:
            admin.execute("create extension citus")
            admin.execute("select citus_set_coordinator_host('127.0.0.1', %s)", [head.port])
            before_workers(admin)
        for worker in workers:
            with worker.connect() as admin:
                admin.execute("create extension citus")
        with head.connect() as admin:
            for worker in workers:
                admin.execute("select citus_add_node('127.0.0.1', %s)", [worker.port])
        head.workers = workers
        yield head
    finally:
        for node in reversed(nodes):
            node.stop()
        shutil.rmtree(base, ignore_errors=True)


def _install_cco(admin: psycopg.Connection) -> None:
    for login in ("alice", "bob"):
        admin.execute(f"create role {login} login")
    admin.execute("create extension cco cascade")


@pytest.fixture(scope="module")
def coordinator(citus_binaries):
    """A running Citus cluster with cco distributed; yields the coordinator."""
    with citus_cluster(citus_binaries, _install_cco) as head:
        with head.connect() as admin:
            admin.execute("select cco.distribute(%s)", [SHARD_COUNT])
        yield head


# -- the same data in both ---------------------------------------------------------------------

def _load(connection: psycopg.Connection, transcripts: list[str]) -> None:
    """The shared transcripts through cco.ingest_transcript, then synthetic rows with threads,
    tokens and timestamps, then the identities the security tests use."""
    for path in transcripts:
        with open(path) as transcript:
            connection.execute("select cco.ingest_transcript(%s, %s, '/Users/user/project')",
                               [transcript.read(), path])
    for project_number in range(6):
        project = stable_id("project", project_number)
        connection.execute(
            "insert into cco.projects (id, name, path, owner_id) values (%s, %s, %s, %s)",
            [project, f"synthetic {project_number}", f"/srv/synthetic/{project_number}", OWNER])
        for conversation_number in range(3):
            conversation = stable_id("conversation", project_number, conversation_number)
            connection.execute(
                "insert into cco.conversations (id, project_id, title) values (%s, %s, %s)",
                [conversation, project, f"synthetic conversation {conversation_number}"])
            rows = []
            for message_number in range(12):
                parent = (stable_id("message", project_number, conversation_number, message_number - 1)
                          if message_number else None)
                rows.append((
                    stable_id("message", project_number, conversation_number, message_number),
                    conversation, project, "user" if message_number % 2 == 0 else "assistant",
                    f"synthetic message {message_number} about the readme file and a failing test "
                    f"in src/module_{project_number}.rs error E{message_number % 4}",
                    f"2025-11-{1 + project_number:02d} 10:{conversation_number:02d}:{message_number:02d}+00",
                    message_number * 10, message_number * 3, parent))
            with connection.cursor() as cursor:
                cursor.executemany(
                    "insert into cco.messages (id, conversation_id, project_id, role, content, "
                    "\"timestamp\", input_tokens, output_tokens, parent_id, token_count) "
                    "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1)", rows)
    connection.execute(
        "insert into cco.user_logins (login, user_id) values ('alice', %s), ('bob', %s)",
        [OWNER, STRANGER])
    connection.execute("grant usage on schema cco to alice, bob")
    connection.execute("grant select on all tables in schema cco to alice, bob")


def _at_once(work, count: int) -> None:
    """Runs work(0) ... work(count - 1) in threads at once, and fails with their errors."""
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            work(number)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def _write_concurrently(connect, conversation: uuid.UUID, project: uuid.UUID) -> None:
    """Eight writers insert into one conversation at once, each its own transactions."""

    def writer(number: int) -> None:
        with connect() as connection:
            for batch in range(5):
                connection.execute(
                    "insert into cco.messages (id, conversation_id, project_id, role, content, "
                    "\"timestamp\", input_tokens) "
                    "select %s::uuid, %s, %s, 'user', 'concurrent writer ' || %s::text, "
                    "'2025-11-20 12:00:00+00'::timestamptz + make_interval(secs => %s), 7",
                    [stable_id("concurrent", number, batch), conversation, project,
                     number, number * 10 + batch])

    _at_once(writer, 8)


@pytest.fixture(scope="module")
def transcripts(fixtures_dir) -> list[str]:
    return sorted(glob.glob(os.path.join(fixtures_dir, "*.jsonl")))


@pytest.fixture(scope="module")
def loaded(db, coordinator, transcripts):
    """(single, distributed): admin connections to both, loaded alike."""
    distributed = coordinator.connect()
    for login in ("alice", "bob"):
        if not scalar(db.admin, "select count(*) from pg_roles where rolname = %s", [login]):
            db.admin.execute(f"create role {login} login")
    for connection, connect in ((db.admin, db.connect_admin), (distributed, coordinator.connect)):
        _load(connection, transcripts)
        _write_concurrently(connect, stable_id("conversation", 0, 0), stable_id("project", 0))
    # On Citus the coordinator's project activity worker follows plain INSERTs (docs/citus.md).
    assert scalar(db.admin, "select cco.refresh_project_activity()") == 0
    _wait_for_project_activity(distributed)
    yield db.admin, distributed
    distributed.close()


def _wait_for_project_activity(distributed: psycopg.Connection, seconds: float = 20) -> None:
    """Waits until the coordinator's project activity worker took every note of a project whose
    messages changed: it takes them and sets last_activity in one transaction."""
    deadline = time.monotonic() + seconds
    while scalar(distributed, "select count(*) from cco.project_activity_changes"):
        assert time.monotonic() < deadline, "the project activity worker did not catch up"
        time.sleep(0.1)


def both(loaded, query: str, params=None) -> tuple[list, list]:
    single, distributed = loaded
    return (single.execute(query, params).fetchall(), distributed.execute(query, params).fetchall())


# Ingested rows get fresh ids in each database: they are compared by their transcript keys.
MESSAGE_KEY = "coalesce(m.external_id, m.id::text)"
CONVERSATION_KEY = "coalesce(c.file_path, c.id::text)"


# -- tests -------------------------------------------------------------------------------------

def test_distribute_made_the_tables_distributed_and_reference_tables(loaded):
    _, distributed = loaded
    kinds = dict(distributed.execute(
        "select logicalrelid::regclass::text, partmethod from pg_dist_partition "
        "where logicalrelid::regclass::text like 'cco.%'").fetchall())
    for table in ("cco.conversations", "cco.messages", "cco.tool_calls",
                  "cco.transcript_summaries", "cco.audit_log", "cco.search_history"):
        assert kinds[table] == "h", table
    for table in ("cco.projects", "cco.project_members", "cco.user_logins", "cco.model_pricing"):
        assert kinds[table] == "n", table
    colocation = distributed.execute(
        "select count(distinct colocationid) from pg_dist_partition where logicalrelid = any "
        "(array['cco.conversations', 'cco.messages', 'cco.tool_calls', 'cco.audit_log']::regclass[])"
    ).fetchone()[0]
    assert colocation == 1


def test_distribute_again_is_refused_and_without_citus_it_says_what_is_missing(loaded, db):
    _, distributed = loaded
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        distributed.execute("select cco.distribute()")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="needs the citus extension"):
        db.admin.execute("select cco.distribute()")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="cco is not distributed"):
        db.admin.execute("select cco.prepare_added_nodes()")


def test_distribute_without_cco_preloaded_says_so(citus_binaries):
    """Without cco in shared_preload_libraries, a new session's first INSERT without project_id
    would reach Citus unrouted: cco.distribute refuses and names the setting."""
    with citus_cluster(citus_binaries, _install_cco, workers=0, preload="citus") as head:
        with head.connect() as admin:
            assert scalar(admin, "select cco.loaded_at_server_start()") is False
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState,
                               match="needs cco in shared_preload_libraries") as refused:
                admin.execute("select cco.distribute(%s)", [SHARD_COUNT])
            assert "'citus,cco'" in refused.value.diag.message_hint
            assert scalar(admin, "select count(*) from pg_dist_partition") == 0


def test_inserts_without_project_id_take_it_from_their_conversation_alike(loaded, db, coordinator):
    """On a single server the row trigger fills in project_id; on Citus, which routes a row by
    project_id before any trigger runs, the INSERT itself carries the lookup. Every way a client
    writes: one row as a new session's first statement, several rows, a prepared statement past
    its switch to a generic plan, a PostgREST-style insert from a JSON body, tool calls; as a user
    under row level security, and refused alike for a conversation the user cannot see."""
    project = stable_id("project", "fill-in")
    conversation = stable_id("conversation", "fill-in")

    def message(number: int) -> list:
        return [stable_id("fill-in", number), conversation, "user" if number % 2 == 0 else "assistant",
                f"fill-in message {number}", f"2025-11-28 09:{number:02d}:00+00",
                stable_id("fill-in", number - 1) if number else None, number]

    insert = ("insert into cco.messages (id, conversation_id, role, content, \"timestamp\", parent_id, "
              "input_tokens) values (%s, %s, %s, %s, %s, %s, %s)")
    for single in (True, False):
        connect = (lambda **options: psycopg.connect(dbname=db.name, autocommit=True, **options)) \
            if single else coordinator.connect
        with connect() as admin:
            admin.execute("insert into cco.projects (id, name, path, owner_id) "
                          "values (%s, 'fill-in', '/srv/fill-in', %s)", [project, OWNER])
            admin.execute("insert into cco.conversations (id, project_id) values (%s, %s)",
                          [conversation, project])
            admin.execute("grant insert on cco.messages, cco.tool_calls to alice, bob")
        with connect(user="alice") as first:
            first.execute(insert, message(0))
        with connect(user="alice") as alice:
            alice.execute(insert.replace("%s, %s)", "%s, %s), (%s, %s, %s, %s, %s, %s, %s)"),
                          message(1) + message(2))
            for number in range(3, 11):
                alice.execute(insert, message(number), prepare=True)
            body = [dict(zip(("id", "conversation_id", "role", "content", "timestamp", "parent_id",
                              "input_tokens"), message(number))) for number in (11, 12)]
            # As PostgREST inserts a JSON body: an INSERT ... SELECT in a WITH query, with RETURNING.
            alice.execute(
                "with pgrst_source as (insert into cco.messages (id, conversation_id, role, content, "
                "\"timestamp\", parent_id, input_tokens) select pgrst_body.id, pgrst_body.conversation_id, "
                "pgrst_body.role, pgrst_body.content, pgrst_body.\"timestamp\", pgrst_body.parent_id, "
                "pgrst_body.input_tokens from (select %s::json as json_data) pgrst_payload, "
                "lateral (select * from json_populate_recordset(null::cco.messages, pgrst_payload.json_data)) "
                "pgrst_body returning 1) select count(*) from pgrst_source", [json.dumps(body, default=str)])
            alice.execute("insert into cco.tool_calls (id, message_id, tool_name) values "
                          "(%s, %s, 'Read'), (%s, %s, 'Edit')",
                          [stable_id("fill-in tool", 1), stable_id("fill-in", 1),
                           stable_id("fill-in tool", 3), stable_id("fill-in", 3)])
        with connect(user="bob") as bob:
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match="is not visible to you"):
                bob.execute(insert, [stable_id("fill-in", 59)] + message(59)[1:])
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match="is not visible to you"):
                bob.execute("insert into cco.tool_calls (message_id, tool_name) values (%s, 'Read')",
                            [stable_id("fill-in", 1)])
        with connect() as admin:
            # A SELECT of a literal conversation id; without RETURNING Citus would copy the rows
            # into the shards while their lookups still need the same connections: refused there.
            select = (f"insert into cco.messages (id, conversation_id, role, content, parent_id, "
                      f"\"timestamp\") select id, '{conversation}', 'user', 'selected', %s, "
                      f"'2025-11-28 10:00:00+00' from "
                      f"(values (%s::uuid), (%s::uuid)) as rows(id)")
            rows = [stable_id("fill-in", 12), stable_id("fill-in", 13), stable_id("fill-in", 14)]
            if single:
                admin.execute(select, rows)
            else:
                with pytest.raises(psycopg.errors.FeatureNotSupported,
                                   match="without RETURNING must give project_id"):
                    admin.execute(select, rows)
                admin.execute(select + " returning project_id", rows)
    messages = both(loaded, "select id, project_id, depth, parent_id from cco.messages "
                            "where conversation_id = %s order by id", [conversation])
    assert messages[0] == messages[1]
    assert len(messages[0]) == 15 and {row[1] for row in messages[0]} == {project}
    assert max(row[2] for row in messages[0]) == 13
    tools = both(loaded, "select id, message_id, conversation_id, project_id from cco.tool_calls "
                         "where conversation_id = %s order by id", [conversation])
    assert tools[0] == tools[1] and len(tools[0]) == 2
    statistics = both(loaded, "select message_count, input_tokens, last_updated from cco.conversations "
                              "where id = %s", [conversation])
    assert statistics[0] == statistics[1] == [(15, sum(range(13)), statistics[0][0][2])]
    # As after every plain INSERT on Citus (docs/citus.md): the project's last_activity follows.
    _wait_for_project_activity(loaded[1])
    activity = both(loaded, "select last_activity from cco.projects where id = %s", [project])
    assert activity[0] == activity[1] == [(statistics[0][0][2],)]


def test_a_user_loads_into_a_new_project(loaded, db, coordinator, transcripts):
    """A developer's own login, under row level security, loads a transcript of a directory it
    has no project for: the load creates the project and writes its conversation in one
    transaction. The project's id comes from the server; on Citus every node's copy of the
    projects reference table must hold the same one, or the policies on the workers would not know
    it, and the project's audit entry is written on the node of its audit shard, in the login's
    own transaction there."""
    connections = (lambda: psycopg.connect(dbname=db.name, user="alice", autocommit=True),
                   lambda: coordinator.connect(user="alice"))
    for admin in loaded:
        admin.execute("grant insert, update on all tables in schema cco to alice")
    with open(transcripts[0]) as transcript:
        text = transcript.read()
    reports = []
    for connect in connections:
        with connect() as alice:
            reports.append(scalar(alice, "select cco.ingest_transcript(%s, %s)",
                                  [text, f"{ALICE_PROJECT}/one.jsonl"]))
    assert reports[0]["messages_inserted"] == reports[1]["messages_inserted"] > 0
    # The loads ran at different times: the same creation times on both sides for what follows.
    for admin in loaded:
        admin.execute("update cco.conversations set created_at = '2025-12-20 00:00:00+00' "
                      "where file_path = %s", [f"{ALICE_PROJECT}/one.jsonl"])
        admin.execute("update cco.projects set created_at = '2025-12-01 00:00:00+00' "
                      "where path = %s and owner_id = %s", [ALICE_PROJECT, OWNER])
    copies = set()
    for node in [coordinator] + coordinator.workers:
        with node.connect() as admin:
            copies.add(str(scalar(admin, "select id from cco.projects where path = %s and owner_id = %s",
                                  [ALICE_PROJECT, OWNER])))
    assert copies == {reports[1]["project_id"]}


def test_statistics_and_depths_are_the_same(loaded):
    conversations = both(loaded, f"""
        select {CONVERSATION_KEY}, c.message_count, c.input_tokens, c.output_tokens,
               c.cache_creation_tokens, c.cache_read_tokens, c.search_length, c.last_updated, c.model
        from cco.conversations c order by 1""")
    assert conversations[0] == conversations[1]
    assert len(conversations[0]) > 20
    projects = both(loaded, "select path, last_activity from cco.projects order by path, last_activity")
    assert projects[0] == projects[1]
    messages = both(loaded, f"""
        select {MESSAGE_KEY}, m.depth, m.role, m.token_count, m.input_tokens from cco.messages m
        order by 1""")
    assert messages[0] == messages[1]
    assert max(row[1] for row in messages[0]) > 10


def test_concurrent_writers_keep_the_counts_exact(loaded):
    counts = both(loaded, """
        select c.message_count, c.input_tokens, (select count(*) from cco.messages m
                                                 where m.conversation_id = c.id and m.project_id = c.project_id)
        from cco.conversations c where c.id = %s and c.project_id = %s""",
                  [stable_id("conversation", 0, 0), stable_id("project", 0)])
    assert counts[0] == counts[1] == [(52, 40 * 7 + sum(n * 10 for n in range(12)), 52)]


def test_writers_of_several_conversations_of_a_project_do_not_deadlock(loaded, db, coordinator):
    """Four writers, each transaction inserting into two conversations of one project, in opposite
    orders: the project is locked before its conversations on both sides (on Citus by the
    coordinator, before the rows are routed), so they queue instead of deadlocking, and the
    statistics come out the same."""
    project = stable_id("project", 3)
    first, second = stable_id("conversation", 3, 0), stable_id("conversation", 3, 1)

    def writers(connect):
        def writer(number: int) -> None:
            with connect() as connection:
                for batch in range(3):
                    with connection.transaction():
                        order = (first, second) if (number + batch) % 2 else (second, first)
                        for place, conversation in enumerate(order):
                            connection.execute(
                                "insert into cco.messages (id, conversation_id, project_id, role, "
                                "content, \"timestamp\") values (%s, %s, %s, 'user', 'crossing', "
                                "'2025-11-04 12:00:00+00'::timestamptz + make_interval(secs => %s))",
                                [stable_id("crossing", number, batch, place), conversation, project,
                                 number * 10 + batch])
                            time.sleep(0.05)
        return writer

    _at_once(writers(db.connect_admin), 4)
    _at_once(writers(coordinator.connect), 4)
    counts = both(loaded, "select id, message_count, last_updated from cco.conversations "
                          "where project_id = %s and id = any (%s) order by id", [project, [first, second]])
    assert counts[0] == counts[1]
    assert [row[1] for row in counts[0]] == [12 + 12, 12 + 12]
    _wait_for_project_activity(loaded[1])
    activity = both(loaded, "select last_activity from cco.projects where id = %s", [project])
    assert activity[0] == activity[1]


def test_deleting_a_message_updates_the_statistics_alike(loaded):
    deleted = stable_id("concurrent", 0, 0)
    for connection in loaded:
        connection.execute("delete from cco.messages where id = %s and project_id = %s",
                           [deleted, stable_id("project", 0)])
    counts = both(loaded, "select message_count, input_tokens from cco.conversations where id = %s",
                  [stable_id("conversation", 0, 0)])
    assert counts[0] == counts[1] == [(51, 40 * 7 - 7 + sum(n * 10 for n in range(12)))]


def _message_keys(connection: psycopg.Connection, ids: list) -> dict:
    return dict(connection.execute(
        "select id, coalesce(external_id, id::text) from cco.messages where id = any (%s)",
        [ids]).fetchall())


def test_cco_load_through_the_coordinator_finds_everything_loaded(loaded, coordinator, fixtures_dir):
    """cco-load against the coordinator: the files ingest_transcript loaded add nothing twice."""
    binary = os.environ.get("CCO_LOAD", os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "target", "debug", "cco-load"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is missing: build it with cargo build -p cco-load")
    before = both(loaded, "select count(*) from cco.messages")
    run = subprocess.run(
        [binary, "--quiet", "--dir", os.path.dirname(fixtures_dir),
         "--dsn", f"host=127.0.0.1 port={coordinator.port} user=postgres dbname=postgres"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "0 failed): +0 messages, +0 tool calls" in run.stdout, run.stdout
    assert both(loaded, "select count(*) from cco.messages") == before


def _transcript(session: int, hour: int) -> str:
    lines, previous = [], None
    for n in range(6):
        line_id = f"00000000-0000-4000-a{session:03d}-{n:012x}"
        lines.append(json.dumps({
            "type": "user" if n % 2 == 0 else "assistant", "uuid": line_id, "parentUuid": previous,
            "sessionId": f"session-{session}", "cwd": "/srv/activity",
            "timestamp": f"2025-11-25T{hour:02d}:{n:02d}:00Z", "message": {"content": f"step {n}"}}))
        previous = line_id
    return "\n".join(lines)


def test_loads_keep_project_activity_exact_without_a_refresh(loaded, coordinator):
    """cco.ingest_transcript (and so cco load) advances its project's last_activity on Citus
    too: four concurrent loads into one new project leave the newest of their times."""

    def load(connection: psycopg.Connection, session: int) -> None:
        connection.execute("select cco.ingest_transcript(%s, %s)",
                           [_transcript(session, 8 + session), f"/srv/activity/{session}.jsonl"])

    for session in range(4):
        load(loaded[0], session)

    def load_on_citus(session: int) -> None:
        with coordinator.connect() as connection:
            load(connection, session)

    _at_once(load_on_citus, 4)
    activity = both(loaded, "select p.last_activity, a.newest from cco.projects p "
                            "join (select project_id, max(last_updated) as newest from cco.conversations "
                            "      group by project_id) a on a.project_id = p.id "
                            "where p.path = '/srv/activity'")
    assert activity[0] == activity[1]
    assert activity[0][0][0] == activity[0][0][1]
    assert activity[0][0][0].hour == 11 and activity[0][0][0].minute == 5


def test_plain_writes_move_project_activity_within_seconds(loaded, db, coordinator):
    """On Citus the statistics triggers on the message shards note the project, and the
    coordinator's project activity worker sets last_activity from its conversations: after a
    plain INSERT, an UPDATE that moves a message's time and a DELETE, the projects read alike on
    both within seconds, and a listener on the coordinator hears cco_messages, as on a single
    server."""
    project, conversation = stable_id("project", 5), stable_id("conversation", 5, 1)
    message = stable_id("activity", "plain")
    assert scalar(loaded[1], "select count(*) from pg_stat_activity "
                             "where backend_type = 'cco project activity'") == 1
    steps = [
        ("insert into cco.messages (id, conversation_id, project_id, role, content, \"timestamp\") "
         "values (%(m)s, %(c)s, %(p)s, 'user', 'later', '2030-01-01 08:00:00+00')", "2030-01-01 08:00"),
        ("update cco.messages set \"timestamp\" = '2031-06-01 09:30:00+00' "
         "where id = %(m)s and project_id = %(p)s", "2031-06-01 09:30"),
        ("delete from cco.messages where id = %(m)s and project_id = %(p)s", None),
    ]
    for statement, newest in steps:
        with coordinator.connect() as listener:
            listener.execute("listen cco_messages")
            for connection in loaded:
                connection.execute(statement, {"m": message, "c": conversation, "p": project})
            read = "select last_activity from cco.projects where id = %s"
            expected = scalar(loaded[0], read, [project])
            if newest:
                assert expected.strftime("%Y-%m-%d %H:%M") == newest
            deadline = time.monotonic() + 20
            while scalar(loaded[1], read, [project]) != expected:
                assert time.monotonic() < deadline, f"last_activity did not follow: {statement}"
                time.sleep(0.1)
            heard = [(n.channel, n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
            assert heard == [("cco_messages", "")]


def test_the_project_activity_worker_never_holds_up_dropping_its_database(coordinator):
    """The worker runs in each database where cco is distributed on this coordinator, and leaves
    when someone drops the database, which PostgreSQL refuses while other sessions are in it."""
    with coordinator.connect() as admin:
        admin.execute("create database activity_scratch")
    try:
        with psycopg.connect(host="127.0.0.1", port=coordinator.port, user="postgres",
                             dbname="activity_scratch", autocommit=True) as scratch:
            scratch.execute("create extension citus")
            scratch.execute("select citus_set_coordinator_host('127.0.0.1', %s)", [coordinator.port])
            # a cluster of the coordinator alone, which holds the shards
            scratch.execute("select citus_set_node_property('127.0.0.1', %s, 'shouldhaveshards', true)",
                            [coordinator.port])
            scratch.execute("create extension cco cascade")
            scratch.execute("select cco.distribute(2)")
            deadline = time.monotonic() + 30
            while not scalar(scratch, "select count(*) from pg_stat_activity "
                                      "where backend_type = 'cco project activity' "
                                      "and datname = current_database()"):
                assert time.monotonic() < deadline, "no project activity worker started"
                time.sleep(0.2)
    finally:
        with coordinator.connect() as admin:
            admin.execute("drop database activity_scratch")
            assert not scalar(admin, "select count(*) from pg_database "
                                     "where datname = 'activity_scratch'")


def test_a_load_notifies_listeners_on_the_coordinator(loaded, db, coordinator):
    """The cco_messages notification, which on Citus cannot come from the message shards, comes
    from the coordinator's project activity worker after a load that inserted messages: one, with
    an empty payload, as a single server sends. A load that finds nothing new stays silent on
    both."""
    for connect in (db.connect_admin, coordinator.connect):
        with connect() as listener, connect() as loader:
            listener.execute("listen cco_messages")
            for load in range(2):
                loader.execute("select cco.ingest_transcript(%s, %s)",
                               [_transcript(40, 7), "/srv/activity/40.jsonl"])
                received = [(n.channel, n.payload)
                            for n in listener.notifies(timeout=3 if load == 0 else 2)]
                assert received == ([("cco_messages", "")] if load == 0 else [])


def test_deleting_a_parent_re_roots_its_replies_alike(loaded):
    project, conversation = stable_id("project", 4), stable_id("conversation", 4, 2)
    for connection in loaded:
        connection.execute("delete from cco.messages where id = %s and project_id = %s",
                           [stable_id("message", 4, 2, 5), project])
    depths = both(loaded, "select id, parent_id, depth from cco.messages "
                          "where conversation_id = %s and project_id = %s order by id",
                  [conversation, project])
    assert depths[0] == depths[1]
    assert sorted(depth for _, _, depth in depths[0]) == sorted([*range(5), *range(6)])


@pytest.mark.parametrize("query", SEARCHES)
def test_searches_return_the_same_top_50_with_the_same_ranks(loaded, query):
    pages = []
    for connection in loaded:
        page = connection.execute("select id, rank from cco.search_messages(%s)", [query]).fetchall()
        keys = _message_keys(connection, [row[0] for row in page])
        pages.append([(keys[message_id], rank) for message_id, rank in page])
    single, distributed = pages
    assert single
    assert [rank for _, rank in single] == pytest.approx([rank for _, rank in distributed], rel=1e-6)
    # Messages of equal rank follow in timestamp and id order, and ingested rows have other ids
    # in each database; which of them a page cut at its last rank keeps is arbitrary on both.
    cut = single[-1][1]
    assert ({(key, round(rank, 5)) for key, rank in single if rank != pytest.approx(cut, rel=1e-6)}
            == {(key, round(rank, 5)) for key, rank in distributed if rank != pytest.approx(cut, rel=1e-6)})
    rankings = both(loaded, "select (r).terms, (r).frequencies, (r).documents, (r).total_length "
                            "from cco.message_ranking(%s) r", [query])
    assert rankings[0] == rankings[1]


def test_a_search_within_one_project_ranks_by_that_projects_statistics(loaded):
    project = stable_id("project", 3)
    results = both(loaded, "select id, rank from cco.search_messages('readme test', array[%s]::uuid[]) "
                           "order by rank desc, id", [project])
    assert results[0] == results[1]
    assert len(results[0]) == 36


def test_search_conversations_is_the_same(loaded):
    pages = []
    for connection in loaded:
        page = connection.execute(
            "select s.id, s.rank from cco.search_conversations('file') s").fetchall()
        keys = dict(connection.execute(
            "select id, coalesce(file_path, id::text) from cco.conversations where id = any (%s)",
            [[row[0] for row in page]]).fetchall())
        pages.append([(keys[conversation_id], rank) for conversation_id, rank in page])
    assert pages[0] == pages[1]
    assert pages[0]


def test_threads_are_the_same(loaded):
    leaf = stable_id("message", 2, 1, 11)
    threads = both(loaded, "select id, depth from cco.message_thread(%s)", [leaf])
    assert threads[0] == threads[1]
    assert [depth for _, depth in threads[0]] == list(range(12))


def _view_rows(connection: psycopg.Connection, view: str) -> list:
    columns = [row[0] for row in connection.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
        "and not attisdropped and atttypid <> 'uuid'::regtype order by attnum",
        [f"cco.{view}"]).fetchall()]
    listed = ", ".join(f'"{column}"' for column in columns)
    return connection.execute(f"select {listed} from cco.{view} order by {listed}").fetchall()


@pytest.mark.parametrize("view", ["conversation_analytics", "tool_analytics", "tool_usage_daily",
                                  "daily_activity", "hourly_activity", "unpriced_models",
                                  "message_usage", "token_usage_daily", "project_analytics",
                                  "user_activity_analytics"])
def test_analytics_views_are_the_same(loaded, view):
    single, distributed = loaded
    assert _view_rows(single, view) == _view_rows(distributed, view)


def test_search_projects_is_the_same(loaded):
    found = both(loaded, "select id, name, conversation_count, rank, headline "
                         "from cco.search_projects('synthetic')")
    assert found[0] == found[1]
    assert len(found[0]) == 6


def test_usage_blocks_are_the_same(loaded):
    blocks = both(loaded, "select block_start, entries, input_tokens, output_tokens, cost "
                          "from cco.usage_blocks() order by block_start")
    assert blocks[0] == blocks[1]
    assert blocks[0]


@pytest.mark.parametrize("projects", ["array(select id from cco.projects)",
                                      "array(select id from cco.projects where name = 'synthetic 2')",
                                      "array(select id from cco.projects where path = '/Users/user/project')"])
def test_usage_blocks_of_some_projects_are_the_same(loaded, projects):
    """Within one project Citus runs the whole call on that project's shard."""
    blocks = both(loaded, "select block_start, entries, input_tokens, output_tokens, cost "
                          f"from cco.usage_blocks({projects}) order by block_start")
    assert blocks[0] == blocks[1]
    assert blocks[0]


@pytest.mark.parametrize("login, sees", [("alice", True), ("bob", False)])
def test_row_level_security_by_membership_for_a_login(loaded, db, coordinator, login, sees):
    """A developer's own login (cco.user_logins) through the coordinator: the policies run on
    the workers, which read the membership from their copy of the reference tables."""
    single = psycopg.connect(dbname=db.name, user=login, autocommit=True)
    distributed = coordinator.connect(user=login)
    try:
        for query in ("select count(*) from cco.projects", "select count(*) from cco.messages",
                      "select count(*) from cco.search_messages('readme')"):
            here, there = scalar(single, query), scalar(distributed, query)
            assert here == there, query
            assert (here > 0) == sees, query
    finally:
        single.close()
        distributed.close()


@pytest.fixture(scope="module")
def api_on_both(loaded, db, coordinator):
    """The API roles on the cluster, set up as docs/citus.md says: login roles (Citus connects to
    the workers as the role a request switches to), named API logins on the workers, and SET LOCAL
    passed on to the workers."""
    _, distributed = loaded
    for role, options in (("anon", "login"), ("authenticated", "login"),
                          ("service_role", "login bypassrls")):
        distributed.execute(f"create role {role} {options}")
    distributed.execute("create role authenticator login noinherit")
    distributed.execute("grant anon, authenticated, service_role to authenticator")
    distributed.execute("select cco.grant_api_access('authenticated')")
    distributed.execute("alter database postgres set citus.propagate_set_commands = 'local'")
    for worker in coordinator.workers:
        with worker.connect() as admin:
            admin.execute("load 'cco'")  # before 17, ALTER SYSTEM knows only loaded settings
            admin.execute("alter system set cco.api_logins = 'authenticator, anon, authenticated, service_role'")
            admin.execute("select pg_reload_conf()")
    return (lambda: psycopg.connect(dbname=db.name, user="authenticator", autocommit=True),
            lambda: coordinator.connect(user="authenticator"))


@pytest.mark.parametrize("user, sees", [(OWNER, True), (STRANGER, False)])
def test_row_level_security_through_the_api_login(api_on_both, user, sees):
    """As PostgREST calls it, with cco.forward_request_claims as its db-pre-request."""
    answers = []
    for connect in api_on_both:
        with connect() as connection, request(connection, user=user) as api:
            api.execute("select cco.forward_request_claims()")
            answers.append([
                scalar(api, "select count(*) from cco.projects"),
                scalar(api, "select count(*) from cco.messages"),
                sorted(str(row[0]) for row in api.execute(
                    "select id from cco.search_messages('readme', array[%s]::uuid[])",
                    [stable_id("project", 2)]).fetchall()),
            ])
    assert answers[0] == answers[1]
    assert (answers[0][1] > 0) == sees
    assert (len(answers[0][2]) == 36) == sees


def test_without_the_forwarded_claims_an_api_request_sees_nothing_on_the_workers(api_on_both):
    _, connect = api_on_both
    with connect() as connection, request(connection, user=OWNER) as api:
        assert scalar(api, "select count(*) from cco.messages") == 0


def test_the_rank_index_serves_the_search_on_the_workers(loaded):
    _, distributed = loaded
    distributed.execute("set citus.explain_all_tasks = on")
    ranking = scalar(distributed, "select quote_literal(cco.message_ranking('readme'))")
    plan = "\n".join(row[0] for row in distributed.execute(
        "explain (costs off) select id from cco.messages "
        "where search_vector operator(cco.@@) cco.to_tsquery('readme') "
        f"order by search_vector operator(cco.<&>) {ranking}::cco.ranking limit 50").fetchall())
    assert "messages_rank_idx" in plan, plan
    assert f"Task Count: {SHARD_COUNT}" in plan, plan


def test_a_search_of_one_project_routes_to_its_shard(loaded):
    """The shape of cco.search_messages's query with its scope: one task, on the rank index."""
    _, distributed = loaded
    project = stable_id("project", 1)
    ranking = scalar(distributed, "select quote_literal(cco.message_ranking('readme', %s))", [[project]])
    plan = "\n".join(row[0] for row in distributed.execute(
        "explain (costs off) select id from cco.messages m "
        "where m.search_vector operator(cco.@@) cco.to_tsquery('readme') "
        f"and m.project_id operator(cco.<@) array['{project}']::uuid[] "
        f"and m.project_id = any (array['{project}']::uuid[]) "
        f"order by m.search_vector operator(cco.<&>) {ranking}::cco.ranking limit 50").fetchall())
    assert "Task Count: 1" in plan, plan
    assert "messages_rank_idx" in plan, plan


def test_one_statement_writes_several_projects_and_memberships(loaded):
    """Projects and memberships are reference tables whose audit entries go to the distributed
    audit_log: a statement that writes several of them at once keeps one entry per row."""
    for connection in loaded:
        connection.execute(
            "insert into cco.projects (id, name, path, owner_id) "
            "select (md5('batch project ' || n))::uuid, 'batch ' || n, '/srv/batch/' || n, %s "
            "from generate_series(1, 5) n", [OWNER])
        connection.execute(
            "insert into cco.project_members (project_id, user_id, role) "
            "select (md5('batch project ' || n))::uuid, %s, 'viewer' from generate_series(1, 5) n",
            [STRANGER])
        connection.execute("update cco.projects set name = name || ' renamed' "
                           "where path like '/srv/batch/%%'")
        connection.execute("delete from cco.projects where path in ('/srv/batch/4', '/srv/batch/5')")
    kept = both(loaded, "select p.path, p.name, (select count(*) from cco.project_members m "
                        "where m.project_id = p.id) from cco.projects p "
                        "where p.path like '/srv/batch/%%' order by 1")
    assert kept[0] == kept[1]
    assert [row[0] for row in kept[0]] == ["/srv/batch/1", "/srv/batch/2", "/srv/batch/3"]
    trail = both(loaded, "select table_name, operation, record_id, project_id, "
                         "new_values ->> 'name', old_values ->> 'name' from cco.audit_log "
                         "where coalesce(new_values, old_values) ->> 'path' like '/srv/batch/%%' "
                         "   or project_id = any (array(select (md5('batch project ' || n))::uuid "
                         "                              from generate_series(1, 5) n)) "
                         "order by 1, 2, 3, 4, 5 nulls first, 6 nulls first")
    assert trail[0] == trail[1]
    operations = [(row[0], row[1]) for row in trail[0]]
    assert operations.count(("cco.projects", "INSERT")) == 5
    assert operations.count(("cco.projects", "UPDATE")) == 5
    assert operations.count(("cco.projects", "DELETE")) == 2
    assert operations.count(("cco.project_members", "INSERT")) == 5


def test_the_audit_trail_has_one_entry_per_change(loaded):
    trails = both(loaded, "select table_name, operation, count(*) from cco.audit_log "
                          "group by 1, 2 order by 1, 2")
    assert trails[0] == trails[1]


def test_a_dump_of_the_coordinator_restores_into_a_fresh_cluster(loaded, coordinator, citus_binaries):
    """docs/citus.md: pg_dump of the coordinator holds every row (Citus reads the shards); it
    restores into a fresh cluster's coordinator as local tables, which cco.distribute then
    distributes, and the restored cluster answers as the dumped one."""
    _, distributed = loaded
    dump = os.path.join(tempfile.mkdtemp(prefix="cco-citus-dump-"), "cco.dump")
    source = ["-h", "127.0.0.1", "-p", str(coordinator.port), "-U", "postgres"]
    subprocess.run([os.path.join(citus_binaries, "pg_dump"), *source, "-Fc", "-f", dump, "postgres"],
                   check=True, capture_output=True, timeout=120)
    roles = subprocess.run([os.path.join(citus_binaries, "pg_dumpall"), *source, "--roles-only"],
                           check=True, capture_output=True, text=True, timeout=60).stdout
    try:
        with citus_cluster(citus_binaries) as head:
            with head.connect() as admin:
                for statement in roles.splitlines():
                    if statement.startswith(("CREATE ROLE", "ALTER ROLE", "GRANT")) \
                            and "ROLE postgres" not in statement:
                        admin.execute(statement)
            # The schema, then the rows as they were: Citus reads a distributed table shard by
            # shard, so a reply may come before its parent, which the thread triggers refuse.
            for section in (["--schema-only"], ["--data-only", "--disable-triggers"]):
                restored = subprocess.run(
                    [os.path.join(citus_binaries, "pg_restore"), "--exit-on-error", *section,
                     "-h", "127.0.0.1", "-p", str(head.port), "-U", "postgres", "-d", "postgres", dump],
                    capture_output=True, text=True, timeout=300)
                assert restored.returncode == 0, restored.stderr
            with head.connect() as admin:
                admin.execute("select cco.distribute(%s)", [SHARD_COUNT])
                admin.execute("select cco.refresh_project_activity()")
                assert scalar(admin, "select count(*) from pg_dist_partition "
                                     "where logicalrelid = 'cco.messages'::regclass") == 1
                for query in (
                        "select id, message_count, input_tokens, output_tokens, last_updated "
                        "from cco.conversations order by id",
                        "select id, parent_id, depth, project_id from cco.messages order by id",
                        "select id, last_activity from cco.projects order by id",
                        # the same matches; the ranks are not compared: they differed here, the
                        # dumped cluster's rank index having seen the earlier tests' deletes and
                        # rewrites, the restored one only the rows it holds
                        "select id from cco.search_messages('readme failing test', null, null, "
                        "null, 1000, 0) order by id",
                        "select project_id, conversations, messages, total_tokens, cost "
                        "from cco.project_analytics order by project_id"):
                    assert admin.execute(query).fetchall() == distributed.execute(query).fetchall(), query
                audit = "select id, table_name, operation from cco.audit_log order by id"
                assert admin.execute(audit).fetchall() == distributed.execute(audit).fetchall()
    finally:
        shutil.rmtree(os.path.dirname(dump), ignore_errors=True)



def _answers(connection: psycopg.Connection) -> dict:
    """What the cluster answers, for comparing before and after its shards move."""
    answers = {}
    for query in SEARCHES:
        # every match, so that no page cut among equal ranks makes the lists differ
        found = connection.execute("select id, rank from cco.search_messages(%s, null, null, null, "
                                   "1000, 0)", [query]).fetchall()
        assert len(found) < 1000
        answers[query] = sorted((message_id, round(rank, 6)) for message_id, rank in found)
    answers["conversations"] = connection.execute(
        "select id, message_count, input_tokens, output_tokens, last_updated "
        "from cco.conversations order by id").fetchall()
    answers["messages"] = connection.execute(
        "select id, parent_id, depth from cco.messages order by id").fetchall()
    answers["blocks"] = connection.execute(
        "select block_start, entries, input_tokens, cost from cco.usage_blocks() "
        "order by block_start").fetchall()
    answers["projects"] = _view_rows(connection, "project_analytics")
    return answers


# Last in the module: it changes the cluster the other tests share.
def test_a_node_added_later_takes_shards_and_every_answer_stays_the_same(loaded, coordinator,
                                                                          citus_binaries):
    """docs/citus.md, adding a node: citus_add_node, cco.prepare_added_nodes, then Citus's
    rebalancer moves shards there. Searches, statistics and analytics answer as before the
    move; writes to the moved shards keep their statistics as a single server does; the moved
    rank indexes verify, every row in them, and serve searches on the new node. Then a shard
    moves by logical replication while writers write to it, and loses and doubles nothing. Last,
    the node is drained and removed, and the answers stay the same again."""
    single, distributed = loaded
    base = tempfile.mkdtemp(prefix="cco-citus-added-")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    added = Node(citus_binaries, base, "worker3")
    try:
        added.start()
        with added.connect() as admin:
            admin.execute("create extension citus")
        # A moved shard's rank index is built anew from its rows. The others first forget the
        # earlier tests' deleted rows: VACUUM takes them out of the document counts and lengths,
        # a merge out of the terms' document frequencies.
        distributed.execute("vacuum cco.messages")
        assert scalar(distributed,
            "select bool_and(success) from run_command_on_shards('cco.messages', "
            "$$select cco.optimize_rank_index(replace('%s', 'cco.messages_', 'cco.messages_rank_idx_')::regclass)$$)")
        before = _answers(distributed)
        distributed.execute("select citus_add_node('127.0.0.1', %s)", [added.port])
        assert scalar(distributed, "select cco.prepare_added_nodes()") == 1
        assert scalar(distributed, "select cco.prepare_added_nodes()") == 0
        with added.connect() as admin:
            assert scalar(admin, "select count(*) from pg_trigger where tgrelid = 'cco.messages'::regclass "
                                 "and tgname = 'messages_notify_inserted'") == 0
            assert "cco.distributed=on" in scalar(
                admin, "select proconfig from pg_proc where oid = 'cco.messages_count_inserted()'::regprocedure")

        # The background rebalancer, as Citus runs it by default: shards move by logical
        # replication while writers go on.
        distributed.execute("select citus_rebalance_start()")
        distributed.execute("select citus_rebalance_wait()")
        assert scalar(distributed, "select state::text from citus_rebalance_status() "
                                   "order by job_id desc limit 1") == "finished"
        moved = scalar(distributed, "select count(*) from pg_dist_shard_placement p "
                                    "join pg_dist_shard s using (shardid) "
                                    "where p.nodeport = %s and s.logicalrelid = 'cco.messages'::regclass",
                       [added.port])
        assert moved >= 1
        assert _answers(distributed) == before

        # Writes to every project, moved or not, alike on both.
        for connection in loaded:
            for project_number in range(6):
                conversation = stable_id("conversation", project_number, 1)
                connection.execute(
                    "insert into cco.messages (id, conversation_id, project_id, role, content, "
                    "\"timestamp\", input_tokens, parent_id) values (%s, %s, %s, 'user', "
                    "'written after the rebalance about the readme', '2025-11-28 09:00:00+00', 5, %s)",
                    [stable_id("after rebalance", project_number), conversation,
                     stable_id("project", project_number),
                     stable_id("message", project_number, 1, 11)])
        statistics = both(loaded, f"select {CONVERSATION_KEY}, c.message_count, c.input_tokens, "
                                  "c.last_updated from cco.conversations c order by 1")
        assert statistics[0] == statistics[1]
        found = both(loaded, "select id from cco.search_messages('rebalance') order by id")
        assert found[0] == found[1] and len(found[0]) == 6

        with added.connect() as admin:
            admin.execute("set citus.override_table_visibility = off")  # shards are hidden otherwise
            indexes = [row[0] for row in admin.execute(
                "select indexrelid::regclass::text from pg_index i join pg_class c on c.oid = i.indexrelid "
                "where c.relname like 'messages_rank_idx_%'").fetchall()]
            assert len(indexes) == moved
            for index in indexes:
                admin.execute("select cco.verify_rank_index(%s::regclass, true)", [index])
        moved_project = scalar(distributed, """
            select c.project_id from cco.conversations c
            join pg_dist_shard_placement p
              on p.shardid = get_shard_id_for_distribution_column('cco.messages', c.project_id)
            where p.nodeport = %s limit 1""", [added.port])
        if moved_project is not None:
            plan = "\n".join(row[0] for row in distributed.execute(
                "explain select m.id from cco.messages m "
                "where m.search_vector operator(cco.@@) cco.to_tsquery('readme') "
                "and m.project_id = %s", [moved_project]).fetchall())
            assert "Task Count: 1" in plan and f"port={added.port}" in plan, plan
            assert "messages_rank_idx" in plan, plan

        # A shard moving by logical replication while writers write to it: Citus catches their
        # rows up before it switches over, and none is lost, counted twice or missed by the index.
        project, conversation = stable_id("project", 1), stable_id("conversation", 1, 2)
        shard, source = distributed.execute(
            "select p.shardid, p.nodeport from pg_dist_shard_placement p "
            "where p.shardid = get_shard_id_for_distribution_column('cco.messages', %s)",
            [project]).fetchone()
        target = scalar(distributed, "select nodeport from pg_dist_node where groupid <> 0 "
                                     "and nodeport <> %s order by nodeport limit 1", [source])
        stop = threading.Event()
        written: list[int] = []

        def writer(number: int) -> None:
            with coordinator.connect() as connection:
                batch = 0
                # paced, so that every row fits in one page of search results (1,000)
                while (not stop.is_set() or batch < 3) and batch < 300:
                    time.sleep(0.02)
                    connection.execute(
                        "insert into cco.messages (id, conversation_id, project_id, role, content, "
                        "\"timestamp\", input_tokens) values (%s, %s, %s, 'user', "
                        "'written while its shard moved', '2025-11-29 10:00:00+00'::timestamptz "
                        "+ make_interval(secs => %s), 3)",
                        [stable_id("while moving", number, batch), conversation, project,
                         number * 1000 + batch])
                    written.append(1)
                    batch += 1

        failures: list[BaseException] = []

        def write_while_moving() -> None:
            try:
                _at_once(writer, 3)
            except BaseException as failure:  # reported by the main thread below
                failures.append(failure)

        writers = threading.Thread(target=write_while_moving)
        writers.start()
        try:
            started = len(written)
            distributed.execute(
                "select citus_move_shard_placement(%s, '127.0.0.1', %s, '127.0.0.1', %s, "
                "shard_transfer_mode => 'force_logical')", [shard, source, target])
            assert len(written) - started >= 3, "nothing was written while the shard moved"
        finally:
            stop.set()
            writers.join(timeout=120)
        assert failures == []
        assert scalar(distributed, "select nodeport from pg_dist_shard_placement where shardid = %s",
                      [shard]) == target
        assert len(written) >= 9
        counts = distributed.execute(
            "select c.message_count, c.input_tokens, "
            "(select count(*) from cco.messages m where m.project_id = %s and m.conversation_id = %s), "
            "(select count(*) from cco.messages m where m.project_id = %s "
            " and m.content = 'written while its shard moved') "
            "from cco.conversations c where c.project_id = %s and c.id = %s",
            [project, conversation, project, project, conversation]).fetchone()
        found = scalar(distributed, "select count(*) from cco.search_messages("
                                    "'written while its shard moved', array[%s]::uuid[], null, null, 1000, 0)",
                       [project])
        assert counts[0] == counts[2] == 12 + len(written)
        assert counts[1] == sum(n * 10 for n in range(12)) + 3 * len(written)
        assert counts[3] == found == len(written)
        node = added if target == added.port else next(w for w in coordinator.workers if w.port == target)
        with node.connect() as admin:
            admin.execute("select cco.verify_rank_index(%s::regclass, true)",
                          [f"cco.messages_rank_idx_{shard}"])

        # Removing the node again: Citus drains its shards to the others first.
        before_removal = _answers(distributed)
        distributed.execute("select citus_drain_node('127.0.0.1', %s)", [added.port])
        distributed.execute("select citus_remove_node('127.0.0.1', %s)", [added.port])
        assert scalar(distributed, "select count(*) from pg_dist_node where nodeport = %s",
                      [added.port]) == 0
        assert _answers(distributed) == before_removal
        assert scalar(distributed, "select bool_and(success) from run_command_on_shards("
                      "'cco.messages', $$select cco.verify_rank_index(replace('%s', 'cco.messages_', "
                      "'cco.messages_rank_idx_')::regclass, true)$$)")
    finally:
        added.stop()
        shutil.rmtree(base, ignore_errors=True)
