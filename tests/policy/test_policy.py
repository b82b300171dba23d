"""The policy pack (policy/): every policy's compliant and violating cases, the repository's stacks
pass the pack, breaking any one invariant in a stack fails with the policy's name, and the pack's
wiring into pulumi_policy (in-process, and served over gRPC as the Pulumi CLI runs it).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from plano_pulumi.core.collector import COLLECTOR_PORTS
from plano_pulumi.core.plano_config import PLANO_INTERNAL_PORTS
from plano_pulumi.core.settings.limits import LOG_LEVEL_VARS, SAFE_LOG_LEVELS
from plano_tools.simulate import Run

from policy import validators as v
from policy.validators import Context, check, violated_policies
from tests.conftest import DEV_RDS, PROJECT, plain, run_with, stack_dir, stack_run

POLICY_DIR = PROJECT / "policy"
DIGEST = "sha256:" + "a" * 64
PINNED = {
    "image": f"katanemo/plano:0.4.36@{DIGEST}",
    "pgbouncerImage": f"ghcr.io/cloudnative-pg/pgbouncer:1.24.1@{DIGEST}",
    "initImage": f"postgres:17-alpine@{DIGEST}",
    "collectorImage": f"public.ecr.aws/aws-observability/aws-otel-collector:v0.45.1@{DIGEST}",
}
DIGEST_POLICY = "prod-images-pinned-by-digest"
PROD_TAGS = {"app": "plano", "stack": "prod", "profile": "prod", "managed-by": "pulumi"}
DEV_TAGS = {**PROD_TAGS, "stack": "dev", "profile": "dev"}
UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
DROP = object()  # a key to remove from the props


def resources_of(run: Run) -> list[dict[str, Any]]:
    """A recorded run's resources in the validators' shape (secrets unwrapped, as the engine gives them)."""
    assert run.error is None, run.error
    return [
        {"type": r.type, "name": r.name, "urn": r.urn, "id": r.id, "props": plain(r.inputs), "protect": r.protect}
        for r in run.resources
    ]


def report(messages: list[str]) -> str:
    return "\n".join(messages) or "(no violation)"


# --- resource builders ----------------------------------------------------------------------------------


def _with(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    props = {**base, **changes}
    return {k: val for k, val in props.items() if val is not DROP}


def rds(**changes: Any) -> dict[str, Any]:
    base = {
        "engine": "postgres",
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "parameterGroupName": "plano-prod-postgres17",
        "vpcSecurityGroupIds": ["sg-db"],
        "deletionProtection": True,
        "multiAz": True,
        "backupRetentionPeriod": 14,
        "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "plano-prod-final-1a2b3c4d",
        "tags": PROD_TAGS,
    }
    return _with(base, changes)


def params(force_ssl: Any = "1", **changes: Any) -> dict[str, Any]:
    parameters = [{"name": "shared_preload_libraries", "value": "pg_stat_statements,pg_cron"}]
    if force_ssl is not DROP:
        parameters.append({"name": "rds.force_ssl", "value": force_ssl, "applyMethod": "pending-reboot"})
    return _with({"name": "plano-prod-postgres17", "family": "postgres17", "parameters": parameters}, changes)


def task(*containers: Mapping[str, Any], tags: Mapping[str, str] = PROD_TAGS) -> dict[str, Any]:
    return {"containerDefinitions": json.dumps(list(containers)), "tags": dict(tags)}


def container(
    name: str = "plano",
    image: str = f"katanemo/plano:0.4.36@{DIGEST}",
    env: Mapping[str, str] | None = None,
    ports: tuple[Mapping[str, Any], ...] = ({"containerPort": 12000, "hostPort": 12000, "protocol": "tcp"},),
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "environment": [{"name": k, "value": val} for k, val in (env or {}).items()],
        "portMappings": list(ports),
    }


def ingress_rule(sg: str = "sg-alb", **changes: Any) -> dict[str, Any]:
    base = {"securityGroupId": sg, "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "203.0.113.0/24"}
    return _with(base, changes)


def sg_rule(**changes: Any) -> dict[str, Any]:
    base = {"type": "ingress", "securityGroupId": "sg-alb", "protocol": "tcp", "fromPort": 443, "toPort": 443}
    return _with({**base, "cidrBlocks": ["203.0.113.0/24"]}, changes)


def group(*ingress: Mapping[str, Any], tags: Mapping[str, str] = PROD_TAGS) -> dict[str, Any]:
    return {"name": "plano-prod-x", "ingress": list(ingress), "tags": dict(tags)}


def alb(**changes: Any) -> dict[str, Any]:
    return _with({"enableDeletionProtection": True, "securityGroups": ["sg-alb"], "tags": PROD_TAGS}, changes)


CONSENT = {**PROD_TAGS, "public-ingress": "allowed"}
PLANO_ENV = {
    "PLANO_CONFIG_YAML": "model_providers:\n- model: openai/gpt-4o-mini\n  access_key: $OPENAI_API_KEY\n"
    "state_storage:\n  type: postgres\n  connection_string: postgresql://plano:$DB_PASS@127.0.0.1:6432/plano\n",
    "PGSSLMODE": "verify-full",
}


# --- 1. Each policy: a compliant and a violating resource -------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    policy: str
    type: str
    props: dict[str, Any]
    compliant: bool
    context: Context = field(default_factory=Context)


RDS, PG, TASK, LOGS = v.RDS_INSTANCE, v.PARAMETER_GROUP, v.TASK_DEFINITION, v.LOG_GROUP
RULE, SG, SG_RULE, ALB = v.INGRESS_RULE, v.SECURITY_GROUP, v.SECURITY_GROUP_RULE, v.LOAD_BALANCERS[0]
# Fakes with the shapes of real secrets, assembled at run time so that no secret-looking literal
# sits in the repository (secret scanners would rightly flag one).
_PRIVATE_KEY_LINE = "-----{} OPENSSH " + "PRIVATE KEY-----"
SECRET_VALUES = {
    "openai key": "sk-proj-" + "Ab1" * 16,
    "anthropic key": "sk-ant-api03-" + "x" * 40,
    "aws access key id": "AKIA" + "IOSFODNN7EXAMPLE",
    "github token": "ghp_" + "a1B2" * 9,
    "slack token": "xoxb-123456789012-abcdefghijkl",
    "private key": "\n".join(
        [_PRIVATE_KEY_LINE.format("BEGIN"), "b3BlbnNzaC1rZXktdjEAAAAA", _PRIVATE_KEY_LINE.format("END")]
    ),
    "url with password": "postgresql://plano:hunter2@db.example.com:5432/plano",
    "url with defaulted placeholder": "postgresql://plano:${DB_PASS:-hunter2}@127.0.0.1:6432/plano",
    "literal access_key": "model_providers:\n- model: openai/gpt-4o\n  access_key: not-a-placeholder\n",
    "conninfo password": "host=db.example.com password=hunter2 dbname=plano",
}
RESOURCE_CASES = [
    Case("encrypted", "rds-storage-encrypted", RDS, rds(), True),
    Case("not encrypted", "rds-storage-encrypted", RDS, rds(storageEncrypted=False), False),
    Case("encryption not set", "rds-storage-encrypted", RDS, rds(storageEncrypted=DROP), False),
    Case("private", "rds-not-public", RDS, rds(), True),
    Case("public", "rds-not-public", RDS, rds(publiclyAccessible=True), False),
    Case("group forces ssl", "rds-force-ssl", PG, params(), True),
    Case("force_ssl as a number", "rds-force-ssl", PG, params(force_ssl=1.0), True),
    Case("force_ssl 0", "rds-force-ssl", PG, params(force_ssl="0"), False),
    Case("force_ssl missing", "rds-force-ssl", PG, params(force_ssl=DROP), False),
    Case("mysql group is not ours", "rds-force-ssl", PG, params(force_ssl=DROP, family="mysql8.0"), True),
    Case("instance on own group", "rds-force-ssl", RDS, rds(), True),
    Case("instance on default group", "rds-force-ssl", RDS, rds(parameterGroupName="default.postgres17"), False),
    Case("instance without group", "rds-force-ssl", RDS, rds(parameterGroupName=DROP), False),
    Case(
        "placeholders only",
        "no-secrets-in-container-environment",
        TASK,
        task(container(env=PLANO_ENV)),
        True,
    ),
    *[
        Case(f"secret name {n}", "no-secrets-in-container-environment", TASK, task(container(env={n: "x"})), False)
        for n in ("DB_PASSWORD", "PGPASS", "CLIENT_SECRET", "GITHUB_TOKEN", "OPENAI_API_KEY")
    ],
    *[
        Case(f"secret value: {what}", "no-secrets-in-container-environment", TASK, task(container(env={"X": s})), False)
        for what, s in SECRET_VALUES.items()
    ],
    Case("listener port", "no-internal-ports", TASK, task(container()), True),
    *[
        Case(f"maps {p}", "no-internal-ports", TASK, task(container(ports=({"containerPort": p},))), False)
        for p in (9901, 9091, 9092)
    ],
    Case(
        "host port 9901",
        "no-internal-ports",
        TASK,
        task(container(ports=({"containerPort": 12000, "hostPort": 9901},))),
        False,
    ),
    Case(
        "port range over 9901",
        "no-internal-ports",
        TASK,
        task(container(ports=({"containerPortRange": "9000-9999"},))),
        False,
    ),
    *[
        Case(
            f"maps collector port {p}", "no-internal-ports", TASK, task(container(ports=({"containerPort": p},))), False
        )
        for p in (4317, 4318, 8888, 13133)
    ],
    Case(
        "port range over the collector's OTLP port",
        "no-internal-ports",
        TASK,
        task(container(ports=({"containerPortRange": "4000-4999"},))),
        False,
    ),
    *[
        Case(f"LOG_LEVEL={lvl}", "no-credential-logging", TASK, task(container(env={"LOG_LEVEL": lvl})), True)
        for lvl in ("info", "warn", "ERROR")
    ],
    *[
        Case(f"{var}={lvl}", "no-credential-logging", TASK, task(container(env={var: lvl})), False)
        for var, lvl in (
            ("LOG_LEVEL", "debug"),
            ("LOG_LEVEL", "info,brightstaff=debug"),
            ("LOG_LEVEL", "4"),
            ("LOG_LEVEL", "brightstaff"),
            ("RUST_LOG", "trace"),
            ("log_level", "debug"),
        )
    ],
    Case(
        "pgbouncer quiet",
        "no-credential-logging",
        TASK,
        task(container("init", env={"PGBOUNCER_INI": "[pgbouncer]\nlog_connections = 0\n"})),
        True,
    ),
    *[
        Case(
            f"pgbouncer {setting}",
            "no-credential-logging",
            TASK,
            task(container("init", env={"PGBOUNCER_INI": f"[pgbouncer]\n{setting}\n"})),
            False,
        )
        for setting in ("verbose = 1", "verbose=2", "  VERBOSE = 3")
    ],
    Case(
        "pgbouncer run with -v",
        "no-credential-logging",
        TASK,
        task({**container("pgbouncer"), "entryPoint": ["/usr/bin/pgbouncer"], "command": ["-v", "/x.ini"]}),
        False,
    ),
    Case("known network", "no-open-ingress", RULE, ingress_rule(), True),
    Case("ipv4 internet", "no-open-ingress", RULE, ingress_rule(cidrIpv4="0.0.0.0/0"), False),
    Case("ipv6 internet", "no-open-ingress", RULE, ingress_rule(cidrIpv4=DROP, cidrIpv6="::/0"), False),
    Case("internet, tagged consent", "no-open-ingress", RULE, ingress_rule(cidrIpv4="0.0.0.0/0", tags=CONSENT), True),
    Case(
        "internet, config consent",
        "no-open-ingress",
        RULE,
        ingress_rule(cidrIpv4="0.0.0.0/0"),
        True,
        Context(allow_public_ingress=True),
    ),
    Case("from a group", "no-open-ingress", RULE, ingress_rule(cidrIpv4=DROP, referencedSecurityGroupId="sg-x"), True),
    Case("inline from a group", "no-open-ingress", SG, group({"securityGroups": ["sg-x"], "fromPort": 5432}), True),
    Case("inline internet", "no-open-ingress", SG, group({"cidrBlocks": ["0.0.0.0/0"], "fromPort": 22}), False),
    Case("inline ipv6 internet", "no-open-ingress", SG, group({"ipv6CidrBlocks": ["::/0"], "protocol": "-1"}), False),
    Case("sg rule known network", "no-open-ingress", SG_RULE, sg_rule(), True),
    Case("sg rule internet", "no-open-ingress", SG_RULE, sg_rule(cidrBlocks=["0.0.0.0/0"]), False),
    Case(
        "sg rule egress to internet", "no-open-ingress", SG_RULE, sg_rule(type="egress", cidrBlocks=["0.0.0.0/0"]), True
    ),
    Case("retention", "log-group-retention", LOGS, {"name": "/ecs/x", "retentionInDays": 14}, True),
    Case("retention 0", "log-group-retention", LOGS, {"name": "/ecs/x", "retentionInDays": 0}, False),
    Case("no retention", "log-group-retention", LOGS, {"name": "/ecs/x"}, False),
    Case("protected db", "prod-deletion-protection", RDS, rds(), True, Context(protect=True)),
    Case("db without deletion protection", "prod-deletion-protection", RDS, rds(deletionProtection=False), False),
    Case("db not protect=True", "prod-deletion-protection", RDS, rds(), False, Context(protect=False)),
    Case("dev db may go", "prod-deletion-protection", RDS, rds(deletionProtection=False, tags=DEV_TAGS), True),
    Case("protected alb", "prod-deletion-protection", ALB, alb(), True),
    Case("alb without protection", "prod-deletion-protection", ALB, alb(enableDeletionProtection=False), False),
    Case("dev alb", "prod-deletion-protection", ALB, alb(enableDeletionProtection=DROP, tags=DEV_TAGS), True),
    Case("multi-az", "prod-multi-az", RDS, rds(), True),
    Case("single az", "prod-multi-az", RDS, rds(multiAz=False), False),
    Case("single az in dev", "prod-multi-az", RDS, rds(multiAz=False, tags=DEV_TAGS), True),
    Case("single az, no profile tag", "prod-multi-az", RDS, rds(multiAz=False, tags=DROP), False),
    Case(
        "single az, config says dev",
        "prod-multi-az",
        RDS,
        rds(multiAz=False, tags=DROP),
        True,
        Context(profile="dev"),
    ),
    Case(
        "single az, tag dev but config prod",
        "prod-multi-az",
        RDS,
        rds(multiAz=False, tags=DEV_TAGS),
        False,
        Context(profile="prod"),
    ),
    Case("7 days of backups", "prod-backups-7-days", RDS, rds(backupRetentionPeriod=7), True),
    Case("6 days of backups", "prod-backups-7-days", RDS, rds(backupRetentionPeriod=6), False),
    Case("backups not set", "prod-backups-7-days", RDS, rds(backupRetentionPeriod=DROP), False),
    Case("1 day in dev", "prod-backups-7-days", RDS, rds(backupRetentionPeriod=1, tags=DEV_TAGS), True),
    Case("final snapshot", "prod-final-snapshot", RDS, rds(), True),
    Case("skip final snapshot", "prod-final-snapshot", RDS, rds(skipFinalSnapshot=True), False),
    Case("no snapshot identifier", "prod-final-snapshot", RDS, rds(finalSnapshotIdentifier=DROP), False),
    Case(
        "dev skips it",
        "prod-final-snapshot",
        RDS,
        rds(skipFinalSnapshot=True, finalSnapshotIdentifier=DROP, tags=DEV_TAGS),
        True,
    ),
    Case("pinned", DIGEST_POLICY, TASK, task(container(), container("init", f"postgres:17-alpine@{DIGEST}")), True),
    Case("tag", DIGEST_POLICY, TASK, task(container(), container("init", "postgres:17-alpine")), False),
    Case("short digest", DIGEST_POLICY, TASK, task(container(image="katanemo/plano@sha256:abc")), False),
    Case("tag in dev", DIGEST_POLICY, TASK, task(container(image="katanemo/plano:0.4.36"), tags=DEV_TAGS), True),
]


def _resource_policy(name: str) -> v.ResourcePolicy:
    return next(p for p in v.RESOURCE_POLICIES if p.name == name)


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda c: f"{c.policy}: {c.id}")
def test_resource_policy(case: Case) -> None:
    policy = _resource_policy(case.policy)
    assert case.type in policy.resource_types
    messages = policy.validate(case.type, case.props, case.context)
    if case.compliant:
        assert messages == [], report(messages)
    else:
        assert messages, f"{case.policy} accepted {case.props}"
        # Through the pack's runner, the violation names its policy.
        resource = {"type": case.type, "name": "r", "props": case.props, "protect": case.context.protect}
        found = v.check_resource(resource, case.context)
        assert case.policy in violated_policies(found), report(found)


def test_secret_values_never_appear_in_messages() -> None:
    for secret in SECRET_VALUES.values():
        messages = v.no_secrets_in_container_environment(TASK, task(container(env={"X": secret})), Context())
        assert messages and all(secret not in m and "hunter2" not in m for m in messages)


@dataclass(frozen=True)
class StackCase:
    id: str
    policy: str
    resources: list[dict[str, Any]]
    compliant: bool


def res(type_: str, name: str, props: dict[str, Any], id_: str | None = None) -> dict[str, Any]:
    return {"type": type_, "name": name, "props": props, **({"id": id_} if id_ else {})}


DB = res(RDS, "instance", rds())
SERVICE_TO_DB = res(RULE, "db-in-service", ingress_rule("sg-db", cidrIpv4=DROP, referencedSecurityGroupId="sg-svc"))
AURORA = {"clusterIdentifier": "c", "engine": "aurora-postgresql", "tags": PROD_TAGS}
AURORA_MEMBER = {"clusterIdentifier": "c", "engine": "aurora-postgresql"}
SERVICE = res(v.ECS_SERVICE, "service", {"networkConfiguration": {"securityGroups": ["sg-svc"]}})
LISTENING_TASK = res(TASK, "task", task(container()))
OWN_GROUPS = [res(SG, n, {}, id_=f"sg-{n}") for n in ("svc", "db")]
STACK_CASES = [
    StackCase(
        "service and db carry the stack's groups",
        "security-groups-owned-by-the-stack",
        [*OWN_GROUPS, res(RDS, "instance", rds()), SERVICE],
        True,
    ),
    StackCase(
        "service carries a group the stack did not create",
        "security-groups-owned-by-the-stack",
        [*OWN_GROUPS, res(v.ECS_SERVICE, "service", {"networkConfiguration": {"securityGroups": ["sg-svc", "sg-x"]}})],
        False,
    ),
    StackCase(
        "aurora with a writer and a reader",
        "prod-aurora-in-two-zones",
        [res(v.RDS_CLUSTER, "c", AURORA), *[res(v.CLUSTER_INSTANCE, f"m{i}", AURORA_MEMBER) for i in range(2)]],
        True,
    ),
    StackCase(
        "aurora with one instance",
        "prod-aurora-in-two-zones",
        [res(v.RDS_CLUSTER, "c", AURORA), res(v.CLUSTER_INSTANCE, "m", AURORA_MEMBER)],
        False,
    ),
    StackCase(
        "service admits the load balancer on its listener",
        "service-ingress-only-from-load-balancer",
        [
            SERVICE,
            LISTENING_TASK,
            res(ALB, "alb", alb()),
            res(
                RULE,
                "in",
                ingress_rule("sg-svc", cidrIpv4=DROP, fromPort=12000, toPort=12000, referencedSecurityGroupId="sg-alb"),
            ),
        ],
        True,
    ),
    StackCase(
        "service admits a VPC range on Envoy's admin port",
        "service-ingress-only-from-load-balancer",
        [
            SERVICE,
            LISTENING_TASK,
            res(RULE, "in", ingress_rule("sg-svc", cidrIpv4="10.0.0.0/8", fromPort=9901, toPort=9901)),
        ],
        False,
    ),
    StackCase("own group forces ssl", "rds-force-ssl-attached", [DB, res(PG, "parameters", params())], True),
    StackCase("group not in stack", "rds-force-ssl-attached", [DB, res(PG, "parameters", params(name="other"))], False),
    StackCase("group force_ssl 0", "rds-force-ssl-attached", [DB, res(PG, "p", params(force_ssl="0"))], False),
    StackCase(
        "no group named",
        "rds-force-ssl-attached",
        [res(RDS, "instance", rds(parameterGroupName=DROP)), res(PG, "p", params())],
        False,
    ),
    StackCase(
        "group known by id only",
        "rds-force-ssl-attached",
        [DB, res(PG, "p", params(name=DROP), id_="plano-prod-postgres17")],
        True,
    ),
    StackCase(
        "db admits the service's group", "db-ingress-only-from-security-groups", [DB, SERVICE, SERVICE_TO_DB], True
    ),
    StackCase(
        "cidr elsewhere is not the db's business",
        "db-ingress-only-from-security-groups",
        [DB, SERVICE, SERVICE_TO_DB, res(RULE, "alb-in", ingress_rule("sg-alb"))],
        True,
    ),
    StackCase(
        "db admits a cidr",
        "db-ingress-only-from-security-groups",
        [DB, SERVICE_TO_DB, res(RULE, "db-in-vpc", ingress_rule("sg-db", cidrIpv4="10.40.0.0/16", fromPort=5432))],
        False,
    ),
    StackCase(
        "db admits a prefix list",
        "db-ingress-only-from-security-groups",
        [DB, res(RULE, "db-in-pl", ingress_rule("sg-db", cidrIpv4=DROP, prefixListId="pl-0123"))],
        False,
    ),
    StackCase(
        "db sg rule with cidr",
        "db-ingress-only-from-security-groups",
        [DB, res(SG_RULE, "db-rule", sg_rule(securityGroupId="sg-db", cidrBlocks=["10.0.0.0/8"]))],
        False,
    ),
    StackCase(
        "db sg rule from self",  # issue 19: the database admits only the service's group
        "db-ingress-only-from-security-groups",
        [DB, res(SG_RULE, "db-rule", sg_rule(securityGroupId="sg-db", cidrBlocks=DROP, self=True))],
        False,
    ),
    StackCase(
        "db group with inline cidr",
        "db-ingress-only-from-security-groups",
        [DB, res(SG, "db", group({"cidrBlocks": ["10.0.0.0/8"], "fromPort": 5432}), id_="sg-db")],
        False,
    ),
    StackCase(
        "db without its own group",
        "db-ingress-only-from-security-groups",
        [res(RDS, "instance", rds(vpcSecurityGroupIds=[]))],
        False,
    ),
    StackCase(
        "open rule on the load balancer",
        "public-ingress-only-on-load-balancer",
        [res(ALB, "alb", alb()), res(RULE, "alb-in", ingress_rule(cidrIpv4="0.0.0.0/0", tags=CONSENT))],
        True,
    ),
    StackCase(
        "open rule on the service",
        "public-ingress-only-on-load-balancer",
        [res(ALB, "alb", alb()), res(RULE, "svc-in", ingress_rule("sg-svc", cidrIpv4="0.0.0.0/0", tags=CONSENT))],
        False,
    ),
    StackCase(
        "open inline rule, no load balancer",
        "public-ingress-only-on-load-balancer",
        [res(SG, "svc", group({"ipv6CidrBlocks": ["::/0"]}), id_="sg-svc")],
        False,
    ),
]


@pytest.mark.parametrize("case", STACK_CASES, ids=lambda c: f"{c.policy}: {c.id}")
def test_stack_policy(case: StackCase) -> None:
    policy = next(p for p in v.STACK_POLICIES if p.name == case.policy)
    messages = policy.validate(case.resources, Context())
    if case.compliant:
        assert messages == [], report(messages)
    else:
        assert messages, f"{case.policy} accepted {case.resources}"
        assert case.policy in violated_policies(v.check_stack(case.resources)), report(messages)


def test_every_policy_has_a_compliant_and_a_violating_case() -> None:
    outcomes: dict[str, set[bool]] = {}
    cases: list[Case | StackCase] = [*RESOURCE_CASES, *STACK_CASES]
    for case in cases:
        outcomes.setdefault(case.policy, set()).add(case.compliant)
    assert {name: outcomes.get(name, set()) for name in v.POLICY_NAMES} == {
        name: {True, False} for name in v.POLICY_NAMES
    }
    assert len(set(v.POLICY_NAMES)) == len(v.POLICY_NAMES)


def test_the_mandated_policies_are_all_there() -> None:
    mandated = {
        "rds-storage-encrypted",
        "rds-not-public",
        "rds-force-ssl",
        "no-secrets-in-container-environment",
        "no-internal-ports",
        "no-open-ingress",
        "db-ingress-only-from-security-groups",
        "log-group-retention",
        "prod-deletion-protection",
        "prod-multi-az",
        "prod-backups-7-days",
        "prod-final-snapshot",
        DIGEST_POLICY,
    }
    assert mandated <= set(v.POLICY_NAMES)


def test_internal_ports_are_the_programs() -> None:
    assert set(PLANO_INTERNAL_PORTS) == v.INTERNAL_PORTS
    assert set(COLLECTOR_PORTS) == v.COLLECTOR_PORTS


def test_log_settings_are_the_programs() -> None:
    assert v.LOG_LEVEL_VARS == LOG_LEVEL_VARS
    assert v.SAFE_LOG_LEVELS == SAFE_LOG_LEVELS


# --- 2. Values unknown during a preview --------------------------------------------------------------------


def test_an_unknown_value_is_reported_as_not_known_yet() -> None:
    with pytest.raises(v.NotKnownYetError) as raised:
        v.rds_storage_encrypted(RDS, rds(storageEncrypted=UNKNOWN_BOOL), Context())
    assert raised.value.path == ("storageEncrypted",) and raised.value.sentinel == UNKNOWN_BOOL
    with pytest.raises(v.NotKnownYetError):
        v.no_secrets_in_container_environment(TASK, {"containerDefinitions": UNKNOWN_STRING}, Context())


def test_checks_that_do_not_need_an_unknown_value_still_run_in_a_preview() -> None:
    """A new stack's preview: rules name security groups not created yet, tagsAll is computed."""
    rule = ingress_rule(UNKNOWN_STRING, cidrIpv4="0.0.0.0/0", tagsAll=UNKNOWN_STRING)
    assert v.no_open_ingress(RULE, rule, Context())
    assert v.no_open_ingress(RULE, {**rule, "cidrIpv4": "203.0.113.0/24"}, Context()) == []
    assert v.prod_multi_az(RDS, rds(multiAz=False, tagsAll={"profile": UNKNOWN_STRING}), Context())
    new_group = res(SG, "db", group(), id_=UNKNOWN_STRING)  # no inline rule: its id does not matter
    assert v.public_ingress_only_on_load_balancer([new_group], Context()) == []


def test_stack_policies_report_what_they_can_see_past_unknown_values() -> None:
    unknown_rule = res(RULE, "new", ingress_rule(UNKNOWN_STRING, cidrIpv4="10.0.0.0/8"))
    bad_rule = res(RULE, "db-in-vpc", ingress_rule("sg-db", cidrIpv4="10.40.0.0/16"))
    messages = v.db_ingress_only_from_security_groups([DB, unknown_rule, bad_rule], Context())
    assert len(messages) == 1 and "db-in-vpc" in messages[0]
    with pytest.raises(v.NotKnownYetError):
        v.db_ingress_only_from_security_groups([DB, SERVICE, SERVICE_TO_DB, unknown_rule], Context())


# --- 3. The repository's stacks pass the pack -------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_passes_every_policy(stack: str) -> None:
    """Every policy but the digest one, which the committed prod file fails (test below)."""
    messages = [m for m in check(resources_of(stack_run(stack))) if not m.startswith(f"{DIGEST_POLICY}:")]
    assert messages == [], report(messages)


def test_dev_stack_passes_the_whole_pack() -> None:
    messages = check(resources_of(stack_run("dev")))
    assert messages == [], report(messages)


def test_prod_with_images_pinned_by_digest_passes_the_whole_pack() -> None:
    messages = check(resources_of(run_with("prod", values=PINNED)))
    assert messages == [], report(messages)


def test_example_prod_file_fails_only_the_digest_policy_for_its_unpinned_images() -> None:
    """The prod file as shipped, prepared (tests/fixtures/stacks/prepared: placeholders replaced,
    images not yet pinned but the init image): the digest policy names the three unpinned images
    (Plano, PgBouncer, the collector) and nothing else fails. (The shipped file itself is refused
    before any resource: tests/stacks/test_prod_preparation.py.)"""
    messages = check(resources_of(stack_run("prod")))
    assert violated_policies(messages) == {DIGEST_POLICY}, report(messages)
    assert len(messages) == 3, report(messages)


def test_committed_prod_file_fails_at_most_the_digest_policy_for_its_unpinned_images() -> None:
    """Stays true while the user fills in Pulumi.prod.yaml: one digest message per unpinned image."""
    messages = check(resources_of(stack_run("prod")))
    assert violated_policies(messages) <= {DIGEST_POLICY}, report(messages)
    stack_file = yaml.safe_load((stack_dir("prod") / "Pulumi.prod.yaml").read_text())["config"]
    unpinned = [
        k
        for k in ("image", "pgbouncerImage", "initImage", "collectorImage")
        if "@sha256:" not in stack_file.get(f"plano:{k}", "")
    ]
    assert len(messages) == len(unpinned), report(messages)


def test_offline_plans_pass_the_pack_too() -> None:
    """The same checks over the offline plan's JSON (``python -m plano_tools plan --json``)."""
    plan = pytest.importorskip("plano_tools.plan")
    dev = v.resources_from_plan(plan.plan_document(stack_run("dev")))
    assert check(dev) == [], report(check(dev))
    prod = v.resources_from_plan(plan.plan_document(run_with("prod", values=PINNED)))
    assert check(prod) == [], report(check(prod))


def test_offline_command_checks_plan_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = pytest.importorskip("plano_tools.plan")
    for stack in ("dev", "prod"):
        run = stack_run(stack)  # prod prepared as shipped: unpinned images
        (tmp_path / f"{stack}.json").write_text(json.dumps(plan.plan_document(run)))
    assert v.main([str(tmp_path / "dev.json")]) == 0
    assert v.main([str(tmp_path / "prod.json"), "--profile", "prod"]) == 1
    out = capsys.readouterr().out
    assert f"{DIGEST_POLICY}: aws:ecs/taskDefinition:TaskDefinition task" in out


# --- 4. Breaking any one invariant in a stack fails, naming the policy -----------------------------------------

Resources = list[dict[str, Any]]


def find(resources: Resources, type_: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in resources if r["type"] == type_ and (name is None or r["name"] == name)]
    assert len(found) == 1, f"{type_} {name}: {[r['name'] for r in found]}"
    return found[0]


def set_prop(type_: str, key: str, value: Any, name: str | None = None) -> Callable[[Resources], None]:
    def mutate(resources: Resources) -> None:
        props = find(resources, type_, name)["props"]
        if value is DROP:
            props.pop(key)
        else:
            props[key] = value

    return mutate


def edit_containers(edit: Callable[[dict[str, dict[str, Any]]], None]) -> Callable[[Resources], None]:
    def mutate(resources: Resources) -> None:
        props = find(resources, TASK, "task")["props"]  # Plano's (dev also has the janitor's)
        defs = json.loads(props["containerDefinitions"])
        edit({c["name"]: c for c in defs})
        props["containerDefinitions"] = json.dumps(defs)

    return mutate


def replace_in_env(container_name: str, var: str, old: str, new: str) -> Callable[[Resources], None]:
    def edit(defs: dict[str, dict[str, Any]]) -> None:
        entry = next(e for e in defs[container_name]["environment"] if e["name"] == var)
        assert old in entry["value"]
        entry["value"] = entry["value"].replace(old, new)

    return edit_containers(edit)


def sg_id(resources: Resources, name: str) -> str:
    return str(find(resources, SG, name)["id"])


def add_rule(name: str, sg: str, **props: Any) -> Callable[[Resources], None]:
    def mutate(resources: Resources) -> None:
        rule = {"securityGroupId": sg_id(resources, sg), "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, **props}
        resources.append({"type": RULE, "name": name, "props": rule})

    return mutate


def edit_param(value: str) -> Callable[[Resources], None]:
    def mutate(resources: Resources) -> None:
        for parameter in find(resources, PG)["props"]["parameters"]:
            if parameter["name"] == "rds.force_ssl":
                parameter["value"] = value

    return mutate


def db_rule_from_cidr(resources: Resources) -> None:
    props = find(resources, RULE, "db-in-service")["props"]
    del props["referencedSecurityGroupId"]
    props["cidrIpv4"] = "10.40.0.0/16"


def db_group_inline_cidr(resources: Resources) -> None:
    find(resources, SG, "db")["props"]["ingress"] = [
        {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/8"]}
    ]


def unprotect_db(resources: Resources) -> None:
    find(resources, RDS)["protect"] = False


def untag_db_single_az(resources: Resources) -> None:
    props = find(resources, RDS)["props"]
    del props["tags"]
    props["multiAz"] = False


def open_alb_rule(resources: Resources) -> None:
    rules = [r for r in resources if r["type"] == RULE and r["name"].startswith("alb-in-443-")]
    assert rules, "no HTTPS ingress rule on the load balancer"
    rules[0]["props"]["cidrIpv4"] = "0.0.0.0/0"


@dataclass(frozen=True)
class Breakage:
    id: str
    stack: str
    mutate: Callable[[Resources], None]
    policies: frozenset[str]
    """Exactly the policies that must fire (more than one where invariants overlap)."""
    context: Context = field(default_factory=Context)


def B(id_: str, stack: str, mutate: Callable[[Resources], None], *policies: str) -> Breakage:  # noqa: N802
    return Breakage(id_, stack, mutate, frozenset(policies))


def add_single_instance_aurora(resources: Resources) -> None:
    """A second database: a compliant prod Aurora cluster but for its one instance."""
    db_group = sg_id(resources, "db")
    cluster = {
        **copy.deepcopy(find(resources, RDS)["props"]),
        "engine": "aurora-postgresql",
        "clusterIdentifier": "aurora",
        "dbClusterParameterGroupName": "aurora-params",
        "vpcSecurityGroupIds": [db_group],
    }
    resources += [
        {"type": v.RDS_CLUSTER, "name": "aurora", "props": cluster, "protect": True},
        {
            "type": v.CLUSTER_PARAMETER_GROUP,
            "name": "aurora-params",
            "props": params(name="aurora-params", family="aurora-postgresql16"),
        },
        {
            "type": v.CLUSTER_INSTANCE,
            "name": "aurora-1",
            "props": {"clusterIdentifier": "aurora", "engine": "aurora-postgresql"},
        },
    ]


FOREIGN_GROUP = "sg-0f0e0d0c0b0a09080"  # a group this stack did not create


def foreign_group_on(type_: str, key: str) -> Callable[[Resources], None]:
    def mutate(resources: Resources) -> None:
        props = find(resources, type_)["props"]
        if key == "networkConfiguration":
            props[key]["securityGroups"] = [*props[key]["securityGroups"], FOREIGN_GROUP]
        else:
            props[key] = [*props[key], FOREIGN_GROUP]

    return mutate


def db_rule_from_foreign_group(resources: Resources) -> None:
    find(resources, RULE, "db-in-service")["props"]["referencedSecurityGroupId"] = FOREIGN_GROUP


def duplicate_force_ssl(resources: Resources) -> None:
    find(resources, PG)["props"]["parameters"].append({"name": "rds.force_ssl", "value": "0"})


BREAKAGES = [
    B(
        "foreign group on the service",
        "prod",
        foreign_group_on(v.ECS_SERVICE, "networkConfiguration"),
        "security-groups-owned-by-the-stack",
    ),
    B(
        "foreign group on the database",
        "dev",
        foreign_group_on(RDS, "vpcSecurityGroupIds"),
        "security-groups-owned-by-the-stack",
    ),
    B(
        "foreign group on the load balancer",
        "prod",
        foreign_group_on(ALB, "securityGroups"),
        "security-groups-owned-by-the-stack",
    ),
    B("database admits a foreign group", "dev", db_rule_from_foreign_group, "db-ingress-only-from-security-groups"),
    B("force_ssl listed twice", "dev", duplicate_force_ssl, "rds-force-ssl", "rds-force-ssl-attached"),
    B("prod aurora with one instance", "prod", add_single_instance_aurora, "prod-aurora-in-two-zones"),
    B("storage unencrypted", "dev", set_prop(RDS, "storageEncrypted", False), "rds-storage-encrypted"),
    B("database public", "dev", set_prop(RDS, "publiclyAccessible", True), "rds-not-public"),
    B("force_ssl 0", "dev", edit_param("0"), "rds-force-ssl", "rds-force-ssl-attached"),
    B(
        "default parameter group",
        "dev",
        set_prop(RDS, "parameterGroupName", "default.postgres17"),
        "rds-force-ssl",
        "rds-force-ssl-attached",
    ),
    B("instance on a foreign group", "dev", set_prop(PG, "name", "someone-elses-group"), "rds-force-ssl-attached"),
    B(
        "DB_PASSWORD in env",
        "dev",
        edit_containers(lambda d: d["plano"]["environment"].append({"name": "DB_PASSWORD", "value": "x"})),
        "no-secrets-in-container-environment",
    ),
    B(
        "password in the rendered connection string",
        "prod",
        replace_in_env("init", "PLANO_CONFIG_YAML", "$DB_PASS", "hunter2"),
        "no-secrets-in-container-environment",
    ),
    B(
        "provider key in the rendered config",
        "dev",
        replace_in_env("init", "PLANO_CONFIG_YAML", "$OPENAI_API_KEY", "sk-proj-" + "k" * 40),
        "no-secrets-in-container-environment",
    ),
    B(
        "envoy admin port mapped",
        "prod",
        edit_containers(lambda d: d["plano"]["portMappings"].append({"containerPort": 9901, "protocol": "tcp"})),
        "no-internal-ports",
    ),
    B(
        "collector's OTLP port mapped",
        "prod",
        edit_containers(lambda d: d["collector"].setdefault("portMappings", []).append({"containerPort": 4317})),
        "no-internal-ports",
    ),
    B(
        "brightstaff debug logging by a module filter",
        "prod",
        edit_containers(
            lambda d: d["plano"]["environment"].append({"name": "LOG_LEVEL", "value": "brightstaff=debug"})
        ),
        "no-credential-logging",
    ),
    B(
        "verbose PgBouncer",
        "prod",
        replace_in_env("init", "PGBOUNCER_INI", "log_connections = 0", "log_connections = 0\nverbose = 1"),
        "no-credential-logging",
    ),
    B(
        "internet into the service",
        "dev",
        add_rule("service-in-any", "service", cidrIpv4="0.0.0.0/0"),
        "no-open-ingress",
        "public-ingress-only-on-load-balancer",
        "service-ingress-only-from-load-balancer",
    ),
    B("internet into the load balancer without consent", "prod", open_alb_rule, "no-open-ingress"),
    B(
        "consented internet rule on the service",
        "prod",
        add_rule("service-in-any", "service", cidrIpv6="::/0", tags={"public-ingress": "allowed"}),
        "public-ingress-only-on-load-balancer",
        "service-ingress-only-from-load-balancer",
    ),
    B("cidr into the database", "dev", db_rule_from_cidr, "db-ingress-only-from-security-groups"),
    B("inline cidr on the database group", "prod", db_group_inline_cidr, "db-ingress-only-from-security-groups"),
    B("logs kept forever", "dev", set_prop(LOGS, "retentionInDays", 0), "log-group-retention"),
    B("no deletion protection", "prod", set_prop(RDS, "deletionProtection", False), "prod-deletion-protection"),
    B("db not protected in pulumi", "prod", unprotect_db, "prod-deletion-protection"),
    B("alb deletable", "prod", set_prop(ALB, "enableDeletionProtection", False), "prod-deletion-protection"),
    B("single az", "prod", set_prop(RDS, "multiAz", False), "prod-multi-az"),
    B("single az, profile tag removed", "prod", untag_db_single_az, "prod-multi-az"),
    B("3 days of backups", "prod", set_prop(RDS, "backupRetentionPeriod", 3), "prod-backups-7-days"),
    B("skip final snapshot", "prod", set_prop(RDS, "skipFinalSnapshot", True), "prod-final-snapshot"),
    B("no final snapshot name", "prod", set_prop(RDS, "finalSnapshotIdentifier", DROP), "prod-final-snapshot"),
    B(
        "image by tag",
        "prod",
        edit_containers(lambda d: d["plano"].update(image="katanemo/plano:0.4.36")),
        DIGEST_POLICY,
    ),
]


def compliant_base(stack: str) -> Resources:
    """The stack's resources, passing the whole pack (prod with its images pinned by digest)."""
    # dev's RDS path: the breakages below are RDS invariants (the Aurora path:
    # tests/stacks/test_review_environments.py).
    run = run_with("prod", values=PINNED) if stack == "prod" else stack_run(DEV_RDS if stack == "dev" else stack)
    return copy.deepcopy(resources_of(run))


@pytest.fixture(scope="module")
def bases() -> dict[str, Resources]:
    found = {stack: compliant_base(stack) for stack in ("dev", "prod")}
    for resources in found.values():
        assert check(resources) == [], report(check(resources))
    return found


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.id)
def test_breaking_an_invariant_fails_with_the_policy_name(breakage: Breakage, bases: dict[str, Resources]) -> None:
    resources = copy.deepcopy(bases[breakage.stack])
    breakage.mutate(resources)
    messages = check(resources, breakage.context)
    text = report(messages)
    assert violated_policies(messages) == breakage.policies, text
    for name in breakage.policies:
        assert re.search(rf"^{re.escape(name)}: ", text, re.M), text


def test_every_policy_is_broken_by_some_stack_edit() -> None:
    assert set().union(*(b.policies for b in BREAKAGES)) == set(v.POLICY_NAMES)


def test_public_ingress_needs_consent_in_the_pack_too() -> None:
    """``plano:allowPublicIngress true`` opens the load balancer, and the program tags exactly those
    rules public-ingress=allowed: the pack accepts them. Without the tag (consent), or with the
    pack's own allowPublicIngress config, the same rules are refused or accepted accordingly."""
    values = {**PINNED, "allowedCidrs": ["0.0.0.0/0", "::/0"], "allowPublicIngress": "true"}
    resources = resources_of(run_with("prod", values=values))
    open_rules = [r for r in resources if r["type"] == RULE and v.ingress_permissions(RULE, r["props"])[0].open_cidrs]
    assert len(open_rules) == 4  # 0.0.0.0/0 and ::/0 on ports 80 and 443
    assert all(r["props"]["tags"]["public-ingress"] == "allowed" for r in open_rules)
    assert check(resources) == []
    for rule in open_rules:
        rule["props"]["tags"] = {k: t for k, t in rule["props"]["tags"].items() if k != "public-ingress"}
    assert violated_policies(check(resources)) == {"no-open-ingress"}
    assert check(resources, Context(allow_public_ingress=True)) == []


# --- 5. The pack: wiring into pulumi_policy, and served as the Pulumi CLI runs it --------------------------------


def load_pack_module() -> ModuleType:
    """policy/__main__.py under another name: defines the policies, does not start the server."""
    spec = importlib.util.spec_from_file_location("plano_policy_pack", POLICY_DIR / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pack_defines_one_mandatory_policy_per_validator() -> None:
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    policies = load_pack_module().build_policies()
    assert [p.name for p in policies] == list(v.POLICY_NAMES)
    assert all(p.enforcement_level is EnforcementLevel.MANDATORY for p in policies)
    kinds = {p.name: type(p) for p in policies}
    assert {n for n, k in kinds.items() if k is ResourceValidationPolicy} == {p.name for p in v.RESOURCE_POLICIES}
    assert {n for n, k in kinds.items() if k is StackValidationPolicy} == {p.name for p in v.STACK_POLICIES}
    schemas = {p.name: set(p.config_schema.properties) for p in policies if p.config_schema}
    registry: list[v.ResourcePolicy | v.StackPolicy] = [*v.RESOURCE_POLICIES, *v.STACK_POLICIES]
    assert schemas == {p.name: set(p.config) for p in registry if p.config}


def test_pack_validations_report_through_pulumi_policy() -> None:
    from pulumi_policy import (
        PolicyCustomTimeouts,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        StackValidationArgs,
    )
    from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

    policies = {p.name: p for p in load_pack_module().build_policies()}

    def options(protect: bool = False) -> PolicyResourceOptions:
        return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])

    def validate(name: str, type_: str, props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
        reported: list[str] = []
        args = ResourceValidationArgs(type_, unknown_checking_proxy(props), "urn:x", "x", options(), None, config)
        policies[name].validate(args, lambda message, urn=None: reported.append(message))
        return reported

    assert validate("rds-storage-encrypted", RDS, rds()) == []
    assert validate("rds-storage-encrypted", RDS, rds(storageEncrypted=False))
    assert validate("prod-multi-az", RDS, rds(multiAz=False, tags=DEV_TAGS)) == []
    assert validate("prod-multi-az", RDS, rds(multiAz=False, tags=DEV_TAGS), {"profile": "prod"})
    assert validate("no-open-ingress", RULE, ingress_rule(cidrIpv4="0.0.0.0/0"), {"allowPublicIngress": True}) == []
    with pytest.raises(UnknownValueError):
        validate("rds-storage-encrypted", RDS, rds(storageEncrypted=UNKNOWN_BOOL))

    stack = [
        PolicyResource(
            r["type"], unknown_checking_proxy(r["props"]), r["urn"], r["name"], options(), None, None, [], {}
        )
        for r in resources_of(stack_run("dev"))
    ]
    reported: list[str] = []
    policies["db-ingress-only-from-security-groups"].validate(
        StackValidationArgs(stack), lambda message, urn=None: reported.append(message)
    )
    assert reported == []


def _struct(value: Mapping[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    message = struct_pb2.Struct()
    message.update(json.loads(json.dumps(value)))
    return message


@pytest.fixture(scope="module")
def served_pack() -> Iterator[Any]:
    """The pack started the way the Pulumi CLI starts it: ``python -m pulumi.policy ENGINE DIR``."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(POLICY_DIR)],
        cwd=POLICY_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the pack did not start: {port!r} {process.stderr.read() if process.stderr else ''}"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(timeout=30)


@pytest.mark.processes
def test_served_pack_lists_every_policy_as_mandatory(served_pack: Any) -> None:
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    info = served_pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "plano"
    assert [p.name for p in info.policies] == list(v.POLICY_NAMES)
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


@pytest.mark.processes
def test_served_pack_analyzes_resources_and_the_stack(served_pack: Any) -> None:
    from pulumi.runtime.proto import analyzer_pb2

    def analyze(type_: str, props: Mapping[str, Any]) -> list[Any]:
        request = analyzer_pb2.AnalyzeRequest(
            type=type_,
            properties=_struct(props),
            urn=f"urn:pulumi:prod::plano::{type_}::x",
            name="x",
            options=analyzer_pb2.AnalyzerResourceOptions(protect=True),
        )
        return list(served_pack.Analyze(request).diagnostics)

    assert analyze(RDS, rds()) == []
    broken = analyze(RDS, rds(storageEncrypted=False, multiAz=False))
    assert {d.policyName for d in broken} == {"rds-storage-encrypted", "prod-multi-az"}
    assert {d.enforcementLevel for d in broken} == {analyzer_pb2.MANDATORY}
    preview = analyze(RDS, rds(multiAz=UNKNOWN_BOOL))
    assert [(d.policyName, d.enforcementLevel) for d in preview] == [("prod-multi-az", analyzer_pb2.ADVISORY)]
    assert "during preview" in preview[0].message

    resources = compliant_base("prod")
    db_rule_from_cidr(resources)
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r["type"],
                name=r["name"],
                urn=r["urn"],
                properties=_struct({**r["props"], **({"id": r["id"]} if r.get("id") else {})}),
                options=analyzer_pb2.AnalyzerResourceOptions(protect=r["protect"]),
            )
            for r in resources
        ]
    )
    diagnostics = served_pack.AnalyzeStack(request).diagnostics
    assert [d.policyName for d in diagnostics] == ["db-ingress-only-from-security-groups"]
    assert "10.40.0.0/16" in diagnostics[0].message


# --- 6. Pack files ----------------------------------------------------------------------------------------------


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            pins[name.lower()] = version
    return pins


def test_pack_project_file_and_pins() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["description"]
    venv = (POLICY_DIR / project["runtime"]["options"]["virtualenv"]).resolve()
    program = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())
    assert venv == (PROJECT / program["runtime"]["options"]["virtualenv"]).resolve()  # one virtualenv
    pack = _pins(POLICY_DIR / "requirements.txt")
    assert pack == {"pulumi": _pins(PROJECT / "requirements.txt")["pulumi"], "pulumi-policy": "1.21.0"}
    assert metadata.version("pulumi-policy") == pack["pulumi-policy"]
    assert metadata.version("pulumi") == pack["pulumi"]


def test_prod_pack_config_names_every_prod_policy() -> None:
    """CI passes policy/config/prod.json for the prod stack: it must pin each prod-* policy."""
    config = json.loads((POLICY_DIR / "config" / "prod.json").read_text())
    prod_policies = {name for name in v.POLICY_NAMES if name.startswith("prod-")}
    assert set(config) == prod_policies
    assert all(entry == {"profile": "prod"} for entry in config.values())
    schemas = {p.name: p.config_schema for p in load_pack_module().build_policies() if p.config_schema}
    for name in config:
        assert "profile" in schemas[name].properties


def test_pack_and_program_agree_on_what_is_internet_wide() -> None:
    from plano_pulumi.core.settings import OPEN_PREFIX_BELOW, is_internet_wide

    assert v.OPEN_PREFIX_BELOW == OPEN_PREFIX_BELOW
    for cidr in ("0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/7", "10.0.0.0/8", "203.0.113.0/24", "::/0", "2000::/3"):
        assert v._is_open(cidr) == is_internet_wide(cidr), cidr
