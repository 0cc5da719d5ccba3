"""What the rank index tests compare: rows matched through cco_rank against rows matched by a
sequential scan, the index's ranks against BM25 computed here from the stored search vectors,
and `cco.verify_rank_index`. Also a throwaway cluster of the tests' own (for standbys and
crashes), started from the server binaries of the cluster the suite runs on and stopped by pid.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

import psycopg

QUERIES = [
    "error", "zanzibar", "getUserData", "src/api/handler.rs", "E0382", '"retry later"',
    "timeout -error", "cache or session", "deploy staging", '"handler timeout" or E0499',
]
WORDS = ["error", "handler", "timeout", "retry", "later", "deploy", "staging", "cache", "session", "the",
         "getUserData", "E0382", "E0499", "src/api/handler.rs", "config", "value", "borrowed", "user", "data"]


def random_text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 30))]
    if rng.random() < 0.01:
        words.append("zanzibar")
    return " ".join(words)


def one(connection, query: str, params=None):
    row = connection.execute(query, params).fetchone()
    return None if row is None else row[0]


def setup_corpus(connection, projects: int = 3) -> list:
    """Projects with conversations to put messages in; returns the conversation ids."""
    conversations = []
    for n in range(projects):
        project = one(connection, "insert into cco.projects (name, path) values (%s, %s) returning id",
                      [f"truth-{n}-{random.random()}", f"/truth/{n}/{random.random()}"])
        for _ in range(3):
            conversations.append(one(connection, "insert into cco.conversations (project_id) values (%s) returning id",
                                     [project]))
    return conversations


def insert(connection, rng: random.Random, conversations: list, count: int) -> list:
    texts = [random_text(rng) for _ in range(count)]
    chosen = [rng.choice(conversations) for _ in range(count)]
    return [row[0] for row in connection.execute(
        "insert into cco.messages (conversation_id, role, content) "
        "select c, 'user', t from unnest(%s::uuid[], %s::text[]) as x(c, t) returning id::text",
        [chosen, texts]).fetchall()]


def delete_some(connection, rng: random.Random, most: int) -> None:
    connection.execute("delete from cco.messages where id in (select id from cco.messages "
                       "order by random() limit %s)", [rng.randint(1, most)])


def rewrite_some(connection, rng: random.Random, most: int) -> None:
    """New content (and so a new search vector) for a few random rows."""
    connection.execute("update cco.messages set content = content || ' zanzibar deploy' "
                       "where id in (select id from cco.messages order by random() limit %s)",
                       [rng.randint(1, most)])


MATCH = "select id::text from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s)"


def matched(connection, query: str, use_index: bool) -> set:
    """Ids of the rows the query matches: through the rank index, or by reading the table."""
    with connection.transaction():
        on, off = ("on", "off") if use_index else ("off", "on")
        connection.execute(f"set local enable_seqscan = {off}")
        connection.execute(f"set local enable_indexscan = {on}")
        connection.execute(f"set local enable_bitmapscan = {on}")
        plan = "\n".join(row[0] for row in connection.execute("explain " + MATCH, [query]).fetchall())
        assert ("messages_rank_idx" in plan) == use_index, plan
        return {row[0] for row in connection.execute(MATCH, [query]).fetchall()}


TSVECTOR_ITEM = re.compile(r"'((?:[^']|'')*)'(?::([0-9A-D,]+))?")


def parse_tsvector(text: str) -> dict:
    """Lexeme -> frequency, as the index counts it: its positions, or 1 without any."""
    return {lexeme.replace("''", "'"): (len(positions.split(",")) if positions else 1)
            for lexeme, positions in TSVECTOR_ITEM.findall(text)}


def bm25(terms, frequencies, documents, total_length, vector: dict, k1=1.2, b=0.75) -> float:
    """BM25 with the non-negative idf, written here from the formula (not from cco's code)."""
    average = total_length / documents if documents > 0 else 0.0
    average = average if average > 0 else 1.0
    length = sum(vector.values())
    norm = k1 * (1 - b + b * length / average)
    score = 0.0
    for term, df in zip(terms, frequencies):
        tf = vector.get(term, 0)
        if tf > 0:
            idf = math.log(1 + max(0.0, documents - df + 0.5) / (df + 0.5))
            score += idf * tf * (k1 + 1) / (tf + norm)
    return score


def ranked_through_index(connection, query: str, limit: int = 50) -> list:
    ranking = one(connection, "select cco.message_ranking(%s)::text", [query])
    with connection.transaction():
        connection.execute("set local enable_seqscan = off")
        connection.execute("set local enable_sort = off")
        sql = ("select search_vector operator(cco.<&>) %s::cco.ranking, id::text from cco.messages "
               "where search_vector operator(cco.@@) cco.to_tsquery(%s) "
               "order by search_vector operator(cco.<&>) %s::cco.ranking limit %s")
        plan = "\n".join(row[0] for row in connection.execute("explain " + sql, [ranking, query, ranking, limit]))
        assert "Index Scan using messages_rank_idx" in plan, plan
        return [(-row[0], row[1]) for row in connection.execute(sql, [ranking, query, ranking, limit]).fetchall()]


def check_query(connection, query: str) -> None:
    through_index = matched(connection, query, use_index=True)
    by_table = matched(connection, query, use_index=False)
    assert through_index == by_table, (query, len(through_index ^ by_table), "rows differ")
    terms, frequencies, documents, total_length = connection.execute(
        "select (r).terms, (r).frequencies, (r).documents, (r).total_length "
        "from (select cco.message_ranking(%s) r) x", [query]).fetchone()
    vectors = connection.execute(
        "select id::text, search_vector::text from cco.messages where id = any(%s::uuid[])",
        [list(by_table)]).fetchall()
    brute = sorted(((bm25(terms or [], frequencies or [], documents, total_length, parse_tsvector(v)), i)
                    for i, v in vectors), key=lambda pair: -pair[0])
    top = ranked_through_index(connection, query)
    assert len(top) == min(50, len(brute)), query
    for (score, _), (expected, _) in zip(top, brute):
        assert math.isclose(score, expected, rel_tol=1e-9, abs_tol=1e-9), (query, score, expected)
    if top:
        cut = top[-1][0]
        better = {i for s, i in top if s > cut + 1e-9}
        assert better == {i for s, i in brute if s > cut + 1e-9}, query


def verify(connection, heapallindexed: bool = True) -> dict:
    return one(connection, "select cco.verify_rank_index('cco.messages_rank_idx', %s)", [heapallindexed])


def check_everything(connection) -> dict:
    report = verify(connection)
    for query in QUERIES:
        check_query(connection, query)
    return report


def check_statistics(connection) -> None:
    """After VACUUM and optimize_rank_index the index's statistics are the table's."""
    terms, frequencies, documents, total_length = connection.execute(
        "select (r).terms, (r).frequencies, (r).documents, (r).total_length "
        "from (select cco.message_ranking('error timeout zanzibar') r) x").fetchone()
    assert documents == one(connection, "select count(*) from cco.messages")
    assert total_length == one(connection, "select coalesce(sum(cco.search_length(search_vector)), 0) from cco.messages")
    for term, frequency in zip(terms, frequencies):
        assert frequency == one(connection, "select count(*) from cco.messages where search_vector @@ %s::tsquery",
                                [f"'{term}'"]), term


# --- A cluster of the tests' own -------------------------------------------------------------

ROLES = [("anon", "nologin"), ("authenticated", "nologin"), ("service_role", "nologin bypassrls"),
         ("authenticator", "login noinherit")]


def server_bindir(connection) -> str:
    """The binaries of the server the suite runs on (any major)."""
    return one(connection, "select setting from pg_config where name = 'BINDIR'")


class Server:
    """A PostgreSQL cluster in a temporary directory, on a Unix socket only, stopped by its pid."""

    def __init__(self, bindir: str, name: str, port: int):
        self.bindir, self.port = bindir, port
        self.root = tempfile.mkdtemp(prefix=f"cco-{name}-", dir=os.environ.get("CCO_TEST_SCRATCH"))
        self.data = os.path.join(self.root, "data")
        self.socket = self.root
        self.as_postgres = ["sudo", "-u", "postgres"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.root, "postgres")

    def run(self, *command: str, timeout: float = 120) -> None:
        subprocess.run(self.as_postgres + list(command), check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def initdb(self, settings: dict | None = None) -> None:
        self.run(os.path.join(self.bindir, "initdb"), "-D", self.data, "-E", "UTF8", "--locale=C.UTF-8",
                 "-U", "postgres", "--auth=trust")
        self.configure(settings or {})

    def configure(self, settings: dict) -> None:
        lines = [f"port = {self.port}", "listen_addresses = ''", f"unix_socket_directories = '{self.socket}'",
                 "fsync = off" if settings.pop("fsync_off", False) else ""]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        command = f"cat >> {self.data}/postgresql.auto.conf"
        subprocess.run(self.as_postgres + ["sh", "-c", command], input="\n".join(lines) + "\n", text=True, check=True)

    def start(self, attempts: int = 30) -> None:
        for attempt in range(attempts):
            try:
                self.run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.root, "log"),
                         "-w", "-t", "60", "start")
                return
            except subprocess.CalledProcessError:
                # After a kill -9 the old backends may still hold shared memory for a moment.
                if attempt == attempts - 1:
                    raise
                time.sleep(1)

    def pid(self) -> int:
        with open(os.path.join(self.data, "postmaster.pid")) as file:
            return int(file.readline())

    def kill(self) -> None:
        os.kill(self.pid(), signal.SIGKILL)

    def stop(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                self.run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-t", "60", "stop")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                try:
                    os.kill(self.pid(), signal.SIGKILL)
                except (OSError, ValueError):
                    pass

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host=self.socket, port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def install(self) -> None:
        """Roles as the suite's cluster has them, and a database `truth` with cco."""
        with self.connect() as connection:
            for role, options in ROLES:
                connection.execute(f"create role {role} {options}")
            connection.execute("grant anon, authenticated, service_role to authenticator")
            connection.execute("create database truth")
        with self.connect("truth") as connection:
            connection.execute("create extension cco cascade")

    def base_backup(self, into: "Server") -> None:
        self.run(os.path.join(self.bindir, "pg_basebackup"), "-h", self.socket, "-p", str(self.port), "-U", "postgres",
                 "-D", into.data, "-R", "-X", "stream", "-c", "fast")
        # The connection string -R writes names every option of the client's libpq (17's has
        # sslnegotiation); the standby's walreceiver may load an older libpq that refuses unknown
        # options, so it gets only what it needs.
        into.configure({"primary_conninfo": f"'host={self.socket} port={self.port} user=postgres'"})
