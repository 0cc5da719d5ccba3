#!/usr/bin/env bash
# Runs every test of cco on a Debian 12 machine, installing what is missing first:
#   1. the pure-Rust core and tools (cargo test, no PostgreSQL),
#   2. the in-database tests (#[pg_test], in a PostgreSQL started for them),
#   3. the client tests (pytest against a throwaway cluster, acting as PostgREST would),
#   4. the benchmark harness at its quick scale, so it never rots.
# Usage: scripts/test.sh   (as root, or as a user who may sudo)
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
"$root_dir/scripts/install-prerequisites.sh"

if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
pg_config=/usr/lib/postgresql/15/bin/pg_config
started=$(date +%s)
stage() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

stage "Core and tools: cargo test"
cargo test --workspace --exclude cco --quiet

stage "In-database tests: cargo pgrx test"
pgrx_data=/var/tmp/cco-pgrx-tests
"${as_root[@]}" mkdir -p "$pgrx_data"
"${as_root[@]}" chown postgres "$pgrx_data"
cargo pgrx test pg15 --runas postgres --pgdata "$pgrx_data/data"

stage "Client tests: pytest against a throwaway cluster"
cargo pgrx install --sudo --pg-config "$pg_config" >/dev/null
cargo build --quiet -p cco-load
(cd tests/client && pg_virtualenv -v 15 \
    "$root_dir/target/client-tests-venv/bin/python" -m pytest -q -p no:cacheprovider)

stage "Benchmark harness at a small scale (figures from debug builds mean nothing)"
(cd "$root_dir" && pg_virtualenv -v 15 sh -c '
    cargo run --quiet -p cco-bench -- --messages 20000 --repeat 1 --out target/bench-smoke &&
    cargo run --quiet -p cco-bench -- relevance --messages 12000')

stage "All tests passed"
