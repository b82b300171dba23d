"""Every ``plano:`` key, declared once: type, description, default, per-profile values.

``Pulumi.yaml`` declares the same keys (a test keeps them equal), so ``pulumi up`` and the mocked
tests see the same defaults. Keys whose default differs by profile are declared as ``""`` or ``0``
("use the profile's value") and resolved from ``PROFILES``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from plano_pulumi.core.choices import Architecture, Capacity, DbEngine, Ingress, NatGateways, Profile, TlsMode
from plano_pulumi.core.images import COLLECTOR_IMAGE, INIT_IMAGE, PGBOUNCER_IMAGE, PLANO_IMAGE

__all__ = [
    "Architecture",
    "Capacity",
    "DbEngine",
    "Ingress",
    "NatGateways",
    "Profile",
    "TlsMode",
]

NAMESPACE = "plano"
IMAGE_KEYS = ("image", "pgbouncerImage", "initImage", "collectorImage")
"""The keys naming the task's images (Plano, the sidecar, the init step, the metrics collector)."""


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
        "dbEngine": "aurora-serverless",
        "dbMaxCapacityAcu": 2,
        "dbAutoPauseSeconds": 300,
        "activeHours": "08:00-20:00",
        "usageActiveHoursPerDay": 2,
        "usageActiveDaysPerWeek": 5,
        "alarms": "off",
        "metricsCollector": "off",
        "dbReviewStacks": 20,
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
        "dbEngine": "rds",
        "dbMaxCapacityAcu": 16,
        "dbAutoPauseSeconds": -1,
        "activeHours": "always",
        "usageActiveHoursPerDay": 24,
        "usageActiveDaysPerWeek": 7,
        "alarms": "on",
        "metricsCollector": "on",
        "dbReviewStacks": 0,
    },
}
# local runs on Docker: the AWS-sizing keys do not apply, and dev's values keep their validators happy.
PROFILES[Profile.LOCAL] = dict(PROFILES[Profile.DEV])
# Docker runs plain PostgreSQL around the clock: no Aurora, no schedule.
PROFILES[Profile.LOCAL].update(dbEngine="rds", activeHours="always", dbAutoPauseSeconds=-1, dbReviewStacks=0)

_P = "Empty/0 = the profile's value."
KEYS: tuple[Key, ...] = (
    Key(
        "profile",
        "string",
        "Stack profile: dev (cheap, disposable), prod (safe by default) or local (Docker, no AWS).",
        "dev",
        rule="dev, prod or local",
    ),
    Key(
        "configFile",
        "string",
        "Your Plano config, relative to Pulumi.yaml.",
        "plano_config.yaml",
        rule="a regular file under 512 KiB; see the Plano config rules below",
    ),
    Key(
        "image",
        "string",
        "Plano container image.",
        PLANO_IMAGE,
        rule="image reference; prod warns unless pinned by @sha256 digest",
    ),
    Key(
        "pgbouncerImage",
        "string",
        "PgBouncer sidecar image (speaks TLS to RDS).",
        PGBOUNCER_IMAGE,
        rule="PgBouncer 1.21 or newer; prod warns unless pinned",
    ),
    Key(
        "initImage",
        "string",
        "Image of the init step.",
        INIT_IMAGE,
        rule="needs sh, psql and an HTTPS-verifying wget; prod warns unless pinned",
    ),
    Key(
        "imageRegistry",
        "string",
        "ECR registry to pull every image from (a pull-through cache or copies); empty = public registries.",
        "",
        rule="empty or ACCOUNT.dkr.ecr.REGION.amazonaws.com; images become REGISTRY/ghcr/..., REGISTRY/ecr-public/...",
    ),
    Key("dbInstanceClass", "string", f"RDS instance class. {_P}", "", per_profile=True, rule="db.<family>.<size>"),
    Key(
        "dbEngineVersion",
        "string",
        "PostgreSQL version as major.minor (17.6). Empty = the version pinned for plano:dbEngine.",
        "",
        rule="major.minor, major 14-18 as RDS writes it (17.6: no leading zero, no minor 0); "
        "a bare major (17) is refused; empty: rds 17.6, aurora-serverless 17.5",
    ),
    Key(
        "dbName",
        "string",
        "Database name.",
        "plano",
        rule="lower-case letters, digits, _; starts with a letter; not postgres, pgbouncer or an SQL reserved word",
    ),
    Key(
        "dbUser",
        "string",
        "Database master user name.",
        "plano",
        rule="1-59 lower-case letters, digits, _ (room for the _app role); no pg_ prefix, for it or <it>_app; "
        "not reserved (postgres, admin, SQL key words, ...)",
    ),
    Key(
        "dbPasswordVersion",
        "integer",
        "Bump to rotate the database passwords (master and Plano's role) with a rolling redeploy.",
        1,
        rule="1 or more; only ever increase it",
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
        rule="1-35; prod at least 7",
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
        rule="a KMS key ARN in the stack's region; grants kms:Decrypt to the execution role",
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
        rule="valid CIDRs; required with alb; 0.0.0.0/0 and ::/0 only with allowPublicIngress; within 60 rules",
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
        rule="an ACM certificate ARN in the stack's region; required by prod with alb unless allowPlainHttp",
    ),
    Key("allowPlainHttp", "boolean", "Allow a prod load balancer without HTTPS.", False, rule="true or false"),
    Key(
        "albInternal",
        "boolean",
        "Internal load balancer (reachable only from the VPC and peers).",
        False,
        rule="true or false",
    ),
    Key(
        "domainName",
        "string",
        "Your domain for the endpoint (the certificate's name); endpoint URLs use it.",
        "",
        rule="a DNS name such as plano.example.com, only with alb; not a documentation example in prod",
    ),
    Key(
        "hostedZoneId",
        "string",
        "Route 53 hosted zone of domainName: the stack creates the alias record to the load balancer.",
        "",
        rule="Z followed by letters and digits, only with domainName; empty = you create the DNS record",
    ),
    Key("vpcId", "string", "Existing VPC to use; empty = create one.", "", rule="vpc-<hex>"),
    Key(
        "publicSubnetIds",
        "array",
        "Public subnets of the existing VPC (load balancer).",
        [],
        rule="two or more distinct subnet-<hex>, only with vpcId; none in both lists",
    ),
    Key(
        "privateSubnetIds",
        "array",
        "Private subnets of the existing VPC (database; tasks when it has NAT).",
        [],
        rule="two or more distinct subnet-<hex>, only with vpcId; none in both lists",
    ),
    Key(
        "vpcCidr",
        "string",
        "CIDR of the VPC this stack creates.",
        "10.40.0.0/16",
        rule="/16 to /22 in 10/8, 172.16/12, 192.168/16 or 100.64/10; no host bits",
    ),
    Key(
        "natGateways",
        "string",
        f"NAT gateways of a new VPC; with vpcId, whether that VPC has NAT. {_P}",
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
        rule="no secret-looking names (PASS, SECRET, TOKEN, KEY, CREDENTIAL); no DB_PASS; "
        "LOG_LEVEL/RUST_LOG only error, warn or info",
    ),
    Key(
        "stateRetentionDays",
        "integer",
        "Delete conversation state idle this long; 0 = keep forever.",
        30,
        rule="0-3650",
    ),
    Key(
        "localKeepDataVolume",
        "boolean",
        "local profile: keep the PostgreSQL data volume when the stack is destroyed.",
        True,
        rule="true or false",
    ),
    Key(
        "localDbPort",
        "integer",
        "local profile: host port (127.0.0.1 only) of PostgreSQL, for psql over TLS.",
        15432,
        rule="1024-65535, not a listener port",
    ),
    Key(
        "dbEngine",
        "string",
        f"Database engine: RDS PostgreSQL or Aurora PostgreSQL Serverless v2. {_P}",
        "",
        per_profile=True,
        rule="rds or aurora-serverless",
    ),
    Key(
        "dbEngineChangeConfirmed",
        "string",
        "Confirms switching plano:dbEngine on a stack that has a database: the engine switched to. "
        "The new database starts empty; migrate first (docs/operations.md).",
        "",
        rule="empty, or the new plano:dbEngine (rds or aurora-serverless)",
    ),
    Key(
        "dbMaxCapacityAcu",
        "integer",
        f"Aurora Serverless v2 maximum capacity in ACUs (1 ACU = about 2 GiB). {_P}",
        0,
        per_profile=True,
        rule="1-256; aurora-serverless only",
    ),
    Key(
        "dbAutoPauseSeconds",
        "integer",
        f"Aurora: pause (0 ACU) after this many idle seconds; -1 = never pause (minimum 0.5 ACU). {_P}",
        0,
        per_profile=True,
        rule="-1 or 300-86400; aurora-serverless only",
    ),
    Key(
        "activeHours",
        "string",
        f"Hours the tasks run on activeDays (scaled to zero outside them), or always. {_P}",
        "",
        per_profile=True,
        rule="HH:MM-HH:MM (start before end, whole or half hours) or always; prod: always",
    ),
    Key(
        "activeDays",
        "string",
        "Days activeHours apply to; on other days the tasks stay at zero.",
        "MON-FRI",
        rule="MON-FRI, MON-SUN or a comma list such as MON,WED,FRI",
    ),
    Key(
        "scheduleTimezone",
        "string",
        "Time zone of activeHours.",
        "UTC",
        rule="an IANA time zone such as UTC, Europe/Berlin, America/New_York (from the shipped list)",
    ),
    Key(
        "usageActiveHoursPerDay",
        "integer",
        f"Cost model: hours per active day in which the database serves requests. {_P}",
        0,
        per_profile=True,
        rule="1-24",
    ),
    Key(
        "usageActiveDaysPerWeek",
        "integer",
        f"Cost model: days per week with requests. {_P}",
        0,
        per_profile=True,
        rule="1-7",
    ),
    Key(
        "dbReviewStacks",
        "integer",
        "Review stacks this stack's database carries: a provisioning role and secret for them; 0 = none. "
        "-1 = the profile's value, lowered to what the server's connections carry.",
        -1,
        per_profile=True,
        rule="0-500 and within the server's connections (docs/review-environments.md); PostgreSQL 16+",
    ),
    Key(
        "sharedDatabase",
        "object",
        "Review stack: put this stack's own database on another stack's server (dev's outputs) instead of "
        "creating one: address, port, securityGroupId, provisionerSecretArn.",
        {},
        rule="empty, or all four from the dev stack's review_database output (scripts/ci/review-stack.sh sets it)",
    ),
    Key(
        "sharedProviderKeySecretArns",
        "object",
        "Read these provider-key secrets (env name -> ARN, another stack's) instead of creating any.",
        {},
        rule="empty, or one secretsmanager ARN in the stack's region per provider key name",
    ),
    Key(
        "usageRequestsPerHour",
        "integer",
        "Cost model: Plano requests per active hour (database I/O).",
        100,
        rule="0-10000000",
    ),
    Key(
        "alarms",
        "string",
        f"CloudWatch alarms, an SNS topic for them, state-path log metrics and a dashboard. {_P}",
        "",
        per_profile=True,
        rule="on or off; not with the local profile",
    ),
    Key(
        "alarmEmails",
        "array",
        "E-mail addresses subscribed to the alarm topic (each confirms by mail).",
        [],
        rule="e-mail addresses; with alarms on; not with alarmTopicArn",
    ),
    Key(
        "alarmTopicArn",
        "string",
        "Existing SNS topic to send alarms to instead of creating one (Slack, PagerDuty, ...).",
        "",
        rule="arn:aws:sns:REGION:ACCOUNT:NAME in the stack's region; with alarms on",
    ),
    Key(
        "alarmThresholds",
        "object",
        "Alarm thresholds to change: name -> number (docs/monitoring.md lists them).",
        {},
        rule="known names, numbers above 0, percentages at most 100",
    ),
    Key(
        "metricsCollector",
        "string",
        f"Collector sidecar: Plano's and Envoy's metrics to CloudWatch (EMF). {_P}",
        "",
        per_profile=True,
        rule="on or off; needs memory >= 1024; not with the local profile",
    ),
    Key(
        "collectorImage",
        "string",
        "Image of the collector sidecar (AWS Distro for OpenTelemetry).",
        COLLECTOR_IMAGE,
        rule="image reference; prod warns unless pinned",
    ),
    Key(
        "tracing",
        "boolean",
        "Send Plano's traces to X-Ray through the collector (sets Plano's tracing endpoint).",
        False,
        rule="true or false; needs metricsCollector on",
    ),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}


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
