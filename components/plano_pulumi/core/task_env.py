"""The plain environment of the init and Plano containers, shared by every target (pure).

AWS (``components/plano_pulumi/aws/containers.py``) and Docker (``components/local``) build their containers
from these functions, so both run the same init step and the same Plano with the same variables;
only how the secrets arrive differs (ECS secrets on AWS, secret container inputs on Docker).
None of these values is a secret.
"""

from __future__ import annotations

from collections.abc import Mapping

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
