"""PostgreSQL on Docker that accepts only TLS, with the stack's certificate and a named data volume.

Creates the database password (random, alphanumeric, as on AWS), the image pull, a named data
volume (kept when the stack is destroyed unless ``plano:localKeepDataVolume`` is false) and the
official PostgreSQL container: ``ssl = on`` with the certificate ``DatabaseCertificates`` issues,
a ``pg_hba.conf`` that rejects every connection without TLS, published on 127.0.0.1 only; on a kept
data volume the container first sets the stack's current password (``render_postgres_start_script``). The
password and the private key are secret container inputs (encrypted in Pulumi state), never in an
image or a file of the repository.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from plano_pulumi.core.passwords import DB_PASSWORD_RULES
from plano_pulumi.local.layout import (
    DB_HOSTNAME,
    HBA_FILE,
    PG_DATA_DIR,
    POSTGRES_PORT,
    POSTGRES_UID,
    SERVER_CERT,
    SERVER_KEY,
    START_SCRIPT,
    database_ports,
    postgres_command,
    render_pg_hba,
    render_postgres_start_script,
)


@dataclass(frozen=True)
class LocalDatabaseArgs:
    container_name: str
    """The container's name on the Docker engine."""
    image: str
    """The PostgreSQL image (the RDS major version, from a registry without pull limits)."""
    network: pulumi.Input[str]
    """The stack's Docker network."""
    data_volume_name: str
    """The named volume holding the data directory."""
    keep_data_volume: bool
    """Keep the volume (and so the conversations) when the stack is destroyed."""
    db_name: str
    db_user: str
    host_port: int
    """Published on 127.0.0.1 only, for psql over TLS from the host."""
    server_cert_pem: pulumi.Input[str]
    server_key_pem: pulumi.Input[str]


class LocalDatabase(pulumi.ComponentResource):
    host: pulumi.Output[str]
    """The database's name on the stack's network (its certificate names it)."""
    port: pulumi.Output[int]
    """Its port on the stack's network."""
    password: pulumi.Output[str]
    """The generated master password (secret): the init step's only."""
    app_password: pulumi.Output[str]
    """The generated password of Plano's own role (secret), as on AWS: Plano and PgBouncer use it."""

    def __init__(self, name: str, args: LocalDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:local:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Docker names are unique: a replacement must go before its successor can take the name.
        named = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        password = random.RandomPassword("password", **DB_PASSWORD_RULES, opts=child)
        app_password = random.RandomPassword("app-password", **DB_PASSWORD_RULES, opts=child)
        image = docker.RemoteImage("image", name=args.image, keep_locally=True, opts=child)
        volume = docker.Volume(
            "data",
            name=args.data_volume_name,
            # Destroying the stack keeps the data unless the setting says otherwise.
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=args.keep_data_volume, delete_before_replace=True
            ),
        )
        self.password = pulumi.Output.secret(password.result)
        self.app_password = pulumi.Output.secret(app_password.result)
        envs = self.password.apply(
            lambda secret: [
                f"POSTGRES_DB={args.db_name}",
                f"POSTGRES_USER={args.db_user}",
                f"POSTGRES_PASSWORD={secret}",
                f"PGDATA={PG_DATA_DIR}",
                "POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 --auth-local=scram-sha-256",
            ]
        )
        container = docker.Container(
            "postgres",
            name=args.container_name,
            image=image.image_id,
            hostname=DB_HOSTNAME,
            entrypoints=["sh", START_SCRIPT],
            command=postgres_command(),
            envs=envs,
            uploads=[
                docker.ContainerUploadArgs(file=SERVER_CERT, content=args.server_cert_pem),
                # PostgreSQL refuses a key that others can read; it runs as uid 70 in the image.
                docker.ContainerUploadArgs(
                    file=SERVER_KEY,
                    content=pulumi.Output.secret(args.server_key_pem),
                    owner=str(POSTGRES_UID),
                    permissions="0600",
                ),
                docker.ContainerUploadArgs(file=HBA_FILE, content=render_pg_hba()),
                docker.ContainerUploadArgs(file=START_SCRIPT, content=render_postgres_start_script()),
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=PG_DATA_DIR)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network, aliases=[DB_HOSTNAME])],
            ports=[
                docker.ContainerPortArgs(internal=p.internal, external=p.external, ip=p.ip)
                for p in database_ports(args.host_port)
            ],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", args.db_user, "-d", args.db_name],
                interval="5s",
                timeout="5s",
                retries=10,
                start_period="10s",
            ),
            wait=True,  # dependents start once the server accepts connections
            wait_timeout=120,
            restart="unless-stopped",
            destroy_grace_seconds=30,
            opts=named,
        )
        self.host = pulumi.Output.from_input(DB_HOSTNAME)
        self.port = container.name.apply(lambda _: POSTGRES_PORT)
        # Registered so `pulumi stack` shows where the database is; the password stays secret.
        self.register_outputs({"host": self.host, "port": self.port})
