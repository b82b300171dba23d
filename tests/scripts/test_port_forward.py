"""scripts/port-forward.sh: the SSM port-forwarding path for stacks without a load balancer."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT, run_with, stack_run

FAKE_AWS = """#!/bin/sh
echo "$@" >> "$CALLS"
case "$1 $2" in
  "ecs list-tasks") echo "arn:aws:ecs:us-east-1:123456789012:task/plano-dev/0123abcd" ;;
  "ecs describe-tasks") echo "0123abcd-runtime" ;;
esac
"""


@pytest.mark.processes
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


@pytest.mark.processes
def test_port_forward_explains_when_nothing_runs(tmp_path: Path) -> None:
    (tmp_path / "aws").write_text("#!/bin/sh\necho None\n")
    (tmp_path / "aws").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(PROJECT / "scripts/port-forward.sh"), "c", "s"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1 and "no running task" in result.stderr


@pytest.mark.processes
def test_port_forward_points_at_wake_command_when_the_stack_is_asleep(tmp_path: Path) -> None:
    """Issue 17, finding 17: outside plano:activeHours no task runs; say so and how to wake it."""
    (tmp_path / "aws").write_text(
        '#!/bin/sh\necho "$@" >> "$CALLS"\n'
        'case "$1 $2" in\n  "ecs list-tasks") echo None ;;\n  "ecs describe-services") echo 0 ;;\nesac\n'
    )
    (tmp_path / "aws").chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "CALLS": str(calls)}
    script, *args = shlex.split(stack_run("dev").outputs["port_forward_command"])
    result = subprocess.run(
        [str(PROJECT / script), *args], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=30
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "asleep" in lines[0] and "$(pulumi stack output wake_command)" in lines[0]
    assert "ecs describe-services --cluster plano-dev --services plano-dev" in calls.read_text()
    assert stack_run("dev").outputs["wake_command"]  # the output it points at exists on a scheduled stack


def test_docs_run_port_forwarding_in_its_own_terminal() -> None:
    """The command holds the terminal, so no bash block runs it and then a request; the text around
    it says to use a second terminal and where the relative path is run from."""
    for path in [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]:
        text = path.read_text()
        for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
            lines = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
            forwarding = [i for i, line in enumerate(lines) if "port_forward_command" in line and "$(" in line]
            for i in forwarding:
                assert not any("curl " in line for line in lines[i + 1 :]), f"{path.name}: curl after port forwarding"
        if "$(pulumi stack output port_forward_command" in text:
            prose = " ".join(text.split())
            assert "second terminal" in prose, path.name
            assert "repository's root" in prose, path.name
