"""Teardown: dev-profile stacks destroy cleanly and can be re-created; prod cannot be destroyed by accident.

Checked for every stack file in the repository, and for a review stack (pr-<number>), which
starts from a copy of the dev stack's config and, as scripts/ci/review-stack.sh sets it up, keeps
its database on dev's server (dropped by the janitor, tests/scripts/test_review_stack_script.py).
"""

from __future__ import annotations

import pytest
from plano_tools.simulate import Run

from tests.conftest import PROJECT, cached_run, config_for

STACK_FILES = sorted(p.name.split(".")[1] for p in PROJECT.glob("Pulumi.*.yaml"))
RDS = "aws:rds/instance:Instance"
AURORA = "aws:rds/cluster:Cluster"
SECRET = "aws:secretsmanager/secret:Secret"
ALB = "aws:lb/loadBalancer:LoadBalancer"


def _run(stack: str) -> Run:
    if stack.startswith("pr-"):
        from tests.stacks.test_review_environments import SHARED_DATABASE, SHARED_NETWORK

        return cached_run(stack, config_for("dev", values={**SHARED_NETWORK, **SHARED_DATABASE}))
    # prod: the prepared fixture (config_for), as prod refuses the shipped documentation placeholders.
    return cached_run(stack, config_for(stack))


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
    for secret in run.of_type(SECRET):
        assert secret.inputs["recoveryWindowInDays"] == 0, secret.name  # the name is free at once
    for alb in run.of_type(ALB):
        assert alb.inputs["enableDeletionProtection"] is False
    costly_leftovers = {"aws:ecr/repository:Repository", "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
    assert not [r for r in run.resources if r.type in costly_leftovers]
    if run.of_type("plano:database:ReviewDatabase"):  # a review stack: no server of its own
        assert not run.of_type(RDS) and not run.of_type(AURORA)
        return
    db = (run.of_type(RDS) or run.of_type(AURORA))[0].inputs  # the instance, or the Aurora cluster
    assert db["deletionProtection"] is False
    assert db["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in db
    assert db["deleteAutomatedBackups"] is True
    # RDS would create log groups of its own (never expiring, left behind) if it exported logs.
    assert db.get("enabledCloudwatchLogsExports", []) == []


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
    # No cluster, master secret or provider-key secret of its own: its database is on dev's server.
    assert run.of_type(AURORA) == [] and run.of_type(RDS) == []
    assert {s.inputs["name"] for s in run.of_type(SECRET)} == {"plano-pr-123/db-app"}
    assert run.outputs["db_app_secret_name"] == "plano-pr-123/db-app"
