"""The local stack's layout on Docker, as plain values (pure): images, names, ports, files.

The local stack runs what one ECS task runs, on a workstation's Docker engine:

    127.0.0.1:<listener ports> --> task (holds the network namespace, like a Fargate task's)
                                    ├─ init (exits 0): writes the rendered files, applies the schema
                                    ├─ pgbouncer: 127.0.0.1:6432 --TLS verify-full--> postgres
                                    └─ plano: reads the rendered config, talks to 127.0.0.1:6432
    127.0.0.1:<localDbPort> --> postgres (TLS only: hostssl in pg_hba, the stack's own CA)

PgBouncer and Plano join the ``task`` container's network namespace, so the rendered files say
127.0.0.1:6432 exactly as on AWS, and either can restart without the other losing it. Only
listener ports and PostgreSQL's port are published, and only on 127.0.0.1; Envoy's admin (9901)
and Plano's other internal ports never are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from plano_pulumi.core.naming import Names
from plano_pulumi.core.plano_config import Listener

LOOPBACK = "127.0.0.1"
# The official image, from ECR Public's mirror of Docker's library (no Docker Hub pull limits).
POSTGRES_REPOSITORY = "public.ecr.aws/docker/library/postgres"
POSTGRES_PORT = 5432
# The database's name on the stack's network; the server certificate is issued for it.
DB_HOSTNAME = "postgres"
PG_CONF_DIR = "/etc/postgresql/plano"
SERVER_CERT = f"{PG_CONF_DIR}/server.crt"
SERVER_KEY = f"{PG_CONF_DIR}/server.key"
HBA_FILE = f"{PG_CONF_DIR}/pg_hba.conf"
PG_DATA_DIR = "/var/lib/postgresql/data"
START_SCRIPT = f"{PG_CONF_DIR}/start.sh"
# Reaches the machine running Docker (a model server there, or the end-to-end test's mock).
HOST_GATEWAY_NAME = "host.docker.internal"


def postgres_image(major_version: int) -> str:
    """The same major version as the AWS stacks' RDS engine (plano:dbEngineVersion)."""
    return f"{POSTGRES_REPOSITORY}:{major_version}-alpine"


def render_pg_hba() -> str:
    """Only TLS from the network; the Unix socket stays for the image's own first-start setup."""
    return """\
# Rendered by this project: PostgreSQL accepts only TLS connections from the network.
# TYPE     DATABASE  USER  ADDRESS  METHOD
local      all       all            scram-sha-256
hostssl    all       all   all      scram-sha-256
hostnossl  all       all   all      reject
"""


def render_postgres_start_script(server_key: str = SERVER_KEY) -> str:
    """The PostgreSQL container's entry point: the key's owner, the stack's password, then the image's.

    Runs as root, as the official image starts. First it gives the server's private key to the
    image's ``postgres`` user with mode 0600, which PostgreSQL requires: the Docker provider uploads
    files as root whatever owner it is given. Then, because the image applies POSTGRES_PASSWORD only
    when it creates the data directory and the data volume outlives the stack by default (a new
    stack generates a new password), on an existing data directory it sets the bootstrap
    superuser's password to the current one before the server starts. It does so with nothing but
    the image's documented entry point: ``docker-entrypoint.sh postgres ...`` switches to the
    postgres user (with whatever tool that image ships: su-exec before 17, gosu since) and, on an
    existing data directory, runs the command: here PostgreSQL's single-user mode, which reads the
    statement on stdin (the password is in no command line; no server listens meanwhile).
    ``exit_on_error`` makes a failed statement fail the start; ``log_min_error_statement=panic``
    keeps the statement (and the password) out of the log.
    """
    return rf"""#!/bin/sh
# Rendered by this project: the key's owner, the stack's password on a kept data directory, then
# the image's own entry point. Uses only the image's documented entry point and PostgreSQL.
set -eu
chown postgres:postgres "{server_key}"
chmod 0600 "{server_key}"
if [ -s "$PGDATA/PG_VERSION" ]; then
    # printf is the shell's own: the password is in no process's command line. It is alphanumeric.
    printf "ALTER ROLE current_user PASSWORD '%s';\n" "$POSTGRES_PASSWORD" |
        docker-entrypoint.sh postgres --single -D "$PGDATA" -c exit_on_error=on \
            -c log_min_error_statement=panic postgres > /dev/null
fi
exec docker-entrypoint.sh "$@"
"""


def postgres_command() -> list[str]:
    """The server's arguments: TLS on with the stack's certificate, the hostssl-only pg_hba."""
    settings = {
        "ssl": "on",
        "ssl_cert_file": SERVER_CERT,
        "ssl_key_file": SERVER_KEY,
        "ssl_min_protocol_version": "TLSv1.2",
        "hba_file": HBA_FILE,
        "password_encryption": "scram-sha-256",
    }
    command = ["postgres"]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    return command


@dataclass(frozen=True)
class PublishedPort:
    """One port published on the host: always on 127.0.0.1."""

    internal: int
    external: int
    ip: str = LOOPBACK


def task_ports(listeners: Sequence[Listener]) -> list[PublishedPort]:
    """Plano's listener ports, nothing else (never 9901, 9091, 9092 or the sidecar's 6432)."""
    return [PublishedPort(listener.port, listener.port) for listener in listeners]


def database_ports(db_port: int) -> list[PublishedPort]:
    return [PublishedPort(POSTGRES_PORT, db_port)]


def env_list(values: Mapping[str, str]) -> list[str]:
    """Docker's NAME=value form, sorted so the input (and so the diff) is stable."""
    return [f"{name}={value}" for name, value in sorted(values.items())]


@dataclass(frozen=True)
class LocalNames:
    """Names of the local stack's Docker objects; <project>-<stack> keeps two stacks apart."""

    names: Names

    def container(self, role: str) -> str:
        return f"{self.names.base}-{role}"

    @property
    def network(self) -> str:
        return f"{self.names.base}-net"

    @property
    def data_volume(self) -> str:
        return f"{self.names.base}-pgdata"

    def config_volume(self, role: str) -> str:
        return f"{self.names.base}-{role}-config"


def psql_command(db_port: int, db_name: str, db_user: str, ca_file: str = "db-ca.pem") -> str:
    """psql from the host over TLS, verifying the server against the stack's CA (no password in it)."""
    conninfo = (
        f"host={LOOPBACK} port={db_port} dbname={db_name} user={db_user} sslmode=verify-full sslrootcert={ca_file}"
    )
    password = '"$(pulumi stack output --show-secrets db_password)"'
    return f"pulumi stack output db_ca_cert_pem > {ca_file} && PGPASSWORD={password} psql '{conninfo}'"
