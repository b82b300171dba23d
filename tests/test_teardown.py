"""Teardown: dev-profile stacks destroy cleanly and can be re-created; prod cannot be destroyed by accident.

Checked for every stack file in the repository, and for a review stack (pr-<number>), which
starts from a copy of the dev stack's config.
"""

from __future__ import annotations

import pytest
from plano_tools.simulate import Run, run_program

from tests.conftest import PROJECT, config_for

STACK_FILES = sorted(p.name.split(".")[1] for p in PROJECT.glob("Pulumi.*.yaml"))
RDS = "aws:rds/instance:Instance"
AURORA = "aws:rds/cluster:Cluster"
SECRET = "aws:secretsmanager/secret:Secret"
ALB = "aws:lb/loadBalancer:LoadBalancer"


def _run(stack: str) -> Run:
    # prod: the prepared fixture (config_for), as prod refuses the shipped documentation placeholders.
    return run_program(PROJECT, stack, config=config_for("dev" if stack.startswith("pr-") else stack))


def test_the_repository_has_dev_and_prod_stack_files() -> None:
    assert {"dev", "prod"} <= set(STACK_FILES)


@pytest.mark.parametrize("stack", [*STACK_FILES, "pr-123"])
def test_each_stack_tears_down_as_its_profile_promises(stack: str) -> None:
    run = _run(stack)
    assert run.error is None, run.error
    if run.outputs["profile"] == "dev":
        _assert_disposable(run)
    elif run.outputs["profile"] == "local":
        _assert_local_keeps_only_its_data(run)
    else:
        _assert_protected(run)


def _assert_disposable(run: Run) -> None:
    """Nothing blocks `pulumi destroy`, nothing is left behind, a re-create can reuse every name."""
    blocking = [r.type + "::" + r.name for r in run.resources if r.protect or r.retain_on_delete]
    assert blocking == [], f"protected or retained in a disposable stack: {blocking}"
    db = (run.of_type(RDS) or run.of_type(AURORA))[0].inputs  # the instance, or the Aurora cluster
    assert db["deletionProtection"] is False
    assert db["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in db
    assert db["deleteAutomatedBackups"] is True
    for secret in run.of_type(SECRET):
        assert secret.inputs["recoveryWindowInDays"] == 0, secret.name  # the name is free at once
    for alb in run.of_type(ALB):
        assert alb.inputs["enableDeletionProtection"] is False
    # RDS would create log groups of its own (never expiring, left behind) if it exported logs.
    assert db.get("enabledCloudwatchLogsExports", []) == []
    costly_leftovers = {"aws:ecr/repository:Repository", "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
    assert not [r for r in run.resources if r.type in costly_leftovers]


def _assert_local_keeps_only_its_data(run: Run) -> None:
    """`pulumi destroy --stack local` removes containers and network; only the data volume stays."""
    assert [r.type for r in run.resources if r.protect] == []
    retained = [(r.type, r.inputs.get("name")) for r in run.resources if r.retain_on_delete]
    assert retained == [("docker:index/volume:Volume", "plano-local-pgdata")]


def _assert_protected(run: Run) -> None:
    instance = run.one(RDS)
    assert instance.protect is True
    assert instance.inputs["deletionProtection"] is True
    assert instance.inputs["skipFinalSnapshot"] is False
    assert instance.inputs["finalSnapshotIdentifier"].startswith(f"plano-{run.stack}-final-")
    assert run.one("random:index/randomId:RandomId").name == "final-snapshot-suffix"
    for secret in run.of_type(SECRET):
        assert secret.protect is True and secret.inputs["recoveryWindowInDays"] == 30, secret.name
    for alb in run.of_type(ALB):
        assert alb.inputs["enableDeletionProtection"] is True


def test_review_stacks_get_their_own_names() -> None:
    run = _run("pr-123")
    assert run.one(AURORA).inputs["clusterIdentifier"] == "plano-pr-123"
    assert {s.inputs["name"] for s in run.of_type(SECRET)} == {
        "plano-pr-123/db",
        "plano-pr-123/db-app",
        "plano-pr-123/provider-keys/OPENAI_API_KEY",
        "plano-pr-123/provider-keys/ANTHROPIC_API_KEY",
    }
