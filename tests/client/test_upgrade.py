"""Versions: an installation of every earlier release updates in place with its data, to exactly
what a fresh install of this version creates; and DROP EXTENSION removes every trace of cco.

Each release's install script is kept, frozen, under sql/releases/. A real user has it
installed already; the test puts it beside this version's files in the server's extension
directory so the cluster can install the old version first.
"""

from __future__ import annotations

import filecmp
import glob
import os
import shutil

import pytest

from catalog_fingerprint import differences, fingerprint
from conftest import _admin_connect, create_database, drop_database, scalar

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
# Every released version: each must update to this one (through every release in between).
RELEASES = ["0.1.0", "0.2.0", "0.3.0", "0.4.0"]
SAMPLE_TRANSCRIPTS = os.path.join(ROOT, "examples", "claude-projects", "-home-dev-shop")


@pytest.fixture(scope="module", params=RELEASES)
def previous_release(cluster, request) -> str:
    release = request.param
    with _admin_connect() as admin:
        sharedir = scalar(admin, "select setting from pg_config where name = 'SHAREDIR'")
    frozen = os.path.join(ROOT, "sql", "releases", f"cco--{release}.sql")
    installed = os.path.join(sharedir, "extension", f"cco--{release}.sql")
    if not (os.path.exists(installed) and filecmp.cmp(frozen, installed, shallow=False)):
        try:
            shutil.copyfile(frozen, installed)
        except PermissionError:
            pytest.fail(f"the test needs to write {installed}: run the tests as root or with sudo")
    return release


def load_sample(connection) -> None:
    for path in sorted(glob.glob(os.path.join(SAMPLE_TRANSCRIPTS, "*.jsonl"))):
        with open(path, encoding="utf-8") as transcript:
            connection.execute(
                "select cco.ingest_transcript(%s, %s)", [transcript.read(), path]
            )
    project = scalar(connection, "select id from cco.projects limit 1")
    connection.execute(
        "insert into cco.project_members (project_id, user_id, role) values (%s, gen_random_uuid(), 'viewer')",
        [project],
    )


def state(connection) -> dict:
    """What users have stored and what they see of it."""
    return {
        "rows": connection.execute(
            "select (select count(*) from cco.projects), (select count(*) from cco.project_members),"
            " (select count(*) from cco.conversations), (select count(*) from cco.messages),"
            " (select count(*) from cco.tool_calls), (select count(*) from cco.audit_log)"
        ).fetchone(),
        "counts": connection.execute(
            "select id, message_count, search_length from cco.conversations order by id"
        ).fetchall(),
        "threads": connection.execute(
            "select id, parent_id, depth from cco.messages order by id"
        ).fetchall(),
        "search": connection.execute(
            "select id, rank from cco.search_messages('checkout total') order by rank desc, id"
        ).fetchall(),
    }


def test_update_from_the_previous_release_keeps_data_and_equals_a_fresh_install(previous_release):
    current = None
    with _admin_connect() as admin:
        current = scalar(admin, "select default_version from pg_available_extensions where name = 'cco'")
    assert current != previous_release, "this version must be newer than every release"

    with _admin_connect() as admin:
        admin.execute("drop database if exists cco_upgraded with (force)")
        admin.execute("create database cco_upgraded")
    upgraded = _admin_connect("cco_upgraded")
    fresh = create_database("cco_fresh_install")
    try:
        upgraded.execute(f"create extension cco version '{previous_release}' cascade")
        load_sample(upgraded)
        before = state(upgraded)
        assert before["rows"][3] > 0 and before["search"], "the sample must give something to keep"

        upgraded.execute("alter extension cco update")
        assert scalar(upgraded, "select extversion from pg_extension where extname = 'cco'") == current
        assert state(upgraded) == before

        # New writes work on the upgraded schema and keep statistics exact.
        conversation = before["counts"][0][0]
        upgraded.execute(
            "insert into cco.messages (conversation_id, role, content) values (%s, 'user', 'after the update')",
            [conversation],
        )
        assert scalar(
            upgraded,
            "select message_count = (select count(*) from cco.messages where conversation_id = %s)"
            " from cco.conversations where id = %s",
            [conversation, conversation],
        )

        left, right = fingerprint(upgraded), fingerprint(fresh.admin)
        assert left == right, "the updated schema differs from a fresh install:\n" + differences(left, right)
    finally:
        upgraded.close()
        drop_database(fresh)
        with _admin_connect() as admin:
            admin.execute("drop database if exists cco_upgraded with (force)")


# Everything a database holds that an extension could leave behind, named without OIDs.
LEFTOVERS = """
    select 'namespace ' || nspname from pg_namespace where nspname !~ '^pg_(toast_)?temp_'
    union all select 'relation ' || oid::regclass::text from pg_class
    union all select 'function ' || oid::regprocedure::text from pg_proc
    union all select 'type ' || oid::regtype::text from pg_type
    union all select 'operator ' || oid::regoperator::text from pg_operator
    union all select 'opclass ' || opcname from pg_opclass
    union all select 'opfamily ' || opfname from pg_opfamily
    union all select 'cast ' || castsource::regtype || ' -> ' || casttarget::regtype from pg_cast
    union all select 'event trigger ' || evtname from pg_event_trigger
    union all select 'policy ' || polname from pg_policy
    union all select 'publication table ' || prrelid::regclass::text from pg_publication_rel
    union all select 'extension ' || extname from pg_extension
    union all select 'text search configuration ' || cfgname from pg_ts_config
"""


def test_drop_extension_cascade_leaves_nothing_behind(cluster):
    with _admin_connect() as admin:
        admin.execute("drop database if exists cco_dropped with (force)")
        admin.execute("create database cco_dropped")
    connection = _admin_connect("cco_dropped")
    try:
        # The platform's own objects exist before cco and must survive it.
        connection.execute("create extension pg_trgm")
        connection.execute("create publication supabase_realtime")
        before = {row[0] for row in connection.execute(LEFTOVERS)}

        connection.execute("create extension cco")
        load_sample(connection)
        connection.execute("create view public.my_report as select count(*) from cco.messages")
        connection.execute("select cco.refresh_analytics()")
        assert scalar(connection, "select count(*) from pg_publication_rel") > 0

        connection.execute("drop extension cco cascade")
        # PostgreSQL creates the schema named by the control file before the extension exists, so
        # the schema is not a member and outlives it, empty: a plain DROP SCHEMA (no CASCADE)
        # removes it, which proves nothing else is left inside.
        connection.execute("drop schema cco")
        after = {row[0] for row in connection.execute(LEFTOVERS)}
        assert after == before, f"left behind: {sorted(after - before)}; removed: {sorted(before - after)}"
        assert scalar(connection, "select count(*) from pg_extension where extname = 'pg_trgm'") == 1

        # And it installs again cleanly.
        connection.execute("create extension cco")
        assert scalar(connection, "select count(*) from cco.messages") == 0
    finally:
        connection.close()
        with _admin_connect() as admin:
            admin.execute("drop database if exists cco_dropped with (force)")
