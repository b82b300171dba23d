"""Validation of review databases: ``plano:dbReviewStacks`` (the server's side),
``plano:sharedDatabase`` and ``plano:sharedProviderKeySecretArns`` (a review stack's side)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.plano_config import connection_string
from plano_pulumi.core.review_database import (
    AURORA_CONNECTIONS_PER_ACU,
    MIN_PROVISIONER_MAJOR,
    POOL_CONNECTIONS_PER_TASK,
    RESERVED_CONNECTIONS,
    aurora_max_connections,
    connections_per_stack,
    provisioner_role_name,
    rds_max_connections,
    review_database_names,
    review_stacks_that_fit,
)
from plano_pulumi.core.settings.keys import KEYS_BY_NAME, DbEngine, Profile
from plano_pulumi.core.settings.model import DatabaseSettings, SecretSettings, ServiceSettings, SharedDatabase
from plano_pulumi.core.settings.reader import _Reader

MAX_REVIEW_STACKS = 500
SHARED_FIELDS = ("address", "port", "securityGroupId", "provisionerSecretArn")
_HOST = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+")
_SECURITY_GROUP = re.compile(r"sg-(?:[0-9a-f]{8}|[0-9a-f]{17})")


def secret_arn_pattern(region: str) -> re.Pattern[str]:
    return re.compile(rf"arn:aws[a-z-]*:secretsmanager:{re.escape(region)}:\d{{12}}:secret:[\w/+=.@-]+")


def server_max_connections(db: DatabaseSettings) -> int | None:
    """The server's default max_connections (Aurora by ACU range, RDS by class); None if unknown."""
    if db.engine is DbEngine.AURORA_SERVERLESS:
        return aurora_max_connections(db.max_capacity_acu, db.min_capacity_acu)
    return rds_max_connections(db.instance_class)


def _set_explicitly(read: _Reader, name: str) -> bool:
    raw = read.raw.values.get(f"plano:{name}")
    return raw is not None and raw.strip() not in ("", str(KEYS_BY_NAME[name].default))


def _review_stacks(read: _Reader, db: DatabaseSettings, service: ServiceSettings) -> int:
    """plano:dbReviewStacks, refused when the server's version or connections cannot carry them."""
    count = read.integer("dbReviewStacks", minimum=0, maximum=MAX_REVIEW_STACKS)
    if count == 0:
        return 0
    if read.profile is Profile.LOCAL:
        raise ConfigError(
            "plano:dbReviewStacks",
            "has no meaning for the local profile (review stacks run on AWS)",
            value=count,
            allowed="0 with the local profile",
            fix="pulumi config set plano:dbReviewStacks 0",
        )
    if db.major_version < MIN_PROVISIONER_MAJOR:
        raise ConfigError(
            "plano:dbReviewStacks",
            f"needs PostgreSQL {MIN_PROVISIONER_MAJOR} or newer (plano:dbEngineVersion is {db.engine_version}): "
            "before 16 a CREATEROLE role may alter every role, dev's own included",
            value=count,
            allowed=f"0 on PostgreSQL {db.major_version}",
            fix="pulumi config set plano:dbEngineVersion 17   (or plano:dbReviewStacks 0)",
        )
    limit = server_max_connections(db)
    if limit is None:
        return count
    fit = review_stacks_that_fit(limit, service.max_count, service.max_count)
    if not _set_explicitly(read, "dbReviewStacks"):
        return min(count, fit)  # the profile's value is a ceiling: as many as the server carries
    if count > fit:
        needed = RESERVED_CONNECTIONS + connections_per_stack(service.max_count) * (count + 1)
        if db.engine is DbEngine.AURORA_SERVERLESS:
            acu = max(db.max_capacity_acu + 1, math.ceil((needed + 22) / AURORA_CONNECTIONS_PER_ACU))
            fix = f"pulumi config set plano:dbMaxCapacityAcu {acu}   (or plano:dbReviewStacks {fit})"
            server = f"Aurora at up to {db.max_capacity_acu} ACU allows {limit}"
        else:
            fix = f"pulumi config set plano:dbReviewStacks {fit}   (or a larger plano:dbInstanceClass)"
            server = f"{db.instance_class} allows about {limit}"
        raise ConfigError(
            "plano:dbReviewStacks",
            f"needs {needed} database connections (PgBouncer's pool per task, {service.max_count} task(s) per "
            f"stack, dev included, plus reserved ones) but {server}",
            value=count,
            allowed=f"0 to {fit}",
            fix=fix,
        )
    return count


def _shared_database(
    read: _Reader, db: DatabaseSettings, service: ServiceSettings, *, stack: str, region: str
) -> SharedDatabase | None:
    """plano:sharedDatabase: all four fields, or nothing."""
    key = "plano:sharedDatabase"
    fix = "scripts/ci/review-stack.sh sets it from the dev stack's review_database output"
    values = read.string_map("sharedDatabase", fix)
    if not values:
        return None
    unknown = sorted(set(values) - set(SHARED_FIELDS))
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", "is not a field of it", allowed=", ".join(SHARED_FIELDS), fix=fix)
    missing = [name for name in SHARED_FIELDS if name != "port" and not values.get(name)]
    if missing:
        raise ConfigError(f"{key}.{missing[0]}", "is missing", allowed=", ".join(SHARED_FIELDS), fix=fix)
    if read.profile is not Profile.DEV:
        raise ConfigError(
            key,
            f"is for review stacks, which use the dev profile; the {read.profile.value if read.profile else ''} "
            "profile keeps its own database server",
            fix=f"pulumi config rm {key}",
        )
    address = str(values["address"]).strip().lower()
    if not _HOST.fullmatch(address):
        raise ConfigError(f"{key}.address", "is not a host name", value=values["address"], fix=fix)
    port_text = str(values.get("port", 5432)).strip()
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{key}.port", "is not a port", value=values.get("port"), allowed="1-65535", fix=fix)
    group = str(values["securityGroupId"]).strip()
    if not _SECURITY_GROUP.fullmatch(group):
        raise ConfigError(f"{key}.securityGroupId", "is not a security group id", value=group, fix=fix)
    arn = str(values["provisionerSecretArn"]).strip()
    if not secret_arn_pattern(region).fullmatch(arn):
        raise ConfigError(
            f"{key}.provisionerSecretArn",
            f"is not a Secrets Manager secret ARN in {region}",
            value=arn,
            allowed=f"arn:aws:secretsmanager:{region}:<account>:secret:<name>",
            fix=fix,
        )
    if db.major_version < MIN_PROVISIONER_MAJOR:
        raise ConfigError(
            "plano:dbEngineVersion",
            f"is below {MIN_PROVISIONER_MAJOR}, where a provisioning role could alter dev's own roles; "
            "review databases need PostgreSQL 16 or newer on the shared server",
            value=db.engine_version,
            fix="pulumi config set plano:dbEngineVersion 17 --stack dev (review stacks copy it)",
        )
    names = review_database_names(db.name, stack)
    return SharedDatabase(
        host=address,
        port=int(port_text),
        security_group_id=group,
        provisioner_secret_arn=arn,
        owner=names.owner,
        app_user=names.app_user,
        app_connection_limit=service.max_count * POOL_CONNECTIONS_PER_TASK,
    )


def review_database(
    read: _Reader, db: DatabaseSettings, service: ServiceSettings, *, stack: str, region: str
) -> DatabaseSettings:
    """The stack's database settings with its review side resolved (see the module docstring)."""
    shared = _shared_database(read, db, service, stack=stack, region=region)
    if shared is None:
        return dataclasses.replace(db, review_stacks=_review_stacks(read, db, service))
    names = review_database_names(db.name, stack)
    return dataclasses.replace(
        db, name=names.database, user=provisioner_role_name(db.user), shared=shared, review_stacks=0
    )


def shared_provider_keys(read: _Reader, secrets: SecretSettings, *, region: str) -> SecretSettings:
    """plano:sharedProviderKeySecretArns: one ARN for each provider key name, nothing more."""
    key = "plano:sharedProviderKeySecretArns"
    fix = "scripts/ci/review-stack.sh sets it from the dev stack's provider_key_secret_arns output"
    arns = read.string_map("sharedProviderKeySecretArns", fix)
    if not arns:
        return secrets
    wanted = set(secrets.provider_key_names)
    for name in sorted(set(arns) - wanted):
        raise ConfigError(
            f"{key}.{name}",
            "is not a provider key of this stack (plano:providerKeys or plano:providerKeysExternal)",
            fix=f"pulumi config rm --path '{key}.{name}'",
        )
    for name in sorted(wanted - set(arns)):
        raise ConfigError(f"{key}.{name}", "is missing: every provider key needs the shared secret's ARN", fix=fix)
    pattern = secret_arn_pattern(region)
    for name, arn in sorted(arns.items()):
        if not isinstance(arn, str) or not pattern.fullmatch(arn.strip()):
            raise ConfigError(f"{key}.{name}", f"is not a Secrets Manager secret ARN in {region}", value=arn, fix=fix)
    return dataclasses.replace(secrets, shared_arns={name: arn.strip() for name, arn in arns.items()})


def without_store_of(document: Mapping[str, Any], app_user: str, db_name: str) -> dict[str, Any]:
    """The Plano config without a ``state_storage`` that points at this database (dev's)."""
    store = document.get("state_storage")
    if isinstance(store, dict) and store.get("connection_string") == connection_string(
        db_user=app_user, db_name=db_name
    ):
        return {k: v for k, v in document.items() if k != "state_storage"}
    return dict(document)
