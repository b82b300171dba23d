"""IAM documents (pure): least privilege for the execution role, nothing for the task role."""

from __future__ import annotations

from plano_pulumi.aws.iam import ecr_repository_arns, ecs_exec_policy, ecs_tasks_trust_policy, execution_role_policy

SECRETS = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/db-AbCdEf"]


def policy(**changes: object) -> dict[str, dict[str, object]]:
    args: dict[str, object] = {
        "log_group_arn": "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/plano-dev",
        "secret_arns": SECRETS,
        "kms_key_arn": "",
        "region": "us-east-1",
        "images": ["katanemo/plano:0.4.36"],
        "partition": "aws",
    }
    args.update(changes)
    document = execution_role_policy(**args)  # type: ignore[arg-type]
    return {s["Sid"]: s for s in document["Statement"]}


def test_execution_role_reads_only_the_given_secrets_and_writes_only_its_logs() -> None:
    statements = policy()
    assert set(statements) == {"WriteTaskLogs", "ReadThisTasksSecrets"}
    assert statements["ReadThisTasksSecrets"]["Resource"] == SECRETS
    assert statements["WriteTaskLogs"]["Resource"].endswith("log-group:/ecs/plano-dev:log-stream:*")


def test_kms_only_with_a_customer_key_and_only_through_secrets_manager() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-4333-8444-555555555555"
    decrypt = policy(kms_key_arn=key)["DecryptThisTasksSecrets"]
    assert decrypt["Resource"] == key
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}


def test_ecr_pull_only_for_ecr_images() -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/plano:1@sha256:" + "a" * 64
    assert ecr_repository_arns([image, "postgres:17-alpine"], "aws") == [
        "arn:aws:ecr:us-east-1:123456789012:repository/team/plano"
    ]
    statements = policy(images=[image])
    assert statements["PullTaskImages"]["Resource"] == ["arn:aws:ecr:us-east-1:123456789012:repository/team/plano"]
    assert "PullTaskImages" not in policy()


def test_trust_is_limited_to_this_account_and_region() -> None:
    condition = ecs_tasks_trust_policy("123456789012", "aws", "eu-west-1")["Statement"][0]["Condition"]
    assert condition["ArnLike"]["aws:SourceArn"] == "arn:aws:ecs:eu-west-1:123456789012:*"


def test_ecs_exec_needs_only_the_four_ssmmessages_actions() -> None:
    actions = ecs_exec_policy()["Statement"][0]["Action"]
    assert sorted(actions) == sorted(a for a in actions if a.startswith("ssmmessages:")) and len(actions) == 4
