"""The validated, frozen settings the components receive, and the raw config they come from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from plano_pulumi.core.monitoring import Thresholds
from plano_pulumi.core.naming import Names
from plano_pulumi.core.plano_config import (
    RenderedPlanoConfig,
)
from plano_pulumi.core.settings.keys import Architecture, Capacity, DbEngine, Ingress, NatGateways, Profile, TlsMode
from plano_pulumi.core.settings.profiles import ProfilePolicy


class Secret:
    """A secret config value that never shows itself in a repr, log or error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret([secret])"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class RawConfig:
    """Config as Pulumi hands it to a program: full keys to strings, and which keys are secret."""

    values: Mapping[str, str]
    secret_keys: frozenset[str] = frozenset()
    # Keys whose stack-file value has a plain-text leaf where a secret belongs (see raw_config_from_pulumi).
    plaintext_leaves: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkSettings:
    create_vpc: bool
    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    vpc_cidr: str
    nat_gateways: NatGateways

    @property
    def tasks_in_public_subnets(self) -> bool:
        """With no NAT gateway, tasks reach model providers through a public IP (no inbound).

        For an adopted VPC (a review stack in the dev stack's VPC) ``nat_gateways`` says whether that
        VPC's private subnets route through NAT: without it, tasks there could not reach the providers.
        """
        return self.nat_gateways is NatGateways.NONE


APP_ROLE_SUFFIX = "_app"
# PostgreSQL names hold 63 characters; the master user leaves room for Plano's role's suffix.
MAX_DB_USER_CHARS = 63 - len(APP_ROLE_SUFFIX)


def app_role_name(master_user: str) -> str:
    """Plano's role: the master user's name with ``_app``. Settings keep ``plano:dbUser`` to
    ``MAX_DB_USER_CHARS``, so the role never needs shortening and never equals the master user."""
    return f"{master_user[:MAX_DB_USER_CHARS]}{APP_ROLE_SUFFIX}"


@dataclass(frozen=True)
class SharedDatabase:
    """A review stack's place on another stack's server (plano:sharedDatabase, from dev's outputs)."""

    host: str
    """The server's address (dev's db_address)."""
    port: int
    security_group_id: str
    """The server's security group: the review stack admits its own service group into it."""
    provisioner_secret_arn: str
    """Dev's provisioning role's secret (the init step's login; never dev's master secret)."""
    owner: str
    """The role that owns the review database (no login)."""
    app_user: str
    """Plano's role in the review database."""
    app_connection_limit: int
    """Its CONNECTION LIMIT: PgBouncer's pool per task times plano:maxCount."""


@dataclass(frozen=True)
class DatabaseSettings:
    instance_class: str
    engine_version: str
    major_version: int
    parameter_group_family: str
    name: str
    user: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    backup_retention_days: int
    tls_mode: TlsMode
    state_retention_days: int
    # Bumped by the user to rotate both passwords (plano:dbPasswordVersion).
    password_version: int = 1

    @property
    def app_user(self) -> str:
        """Plano's own least-privilege role (the master user keeps DDL and grants)."""
        return self.shared.app_user if self.shared is not None else app_role_name(self.user)

    engine: DbEngine = DbEngine.RDS
    max_capacity_acu: int = 2
    # Seconds idle before Aurora pauses at 0 ACU; None = never pause (minimum 0.5 ACU).
    auto_pause_s: int | None = 300
    # plano:dbEngineChangeConfirmed: the engine a switch of plano:dbEngine may go to ("" = none).
    engine_change_confirmed: str = ""
    # plano:dbReviewStacks: review stacks this server carries (a provisioning role for them).
    review_stacks: int = 0
    # A review stack: its own database on another stack's server; then `name` is that database,
    # `user` the provisioning role the init step logs in as, and no server is created.
    shared: SharedDatabase | None = None

    @property
    def cluster_parameter_group_family(self) -> str:
        return f"aurora-postgresql{self.major_version}"

    @property
    def min_capacity_acu(self) -> float:
        return 0.0 if self.auto_pause_s is not None else 0.5


@dataclass(frozen=True)
class IngressSettings:
    mode: Ingress
    allowed_cidrs: tuple[str, ...]
    certificate_arn: str
    internal: bool
    domain_name: str = ""
    """The user's DNS name for the endpoint (plano:domainName); empty = the load balancer's name."""
    hosted_zone_id: str = ""
    """Route 53 zone the stack writes the alias record in (plano:hostedZoneId); empty = none."""

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn)


@dataclass(frozen=True)
class ServiceSettings:
    image: str
    pgbouncer_image: str
    init_image: str
    cpu: int
    memory: int
    architecture: Architecture
    capacity: Capacity
    desired_count: int
    max_count: int
    log_retention_days: int
    environment: Mapping[str, str]
    image_registry: str = ""
    """plano:imageRegistry: the ECR registry the images above were mapped to (empty: none)."""


@dataclass(frozen=True)
class SecretSettings:
    provider_keys: Mapping[str, Secret]
    provider_keys_external: tuple[str, ...]
    kms_key_arn: str
    shared_arns: Mapping[str, str] = field(default_factory=dict)
    """plano:sharedProviderKeySecretArns: env name -> another stack's secret (no secrets of its own)."""

    @property
    def provider_key_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.provider_keys)) + tuple(sorted(self.provider_keys_external))


@dataclass(frozen=True)
class LocalSettings:
    """The local profile's own knobs (Docker on a workstation)."""

    keep_data_volume: bool
    db_port: int


@dataclass(frozen=True)
class MonitoringSettings:
    """Alarms, their destination, the collector sidecar and tracing (core/monitoring.py, core/collector.py)."""

    alarms: bool = False
    alarm_emails: tuple[str, ...] = ()
    alarm_topic_arn: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    collector: bool = False
    collector_image: str = ""
    tracing: bool = False


@dataclass(frozen=True)
class Settings:
    """Everything the components need, validated. Built only by ``load_settings``."""

    project: str
    stack: str
    region: str
    profile: Profile
    policy: ProfilePolicy
    names: Names
    network: NetworkSettings
    database: DatabaseSettings
    ingress: IngressSettings
    service: ServiceSettings
    secrets: SecretSettings
    plano: RenderedPlanoConfig
    config_file: Path
    warnings: tuple[str, ...] = ()
    local: LocalSettings = LocalSettings(keep_data_volume=True, db_port=15432)
    schedule: ScheduleSettings | None = None
    """When the tasks run (None: always); dev and review stacks only."""
    usage: UsageProfile = field(default_factory=lambda: UsageProfile())
    monitoring: MonitoringSettings = field(default_factory=lambda: MonitoringSettings())
    """Alarms, dashboard, collector sidecar, tracing (plano:alarms, plano:metricsCollector, ...)."""
    secret_strings: tuple[str, ...] = field(default=(), repr=False)
    """Every piece of the values of keys set with --secret (settings/masking.py): kept secret in
    messages, and in resource inputs (transforms.py)."""
    """The usage the cost model prices (not a resource setting)."""


@dataclass(frozen=True)
class ScheduleSettings:
    """Tasks run from ``start`` to ``stop`` (HH:MM) on ``days`` in ``timezone``, at zero otherwise."""

    start: str
    stop: str
    days: tuple[str, ...]
    timezone: str

    @property
    def hours_per_active_day(self) -> float:
        return _minutes(self.stop) / 60 - _minutes(self.start) / 60


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class UsageProfile:
    """What the cost model assumes about use: hours with requests per active day, days per week, rate."""

    active_hours_per_day: int = 2
    active_days_per_week: int = 5
    requests_per_hour: int = 100
