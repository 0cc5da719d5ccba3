"""Client-level tests: cco as a real client sees it.

The suite runs inside a throwaway cluster started by `pg_virtualenv`, which exports PGHOST, PGPORT,
PGUSER (a superuser) and PGPASSWORD. Every test module gets a fresh database with cco installed.

API calls are made the way PostgREST makes them: a login role (`authenticator`) that, per request,
opens a transaction, switches to the role named by the JWT (`set local role`) and stores the claims
with `set_config('request.jwt.claims', ..., true)`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from dataclasses import dataclass, field

import psycopg
import pytest

AUTHENTICATOR_PASSWORD = "authenticator-test-password"


def _admin_connect(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(dbname=dbname, autocommit=True)


@pytest.fixture(scope="session")
def cluster() -> None:
    """Creates the roles a Supabase-style platform has, before any database installs cco."""
    with _admin_connect() as admin:
        existing = {row[0] for row in admin.execute("select rolname from pg_roles")}
        for role, options in (
            ("anon", "nologin"),
            ("authenticated", "nologin"),
            ("service_role", "nologin bypassrls"),
        ):
            if role not in existing:
                admin.execute(f"create role {role} {options}")
        if "authenticator" not in existing:
            admin.execute(
                f"create role authenticator login noinherit password '{AUTHENTICATOR_PASSWORD}'"
            )
        admin.execute("grant anon, authenticated, service_role to authenticator")


@dataclass
class Database:
    """A database with cco installed, and ways to talk to it."""

    name: str
    admin: psycopg.Connection
    _connections: list[psycopg.Connection] = field(default_factory=list)

    def connect_admin(self) -> psycopg.Connection:
        connection = _admin_connect(self.name)
        self._connections.append(connection)
        return connection

    def connect_api(self) -> psycopg.Connection:
        """A connection as PostgREST's login role; use `request()` on it for each call."""
        connection = psycopg.connect(
            dbname=self.name, user="authenticator", password=AUTHENTICATOR_PASSWORD,
            autocommit=True,
        )
        self._connections.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._connections:
            connection.close()


def create_database(name: str) -> Database:
    with _admin_connect() as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    connection = _admin_connect(name)
    connection.execute("create extension cco cascade")
    return Database(name=name, admin=connection)


def drop_database(database: Database) -> None:
    database.close()
    database.admin.close()
    with _admin_connect() as admin:
        admin.execute(f'drop database if exists "{database.name}" with (force)')


@pytest.fixture(scope="module")
def db(cluster, request) -> Database:
    """A fresh database with cco installed, shared by the tests of one module."""
    name = "cco_" + re.sub(r"[^a-z0-9_]", "_", request.module.__name__.lower())[-50:]
    database = create_database(name)
    yield database
    drop_database(database)


@contextlib.contextmanager
def request(
    connection: psycopg.Connection,
    user: uuid.UUID | str | None = None,
    role: str = "authenticated",
    claims: str | dict | None = None,
):
    """One API request: a transaction running as `role` with the JWT claims set locally.

    `claims` overrides the claims JSON entirely (a string is passed through untouched, to test
    malformed input); otherwise they are built from `user` and `role`. The transaction commits
    when the block succeeds and rolls back when it raises.
    """
    if claims is None:
        claims = {"role": role} if user is None else {"sub": str(user), "role": role}
    claims_text = claims if isinstance(claims, str) else json.dumps(claims)
    with connection.transaction():
        connection.execute(f"set local role {role}")
        connection.execute("select set_config('request.jwt.claims', %s, true)", [claims_text])
        yield connection


def scalar(connection: psycopg.Connection, query: str, params=None):
    row = connection.execute(query, params).fetchone()
    return None if row is None else row[0]


def sqlstate_of(action) -> str | None:
    """Runs `action` and returns the SQLSTATE it failed with, or None if it succeeded."""
    try:
        action()
    except psycopg.Error as error:
        return error.sqlstate
    return None


def new_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture(scope="module")
def fixtures_dir() -> str:
    """The real transcripts shared with this workplace; tests that need them skip without it."""
    path = os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures", "claude-code",
        "-Users-user-project",
    )
    if not os.path.isdir(path):
        pytest.skip("the shared transcript fixtures are not present next to this checkout")
    return os.path.abspath(path)
