#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster of the given major version, then stops the
# cluster by its pid and removes it, whatever the command did.
#
# The cluster listens only on a private socket directory (no TCP), runs as postgres (PostgreSQL
# refuses root), and trusts local connections. The command sees, like psql would:
#   PGHOST PGPORT PGUSER PGDATABASE   how to connect (PGUSER is the superuser postgres)
#   PGVERSION                         the major version
#   CCO_PG_BINDIR CCO_PG_DATA         the server's binaries and data directory, for tests that
#   CCO_PG_LOG                        restart it (crash recovery) or run pg_upgrade; its log
#
# Usage: scripts/with-cluster.sh MAJOR [-o 'setting=value' ...] COMMAND [ARGS...]
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
major=${1:?"usage: $0 MAJOR [-o setting=value ...] COMMAND [ARGS...]"}
shift
settings=()
while [ "${1:-}" = "-o" ]; do
    settings+=("$2")
    shift 2
done
[ $# -gt 0 ] || { echo "usage: $0 MAJOR [-o setting=value ...] COMMAND [ARGS...]" >&2; exit 2; }

bindir=$("$root_dir/scripts/postgres-builds.sh" bindir "$major")
if [ "$(id -u)" -eq 0 ]; then as_postgres=(runuser -u postgres --); else as_postgres=(sudo -u postgres); fi

cluster_dir=$(mktemp -d /tmp/cco-cluster-XXXXXX)
chmod 755 "$cluster_dir"
chown postgres "$cluster_dir" 2>/dev/null || sudo chown postgres "$cluster_dir"
data="$cluster_dir/data"
# A port nobody listens on: the socket file name carries it, so two clusters never share one.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop_cluster() {
    if [ -f "$data/postmaster.pid" ]; then
        pid=$(head -1 "$data/postmaster.pid")
        kill -INT "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$cluster_dir" 2>/dev/null || sudo rm -rf "$cluster_dir"
}
trap stop_cluster EXIT

"${as_postgres[@]}" "$bindir/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 --auth=trust >/dev/null
# Written into the configuration rather than passed to pg_ctl, so a plain `pg_ctl start` brings the
# same server back after a test has killed it.
{
    echo "port = $port"
    echo "unix_socket_directories = '$cluster_dir'"
    echo "listen_addresses = ''"
    for setting in "${settings[@]}"; do echo "$setting"; done
} | "${as_postgres[@]}" tee -a "$data/postgresql.conf" >/dev/null
"${as_postgres[@]}" "$bindir/pg_ctl" -D "$data" -l "$cluster_dir/server.log" -w -t 60 start >/dev/null

export PGHOST=$cluster_dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres PGVERSION=${major%%-*}
# The server's own client programs first: pg_dump refuses a server newer than itself.
export PATH="$bindir:$PATH"
export CCO_PG_BINDIR=$bindir CCO_PG_DATA=$data CCO_PG_LOG=$cluster_dir/server.log
unset PGPASSWORD PGSERVICE
"$@"
