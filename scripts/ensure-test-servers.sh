#!/usr/bin/env bash
# Provide the real servers the integration tests run (idempotent, cached):
#   - PostgreSQL 15 with pg_cron (Debian packages postgresql-15, postgresql-15-cron);
#   - BusyBox, whose sh and wget run the init script as in the task's Alpine image;
#   - PgBouncer 1.21 or newer. Debian bookworm ships 1.18, which cannot keep prepared statements
#     in transaction pooling, so PgBouncer is built from Debian trixie's source package into
#     .cache/pgbouncer (about 10 s), unless a suitable pgbouncer is already on PATH.
# Prints the path of the pgbouncer binary on its last line; exits non-zero when it cannot provide
# them (scripts/with-test-servers.sh decides what that means for `make test`).
#
# Where it works: Debian bookworm (what CI runs, in a python:3.11-bookworm container) as tested;
# Debian or Ubuntu releases whose archive has no postgresql-15 (Ubuntu 24.04 ships 16, trixie 17)
# get PostgreSQL 15, pg_cron and PgBouncer from the PostgreSQL project's own apt repository
# (apt.postgresql.org, set up by postgresql-common's script); that path is not exercised here (the
# build machines cannot reach apt.postgresql.org). Anything without apt (macOS, Fedora) is refused
# with a message: install the servers yourself and set PLANO_PGBOUNCER.
# Installing uses root: apt-get runs directly as root, else through sudo (which may ask for a password).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${PLANO_TEST_CACHE:-$PWD/.cache}"
PGB_DIR="$CACHE/pgbouncer"
MIN_PGBOUNCER="1.21"

log() { echo "ensure-test-servers: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    log "needs Debian or Ubuntu (apt-get and dpkg-query). Elsewhere install PostgreSQL 15 with pg_cron, BusyBox"
    log "and PgBouncer >= $MIN_PGBOUNCER yourself, and run the tests with PLANO_PGBOUNCER=/path/to/pgbouncer"
    exit 1
fi
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; }
use_pgdg() {  # the PostgreSQL project's apt repository, for releases without postgresql-15
    log "postgresql-15 is not in this release's archive: adding apt.postgresql.org (PGDG)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-common ca-certificates >/dev/null
    as_root /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y >/dev/null
}

missing=()
for pkg in postgresql-15 postgresql-15-cron libevent-dev libc-ares-dev libssl-dev pkg-config dpkg-dev make gcc openssl busybox docker-registry jq; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && ! has_candidate postgresql-15; then
        use_pgdg
        missing+=(pgbouncer)  # PGDG's PgBouncer is current (>= 1.21): no build from source needed
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

version_ok() {  # $1 = pgbouncer binary
    local v
    v=$("$1" --version 2>/dev/null | awk '/PgBouncer/ {print $2}') || return 1
    [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$MIN_PGBOUNCER" "$v" | sort -V | head -1)" = "$MIN_PGBOUNCER" ]
}

if [ -x "$PGB_DIR/pgbouncer" ] && version_ok "$PGB_DIR/pgbouncer"; then
    echo "$PGB_DIR/pgbouncer"; exit 0
fi
for candidate in "$(command -v pgbouncer || true)" /usr/sbin/pgbouncer; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && version_ok "$candidate"; then
        echo "$candidate"; exit 0
    fi
done
if [ ! -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    log "no PgBouncer >= $MIN_PGBOUNCER, and building Debian trixie's needs Debian's archive keyring:"
    log "install pgbouncer from apt.postgresql.org (or debian-archive-keyring) and run this again"
    exit 1
fi

log "building PgBouncer from Debian trixie's source package into $PGB_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The mirror the machine already uses; a private sources list leaves the machine's lists untouched.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$work/sources.list"
mkdir -p "$work/lists/partial"
apt_opts=(-qq -o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$work/lists" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update
(cd "$work" && apt-get "${apt_opts[@]}" --download-only source pgbouncer >/dev/null)
dsc=$(ls "$work"/pgbouncer_*.dsc)
# apt checked the files against the signed Sources index; the .dsc signature itself needs the
# maintainer keyrings, which this machine does not have.
dpkg-source -q --no-check -x "$dsc" "$work/src" >/dev/null
(cd "$work/src" && ./configure -q --without-systemd >/dev/null && make -s -j"$(nproc)" >/dev/null)
mkdir -p "$PGB_DIR"
install -m 0755 "$work/src/pgbouncer" "$PGB_DIR/pgbouncer"
version_ok "$PGB_DIR/pgbouncer" || { log "built pgbouncer is older than $MIN_PGBOUNCER"; exit 1; }
log "built $("$PGB_DIR/pgbouncer" --version | head -1)"
echo "$PGB_DIR/pgbouncer"
