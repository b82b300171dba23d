"""The validated, frozen settings the components receive, and the raw config they come from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from components.core.naming import Names
from components.core.plano_config import (
    RenderedPlanoConfig,
)
from components.core.settings.keys import Architecture, Capacity, Ingress, NatGateways, Profile, TlsMode
from components.core.settings.profiles import ProfilePolicy


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
        """With no NAT gateway, tasks reach model providers through a public IP (no inbound)."""
        return self.create_vpc and self.nat_gateways is NatGateways.NONE


def app_role_name(master_user: str) -> str:
    """Plano's role: the master user's name with ``_app`` (63 characters at most, PostgreSQL's limit)."""
    return f"{master_user[:59]}_app"


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
        return app_role_name(self.user)


@dataclass(frozen=True)
class IngressSettings:
    mode: Ingress
    allowed_cidrs: tuple[str, ...]
    certificate_arn: str
    internal: bool

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

    @property
    def provider_key_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.provider_keys)) + tuple(sorted(self.provider_keys_external))


@dataclass(frozen=True)
class LocalSettings:
    """The local profile's own knobs (Docker on a workstation)."""

    keep_data_volume: bool
    db_port: int


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
