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
from rank_truth import (MATCH, QUERIES, Server, check_everything, check_query, check_statistics, delete_some,
                        insert, one, rewrite_some, server_bindir, setup_corpus, verify)


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
                assert index_structure(verify(reader)) == index_structure(report)
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


def index_structure(report: dict) -> dict:
    """What a verify report says of the index alone. Its heap counts depend on which dead rows each
    server still keeps (the primary's horizon holds back rows for the standby's queries; reading the
    table prunes pages, in WAL the standby replays a moment later)."""
    return {key: value for key, value in report.items() if key not in ("heap_rows", "dead_entries")}


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
                        delete_some(connection, rng, 20)
                    elif choice < 0.5:
                        rewrite_some(connection, rng, 10)
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


@pytest.mark.parametrize("feedback", [True, False], ids=["hot_standby_feedback", "no_feedback"])
def test_searches_on_a_standby_agree_with_its_table_while_the_primary_writes(bindir, feedback):
    """Hot standby under load: while the primary inserts, deletes, vacuums and merges, every search
    on the standby finds, through the index, exactly the rows a sequential scan of the same snapshot
    finds. Queries canceled for conflicting with recovery (PostgreSQL's for the table's rows, cco's
    for index pages the primary reused) are counted apart; without feedback most searches are."""
    seconds = float(os.environ.get("CCO_STANDBY_STRESS_SECONDS", "10"))
    primary, standby = Server(bindir, "primary", 5447), Server(bindir, "standby", 5448)
    stop = threading.Event()
    counts = {"writes": 0, "searches": 0, "mismatches": 0, "errors": 0, "conflicts": 0}
    problems: list = []
    lock = threading.Lock()

    def count(key: str, detail=None) -> None:
        with lock:
            counts[key] += 1
            if detail is not None and len(problems) < 10:
                problems.append(detail)

    try:
        primary.initdb({"fsync_off": True, "autovacuum": "off"})
        primary.start()
        primary.install()
        primary.base_backup(standby)
        standby.configure({"hot_standby_feedback": "on" if feedback else "off",
                           "max_standby_streaming_delay": "'5s'"})
        standby.start()
        with primary.connect("truth") as setup:
            conversations = setup_corpus(setup)
            insert(setup, random.Random(7), conversations, 2000)

        def writer(seed: int) -> None:
            rng = random.Random(seed)
            with primary.connect("truth") as connection:
                while not stop.is_set():
                    choice = rng.random()
                    try:
                        if choice < 0.5:
                            insert(connection, rng, conversations, rng.randint(1, 60))
                        elif choice < 0.7:
                            delete_some(connection, rng, 40)
                        elif choice < 0.8:
                            rewrite_some(connection, rng, 10)
                        elif choice < 0.95:
                            connection.execute("vacuum cco.messages")
                        else:
                            connection.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
                        count("writes")
                    except psycopg.Error as error:
                        count("errors", ("primary", repr(error)))

        def search_once(connection, query: str) -> None:
            connection.execute("begin isolation level repeatable read")
            try:
                connection.execute("set local enable_seqscan = off")
                ranked = [r[0] for r in connection.execute(
                    "select id::text from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s) "
                    "order by search_vector operator(cco.<&>) cco.message_ranking(%s), id limit 50", [query, query])]
                # Read through a cursor with pauses, so the index scan spans the primary's merges,
                # page frees and page reuses being replayed.
                connection.execute("declare found no scroll cursor for select id::text from cco.messages "
                                   "where search_vector operator(cco.@@) cco.to_tsquery(%s)", [query])
                through_index = set()
                while batch := connection.execute("fetch 250 from found").fetchall():
                    through_index |= {r[0] for r in batch}
                    time.sleep(0.01)
                connection.execute("set local enable_seqscan = on")
                connection.execute("set local enable_indexscan = off")
                connection.execute("set local enable_bitmapscan = off")
                by_table = {r[0] for r in connection.execute(
                    "select id::text from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s)",
                    [query])}
            finally:
                if not connection.closed:
                    connection.execute("rollback")
            count("searches")
            if through_index != by_table or not set(ranked) <= by_table:
                count("mismatches", (query, len(through_index ^ by_table), len(set(ranked) - by_table)))

        def searcher(seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                try:
                    connection = standby.connect("truth")
                except psycopg.OperationalError:
                    count("conflicts")  # refused while replay cancels sessions
                    continue
                with connection:
                    while not stop.is_set() and not connection.closed:
                        try:
                            search_once(connection, rng.choice(QUERIES))
                        except psycopg.Error as error:
                            # Canceled, or disconnected, for conflicting with recovery: PostgreSQL's
                            # own rule for queries on a standby.
                            if (error.sqlstate == "40001" or "conflict with recovery" in str(error)
                                    or connection.closed):
                                count("conflicts")
                            else:
                                count("errors", ("standby", repr(error)))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
        threads += [threading.Thread(target=searcher, args=(100 + n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(120)
        print(f"standby under load {seconds:.0f} s: {counts}")
        with open(os.path.join(standby.root, "log")) as log:
            crashes = [line for line in log if "terminated by signal" in line or "PANIC" in line]
        assert not crashes, crashes  # a lost connection was a cancellation, not a crash
        assert counts["mismatches"] == 0 and counts["errors"] == 0, (counts, problems)
        assert counts["searches"] > (10 if feedback else 0) and counts["writes"] > 10, counts
        # Replay still cancels sessions for a while after the writers stop (without feedback).
        deadline = time.monotonic() + 60
        while True:
            try:
                with primary.connect("truth") as writer_connection, standby.connect("truth") as reader:
                    wait_for_replay(writer_connection, reader)
                    assert index_structure(verify(reader)) == index_structure(verify(writer_connection))
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "the standby kept canceling the final check"
                time.sleep(0.5)
    finally:
        stop.set()
        standby.remove()
        primary.remove()


def test_a_standby_search_whose_pages_the_primary_reuses_is_canceled_not_wrong(bindir):
    """A cursor on the standby reads the index lazily. Meanwhile the primary merges (freeing the
    pages the cursor still has to read) and writes a new segment into those pages; replayed, that
    reuse cancels the standby's search as a recovery conflict (40001) instead of letting it read
    another segment's postings."""
    primary, standby = Server(bindir, "primary", 5449), Server(bindir, "standby", 5450)
    try:
        primary.initdb({"fsync_off": True, "autovacuum": "off"})
        primary.start()
        primary.install()
        primary.base_backup(standby)
        standby.configure({"hot_standby_feedback": "off"})
        standby.start()
        with primary.connect("truth") as writer, standby.connect("truth") as reader:
            rng = random.Random(11)
            conversations = setup_corpus(writer)
            for _ in range(4):  # segments, each written out by VACUUM, for the merge below to free
                insert(writer, rng, conversations, 1500)
                writer.execute("vacuum cco.messages")
            assert one(writer, "select count(*) from cco.rank_index_segments('cco.messages_rank_idx')") > 1
            wait_for_replay(writer, reader)
            expected = {row[0] for row in reader.execute(MATCH, ["error"])}

            reader.execute("begin isolation level repeatable read")
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                reader.execute(f"set local {setting} = off")
            search = ("select id::text from cco.messages where search_vector operator(cco.@@) cco.to_tsquery('error') "
                      "order by search_vector operator(cco.<&>) cco.message_ranking('error')")
            plan = "\n".join(row[0] for row in reader.execute("explain " + search))
            assert "Index Scan using messages_rank_idx" in plan, plan
            reader.execute("declare ranked no scroll cursor for " + search)
            first = {row[0] for row in reader.execute("fetch 5 from ranked")}
            # Merge everything, freeing every page the cursor reads. Then reuse freed pages without
            # touching the table (whose pruning would cancel the cursor for its own reasons): each
            # optimize takes the oldest reusable page for a new pending list, finds nothing pending
            # and frees it again, and each transaction id consumed makes the pages freed before it
            # reusable.
            writer.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
            queued = one(writer, "select (cco.verify_rank_index('cco.messages_rank_idx') ->> 'free_pages')::int")
            for _ in range(queued + 20):
                writer.execute("select txid_current()")
                writer.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
            wait_for_replay(writer, reader)
            try:
                rest = {row[0] for row in reader.execute("fetch all from ranked")}
            except psycopg.errors.SerializationFailure as error:
                assert "conflict with recovery" in str(error) and "reused" in error.diag.message_detail
                reader.execute("rollback")
            else:
                # Not reused before the cursor read its pages: then the answer must be exact.
                assert first | rest == expected
                pytest.fail("the primary did not reuse the pages the standby's cursor still had to read")
            assert {row[0] for row in reader.execute(MATCH, ["error"])} >= expected  # later searches work
            assert index_structure(verify(reader)) == index_structure(verify(writer))
    finally:
        standby.remove()
        primary.remove()
