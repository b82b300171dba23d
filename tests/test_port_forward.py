"""scripts/port-forward.sh: the SSM port-forwarding path for stacks without a load balancer."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from tests.conftest import PROJECT, run_with, stack_run

FAKE_AWS = """#!/bin/sh
echo "$@" >> "$CALLS"
case "$1 $2" in
  "ecs list-tasks") echo "arn:aws:ecs:us-east-1:123456789012:task/plano-dev/0123abcd" ;;
  "ecs describe-tasks") echo "0123abcd-runtime" ;;
esac
"""


def test_port_forward_targets_the_plano_container_of_a_running_task(tmp_path: Path) -> None:
    (tmp_path / "aws").write_text(FAKE_AWS)
    (tmp_path / "aws").chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "CALLS": str(calls)}
    outputs = stack_run("dev").outputs
    command = outputs["port_forward_command"]
    assert isinstance(command, str)  # pasted as `$(pulumi stack output port_forward_command)`
    script, *args = shlex.split(command)
    assert script == "scripts/port-forward.sh"
    assert args == ["--region", "us-east-1", "plano-dev", "plano-dev", "12000"]
    result = subprocess.run([str(PROJECT / script), *args], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    calls_made = calls.read_text().splitlines()
    assert len(calls_made) == 3 and all(call.endswith("--region us-east-1") for call in calls_made)
    session = calls_made[-1]
    assert session.startswith("ssm start-session --target ecs:plano-dev_0123abcd_0123abcd-runtime")
    assert "AWS-StartPortForwardingSession" in session and '"portNumber":["12000"]' in session


def test_port_forward_command_carries_the_stacks_region() -> None:
    run = run_with("dev", values={"aws:region": "eu-west-1"})
    assert run.error is None, run.error
    assert " --region eu-west-1 " in run.outputs["port_forward_command"]


def test_port_forward_explains_when_nothing_runs(tmp_path: Path) -> None:
    (tmp_path / "aws").write_text("#!/bin/sh\necho None\n")
    (tmp_path / "aws").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(PROJECT / "scripts/port-forward.sh"), "c", "s"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1 and "no running task" in result.stderr
