#!/usr/bin/env bash
# Installs what is missing, builds and installs cco (release build) and the cco-load command,
# then runs the demo in a throwaway PostgreSQL cluster: CREATE EXTENSION cco, load the sample
# transcripts the project ships (twice: the second run finds nothing new), and query them.
# Usage: scripts/demo.sh   (as root, or as a user who may sudo)
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
"$root_dir/scripts/install-prerequisites.sh"

echo
echo "== Building and installing cco and cco-load (release builds, a few minutes the first time)"
cargo pgrx install --sudo --release --pg-config /usr/lib/postgresql/15/bin/pg_config >/dev/null
cargo build --release --quiet -p cco-load

echo
echo "== Running the demo in a throwaway cluster"
pg_virtualenv -v 15 sh -c '
    set -e
    psql -X -q -c "set client_min_messages = warning; create extension cco cascade"
    echo "-- loading the sample transcripts with cco-load"
    target/release/cco-load --dir examples/claude-projects
    echo "-- and again: nothing new to load"
    target/release/cco-load --dir examples/claude-projects --quiet
    psql -X -q -v ON_ERROR_STOP=1 -f examples/demo.sql
'
