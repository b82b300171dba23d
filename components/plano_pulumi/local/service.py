"""Plano's task on Docker: the same init step, PgBouncer sidecar and Plano as the ECS task.

Creates the image pulls, two config volumes (what the task's volumes are on ECS) and four
containers:

- ``task``: holds the network namespace the others join, like a Fargate task's, and publishes
  the listener ports on 127.0.0.1 only. PgBouncer and Plano can each restart without the other
  losing 127.0.0.1:6432.
- ``init`` (runs once, exits 0): the rendered ``init.sh`` with the rendered files; writes them into
  the volumes and applies ``schema.sql`` over TLS (``verify-full`` against the stack's CA). A
  non-zero exit fails ``pulumi up`` with the container's name and the `pulumi up --replace`
  command that runs it again (its exit code stays in state until it is replaced).
- ``pgbouncer``: the rendered ``pgbouncer.ini``, TLS to PostgreSQL; healthy before Plano starts.
- ``plano``: the rendered Plano config; ``DB_PASS`` and provider keys are secret container inputs.

Each container is a description from ``plano_pulumi.local.spec`` (the one the Docker engine tests
run), turned into a resource by ``containers.container``. Environments come from
``plano_pulumi.core.task_env``, as the ECS container definitions do. A change of any rendered file,
or of the CA, replaces the containers that read them (a label carries their digest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from plano_pulumi.core.plano_config import DB_PASSWORD_VAR, Listener
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.local.containers import container
from plano_pulumi.local.layout import LocalNames
from plano_pulumi.local.spec import init_spec, pgbouncer_spec, plano_spec, task_spec

INIT_EXIT_LABEL = "dev.plano.init-exit-code"


def init_exit_checked(container_name: str, exit_code: int | None, *, stack: str, urn: str) -> str:
    """The init step must have exited 0; otherwise `pulumi up` stops here with where to look.

    Its exit code stays in the stack's state, and an init step whose inputs did not change is not
    run again: so the message names the one command that runs it again once the cause is fixed.
    """
    if exit_code != 0:
        raise RuntimeError(
            f"the init step exited with {exit_code}: see `docker logs {container_name}` (it never prints the "
            f"password); once the cause is fixed, run it again with `pulumi up --stack {stack} --replace '{urn}'`"
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
    files: Mapping[str, str]
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
        self._args = args
        # Docker names are unique: a replacement must go before its successor can take the name.
        self._named = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        self._files = dict(args.files)
        plano_image, pgbouncer_image, init_image = self._images()
        volumes = [
            docker.Volume("plano-config", name=args.names.config_volume("plano"), opts=self._named),
            docker.Volume("pgbouncer-config", name=args.names.config_volume("pgbouncer"), opts=self._named),
        ]
        task = container(
            "task",
            task_spec(args.names, image=args.images[2], network=args.network, listeners=args.listeners),
            image_id=init_image.image_id,
            opts=self._named.merge(pulumi.ResourceOptions(depends_on=list(args.depends_on))),
        )
        in_task = {"task": task}
        init = self._init(init_image, in_task, volumes)
        # Each waits for the init step, which must have exited 0, and starts on what it wrote.
        after_init = [docker.ContainerLabelArgs(label=INIT_EXIT_LABEL, value=self._init_ok(init))]
        pgbouncer = self._pgbouncer(pgbouncer_image, in_task, after_init, init)
        plano = self._plano(plano_image, in_task, after_init, pgbouncer)
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

    def _images(self) -> tuple[docker.RemoteImage, docker.RemoteImage, docker.RemoteImage]:
        """The plano, pgbouncer and init images, pulled and kept."""
        child = pulumi.ResourceOptions(parent=self)
        plano, pgbouncer, init = (
            docker.RemoteImage(role, name=ref, keep_locally=True, opts=child)
            for role, ref in (
                ("plano-image", self._args.images[0]),
                ("pgbouncer-image", self._args.images[1]),
                ("init-image", self._args.images[2]),
            )
        )
        return plano, pgbouncer, init

    def _init(
        self, image: docker.RemoteImage, in_task: dict[str, docker.Container], volumes: list[docker.Volume]
    ) -> docker.Container:
        """The init step: writes the config files into the volumes and prepares the database."""
        args = self._args
        return container(
            "init",
            init_spec(
                args.names,
                image=args.images[2],
                files=self._files,
                db_host=args.db_host,
                db_port=args.db_port,
                db_name=args.db_name,
                db_user=args.db_user,
                app_user=args.app_user,
                tls_mode=args.tls_mode,
                ca_cert_pem=args.ca_cert_pem,
                db_password=args.db_password,
                app_password=args.app_password,
            ),
            image_id=image.image_id,
            namespace_of=in_task,
            opts=self._named.merge(pulumi.ResourceOptions(depends_on=list(volumes))),
        )

    @staticmethod
    def _init_ok(init: docker.Container) -> pulumi.Output[str]:
        """The init step's exit code, checked: a failed init step stops the deployment here."""
        stack = pulumi.get_stack()
        return pulumi.Output.all(init.name, init.exit_code, init.urn).apply(
            lambda a: init_exit_checked(a[0], a[1], stack=stack, urn=a[2])
        )

    def _pgbouncer(
        self,
        image: docker.RemoteImage,
        in_task: dict[str, docker.Container],
        after_init: list[docker.ContainerLabelArgs],
        init: docker.Container,
    ) -> docker.Container:
        args = self._args
        return container(
            "pgbouncer",
            pgbouncer_spec(
                args.names,
                image=args.images[1],
                files=self._files,
                ca_cert_pem=args.ca_cert_pem,
                app_user=args.app_user,
                db_name=args.db_name,
            ),
            image_id=image.image_id,
            namespace_of=in_task,
            extra_labels=after_init,
            opts=self._named.merge(pulumi.ResourceOptions(depends_on=[init])),
        )

    def _plano(
        self,
        image: docker.RemoteImage,
        in_task: dict[str, docker.Container],
        after_init: list[docker.ContainerLabelArgs],
        pgbouncer: docker.Container,
    ) -> docker.Container:
        """Plano logs in as its own role, never as the master user."""
        args = self._args
        return container(
            "plano",
            plano_spec(
                args.names,
                image=args.images[0],
                files=self._files,
                health_port=args.health_port,
                environment=args.environment,
                secrets={DB_PASSWORD_VAR: args.app_password, **args.provider_keys},
            ),
            image_id=image.image_id,
            namespace_of=in_task,
            extra_labels=after_init,
            opts=self._named.merge(pulumi.ResourceOptions(depends_on=[pgbouncer])),
        )
