#!/usr/bin/env bash
# Runs the benchmarks in one command: installs what is missing, builds cco and the harness in
# release mode, starts a throwaway PostgreSQL cluster (15, or PG_MAJOR=16|17|18) with the settings
# below and runs cco-bench in it.
#
#   bench/run.sh quick       200,000 messages (a few minutes)
#   bench/run.sh full        1,000,000 messages; writes docs/benchmarks.md
#   bench/run.sh relevance   judged queries, cco against native FTS; writes docs/relevance.md
#
# Extra arguments go to cco-bench (see `cco-bench --help`), e.g. `bench/run.sh quick --only search`.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
scale=${1:-quick}
shift || true

major=${PG_MAJOR:-15}
"$root_dir/scripts/install-prerequisites.sh"
echo "== Building and installing cco (release) into PostgreSQL $major"
cargo pgrx install --sudo --release --pg-config "$("$root_dir/scripts/postgres-builds.sh" bindir "$major")/pg_config" >/dev/null
cargo build --release --quiet -p cco-bench
bench="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/cco-bench"

# Memory for a 1M-message corpus to stay cached, as a production server would be set up.
settings=(-o shared_buffers=2GB -o work_mem=64MB -o maintenance_work_mem=512MB
          -o max_wal_size=8GB -o checkpoint_timeout=30min)
case "$scale" in
    quick) arguments=(--messages 200000 --out "bench/results/quick-pg$major") ;;
    full) arguments=(--messages 1000000 --out bench/results/full --doc docs/benchmarks.md) ;;
    relevance) arguments=(relevance --doc docs/relevance.md) ;;
    *) echo "usage: bench/run.sh quick|full|relevance [cco-bench arguments]" >&2; exit 2 ;;
esac
echo "== Running cco-bench ${arguments[*]} $*"
"$root_dir/scripts/with-cluster.sh" "$major" "${settings[@]}" "$bench" "${arguments[@]}" "$@"
