"""Upgrading PostgreSQL itself: a database with cco and real data goes through pg_upgrade from 15 to
17 and from 17 to 18, and users find everything as they left it.

The data is what a team would have: the shared real transcripts and the project's sample ones
loaded through ingest, a project of generated messages large enough that the rank index holds a
merged segment, more messages left in its pending list, members of every role and row level
security. Before and after each upgrade the test reads the row counts, the derived statistics,
search results with their ranks (as each kind of caller, through the index), the analytics views
and what every kind of caller may see; all must be equal. No REINDEX is run: the rank index's
pages are cco's own format, written the same way on every major, and pg_upgrade carries them over
as they are; equal ranks and results through the index prove that it reads them.

The servers are started here (loopback socket only) from the builds scripts/postgres-builds.sh
lays out, with cco installed in each. `scripts/test.sh` names them in CCO_PG_UPGRADE_BINDIRS
(bin directories, oldest first); without it the test is skipped with that reason.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import psycopg
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED_TRANSCRIPTS = os.path.join(ROOT, "..", "shared", "fixtures", "claude-code", "-Users-user-project")
SAMPLE_TRANSCRIPTS = os.path.join(ROOT, "examples", "claude-projects")
BINDIRS = os.environ.get("CCO_PG_UPGRADE_BINDIRS", "").split()
GENERATED_MESSAGES = 5000  # two and a half times the pending list's capacity: a merged segment
PENDING_MESSAGES = 300  # fewer than a segment: they stay in the pending list

pytestmark = pytest.mark.skipif(
    len(BINDIRS) < 2,
    reason="CCO_PG_UPGRADE_BINDIRS does not name two PostgreSQL builds with cco installed "
    "(scripts/test.sh sets it)",
)

AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else ["sudo", "-u", "postgres"]
OWNER = uuid.UUID("0a000000-0000-4000-8000-000000000001")
EDITOR = uuid.UUID("0a000000-0000-4000-8000-000000000002")
VIEWER = uuid.UUID("0a000000-0000-4000-8000-000000000003")
STRANGER = uuid.UUID("0a000000-0000-4000-8000-000000000004")
QUERIES = ["error", "handler", "\"cart total\"", "test -fixture", "file or function", "E0382", "src/main.rs"]


class Server:
    """A cluster in a private directory, run as postgres on a socket only it and we use."""

    def __init__(self, bindir: str, workdir: str, name: str):
        self.bindir, self.port = bindir, 0
        self.socket_dir = os.path.join(workdir, name + "-socket")
        self.data = os.path.join(workdir, name)
        os.makedirs(self.socket_dir)
        shutil.chown(self.socket_dir, "postgres")
        # Data checksums on every side: PostgreSQL 18 turns them on by default, and pg_upgrade
        # needs both clusters alike.
        self.run("initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--auth=trust",
                 "--data-checksums")

    def run(self, program: str, *arguments: str, cwd: str | None = None) -> None:
        result = subprocess.run([*AS_POSTGRES, os.path.join(self.bindir, program), *arguments],
                                cwd=cwd, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{program} failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=''"
        self.run("pg_ctl", "-D", self.data, "-l", self.data + ".log", "-o", options, "-w", "-t", "120", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "120", "stop")

    def connect(self, dbname: str = "observatory") -> psycopg.Connection:
        return psycopg.connect(host=self.socket_dir, port=self.port, user="postgres", dbname=dbname,
                               autocommit=True)

    def major(self) -> int:
        with self.connect("postgres") as connection:
            return int(connection.execute("show server_version_num").fetchone()[0]) // 10000


def load(connection: psycopg.Connection) -> None:
    for role, options in (("anon", "nologin"), ("authenticated", "nologin"),
                          ("service_role", "nologin bypassrls")):
        connection.execute(f"create role {role} {options}")
    connection.execute("create role authenticator login noinherit")
    connection.execute("grant anon, authenticated, service_role to authenticator")
    connection.execute("create extension cco cascade")
    transcripts = sorted(glob.glob(os.path.join(SAMPLE_TRANSCRIPTS, "*", "*.jsonl")))
    transcripts += sorted(glob.glob(os.path.join(SHARED_TRANSCRIPTS, "*.jsonl")))
    assert transcripts, "no transcripts to load"
    for path in transcripts:
        with open(path, encoding="utf-8") as transcript:
            connection.execute("select cco.ingest_transcript(%s, %s)", [transcript.read(), path])
    connection.execute("update cco.projects set owner_id = %s", [OWNER])
    # A project of generated messages: enough for the rank index to write segments and merge
    # them, then a few more that stay in the pending list.
    project = uuid.uuid4()
    connection.execute("insert into cco.projects (id, name, path, owner_id) values (%s, 'generated', '/srv/generated', %s)",
                       [project, OWNER])
    connection.execute(
        "insert into cco.conversations (id, project_id, title)"
        " select ('0c000000-0000-4000-8000-' || lpad(c::text, 12, '0'))::uuid, %s, 'conversation ' || c"
        " from generate_series(1, 50) c", [project])
    insert_generated = (
        "insert into cco.messages (conversation_id, project_id, role, content, timestamp)"
        " select ('0c000000-0000-4000-8000-' || lpad((1 + n %% 50)::text, 12, '0'))::uuid, %s,"
        " case when n %% 2 = 0 then 'user' else 'assistant' end,"
        " format('the %%s handler in src/module_%%s.rs failed with E0%%s: cart total %%s, error %%s',"
        "        (array['timeout','retry','parse','render'])[1 + n %% 4], n %% 97, 300 + n %% 90, n, n %% 13),"
        " timestamp '2026-11-01' + n * interval '1 minute'"
        " from generate_series(%s::int, %s::int) n")
    connection.execute(insert_generated, [project, 1, GENERATED_MESSAGES])
    connection.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
    connection.execute(insert_generated, [project, GENERATED_MESSAGES + 1, GENERATED_MESSAGES + PENDING_MESSAGES])
    connection.execute(
        "insert into cco.project_members (project_id, user_id, role)"
        " select id, member, role from cco.projects,"
        " (values (%s::uuid, 'editor'), (%s::uuid, 'viewer')) m(member, role)"
        " where name = 'generated'",
        [EDITOR, VIEWER])
    connection.execute("analyze")


def as_caller(connection: psycopg.Connection, role: str, user: uuid.UUID | None, query: str, params=None):
    with connection.transaction():
        connection.execute(f"set local role {role}")
        claims = {"role": role} if user is None else {"sub": str(user), "role": role}
        connection.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
        return connection.execute(query, params).fetchall()


def state(server: Server) -> dict:
    """Everything a user of the database could notice, read the same way on both sides."""
    with server.connect() as connection:
        tables = ["projects", "project_members", "conversations", "messages", "tool_calls", "audit_log"]
        seen: dict = {
            "extension": connection.execute("select extversion from pg_extension where extname = 'cco'").fetchall(),
            "rows": {t: connection.execute(f"select count(*) from cco.{t}").fetchone()[0] for t in tables},
            "statistics": connection.execute(
                "select id, project_id, message_count, input_tokens, output_tokens, cache_creation_tokens,"
                " cache_read_tokens, search_length, last_updated from cco.conversations order by id, project_id"
            ).fetchall(),
            "threads": connection.execute("select id, parent_id, depth from cco.messages order by id").fetchall(),
            "index": connection.execute(
                "select count(*) from cco.rank_index_segments('cco.messages_rank_idx')").fetchall(),
        }
        callers = {"owner": ("authenticated", OWNER), "editor": ("authenticated", EDITOR),
                   "viewer": ("authenticated", VIEWER), "stranger": ("authenticated", STRANGER),
                   "anon": ("anon", None), "service": ("service_role", None)}
        for name, (role, user) in callers.items():
            seen[f"visible rows: {name}"] = [
                as_caller(connection, role, user, f"select count(*) from cco.{t}") for t in tables]
        for query in QUERIES:
            for name in ("owner", "viewer", "stranger"):
                role, user = callers[name]
                seen[f"search {query!r} as {name}"] = as_caller(
                    connection, role, user,
                    "select id, rank from cco.search_messages(%s, limit_count => 50)"
                    " order by rank desc, id", [query])
            # The index itself must answer (a word in most rows would otherwise be read by a
            # sequential scan): the rows found through it are the rows seen by a table scan.
            found = {}
            for scan, settings in (("index", "enable_seqscan = off"), ("table", "enable_indexscan = off")):
                with connection.transaction():
                    connection.execute(f"set local {settings}")
                    connection.execute("set local enable_bitmapscan = off" if scan == "table" else "select 1")
                    statement = ("select id from cco.messages"
                                 " where search_vector operator(cco.@@) cco.to_tsquery(%s) order by id")
                    plan = connection.execute("explain " + statement, [query]).fetchall()
                    assert any("messages_rank_idx" in line[0] for line in plan) == (scan == "index"), plan
                    found[scan] = connection.execute(statement, [query]).fetchall()
            assert found["index"] == found["table"], query
            seen[f"rows matching {query!r}"] = found["index"]
        for view in ("project_analytics", "conversation_analytics", "tool_analytics", "token_usage_daily"):
            # Every row, in an order that does not depend on the plan.
            seen[view] = sorted(as_caller(connection, "authenticated", OWNER, f"select * from cco.{view}"),
                                key=repr)
        seen["usage_blocks"] = as_caller(connection, "authenticated", OWNER,
                                         "select * from cco.usage_blocks() order by 1")
        return seen


def upgrade(old: Server, new_bindir: str, workdir: str, name: str) -> Server:
    new = Server(new_bindir, workdir, name)
    old.stop()
    # pg_upgrade writes its logs into the current directory, which must be the postgres user's.
    new.run("pg_upgrade", "-b", old.bindir, "-B", new.bindir, "-d", old.data, "-D", new.data,
            "--socketdir", new.socket_dir, cwd=workdir)
    new.start()
    return new


def test_pg_upgrade_keeps_every_row_rank_figure_and_permission():
    workdir = tempfile.mkdtemp(prefix="cco-pg-upgrade-")
    shutil.chown(workdir, "postgres")
    servers: list[Server] = []
    try:
        server = Server(BINDIRS[0], workdir, "cluster-0")
        servers.append(server)
        server.start()
        with server.connect("postgres") as admin:
            admin.execute("create database observatory")
        with server.connect() as connection:
            load(connection)
        before = state(server)
        assert before["rows"]["messages"] > GENERATED_MESSAGES + PENDING_MESSAGES
        assert any(rows for key, rows in before.items() if key.startswith("search") and rows)
        majors = [server.major()]
        for number, bindir in enumerate(BINDIRS[1:], start=1):
            server = upgrade(server, bindir, workdir, f"cluster-{number}")
            servers.append(server)
            majors.append(server.major())
            after = state(server)
            for key in before:
                assert after[key] == before[key], f"{key} differs after pg_upgrade to {majors[-1]}"
            with server.connect() as connection:
                # Same cco version on both sides: the update is a no-op, and says so.
                connection.execute("alter extension cco update")
                assert connection.execute(
                    "select extversion from pg_extension where extname = 'cco'").fetchall() == before["extension"]
            # The index takes new rows after the upgrade. Written in a copy of the database, since
            # even a rolled-back row stays counted in the index's statistics until VACUUM, and the
            # next upgrade must start from the same data.
            with server.connect("postgres") as admin:
                admin.execute(f"create database written_after_{majors[-1]} template observatory")
            with server.connect(f"written_after_{majors[-1]}") as connection:
                connection.execute(
                    "insert into cco.messages (conversation_id, project_id, role, content)"
                    " select id, project_id, 'user', 'zebracorn after the upgrade to ' || %s"
                    " from cco.conversations order by id limit 1", [majors[-1]])
                found = connection.execute(
                    "select count(*) from cco.messages"
                    " where search_vector operator(cco.@@) cco.to_tsquery('zebracorn')").fetchone()[0]
                assert found == 1
        assert majors == sorted(majors) and len(set(majors)) == len(majors), majors
    finally:
        for server in servers:
            subprocess.run([*AS_POSTGRES, os.path.join(server.bindir, "pg_ctl"), "-D", server.data,
                            "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
