"""Who may assume the roles of an ECS task: the trust policy both task families share (Plano's
service and the review-database janitor), with the account and partition it was built from."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from plano_pulumi.aws.iam import ecs_tasks_trust_policy


@dataclass(frozen=True)
class TaskTrust:
    policy: pulumi.Output[str]
    """The trust policy (JSON): ECS tasks of this account and region."""
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]


def ecs_task_trust(parent: pulumi.Resource, region: str) -> TaskTrust:
    """Looks up the account and partition (as ``parent``'s invokes) and builds the trust policy."""
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    policy = pulumi.Output.all(identity.account_id, partition.partition).apply(
        lambda v: json.dumps(ecs_tasks_trust_policy(v[0], v[1], region))
    )
    return TaskTrust(policy=policy, account_id=identity.account_id, partition=partition.partition)
