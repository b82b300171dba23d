"""The one way in for configuration: ``plano:*`` stack config to typed, validated, frozen settings.

``KEYS`` declares every key once: its type, description and default. ``Pulumi.yaml`` declares the
same keys (a test keeps them equal), so ``pulumi up`` and the mocked tests see the same defaults.
Defaults that differ between the ``dev`` and ``prod`` profiles are declared as ``""`` or ``0``
("use the profile's value") and resolved here from ``PROFILES``.

``load_settings`` is pure: it takes the raw config strings and returns ``Settings`` or raises a
``ConfigError`` naming the key, the value, what is allowed and the fix, before any resource exists.
Nothing else in the program reads ``pulumi.Config``.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .naming import Names, check_stack_name
from .plano_config import (
    DB_PASSWORD_VAR,
    RenderedPlanoConfig,
    check_placeholders_provided,
    load_plano_config,
    render_plano_config,
)

NAMESPACE = "plano"


class Profile(StrEnum):
    DEV = "dev"
    PROD = "prod"


class Ingress(StrEnum):
    ALB = "alb"
    NONE = "none"


class TlsMode(StrEnum):
    REQUIRE = "require"
    VERIFY_FULL = "verify-full"


class NatGateways(StrEnum):
    NONE = "none"
    SINGLE = "single"
    PER_AZ = "per-az"


class Capacity(StrEnum):
    FARGATE = "fargate"
    FARGATE_SPOT = "fargate-spot"


class Architecture(StrEnum):
    ARM64 = "ARM64"
    X86_64 = "X86_64"


@dataclass(frozen=True)
class Key:
    """One ``plano:`` config key as ``Pulumi.yaml`` declares it."""

    name: str
    type: str  # string | integer | boolean | array | object (Pulumi's config types)
    description: str
    default: Any
    # Set when `default` is the "use the profile's value" sentinel ("" or 0).
    per_profile: bool = False
    # What a valid value looks like (shown in the README's config reference).
    rule: str = ""

    @property
    def full_name(self) -> str:
        return f"{NAMESPACE}:{self.name}"


# Profile values for keys declared with the per-profile sentinel, plus fixed safety settings.
PROFILES: dict[Profile, dict[str, Any]] = {
    Profile.DEV: {
        "dbInstanceClass": "db.t4g.micro",
        "dbAllocatedStorageGb": 20,
        "dbMaxAllocatedStorageGb": 50,
        "dbBackupRetentionDays": 1,
        "ingress": "none",
        "natGateways": "none",
        "cpu": 512,
        "memory": 1024,
        "desiredCount": 1,
        "maxCount": 1,
        "capacity": "fargate-spot",
        "logRetentionDays": 7,
    },
    Profile.PROD: {
        "dbInstanceClass": "db.m7g.large",
        "dbAllocatedStorageGb": 100,
        "dbMaxAllocatedStorageGb": 1000,
        "dbBackupRetentionDays": 14,
        "ingress": "alb",
        "natGateways": "per-az",
        "cpu": 1024,
        "memory": 2048,
        "desiredCount": 2,
        "maxCount": 6,
        "capacity": "fargate",
        "logRetentionDays": 90,
    },
}

_P = "Empty/0 = the profile's value."
KEYS: tuple[Key, ...] = (
    Key(
        "profile",
        "string",
        "Stack profile: dev (cheap, disposable) or prod (safe by default).",
        "dev",
        rule="dev or prod",
    ),
    Key(
        "configFile",
        "string",
        "Your Plano config, relative to Pulumi.yaml.",
        "plano_config.yaml",
        rule="must exist; see the Plano config rules below",
    ),
    Key(
        "image",
        "string",
        "Plano container image.",
        "katanemo/plano:0.4.36",
        rule="image reference; prod warns unless pinned by @sha256 digest",
    ),
    Key(
        "pgbouncerImage",
        "string",
        "PgBouncer sidecar image (speaks TLS to RDS).",
        "ghcr.io/cloudnative-pg/pgbouncer:1.24.1",
        rule="PgBouncer 1.21 or newer; prod warns unless pinned",
    ),
    Key(
        "initImage",
        "string",
        "Image of the init step.",
        "postgres:17-alpine",
        rule="needs sh, psql and an HTTPS-verifying wget; prod warns unless pinned",
    ),
    Key("dbInstanceClass", "string", f"RDS instance class. {_P}", "", per_profile=True, rule="db.<family>.<size>"),
    Key(
        "dbEngineVersion",
        "string",
        "PostgreSQL version: a major (17) or major.minor (17.6).",
        "17",
        rule="major 14-18 (the parameter group family follows it)",
    ),
    Key(
        "dbName",
        "string",
        "Database name.",
        "plano",
        rule="lower-case letters, digits, _; starts with a letter; not postgres",
    ),
    Key(
        "dbUser",
        "string",
        "Database master user name.",
        "plano",
        rule="lower-case letters, digits, _; not a reserved name (postgres, admin, rdsadmin, ...)",
    ),
    Key("dbAllocatedStorageGb", "integer", f"Initial gp3 storage in GB. {_P}", 0, per_profile=True, rule="20-65536"),
    Key(
        "dbMaxAllocatedStorageGb",
        "integer",
        f"Storage autoscaling ceiling in GB. {_P}",
        0,
        per_profile=True,
        rule="at least 10% above dbAllocatedStorageGb",
    ),
    Key(
        "dbBackupRetentionDays",
        "integer",
        f"Automated backup retention in days. {_P}",
        0,
        per_profile=True,
        rule="1-35",
    ),
    Key(
        "dbTlsMode",
        "string",
        "How the sidecar and the init step check RDS's certificate.",
        "verify-full",
        rule="require or verify-full (never plain text)",
    ),
    Key(
        "kmsKeyArn",
        "string",
        "Customer managed KMS key for RDS and secrets; empty = AWS managed keys.",
        "",
        rule="a KMS key ARN; grants kms:Decrypt to the task's execution role",
    ),
    Key(
        "ingress",
        "string",
        f"alb (load balancer) or none (SSM port forwarding only). {_P}",
        "",
        per_profile=True,
        rule="alb or none",
    ),
    Key(
        "allowedCidrs",
        "array",
        "Client networks allowed to reach the load balancer.",
        [],
        rule="valid CIDRs; required with alb; 0.0.0.0/0 and ::/0 only with allowPublicIngress",
    ),
    Key(
        "allowPublicIngress",
        "boolean",
        "Consent to an endpoint open to the whole internet.",
        False,
        rule="true or false",
    ),
    Key(
        "certificateArn",
        "string",
        "ACM certificate: HTTPS on the load balancer, HTTP redirects.",
        "",
        rule="an ACM certificate ARN; required by prod with alb unless allowPlainHttp",
    ),
    Key("allowPlainHttp", "boolean", "Allow a prod load balancer without HTTPS.", False, rule="true or false"),
    Key(
        "albInternal",
        "boolean",
        "Internal load balancer (reachable only from the VPC and peers).",
        False,
        rule="true or false",
    ),
    Key("vpcId", "string", "Existing VPC to use; empty = create one.", "", rule="vpc-<hex>"),
    Key(
        "publicSubnetIds",
        "array",
        "Public subnets of the existing VPC (load balancer).",
        [],
        rule="two or more subnet-<hex>, only with vpcId",
    ),
    Key(
        "privateSubnetIds",
        "array",
        "Private subnets of the existing VPC (database, tasks; need NAT).",
        [],
        rule="two or more subnet-<hex>, only with vpcId",
    ),
    Key("vpcCidr", "string", "CIDR of the VPC this stack creates.", "10.40.0.0/16", rule="private IPv4, /16 to /22"),
    Key(
        "natGateways",
        "string",
        f"NAT gateways of a new VPC. {_P}",
        "",
        per_profile=True,
        rule="none (tasks get a public IP, no inbound), single or per-az",
    ),
    Key(
        "cpu",
        "integer",
        f"Fargate task CPU units (1024 = 1 vCPU). {_P}",
        0,
        per_profile=True,
        rule="256, 512, 1024, 2048, 4096, 8192 or 16384",
    ),
    Key(
        "memory",
        "integer",
        f"Fargate task memory in MiB. {_P}",
        0,
        per_profile=True,
        rule="a Fargate size valid for cpu",
    ),
    Key("cpuArchitecture", "string", "CPU architecture of the tasks.", "ARM64", rule="ARM64 or X86_64"),
    Key("capacity", "string", f"Fargate capacity. {_P}", "", per_profile=True, rule="fargate or fargate-spot"),
    Key(
        "desiredCount",
        "integer",
        f"Tasks to run (the autoscaling minimum in prod). {_P}",
        0,
        per_profile=True,
        rule="1-100; prod at least 2",
    ),
    Key("maxCount", "integer", f"Autoscaling maximum (prod). {_P}", 0, per_profile=True, rule="desiredCount to 100"),
    Key(
        "logRetentionDays",
        "integer",
        f"CloudWatch Logs retention in days. {_P}",
        0,
        per_profile=True,
        rule="a value CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, 90, ...",
    ),
    Key(
        "providerKeys",
        "object",
        "Model-provider keys kept in Pulumi (encrypted): env name -> value.",
        {},
        rule="set with --secret --path; each name once across providerKeys and providerKeysExternal",
    ),
    Key(
        "providerKeysExternal",
        "array",
        "Provider-key env names whose values you put into Secrets Manager.",
        [],
        rule="env names ([A-Za-z_][A-Za-z0-9_]*), no duplicates",
    ),
    Key(
        "environment",
        "object",
        "Plain environment variables for Plano: name -> value.",
        {},
        rule="no secret-looking names (PASS, SECRET, TOKEN, KEY); no DB_PASS; LOG_LEVEL not debug/trace",
    ),
    Key(
        "stateRetentionDays",
        "integer",
        "Delete conversation state idle this long; 0 = keep forever.",
        30,
        rule="0-3650",
    ),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}


# Values the safety of each profile rests on; not configurable on purpose.
@dataclass(frozen=True)
class ProfilePolicy:
    multi_az: bool
    deletion_protection: bool
    skip_final_snapshot: bool
    performance_insights: bool
    log_exports: tuple[str, ...]
    apply_immediately: bool
    protect: bool
    secret_recovery_window_days: int
    autoscaling: bool
    min_tasks: int


POLICIES = {
    Profile.DEV: ProfilePolicy(
        multi_az=False,
        deletion_protection=False,
        skip_final_snapshot=True,
        performance_insights=False,
        log_exports=(),
        apply_immediately=True,
        protect=False,
        secret_recovery_window_days=0,
        autoscaling=False,
        min_tasks=1,
    ),
    Profile.PROD: ProfilePolicy(
        multi_az=True,
        deletion_protection=True,
        skip_final_snapshot=False,
        performance_insights=True,
        log_exports=("postgresql", "upgrade"),
        apply_immediately=False,
        protect=True,
        secret_recovery_window_days=30,
        autoscaling=True,
        min_tasks=2,
    ),
}

SUPPORTED_PG_MAJORS = (14, 15, 16, 17, 18)
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Fargate's valid CPU units -> memory (MiB) choices.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
# RDS reserves these as master user names (and they are SQL keywords or system roles).
RESERVED_DB_USERS = frozenset(
    {"postgres", "rdsadmin", "rdsrepladmin", "rds_superuser", "admin", "user", "public", "select", "table"}
)
# Client networks this wide need plano:allowPublicIngress: 0.0.0.0/1 and 128.0.0.0/1 are the
# whole internet in two rules. The policy pack uses the same bounds (a test keeps them equal).
OPEN_PREFIX_BELOW = {4: 8, 6: 16}


def is_internet_wide(cidr: str) -> bool:
    network = ipaddress.ip_network(cidr, strict=False)
    return network.prefixlen < OPEN_PREFIX_BELOW[network.version]


# Example values in the committed stack files (RFC 5737 / RFC 3849 networks, AWS's example account).
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
EXAMPLE_ACCOUNT = "123456789012"
SECRET_LOOKING = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Env vars the task sets itself; users may not override them through plano:environment.
TASK_ENV = frozenset({"PLANO_CONFIG_FILE", DB_PASSWORD_VAR})
# Log levels at which Plano prints the substituted connection string (DESIGN.md 2.6).
LEAKY_LOG_LEVELS = ("debug", "trace")


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


@dataclass(frozen=True)
class SecretSettings:
    provider_keys: Mapping[str, Secret]
    provider_keys_external: tuple[str, ...]
    kms_key_arn: str

    @property
    def provider_key_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.provider_keys)) + tuple(sorted(self.provider_keys_external))


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


# --------------------------------------------------------------------------------------------
# Reading raw values


class _Reader:
    """Typed access to raw config strings, with errors in the one format."""

    def __init__(self, raw: RawConfig, profile: Profile | None) -> None:
        self.raw = raw
        self.profile = profile

    def _raw(self, name: str) -> str | None:
        return self.raw.values.get(f"{NAMESPACE}:{name}")

    def _default(self, name: str) -> Any:
        key = KEYS_BY_NAME[name]
        if key.per_profile and self.profile is not None:
            return PROFILES[self.profile][name]
        return key.default

    def _is_unset(self, name: str, value: Any) -> bool:
        key = KEYS_BY_NAME[name]
        return key.per_profile and value == key.default

    def string(self, name: str) -> str:
        raw = self._raw(name)
        if raw is None or self._is_unset(name, raw):
            return str(self._default(name))
        return raw.strip()

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self._raw(name)
        if raw is None:
            return int(self._default(name))
        text = raw.strip()
        if text == "" and KEYS_BY_NAME[name].per_profile:
            return int(self._default(name))  # "" also means "the profile's value"
        if not re.fullmatch(r"-?\d+", text):
            raise ConfigError(
                f"plano:{name}",
                "is not a whole number",
                value=raw,
                allowed=_range_text(minimum, maximum),
                fix=f"pulumi config set plano:{name} <number>",
            )
        value = int(text)
        if self._is_unset(name, value):
            return int(self._default(name))
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ConfigError(
                f"plano:{name}",
                "is out of range",
                value=value,
                allowed=_range_text(minimum, maximum),
                fix=f"pulumi config set plano:{name} <number in range>",
            )
        return value

    def boolean(self, name: str) -> bool:
        raw = self._raw(name)
        if raw is None:
            return bool(self._default(name))
        text = raw.strip().lower()
        if text not in ("true", "false"):
            raise ConfigError(
                f"plano:{name}",
                "is not a boolean",
                value=raw,
                allowed="true, false",
                fix=f"pulumi config set plano:{name} true   (or false)",
            )
        return text == "true"

    def choice(self, name: str, enum: type[Enum]) -> Any:
        value = self.string(name)
        allowed = [member.value for member in enum]  # type: ignore[var-annotated]
        for member in enum:
            if member.value == value or str(member.value).lower() == value.lower():
                return member
        raise ConfigError(
            f"plano:{name}",
            "is not one of the allowed values",
            value=value,
            allowed=", ".join(allowed),
            fix=f"pulumi config set plano:{name} {allowed[0]}",
        )

    def _json(self, name: str, expected: type, example: str) -> Any:
        raw = self._raw(name)
        if raw is None:
            return self._default(name)
        secret = f"{NAMESPACE}:{name}" in self.raw.secret_keys
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a plain string where a list or map belongs
        if not isinstance(value, expected):
            kind = "a list" if expected is list else "a map"
            raise ConfigError(
                f"plano:{name}",
                f"must be {kind}",
                value=value,
                secret=secret,
                fix=example,
            )
        return value

    def string_list(self, name: str, example: str) -> tuple[str, ...]:
        items = self._json(name, list, example)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(
                    f"plano:{name}[{i}]",
                    "must be a non-empty string",
                    value=item,
                    fix=example,
                )
        return tuple(item.strip() for item in items)

    def string_map(self, name: str, example: str) -> dict[str, Any]:
        return dict(self._json(name, dict, example))


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{minimum} to {maximum}"
    if minimum is not None:
        return f"{minimum} or more"
    return "a whole number"


# --------------------------------------------------------------------------------------------
# Validation


def load_settings(raw: RawConfig, *, project: str, stack: str, base_dir: Path, region: str | None) -> Settings:
    """Validate all config and the user's Plano config; return frozen settings or raise ConfigError."""
    check_stack_name(stack)
    _check_unknown_keys(raw)
    profile = _Reader(raw, None).choice("profile", Profile)
    read = _Reader(raw, profile)
    policy = POLICIES[profile]
    warnings: list[str] = []

    region = _region(region)
    database = _database(read)
    network = _network(read)
    ingress = _ingress(read, profile, warnings)
    service = _service(read, profile, policy, warnings)
    secrets = _secrets(read, raw, service)

    config_file = (base_dir / read.string("configFile")).resolve()
    document = load_plano_config(config_file)
    source = read.string("configFile")
    plano = render_plano_config(document, source=source, db_user=database.user, db_name=database.name)
    provided = {DB_PASSWORD_VAR: "the database password secret"}
    provided.update({name: "plano:environment" for name in service.environment})
    provided.update({name: "plano:providerKeys" for name in secrets.provider_keys})
    provided.update({name: "plano:providerKeysExternal" for name in secrets.provider_keys_external})
    check_placeholders_provided(plano, source=source, provided=provided)

    if plano.replaced_memory_state:
        warnings.append(
            f"{source}: state_storage type memory is replaced by postgres behind the TLS sidecar, "
            "so conversation state survives restarts and is shared by all tasks"
        )
    if ingress.mode is Ingress.ALB:
        for listener in plano.listeners:
            if listener.type == "agent" and listener.timeout_s is None:
                warnings.append(
                    f"{source}: agent listener `{listener.name}` has no timeout; Plano defaults agent "
                    "routes to 30s, which cuts long streams. Set e.g. `timeout: 300s`"
                )
    if stack.lower().startswith("prod") and profile is not Profile.PROD:
        warnings.append(f"stack `{stack}` uses the {profile.value} profile: no deletion protection, no final snapshot")

    return Settings(
        project=project,
        stack=stack,
        region=region,
        profile=profile,
        policy=policy,
        names=Names(project, stack),
        network=network,
        database=database,
        ingress=ingress,
        service=service,
        secrets=secrets,
        plano=plano,
        config_file=config_file,
        warnings=tuple(warnings),
    )


def _check_unknown_keys(raw: RawConfig) -> None:
    known = {key.name for key in KEYS}
    for full in sorted(raw.values):
        namespace, _, name = full.partition(":")
        if namespace != NAMESPACE or name in known:
            continue
        guess = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        fix = f"`pulumi config rm {full}`; the README lists every key"
        if guess:
            fix = f"did you mean plano:{guess[0]}? Move the value there and run {fix}"
        raise ConfigError(full, "is not a setting of this project", fix=fix)


def _region(region: str | None) -> str:
    if not region:
        raise ConfigError(
            "aws:region",
            "is not set",
            fix="pulumi config set aws:region us-east-1   (or your region)",
        )
    if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", region):
        raise ConfigError(
            "aws:region",
            "is not an AWS region name",
            value=region,
            allowed="a region such as us-east-1, eu-west-1",
            fix="pulumi config set aws:region us-east-1",
        )
    return region


def _database(read: _Reader) -> DatabaseSettings:
    instance_class = read.string("dbInstanceClass")
    if not re.fullmatch(r"db\.[a-z][a-z0-9-]*\.[a-z0-9]+", instance_class):
        raise ConfigError(
            "plano:dbInstanceClass",
            "is not an RDS instance class",
            value=instance_class,
            allowed="db.<family>.<size>, e.g. db.t4g.micro, db.m7g.large",
            fix="pulumi config set plano:dbInstanceClass db.t4g.micro",
        )
    version = read.string("dbEngineVersion")
    match = re.fullmatch(r"(\d+)(?:\.(\d+))?", version)
    if not match or int(match.group(1)) not in SUPPORTED_PG_MAJORS:
        raise ConfigError(
            "plano:dbEngineVersion",
            "has no RDS PostgreSQL parameter group family this project supports",
            value=version,
            allowed=f"a major version ({', '.join(map(str, SUPPORTED_PG_MAJORS))}) or major.minor such as 17.6",
            fix="pulumi config set plano:dbEngineVersion 17",
        )
    major = int(match.group(1))

    name = read.string("dbName")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name) or name in ("postgres", "template0", "template1", "rdsadmin"):
        raise ConfigError(
            "plano:dbName",
            "is not a usable database name",
            value=name,
            allowed="1-63 lower-case letters, digits or _, starting with a letter; not postgres, template0/1, rdsadmin",
            fix="pulumi config set plano:dbName plano",
        )
    user = read.string("dbUser")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", user) or user in RESERVED_DB_USERS:
        raise ConfigError(
            "plano:dbUser",
            "is not a usable RDS master user name",
            value=user,
            allowed="1-63 lower-case letters, digits or _, starting with a letter; not "
            + ", ".join(sorted(RESERVED_DB_USERS)),
            fix="pulumi config set plano:dbUser plano",
        )
    allocated = read.integer("dbAllocatedStorageGb", minimum=20, maximum=65536)
    maximum = read.integer("dbMaxAllocatedStorageGb", minimum=22, maximum=65536)
    if maximum < allocated * 1.1:
        raise ConfigError(
            "plano:dbMaxAllocatedStorageGb",
            f"must be at least 10% above plano:dbAllocatedStorageGb ({allocated}) for storage autoscaling",
            value=maximum,
            allowed=f"{-(-allocated * 11 // 10)} to 65536",
            fix=f"pulumi config set plano:dbMaxAllocatedStorageGb {max(allocated * 2, 50)}",
        )
    return DatabaseSettings(
        instance_class=instance_class,
        engine_version=version,
        major_version=major,
        parameter_group_family=f"postgres{major}",
        name=name,
        user=user,
        allocated_storage_gb=allocated,
        max_allocated_storage_gb=maximum,
        backup_retention_days=read.integer("dbBackupRetentionDays", minimum=1, maximum=35),
        tls_mode=read.choice("dbTlsMode", TlsMode),
        state_retention_days=read.integer("stateRetentionDays", minimum=0, maximum=3650),
    )


def _network(read: _Reader) -> NetworkSettings:
    vpc_id = read.string("vpcId")
    example = "pulumi config set --path 'plano:{key}[0]' subnet-0123456789abcdef0"
    public = read.string_list("publicSubnetIds", example.format(key="publicSubnetIds"))
    private = read.string_list("privateSubnetIds", example.format(key="privateSubnetIds"))
    cidr = read.string("vpcCidr")
    nat = read.choice("natGateways", NatGateways)
    if vpc_id:
        if not re.fullmatch(r"vpc-[0-9a-f]{8,17}", vpc_id):
            raise ConfigError(
                "plano:vpcId",
                "is not a VPC id",
                value=vpc_id,
                allowed="vpc- followed by 8 or 17 hex digits",
                fix="pulumi config set plano:vpcId vpc-0123456789abcdef0, or remove it to create a VPC",
            )
        for key, subnets in (("privateSubnetIds", private), ("publicSubnetIds", public)):
            if len(subnets) < 2:
                raise ConfigError(
                    f"plano:{key}",
                    "needs at least two subnets in different availability zones when plano:vpcId is set "
                    "(RDS subnet groups and load balancers span two zones)",
                    value=list(subnets),
                    fix=example.format(key=key) + "  (and [1])",
                )
            for subnet in subnets:
                if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", subnet):
                    raise ConfigError(
                        f"plano:{key}",
                        "holds something that is not a subnet id",
                        value=subnet,
                        allowed="subnet- followed by 8 or 17 hex digits",
                        fix=example.format(key=key),
                    )
    elif public or private:
        raise ConfigError(
            "plano:publicSubnetIds" if public else "plano:privateSubnetIds",
            "is set but plano:vpcId is not; subnets only apply to an existing VPC",
            fix="set plano:vpcId to their VPC, or remove the subnet lists to let the stack create a VPC",
        )
    else:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            network = None
        if network is None or network.version != 4 or not 16 <= network.prefixlen <= 22 or not network.is_private:
            raise ConfigError(
                "plano:vpcCidr",
                "is not a private IPv4 block between /16 and /22",
                value=cidr,
                allowed="e.g. 10.40.0.0/16, 172.20.0.0/20",
                fix="pulumi config set plano:vpcCidr 10.40.0.0/16",
            )
    return NetworkSettings(
        create_vpc=not vpc_id,
        vpc_id=vpc_id,
        public_subnet_ids=public,
        private_subnet_ids=private,
        vpc_cidr=cidr,
        nat_gateways=nat,
    )


def _ingress(read: _Reader, profile: Profile, warnings: list[str]) -> IngressSettings:
    mode = read.choice("ingress", Ingress)
    example = "pulumi config set --path 'plano:allowedCidrs[0]' 203.0.113.0/24"
    cidrs = read.string_list("allowedCidrs", example)
    allow_public = read.boolean("allowPublicIngress")
    certificate = read.string("certificateArn")
    internal = read.boolean("albInternal")
    seen_networks: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            raise ConfigError(
                "plano:allowedCidrs",
                f"holds an invalid CIDR ({exc})",
                value=cidr,
                allowed="IPv4 or IPv6 networks such as 203.0.113.0/24 or 2001:db8::/48, host bits zero",
                fix=example,
            ) from None
        if network in seen_networks:
            raise ConfigError(
                "plano:allowedCidrs",
                f"lists the same network twice (as {seen_networks[network]} and {cidr})",
                value=cidr,
                fix="remove the duplicate with pulumi config rm --path 'plano:allowedCidrs[N]'",
            )
        seen_networks[network] = cidr
        if is_internet_wide(cidr) and not allow_public:
            raise ConfigError(
                "plano:allowedCidrs",
                "opens the endpoint to the whole internet or most of it; Plano has no client "
                "authentication, so anyone could spend your model-provider keys",
                value=cidr,
                allowed="the networks of your clients",
                fix=f"{example}; only if you really mean it: pulumi config set plano:allowPublicIngress true",
            )
    if certificate and not re.fullmatch(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}", certificate):
        raise ConfigError(
            "plano:certificateArn",
            "is not an ACM certificate ARN",
            value=certificate,
            allowed="arn:aws:acm:<region>:<account>:certificate/<uuid>",
            fix="pulumi config set plano:certificateArn arn:aws:acm:us-east-1:123456789012:certificate/<id>",
        )
    examples = [c for c in cidrs if any(ipaddress.ip_network(c).overlaps(net) for net in DOCUMENTATION_NETWORKS)]
    if examples:
        warnings.append(
            f"plano:allowedCidrs holds documentation example networks ({', '.join(examples)}): "
            "replace them with your clients' networks before deploying"
        )
    if f":{EXAMPLE_ACCOUNT}:" in certificate:
        warnings.append("plano:certificateArn is the documentation example: set your ACM certificate before deploying")
    if mode is Ingress.ALB:
        if not cidrs:
            raise ConfigError(
                "plano:allowedCidrs",
                "is empty, so nobody could reach the load balancer",
                value=[],
                fix=example + ", or pulumi config set plano:ingress none",
            )
        if not certificate:
            if profile is Profile.PROD and not read.boolean("allowPlainHttp"):
                raise ConfigError(
                    "plano:certificateArn",
                    "is empty, so prompts and answers would cross the network in plain HTTP",
                    fix="pulumi config set plano:certificateArn <ACM certificate ARN>; or accept plain HTTP "
                    "with pulumi config set plano:allowPlainHttp true",
                )
            warnings.append("the load balancer serves plain HTTP; set plano:certificateArn for HTTPS")
    elif cidrs or certificate:
        warnings.append("plano:ingress is none: plano:allowedCidrs and plano:certificateArn are ignored")
    return IngressSettings(mode=mode, allowed_cidrs=cidrs, certificate_arn=certificate, internal=internal)


def _service(read: _Reader, profile: Profile, policy: ProfilePolicy, warnings: list[str]) -> ServiceSettings:
    images = {name: read.string(name) for name in ("image", "pgbouncerImage", "initImage")}
    for name, image in images.items():
        if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?", image) or image.endswith(":"):
            raise ConfigError(
                f"plano:{name}",
                "is not an image reference",
                value=image,
                allowed="registry/repository:tag or registry/repository@sha256:<64 hex digits>",
                fix=f"pulumi config set plano:{name} {KEYS_BY_NAME[name].default}",
            )
        if profile is Profile.PROD and "@sha256:" not in image:
            warnings.append(
                f"plano:{name} ({image}) is not pinned by digest; prod should run exactly the image "
                "you tested: use <image>@sha256:<digest>"
            )
    _check_pgbouncer_version(images["pgbouncerImage"])
    cpu = read.integer("cpu", minimum=256)
    memory = read.integer("memory", minimum=512)
    if cpu not in FARGATE_SIZES:
        raise ConfigError(
            "plano:cpu",
            "is not a Fargate CPU size",
            value=cpu,
            allowed=", ".join(map(str, FARGATE_SIZES)),
            fix="pulumi config set plano:cpu 512",
        )
    if memory not in FARGATE_SIZES[cpu]:
        choices = FARGATE_SIZES[cpu]
        raise ConfigError(
            "plano:memory",
            f"does not fit plano:cpu {cpu} on Fargate",
            value=memory,
            allowed=f"{choices[0]} to {choices[-1]} MiB in steps of {choices[1] - choices[0]}",
            fix=f"pulumi config set plano:memory {choices[0] if choices[0] >= 1024 else choices[1]}",
        )
    desired = read.integer("desiredCount", minimum=1, maximum=100)
    maximum = read.integer("maxCount", minimum=1, maximum=100)
    if desired < policy.min_tasks:
        raise ConfigError(
            "plano:desiredCount",
            f"is below the {profile.value} profile's minimum of {policy.min_tasks} tasks (one per zone, so "
            "a zone outage or a deployment never takes the service down)",
            value=desired,
            allowed=f"{policy.min_tasks} to 100",
            fix=f"pulumi config set plano:desiredCount {policy.min_tasks}",
        )
    if maximum < desired:
        raise ConfigError(
            "plano:maxCount",
            f"is below plano:desiredCount ({desired})",
            value=maximum,
            allowed=f"{desired} to 100",
            fix=f"pulumi config set plano:maxCount {max(desired, PROFILES[profile]['maxCount'])}",
        )
    retention = read.integer("logRetentionDays", minimum=1)
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(
            "plano:logRetentionDays",
            "is not a retention CloudWatch Logs accepts",
            value=retention,
            allowed=", ".join(map(str, LOG_RETENTION_DAYS)),
            fix="pulumi config set plano:logRetentionDays 30",
        )
    environment = _environment(read)
    return ServiceSettings(
        image=images["image"],
        pgbouncer_image=images["pgbouncerImage"],
        init_image=images["initImage"],
        cpu=cpu,
        memory=memory,
        architecture=read.choice("cpuArchitecture", Architecture),
        capacity=read.choice("capacity", Capacity),
        desired_count=desired,
        max_count=maximum,
        log_retention_days=retention,
        environment=environment,
    )


MIN_PGBOUNCER = (1, 21)


def _check_pgbouncer_version(image: str) -> None:
    """Refuse a PgBouncer tag older than 1.21: it cannot keep prepared statements in transaction
    pooling, which Plano's single, never-reconnecting connection relies on. Tags that do not read
    as a version (a digest only, `latest`) are left to the image's owner."""
    match = re.search(r":(\d+)\.(\d+)(?:[.\-][^@]*)?(?:@|$)", image)
    if match and (int(match.group(1)), int(match.group(2))) < MIN_PGBOUNCER:
        raise ConfigError(
            "plano:pgbouncerImage",
            "is older than PgBouncer 1.21, which cannot carry Plano's prepared statements in transaction pooling",
            value=image,
            allowed="PgBouncer 1.21 or newer",
            fix=f"pulumi config set plano:pgbouncerImage {KEYS_BY_NAME['pgbouncerImage'].default}",
        )


def _environment(read: _Reader) -> dict[str, str]:
    example = "pulumi config set --path 'plano:environment.NAME' value"
    if f"{NAMESPACE}:environment" in read.raw.secret_keys:
        raise ConfigError(
            "plano:environment",
            "holds a secret value, but it reaches the container as plain text in the task definition",
            fix="move secret values to plano:providerKeys (pulumi config set --secret --path "
            "'plano:providerKeys.NAME' <value>); keep plano:environment for plain values",
        )
    env = read.string_map("environment", example)
    result: dict[str, str] = {}
    for name, value in env.items():
        where = f"plano:environment.{name}"
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(
                where,
                "is not an environment variable name",
                value=name,
                allowed="letters, digits and _, not starting with a digit",
                fix=example,
            )
        if name in TASK_ENV:
            raise ConfigError(
                where, "is set by the stack itself and cannot be overridden", fix=f"pulumi config rm --path '{where}'"
            )
        if SECRET_LOOKING.search(name):
            raise ConfigError(
                where,
                "looks like a secret, and plano:environment is stored and shown in plain text",
                fix=f"move it to plano:providerKeys: pulumi config rm --path '{where}' && "
                f"pulumi config set --secret --path 'plano:providerKeys.{name}' <value>",
            )
        if not isinstance(value, (str, int, float, bool)) or isinstance(value, bool):
            raise ConfigError(where, "must be a string or a number", value=value, fix=example)
        text = str(value)
        if name in ("LOG_LEVEL", "RUST_LOG") and any(level in text.lower() for level in LEAKY_LOG_LEVELS):
            raise ConfigError(
                where,
                "makes Plano log its substituted connection string, database password included",
                value=text,
                allowed="info, warn, error",
                fix=f"pulumi config set --path '{where}' info",
            )
        result[name] = text
    return result


def _secrets(read: _Reader, raw: RawConfig, service: ServiceSettings) -> SecretSettings:
    keys_map = read.string_map(
        "providerKeys",
        "pulumi config set --secret --path 'plano:providerKeys.OPENAI_API_KEY' <key>",
    )
    if keys_map and f"{NAMESPACE}:providerKeys" not in raw.secret_keys:
        raise ConfigError(
            "plano:providerKeys",
            "is stored in plain text in the stack file; model-provider keys must be Pulumi secrets",
            value=sorted(keys_map),
            fix="for each key: pulumi config set --secret --path 'plano:providerKeys.<NAME>' <value>",
        )
    plain_leaves = raw.plaintext_leaves.get(f"{NAMESPACE}:providerKeys", ())
    if plain_leaves:
        raise ConfigError(
            f"plano:providerKeys.{plain_leaves[0]}",
            "is stored in plain text in the stack file; model-provider keys must be Pulumi secrets",
            fix=f"pulumi config set --secret --path 'plano:providerKeys.{plain_leaves[0]}' <value>",
        )
    external = read.string_list(
        "providerKeysExternal",
        "pulumi config set --path 'plano:providerKeysExternal[0]' OPENAI_API_KEY",
    )
    provider_keys: dict[str, Secret] = {}
    for name, value in keys_map.items():
        where = f"plano:providerKeys.{name}"
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(
                where,
                "is not an environment variable name",
                allowed="letters, digits and _, not starting with a digit",
                fix="use the name your plano_config.yaml references, e.g. OPENAI_API_KEY",
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(
                where,
                "must be a non-empty string",
                value=value,
                secret=True,
                fix=f"pulumi config set --secret --path '{where}' <key>",
            )
        provider_keys[name] = Secret(value)
    seen: set[str] = set()
    for name in external:
        where = "plano:providerKeysExternal"
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(
                where,
                "holds something that is not an environment variable name",
                value=name,
                allowed="letters, digits and _, not starting with a digit",
                fix="list the names your plano_config.yaml references, e.g. OPENAI_API_KEY",
            )
        if name in seen:
            raise ConfigError(where, "lists the same name twice", value=name, fix="remove the duplicate")
        seen.add(name)
    for name in sorted(set(provider_keys) | seen):
        if name in provider_keys and name in seen:
            raise ConfigError(
                f"plano:providerKeys.{name}",
                "is also listed in plano:providerKeysExternal; declare each key in exactly one way",
                fix=f"keep plano:providerKeys.{name} (value in Pulumi, encrypted) or the entry in "
                "plano:providerKeysExternal (value put into Secrets Manager by you), and remove the other",
            )
        if name in TASK_ENV:
            raise ConfigError(
                "plano:providerKeys",
                f"declares {name}, which the stack sets itself",
                fix=f"rename {name} in your plano_config.yaml and here",
            )
        if name in service.environment:
            raise ConfigError(
                f"plano:environment.{name}",
                "is also declared as a provider key; declare each variable in exactly one way",
                fix=f"pulumi config rm --path 'plano:environment.{name}'",
            )
    kms = read.string("kmsKeyArn")
    if kms and not re.fullmatch(
        r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/mrk-[0-9a-f]{32}",
        kms,
    ):
        raise ConfigError(
            "plano:kmsKeyArn",
            "is not a KMS key ARN",
            value=kms,
            allowed="arn:aws:kms:<region>:<account>:key/<key id>",
            fix="pulumi config set plano:kmsKeyArn arn:aws:kms:us-east-1:123456789012:key/<id>, or remove it",
        )
    return SecretSettings(provider_keys=provider_keys, provider_keys_external=tuple(external), kms_key_arn=kms)


# --------------------------------------------------------------------------------------------
# The Pulumi edge


def raw_config_from_pulumi(stack_file: Path | None = None) -> RawConfig:
    """Collect this program's config the way the Pulumi SDK received it.

    When the stack file is at hand, it is also read to find provider keys set without --secret
    (Pulumi marks a whole object secret when any one leaf is).
    """
    from pulumi.runtime import config as runtime_config

    values: dict[str, str] = {}
    values.update({k: str(v) for k, v in runtime_config.get_config_env().items()})
    values.update({k: str(v) for k, v in runtime_config.CONFIG.get().items()})
    secret_keys = set(runtime_config.get_config_secret_keys_env())
    secret_keys |= {k for k in values if runtime_config.is_config_secret(k)}
    return RawConfig(
        values=values, secret_keys=frozenset(secret_keys), plaintext_leaves=plaintext_secret_leaves(stack_file)
    )


def plaintext_secret_leaves(stack_file: Path | None) -> dict[str, tuple[str, ...]]:
    """Provider keys whose value sits in the stack file as plain text instead of `secure:`."""
    import yaml

    if stack_file is None or not stack_file.is_file():
        return {}
    try:
        document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return {}
    config = document.get("config") or {}
    found: dict[str, tuple[str, ...]] = {}
    for key in (f"{NAMESPACE}:providerKeys", "providerKeys"):
        value = config.get(key)
        if isinstance(value, dict):
            plain = tuple(sorted(k for k, v in value.items() if not (isinstance(v, dict) and set(v) == {"secure"})))
            if plain:
                found[f"{NAMESPACE}:providerKeys"] = plain
    return found


def config_reference_markdown() -> str:
    """The README's config reference: every key, its default (per profile) and its rule."""

    def shown(value: Any) -> str:
        if isinstance(value, (list, dict)):
            return f"`{json.dumps(value)}`"
        if isinstance(value, bool):
            return f"`{str(value).lower()}`"
        return f"`{value}`"

    lines = [
        "| key | type | default | valid values | what it does |",
        "|---|---|---|---|---|",
    ]
    for key in KEYS:
        if key.per_profile:
            default = f"dev {shown(PROFILES[Profile.DEV][key.name])}, prod {shown(PROFILES[Profile.PROD][key.name])}"
        else:
            default = shown(key.default)
        description = key.description.replace(f" {_P}", "")
        lines.append(f"| `plano:{key.name}` | {key.type} | {default} | {key.rule} | {description} |")
    return "\n".join(lines) + "\n"


def pulumi_yaml_config_block() -> dict[str, dict[str, Any]]:
    """The `config:` block Pulumi.yaml must declare (tests keep the file equal to this)."""
    block: dict[str, dict[str, Any]] = {}
    for key in KEYS:
        entry: dict[str, Any] = {"type": key.type, "description": key.description, "default": key.default}
        if key.type == "array":
            entry["items"] = {"type": "string"}
        block[key.name] = entry
    return block


def settings_from_pulumi(base_dir: Path) -> Settings:
    """Settings for the running Pulumi program (the only caller of ``pulumi.Config`` data)."""
    import os

    import pulumi

    project, stack = pulumi.get_project(), pulumi.get_stack()
    raw = raw_config_from_pulumi(base_dir / f"Pulumi.{stack}.yaml")
    region = raw.values.get("aws:region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return load_settings(raw, project=project, stack=stack, base_dir=base_dir, region=region)


def resource_tags(settings: Settings) -> dict[str, str]:
    """Tags on every resource: who owns it and which stack and profile it belongs to."""
    return {
        "app": settings.project,
        "stack": settings.stack,
        "profile": settings.profile.value,
        "managed-by": "pulumi",
    }
