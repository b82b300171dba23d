"""``PlanoOnDocker``: the same task on a Docker engine, with no AWS account.

    127.0.0.1 --> task: init -> pgbouncer --TLS--> PostgreSQL container (its own CA)
                  plano --loopback--^
    the password and provider keys: secret container inputs

The rendered files, the sidecar and the init step are the AWS target's (core/task_files.py); only
the containers' host differs. Published ports bind 127.0.0.1 only (docs/local.md).
"""

from pathlib import Path

import pulumi

from plano_pulumi.args import PlanoOnDockerArgs
from plano_pulumi.component import PlanoComponent
from plano_pulumi.core.plano_config import primary_listener
from plano_pulumi.core.settings.source import settings_from_args
from plano_pulumi.core.task_files import task_files
from plano_pulumi.local.certificates import CertificatesArgs, DatabaseCertificates
from plano_pulumi.local.database import LocalDatabase, LocalDatabaseArgs
from plano_pulumi.local.layout import DB_HOSTNAME, LOOPBACK, POSTGRES_PORT, LocalNames, postgres_image, psql_command
from plano_pulumi.local.network import LocalNetwork, LocalNetworkArgs
from plano_pulumi.local.provider_keys import missing_key_warning, read_external_keys
from plano_pulumi.local.service import LocalService, LocalServiceArgs

TYPE = "plano:index:PlanoOnDocker"


class PlanoOnDocker(PlanoComponent):
    """Plano, its PgBouncer sidecar and TLS-only PostgreSQL as containers on a Docker engine."""

    endpoint_url: pulumi.Output[str]
    """Plano's primary listener on 127.0.0.1."""
    endpoint_urls: pulumi.Output[dict[str, str]]
    """Every listener's URL on 127.0.0.1, by listener name."""
    profile: pulumi.Output[str]
    """Always local."""
    db_ca_cert_pem: pulumi.Output[str]
    """The CA that signed PostgreSQL's certificate (psql's sslrootcert)."""
    db_password: pulumi.Output[str]
    """The master password (a secret output)."""
    psql_command: pulumi.Output[str]
    """psql over TLS (verify-full) to the database through its 127.0.0.1 port."""
    container_names: pulumi.Output[dict[str, str]]
    """The containers: plano, pgbouncer, postgres."""
    rendered_plano_config: pulumi.Output[str]
    """The Plano config the container runs: placeholders only, no secret."""

    def __init__(
        self,
        name: str,
        args: PlanoOnDockerArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        project_dir: Path | None = None,
    ) -> None:
        # Everything is validated before the first resource: bad args register nothing.
        settings = settings_from_args(args, local=True, base_dir=project_dir)
        self._project_dir = project_dir or Path.cwd()
        self._register(TYPE, name, settings, opts)
        self.names = LocalNames(settings.names)
        self._build()
        self._outputs()

    def _build(self) -> None:
        s, names = self.settings, self.names
        self.network = LocalNetwork("network", LocalNetworkArgs(names.network), self._child())
        self.certificates = DatabaseCertificates(
            "db-tls",
            CertificatesArgs(common_name=s.names.base, dns_names=[DB_HOSTNAME, "localhost"], ip_addresses=[LOOPBACK]),
            self._child(),
        )
        self.database = LocalDatabase(
            "database",
            LocalDatabaseArgs(
                container_name=names.container("postgres"),
                image=postgres_image(s.database.major_version),
                network=self.network.name,
                data_volume_name=names.data_volume,
                keep_data_volume=s.local.keep_data_volume,
                db_name=s.database.name,
                db_user=s.database.user,
                host_port=s.local.db_port,
                server_cert_pem=self.certificates.server_cert_pem,
                server_key_pem=self.certificates.server_key_pem,
            ),
            self._child(),
        )
        self.service = self._service()

    def _service(self) -> LocalService:
        s = self.settings
        external, missing = read_external_keys(self._project_dir, s.secrets.provider_keys_external)
        for key_name in missing:
            pulumi.log.warn(missing_key_warning(key_name), resource=self)
        keys = {name: pulumi.Output.secret(value.reveal()) for name, value in s.secrets.provider_keys.items()}
        keys.update({name: pulumi.Output.secret(value) for name, value in external.items()})
        return LocalService(
            "plano",
            LocalServiceArgs(
                names=self.names,
                images=(s.service.image, s.service.pgbouncer_image, s.service.init_image),
                network=self.network.name,
                listeners=s.plano.listeners,
                health_port=s.plano.health_listener.port,
                files=task_files(s.plano.text, s.database, DB_HOSTNAME, POSTGRES_PORT),
                db_host=DB_HOSTNAME,
                db_port=POSTGRES_PORT,
                db_name=s.database.name,
                db_user=s.database.user,
                tls_mode=s.database.tls_mode,
                ca_cert_pem=self.certificates.ca_cert_pem,
                db_password=self.database.password,
                app_user=s.database.app_user,
                app_password=self.database.app_password,
                provider_keys=keys,
                environment=s.service.environment,
                depends_on=[self.database],
            ),
            self._child(),
        )

    def _outputs(self) -> None:
        s, listeners = self.settings, self.settings.plano.listeners
        self.endpoint_urls = pulumi.Output.from_input({lsn.name: f"http://127.0.0.1:{lsn.port}" for lsn in listeners})
        self.endpoint_url = pulumi.Output.from_input(f"http://127.0.0.1:{primary_listener(listeners).port}")
        self.profile = pulumi.Output.from_input(s.profile.value)
        self.db_ca_cert_pem = self.certificates.ca_cert_pem
        self.db_password = self.database.password
        self.psql_command = pulumi.Output.from_input(psql_command(s.local.db_port, s.database.name, s.database.user))
        self.container_names = pulumi.Output.all(
            plano=self.service.plano_container_name,
            pgbouncer=self.service.pgbouncer_container_name,
            postgres=self.names.container("postgres"),
        ).apply(dict)
        self.rendered_plano_config = pulumi.Output.from_input(s.plano.text)
        self._publish()
