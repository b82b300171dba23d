#!/bin/sh
# Stand-in for the official PostgreSQL image's entry point (docker-entrypoint.sh), written to the
# contract the image documents, for the images the tests build from Debian's packages (no registry
# is reachable there): with `postgres` as the first argument, run as root it makes the data
# directory the postgres user's and runs itself again as that user; on an empty data directory it
# runs initdb with POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_INITDB_ARGS, lets the network in
# with the password (`host all all all scram-sha-256`) and creates POSTGRES_DB; then it runs the
# command. Like the official one, it switches users with gosu, which this image ships.
set -eu
if [ "${1:-}" = "postgres" ]; then
    : "${PGDATA:=/var/lib/postgresql/data}"
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$PGDATA" /var/run/postgresql
        chmod 0700 "$PGDATA"
        chown -R postgres:postgres "$PGDATA" /var/run/postgresql
        exec gosu postgres "$0" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        user="${POSTGRES_USER:-postgres}"
        db="${POSTGRES_DB:-$user}"
        pwfile="$(mktemp)"
        printf '%s\n' "${POSTGRES_PASSWORD:?the database is uninitialized and POSTGRES_PASSWORD is empty}" > "$pwfile"
        # POSTGRES_INITDB_ARGS is a list of words, as in the official image.
        # shellcheck disable=SC2086
        initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-} > /dev/null
        rm -f "$pwfile"
        printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
        if [ "$db" != "postgres" ]; then
            printf 'CREATE DATABASE "%s";\n' "$db" |
                postgres --single -D "$PGDATA" -c exit_on_error=on template1 > /dev/null
        fi
        echo "PostgreSQL init process complete; ready for start up."
    else
        echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
    fi
fi
exec "$@"
