"""Plano's task on Docker: the same init step, PgBouncer sidecar and Plano as the ECS task.

Creates the image pulls, two config volumes (what the task's volumes are on ECS) and four
containers:

- ``task``: holds the network namespace the others join, like a Fargate task's, and publishes
  the listener ports on 127.0.0.1 only. PgBouncer and Plano can each restart without the other
  losing 127.0.0.1:6432.
- ``init`` (runs once, exits 0): the rendered ``init.sh`` with the rendered files; writes them into
  the volumes and applies ``schema.sql`` over TLS (``verify-full`` against the stack's CA). A
  non-zero exit fails ``pulumi up`` with the container's name.
- ``pgbouncer``: the rendered ``pgbouncer.ini``, TLS to PostgreSQL; healthy before Plano starts.
- ``plano``: the rendered Plano config; ``DB_PASS`` and provider keys are secret container inputs.

Environments come from ``plano_pulumi.core.task_env``, as the ECS container definitions do. A change
of any rendered file replaces the containers that read it (a label carries the files' digest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from plano_pulumi.core.plano_config import DB_PASSWORD_VAR, SIDECAR_HOST, SIDECAR_PORT, Listener
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
from plano_pulumi.local.layout import HOST_GATEWAY_NAME, LocalNames, env_list, task_ports

# Plano stops at once on SIGTERM; give streams the same grace as on ECS where Docker allows.
STOP_TIMEOUT_S = 30
FILES_LABEL = "dev.plano.files-sha256"


def files_digest(files: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(files), sort_keys=True).encode()).hexdigest()


def init_exit_checked(container_name: str, exit_code: int | None) -> str:
    """The init step must have exited 0; otherwise `pulumi up` stops here with where to look."""
    if exit_code != 0:
        raise RuntimeError(
            f"the init step exited with {exit_code}: see `docker logs {container_name}` (it never prints the password)"
        )
    return "0"


@dataclass(frozen=True)
class LocalServiceArgs:
    names: LocalNames
    images: tuple[str, str, str]
    """Plano, PgBouncer and init images (the same settings as on AWS)."""
    network: pulumi.Input[str]
    """The stack's Docker network."""
    listeners: Sequence[Listener]
    health_port: int
    files: pulumi.Input[Mapping[str, str]]
    """``task_files.task_files()`` for the database's address on the network."""
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    tls_mode: TlsMode
    ca_cert_pem: pulumi.Input[str]
    """The stack's CA, which the init step and PgBouncer verify the server against."""
    db_password: pulumi.Input[str]
    """The master password (secret): the init step only."""
    app_user: str
    """Plano's own role, which the init step creates (as on AWS)."""
    app_password: pulumi.Input[str]
    """Its password (secret): PgBouncer's userlist and Plano's DB_PASS."""
    provider_keys: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Env name -> value (secret)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()


class LocalService(pulumi.ComponentResource):
    task_container_name: pulumi.Output[str]
    """The container that holds the task's network namespace and published ports."""
    plano_container_name: pulumi.Output[str]
    pgbouncer_container_name: pulumi.Output[str]

    def __init__(self, name: str, args: LocalServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:local:Service", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Docker names are unique: a replacement must go before its successor can take the name.
        named = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        names = args.names
        plano_image, pgbouncer_image, init_image = (
            docker.RemoteImage(role, name=ref, keep_locally=True, opts=child)
            for role, ref in (
                ("plano-image", args.images[0]),
                ("pgbouncer-image", args.images[1]),
                ("init-image", args.images[2]),
            )
        )
        plano_volume = docker.Volume("plano-config", name=names.config_volume("plano"), opts=named)
        pgbouncer_volume = docker.Volume("pgbouncer-config", name=names.config_volume("pgbouncer"), opts=named)
        files = pulumi.Output.from_input(args.files)
        digest = files.apply(files_digest)

        task = docker.Container(
            "task",
            name=names.container("task"),
            image=init_image.image_id,
            command=["sleep", "infinity"],
            init=True,  # a PID 1 that stops on SIGTERM
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network)],
            ports=[
                docker.ContainerPortArgs(internal=p.internal, external=p.external, ip=p.ip)
                for p in task_ports(args.listeners)
            ],
            hosts=[docker.ContainerHostArgs(host=HOST_GATEWAY_NAME, ip="host-gateway")],
            restart="unless-stopped",
            opts=named.merge(pulumi.ResourceOptions(depends_on=list(args.depends_on))),
        )
        in_task = task.id.apply(lambda container_id: f"container:{container_id}")

        init_plain = pulumi.Output.all(files, args.ca_cert_pem).apply(
            lambda a: {
                **init_environment(
                    a[0],
                    db_host=args.db_host,
                    db_port=args.db_port,
                    db_name=args.db_name,
                    db_user=args.db_user,
                    app_user=args.app_user,
                    tls_mode=args.tls_mode,
                ),
                CA_BUNDLE_PEM_VAR: a[1],
            }
        )
        init_envs: pulumi.Output[list[str]] = pulumi.Output.secret(  # type: ignore[arg-type]
            pulumi.Output.all(init_plain, args.db_password, args.app_password).apply(
                lambda a: env_list({**a[0], "PGPASSWORD": a[1], APP_PASSWORD_VAR: a[2]})
            )
        )
        init = docker.Container(
            "init",
            name=names.container("init"),
            image=init_image.image_id,
            network_mode=in_task,
            entrypoints=["sh", "-c"],
            command=[files.apply(lambda f: f[INIT_SCRIPT_NAME])],
            envs=init_envs,
            volumes=[
                docker.ContainerVolumeArgs(volume_name=plano_volume.name, container_path=INIT_PLANO_DIR),
                docker.ContainerVolumeArgs(volume_name=pgbouncer_volume.name, container_path=INIT_PGBOUNCER_DIR),
            ],
            must_run=False,
            attach=True,  # `pulumi up` waits for the init step to finish
            logs=True,
            restart="no",
            opts=named,
        )
        init_ok = pulumi.Output.all(init.name, init.exit_code).apply(lambda a: init_exit_checked(a[0], a[1]))

        def labels(extra: pulumi.Input[str]) -> list[docker.ContainerLabelArgs]:
            return [
                docker.ContainerLabelArgs(label=FILES_LABEL, value=digest),
                docker.ContainerLabelArgs(label="dev.plano.init-exit-code", value=extra),
            ]

        pgbouncer = docker.Container(
            "pgbouncer",
            name=names.container("pgbouncer"),
            image=pgbouncer_image.image_id,
            network_mode=in_task,
            # As on ECS: run the binary on the rendered file (the image's script would not pass SIGTERM).
            entrypoints=["/usr/bin/pgbouncer"],
            command=[f"{PGBOUNCER_CONFIG_DIR}/{PGBOUNCER_INI_NAME}"],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=pgbouncer_volume.name, container_path=PGBOUNCER_CONFIG_DIR, read_only=True
                )
            ],
            labels=labels(init_ok),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=pgbouncer_health_command(
                    host=SIDECAR_HOST, port=SIDECAR_PORT, db_user=args.app_user, db_name=args.db_name
                ),
                interval="5s",
                timeout="5s",
                retries=6,
                start_period="5s",
            ),
            wait=True,  # Plano 0.4.36 exits when its first database connection fails
            wait_timeout=60,
            restart="unless-stopped",
            stop_timeout=STOP_TIMEOUT_S,
            opts=named.merge(pulumi.ResourceOptions(depends_on=[init])),
        )

        # Plano logs in as its own role, never as the master user.
        secrets = {DB_PASSWORD_VAR: args.app_password, **args.provider_keys}
        plano_envs: pulumi.Output[list[str]] = pulumi.Output.secret(  # type: ignore[arg-type]
            pulumi.Output.all(**secrets).apply(lambda s: env_list({**plano_environment(args.environment), **s}))
        )
        plano = docker.Container(
            "plano",
            name=names.container("plano"),
            image=plano_image.image_id,
            network_mode=in_task,
            envs=plano_envs,
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=plano_volume.name, container_path=PLANO_CONFIG_DIR, read_only=True
                )
            ],
            labels=labels(init_ok),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=health_check_command(args.health_port),
                interval="10s",
                timeout="5s",
                retries=3,
                start_period="90s",
            ),
            wait=True,
            wait_timeout=300,  # the first start of Plano's image installs its config generator
            restart="unless-stopped",
            stop_timeout=STOP_TIMEOUT_S,
            init=True,
            opts=named.merge(pulumi.ResourceOptions(depends_on=[pgbouncer])),
        )
        self.task_container_name = task.name
        self.plano_container_name = plano.name
        self.pgbouncer_container_name = pgbouncer.name
        # Registered so `pulumi stack` lists the containers under this component.
        self.register_outputs(
            {
                "task": self.task_container_name,
                "plano": self.plano_container_name,
                "pgbouncer": self.pgbouncer_container_name,
            }
        )
