"""Validation of the database keys (``plano:db*``, ``plano:stateRetentionDays``)."""

from __future__ import annotations

import re

from components.core.errors import ConfigError
from components.core.settings.keys import TlsMode
from components.core.settings.limits import RESERVED_DB_USERS, SUPPORTED_PG_MAJORS
from components.core.settings.model import DatabaseSettings
from components.core.settings.reader import _Reader


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
