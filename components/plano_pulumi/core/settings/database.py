"""Validation of the database keys (``plano:db*``, ``plano:stateRetentionDays``)."""

from __future__ import annotations

import re

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import DbEngine, Profile, TlsMode
from plano_pulumi.core.settings.limits import (
    AURORA_AUTO_PAUSE_MIN_MINOR,
    MIN_PROD_BACKUP_DAYS,
    PINNED_ENGINE_VERSIONS,
    RESERVED_DB_NAMES,
    RESERVED_DB_USER_PREFIXES,
    RESERVED_DB_USERS,
    SQL_RESERVED_WORDS,
    SUPPORTED_PG_MAJORS,
)
from plano_pulumi.core.settings.model import MAX_DB_USER_CHARS, DatabaseSettings, app_role_name
from plano_pulumi.core.settings.reader import _Reader


def _database(read: _Reader) -> DatabaseSettings:
    backups = _backup_days(read)
    instance_class = _instance_class(read)
    name = _db_name(read)
    user = _db_user(read)
    allocated, maximum = _storage(read)
    engine = read.choice("dbEngine", DbEngine)
    version, major, minor = _engine_version(read, engine)
    max_acu = read.integer("dbMaxCapacityAcu", minimum=1, maximum=256)
    pause = _auto_pause(read)
    if engine is DbEngine.AURORA_SERVERLESS:
        _check_aurora_version(version, major, minor, pausing=pause != -1)
    confirmed = _engine_change_confirmed(read, engine)
    return DatabaseSettings(
        instance_class=instance_class,
        engine_version=version,
        major_version=major,
        parameter_group_family=f"postgres{major}",
        name=name,
        user=user,
        allocated_storage_gb=allocated,
        max_allocated_storage_gb=maximum,
        backup_retention_days=backups,
        tls_mode=read.choice("dbTlsMode", TlsMode),
        state_retention_days=read.integer("stateRetentionDays", minimum=0, maximum=3650),
        password_version=read.integer("dbPasswordVersion", minimum=1, maximum=1_000_000),
        engine=engine,
        max_capacity_acu=max_acu,
        auto_pause_s=None if pause == -1 else pause,
        engine_change_confirmed=confirmed,
    )


def _instance_class(read: _Reader) -> str:
    instance_class = read.string("dbInstanceClass")
    if not re.fullmatch(r"db\.[a-z][a-z0-9-]*\.[a-z0-9]+", instance_class, re.ASCII):
        raise ConfigError(
            "plano:dbInstanceClass",
            "is not an RDS instance class",
            value=instance_class,
            allowed="db.<family>.<size>, e.g. db.t4g.micro, db.m7g.large",
            fix="pulumi config set plano:dbInstanceClass db.t4g.micro",
        )
    return instance_class


def _db_name(read: _Reader) -> str:
    name = read.string("dbName")
    if (
        not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name, re.ASCII)
        or name in RESERVED_DB_NAMES
        or name in SQL_RESERVED_WORDS
    ):
        raise ConfigError(
            "plano:dbName",
            "is not a usable database name",
            value=name,
            allowed="1-63 lower-case letters, digits or _, starting with a letter; not "
            + ", ".join(sorted(RESERVED_DB_NAMES))
            + " or an SQL reserved word (docs/configuration.md, naming rules)",
            fix="pulumi config set plano:dbName plano",
        )
    return name


def _db_user(read: _Reader) -> str:
    user = read.string("dbUser")
    # RDS: letters, digits or _, starting with a letter; PostgreSQL reserves the `pg_` prefix. Plano's
    # role is <dbUser>_app, so dbUser leaves room for the suffix (63 characters in all) and that
    # name must be usable too.
    app = app_role_name(user)
    if (
        not re.fullmatch(rf"[a-z][a-z0-9_]{{0,{MAX_DB_USER_CHARS - 1}}}", user, re.ASCII)
        or user in RESERVED_DB_USERS
        or user in SQL_RESERVED_WORDS
        or user.startswith(RESERVED_DB_USER_PREFIXES)
        or app.startswith(RESERVED_DB_USER_PREFIXES)
        or app in RESERVED_DB_USERS
    ):
        raise ConfigError(
            "plano:dbUser",
            "is not a usable RDS master user name" + (f" (Plano's role would be {app})" if user != app else ""),
            value=user,
            allowed=f"1-{MAX_DB_USER_CHARS} lower-case letters, digits or _, starting with a letter; neither it nor "
            f"<it>_app starting with "
            + " or ".join(RESERVED_DB_USER_PREFIXES)
            + "; not "
            + ", ".join(sorted(RESERVED_DB_USERS))
            + " or an SQL reserved word",
            fix="pulumi config set plano:dbUser plano",
        )
    return user


def _storage(read: _Reader) -> tuple[int, int]:
    """Allocated and maximum storage (GB): the maximum leaves room for storage autoscaling."""
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
    return allocated, maximum


def _auto_pause(read: _Reader) -> int:
    """Aurora's idle seconds before pausing, or -1 for never."""
    pause = read.integer("dbAutoPauseSeconds", minimum=-1, maximum=86_400)
    if pause != -1 and pause < 300:
        raise ConfigError(
            "plano:dbAutoPauseSeconds",
            "is outside what Aurora accepts (300 s to one day), or -1 for never",
            value=pause,
            allowed="-1, or 300-86400",
            fix="pulumi config set plano:dbAutoPauseSeconds 300",
        )
    return pause


def _engine_change_confirmed(read: _Reader, engine: DbEngine) -> str:
    confirmed = read.string("dbEngineChangeConfirmed")
    if confirmed and confirmed not in {e.value for e in DbEngine}:
        raise ConfigError(
            "plano:dbEngineChangeConfirmed",
            "is not a database engine",
            value=confirmed,
            allowed="empty, or the plano:dbEngine being switched to: " + " or ".join(e.value for e in DbEngine),
            fix=f"pulumi config set plano:dbEngineChangeConfirmed {engine.value}",
        )
    return confirmed


def _engine_version(read: _Reader, engine: DbEngine) -> tuple[str, int, int]:
    """The full PostgreSQL version (major.minor): plano:dbEngineVersion, or the engine's pinned one."""
    version = read.string("dbEngineVersion") or PINNED_ENGINE_VERSIONS[engine.value]
    pinned = PINNED_ENGINE_VERSIONS[engine.value]
    # As RDS writes them: ASCII digits, no leading zero, no minor 0 (017, 17.0 and full-width digits
    # would pass int() but RDS refuses them at create time).
    match = re.fullmatch(r"([1-9][0-9]*)(?:\.([1-9][0-9]*))?", version, re.ASCII)
    if not match or int(match.group(1)) not in SUPPORTED_PG_MAJORS:
        raise ConfigError(
            "plano:dbEngineVersion",
            "has no RDS PostgreSQL parameter group family this project supports",
            value=version,
            allowed=f"major.minor with a major of {', '.join(map(str, SUPPORTED_PG_MAJORS))}, such as {pinned}",
            fix=f"pulumi config set plano:dbEngineVersion {pinned}   (or remove it: the pinned {pinned})",
        )
    major = int(match.group(1))
    if match.group(2) is None:
        # AWS would pick that day's default minor: stacks created apart would run different versions.
        suggestion = pinned if pinned.split(".")[0] == version else f"{version}.<minor>"
        raise ConfigError(
            "plano:dbEngineVersion",
            "is a bare major, which AWS resolves to whatever minor is its default on the day a database is created",
            value=version,
            allowed=f"a full major.minor such as {pinned}",
            fix=f"pulumi config set plano:dbEngineVersion {suggestion}   (or remove it: the pinned {pinned})",
        )
    return version, major, int(match.group(2))


def _backup_days(read: _Reader) -> int:
    """Automated backups kept; prod keeps at least a week (the policy pack's prod-backups-7-days)."""
    days = read.integer("dbBackupRetentionDays", minimum=1, maximum=35)
    if read.profile is Profile.PROD and days < MIN_PROD_BACKUP_DAYS:
        raise ConfigError(
            "plano:dbBackupRetentionDays",
            f"is below the prod profile's minimum of {MIN_PROD_BACKUP_DAYS} days of automated backups",
            value=days,
            allowed=f"{MIN_PROD_BACKUP_DAYS} to 35",
            fix=f"pulumi config set plano:dbBackupRetentionDays {max(MIN_PROD_BACKUP_DAYS, 14)}",
        )
    return days


def _check_aurora_version(version: str, major: int, minor: int, *, pausing: bool) -> None:
    """Aurora PostgreSQL majors this project supports, and the minors that can pause at 0 ACU."""
    if major not in AURORA_AUTO_PAUSE_MIN_MINOR:
        raise ConfigError(
            "plano:dbEngineVersion",
            "is not an Aurora PostgreSQL major this project supports with plano:dbEngine aurora-serverless",
            value=version,
            allowed=", ".join(map(str, AURORA_AUTO_PAUSE_MIN_MINOR)),
            fix=f"pulumi config set plano:dbEngineVersion {PINNED_ENGINE_VERSIONS[DbEngine.AURORA_SERVERLESS.value]}"
            "   (or plano:dbEngine rds)",
        )
    lowest = AURORA_AUTO_PAUSE_MIN_MINOR[major]
    if pausing and minor < lowest:
        raise ConfigError(
            "plano:dbEngineVersion",
            f"cannot scale to 0 ACU: Aurora PostgreSQL {major} pauses from {major}.{lowest} on",
            value=version,
            allowed=f"{major}.{lowest} and later",
            fix=f"pulumi config set plano:dbEngineVersion {major}.{lowest}   (or plano:dbAutoPauseSeconds -1)",
        )
