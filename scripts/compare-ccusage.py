#!/usr/bin/env python3
"""Compares cco's daily usage and cost with ccusage's on the same Claude Code projects folder.

    scripts/compare-ccusage.py CONFIG_DIR [CCUSAGE]

CONFIG_DIR holds projects/<folder>/*.jsonl (real files: ccusage does not follow a symbolic link
to a folder); CCUSAGE is the ccusage command (default: ccusage on the PATH; 20.x). The script
loads every file into the database libpq's environment variables name (PGHOST, PGPORT, ...; cco
installed) with cco.ingest_transcript, runs `ccusage claude daily --json --offline --timezone UTC`,
and prints one table row per day and model: tokens and cost by cco, by ccusage, and the
differences. Needs psycopg (tests/client/requirements.txt). See the README's "Costs" section for
why the numbers differ where they do.
"""

import glob
import json
import os
import subprocess
import sys

import psycopg


def ccusage_daily(config_dir: str, command: str) -> dict:
    output = subprocess.run([command, "claude", "daily", "--json", "--offline", "--timezone", "UTC"],
                            env={**os.environ, "CLAUDE_CONFIG_DIR": config_dir},
                            check=True, capture_output=True, text=True).stdout
    rows = {}
    for day in json.loads(output)["daily"]:
        for model in day.get("modelBreakdowns", []):
            rows[(day["date"], model["modelName"])] = (
                model["inputTokens"], model["outputTokens"], model["cacheCreationTokens"],
                model["cacheReadTokens"], model["cost"])
    return rows


def cco_daily(config_dir: str) -> dict:
    with psycopg.connect(autocommit=True) as connection:
        connection.execute("set timezone = 'UTC'")
        folders = sorted(glob.glob(os.path.join(config_dir, "projects", "*")))
        for folder in folders:
            for path in sorted(glob.glob(os.path.join(folder, "**", "*.jsonl"), recursive=True)):
                with open(path, encoding="utf-8") as transcript:
                    connection.execute("select cco.ingest_transcript(%s, %s)", [transcript.read(), path])
        result = connection.execute(
            "select to_char(u.day, 'YYYY-MM-DD'), u.model, sum(u.input_tokens), sum(u.output_tokens), "
            "sum(u.cache_creation_tokens), sum(u.cache_read_tokens), sum(u.cost) "
            "from cco.token_usage_daily u "
            "where u.project_id in (select project_id from cco.conversations where file_path like %s || '/%%') "
            "group by 1, 2 order by 1, 2", [os.path.join(config_dir, "projects")]).fetchall()
    return {(day, model): tuple(values) for day, model, *values in result}


def main() -> None:
    config_dir = os.path.abspath(sys.argv[1])
    command = sys.argv[2] if len(sys.argv) > 2 else "ccusage"
    theirs, ours = ccusage_daily(config_dir, command), cco_daily(config_dir)
    print("| day | model | input cco / ccusage | output cco / ccusage | cache write cco / ccusage "
          "| cache read cco / ccusage | cost USD cco / ccusage | difference USD |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(set(theirs) | set(ours)):
        a, b = ours.get(key), theirs.get(key)
        cells = []
        for index in range(4):
            cells.append(f"{a[index] if a else '-'} / {b[index] if b else '-'}")
        cost_a = float(a[4]) if a and a[4] is not None else None
        cost_b = b[4] if b else None
        difference = f"{cost_a - cost_b:+.6f}" if cost_a is not None and cost_b is not None else "n/a"
        cells.append(f"{cost_a if cost_a is None else round(cost_a, 6)} / {cost_b if cost_b is None else round(cost_b, 6)}")
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + f" | {difference} |")


if __name__ == "__main__":
    main()
