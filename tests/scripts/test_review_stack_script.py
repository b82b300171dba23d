"""scripts/ci/review-stack.sh, run for real against a fake `pulumi`: a review stack takes the dev
stack's network, its database server and its provider keys from its outputs before `pulumi up`,
and refuses to go on without them. The teardown (drop-review-databases.sh, run by the destroy and
by cleanup-review-stacks.sh) runs against a fake `pulumi` and a fake `aws`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

# Runs the ci shell scripts: not a mocked test, so `make test` runs it
# and `make test-fast` does not (the `processes` marker).
pytestmark = pytest.mark.processes

PROVISIONER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/db-provisioner-AbC123"
KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/provider-keys/OPENAI_API_KEY-XyZ789"
DEV_OUTPUTS = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "public_subnet_ids": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
    "private_subnet_ids": ["subnet-0a1b2c3d4e5f60721", "subnet-0a1b2c3d4e5f60722"],
    "review_database": {
        "address": "plano-dev.cluster-c0ffee123456.us-east-1.rds.amazonaws.com",
        "port": 5432,
        "securityGroupId": "sg-0a1b2c3d4e5f60799",
        "provisionerSecretArn": PROVISIONER_ARN,
        "maxReviewStacks": 2,
    },
    "provider_key_secret_arns": {"OPENAI_API_KEY": KEY_ARN},
    "review_janitor": {
        "cluster": "plano-dev",
        "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/plano-dev-review-janitor:3",
        "container": "janitor",
        "subnets": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
        "security_groups": ["sg-0a1b2c3d4e5f60733"],
        "assign_public_ip": True,
        "database_prefix": "plano",
        "region": "us-east-1",
    },
}
# `stack ls` answers from a file that `destroy --remove` edits, as the backend would.
FAKE_PULUMI = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_LOG"
case "$*" in
    "stack output --json --stack dev") cat "$FAKE_OUTPUTS" ;;
    "stack ls --json") if [ -f "${FAKE_STACKS:-}" ]; then cat "$FAKE_STACKS"; else echo '[]'; fi ;;
    "destroy --yes --non-interactive --remove --stack "*)
        [ "${FAKE_DESTROY_FAILS:-}" != "${*: -1}" ] || exit 1
        jq --arg s "${*: -1}" '[.[] | select(.name != $s and (.name | endswith("/" + $s) | not))]' \\
            "$FAKE_STACKS" > "$FAKE_STACKS.new"
        mv "$FAKE_STACKS.new" "$FAKE_STACKS" ;;
esac
"""
# The AWS CLI calls of the janitor's run: each call's arguments as a JSON line.
FAKE_AWS = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_AWS_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[:2] == ["ecs", "run-task"]:
    print("arn:aws:ecs:us-east-1:123456789012:task/plano-dev/0123456789abcdef")
elif args[:2] == ["ecs", "describe-tasks"]:
    print(os.environ.get("FAKE_EXIT_CODE", "0"))
"""


def run_script(
    tmp_path: Path,
    argv: list[str],
    outputs: dict[str, object] | None,
    *,
    real: tuple[str, ...] = ("review-stack.sh",),
    stacks: list[str] | None = None,
    env_extra: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run scripts/ci/ARGV[0] in a copy of the repository: the scripts in ``real`` as they are, the
    other CI scripts as stubs that log their call; fake `pulumi` and `aws` on PATH."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (CI installs it; the script needs it)")
    repo = tmp_path / "repo"
    (repo / "scripts/ci").mkdir(parents=True)
    for script in (PROJECT / "scripts/ci").glob("*.sh"):
        if script.name in real:
            shutil.copy(script, repo / "scripts/ci" / script.name)
        else:  # provider keys, waiting for the service, ...: stubs here
            (repo / "scripts/ci" / script.name).write_text(
                f'#!/usr/bin/env bash\nprintf \'%s\\n\' "stub {script.name} $*" >> "$FAKE_LOG"\nexit 0\n'
            )
        (repo / "scripts/ci" / script.name).chmod(0o755)
    shutil.copy(PROJECT / "Pulumi.dev.yaml", repo / "Pulumi.dev.yaml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("pulumi", FAKE_PULUMI), ("aws", FAKE_AWS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log, outputs_file, stacks_file = tmp_path / "calls.log", tmp_path / "outputs.json", tmp_path / "stacks.json"
    outputs_file.write_text(json.dumps(outputs or {}))
    stacks_file.write_text(
        json.dumps([{"name": f"team/{name}", "lastUpdate": "2026-01-01T00:00:00.000Z"} for name in stacks or []])
    )
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_OUTPUTS": str(outputs_file),
        "FAKE_STACKS": str(stacks_file),
        "FAKE_AWS_LOG": str(tmp_path / "aws.log"),
        "GITHUB_STEP_SUMMARY": "",
        # No .venv in the checkout: the script takes the interpreter from PYTHON (any environment
        # with PyYAML), as it does wherever the tests run; the janitor's names come from the package.
        "PYTHON": sys.executable,
        "PYTHONPATH": str(PROJECT / "components"),
        **(env_extra or {}),
    }
    env.pop("REVIEW_NETWORK_STACK", None)
    result = subprocess.run(
        ["bash", str(repo / "scripts/ci" / argv[0]), *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def run_up(tmp_path: Path, outputs: dict[str, object] | None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    return run_script(tmp_path, ["review-stack.sh", "up", "7"], outputs)


def aws_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "aws.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def option(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


def test_up_sets_the_dev_network_before_pulumi_up(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, DEV_OUTPUTS)
    assert result.returncode == 0, result.stderr
    expected = [
        "config set --stack pr-7 plano:vpcId vpc-0a1b2c3d4e5f60718",
        "config set --stack pr-7 --path plano:publicSubnetIds[0] subnet-0a1b2c3d4e5f60711",
        "config set --stack pr-7 --path plano:publicSubnetIds[1] subnet-0a1b2c3d4e5f60712",
        "config set --stack pr-7 --path plano:privateSubnetIds[0] subnet-0a1b2c3d4e5f60721",
        "config set --stack pr-7 --path plano:privateSubnetIds[1] subnet-0a1b2c3d4e5f60722",
    ]
    for call in expected:
        assert call in calls
    up = next(i for i, c in enumerate(calls) if c.startswith("up "))
    assert all(calls.index(call) < up for call in expected)
    assert (tmp_path / "repo/Pulumi.pr-7.yaml").is_file()  # dev's config copied first


def test_up_stops_before_pulumi_up_when_dev_has_no_network_outputs(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, {"vpc_id": "vpc-0a1b2c3d4e5f60718"})
    assert result.returncode != 0
    assert "deploy it first" in result.stderr
    assert not [c for c in calls if c.startswith("up ")]


# --- The review stack's database on dev's server, dev's provider keys ------------------------------


def test_up_puts_the_database_on_devs_server_and_reads_devs_keys(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, DEV_OUTPUTS)
    assert result.returncode == 0, result.stderr
    shared = DEV_OUTPUTS["review_database"]
    assert isinstance(shared, dict)
    expected = [
        f"config set --stack pr-7 --path plano:sharedDatabase.{field} {shared[field]}"
        for field in ("address", "port", "securityGroupId", "provisionerSecretArn")
    ]
    expected.append(f"config set --stack pr-7 --path plano:sharedProviderKeySecretArns.OPENAI_API_KEY {KEY_ARN}")
    expected += ["config set --stack pr-7 plano:cpu 256", "config set --stack pr-7 plano:memory 1024"]
    up = next(i for i, c in enumerate(calls) if c.startswith("up "))
    for call in expected:
        assert call in calls and calls.index(call) < up, call
    # maxReviewStacks is the server's business, not a field of the review stack's config.
    assert not [c for c in calls if "maxReviewStacks" in c]
    # It reads dev's keys: nothing writes provider keys from a pull request's job.
    assert not [c for c in calls if "fill-provider-keys.sh" in c]
    assert "stub wait-stable.sh pr-7" in calls


def test_up_stops_when_dev_carries_no_review_databases(tmp_path: Path) -> None:
    outputs = {k: v for k, v in DEV_OUTPUTS.items() if k != "review_database"}
    result, calls = run_up(tmp_path, outputs)
    assert result.returncode != 0
    assert "plano:dbReviewStacks" in result.stderr
    assert not [c for c in calls if c.startswith("up ")]


def test_up_refuses_a_new_review_stack_when_devs_server_is_full(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, ["review-stack.sh", "up", "7"], DEV_OUTPUTS, stacks=["dev", "pr-1", "pr-2"])
    assert result.returncode != 0 and "carries 2 review stacks" in result.stderr
    assert not [c for c in calls if c.startswith("up ")]


def test_up_of_an_existing_review_stack_goes_on_when_the_server_is_full(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, ["review-stack.sh", "up", "7"], DEV_OUTPUTS, stacks=["dev", "pr-1", "pr-7"])
    assert result.returncode == 0, result.stderr
    assert [c for c in calls if c.startswith("up ")]


# --- Teardown: the janitor drops the databases of stacks that are gone --------------------------------

TEARDOWN = ("review-stack.sh", "cleanup-review-stacks.sh", "drop-review-databases.sh")


def janitor_run(tmp_path: Path) -> list[str]:
    runs = [c for c in aws_calls(tmp_path) if c[:2] == ["ecs", "run-task"]]
    assert len(runs) == 1, aws_calls(tmp_path)
    return runs[0]


def kept(run: list[str]) -> list[str]:
    overrides = json.loads(option(run, "--overrides"))
    (container,) = overrides["containerOverrides"]
    assert container["name"] == "janitor"
    (variable,) = container["environment"]
    assert variable["name"] == "KEEP_DATABASES"
    return [name for name in variable["value"].split(",") if name]


def test_destroy_drops_the_stacks_database_and_keeps_the_live_ones(tmp_path: Path) -> None:
    result, calls = run_script(
        tmp_path, ["review-stack.sh", "destroy", "7"], DEV_OUTPUTS, real=TEARDOWN, stacks=["dev", "pr-3", "pr-7"]
    )
    assert result.returncode == 0, result.stderr
    destroy = calls.index("destroy --yes --non-interactive --remove --stack pr-7")
    assert calls.index("stack output --json --stack dev") > destroy  # the janitor runs after the destroy
    run = janitor_run(tmp_path)
    assert kept(run) == ["plano_rv_pr_3"]  # pr-7's database is not kept, so the janitor drops it
    assert option(run, "--cluster") == "plano-dev" and option(run, "--launch-type") == "FARGATE"
    assert option(run, "--task-definition").endswith("task-definition/plano-dev-review-janitor:3")
    network = json.loads(option(run, "--network-configuration"))["awsvpcConfiguration"]
    assert network == {
        "subnets": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
        "securityGroups": ["sg-0a1b2c3d4e5f60733"],
        "assignPublicIp": "ENABLED",
    }
    waits = [c for c in aws_calls(tmp_path) if c[:2] == ["ecs", "wait"]]
    assert waits and option(waits[0], "--tasks").endswith("/0123456789abcdef")


def test_destroy_of_a_stack_already_removed_still_drops_what_it_left(tmp_path: Path) -> None:
    """The runner died after `pulumi destroy --remove`: a later destroy finds no stack, and drops the database."""
    result, calls = run_script(
        tmp_path, ["review-stack.sh", "destroy", "7"], DEV_OUTPUTS, real=TEARDOWN, stacks=["dev", "pr-3"]
    )
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if c.startswith("destroy ")]
    assert kept(janitor_run(tmp_path)) == ["plano_rv_pr_3"]


def test_a_janitor_that_fails_fails_the_job(tmp_path: Path) -> None:
    result, _ = run_script(
        tmp_path,
        ["review-stack.sh", "destroy", "7"],
        DEV_OUTPUTS,
        real=TEARDOWN,
        stacks=["dev", "pr-7"],
        env_extra={"FAKE_EXIT_CODE": "3"},
    )
    assert result.returncode != 0 and "the janitor exited with '3'" in result.stderr


def test_the_janitor_needs_devs_janitor_output(tmp_path: Path) -> None:
    outputs = {k: v for k, v in DEV_OUTPUTS.items() if k != "review_janitor"}
    result, _ = run_script(tmp_path, ["drop-review-databases.sh"], outputs, real=TEARDOWN, stacks=["dev"])
    assert result.returncode != 0 and "no review_janitor output" in result.stderr
    assert aws_calls(tmp_path) == []


def test_cleanup_destroys_stale_stacks_then_drops_every_orphaned_database(tmp_path: Path) -> None:
    # pr-5 is stale (lastUpdate in 2026-01); the janitor keeps nothing of it, whatever a dead run left.
    result, calls = run_script(
        tmp_path, ["cleanup-review-stacks.sh", "3"], DEV_OUTPUTS, real=TEARDOWN, stacks=["dev", "pr-5"]
    )
    assert result.returncode == 0, result.stderr
    assert "destroy --yes --non-interactive --remove --stack team/pr-5" in calls
    assert kept(janitor_run(tmp_path)) == []


def test_cleanup_sweeps_orphans_even_when_no_stack_is_stale_and_reports_a_failed_drop(tmp_path: Path) -> None:
    result, _ = run_script(
        tmp_path,
        ["cleanup-review-stacks.sh", "100000"],
        DEV_OUTPUTS,
        real=TEARDOWN,
        stacks=["dev", "pr-5"],
        env_extra={"FAKE_EXIT_CODE": "1"},
    )
    assert kept(janitor_run(tmp_path)) == ["plano_rv_pr_5"]
    assert result.returncode == 1  # the sweep failed: the job says so


def test_dry_run_cleanup_starts_no_janitor(tmp_path: Path) -> None:
    result, _ = run_script(
        tmp_path,
        ["cleanup-review-stacks.sh", "3"],
        DEV_OUTPUTS,
        real=TEARDOWN,
        stacks=["dev", "pr-5"],
        env_extra={"DRY_RUN": "true"},
    )
    assert result.returncode == 0, result.stderr
    assert aws_calls(tmp_path) == []
