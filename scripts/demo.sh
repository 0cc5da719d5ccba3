#!/usr/bin/env bash
# Installs what is missing, builds and installs cco (release build) and the cco command,
# then runs the demo in a throwaway PostgreSQL cluster: CREATE EXTENSION cco, load the sample
# transcripts the project ships (twice: the second run finds nothing new), and query them.
# Usage: scripts/demo.sh                  (PostgreSQL 15, Debian's)
#        PG_MAJOR=17 scripts/demo.sh      (16, 17 or 18: the builds scripts/postgres-builds.sh lays out)
# As root, or as a user who may sudo.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
major=${PG_MAJOR:-15}
case "$major" in
    15 | 16 | 17 | 18) ;;
    *) echo "PG_MAJOR=$major: cco supports PostgreSQL 15, 16, 17 and 18" >&2; exit 2 ;;
esac
"$root_dir/scripts/install-prerequisites.sh"
pg_config="$("$root_dir/scripts/postgres-builds.sh" bindir "$major")/pg_config"

echo
echo "== Building and installing cco into PostgreSQL $major, and the cco command (release builds, a few minutes the first time)"
cargo pgrx install --sudo --release --pg-config "$pg_config" >/dev/null
cargo build --release --quiet -p cco-cli

echo
echo "== Running the demo in a throwaway PostgreSQL $major cluster"
"$root_dir/scripts/with-cluster.sh" "$major" sh -c '
    set -e
    psql -X -q -c "select version()" -At
    psql -X -q -c "set client_min_messages = warning; create extension cco cascade"
    echo "-- loading the sample transcripts with cco load"
    target/release/cco load --dir examples/claude-projects
    echo "-- and again: nothing new to load"
    target/release/cco load --dir examples/claude-projects --quiet
    echo "-- the daily report, as ccusage prints it, from the database"
    target/release/cco report daily --breakdown --timezone UTC
    echo "-- a search over the messages"
    target/release/cco search "discount" --limit 3 --timezone UTC
    psql -X -q -v ON_ERROR_STOP=1 -f examples/demo.sql
'
