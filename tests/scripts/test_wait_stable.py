"""CI fails a deploy whose service never becomes healthy (scripts/ci/wait-stable.sh).

The workflows run the script after every `pulumi up`; here it runs against fake `pulumi`, `aws`
and `curl` commands that answer like the real ones for each case.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT

# Runs the ci shell script: not a mocked test, so `make test` runs it
# and `make test-fast` does not (the `processes` marker).
pytestmark = pytest.mark.processes

SCRIPT = PROJECT / "scripts" / "ci" / "wait-stable.sh"
WANTED = "arn:aws:ecs:us-east-1:123456789012:task-definition/plano-prod:7"
OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/plano-prod:6"

FAKE_PULUMI = """#!/bin/sh
case "$1 $2" in
  "stack output") printf '%s' "$FAKE_OUTPUTS" ;;
  "config get") echo us-east-1 ;;
  *) exit 9 ;;
esac
"""
FAKE_AWS = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$2 $3" in
  "wait services-stable") exit "${FAKE_STABLE_EXIT:-0}" ;;
  describe-services*) printf '%s\\n' "$FAKE_DEPLOYMENT" ;;
esac
"""
FAKE_CURL = """#!/bin/sh
echo "curl $*" >> "$FAKE_LOG"
exit "${FAKE_CURL_EXIT:-0}"
"""


def run(
    tmp_path: Path, *, deployment: str, stable_exit: int = 0, curl_exit: int = 0, url: str = "https://plano.example"
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in (("pulumi", FAKE_PULUMI), ("aws", FAKE_AWS), ("curl", FAKE_CURL)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    extra = ', "port_forward_command": "scripts/port-forward.sh c s 12000"' if "localhost" in url else ""
    outputs = (
        f'{{"cluster_name": "plano-prod", "service_name": "plano-prod", '
        f'"task_definition_arn": "{WANTED}", "endpoint_url": "{url}"{extra}}}'
    )
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_OUTPUTS": outputs,
        "FAKE_DEPLOYMENT": deployment,
        "FAKE_STABLE_EXIT": str(stable_exit),
        "FAKE_CURL_EXIT": str(curl_exit),
        "FAKE_LOG": str(tmp_path / "calls.log"),
    }
    return subprocess.run(["bash", str(SCRIPT), "prod"], env=env, capture_output=True, text=True, timeout=30)


def test_a_completed_rollout_of_this_deploy_with_healthz_passes(tmp_path: Path) -> None:
    result = run(tmp_path, deployment=f"COMPLETED\t{WANTED}\tok")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (tmp_path / "calls.log").read_text()
    assert "ecs wait services-stable --region us-east-1 --cluster plano-prod --services plano-prod" in calls
    assert "https://plano.example/healthz" in calls


def test_a_rollout_the_circuit_breaker_rolled_back_fails(tmp_path: Path) -> None:
    """Stable, but on the previous task definition: the new tasks never became healthy."""
    result = run(tmp_path, deployment=f"COMPLETED\t{OLD}\trolled back by the circuit breaker")
    assert result.returncode == 1
    assert "is not running this deploy" in result.stdout


def test_a_failed_rollout_fails(tmp_path: Path) -> None:
    assert run(tmp_path, deployment=f"FAILED\t{WANTED}\ttasks failed to start").returncode == 1


def test_a_service_that_never_becomes_stable_fails(tmp_path: Path) -> None:
    result = run(tmp_path, deployment=f"COMPLETED\t{WANTED}\tok", stable_exit=255)
    assert result.returncode == 1
    assert "did not become stable" in result.stdout
    assert (tmp_path / "calls.log").read_text().count("services-stable") == 4  # about 40 minutes


def test_healthz_with_an_http_error_fails(tmp_path: Path) -> None:
    assert run(tmp_path, deployment=f"COMPLETED\t{WANTED}\tok", curl_exit=22).returncode == 1


def test_an_endpoint_the_runner_cannot_reach_only_warns(tmp_path: Path) -> None:
    result = run(tmp_path, deployment=f"COMPLETED\t{WANTED}\tok", curl_exit=28)
    assert result.returncode == 0
    assert "not reachable from this runner" in result.stdout


def test_no_load_balancer_skips_healthz(tmp_path: Path) -> None:
    result = run(
        tmp_path, deployment=f"COMPLETED\t{WANTED}\tok", url="http://localhost:12000 (after the port_forward_command)"
    )
    assert result.returncode == 0
    assert "curl" not in (tmp_path / "calls.log").read_text()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_deploy_jobs_wait_after_pulumi_up(stack: str) -> None:
    workflow = yaml.safe_load((PROJECT / ".github/workflows/deploy.yml").read_text())
    steps = workflow["jobs"][stack]["steps"]
    up = next(i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "up")
    waits = [i for i, s in enumerate(steps) if s.get("run") == f"scripts/ci/wait-stable.sh {stack}"]
    assert waits and waits[0] > up


def test_review_stacks_wait_after_pulumi_up_and_never_fill_devs_keys() -> None:
    # Review stacks read dev's provider-key secrets (docs/review-environments.md): nothing to fill.
    script = (PROJECT / "scripts/ci/review-stack.sh").read_text()
    up = script[script.index("    up)") : script.index("    destroy)")]
    assert up.index("pulumi up --yes") < up.index('wait-stable.sh "$stack"')
    assert 'fill-provider-keys.sh "$stack"' not in up


FAKE_AWS_SECRETS = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$2 $3" in
  "describe-secret --region") printf '%s\\n' "$FAKE_SECRET" ;;
  "wait services-stable") exit 0 ;;
  describe-services*) printf '%s\\n' "$FAKE_DEPLOYMENT" ;;
esac
"""


def run_with_keys(tmp_path: Path, secret: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in (("pulumi", FAKE_PULUMI), ("aws", FAKE_AWS_SECRETS), ("curl", FAKE_CURL)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/provider-keys/OPENAI_API_KEY-AbCdEf"
    outputs = {
        "cluster_name": "plano-dev",
        "service_name": "plano-dev",
        "task_definition_arn": WANTED,
        "endpoint_url": "http://localhost:12000 (after the port_forward_command)",
        "port_forward_command": "scripts/port-forward.sh c s 12000",
        "provider_keys_external": ["OPENAI_API_KEY"],
        "provider_key_secret_arns": {"OPENAI_API_KEY": arn},
    }
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_OUTPUTS": json.dumps(outputs),
        "FAKE_SECRET": secret,
        "FAKE_DEPLOYMENT": f"COMPLETED\t{WANTED}\tok",
        "FAKE_LOG": str(log),
    }
    result = subprocess.run(["bash", str(SCRIPT), "dev"], env=env, capture_output=True, text=True, timeout=30)
    return result, log.read_text()


def test_a_provider_key_without_a_value_fails_at_once_naming_it(tmp_path: Path) -> None:
    """Issue 17, finding 15: dev's first deploy (and a review stack) with an empty key secret waited
    40 minutes for tasks that cannot start. Now it fails before waiting, in one line."""
    result, calls = run_with_keys(tmp_path, "{}")
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and "OPENAI_API_KEY has no value" in errors[0]
    assert "pulumi stack output provider_key_fill_commands --stack dev | bash" in errors[0]
    assert "wait services-stable" not in calls


def test_provider_keys_with_values_go_on_to_the_wait(tmp_path: Path) -> None:
    result, calls = run_with_keys(tmp_path, '{"VersionIdsToStages": {"v1": ["AWSCURRENT"]}}')
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wait services-stable" in calls
