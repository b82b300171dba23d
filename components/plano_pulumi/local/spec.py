"""One pure description of each container the local stack runs (pure: no Pulumi, no Docker).

``postgres_spec``, ``task_spec``, ``init_spec``, ``pgbouncer_spec`` and ``plano_spec`` say
everything Docker is told about a container: image, entry point and command, environment, the
files put into it (path, mode, content), volumes, network (a user-defined network with aliases, or
another container's network namespace), ports published on 127.0.0.1, health check, restart
policy, stop grace, labels. ``database.py`` and ``service.py`` turn them into pulumi-docker
resources; the Docker engine tests (tests/integration/test_local_containers.py) run the same
descriptions on a real engine. Values a description only carries (certificates, passwords, the
network's name) are of any type ``V``: ``str`` in the tests, ``pulumi.Input[str]`` in the program.

Files are written as root (the Docker provider's upload builds its tar header from name, mode,
size and time only: no owner), so a file another user must own is handed to it by the container's
own start script (``layout.render_postgres_start_script``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from plano_pulumi.core.plano_config import SIDECAR_HOST, SIDECAR_PORT, Listener
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_env import (
    CA_BUNDLE_PEM_VAR,
    health_check_command,
    init_environment,
    pgbouncer_health_command,
    plano_environment,
)
from plano_pulumi.core.task_files import (
    APP_PASSWORD_VAR,
    INIT_PGBOUNCER_DIR,
    INIT_PLANO_DIR,
    INIT_SCRIPT_NAME,
    PGBOUNCER_CONFIG_DIR,
    PGBOUNCER_INI_NAME,
    PLANO_CONFIG_DIR,
)
from plano_pulumi.local.layout import (
    DB_HOSTNAME,
    HBA_FILE,
    HOST_GATEWAY_NAME,
    PG_DATA_DIR,
    SERVER_CERT,
    SERVER_KEY,
    START_SCRIPT,
    LocalNames,
    PublishedPort,
    database_ports,
    postgres_command,
    render_pg_hba,
    render_postgres_start_script,
    task_ports,
)

V = TypeVar("V")

# Plano stops at once on SIGTERM; give streams the same grace as on ECS. PostgreSQL's fast
# shutdown and PgBouncer's get the same. Docker's own default is 10 s; pulumi-docker's destroy
# uses 0 unless destroy_grace_seconds is set, so both are set from this (see ContainerSpec).
STOP_TIMEOUT_S = 30
# A digest of everything a container reads at start but Docker does not see (files the init step
# writes into a volume, the CA): a change of them changes the label, so the container is replaced.
INPUTS_LABEL = "dev.plano.inputs-sha256"


def go_duration(seconds: int) -> str:
    """A duration as Go's time.Duration prints it, which is how Docker's provider reads it back
    (90 -> "1m30s"): written in that form, a second `pulumi up` sees no difference."""
    if seconds < 0:
        raise ValueError(f"a negative duration: {seconds}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def inputs_digest(values: Sequence[str]) -> str:
    """The label value for a container's hidden inputs (order matters, contents are hashed)."""
    return hashlib.sha256(json.dumps(list(values)).encode()).hexdigest()


@dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]
    interval_s: int
    timeout_s: int
    retries: int
    start_period_s: int

    @property
    def durations(self) -> dict[str, str]:
        """interval, timeout and start_period as Docker reads them back."""
        return {
            "interval": go_duration(self.interval_s),
            "timeout": go_duration(self.timeout_s),
            "start_period": go_duration(self.start_period_s),
        }


@dataclass(frozen=True)
class FileSpec(Generic[V]):
    """A file put into the container before it starts (written as root, with this mode)."""

    path: str
    content: V | str
    mode: int = 0o644
    secret: bool = False


@dataclass(frozen=True)
class VolumeMount:
    volume: str
    path: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec(Generic[V]):
    role: str
    """postgres, task, init, pgbouncer or plano."""
    name: str
    image: str
    command: tuple[str, ...]
    entrypoint: tuple[str, ...] | None = None
    env: Mapping[str, V | str] = field(default_factory=dict)
    secret_env: bool = False
    """Holds a password or a key: the whole environment is a secret input."""
    files: tuple[FileSpec[V], ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    network: V | str | None = None
    """A user-defined network to join (with ``aliases``), or None with ``shares_network_of``."""
    aliases: tuple[str, ...] = ()
    shares_network_of: str | None = None
    """The role whose network namespace this container joins (``container:<id>``)."""
    hostname: str | None = None
    ports: tuple[PublishedPort, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()
    healthcheck: HealthCheck | None = None
    restart: str = "unless-stopped"
    init: bool = False
    stop_signal: str | None = None
    """The signal Docker stops it with (None: the image's)."""
    stop_timeout_s: int | None = None
    """Docker's grace between SIGTERM (or the image's stop signal) and SIGKILL, on stop and destroy."""
    hidden_inputs: tuple[V | str, ...] = ()
    """What the container reads at start that Docker does not see; their digest is a label."""
    runs_once: bool = False
    """The init step: runs to completion at deploy time, must exit 0, never restarts."""
    wait_timeout_s: int | None = None
    """Deploys wait this long for the container to be healthy before dependents start."""


def postgres_spec(
    *,
    name: str,
    data_volume: str,
    image: str,
    network: V,
    db_name: str,
    db_user: str,
    password: V,
    host_port: int,
    server_cert_pem: V,
    server_key_pem: V,
) -> ContainerSpec[V]:
    """The official PostgreSQL image, TLS only, on the stack's network as ``postgres``."""
    env: dict[str, V | str] = {
        "POSTGRES_DB": db_name,
        "POSTGRES_USER": db_user,
        "POSTGRES_PASSWORD": password,
        "PGDATA": PG_DATA_DIR,
        "POSTGRES_INITDB_ARGS": "--auth-host=scram-sha-256 --auth-local=scram-sha-256",
    }
    files: tuple[FileSpec[V], ...] = (
        FileSpec(SERVER_CERT, server_cert_pem),
        # PostgreSQL refuses a key others can read, or one its user does not own: the start script
        # gives it to the image's postgres user (the upload cannot), and it stays 0600.
        FileSpec(SERVER_KEY, server_key_pem, mode=0o600, secret=True),
        FileSpec(HBA_FILE, render_pg_hba()),
        FileSpec(START_SCRIPT, render_postgres_start_script()),
    )
    return ContainerSpec(
        role="postgres",
        name=name,
        image=image,
        hostname=DB_HOSTNAME,
        entrypoint=("sh", START_SCRIPT),
        command=tuple(postgres_command()),
        env=env,
        secret_env=True,
        files=files,
        volumes=(VolumeMount(data_volume, PG_DATA_DIR),),
        network=network,
        aliases=(DB_HOSTNAME,),
        ports=tuple(database_ports(host_port)),
        healthcheck=HealthCheck(
            test=("CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", db_user, "-d", db_name),
            interval_s=5,
            timeout_s=5,
            retries=10,
            start_period_s=10,
        ),
        # PostgreSQL's fast shutdown (the official image's STOPSIGNAL, said here for any image):
        # SIGTERM would wait for PgBouncer's connections to close until Docker kills it.
        stop_signal="SIGINT",
        stop_timeout_s=STOP_TIMEOUT_S,
        wait_timeout_s=120,
    )


def task_spec(names: LocalNames, *, image: str, network: V, listeners: Sequence[Listener]) -> ContainerSpec[V]:
    """Holds the network namespace the task's containers join, like a Fargate task's, and publishes
    the listener ports on 127.0.0.1 only."""
    return ContainerSpec(
        role="task",
        name=names.container("task"),
        image=image,
        command=("sleep", "infinity"),
        network=network,
        ports=tuple(task_ports(listeners)),
        extra_hosts=((HOST_GATEWAY_NAME, "host-gateway"),),
        init=True,  # a PID 1 that stops on SIGTERM
    )


def init_spec(
    names: LocalNames,
    *,
    image: str,
    files: Mapping[str, str],
    db_host: str,
    db_port: int,
    db_name: str,
    db_user: str,
    app_user: str,
    tls_mode: TlsMode,
    ca_cert_pem: V,
    db_password: V,
    app_password: V,
) -> ContainerSpec[V]:
    """The rendered init.sh: writes the files into the volumes and applies the schema over TLS."""
    env: dict[str, V | str] = {
        **init_environment(
            files,
            db_host=db_host,
            db_port=db_port,
            db_name=db_name,
            db_user=db_user,
            app_user=app_user,
            tls_mode=tls_mode,
        ),
        CA_BUNDLE_PEM_VAR: ca_cert_pem,
        "PGPASSWORD": db_password,
        APP_PASSWORD_VAR: app_password,
    }
    return ContainerSpec(
        role="init",
        name=names.container("init"),
        image=image,
        entrypoint=("sh", "-c"),
        command=(files[INIT_SCRIPT_NAME],),
        env=env,
        secret_env=True,
        volumes=(
            VolumeMount(names.config_volume("plano"), INIT_PLANO_DIR),
            VolumeMount(names.config_volume("pgbouncer"), INIT_PGBOUNCER_DIR),
        ),
        shares_network_of="task",
        restart="no",
        runs_once=True,
    )


def pgbouncer_spec(
    names: LocalNames,
    *,
    image: str,
    files: Mapping[str, str],
    ca_cert_pem: V,
    app_user: str,
    db_name: str,
) -> ContainerSpec[V]:
    """PgBouncer on the files the init step wrote, TLS to PostgreSQL, on the task's 127.0.0.1:6432.

    It reads pgbouncer.ini, the userlist and the CA from the volume at start: the files and the CA
    are its hidden inputs, so a new CA (or a changed file) replaces it after the init step wrote it.
    """
    return ContainerSpec(
        role="pgbouncer",
        name=names.container("pgbouncer"),
        image=image,
        # As on ECS: run the binary on the rendered file (the image's script would not pass SIGTERM).
        entrypoint=("/usr/bin/pgbouncer",),
        command=(f"{PGBOUNCER_CONFIG_DIR}/{PGBOUNCER_INI_NAME}",),
        volumes=(VolumeMount(names.config_volume("pgbouncer"), PGBOUNCER_CONFIG_DIR, read_only=True),),
        shares_network_of="task",
        healthcheck=HealthCheck(
            test=tuple(
                pgbouncer_health_command(host=SIDECAR_HOST, port=SIDECAR_PORT, db_user=app_user, db_name=db_name)
            ),
            interval_s=5,
            timeout_s=5,
            retries=6,
            start_period_s=5,
        ),
        stop_timeout_s=STOP_TIMEOUT_S,
        hidden_inputs=(*(files[name] for name in sorted(files)), ca_cert_pem),
        wait_timeout_s=60,  # Plano 0.4.36 exits when its first database connection fails
    )


def plano_spec(
    names: LocalNames,
    *,
    image: str,
    files: Mapping[str, str],
    health_port: int,
    environment: Mapping[str, str],
    secrets: Mapping[str, V],
) -> ContainerSpec[V]:
    """Plano on the rendered config the init step wrote; DB_PASS and provider keys are secret."""
    env: dict[str, V | str] = {**plano_environment(environment), **secrets}
    return ContainerSpec(
        role="plano",
        name=names.container("plano"),
        image=image,
        command=(),
        env=env,
        secret_env=True,
        volumes=(VolumeMount(names.config_volume("plano"), PLANO_CONFIG_DIR, read_only=True),),
        shares_network_of="task",
        healthcheck=HealthCheck(
            test=tuple(health_check_command(health_port)),
            interval_s=10,
            timeout_s=5,
            retries=3,
            start_period_s=90,
        ),
        stop_timeout_s=STOP_TIMEOUT_S,
        init=True,
        hidden_inputs=tuple(files[name] for name in sorted(files)),
        wait_timeout_s=300,  # the first start of Plano's image installs its config generator
    )


__all__ = [
    "INPUTS_LABEL",
    "STOP_TIMEOUT_S",
    "ContainerSpec",
    "FileSpec",
    "HealthCheck",
    "VolumeMount",
    "go_duration",
    "init_spec",
    "inputs_digest",
    "pgbouncer_spec",
    "plano_spec",
    "postgres_spec",
    "task_spec",
]
