"""The task's containers as ECS container definitions (pure: plain values in, dicts out).

- ``init`` (not essential, exits 0): writes the rendered files into the task's two volumes and
  applies ``schema.sql`` over TLS with psql as the master user (DDL, grants, Plano's role). The
  only container that gets the master password, and Plano's role's password (for PgBouncer's
  userlist), both as ECS secrets.
- ``pgbouncer``: the TLS sidecar on 127.0.0.1:6432; starts once ``init`` succeeded. Its health
  check is the state probe: it fails once the sidecar has closed Plano's one database connection,
  which Plano never reopens, so ECS replaces a task that lost its state path; it reads PgBouncer's
  console only, so it never wakes the database or disturbs an outage the sidecar rides out
  (``task_env.state_probe_health_check``).
- ``plano``: Plano itself, reading the rendered config; ``DB_PASS`` (Plano's role, not the master
  user) and every provider key are ECS secrets (``valueFrom``), never environment values; starts
  with no package index reachable (``images.plano_image_environment``); starts once PgBouncer is healthy,
  because Plano 0.4.36 exits when its first database connection fails. Only the listener ports
  are mapped: never 9901 (Envoy admin), 9091 or 9092.
- ``collector`` (``plano:metricsCollector``, not essential): the ADOT collector scraping brightstaff
  and Envoy on loopback, writing EMF to CloudWatch, relaying traces to X-Ray (``core/collector.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plano_pulumi.core.collector import COLLECTOR_CPU_UNITS, COLLECTOR_MEMORY_MIB
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.plano_config import DB_PASSWORD_VAR, SIDECAR_HOST, SIDECAR_PORT, Listener
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.settings.quotas import MAX_TASK_DEFINITION_BYTES
from plano_pulumi.core.task_env import (
    CA_BUNDLE_URL_VAR,
    health_check_command,
    init_environment,
    pgbouncer_health_command,
    plano_environment,
    state_probe_health_check,
)
from plano_pulumi.core.task_files import (
    APP_PASSWORD_VAR,
    INIT_PGBOUNCER_DIR,
    INIT_PLANO_DIR,
    INIT_SCRIPT_NAME,
    PGBOUNCER_CONFIG_DIR,
    PGBOUNCER_INI_NAME,
    PLANO_CONFIG_DIR,
    USERLIST_NAME,
    rds_ca_bundle_url,
)

PLANO_VOLUME = "plano-config"
PGBOUNCER_VOLUME = "pgbouncer-config"
COLLECTOR_CONTAINER = "collector"
# Fargate stops a task's containers at most 120 s after SIGTERM: let in-flight streams finish.
STOP_TIMEOUT_S = 120


@dataclass(frozen=True)
class TaskInputs:
    """Everything the container definitions depend on, resolved to plain values."""

    region: str
    log_group: str
    plano_image: str
    pgbouncer_image: str
    init_image: str
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    tls_mode: TlsMode
    db_password_arn: str  # the master secret's ARN (init only); the password is its `password` JSON key
    app_user: str  # Plano's own role (plano and pgbouncer log in as it)
    app_password_arn: str  # that role's secret's ARN
    files: Mapping[str, str]  # task_files.task_files(): what init writes and runs
    listeners: tuple[Listener, ...]
    health_port: int
    provider_key_arns: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    # The sidecar's health check is the state probe (task_env.state_probe_*): Plano's connection is
    # still there; off, PgBouncer answering (pg_isready) is the check.
    state_probe: bool = True
    # The collector sidecar (core/collector.py): its image and config; empty = no collector.
    collector_image: str = ""
    collector_config: str = ""
    # The database init.sh logs in to first (a review stack's does not exist yet: `postgres`).
    init_db_name: str = ""
    # More secrets for the init step only: env name -> secret ARN (the whole secret string).
    init_secret_arns: Mapping[str, str] = field(default_factory=dict)


def _env(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in sorted(values.items())]


def _logs(inputs: TaskInputs, prefix: str) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": inputs.log_group,
            "awslogs-region": inputs.region,
            "awslogs-stream-prefix": prefix,
        },
    }


def db_password_value_from(secret_arn: str) -> str:
    """ECS `valueFrom` for one JSON key of a Secrets Manager secret: <arn>:<key>:<stage>:<version>."""
    return f"{secret_arn}:password::"


def container_definitions(inputs: TaskInputs) -> list[dict[str, Any]]:
    """The task's containers: init (runs once), pgbouncer (the TLS sidecar), plano, and the
    collector when configured."""
    definitions = [_init_container(inputs), _pgbouncer_container(inputs), _plano_container(inputs)]
    if inputs.collector_config:
        definitions.append(collector_container(inputs))
    return definitions


def _init_environment(inputs: TaskInputs) -> dict[str, str]:
    """The init step's plain environment: the database to prepare, and where the CA bundle is."""
    init_env = init_environment(
        inputs.files,
        db_host=inputs.db_host,
        db_port=inputs.db_port,
        db_name=inputs.db_name,
        db_user=inputs.db_user,
        app_user=inputs.app_user,
        tls_mode=inputs.tls_mode,
    )
    if inputs.init_db_name:
        init_env["PGDATABASE"] = inputs.init_db_name
    if inputs.tls_mode is TlsMode.VERIFY_FULL:
        init_env[CA_BUNDLE_URL_VAR] = rds_ca_bundle_url(inputs.region)
    return init_env


def _init_container(inputs: TaskInputs) -> dict[str, Any]:
    """Writes the config files into the volumes and prepares the database, then exits."""
    master_password_ref = db_password_value_from(inputs.db_password_arn)
    app_password_ref = db_password_value_from(inputs.app_password_arn)
    return {
        "name": "init",
        "image": inputs.init_image,
        "essential": False,
        "entryPoint": ["sh", "-c"],
        "command": [inputs.files[INIT_SCRIPT_NAME]],
        "environment": _env(_init_environment(inputs)),
        # The master password serves DDL and grants; the app role's goes into PgBouncer's userlist.
        "secrets": [
            {"name": "PGPASSWORD", "valueFrom": master_password_ref},
            {"name": APP_PASSWORD_VAR, "valueFrom": app_password_ref},
            *({"name": name, "valueFrom": arn} for name, arn in sorted(inputs.init_secret_arns.items())),
        ],
        "mountPoints": [
            {"sourceVolume": PLANO_VOLUME, "containerPath": INIT_PLANO_DIR, "readOnly": False},
            {"sourceVolume": PGBOUNCER_VOLUME, "containerPath": INIT_PGBOUNCER_DIR, "readOnly": False},
        ],
        "logConfiguration": _logs(inputs, "init"),
    }


def _pgbouncer_container(inputs: TaskInputs) -> dict[str, Any]:
    """The TLS sidecar Plano connects to on loopback; healthy once it reaches the database."""
    return {
        "name": "pgbouncer",
        "image": inputs.pgbouncer_image,
        "essential": True,
        # The image's entrypoint script runs pgbouncer without exec, so SIGTERM would not reach
        # it; run the binary directly on the rendered file.
        "entryPoint": ["/usr/bin/pgbouncer"],
        "command": [f"{PGBOUNCER_CONFIG_DIR}/{PGBOUNCER_INI_NAME}"],
        "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
        "mountPoints": [{"sourceVolume": PGBOUNCER_VOLUME, "containerPath": PGBOUNCER_CONFIG_DIR, "readOnly": True}],
        "healthCheck": state_probe_health_check(
            host=SIDECAR_HOST,
            port=SIDECAR_PORT,
            db_user=inputs.app_user,
            db_name=inputs.db_name,
            userlist=f"{PGBOUNCER_CONFIG_DIR}/{USERLIST_NAME}",
        )
        if inputs.state_probe
        else {
            "command": pgbouncer_health_command(
                host=SIDECAR_HOST, port=SIDECAR_PORT, db_user=inputs.app_user, db_name=inputs.db_name
            ),
            "interval": 10,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 10,
        },
        "stopTimeout": STOP_TIMEOUT_S,
        "logConfiguration": _logs(inputs, "pgbouncer"),
    }


def _plano_container(inputs: TaskInputs) -> dict[str, Any]:
    # Plano logs in as its own role: it never receives the master password.
    secrets = [{"name": DB_PASSWORD_VAR, "valueFrom": db_password_value_from(inputs.app_password_arn)}]
    secrets += [{"name": name, "valueFrom": arn} for name, arn in sorted(inputs.provider_key_arns.items())]
    return {
        "name": "plano",
        "image": inputs.plano_image,
        "essential": True,
        "portMappings": [
            {"containerPort": listener.port, "hostPort": listener.port, "protocol": "tcp"}
            for listener in inputs.listeners
        ],
        "environment": _env(plano_environment(inputs.environment)),
        "secrets": secrets,
        "mountPoints": [{"sourceVolume": PLANO_VOLUME, "containerPath": PLANO_CONFIG_DIR, "readOnly": True}],
        "dependsOn": [
            {"containerName": "init", "condition": "SUCCESS"},
            {"containerName": "pgbouncer", "condition": "HEALTHY"},
        ],
        "healthCheck": {
            "command": health_check_command(inputs.health_port),
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 90,
        },
        # Plano writes to /app, /etc and /tmp at start-up (DESIGN.md 2.6).
        "readonlyRootFilesystem": False,
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": STOP_TIMEOUT_S,
        "logConfiguration": _logs(inputs, "plano"),
    }


def collector_container(inputs: TaskInputs) -> dict[str, Any]:
    """The metrics and traces sidecar: not essential (a collector failure never stops Plano),
    restarted by ECS when it exits, no port mapped (it scrapes and listens on loopback only)."""
    return {
        "name": COLLECTOR_CONTAINER,
        "image": inputs.collector_image,
        "essential": False,
        "cpu": COLLECTOR_CPU_UNITS,
        "memory": COLLECTOR_MEMORY_MIB,
        # The ADOT image reads its configuration from this variable; it holds no secret.
        "environment": _env({"AOT_CONFIG_CONTENT": inputs.collector_config}),
        "dependsOn": [{"containerName": "plano", "condition": "START"}],
        # The image's own probe of the health_check extension on 127.0.0.1:13133.
        "healthCheck": {
            "command": ["CMD", "/healthcheck"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 30,
        },
        "restartPolicy": {"enabled": True, "restartAttemptPeriod": 60},
        "readonlyRootFilesystem": True,
        "logConfiguration": _logs(inputs, COLLECTOR_CONTAINER),
    }


def check_task_definition_size(definitions_json: str, *, source: str = "plano:configFile") -> str:
    """``definitions_json`` unchanged, or a ConfigError if ECS would refuse the task definition.

    ECS refuses a task definition over 64 KiB (DESIGN.md 5.7); the container definitions carry the
    rendered Plano config, so a large config is what gets there. Settings refuse most such configs
    earlier, from a lower-bound estimate; this is the exact check.
    """
    size = len(definitions_json.encode("utf-8"))
    if size > MAX_TASK_DEFINITION_BYTES:
        raise ConfigError(
            source,
            f"makes the task definition {size // 1024} KiB (its container definitions carry the rendered "
            f"config); ECS refuses task definitions over {MAX_TASK_DEFINITION_BYTES // 1024} KiB",
            fix="shorten the Plano config (comments, unused providers, long prompts) to fit",
        )
    return definitions_json
