#!/usr/bin/env bash
# Runs every test of cco on a Debian 12 machine, installing what is missing first:
#   1. the pure-Rust core and tools (cargo test, no PostgreSQL),
#   2. the in-database tests (#[pg_test], in a PostgreSQL started for them), on every major in
#      CCO_TEST_MAJORS,
#   3. the client tests (pytest against a throwaway cluster, acting as PostgREST would), on the same
#      majors, and a smoke subset of them on the majors in CCO_SMOKE_MAJORS,
#   4. the benchmark harness at its quick scale on 15, so it never rots,
#   5. pg_upgrade of a database with cco and real data from 15 to 17 to 18.
# Usage: scripts/test.sh   (as root, or as a user who may sudo)
#   CCO_TEST_MAJORS   majors tested in full (default "15 17 18"; 16 works too)
#   CCO_SMOKE_MAJORS  majors that get the build and the smoke subset (default "16")
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
"$root_dir/scripts/install-prerequisites.sh"

read -r -a full_majors <<<"${CCO_TEST_MAJORS:-15 17 18}"
read -r -a smoke_majors <<<"${CCO_SMOKE_MAJORS:-16}"
if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
python="$root_dir/target/client-tests-venv/bin/python"
bindir() { "$root_dir/scripts/postgres-builds.sh" bindir "$1"; }
install_into() { cargo pgrx install --sudo --pg-config "$(bindir "$1")/pg_config" >/dev/null; }
started=$(date +%s)
# Every major builds the extension once; incremental caches would only take disk (2 GB of it).
export CARGO_INCREMENTAL=0
disk_free() { df -h --output=avail "$root_dir" | tail -1 | tr -d ' '; }
stage() { printf '\n== [%4ss, %s disk free] %s\n' "$(( $(date +%s) - started ))" "$(disk_free)" "$*"; }

stage "Core and tools: cargo test"
cargo test --workspace --exclude cco --quiet
cargo build --quiet -p cco-cli

# The cost tests compare cco with LiteLLM's price data; fetch the file as refresh-prices.sh does
# unless LITELLM_PRICES names a copy.
if [ -z "${LITELLM_PRICES:-}" ]; then
    prices_dir="$root_dir/target/litellm-prices"
    mkdir -p "$prices_dir"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --dest "$prices_dir" litellm
    python3 - "$prices_dir" <<'EOF'
import glob, sys, zipfile
prices_dir = sys.argv[1]
wheel = sorted(glob.glob(f"{prices_dir}/litellm-*.whl"))[-1]
zipfile.ZipFile(wheel).extract("litellm/model_prices_and_context_window_backup.json", prices_dir)
EOF
    export LITELLM_PRICES="$prices_dir/litellm/model_prices_and_context_window_backup.json"
fi

pgrx_data=/var/tmp/cco-pgrx-tests
"${as_root[@]}" mkdir -p "$pgrx_data"
"${as_root[@]}" chown postgres "$pgrx_data"
for major in "${full_majors[@]}"; do
    stage "PostgreSQL $major: in-database tests (cargo pgrx test)"
    cargo pgrx test "pg$major" --runas postgres --pgdata "$pgrx_data/data-$major"

    stage "PostgreSQL $major: client tests against a throwaway cluster"
    install_into "$major"
    (cd tests/client && "$root_dir/scripts/with-cluster.sh" "$major" \
        "$python" -m pytest -q -p no:cacheprovider)
done

for major in "${smoke_majors[@]}"; do
    stage "PostgreSQL $major: build, install and the client smoke subset"
    install_into "$major"
    (cd tests/client && "$root_dir/scripts/with-cluster.sh" "$major" \
        "$python" -m pytest -q -p no:cacheprovider \
        test_schema.py test_security.py test_ingest.py test_rank_index.py test_analytics.py)
done

stage "Benchmark harness at a small scale on 15 (figures from debug builds mean nothing)"
[[ " ${full_majors[*]} ${smoke_majors[*]} " == *" 15 "* ]] || install_into 15
"$root_dir/scripts/with-cluster.sh" 15 sh -c '
    cargo run --quiet -p cco-bench -- --messages 20000 --repeat 1 --out target/bench-smoke &&
    cargo run --quiet -p cco-bench -- relevance --messages 12000'

# Last, since the old cluster's build of 15 is compiled against its own headers.
stage "pg_upgrade with cco and real data: 15 -> 17 -> 18"
install_into 15-wheel
for major in 17 18; do
    [[ " ${full_majors[*]} ${smoke_majors[*]} " == *" $major "* ]] || install_into "$major"
done
(cd tests/client && CCO_PG_UPGRADE_BINDIRS="$(bindir 15-wheel) $(bindir 17) $(bindir 18)" \
    "$python" -m pytest -q -p no:cacheprovider test_pg_upgrade.py)

stage "All tests passed"
