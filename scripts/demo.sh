#!/usr/bin/env bash
# Installs what is missing, builds and installs cco (release build), then runs the demo in a
# throwaway PostgreSQL cluster: CREATE EXTENSION cco, load a sample transcript, query it.
# Usage: scripts/demo.sh   (as root, or as a user who may sudo)
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
"$root_dir/scripts/install-prerequisites.sh"

echo
echo "== Building and installing cco (release build, about 2 minutes the first time)"
cargo pgrx install --sudo --release --pg-config /usr/lib/postgresql/15/bin/pg_config >/dev/null

echo
echo "== Running the demo in a throwaway cluster"
pg_virtualenv -v 15 psql -X -q -v ON_ERROR_STOP=1 -f "$root_dir/examples/demo.sql"
