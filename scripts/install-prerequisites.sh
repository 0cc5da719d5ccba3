#!/usr/bin/env bash
# Installs everything cco needs to build and test on Debian 12, and nothing that is already there:
# PostgreSQL 15 with its server headers, PostgreSQL 16, 17 and 18 (scripts/postgres-builds.sh),
# clang/libclang (for pgrx's bindings), sudo, cargo-pgrx 0.18.1 (the version pgrx is pinned to)
# and a Python environment for the client tests.
# Runs as root, or as a user who may sudo. Needs a Rust toolchain (1.95 or newer) on the PATH.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
pgrx_version=0.18.1
pg_config=/usr/lib/postgresql/15/bin/pg_config

if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi

say() { printf '\n== %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not on the PATH: install a Rust toolchain (1.95 or newer) first" >&2
    exit 1
fi

packages=(postgresql-15 postgresql-server-dev-15 postgresql-common libclang-dev clang sudo
          build-essential pkg-config python3 ca-certificates)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if [ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $pgrx_version" ]; then
    say "Installing cargo-pgrx $pgrx_version (about 4 minutes)"
    cargo install cargo-pgrx --version "$pgrx_version" --locked
fi

# PostgreSQL 16, 17 and 18 (and the 15 the pg_upgrade test starts from): relocatable builds,
# laid out once in a cache directory (scripts/postgres-builds.sh says where they come from).
"$root_dir/scripts/postgres-builds.sh" fetch-all
pgrx_home=${PGRX_HOME:-$HOME/.pgrx}
init_arguments=(--pg15 "$pg_config")
for major in 16 17 18; do
    init_arguments+=("--pg$major" "$("$root_dir/scripts/postgres-builds.sh" bindir "$major")/pg_config")
done
registered=true
for ((at = 0; at < ${#init_arguments[@]}; at += 2)); do
    version=${init_arguments[at]#--}
    grep -qs "^$version = \"${init_arguments[at + 1]}\"" "$pgrx_home/config.toml" || registered=false
done
if [ "$registered" = false ]; then
    say "Pointing pgrx at PostgreSQL 15 (Debian's), 16, 17 and 18"
    cargo pgrx init "${init_arguments[@]}"
fi

venv="$root_dir/target/client-tests-venv"
if ! "$venv/bin/python" -c 'import psycopg, pytest' >/dev/null 2>&1; then
    say "Preparing the Python environment for the client tests"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$root_dir/tests/client/requirements.txt"
fi
