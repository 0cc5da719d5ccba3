"""The rank index never lies: after every kind of history, on a streaming standby, after a crash
and under concurrent writers, the rows a search finds through cco_rank are the rows a sequential
scan finds, its ranks are BM25 computed here from the stored search vectors, and
cco.verify_rank_index (with heapallindexed) finds nothing wrong.

The standby and crash tests start clusters of their own (from the binaries of the server the
suite runs on, in temporary directories, on Unix sockets only) and stop them by pid when done.
CCO_STRESS_SECONDS sets how long the concurrent stress runs (20 s by default).
"""

from __future__ import annotations

import os
import random
import threading
import time

import psycopg
import pytest

from conftest import scalar, sqlstate_of
from rank_truth import (QUERIES, Server, check_everything, check_query, check_statistics, insert, one,
                        server_bindir, setup_corpus, verify)


def history(connection, rng: random.Random, conversations: list, check=check_everything, scale: int = 1) -> None:
    """Bulk load, small transactions, deletes, VACUUM, optimize, unflushed pending entries,
    aborted inserts and load/delete/vacuum cycles, checked after each."""
    insert(connection, rng, conversations, 3000 * scale)
    check(connection)
    for _ in range(150 * scale):
        with connection.transaction():
            insert(connection, rng, conversations, rng.randint(1, 3))
    check(connection)
    connection.execute("delete from cco.messages where random() < 0.2")
    check(connection)
    connection.execute("vacuum cco.messages")
    check(connection)
    connection.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
    check(connection)
    check_statistics(connection)
    insert(connection, rng, conversations, 20)  # left in the pending list
    assert check(connection)["pending_documents"] >= 20
    with pytest.raises(psycopg.errors.QueryCanceled):
        with connection.transaction():
            insert(connection, rng, conversations, 50)
            connection.execute("select pg_cancel_backend(pg_backend_pid())")
    report = check(connection)
    assert report["dead_entries"] >= 50, "rows of an aborted insert are in the index, and not live"
    for _ in range(10):
        insert(connection, rng, conversations, 300 * scale)
        connection.execute("delete from cco.messages where random() < 0.3")
        connection.execute("vacuum cco.messages")
        verify(connection)
    check(connection)


def test_verify_passes_on_an_empty_index_and_is_for_owners_only(db):
    report = scalar(db.admin, "select cco.verify_rank_index('cco.messages_rank_idx', true)")
    assert report["segments"] == 0 and report["heap_rows"] == 0
    db.admin.execute("drop role if exists truth_stranger")
    db.admin.execute("create role truth_stranger")
    db.admin.execute("grant execute on function cco.verify_rank_index(regclass, boolean) to truth_stranger")
    db.admin.execute("grant usage on schema cco to truth_stranger")

    def as_stranger():
        with db.admin.transaction():
            db.admin.execute("set local role truth_stranger")
            db.admin.execute("select cco.verify_rank_index('cco.messages_rank_idx')")

    assert sqlstate_of(as_stranger) == "42501"
    db.admin.execute("revoke all on function cco.verify_rank_index(regclass, boolean) from truth_stranger")
    db.admin.execute("revoke usage on schema cco from truth_stranger")
    db.admin.execute("drop role truth_stranger")
    assert sqlstate_of(lambda: db.admin.execute("select cco.verify_rank_index('cco.messages_pkey')")) == "42809"


def test_the_index_equals_the_table_after_every_history(db):
    rng = random.Random(19)
    history(db.admin, rng, setup_corpus(db.admin))


@pytest.fixture(scope="module")
def bindir(db):
    return server_bindir(db.admin)


@pytest.mark.parametrize("consistency_checking", [False, True], ids=["plain", "wal_consistency_checking"])
def test_a_streaming_standby_answers_like_its_primary(bindir, consistency_checking):
    settings = {"wal_consistency_checking": "'generic'"} if consistency_checking else {}
    primary, standby = Server(bindir, "primary", 5445), Server(bindir, "standby", 5446)
    try:
        # No autovacuum: a VACUUM between the standby's catching up and the primary's answer
        # would change the primary's statistics under the comparison; the history runs its own.
        primary.initdb(dict(settings, fsync_off=True, autovacuum="off"))
        primary.start()
        primary.install()
        primary.base_backup(standby)
        standby.configure(dict(settings))
        standby.start()
        with primary.connect("truth") as writer, standby.connect("truth") as reader:
            rng = random.Random(5)
            conversations = setup_corpus(writer)

            def check_both(connection):
                report = check_everything(connection)
                wait_for_replay(writer, reader)
                assert verify(reader) == report
                for query in QUERIES:
                    assert matching(reader, query) == matching(writer, query), query
                    assert answers(reader, query) == answers(writer, query), query
                return report

            history(writer, rng, conversations, check=check_both, scale=1)
            reader.execute("select pg_promote(true, 60)")
            insert(reader, rng, conversations, 500)
            reader.execute("delete from cco.messages where random() < 0.1")
            reader.execute("vacuum cco.messages")
            check_everything(reader)
    finally:
        standby.remove()
        primary.remove()


def matching(connection, query: str) -> list:
    """Every row a search matches, through the index."""
    return connection.execute("select id::text from cco.messages where search_vector operator(cco.@@) "
                              "cco.to_tsquery(%s) order by id", [query]).fetchall()


def answers(connection, query: str) -> list:
    """Ids, order and ranks of a search's best 50, through the index."""
    ranking = one(connection, "select cco.message_ranking(%s)::text", [query])
    return [(round(row[0], 9), row[1]) for row in connection.execute(
        "select search_vector operator(cco.<&>) %s::cco.ranking, id::text from cco.messages "
        "where search_vector operator(cco.@@) cco.to_tsquery(%s) "
        "order by search_vector operator(cco.<&>) %s::cco.ranking, id limit 50", [ranking, query, ranking])]


def wait_for_replay(primary, standby, seconds: float = 60) -> None:
    # The insert position, not pg_current_wal_lsn (what has been written out): VACUUM and the
    # index's merges need no transaction id, so their WAL has no commit to flush it and reaches the
    # standby only when the WAL writer writes it, after this function would have stopped waiting.
    target = one(primary, "select pg_current_wal_insert_lsn()::text")
    deadline = time.monotonic() + seconds
    while not one(standby, "select pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]):
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.05)


def test_a_crash_mid_load_loses_no_committed_row_and_keeps_no_uncommitted_one(bindir):
    server = Server(bindir, "crash", 5445)
    committed, rolled_back, errors = set(), set(), []
    stop = threading.Event()
    try:
        server.initdb()
        server.start()
        server.install()
        with server.connect("truth") as connection:
            conversations = setup_corpus(connection)

        def writer(seed: int) -> None:
            rng = random.Random(seed)
            try:
                with server.connect("truth") as connection:
                    while not stop.is_set():
                        with connection.transaction():
                            ids = insert(connection, rng, conversations, rng.randint(1, 40))
                        committed.update(ids)  # only once the commit returned
            except psycopg.OperationalError:
                pass  # the server went away: expected
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        # Rolled-back inserts: kept apart so they can be looked for afterwards.
        def aborter(seed: int) -> None:
            rng = random.Random(seed)
            try:
                with server.connect("truth") as connection:
                    while not stop.is_set():
                        try:
                            with connection.transaction():
                                rolled_back.update(insert(connection, rng, conversations, rng.randint(1, 20)))
                                raise psycopg.Rollback()
                        except psycopg.Rollback:
                            pass
            except psycopg.OperationalError:
                pass
            except Exception as error:  # noqa: BLE001
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        threads.append(threading.Thread(target=aborter, args=(99,)))
        for thread in threads:
            thread.start()
        time.sleep(4)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert len(committed) > 100
        server.start()
        with server.connect("truth") as connection:
            found = set()
            for query in ["error", "the", "data", "timeout", "zanzibar"]:
                found |= {row[0] for row in connection.execute(
                    "select id::text from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s)", [query])}
            in_table = {row[0] for row in connection.execute("select id::text from cco.messages")}
            assert committed <= in_table, "every committed row survived"
            assert not rolled_back & in_table, "no rolled-back row did"
            for query in QUERIES:
                check_query(connection, query)
            assert not rolled_back & found
            verify(connection)
            connection.execute("vacuum cco.messages")
            check_everything(connection)
    finally:
        stop.set()
        server.remove()


def test_concurrent_writers_searchers_vacuum_and_merges_agree_with_the_table(db):
    seconds = float(os.environ.get("CCO_STRESS_SECONDS", "20"))
    conversations = setup_corpus(db.admin)
    insert(db.admin, random.Random(1), conversations, 2000)
    stop = threading.Event()
    counts = {"operations": 0, "searches": 0, "mismatches": 0, "errors": 0, "deadlocks": 0}
    problems: list = []
    lock = threading.Lock()

    def count(key: str, detail=None) -> None:
        with lock:
            counts[key] += 1
            if detail is not None and len(problems) < 10:
                problems.append(detail)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with db.connect_admin() as connection:
            while not stop.is_set():
                choice = rng.random()
                try:
                    if choice < 0.3:
                        insert(connection, rng, conversations, rng.randint(1, 30))
                    elif choice < 0.4:
                        connection.execute("delete from cco.messages where id in (select id from cco.messages "
                                           "order by random() limit %s)", [rng.randint(1, 20)])
                    elif choice < 0.5:
                        connection.execute("update cco.messages set content = content || ' zanzibar deploy' "
                                           "where id in (select id from cco.messages order by random() limit %s)",
                                           [rng.randint(1, 10)])
                    elif choice < 0.95:
                        # One snapshot for both ways of searching: they must agree exactly.
                        query = rng.choice(QUERIES)
                        connection.execute("begin isolation level repeatable read")
                        try:
                            connection.execute("set local enable_seqscan = off")
                            through_index = {r[0] for r in connection.execute(
                                "select id::text from cco.messages where search_vector operator(cco.@@) "
                                "cco.to_tsquery(%s)", [query])}
                            connection.execute("set local enable_seqscan = on")
                            connection.execute("set local enable_indexscan = off")
                            connection.execute("set local enable_bitmapscan = off")
                            by_table = {r[0] for r in connection.execute(
                                "select id::text from cco.messages where search_vector operator(cco.@@) "
                                "cco.to_tsquery(%s)", [query])}
                        finally:
                            connection.execute("commit")
                        count("searches")
                        if through_index != by_table:
                            count("mismatches", (query, len(through_index ^ by_table)))
                    elif choice < 0.98:
                        connection.execute("vacuum cco.messages")
                    else:
                        connection.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
                    count("operations")
                except psycopg.errors.DeadlockDetected as error:
                    count("deadlocks", repr(error))
                except psycopg.Error as error:
                    count("errors", repr(error))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    print(f"stress {seconds:.0f} s: {counts}")
    assert counts["mismatches"] == 0 and counts["errors"] == 0 and counts["deadlocks"] == 0, (counts, problems)
    assert counts["searches"] > 10
    check_everything(db.admin)
