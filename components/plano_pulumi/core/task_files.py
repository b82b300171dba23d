"""The files the task's ``init`` step writes, rendered here (pure) so they can be tested for real.

The same functions feed the ECS task definition and ``python -m plano_tools render``; the
integration tests run PostgreSQL and PgBouncer with exactly these files. None of them holds a
secret: the database passwords reach the task only as ECS secrets; the init script uses the master
password for DDL and grants and writes Plano's role's password into PgBouncer's ``userlist.txt``
(mode 0400, owned by PgBouncer's user) at task start.

Files:
- ``plano_config.yaml``: the rendered Plano config (``plano_config.render_plano_config``).
- ``pgbouncer.ini``: the TLS sidecar. Listens on 127.0.0.1 only; transaction pooling with
  prepared statements, so Plano's single connection survives a database restart or failover
  (DESIGN.md 3); queries wait out an outage of ``QUERY_WAIT_TIMEOUT_S`` and follow a moved DNS
  name within ``DNS_MAX_TTL_S``; TLS to RDS with ``require`` or ``verify-full``.
- ``schema.sql``: Plano's table and indexes (Plano, ``PLANO_VERSION``, does not create them), its own
  role with only the rights it needs, and the pg_cron retention job; idempotent and safe when
  several tasks start at once.
- ``init.sh``: what the init container runs.
- ``userlist.txt``: written by ``init.sh`` at task start from Plano's role's secret; rendered
  here with the ``$APP_DB_PASSWORD`` reference in its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from plano_pulumi.core.choices import TlsMode
from plano_pulumi.core.images import PLANO_VERSION
from plano_pulumi.core.plano_config import SIDECAR_HOST, SIDECAR_PORT
from plano_pulumi.core.review_database import (
    ReviewDatabaseNames,
    provisioner_role_name,
    render_provisioner_sql,
    render_review_schema_sql,
)

TABLE = "public.conversation_states"
RETENTION_JOB = "plano-state-retention"
RETENTION_SCHEDULE = "17 * * * *"  # hourly, off the top of the hour
# Any constant works; it only has to be the same for every task of every version.
SCHEMA_LOCK_ID = 7_420_036

# Where the task's volumes are mounted in each container.
INIT_PLANO_DIR = "/out/plano"
INIT_PGBOUNCER_DIR = "/out/pgbouncer"
PLANO_CONFIG_DIR = "/plano-config"
PGBOUNCER_CONFIG_DIR = "/pgbouncer-config"
PGBOUNCER_UID = 998  # the CloudNativePG image's pgbouncer user
PLANO_CONFIG_NAME = "plano_config.yaml"
PGBOUNCER_INI_NAME = "pgbouncer.ini"
CA_BUNDLE_NAME = "rds-ca.pem"
USERLIST_NAME = "userlist.txt"
SCHEMA_NAME = "schema.sql"
INIT_SCRIPT_NAME = "init.sh"
# The init container's env var with Plano's role's password (an ECS secret; schema.sql reads it
# with psql's \getenv, so it is never on a command line or in a file but the userlist).
APP_PASSWORD_VAR = "APP_DB_PASSWORD"

# How long the sidecar holds a client's query while no database server can be reached: a Multi-AZ
# failover or maintenance reboot (RDS: typically 60-120 s, "Failing over a Multi-AZ DB instance")
# or an Aurora Serverless v2 resume from 0 ACU (about 15 s, longer after a day paused). Plano has
# one connection for its lifetime; if PgBouncer gives up on a query it closes that connection
# and state storage is gone until the task restarts. So wait out twice the documented failover.
DB_OUTAGE_BUDGET_S = 120
QUERY_WAIT_TIMEOUT_S = 2 * DB_OUTAGE_BUDGET_S
# PgBouncer closes a server connection idle this long: a paused Aurora stays paused (pricing reads it).
SERVER_IDLE_TIMEOUT_S = 300
# The database's name moves to the promoted standby by DNS (RDS records have a 5 s TTL): look it
# up again that often, and retry a failed login soon, so the moved name is used within seconds.
DNS_MAX_TTL_S = 5
SERVER_LOGIN_RETRY_S = 2
# One connection attempt (TCP + TLS + login) to an address that may be gone (the old primary):
# give up and resolve again after this long. A resuming Aurora cluster holds the attempt until it
# is up; a timed-out attempt is simply retried while the client's query waits.
SERVER_CONNECT_TIMEOUT_S = 10


def rds_ca_bundle_url(region: str) -> str:
    """AWS's regional bundle of the RDS certificate authorities (for verify-full)."""
    return f"https://truststore.pki.rds.amazonaws.com/{region}/{region}-bundle.pem"


@dataclass(frozen=True)
class PgBouncerOptions:
    """What varies in pgbouncer.ini. Tests change only the paths and ports."""

    db_host: str
    db_name: str
    tls_mode: TlsMode
    db_port: int = 5432
    listen_port: int = SIDECAR_PORT
    config_dir: str = PGBOUNCER_CONFIG_DIR
    # The role that may read PgBouncer's console (SHOW ...): the state probe, as Plano's role.
    stats_user: str = ""


def _pgbouncer_console(opts: PgBouncerOptions) -> str:
    """The console section: only with a stats user (the state probe)."""
    if not opts.stats_user:
        return ""
    return f"""
; The state probe (the container's health check) reads SHOW CLIENTS on the `pgbouncer` console as
; Plano's role: read-only, and it never opens a server connection (a probe that queried the
; database would make PgBouncer fail Plano's queries at once while a failed login is cached).
stats_users = {opts.stats_user}
"""


def _pgbouncer_tls(opts: PgBouncerOptions) -> str:
    """The server-side TLS lines: the mode, and the CA bundle for verify-full."""
    tls_lines = [f"server_tls_sslmode = {opts.tls_mode.value}"]
    if opts.tls_mode is TlsMode.VERIFY_FULL:
        tls_lines.append(f"server_tls_ca_file = {opts.config_dir}/{CA_BUNDLE_NAME}")
    return "\n".join(tls_lines)


def render_pgbouncer_ini(opts: PgBouncerOptions) -> str:
    console = _pgbouncer_console(opts)
    tls = _pgbouncer_tls(opts)
    return f"""\
; PgBouncer, the TLS sidecar between Plano and PostgreSQL. Rendered by this project.
; Plano {PLANO_VERSION} cannot speak TLS, so it talks plain text to this process on the task's loopback
; and this process talks TLS to the database. Holds no secret: the password is in
; {USERLIST_NAME}, which the init step writes from Secrets Manager at task start.

[databases]
{opts.db_name} = host={opts.db_host} port={opts.db_port} dbname={opts.db_name}

[pgbouncer]
; Only processes inside the task can connect; no Unix socket.
listen_addr = {SIDECAR_HOST}
listen_port = {opts.listen_port}
unix_socket_dir =

; Clients (Plano) log in with Plano's own role and its password (SCRAM); PgBouncer logs in to the
; database with the same role. The master user's password is never in this container.
auth_type = scram-sha-256
auth_file = {opts.config_dir}/{USERLIST_NAME}

; Transaction pooling with prepared statements: Plano keeps one connection for its lifetime and
; never reconnects; pooling lets that connection outlive a database restart or a Multi-AZ
; failover, and PgBouncer 1.21+ carries Plano's named prepared statements across server
; connections.
pool_mode = transaction
max_prepared_statements = 200
max_client_conn = 100
default_pool_size = 10
min_pool_size = 0
reserve_pool_size = 2

; TLS to the database: the server refuses plain text (rds.force_ssl = 1) and so does this side.
{tls}
server_tls_protocols = secure
client_tls_sslmode = disable

; Outages: the database is gone for a failover, a maintenance reboot or an Aurora resume. A
; client's query waits (never fails) up to query_wait_timeout while PgBouncer retries the login
; every server_login_retry s and looks the name up again after dns_max_ttl s, so it follows the
; name to the promoted standby within seconds; the client's connection is kept throughout.
query_wait_timeout = {QUERY_WAIT_TIMEOUT_S}
server_connect_timeout = {SERVER_CONNECT_TIMEOUT_S}
server_login_retry = {SERVER_LOGIN_RETRY_S}
dns_max_ttl = {DNS_MAX_TTL_S}
dns_nxdomain_ttl = {DNS_MAX_TTL_S}
; Plano holds its connection for ever and may be idle for hours: never close it for idleness.
client_idle_timeout = 0
server_lifetime = 3600
server_idle_timeout = {SERVER_IDLE_TIMEOUT_S}
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
{console}"""


def render_app_role_sql(app_user: str, db_name: str) -> str:
    r"""Plano's role: created if missing, its password set from the secret, only the rights it needs.

    Plano (``PLANO_VERSION``) runs three statements (DESIGN.md 2.2): a check of ``pg_tables`` (readable by
    everyone), its upsert and its select. So: CONNECT, USAGE on the schema, and SELECT, INSERT,
    UPDATE, DELETE on its table; no DDL, no other table. The password comes from the init
    container's environment through psql's ``\getenv`` (psql 15 or newer), never from a file.
    """
    return f"""\
-- Plano's own role (least privilege); the master user keeps DDL and grants.
\\getenv app_password {APP_PASSWORD_VAR}
DO $role$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app_user}') THEN
        CREATE ROLE "{app_user}" LOGIN;
    END IF;
END
$role$;
ALTER ROLE "{app_user}" WITH LOGIN PASSWORD :'app_password';
GRANT CONNECT ON DATABASE "{db_name}" TO "{app_user}";
-- Only the owner and Plano's role connect: not other stacks' roles on a shared server.
REVOKE CONNECT, TEMPORARY ON DATABASE "{db_name}" FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO "{app_user}";
GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLE} TO "{app_user}";
-- PostgreSQL 15+ already refuses CREATE in schema public to PUBLIC; older majors do not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
"""


def render_schema_sql(retention_days: int, app_user: str, db_name: str, provisioner_sql: str = "") -> str:
    """Plano's table, its indexes, Plano's role and the retention job. Applying it twice changes nothing.

    ``provisioner_sql``: review stacks' provisioning role (``review_database.render_provisioner_sql``),
    for a stack whose server carries review databases.
    """
    app_role = render_app_role_sql(app_user, db_name)
    provisioner = provisioner_sql
    if retention_days > 0:
        retention = f"""\
-- Retention: Plano never deletes state and each row holds the whole conversation so far.
-- Rows idle for more than {retention_days} days are deleted every hour by pg_cron, which must be in
-- shared_preload_libraries with cron.database_name set to this database (the stack's parameter
-- group does both). cron.schedule replaces an existing job of the same name.
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT cron.schedule(
    '{RETENTION_JOB}',
    '{RETENTION_SCHEDULE}',
    $job$DELETE FROM {TABLE} WHERE updated_at < LOCALTIMESTAMP - INTERVAL '{retention_days} days'$job$
);
"""
    else:
        retention = f"""\
-- Retention is off (plano:stateRetentionDays = 0): remove a job left from an earlier setting.
DO $off$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = '{RETENTION_JOB}';
    END IF;
END
$off$;
"""
    return f"""\
-- Plano's conversation state. Rendered by this project; applied by the init step at every task
-- start. Plano {PLANO_VERSION} only checks that the table exists, so it is created here.
{render_table_sql()}{app_role}{provisioner}{retention}COMMIT;
"""


def render_table_sql() -> str:
    """Plano's table and indexes, in a transaction (left open) that holds the schema lock."""
    return f"""\
BEGIN;
-- Tasks start together; serialise them so concurrent CREATE ... IF NOT EXISTS cannot collide.
SELECT pg_advisory_xact_lock({SCHEMA_LOCK_ID});
CREATE TABLE IF NOT EXISTS {TABLE} (
    response_id TEXT PRIMARY KEY,
    input_items JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_conversation_states_created_at ON {TABLE} (created_at);
CREATE INDEX IF NOT EXISTS idx_conversation_states_provider ON {TABLE} (provider);
-- Serves the retention job.
CREATE INDEX IF NOT EXISTS idx_conversation_states_updated_at ON {TABLE} (updated_at);
"""


# The init script's steps (render_init_script), in order.
_INIT_WRITE_FILES = f"""\
#!/bin/sh
# Init step of the Plano task: writes the rendered files into the task's volumes, then creates
# Plano's table and the retention job over TLS. Never prints the password (no `set -x`).
set -eu
umask 077
PLANO_DIR="${{PLANO_DIR:-{INIT_PLANO_DIR}}}"
PGBOUNCER_DIR="${{PGBOUNCER_DIR:-{INIT_PGBOUNCER_DIR}}}"
PGBOUNCER_UID="${{PGBOUNCER_UID:-{PGBOUNCER_UID}}}"
mkdir -p "$PLANO_DIR" "$PGBOUNCER_DIR"

printf '%s' "$PLANO_CONFIG_YAML" > "$PLANO_DIR/{PLANO_CONFIG_NAME}"
printf '%s' "$PGBOUNCER_INI" > "$PGBOUNCER_DIR/{PGBOUNCER_INI_NAME}"
# Plano's role, not the master user: the sidecar never holds the master password. The password is
# alphanumeric (generated so), so it needs no quoting here.
printf '"%s" "%s"\\n' "$APP_DB_USER" "${APP_PASSWORD_VAR}" > "$PGBOUNCER_DIR/{USERLIST_NAME}"

"""
_INIT_CA_BUNDLE = f"""\
if [ "$PGSSLMODE" = "verify-full" ] && [ -n "${{DB_CA_BUNDLE_PEM:-}}" ]; then
    # The database's own CA, handed over as PEM (the local stack's CA on Docker).
    printf '%s' "$DB_CA_BUNDLE_PEM" > "$PGBOUNCER_DIR/{CA_BUNDLE_NAME}"
    export PGSSLROOTCERT="$PGBOUNCER_DIR/{CA_BUNDLE_NAME}"
elif [ "$PGSSLMODE" = "verify-full" ]; then
    # AWS's regional bundle of RDS certificate authorities, over HTTPS (wget verifies the server).
    # `timeout`, not `wget -T`: BusyBox builds without FEATURE_WGET_TIMEOUT crash on -T.
    attempt=1
    until timeout 30 wget -q -O "$PGBOUNCER_DIR/{CA_BUNDLE_NAME}" "$RDS_CA_BUNDLE_URL"; do
        if [ "$attempt" -ge 5 ]; then
            echo "init: could not download $RDS_CA_BUNDLE_URL" >&2
            exit 1
        fi
        attempt=$((attempt + 1))
        sleep 3
    done
    grep -q 'BEGIN CERTIFICATE' "$PGBOUNCER_DIR/{CA_BUNDLE_NAME}" || {{
        echo "init: $RDS_CA_BUNDLE_URL holds no certificate; cannot verify the database" >&2
        exit 1
    }}
    export PGSSLROOTCERT="$PGBOUNCER_DIR/{CA_BUNDLE_NAME}"
fi

"""
_INIT_PERMISSIONS = f"""\
# PgBouncer runs as its own user and must read its files; nobody else may.
chmod 0400 "$PGBOUNCER_DIR"/*
chmod 0500 "$PGBOUNCER_DIR"
chown -R "$PGBOUNCER_UID" "$PGBOUNCER_DIR"
chmod 0400 "$PLANO_DIR/{PLANO_CONFIG_NAME}"

"""
_INIT_APPLY_SCHEMA = """\
# The database may still be coming up (first deploy, failover): retry for about a minute.
attempt=1
until printf '%s' "$SCHEMA_SQL" | psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -f - ; do
    if [ "$attempt" -ge 10 ]; then
        echo "init: could not apply the schema after $attempt attempts" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 6
done
echo "init: files written, schema applied"
"""


def render_init_script() -> str:
    """The init container's program: write the files, then apply the schema over TLS.

    Everything it needs comes from the environment: the files' contents (plain), the database
    connection (PGHOST, PGPORT, PGDATABASE, PGUSER = the master user, PGSSLMODE), APP_DB_USER,
    for verify-full the CA as PEM in DB_CA_BUNDLE_PEM (Docker) or else RDS_CA_BUNDLE_URL to
    download (AWS), and two secrets: PGPASSWORD (master: DDL, grants, Plano's role) and
    APP_DB_PASSWORD (Plano's role: the userlist and the role's password). It needs sh, psql 15+
    (for ``\\getenv``) and, for the download, an HTTPS-verifying wget (BusyBox's in Alpine
    verifies through ssl_client).
    Output directories and PgBouncer's uid can be overridden, which the tests do.
    """
    return _INIT_WRITE_FILES + _INIT_CA_BUNDLE + _INIT_PERMISSIONS + _INIT_APPLY_SCHEMA


def render_userlist(user: str, password: str) -> str:
    """PgBouncer's auth file, as init.sh writes it (it uses the same format string)."""
    return f'"{user}" "{password}"\n'


class TaskDatabase(Protocol):
    """What the task's files need to know of the database (``DatabaseSettings`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def app_user(self) -> str: ...
    @property
    def tls_mode(self) -> TlsMode: ...
    @property
    def state_retention_days(self) -> int: ...
    @property
    def user(self) -> str: ...
    @property
    def review_stacks(self) -> int: ...
    @property
    def shared(self) -> SharedReviewDatabase | None: ...


class SharedReviewDatabase(Protocol):
    """A review stack's place on dev's server (``SharedDatabase`` has it)."""

    @property
    def owner(self) -> str: ...
    @property
    def app_connection_limit(self) -> int: ...


def task_files(plano_text: str, db: TaskDatabase, db_host: str, db_port: int = 5432) -> dict[str, str]:
    """Name -> content of the files the task's init step works with: the rendered Plano config, and
    the database's name, Plano's role, the TLS mode and the retention (nothing else of the settings).

    The one source of the task definition's file contents and of ``python -m plano_tools render``.
    ``userlist.txt`` holds only the ``$APP_DB_PASSWORD`` reference; the task fills in the secret.
    """
    pgbouncer = PgBouncerOptions(
        db_host=db_host, db_port=db_port, db_name=db.name, tls_mode=db.tls_mode, stats_user=db.app_user
    )
    return {
        PLANO_CONFIG_NAME: plano_text,
        PGBOUNCER_INI_NAME: render_pgbouncer_ini(pgbouncer),
        SCHEMA_NAME: schema_sql(db),
        INIT_SCRIPT_NAME: render_init_script(),
        USERLIST_NAME: render_userlist(db.app_user, f"${APP_PASSWORD_VAR}"),
    }


def schema_sql(db: TaskDatabase) -> str:
    """What the init step applies: a review stack's own database on dev's server, or the stack's
    schema (with review stacks' provisioning role when its server carries review databases)."""
    shared = db.shared
    if shared is not None:
        names = ReviewDatabaseNames(database=db.name, owner=shared.owner, app_user=db.app_user)
        return render_review_schema_sql(
            names, app_connection_limit=shared.app_connection_limit, table=TABLE, table_sql=render_table_sql()
        )
    provisioner = ""
    if db.review_stacks > 0:
        provisioner = render_provisioner_sql(provisioner_role_name(db.user), connection_limit=db.review_stacks + 2)
    return render_schema_sql(db.state_retention_days, db.app_user, db.name, provisioner)
