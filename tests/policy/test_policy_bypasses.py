"""The policy pack's second round: the ways around it an adversarial pass found, closed by class.

1. Ingress into the tasks' security group, of any shape, other than the listener ports from the
   load balancer's group (or known networks when there is no load balancer).
2. Container definitions as the AWS provider reads them (any key case) and secrets hiding in
   command, entryPoint, dockerLabels, healthCheck, linuxParameters or a secret's valueFrom; one
   list of secret-looking names for the program and the pack.
4. Every PostgreSQL flavour (Aurora clusters, cluster parameter groups, cluster instances, Multi-AZ
   DB clusters), and prod rules that hold whatever case or spelling the profile tag uses.

Most variants edit the real program's resources (prod with its load balancer, dev without) and run
the whole pack over them, as ``pulumi preview --policy-pack policy`` would.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from plano_pulumi.core.errors import ConfigError

from policy import validators as v
from policy.secret_names import SECRET_NAME_WORDS
from policy.validators import Context, check, violated_policies
from tests.conftest import run_with
from tests.policy.test_policy import DROP, PROD_TAGS, Resources, compliant_base, edit_containers, find, report

SERVICE_POLICY = "service-ingress-only-from-load-balancer"
SECRETS_POLICY = "no-secrets-in-container-environment"
PORTS_POLICY = "no-internal-ports"
RULE, SG_RULE, SG = v.INGRESS_RULE, v.SECURITY_GROUP_RULE, v.SECURITY_GROUP
# Fakes with a secret's shape, built at run time (no secret-looking literal in the repository).
OPENAI_LIKE = "sk-proj-" + "Zx9" * 16
GITHUB_LIKE = "ghp_" + "q7W" * 12


@pytest.fixture(scope="module")
def bases() -> dict[str, Resources]:
    found = {stack: compliant_base(stack) for stack in ("dev", "prod")}
    for resources in found.values():
        assert check(resources) == [], report(check(resources))
    return found


def group_id(resources: Resources, name: str) -> str:
    return str(find(resources, SG, name)["id"])


# --- 1. the service's security group --------------------------------------------------------------------


def vpc_rule(source: str | None = "alb", **props: Any) -> Callable[[Resources], None]:
    """Add an aws:vpc/securityGroupIngressRule into the service's group (source: a group's name)."""

    def mutate(resources: Resources) -> None:
        rule = {
            "securityGroupId": group_id(resources, "service"),
            "ipProtocol": "tcp",
            "fromPort": 12000,
            "toPort": 12000,
        }
        if source:
            rule["referencedSecurityGroupId"] = group_id(resources, source)
        rule.update(props)
        resources.append({"type": RULE, "name": "extra-in", "props": {k: x for k, x in rule.items() if x is not DROP}})

    return mutate


def classic_rule(source: str | None = "alb", **props: Any) -> Callable[[Resources], None]:
    """Add an aws:ec2/securityGroupRule (type ingress) into the service's group."""

    def mutate(resources: Resources) -> None:
        rule = {"type": "ingress", "securityGroupId": group_id(resources, "service"), "protocol": "tcp"}
        rule.update(fromPort=12000, toPort=12000)
        if source:
            rule["sourceSecurityGroupId"] = group_id(resources, source)
        rule.update(props)
        resources.append({"type": SG_RULE, "name": "extra-rule", "props": rule})

    return mutate


def inline_rule(**rule: Any) -> Callable[[Resources], None]:
    """Give the service's security group an inline ingress rule."""

    def mutate(resources: Resources) -> None:
        props = find(resources, SG, "service")["props"]
        props["ingress"] = [{"protocol": "tcp", "fromPort": 12000, "toPort": 12000, **rule}]

    return mutate


def inline_from(source: str, **rule: Any) -> Callable[[Resources], None]:
    def mutate(resources: Resources) -> None:
        inline_rule(securityGroups=[group_id(resources, source)], **rule)(resources)

    return mutate


@dataclass(frozen=True)
class Edit:
    id: str
    stack: str
    mutate: Callable[[Resources], None]
    fires: str | None
    """The policy that must report it (None: the edit is compliant)."""


SERVICE_EDITS = [
    Edit(
        "vpc range on Envoy admin",
        "prod",
        vpc_rule(None, cidrIpv4="10.0.0.0/8", fromPort=9901, toPort=9901),
        SERVICE_POLICY,
    ),
    Edit(
        "vpc range on the listener, with a load balancer",
        "prod",
        vpc_rule(None, cidrIpv4="10.0.0.0/16"),
        SERVICE_POLICY,
    ),
    Edit(
        "all protocols from the load balancer",
        "prod",
        vpc_rule(ipProtocol="-1", fromPort=DROP, toPort=DROP),
        SERVICE_POLICY,
    ),
    Edit("every TCP port from the load balancer", "prod", vpc_rule(fromPort=0, toPort=65535), SERVICE_POLICY),
    Edit("a range over 9901 from the load balancer", "prod", vpc_rule(fromPort=9000, toPort=12000), SERVICE_POLICY),
    Edit("UDP on the listener port", "prod", vpc_rule(ipProtocol="udp"), SERVICE_POLICY),
    Edit(
        "prefix list on the listener port", "prod", vpc_rule(None, prefixListId="pl-0123456789abcdef0"), SERVICE_POLICY
    ),
    Edit("from the database's group", "prod", vpc_rule("db"), SERVICE_POLICY),
    Edit(
        "classic rule, vpc range on 9901",
        "prod",
        classic_rule(None, cidrBlocks=["10.40.0.0/16"], fromPort=9901, toPort=9901),
        SERVICE_POLICY,
    ),
    Edit("classic rule, protocol -1", "prod", classic_rule(protocol="-1", fromPort=0, toPort=0), SERVICE_POLICY),
    Edit("classic rule, self", "prod", classic_rule(None, self=True, fromPort=9091, toPort=9092), SERVICE_POLICY),
    Edit("inline rule, prefix list", "prod", inline_rule(prefixListIds=["pl-0123456789abcdef0"]), SERVICE_POLICY),
    Edit(
        "inline rule, self on all ports",
        "prod",
        inline_rule(self=True, protocol="-1", fromPort=0, toPort=0),
        SERVICE_POLICY,
    ),
    Edit(
        "inline rule, VPC range on 9901",
        "dev",
        inline_rule(cidrBlocks=["10.0.0.0/8"], fromPort=9901, toPort=9901),
        SERVICE_POLICY,
    ),
    Edit(
        "no load balancer: VPC range on 9901",
        "dev",
        vpc_rule(None, cidrIpv4="10.0.0.0/8", fromPort=9901, toPort=9901),
        SERVICE_POLICY,
    ),
    Edit(
        "no load balancer: all ports from a range",
        "dev",
        vpc_rule(None, cidrIpv4="10.0.0.0/8", fromPort=0, toPort=65535),
        SERVICE_POLICY,
    ),
    # Compliant: what the stack itself does, in other shapes.
    Edit("load balancer on the listener (again)", "prod", vpc_rule(), None),
    Edit("load balancer on the listener, protocol 6", "prod", vpc_rule(ipProtocol="6"), None),
    Edit("classic rule from the load balancer", "prod", classic_rule(), None),
    Edit("inline rule from the load balancer", "prod", inline_from("alb"), None),
    Edit("no load balancer: a known network on the listener", "dev", vpc_rule(None, cidrIpv4="10.0.0.0/8"), None),
]


@pytest.mark.parametrize("edit", SERVICE_EDITS, ids=lambda e: e.id)
def test_service_security_group_admits_only_the_listeners_from_the_load_balancer(
    edit: Edit, bases: dict[str, Resources]
) -> None:
    resources = copy.deepcopy(bases[edit.stack])
    edit.mutate(resources)
    messages = check(resources)
    if edit.fires is None:
        assert messages == [], report(messages)
    else:
        assert edit.fires in violated_policies(messages), report(messages)
        assert "9901" in report(messages)  # the message says why it matters


def test_a_service_without_a_security_group_is_refused(bases: dict[str, Resources]) -> None:
    resources = copy.deepcopy(bases["prod"])
    find(resources, v.ECS_SERVICE)["props"]["networkConfiguration"].pop("securityGroups")
    assert SERVICE_POLICY in violated_policies(check(resources))


# --- 2. container definitions as AWS reads them -------------------------------------------------------------


def plano(edit: Callable[[dict[str, Any]], None]) -> Callable[[Resources], None]:
    return edit_containers(lambda defs: edit(defs["plano"]))


def rekey(container: dict[str, Any], old: str, new: str) -> None:
    container[new] = container.pop(old)


CONTAINER_EDITS = [
    Edit(
        "Environment (capital E), DB_PASSWORD",
        "prod",
        plano(
            lambda c: (
                rekey(c, "environment", "Environment"),
                c["Environment"].append({"name": "DB_PASSWORD", "value": "x"}),
            )
        ),
        SECRETS_POLICY,
    ),
    Edit(
        "ENVIRONMENT with Name/Value keys",
        "dev",
        plano(lambda c: c.update(ENVIRONMENT=[{"Name": "X", "Value": OPENAI_LIKE}])),
        SECRETS_POLICY,
    ),
    Edit(
        "environment and Environment both",
        "dev",
        plano(lambda c: c.update(Environment=[{"name": "GITHUB_TOKEN", "value": "x"}])),
        SECRETS_POLICY,
    ),
    Edit(
        "a CREDENTIAL name",
        "prod",
        plano(lambda c: c["environment"].append({"name": "MY_CREDENTIALS", "value": "x"})),
        SECRETS_POLICY,
    ),
    Edit(
        "PortMappings on 9901",
        "prod",
        plano(lambda c: (rekey(c, "portMappings", "PortMappings"), c["PortMappings"].append({"ContainerPort": 9901}))),
        PORTS_POLICY,
    ),
    Edit(
        "portmappings range over 9091",
        "dev",
        plano(lambda c: c.update(portmappings=[{"containerPortRange": "9000-9100"}])),
        PORTS_POLICY,
    ),
    Edit(
        "Secrets valueFrom holding the key itself",
        "prod",
        plano(lambda c: c.update(Secrets=[{"Name": "OPENAI_API_KEY", "ValueFrom": OPENAI_LIKE}])),
        SECRETS_POLICY,
    ),
    Edit(
        "command with a key", "prod", plano(lambda c: c.update(command=["plano", "--key", OPENAI_LIKE])), SECRETS_POLICY
    ),
    Edit(
        "entryPoint with a password",
        "dev",
        plano(lambda c: c.update(entryPoint=["sh", "-c", "psql 'host=db password=hunter2'"])),
        SECRETS_POLICY,
    ),
    Edit(
        "dockerLabels with a secret's name",
        "prod",
        plano(lambda c: c.update(dockerLabels={"API_KEY": "x"})),
        SECRETS_POLICY,
    ),
    Edit(
        "DockerLabels with a token value",
        "dev",
        plano(lambda c: c.update(DockerLabels={"owner": GITHUB_LIKE})),
        SECRETS_POLICY,
    ),
    Edit(
        "healthCheck URL with a password",
        "prod",
        plano(lambda c: c["healthCheck"]["command"].append("http://u:hunter2@127.0.0.1:12000/healthz")),
        SECRETS_POLICY,
    ),
    Edit(
        "linuxParameters with a token",
        "dev",
        plano(
            lambda c: c["linuxParameters"].update(
                tmpfs=[{"containerPath": "/x", "size": 1, "mountOptions": [f"token={GITHUB_LIKE}"]}]
            )
        ),
        SECRETS_POLICY,
    ),
    # Compliant: placeholders and ARNs.
    Edit(
        "command with a placeholder",
        "prod",
        plano(lambda c: c.update(command=["plano", "--key", "$OPENAI_API_KEY"])),
        None,
    ),
    Edit("Secrets with an ARN", "dev", plano(lambda c: c.update(Secrets=c.pop("secrets"))), None),
]


@pytest.mark.parametrize("edit", CONTAINER_EDITS, ids=lambda e: e.id)
def test_container_definitions_are_read_as_aws_reads_them(edit: Edit, bases: dict[str, Resources]) -> None:
    resources = copy.deepcopy(bases[edit.stack])
    edit.mutate(resources)
    messages = check(resources)
    if edit.fires is None:
        assert messages == [], report(messages)
        return
    assert edit.fires in violated_policies(messages), report(messages)
    for secret in (OPENAI_LIKE, GITHUB_LIKE, "hunter2"):
        assert secret not in report(messages)


@pytest.mark.parametrize("word", SECRET_NAME_WORDS)
def test_program_and_pack_refuse_the_same_names(word: str, bases: dict[str, Resources]) -> None:
    """One list: a name the program refuses in plano:environment, the pack refuses in a container."""
    name = f"MY_{word.lower()}_VALUE"
    run = run_with("dev", values={"environment": {name: "x"}})
    assert isinstance(run.error, ConfigError) and name in str(run.error), run.error
    resources = copy.deepcopy(bases["dev"])
    plano(lambda c: c["environment"].append({"name": name, "value": "x"}))(resources)
    assert SECRETS_POLICY in violated_policies(check(resources))


# --- 4. every PostgreSQL flavour, every spelling of prod ----------------------------------------------------

CLUSTER, CLUSTER_PG, CLUSTER_INSTANCE = v.RDS_CLUSTER, v.CLUSTER_PARAMETER_GROUP, v.CLUSTER_INSTANCE


def aurora(**changes: Any) -> dict[str, Any]:
    base = {
        "clusterIdentifier": "plano-prod",
        "engine": "aurora-postgresql",
        "engineMode": "provisioned",
        "engineVersion": "16.4",
        "storageEncrypted": True,
        "dbClusterParameterGroupName": "plano-prod-aurora",
        "vpcSecurityGroupIds": ["sg-db"],
        "deletionProtection": True,
        "backupRetentionPeriod": 14,
        "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "plano-prod-final-1a2b3c4d",
        "serverlessv2ScalingConfiguration": {"minCapacity": 0, "maxCapacity": 4, "secondsUntilAutoPause": 600},
        "tags": PROD_TAGS,
    }
    return {k: x for k, x in {**base, **changes}.items() if x is not DROP}


def cluster_params(
    force_ssl: Any = "1", family: str = "aurora-postgresql16", name: str = "plano-prod-aurora"
) -> dict[str, Any]:
    parameters = [] if force_ssl is DROP else [{"name": "rds.force_ssl", "value": force_ssl}]
    return {"name": name, "family": family, "parameters": parameters}


def member(**changes: Any) -> dict[str, Any]:
    return {
        "clusterIdentifier": "plano-prod",
        "instanceClass": "db.serverless",
        "engine": "aurora-postgresql",
        "publiclyAccessible": False,
        **changes,
    }


def stack(
    *,
    cluster: dict[str, Any] | None = None,
    group: dict[str, Any] | None = None,
    members: int = 2,
    **extra: Any,
) -> list[dict[str, Any]]:
    resources = [
        {"type": CLUSTER, "name": "aurora", "props": cluster or aurora(), "protect": True},
        {"type": CLUSTER_PG, "name": "aurora-params", "props": group or cluster_params()},
        *[{"type": CLUSTER_INSTANCE, "name": f"aurora-{i}", "props": member()} for i in range(members)],
        {"type": SG, "name": "db", "props": {}, "id": "sg-db"},  # the stack's own database group
    ]
    return resources + [{"type": t, "name": n, "props": p} for n, (t, p) in extra.items()]


@dataclass(frozen=True)
class Flavour:
    id: str
    resources: list[dict[str, Any]]
    fires: str | None
    context: Context = field(default_factory=Context)


FLAVOURS = [
    Flavour("aurora serverless v2, compliant", stack(), None),
    Flavour(
        "multi-az db cluster (engine postgres), compliant",
        stack(
            cluster=aurora(engine="postgres", dbClusterParameterGroupName="mz"),
            group=cluster_params(family="postgres16", name="mz"),
        ),
        None,
    ),
    Flavour("aurora unencrypted", stack(cluster=aurora(storageEncrypted=False)), "rds-storage-encrypted"),
    Flavour("aurora encryption not set", stack(cluster=aurora(storageEncrypted=DROP)), "rds-storage-encrypted"),
    Flavour(
        "cluster instance public",
        [*stack(), {"type": CLUSTER_INSTANCE, "name": "pub", "props": member(publiclyAccessible=True)}],
        "rds-not-public",
    ),
    Flavour("cluster parameter group force_ssl 0", stack(group=cluster_params(force_ssl="0")), "rds-force-ssl"),
    Flavour("cluster parameter group without force_ssl", stack(group=cluster_params(force_ssl=DROP)), "rds-force-ssl"),
    Flavour(
        "engine in capitals, group without force_ssl",
        stack(
            cluster=aurora(engine="Aurora-PostgreSQL"),
            group=cluster_params(force_ssl=DROP, family="Aurora-PostgreSQL16"),
        ),
        "rds-force-ssl",
    ),
    Flavour(
        "postgres multi-az cluster group without force_ssl",
        stack(cluster=aurora(engine="postgres"), group=cluster_params(force_ssl="0", family="postgres16")),
        "rds-force-ssl",
    ),
    Flavour(
        "cluster on the default group",
        stack(cluster=aurora(dbClusterParameterGroupName="default.aurora-postgresql16")),
        "rds-force-ssl",
    ),
    Flavour(
        "cluster without a group", stack(cluster=aurora(dbClusterParameterGroupName=DROP)), "rds-force-ssl-attached"
    ),
    Flavour(
        "cluster on a group this stack does not manage",
        stack(cluster=aurora(dbClusterParameterGroupName="theirs")),
        "rds-force-ssl-attached",
    ),
    Flavour(
        "cluster security group admits a CIDR",
        stack(
            rule=(
                RULE,
                {
                    "securityGroupId": "sg-db",
                    "ipProtocol": "tcp",
                    "fromPort": 5432,
                    "toPort": 5432,
                    "cidrIpv4": "10.0.0.0/8",
                },
            )
        ),
        "db-ingress-only-from-security-groups",
    ),
    Flavour("prod aurora deletable", stack(cluster=aurora(deletionProtection=False)), "prod-deletion-protection"),
    Flavour("prod aurora one day of backups", stack(cluster=aurora(backupRetentionPeriod=1)), "prod-backups-7-days"),
    Flavour(
        "prod aurora skips the final snapshot", stack(cluster=aurora(skipFinalSnapshot=True)), "prod-final-snapshot"
    ),
    Flavour(
        "dev aurora may skip the final snapshot",
        stack(
            cluster=aurora(
                skipFinalSnapshot=True,
                finalSnapshotIdentifier=DROP,
                deletionProtection=False,
                backupRetentionPeriod=1,
                tags={**PROD_TAGS, "profile": "dev"},
            )
        ),
        None,
    ),
    Flavour(
        "mysql cluster group is not ours",
        [
            *stack(),
            {
                "type": CLUSTER_PG,
                "name": "mysql",
                "props": cluster_params(force_ssl=DROP, family="aurora-mysql8.0", name="m"),
            },
        ],
        None,
    ),
]


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f.id)
def test_every_postgres_flavour_is_held_to_the_postgres_policies(flavour: Flavour) -> None:
    messages = check(flavour.resources, flavour.context)
    if flavour.fires is None:
        assert messages == [], report(messages)
    else:
        assert flavour.fires in violated_policies(messages), report(messages)


@pytest.mark.parametrize(
    "tags",
    [
        {"profile": "Prod"},
        {"profile": "PROD"},
        {"profile": "production"},
        {"profile": " prod "},
        {"profile": "prd"},
        {"Profile": "dev", "profile": "Production"},
        {"PROFILE": "prod", "profile": "dev"},
        {"profile": ""},
        {},
    ],
)
def test_prod_rules_hold_for_every_spelling_of_prod(tags: dict[str, str]) -> None:
    resources = [
        {"type": v.RDS_INSTANCE, "name": "db", "props": {"multiAz": False, "backupRetentionPeriod": 1, "tags": tags}}
    ]
    assert {"prod-multi-az", "prod-backups-7-days"} <= violated_policies(check(resources))


@pytest.mark.parametrize("tags", [{"profile": "dev"}, {"profile": "Dev"}, {"Profile": " DEV "}, {"profile": "local"}])
def test_dev_profile_in_any_case_still_relaxes_the_prod_rules(tags: dict[str, str]) -> None:
    resources = [
        {"type": v.RDS_INSTANCE, "name": "db", "props": {"multiAz": False, "backupRetentionPeriod": 1, "tags": tags}}
    ]
    assert not {"prod-multi-az", "prod-backups-7-days"} & violated_policies(check(resources))


def test_policy_config_profile_in_another_case_is_prod() -> None:
    resources = [{"type": v.RDS_INSTANCE, "name": "db", "props": {"multiAz": False, "tags": {"profile": "dev"}}}]
    assert "prod-multi-az" in violated_policies(check(resources, Context(profile="Production")))


def test_pack_reads_container_json_of_any_case_in_every_task_policy() -> None:
    """The same definition, keys in three cases, gives the same violations."""
    base = {
        "name": "plano",
        "image": "katanemo/plano:0.4.36",
        "environment": [{"name": "API_TOKEN", "value": "x"}],
        "portMappings": [{"containerPort": 9901}],
    }
    shapes = [
        base,
        {k[0].upper() + k[1:]: x for k, x in base.items()},
        json.loads(json.dumps(base).upper().replace("KATANEMO/PLANO:0.4.36", "katanemo/plano:0.4.36")),
    ]
    found = [
        violated_policies(
            check(
                [
                    {
                        "type": v.TASK_DEFINITION,
                        "name": "t",
                        "props": {"containerDefinitions": json.dumps([s]), "tags": PROD_TAGS},
                    }
                ]
            )
        )
        for s in shapes
    ]
    assert found[0] == found[1] == found[2] >= {SECRETS_POLICY, PORTS_POLICY, "prod-images-pinned-by-digest"}
