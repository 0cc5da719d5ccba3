#!/usr/bin/env python3
"""Compares every report of `cco report` with ccusage's on the same Claude Code projects folder.

    scripts/compare-ccusage-reports.py CONFIG_DIR [CCUSAGE] [CCO] [TIMEZONE]

CONFIG_DIR holds projects/<folder>/*.jsonl (real files: ccusage does not follow a symbolic link
to a folder); CCUSAGE is the ccusage command (default: ccusage on the PATH; 20.x), CCO the cco
command (default: target/debug/cco), TIMEZONE the zone both are given (default UTC). The script
loads the folder with `cco load` into the database libpq's environment variables name (cco
installed), runs `<report> --json` of both for daily, weekly, monthly, session and blocks, and
prints a row per report entry whose tokens or cost differ (to 1e-6 USD), then each report's
totals. See the README's "cco beside ccusage" for why they differ where they do.
"""

import json
import os
import subprocess
import sys

FIELDS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
BLOCK_FIELDS = ("inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens")


def entries(report: str, value: dict) -> dict:
    """Per entry (period, session or block start): the four token counts and the cost."""
    if report == "blocks":
        return {b["startTime"]: (*(b["tokenCounts"][f] for f in BLOCK_FIELDS), b["costUSD"])
                for b in value["blocks"] if not b["isGap"]}
    return {e["period"]: (*(e[f] for f in FIELDS), e["totalCost"]) for e in value[report]}


def main() -> None:
    config_dir = os.path.abspath(sys.argv[1])
    ccusage = sys.argv[2] if len(sys.argv) > 2 else "ccusage"
    cco = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "target", "debug", "cco")
    zone = sys.argv[4] if len(sys.argv) > 4 else "UTC"
    subprocess.run([cco, "load", "--quiet", "--dir", os.path.join(config_dir, "projects")], check=True)
    for report in ("daily", "weekly", "monthly", "session", "blocks"):
        theirs = json.loads(subprocess.run(
            [ccusage, report, "--json", "--offline", "--timezone", zone],
            env={**os.environ, "CLAUDE_CONFIG_DIR": config_dir}, check=True, capture_output=True, text=True).stdout)
        ours = json.loads(subprocess.run(
            [cco, "report", report, "--json", "--timezone", zone, "--project", "/Users/user/project"]
            if os.environ.get("CCO_PROJECT") else [cco, "report", report, "--json", "--timezone", zone],
            check=True, capture_output=True, text=True).stdout)
        a, b = entries(report, ours), entries(report, theirs)
        same = 0
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if x and y and x[:4] == y[:4] and abs(x[4] - y[4]) < 1e-6:
                same += 1
                continue
            print(f"{report} {key}: cco {x} / ccusage {y}")
        totals = [tuple(sum(v[i] for v in side.values()) for i in range(5)) for side in (a, b)]
        print(f"{report}: {same} of {len(set(a) | set(b))} entries equal; totals cco {totals[0][:4]} "
              f"${totals[0][4]:.6f} / ccusage {totals[1][:4]} ${totals[1][4]:.6f}")


if __name__ == "__main__":
    main()
