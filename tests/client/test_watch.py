"""`cco load --watch`: a transcript written in chunks (lines cut in the middle) is loaded within a
second of each write, exactly once, across a restart of the watcher and a rotation (a new file
renamed over it); new project folders are followed too."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import scalar
from test_report import CCO
from test_statusline_hook import SAMPLE, uuid_lines


def start(db, folder) -> subprocess.Popen:
    env = {**os.environ, "PGDATABASE": db.name, "CCO_CONFIG": "/nonexistent/cco-config"}
    watcher = subprocess.Popen([CCO, "load", "--watch", "--dir", str(folder)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    # It says so once the first pass is done and the folder followed.
    line = watcher.stdout.readline()
    while line and not line.startswith("cco: watching"):
        line = watcher.stdout.readline()
    assert line.startswith("cco: watching"), watcher.stderr.read()
    return watcher


def stop(watcher: subprocess.Popen) -> None:
    watcher.terminate()
    watcher.wait(timeout=10)


def wait_for(db, query, expected, limit=5.0) -> float:
    """Seconds until the query answers `expected` (fails after `limit`)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if scalar(db.admin, query) == expected:
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail(f"{query} did not reach {expected} in {limit} s (it is {scalar(db.admin, query)})")


def test_a_growing_transcript_is_loaded_within_a_second_exactly_once(db, tmp_path):
    with open(SAMPLE, encoding="utf-8") as source:
        text = source.read()
    root = tmp_path / "projects"
    folder = root / "-home-dev-watched"
    folder.mkdir(parents=True)
    transcript = folder / "5b0c7a52-1d3e-4f6a-9b21-7c4e8d2f9a10.jsonl"
    count = f"select count(*) from cco.messages m join cco.conversations c on c.id = m.conversation_id " \
            f"where c.file_path = '{transcript}'"
    watcher = start(db, root)
    delays = []
    try:
        written = 0
        for cut in (len(text) // 4, len(text) // 4 + 9, len(text) // 2):
            with open(transcript, "a", encoding="utf-8") as out:
                out.write(text[written:cut])
            written = cut
            delays.append(wait_for(db, count, uuid_lines(text[:cut])))
    finally:
        stop(watcher)
    # Written while nobody watched: the next start loads it.
    with open(transcript, "a", encoding="utf-8") as out:
        out.write(text[written:2 * len(text) // 3])
    written = 2 * len(text) // 3
    watcher = start(db, root)
    try:
        assert scalar(db.admin, count) == uuid_lines(text[:written])
        with open(transcript, "a", encoding="utf-8") as out:
            out.write(text[written:])
        delays.append(wait_for(db, count, uuid_lines(text)))
        # A new project folder, made after the watcher started.
        other = root / "-home-dev-other" / "subagents"
        other.mkdir(parents=True)
        (other / "agent-new.jsonl").write_text(text, encoding="utf-8")
        delays.append(wait_for(db, "select count(*) from cco.conversations where file_path like '%agent-new.jsonl'", 1))
        # Rotated: a new file renamed over the old one, holding the old lines and one more.
        lines = text.splitlines(keepends=True)
        extra = json.loads(lines[-2])
        extra["uuid"] = "8c1f2e3d-4a5b-4c6d-8e7f-0000000000ff"
        replacement = folder / "replacement.tmp"
        replacement.write_text(text + json.dumps(extra) + "\n", encoding="utf-8")
        os.replace(replacement, transcript)
        delays.append(wait_for(db, count, uuid_lines(text) + 1))
    finally:
        stop(watcher)
    assert scalar(db.admin, count) == uuid_lines(text) + 1 == 18
    duplicates = scalar(db.admin, "select count(*) - count(distinct (conversation_id, external_id)) from cco.messages")
    assert duplicates == 0
    print(f"seconds from write to loaded: {[round(d, 3) for d in delays]}")
    assert max(delays) < 1.0, delays


def test_watch_says_what_is_wrong(db):
    env = {**os.environ, "PGDATABASE": db.name, "CCO_CONFIG": "/nonexistent/cco-config"}
    missing = subprocess.run([CCO, "load", "--watch", "--dir", "/nonexistent/projects"], capture_output=True,
                             text=True, env=env, timeout=30)
    assert missing.returncode == 5 and "cannot watch /nonexistent/projects" in missing.stderr
