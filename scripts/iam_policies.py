#!/usr/bin/env python3
"""The IAM policy documents of the roles that run this project, written to docs/iam/.

    .venv/bin/python scripts/iam_policies.py            rewrite docs/iam/*.json
    .venv/bin/python scripts/iam_policies.py --check    exit 1 when a committed file is not current

One role per job kind, each with a permission policy (``<role>.json``) and, for the GitHub Actions
roles, a trust policy (``<role>.trust.json``, OIDC, the job's ``sub`` claim):

    deploy-dev    deploy.yml's dev job (push to main)          writes dev's resources and state
    deploy-prod   deploy.yml's prod job (environment production) writes prod's resources and state
    preview       pull-request.yml's dev preview               reads only; never a secret value
    preview-prod  pull-request.yml's prod preview (environment production-preview, reviewers)
    review        review-stacks.yml (pr-<number> stacks)       writes pr-* stacks in dev's network
    operator      a person running the scripts and stack outputs (port forwarding, keys, prices)

The actions come from ``RESOURCE_ACTIONS`` (per resource type the program registers: what
reading it and what changing it needs), ``INVOKE_ACTIONS`` (the data sources it calls) and
``CLI_ACTIONS`` (the ``aws`` commands in scripts/). tests/scripts/test_iam_policies.py derives the types
from the program run under mocks and the commands from the scripts and checks each role's document
covers what its jobs call, that preview roles only read, and that nothing a pull request can run
reaches prod's state or key. Replace the upper-case placeholders (YOUR-STATE-BUCKET, ACCOUNT,
OWNER/REPO, the KMS aliases) with yours.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
IAM_DIR = PROJECT / "docs" / "iam"
PULUMI_PROJECT = "plano"
STATE_BUCKET = "arn:aws:s3:::YOUR-STATE-BUCKET"
PROD_SECRETS_KEY = "arn:aws:kms:REGION:ACCOUNT:alias/plano-prod"  # pulumi stack init prod --secrets-provider
OIDC_PROVIDER = "arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com"
REPO = "OWNER/REPO"

_EC2_TAGS = ["ec2:CreateTags", "ec2:DeleteTags"]
_RDS_TAGS = ["rds:AddTagsToResource", "rds:RemoveTagsFromResource"]
_ELB_TAGS = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
_SLR = ["iam:CreateServiceLinkedRole"]  # first use of ECS, ELB, RDS, Application Auto Scaling in an account

# Resource type -> (actions to read it, actions to create, change and delete it).
RESOURCE_ACTIONS: dict[str, tuple[list[str], list[str]]] = {
    "aws:appautoscaling/policy:Policy": (
        ["application-autoscaling:DescribeScalingPolicies", "cloudwatch:DescribeAlarms"],
        [
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
            "cloudwatch:PutMetricAlarm",  # target tracking creates its alarms as the caller
            "cloudwatch:DeleteAlarms",
        ],
    ),
    "aws:appautoscaling/scheduledAction:ScheduledAction": (
        ["application-autoscaling:DescribeScheduledActions"],
        ["application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction"],
    ),
    "aws:appautoscaling/target:Target": (
        ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:ListTagsForResource"],
        [
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:TagResource",
            "application-autoscaling:UntagResource",
            *_SLR,
        ],
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        ["logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup"],
        [
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:TagLogGroup",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
        ],
    ),
    "aws:ec2/eip:Eip": (
        ["ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"],
        ["ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DisassociateAddress", *_EC2_TAGS],
    ),
    "aws:ec2/internetGateway:InternetGateway": (
        ["ec2:DescribeInternetGateways"],
        [
            "ec2:CreateInternetGateway",
            "ec2:DeleteInternetGateway",
            "ec2:AttachInternetGateway",
            "ec2:DetachInternetGateway",
            *_EC2_TAGS,
        ],
    ),
    "aws:ec2/natGateway:NatGateway": (
        ["ec2:DescribeNatGateways"],
        ["ec2:CreateNatGateway", "ec2:DeleteNatGateway", *_EC2_TAGS],
    ),
    "aws:ec2/routeTable:RouteTable": (
        ["ec2:DescribeRouteTables"],
        [
            "ec2:CreateRouteTable",
            "ec2:DeleteRouteTable",
            "ec2:CreateRoute",
            "ec2:DeleteRoute",
            "ec2:ReplaceRoute",
            *_EC2_TAGS,
        ],
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        ["ec2:DescribeRouteTables"],
        ["ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:ReplaceRouteTableAssociation"],
    ),
    "aws:ec2/securityGroup:SecurityGroup": (
        ["ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeNetworkInterfaces"],
        [
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupEgress",  # the default allow-all egress rule
            *_EC2_TAGS,
        ],
    ),
    "aws:ec2/subnet:Subnet": (
        ["ec2:DescribeSubnets"],
        ["ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute", *_EC2_TAGS],
    ),
    "aws:ec2/vpc:Vpc": (
        ["ec2:DescribeVpcs", "ec2:DescribeVpcAttribute"],
        ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", *_EC2_TAGS],
    ),
    "aws:ecs/cluster:Cluster": (
        ["ecs:DescribeClusters", "ecs:ListTagsForResource"],
        ["ecs:CreateCluster", "ecs:DeleteCluster", "ecs:UpdateCluster", "ecs:TagResource", "ecs:UntagResource", *_SLR],
    ),
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": (
        ["ecs:DescribeClusters"],
        ["ecs:PutClusterCapacityProviders"],
    ),
    "aws:ecs/service:Service": (
        ["ecs:DescribeServices", "ecs:ListTagsForResource"],
        ["ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:TagResource", "ecs:UntagResource"],
    ),
    "aws:ecs/taskDefinition:TaskDefinition": (
        ["ecs:DescribeTaskDefinition", "ecs:ListTagsForResource"],
        [
            "ecs:RegisterTaskDefinition",
            "ecs:DeregisterTaskDefinition",
            "ecs:TagResource",
            "iam:PassRole",  # the task and execution roles
        ],
    ),
    "aws:iam/role:Role": (
        ["iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"],
        [
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
        ],
    ),
    "aws:iam/rolePolicy:RolePolicy": (["iam:GetRolePolicy"], ["iam:PutRolePolicy", "iam:DeleteRolePolicy"]),
    "aws:lb/listener:Listener": (
        ["elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTags"],
        [
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:ModifyListener",
            *_ELB_TAGS,
        ],
    ),
    "aws:lb/loadBalancer:LoadBalancer": (
        [
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeTags",
        ],
        [
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            *_ELB_TAGS,
            *_SLR,
        ],
    ),
    "aws:lb/targetGroup:TargetGroup": (
        [
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTags",
        ],
        [
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            *_ELB_TAGS,
        ],
    ),
    "aws:rds/cluster:Cluster": (
        ["rds:DescribeDBClusters", "rds:ListTagsForResource"],
        ["rds:CreateDBCluster", "rds:ModifyDBCluster", "rds:DeleteDBCluster", *_RDS_TAGS, *_SLR],
    ),
    "aws:rds/clusterInstance:ClusterInstance": (
        ["rds:DescribeDBInstances", "rds:ListTagsForResource"],
        ["rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance", "rds:RebootDBInstance", *_RDS_TAGS],
    ),
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": (
        ["rds:DescribeDBClusterParameterGroups", "rds:DescribeDBClusterParameters", "rds:ListTagsForResource"],
        [
            "rds:CreateDBClusterParameterGroup",
            "rds:ModifyDBClusterParameterGroup",
            "rds:ResetDBClusterParameterGroup",
            "rds:DeleteDBClusterParameterGroup",
            *_RDS_TAGS,
        ],
    ),
    "aws:rds/instance:Instance": (
        ["rds:DescribeDBInstances", "rds:DescribeDBSnapshots", "rds:ListTagsForResource"],
        [
            "rds:CreateDBInstance",
            "rds:ModifyDBInstance",
            "rds:DeleteDBInstance",
            "rds:RebootDBInstance",
            *_RDS_TAGS,
            *_SLR,
        ],
    ),
    "aws:rds/parameterGroup:ParameterGroup": (
        ["rds:DescribeDBParameterGroups", "rds:DescribeDBParameters", "rds:ListTagsForResource"],
        [
            "rds:CreateDBParameterGroup",
            "rds:ModifyDBParameterGroup",
            "rds:ResetDBParameterGroup",
            "rds:DeleteDBParameterGroup",
            *_RDS_TAGS,
        ],
    ),
    "aws:rds/subnetGroup:SubnetGroup": (
        ["rds:DescribeDBSubnetGroups", "rds:ListTagsForResource"],
        ["rds:CreateDBSubnetGroup", "rds:ModifyDBSubnetGroup", "rds:DeleteDBSubnetGroup", *_RDS_TAGS],
    ),
    "aws:route53/record:Record": (
        ["route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:GetChange"],
        ["route53:ChangeResourceRecordSets"],
    ),
    "aws:secretsmanager/secret:Secret": (
        ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
        [
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
        ],
    ),
    # The provider reads a version's value back: only the roles that write may read secret values.
    "aws:secretsmanager/secretVersion:SecretVersion": (
        ["secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"],
        ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:GetSecretValue"],
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        ["ec2:DescribeSecurityGroupRules"],
        [
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:ModifySecurityGroupRules",
            *_EC2_TAGS,
        ],
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        ["ec2:DescribeSecurityGroupRules"],
        [
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:ModifySecurityGroupRules",
            *_EC2_TAGS,
        ],
    ),
}
_CW_TAGS = ["cloudwatch:TagResource", "cloudwatch:UntagResource"]
RESOURCE_ACTIONS.update(
    {
        # Monitoring (plano:alarms): the topic, alarms, log metric filters, crash-loop events, dashboard.
        "aws:cloudwatch/dashboard:Dashboard": (
            ["cloudwatch:GetDashboard"],
            ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"],
        ),
        "aws:cloudwatch/eventRule:EventRule": (
            ["events:DescribeRule", "events:ListTagsForResource"],
            ["events:PutRule", "events:DeleteRule", "events:TagResource", "events:UntagResource"],
        ),
        "aws:cloudwatch/eventTarget:EventTarget": (
            ["events:ListTargetsByRule"],
            ["events:PutTargets", "events:RemoveTargets"],
        ),
        "aws:cloudwatch/logMetricFilter:LogMetricFilter": (
            ["logs:DescribeMetricFilters"],
            ["logs:PutMetricFilter", "logs:DeleteMetricFilter"],
        ),
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": (
            ["logs:DescribeResourcePolicies"],
            ["logs:PutResourcePolicy", "logs:DeleteResourcePolicy"],
        ),
        "aws:cloudwatch/metricAlarm:MetricAlarm": (
            ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
            ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", *_CW_TAGS],
        ),
        "aws:sns/topic:Topic": (
            ["sns:GetTopicAttributes", "sns:ListTagsForResource"],
            ["sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:TagResource", "sns:UntagResource"],
        ),
        "aws:sns/topicSubscription:TopicSubscription": (
            ["sns:GetSubscriptionAttributes"],
            ["sns:Subscribe", "sns:Unsubscribe", "sns:SetSubscriptionAttributes"],
        ),
        # Review databases: the provisioning secret's resource policy (only review stacks may read it).
        "aws:secretsmanager/secretPolicy:SecretPolicy": (
            ["secretsmanager:GetResourcePolicy"],
            ["secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy"],
        ),
    }
)
# Data sources the program calls (aws.<module>.get_<name> in components/): read-only.
INVOKE_ACTIONS: dict[str, list[str]] = {
    "get_availability_zones": ["ec2:DescribeAvailabilityZones"],
    "get_caller_identity": ["sts:GetCallerIdentity"],
    "get_partition": [],
    "secretsmanager.get_secrets": ["secretsmanager:ListSecrets"],
    "secretsmanager.get_secret_versions": ["secretsmanager:ListSecretVersionIds"],
    # The engine-change guard and the subnet group's current name (aws/database.py), at preview.
    "rds.get_cluster": ["rds:DescribeDBClusters"],
    "rds.get_clusters": ["rds:DescribeDBClusters"],
    "rds.get_instance": ["rds:DescribeDBInstances"],
    "rds.get_instances": ["rds:DescribeDBInstances"],
    "rds.get_subnet_group": ["rds:DescribeDBSubnetGroups"],
}
# `aws <service> <command>` in scripts/ -> IAM actions (a waiter polls a describe call).
CLI_ACTIONS: dict[str, list[str]] = {
    "application-autoscaling register-scalable-target": ["application-autoscaling:RegisterScalableTarget"],
    "ecs describe-services": ["ecs:DescribeServices"],
    "ecs describe-tasks": ["ecs:DescribeTasks"],
    "ecs list-tasks": ["ecs:ListTasks"],
    # scripts/ci/drop-review-databases.sh: dev's janitor as a one-off task (its roles passed to it).
    "ecs run-task": ["ecs:RunTask", "iam:PassRole"],
    "ecs wait tasks-stopped": ["ecs:DescribeTasks"],
    "ecs update-service": ["ecs:UpdateService"],
    "ecs wait services-stable": ["ecs:DescribeServices"],
    "pricing get-products": ["pricing:GetProducts"],
    "route53 list-hosted-zones-by-name": ["route53:ListHostedZonesByName"],
    "secretsmanager describe-secret": ["secretsmanager:DescribeSecret"],
    "secretsmanager get-secret-value": ["secretsmanager:GetSecretValue"],
    "secretsmanager put-secret-value": ["secretsmanager:PutSecretValue"],
    "ssm start-session": ["ssm:StartSession", "ssm:TerminateSession"],
    "sts get-caller-identity": ["sts:GetCallerIdentity"],
}
# A customer managed key (plano:kmsKeyArn) for the database, logs and secrets.
KMS_ACTIONS = ["kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"]
# What a person runs besides pulumi: scripts/port-forward.sh, the stack outputs (fill commands,
# redeploy, wake) and scripts/refresh_prices.py --query-api.
OPERATOR_COMMANDS = [
    "ecs list-tasks",
    "ecs describe-services",
    "ecs describe-tasks",
    "ssm start-session",
    "secretsmanager put-secret-value",
    "ecs update-service",
    "application-autoscaling register-scalable-target",
    "pricing get-products",
    "route53 list-hosted-zones-by-name",
    "sts get-caller-identity",
]
# Resource types a review stack registers: it shares dev's network (no VPC, subnets, gateways).
NETWORK_TYPES = {
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
}
# The CI roles: which stacks' state each reads and writes, its jobs' scripts' commands, its trust.
ROLES: dict[str, dict[str, Any]] = {
    "deploy-dev": {
        "writes": True,
        "types": set(RESOURCE_ACTIONS),
        "state_rw": ["dev"],
        "state_read": [],
        "commands": ["ecs describe-services", "ecs wait services-stable"],
        "sub": f"repo:{REPO}:ref:refs/heads/main",
    },
    "deploy-prod": {
        "writes": True,
        "types": set(RESOURCE_ACTIONS),
        "state_rw": ["prod"],
        "state_read": [],
        "commands": ["ecs describe-services", "ecs wait services-stable"],
        "prod_key": True,
        "sub": f"repo:{REPO}:environment:production",
    },
    "preview": {
        "writes": False,
        "types": set(RESOURCE_ACTIONS),
        "state_rw": [],
        "state_read": ["dev"],
        "commands": [],
        "sub": f"repo:{REPO}:pull_request",
    },
    "preview-prod": {
        "writes": False,
        "types": set(RESOURCE_ACTIONS),
        "state_rw": [],
        "state_read": ["prod"],
        "commands": [],
        "prod_key": True,
        "sub": f"repo:{REPO}:environment:production-preview",
    },
    "review": {
        "writes": True,
        "types": set(RESOURCE_ACTIONS) - NETWORK_TYPES,
        "state_rw": ["pr-*"],
        "state_read": ["dev"],  # the network stack's outputs
        "commands": [
            "secretsmanager describe-secret",
            "secretsmanager get-secret-value",
            "secretsmanager put-secret-value",
            "ecs update-service",
            "ecs describe-services",
            "ecs wait services-stable",
            "ecs run-task",
            "ecs describe-tasks",
            "ecs wait tasks-stopped",
        ],
        # pull_request for up/destroy; the daily cleanup runs on main
        "sub": [f"repo:{REPO}:pull_request", f"repo:{REPO}:ref:refs/heads/main"],
    },
}


def _sorted(actions: list[str]) -> list[str]:
    return sorted(set(actions), key=str.lower)


def role_actions(role: str) -> tuple[list[str], list[str]]:
    """(cloud actions, CLI actions) of a role."""
    spec = ROLES[role]
    actions: list[str] = []
    for type_ in sorted(spec["types"]):
        read, write = RESOURCE_ACTIONS[type_]
        actions += read + (write if spec["writes"] else [])
    for invoke in INVOKE_ACTIONS.values():
        actions += invoke
    if spec["writes"]:
        actions += KMS_ACTIONS
    cli = [a for command in spec["commands"] for a in CLI_ACTIONS[command]]
    return _sorted(actions), _sorted(cli)


def _state_statements(spec: dict[str, Any]) -> list[dict[str, Any]]:
    def objects(stacks: list[str]) -> list[str]:
        # .pulumi/stacks/plano/<stack>.json, .pulumi/history/plano/<stack>/..., .pulumi/backups/...
        return [f"{STATE_BUCKET}/.pulumi/*/{PULUMI_PROJECT}/{s}*" for s in stacks]

    statements: list[dict[str, Any]] = [
        {
            "Sid": "StateBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
            "Resource": STATE_BUCKET,
        },
        {
            "Sid": "StateMeta",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": f"{STATE_BUCKET}/.pulumi/meta.yaml",
        },
    ]
    if spec["state_read"]:
        statements.append(
            {"Sid": "StateRead", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects(spec["state_read"])}
        )
        if not spec["writes"]:  # a preview takes the stack's lock
            statements.append(
                {
                    "Sid": "StateLock",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"{STATE_BUCKET}/.pulumi/locks/{PULUMI_PROJECT}/{s}/*" for s in spec["state_read"]],
                }
            )
    if spec["state_rw"]:
        statements.append(
            {
                "Sid": "StateReadWrite",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": objects(spec["state_rw"]),
            }
        )
    if spec.get("prod_key"):
        statements.append(
            {
                "Sid": "ProdSecretsProvider",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt"],
                "Resource": PROD_SECRETS_KEY,
            }
        )
    return statements


def permission_policy(role: str) -> dict[str, Any]:
    cloud, cli = role_actions(role)
    statements: list[dict[str, Any]] = [{"Sid": "Stack", "Effect": "Allow", "Action": cloud, "Resource": "*"}]
    if cli:
        statements.append({"Sid": "Scripts", "Effect": "Allow", "Action": cli, "Resource": "*"})
    statements += _state_statements(ROLES[role])
    return {"Version": "2012-10-17", "Statement": statements}


def trust_policy(role: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": OIDC_PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": ROLES[role]["sub"],
                    }
                },
            }
        ],
    }


def operator_policy() -> dict[str, Any]:
    cli = _sorted([a for command in OPERATOR_COMMANDS for a in CLI_ACTIONS[command]])
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Scripts", "Effect": "Allow", "Action": cli, "Resource": "*"}],
    }


def documents() -> dict[str, dict[str, Any]]:
    """File name under docs/iam -> document."""
    out = {f"{role}.json": permission_policy(role) for role in ROLES}
    out.update({f"{role}.trust.json": trust_policy(role) for role in ROLES})
    out["operator.json"] = operator_policy()
    return dict(sorted(out.items()))


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file differs")
    args = parser.parse_args(argv)
    wanted = {name: render(doc) for name, doc in documents().items()}
    present = {p.name for p in IAM_DIR.glob("*.json")} if IAM_DIR.is_dir() else set()
    stale = sorted(n for n, text in wanted.items() if not (IAM_DIR / n).is_file() or (IAM_DIR / n).read_text() != text)
    extra = sorted(present - set(wanted))
    if args.check:
        for name in [*stale, *extra]:
            print(f"docs/iam/{name} is not current: run .venv/bin/python scripts/iam_policies.py", file=sys.stderr)
        return 1 if stale or extra else 0
    IAM_DIR.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (IAM_DIR / name).write_text(wanted[name])
    for name in extra:
        (IAM_DIR / name).unlink()
    print(f"docs/iam: {len(wanted)} documents, {len(stale)} rewritten, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
