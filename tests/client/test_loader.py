"""`cco load` under its first name, cco-load, run as a user would run it (from cron too)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import scalar

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
BINARY = os.environ.get("CCO_LOAD", os.path.join(ROOT, "target", "debug", "cco-load"))
SAMPLE = os.path.join(ROOT, "examples", "claude-projects")


def cco_load(db, *args, env_extra=None):
    if not os.path.exists(BINARY):
        pytest.fail(f"{BINARY} is missing: build it with cargo build -p cco-cli")
    env = {**os.environ, "PGDATABASE": db.name, **(env_extra or {})}
    return subprocess.run([BINARY, *args], capture_output=True, text=True, env=env, timeout=300)


def test_loads_the_shipped_sample_then_finds_nothing_new(db):
    first = cco_load(db, "--dir", SAMPLE)
    assert first.returncode == 0, first.stderr
    assert "[1/2]" in first.stdout and "[2/2]" in first.stdout
    assert "2 files (2 loaded, 0 unchanged, 0 failed): +21 messages, +7 tool calls, 7 results matched" in first.stdout
    again = cco_load(db, "--dir", SAMPLE, "--quiet")
    assert again.returncode == 0 and again.stdout.strip() == (
        "cco-load: 2 files (0 loaded, 2 unchanged, 0 failed): +0 messages, +0 tool calls, 0 results matched, 0 lines skipped")
    assert scalar(db.admin, "select count(*) from cco.messages") == 21


def test_loads_a_real_projects_folder(db, fixtures_dir):
    before = scalar(db.admin, "select count(*) from cco.messages")
    result = cco_load(db, "--dir", os.path.dirname(fixtures_dir), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "29 files (29 loaded, 0 unchanged, 0 failed): +94 messages, +9 tool calls, 9 results matched" in result.stdout
    assert scalar(db.admin, "select count(*) from cco.messages") == before + 94
    # files without messages are sent again (they are tiny) but add nothing
    again = cco_load(db, "--dir", os.path.dirname(fixtures_dir), "--quiet")
    assert "+0 messages, +0 tool calls, 0 results matched" in again.stdout


def test_a_grown_file_loads_only_its_new_lines(db, tmp_path):
    sample = os.path.join(SAMPLE, "-home-dev-shop", "5b0c7a52-1d3e-4f6a-9b21-7c4e8d2f9a10.jsonl")
    with open(sample, encoding="utf-8") as source:
        lines = source.readlines()
    folder = tmp_path / "-home-dev-shop"
    folder.mkdir()
    target = folder / "5b0c7a52-1d3e-4f6a-9b21-7c4e8d2f9a10.jsonl"
    target.write_text("".join(lines[:8]) + lines[8][:40])  # being written: the last line is cut
    env = {"PGDATABASE": "cco_loader_growth"}
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "drop database if exists cco_loader_growth"], check=True)
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "create database cco_loader_growth"], check=True)
    subprocess.run(["psql", "-X", "-q", "-d", "cco_loader_growth", "-c", "create extension cco cascade"], check=True)
    first = subprocess.run([BINARY, "--dir", str(tmp_path)], capture_output=True, text=True, env=dict(os.environ, **env))
    assert "+7 messages" in first.stdout and "1 lines skipped" in first.stdout, first.stdout + first.stderr
    target.write_text("".join(lines))
    second = subprocess.run([BINARY, "--dir", str(tmp_path)], capture_output=True, text=True, env=dict(os.environ, **env))
    assert "+10 messages" in second.stdout and "0 lines skipped" in second.stdout, second.stdout
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "drop database cco_loader_growth with (force)"], check=True)


def test_errors_are_clear(db):
    """One line each, and the exit codes the README documents."""
    missing = cco_load(db, "--dir", "/nonexistent/projects")
    assert missing.returncode == 5 and missing.stderr.startswith("cco-load: cannot read /nonexistent/projects")
    bad = cco_load(db, "--bogus")
    assert bad.returncode == 2 and "unexpected argument '--bogus'" in bad.stderr and "Usage:" in bad.stderr
    unreachable = cco_load(db, "--dir", SAMPLE, env_extra={"PGPORT": "1"})
    assert unreachable.returncode == 3 and unreachable.stderr.startswith("cco-load: cannot connect")
    assert unreachable.stderr.count("\n") == 1
    wrong_dsn = cco_load(db, "--dir", SAMPLE, "--dsn", "host=/tmp port=notaport")
    assert wrong_dsn.returncode == 3 and "invalid connection string" in wrong_dsn.stderr
    assert wrong_dsn.stderr.count("\n") == 1
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "drop database if exists cco_loader_bare"], check=True)
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "create database cco_loader_bare"], check=True)
    try:
        bare = cco_load(db, "--dir", SAMPLE, env_extra={"PGDATABASE": "cco_loader_bare"})
        assert bare.returncode == 4 and "no cco extension" in bare.stderr and bare.stderr.count("\n") == 1
    finally:
        subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", "drop database cco_loader_bare"], check=True)


def test_an_unreadable_file_is_named_and_the_others_load(db, tmp_path):
    folder = tmp_path / "-home-dev-unreadable"
    folder.mkdir()
    sample = os.path.join(SAMPLE, "-home-dev-shop", "5b0c7a52-1d3e-4f6a-9b21-7c4e8d2f9a10.jsonl")
    shutil.copy(sample, folder / "readable.jsonl")
    (folder / "broken.jsonl").symlink_to(tmp_path / "gone.jsonl")  # listed, then unreadable
    result = cco_load(db, "--dir", str(tmp_path), "--quiet")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{folder / 'broken.jsonl'}: cannot read" in result.stderr
    assert "(1 loaded, 0 unchanged, 1 failed)" in result.stdout


def test_a_login_loads_as_itself_and_user_id_is_an_administrators_override(db, tmp_path):
    """cco.user_logins names the user a developer's login loads as; --user-id cannot change it."""
    login, password = f"{db.name}_dev"[-63:], "loader-login-password"
    developer, someone_else = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-8999-aaaaaaaaaaaa"
    db.admin.execute(f'drop role if exists "{login}"')
    db.admin.execute(f"create role \"{login}\" login password '{password}'")
    db.admin.execute(f'select cco.grant_api_access(\'"{login}"\'::regrole)')
    db.admin.execute("insert into cco.user_logins (login, user_id) values (%s, %s)", [login, developer])
    as_developer = {"PGUSER": login, "PGPASSWORD": password}
    try:
        forged = cco_load(db, "--dir", SAMPLE, "--user-id", someone_else, "--quiet", env_extra=as_developer)
        assert forged.returncode != 0 and "--user-id is ignored on this connection" in forged.stderr + forged.stdout
        assert scalar(db.admin, "select count(*) from cco.projects where owner_id = %s", [someone_else]) == 0
        loaded = cco_load(db, "--dir", SAMPLE, "--quiet", env_extra=as_developer)
        assert loaded.returncode == 0, loaded.stderr
        assert scalar(db.admin, "select count(*) from cco.projects where owner_id = %s", [developer]) >= 1
        # the administrator's override, on a superuser's connection (a copy: the superuser sees
        # the sample's files as loaded already)
        shutil.copytree(SAMPLE, tmp_path / "projects")
        override = cco_load(db, "--dir", str(tmp_path / "projects"), "--quiet", "--user-id", someone_else)
        assert override.returncode == 0, override.stderr
        assert scalar(db.admin, "select count(*) from cco.projects where owner_id = %s", [someone_else]) >= 1
    finally:
        db.admin.execute("delete from cco.user_logins where login = %s", [login])
        db.admin.execute(f'drop owned by "{login}"')
        db.admin.execute(f'drop role "{login}"')


def test_a_terminal_gets_a_progress_bar(db, tmp_path):
    """On a terminal: files, lines per second and time left; elsewhere plain lines (above)."""
    import pty
    shutil.copytree(SAMPLE, tmp_path / "projects")
    env = {**os.environ, "PGDATABASE": db.name}
    pid, terminal = pty.fork()
    if pid == 0:
        os.execve(BINARY, [BINARY, "--dir", str(tmp_path / "projects")], env)
    output = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "[2/2]" in text and "2 files (2 loaded, 0 unchanged, 0 failed)" in text
    assert re.search(r"[12]/2 files, [\d,]+ lines/s, \S+ left", text), text
