"""The ranked search index (cco_rank) as a client sees it: whatever it holds and however it got
there (inserts, updates, deletes, vacuum, merges, concurrent writers), a search through it returns
exactly what scoring every row one by one returns, in the same order.
"""

from __future__ import annotations

import random
import threading

import psycopg
import pytest

from conftest import scalar, sqlstate_of

QUERIES = [
    "error", "handler timeout", '"retry later"', "getUserData", "E0382 or E0499", "deploy -staging",
    "src/api/handler.rs", "cache or session", "timeout -error", "user data", "later",
    '"later retry" -"deploy staging"', '"handler timeout" or "cache session"', '"the the"',
]
WORDS = ["error", "handler", "timeout", "retry", "later", "deploy", "staging", "cache", "session", "the",
         "getUserData", "E0382", "E0499", "src/api/handler.rs", "config", "value", "borrowed", "user", "data"]


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))


def make_projects(admin, count: int) -> list:
    return [scalar(admin, "insert into cco.projects (name, path) values (%s, %s) returning id",
                   [f"rank-{n}-{random.random()}", f"/rank/{n}/{random.random()}"]) for n in range(count)]


def insert_messages(connection, conversations: list, texts: list[str]) -> None:
    connection.execute(
        "insert into cco.messages (conversation_id, role, content) "
        "select c, 'user', t from unnest(%s::uuid[], %s::text[]) as x(c, t)",
        [conversations, texts])


def ranking_of(connection, query: str, projects=None) -> str:
    return scalar(connection, "select cco.message_ranking(%s, %s)::text", [query, projects])


def ranked(connection, query: str, projects=None, use_index=True, limit=40, ranking=None) -> list[tuple]:
    """(distance, id) of the best matches, through the ranked index or row by row."""
    ranking = ranking or ranking_of(connection, query, projects)
    with connection.transaction():
        # Either plan, whatever the (possibly stale) statistics make the planner expect; row by
        # row means reading the table, so the index decides nothing of what matches.
        connection.execute("set local enable_indexscan = %s" % ("on" if use_index else "off"))
        connection.execute("set local enable_bitmapscan = %s" % ("on" if use_index else "off"))
        connection.execute("set local enable_sort = %s" % ("off" if use_index else "on"))
        plan = "\n".join(row[0] for row in connection.execute(
            "explain select id from cco.messages where search_vector operator(cco.@@) cco.to_tsquery(%s) "
            "and (%s::uuid[] is null or project_id = any (%s::uuid[])) "
            "order by search_vector operator(cco.<&>) %s::cco.ranking limit %s",
            [query, projects, projects, ranking, limit]).fetchall())
        # Ranked by the index (an ordered index scan), or every match scored and sorted.
        assert ("Index Scan using messages_rank_idx" in plan and "Sort" not in plan) == use_index, plan
        return [(round(row[0], 9), row[1]) for row in connection.execute(
            "select search_vector operator(cco.<&>) %s::cco.ranking, id::text from cco.messages "
            "where search_vector operator(cco.@@) cco.to_tsquery(%s) "
            "and (%s::uuid[] is null or project_id = any (%s::uuid[])) "
            "order by search_vector operator(cco.<&>) %s::cco.ranking limit %s",
            [ranking, query, projects, projects, ranking, limit]).fetchall()]


def assert_same_ranking(through_index: list[tuple], row_by_row: list[tuple]) -> None:
    assert [d for d, _ in through_index] == sorted(d for d, _ in row_by_row), "the same distances, best first"
    if through_index:
        # Rows tied with the last one may be cut either way; every better one must be there.
        cut = through_index[-1][0]
        assert sorted(i for d, i in through_index if d < cut) == sorted(i for d, i in row_by_row if d < cut)


def check_every_query(connection, projects_list) -> None:
    for query in QUERIES:
        for projects in [None] + projects_list:
            # One ranking for both ways: an autovacuum in between may record deletions, which
            # changes the statistics (and every distance) by design.
            ranking = ranking_of(connection, query, projects)
            assert_same_ranking(ranked(connection, query, projects, ranking=ranking),
                                ranked(connection, query, projects, use_index=False, ranking=ranking))


@pytest.fixture(scope="module")
def corpus(db):
    rng = random.Random(7)
    projects = make_projects(db.admin, 3)
    conversations = [scalar(db.admin, "insert into cco.conversations (project_id) values (%s) returning id", [p])
                     for p in projects for _ in range(4)]
    # Enough rows for several flushes of the pending list and merges of segments.
    for _ in range(6):
        chosen = [rng.choice(conversations) for _ in range(1500)]
        insert_messages(db.admin, chosen, [random_text(rng) for _ in chosen])
    return {"projects": projects, "conversations": conversations, "rng": rng}


def test_searches_through_the_index_rank_like_every_row_scored(db, corpus):
    check_every_query(db.admin, [[corpus["projects"][0]], corpus["projects"][1:]])


@pytest.mark.parametrize("projects, roles", [(None, None), ("first", None), ("first", ["user"])])
def test_search_messages_pages_through_the_ranked_scan_whatever_the_word(db, corpus, projects, roles):
    """cco.search_messages plans once for every query (a generic plan), knowing neither how many
    rows match nor the page size. Its page must come from the ranked scan, which stops after the
    page, and never from a bitmap scan and a sort, which score every match: for a word in most
    messages that was a hundred times slower."""
    scope = None if projects is None else [corpus["projects"][0]]
    plans: list[str] = []
    with db.connect_admin() as connection:
        connection.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
        connection.execute("load 'auto_explain'")
        for setting, value in (("log_min_duration", "0"), ("log_nested_statements", "on"),
                               ("log_level", "notice")):
            connection.execute(f"set auto_explain.{setting} = {value}")
        for word in ("error", "handler timeout", "getUserData"):
            connection.execute("select count(*) from cco.search_messages(%s, %s, null, %s)",
                               [word, scope, roles]).fetchone()
    pages = [plan for plan in plans if "with page as materialized" in plan]
    assert len(pages) == 3, plans
    for plan in pages:
        assert ("Index Scan using messages_rank_idx" in plan
                and "Bitmap Heap Scan on messages" not in plan), plan


def test_updates_deletes_and_vacuum_change_nothing_but_what_they_should(db, corpus):
    rng = corpus["rng"]
    db.admin.execute("update cco.messages set content = content || ' deploy staging' where content like '%cache%'")
    db.admin.execute("delete from cco.messages where content like '%session%timeout%'")
    check_every_query(db.admin, [[corpus["projects"][2]]])
    db.admin.execute("vacuum cco.messages")
    check_every_query(db.admin, [[corpus["projects"][2]]])
    chosen = [rng.choice(corpus["conversations"]) for _ in range(700)]
    insert_messages(db.admin, chosen, [random_text(rng) for _ in chosen])
    db.admin.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
    segments = scalar(db.admin, "select count(*) from cco.rank_index_segments('cco.messages_rank_idx')")
    assert segments == 1, "optimizing merges the index into one segment"
    check_every_query(db.admin, [])


def test_ranking_statistics_count_what_is_there(db, corpus):
    db.admin.execute("vacuum cco.messages")
    db.admin.execute("select cco.optimize_rank_index('cco.messages_rank_idx')")
    ranking = db.admin.execute(
        "select (r).terms, (r).frequencies, (r).documents, (r).total_length from "
        "(select cco.message_ranking('timeout handler') r) x").fetchone()
    terms, frequencies, documents, total_length = ranking
    assert documents == scalar(db.admin, "select count(*) from cco.messages")
    assert total_length == scalar(db.admin, "select sum(cco.search_length(search_vector)) from cco.messages")
    for term, frequency in zip(terms, frequencies):
        assert frequency == scalar(db.admin, "select count(*) from cco.messages where search_vector @@ cco.lexeme_tsquery(%s)", [term])
    project = corpus["projects"][1]
    documents = scalar(db.admin, "select (cco.message_ranking('timeout', array[%s]::uuid[])).documents", [project])
    assert documents == scalar(db.admin, "select count(*) from cco.messages where project_id = %s", [project])


def test_concurrent_writers_and_readers_lose_nothing(db, corpus):
    rng = random.Random(11)
    errors: list[Exception] = []
    batches = {n: [[rng.choice(corpus["conversations"]) for _ in range(300)] for _ in range(6)] for n in range(3)}

    def write(number: int) -> None:
        local = random.Random(number)
        try:
            with psycopg.connect(dbname=db.name, autocommit=True) as connection:
                for chosen in batches[number]:
                    insert_messages(connection, chosen, [random_text(local) + " concurrentword" for _ in chosen])
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    def read() -> None:
        try:
            with psycopg.connect(dbname=db.name, autocommit=True) as connection:
                for _ in range(30):
                    connection.execute("select count(*) from cco.search_messages('concurrentword timeout')").fetchone()
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = 3 * 6 * 300
    assert scalar(db.admin, "select (cco.message_ranking('concurrentword')).frequencies[1]") == expected
    assert scalar(db.admin, "select count(*) from cco.search_messages('concurrentword', limit_count => 1000)") == 1000
    check_every_query(db.admin, [])


def test_an_ordering_without_a_condition_returns_every_row(db, corpus):
    ranking = scalar(db.admin, "select cco.message_ranking('timeout')::text")
    with db.admin.transaction():
        db.admin.execute("set local enable_seqscan = off")
        db.admin.execute("set local enable_sort = off")
        rows = db.admin.execute(
            "select search_vector operator(cco.<&>) %s::cco.ranking from cco.messages "
            "order by search_vector operator(cco.<&>) %s::cco.ranking", [ranking, ranking]).fetchall()
    assert len(rows) == scalar(db.admin, "select count(*) from cco.messages")
    distances = [row[0] for row in rows]
    assert distances == sorted(distances), "best first, then every row holding none of the terms"
    assert distances[-1] == 0


def test_odd_queries_and_rankings_are_answered_not_crashed_on(db, corpus):
    deep = " & ".join(["timeout"] * 600)
    hostile_rankings = ['("{timeout}","{-5}",-1,-3,NaN,7)', '("{}","{}",0,0,1.2,0.75)', '(,,,,,)',
                        '("{timeout,handler}","{1}",10,10,1.2,0.75)']
    for ranking in hostile_rankings:
        count = scalar(db.admin,
                       "select count(*) from (select id from cco.messages where search_vector operator(cco.@@) "
                       "cco.to_tsquery('timeout') order by search_vector operator(cco.<&>) %s::cco.ranking limit 20) x",
                       [ranking])
        assert count == 20
    assert scalar(db.admin, "select count(*) from cco.messages where search_vector @@ %s::tsquery", [deep]) == \
        scalar(db.admin, "select count(*) from cco.messages where search_vector @@ 'timeout'::tsquery")
    assert scalar(db.admin, "select count(*) from cco.search_messages(%s)", ["'" * 50]) == 0
    assert scalar(db.admin, "select cco.ranked_distance(null, null)") == 0
    assert scalar(db.admin, "select count(*) from cco.messages where search_vector @@ 'tim:*'::tsquery") > 0


def test_maintenance_functions_check_what_they_are_given(db):
    assert sqlstate_of(lambda: db.admin.execute("select cco.optimize_rank_index('cco.messages_pkey')")) == "42809"
    assert sqlstate_of(lambda: db.admin.execute("select * from cco.rank_index_segments('cco.projects')")) == "42809"
    assert sqlstate_of(lambda: db.admin.execute(
        "create index on cco.messages using cco_rank (project_id, search_vector) with (fillfactor = 50)")) == "22023"
    assert sqlstate_of(lambda: db.admin.execute(
        "create index on cco.messages using cco_rank (project_id, conversation_id, search_vector)")) == "42P17"
    assert sqlstate_of(lambda: db.admin.execute("create index on cco.messages using cco_rank (content)")) == "42704"


def test_an_index_without_a_project_column_ranks_everything_as_one(db, corpus):
    db.admin.execute("create table public.notes as select id, search_vector from cco.messages")
    db.admin.execute("create index notes_rank on public.notes using cco_rank (search_vector)")
    ranking = scalar(db.admin, "select cco.ranking_within('notes_rank'::regclass, 'timeout', null)::text")
    found = db.admin.execute(
        "select count(*) from (select id from public.notes where search_vector @@ 'timeout'::tsquery "
        "order by search_vector operator(cco.<&>) %s::cco.ranking limit 25) x", [ranking]).fetchone()[0]
    assert found == 25
    assert scalar(db.admin, "select (%s::cco.ranking).documents", [ranking]) == scalar(db.admin, "select count(*) from public.notes")
