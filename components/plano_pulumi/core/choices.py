"""The constrained choices of the settings, as string enums (a leaf module: it imports nothing).

``settings/keys.py`` declares which key takes which; ``task_files.py`` and the components read them
without importing the settings package.
"""

from __future__ import annotations

from enum import StrEnum


class Profile(StrEnum):
    DEV = "dev"
    PROD = "prod"
    LOCAL = "local"  # Docker on a workstation: no AWS account (components/local)


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


class DbEngine(StrEnum):
    RDS = "rds"
    AURORA_SERVERLESS = "aurora-serverless"
