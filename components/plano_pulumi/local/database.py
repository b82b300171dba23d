"""PostgreSQL on Docker that accepts only TLS, with the stack's certificate and a named data volume.

Creates the database password (random, alphanumeric, as on AWS), the image pull, a named data
volume (kept when the stack is destroyed unless ``plano:localKeepDataVolume`` is false) and the
official PostgreSQL container: ``ssl = on`` with the certificate ``DatabaseCertificates`` issues,
a ``pg_hba.conf`` that rejects every connection without TLS, published on 127.0.0.1 only; on a kept
data volume the container first sets the stack's current password, and it gives the private key to
the image's postgres user before the server starts (``render_postgres_start_script``). The
container is ``spec.postgres_spec``, the description the Docker engine tests run. The
password and the private key are secret container inputs (encrypted in Pulumi state), never in an
image or a file of the repository.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from plano_pulumi.core.passwords import DB_PASSWORD_RULES
from plano_pulumi.local.containers import container
from plano_pulumi.local.layout import DB_HOSTNAME, POSTGRES_PORT
from plano_pulumi.local.spec import postgres_spec


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
        spec = postgres_spec(
            name=args.container_name,
            data_volume=args.data_volume_name,
            image=args.image,
            network=args.network,
            db_name=args.db_name,
            db_user=args.db_user,
            password=self.password,
            host_port=args.host_port,
            server_cert_pem=args.server_cert_pem,
            server_key_pem=args.server_key_pem,
        )
        # The key is among the uploads: Pulumi then keeps them all as a secret input.
        postgres = container(
            "postgres",
            spec,
            image_id=image.image_id,
            opts=named.merge(pulumi.ResourceOptions(depends_on=[volume])),
        )
        self.host = pulumi.Output.from_input(DB_HOSTNAME)
        self.port = postgres.name.apply(lambda _: POSTGRES_PORT)
        # Registered so `pulumi stack` shows where the database is; the password stays secret.
        self.register_outputs({"host": self.host, "port": self.port})
