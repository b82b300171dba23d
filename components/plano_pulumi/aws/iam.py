"""IAM policy documents for the task (pure: ARNs in, JSON-ready dicts out).

The execution role (used by ECS to start the task) may write the task's logs, read exactly the
secrets this task uses, decrypt them only when a customer managed key is configured, and pull
from ECR only when an image lives there. The task role (what Plano itself may do) has no
permission at all, except the four ``ssmmessages`` actions ECS Exec needs when the stack has no
load balancer and is reached through SSM port forwarding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.images import ECR_PREFIXES
from plano_pulumi.core.settings.quotas import MAX_ROLE_INLINE_POLICY_CHARS

_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)")
_CACHE_PREFIXES = frozenset(ECR_PREFIXES.values())
ECS_EXEC_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


def ecs_tasks_trust_policy(account_id: str, partition: str, region: str) -> dict[str, Any]:
    """Only ECS tasks of this account and region may assume the role (no confused deputy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:ecs:{region}:{account_id}:*"},
                },
            }
        ],
    }


def ecr_repository_arns(images: Sequence[str], partition: str) -> list[str]:
    arns = []
    for image in images:
        match = _ECR_IMAGE.match(image)
        if match:
            account, region, repo = match.groups()
            arns.append(f"arn:{partition}:ecr:{region}:{account}:repository/{repo}")
    return sorted(set(arns))


def execution_role_policy(
    *,
    log_group_arn: str,
    secret_arns: Sequence[str],
    kms_key_arn: str,
    region: str,
    images: Sequence[str],
    partition: str,
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteTaskLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:log-stream:*",
        },
        {
            "Sid": "ReadThisTasksSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": sorted(secret_arns),
        },
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "DecryptThisTasksSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            }
        )
    repositories = ecr_repository_arns(images, partition)
    if repositories:
        statements += [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullTaskImages",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": repositories,
            },
        ]
        # An ECR pull-through cache creates the repository and imports the image on the first
        # pull, with the puller's permissions (repositories under the plano:imageRegistry prefixes).
        cached = [arn for arn in repositories if arn.split(":repository/", 1)[1].split("/")[0] in _CACHE_PREFIXES]
        if cached:
            statements.append(
                {
                    "Sid": "FillPullThroughCache",
                    "Effect": "Allow",
                    "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                    "Resource": cached,
                }
            )
    return {"Version": "2012-10-17", "Statement": statements}


def ecs_exec_policy() -> dict[str, Any]:
    """What the SSM agent inside the task needs for ECS Exec (and so port forwarding)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "EcsExec", "Effect": "Allow", "Action": list(ECS_EXEC_ACTIONS), "Resource": "*"}],
    }


def collector_policy(metrics_log_group_arn: str, *, tracing: bool) -> dict[str, Any]:
    """What the collector sidecar needs: write EMF events to its own log group (created by the
    stack, with a retention), and, with tracing, send segments to X-Ray (which has no resource ARNs)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteMetricsAsEmf",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [metrics_log_group_arn, f"{metrics_log_group_arn}:log-stream:*"],
        }
    ]
    if tracing:
        statements.append(
            {
                "Sid": "SendTraces",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def check_role_policy_size(policy_json: str, *, role: str = "the execution role") -> str:
    """``policy_json`` unchanged, or a ConfigError if IAM would refuse it as an inline role policy.

    The inline policies of one role together hold at most 10,240 characters, white space not
    counted (IAM and AWS STS quotas, "Role policy size"); the execution role has this one.
    """
    size = sum(1 for ch in policy_json if not ch.isspace())
    if size > MAX_ROLE_INLINE_POLICY_CHARS:
        raise ConfigError(
            "plano:providerKeys",
            f"makes {role}'s inline policy {size} characters (one secret ARN per key); IAM refuses more "
            f"than {MAX_ROLE_INLINE_POLICY_CHARS}",
            fix="declare fewer provider keys (plano:providerKeys and plano:providerKeysExternal together)",
        )
    return policy_json
