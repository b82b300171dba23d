"""The plain environment of the init and Plano containers, shared by every target (pure).

AWS (``components/plano_pulumi/aws/containers.py``) and Docker (``components/local``) build their containers
from these functions, so both run the same init step and the same Plano with the same variables;
only how the secrets arrive differs (ECS secrets on AWS, secret container inputs on Docker).
None of these values is a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plano_pulumi.core.images import plano_image_environment
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_files import (
    PGBOUNCER_INI_NAME,
    PLANO_CONFIG_DIR,
    PLANO_CONFIG_NAME,
    SCHEMA_NAME,
)

METRICS_BIND_ADDRESS = "127.0.0.1:9092"

# init.sh takes the database's CA from one of these (verify-full): a URL to download (AWS's
# regional RDS bundle) or the PEM itself (the local stack's own CA).
CA_BUNDLE_URL_VAR = "RDS_CA_BUNDLE_URL"
CA_BUNDLE_PEM_VAR = "DB_CA_BUNDLE_PEM"


def init_environment(
    files: Mapping[str, str],
    *,
    db_host: str,
    db_port: int,
    db_name: str,
    db_user: str,
    app_user: str,
    tls_mode: TlsMode,
) -> dict[str, str]:
    """What init.sh reads, except the two passwords (secrets) and where the CA comes from.

    ``db_user`` is the master user (DDL, grants); ``app_user`` is Plano's own role, which the init
    step creates and writes into PgBouncer's userlist.
    """
    return {
        "PLANO_CONFIG_YAML": files[PLANO_CONFIG_NAME],
        "PGBOUNCER_INI": files[PGBOUNCER_INI_NAME],
        "SCHEMA_SQL": files[SCHEMA_NAME],
        "PGHOST": db_host,
        "PGPORT": str(db_port),
        "PGDATABASE": db_name,
        "PGUSER": db_user,
        "APP_DB_USER": app_user,
        "PGSSLMODE": tls_mode.value,
        "PGCONNECT_TIMEOUT": "10",
        "PGAPPNAME": "plano-init",
    }


def plano_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """Plano's plain environment: the user's plano:environment, what the image needs to start with
    no package index (it wins: without it a cold start needs PyPI), where the rendered config is, and
    where brightstaff serves its metrics."""
    return {
        **environment,
        **plano_image_environment(),
        "PLANO_CONFIG_FILE": f"{PLANO_CONFIG_DIR}/{PLANO_CONFIG_NAME}",
        # brightstaff's metrics on the task's loopback only (its default is 0.0.0.0:9092): the
        # collector sidecar scrapes them there, nothing outside the task can.
        "METRICS_BIND_ADDRESS": METRICS_BIND_ADDRESS,
    }


def health_check_command(port: int) -> list[str]:
    """Plano's image has Python but no curl: probe Envoy's /healthz with urllib."""
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=4)"
    return ["CMD", "python3", "-c", probe]


def pgbouncer_health_command(*, host: str, port: int, db_user: str, db_name: str) -> list[str]:
    """A liveness probe of PgBouncer itself (the init step already proved the database is reachable
    over TLS); -U names a known user so each probe does not log a failed login."""
    return ["CMD", "pg_isready", "-q", "-h", host, "-p", str(port), "-U", db_user, "-d", db_name]


# The state probe: PgBouncer's health check. Plano 0.4.36 opens one database connection at start and
# never another (DESIGN.md 2.3): once the sidecar has closed it (a query that waited longer than
# query_wait_timeout, a failed login), state is gone until the task restarts, silently. The probe
# asks the sidecar's console (SHOW CLIENTS, as Plano's role, a stats user) whether Plano's
# connection is still there: it never opens a server connection, so it neither wakes a paused
# Aurora nor makes PgBouncer fail Plano's queries during an outage (a failed server login is cached
# for server_login_retry and fails every query that arrives meanwhile: tests/integration). While
# the sidecar rides out a failover, Plano's connection stays, and the probe stays green.
# Before Plano's first connection (its start) there is nothing to lose: the probe passes, and
# remembers in a marker file once it has seen Plano connected.
STATE_PROBE_TIMEOUT_S = 5
STATE_PROBE_INTERVAL_S = 10
STATE_PROBE_RETRIES = 3
STATE_PROBE_MARKER = "/tmp/plano-state-connected"


def state_probe_script(
    *, host: str, port: int, db_user: str, db_name: str, userlist: str, marker: str = STATE_PROBE_MARKER
) -> str:
    """Shell for the probe. Plano's role's password comes from PgBouncer's userlist at run time
    (never a command-line argument or a task-definition value); psql gives up after
    STATE_PROBE_TIMEOUT_S. Exit 0: Plano's connection is there, or Plano has not connected yet."""
    return (
        f'out=$(PGPASSWORD="$(cut -d\'"\' -f4 {userlist})" PGCONNECT_TIMEOUT={STATE_PROBE_TIMEOUT_S} '
        f"PGAPPNAME=plano-state-probe PGSSLMODE=disable timeout {STATE_PROBE_TIMEOUT_S} "
        f"psql -X -q -A -t -h {host} -p {port} -U {db_user} -d pgbouncer -c 'SHOW CLIENTS') || exit 1; "
        f"n=$(printf '%s\\n' \"$out\" | awk -F'|' '$3 == \"{db_name}\" {{n++}} END {{print n+0}}'); "
        f'if [ "$n" -gt 0 ]; then touch {marker}; exit 0; fi; '
        f"[ ! -e {marker} ]"
    )


def state_probe_health_check(
    *, host: str, port: int, db_user: str, db_name: str, userlist: str, marker: str = STATE_PROBE_MARKER
) -> dict[str, Any]:
    """The sidecar's ECS health check with the state probe (values ECS accepts: retries 1-10)."""
    script = state_probe_script(
        host=host, port=port, db_user=db_user, db_name=db_name, userlist=userlist, marker=marker
    )
    return {
        "command": ["CMD-SHELL", script],
        "interval": STATE_PROBE_INTERVAL_S,
        "timeout": STATE_PROBE_TIMEOUT_S + 2,
        "retries": STATE_PROBE_RETRIES,
        "startPeriod": 10,
    }
