"""Limits and facts of AWS, RDS and Plano that validation checks against."""

from __future__ import annotations

import ipaddress
import re

from plano_pulumi.core.secret_names import SECRET_NAME_WORDS

SUPPORTED_PG_MAJORS = (14, 15, 16, 17, 18)
# The PostgreSQL version each plano:dbEngine runs unless plano:dbEngineVersion says otherwise, in
# one place: a full major.minor, because AWS resolves a bare major ("17") at create time to that
# day's default minor, so two stacks created a month apart would run different servers (and the
# parameter-group family, the 0-ACU support and the prices the tests assume would not be pinned).
# Aurora's must scale to 0 ACU (every Aurora PostgreSQL 17 minor does). Moving to a new minor:
# docs/operations.md, "Upgrading PostgreSQL".
PINNED_ENGINE_VERSIONS = {"rds": "17.6", "aurora-serverless": "17.5"}
# Aurora PostgreSQL majors with Serverless v2, and the first minor that scales to 0 ACU (auto-pause):
# AWS, "Scaling to Zero ACUs with automatic pause and resume": 16.3, 15.7, 14.12 (13.15 is past its
# end of standard support); every 17.x release supports it.
AURORA_AUTO_PAUSE_MIN_MINOR = {14: 12, 15: 7, 16: 3, 17: 0}
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
    {"postgres", "rdsadmin", "rdsrepladmin", "rds_superuser", "admin", "user", "public", "select", "table", "pgbouncer"}
)
# PostgreSQL's reserved key words (its documentation, appendix "SQL Key Words": "reserved" and
# "reserved (can be function or type)"): RDS refuses them as a database or master user name.
SQL_RESERVED_WORDS = frozenset(
    {
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "system_user",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    }
)
# Database names PgBouncer keeps for itself (its admin console) or PostgreSQL and RDS own.
RESERVED_DB_NAMES = frozenset({"postgres", "template0", "template1", "rdsadmin", "pgbouncer"})
# PostgreSQL reserves role names starting with pg_, so RDS refuses such a master user name.
RESERVED_DB_USER_PREFIXES = ("pg_",)
MIN_PROD_BACKUP_DAYS = 7
# AWS default quotas (DESIGN.md 5.7): inbound rules per security group, listeners per load balancer.
MAX_RULES_PER_SECURITY_GROUP = 60
MAX_LISTENERS_PER_LOAD_BALANCER = 50
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
# Names that look like a secret's: the one list, shipped with the policy pack too (core/secret_names.py).
SECRET_LOOKING = re.compile("|".join(map(re.escape, SECRET_NAME_WORDS)), re.IGNORECASE)
# AWS's ids: ASCII only (re.ASCII everywhere, so full-width or other scripts' digits never pass).
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[1-9][0-9]?", re.ASCII)
# Partitions by region prefix (the rest are in `aws`).
PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-iso-", "aws-iso"),
)


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (aws, aws-cn, aws-us-gov, ...)."""
    return next((partition for prefix, partition in PARTITIONS if region.startswith(prefix)), "aws")


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
# Env vars the task sets itself are among the reserved names: core/reserved_env_names.txt.
# Log levels at which Plano prints the substituted connection string (DESIGN.md 2.6).
LEAKY_LOG_LEVELS = ("debug", "trace")
