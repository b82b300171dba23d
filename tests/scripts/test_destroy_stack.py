"""scripts/destroy-stack.sh, run for real against a stand-in `pulumi` on PATH (issue 17, finding 10):
dev's teardown refuses, before anything is deleted, while review stacks use its network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT

# Runs the shell script: not a mocked test, so `make test` runs it
# and `make test-fast` does not (the `processes` marker).
pytestmark = pytest.mark.processes

SCRIPT = PROJECT / "scripts" / "destroy-stack.sh"
DEV_VPC = "vpc-0a1b2c3d4e5f60718"
PROD_VPC = "vpc-0f9e8d7c6b5a40302"
# A stand-in for the Pulumi CLI: stacks and their vpc_id outputs from $FAKE_STACKS (JSON), config
# values from $FAKE_CONFIG; every call is logged.
FAKE_PULUMI = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >> "$FAKE_LOG"
stack=""
args=("$@")
for i in "${!args[@]}"; do [ "${args[$i]}" = "--stack" ] && stack="${args[$((i + 1))]}"; done
case "$1 $2" in
    "stack ls") jq -c '[keys[] | {name: .}]' "$FAKE_STACKS" ;;
    "stack output")
        jq -e -r --arg s "$stack" '.[$s] // empty' "$FAKE_STACKS" ||
            { echo "error: current stack does not have output property 'vpc_id'" >&2; exit 255; } ;;
    "config get")
        jq -e -r --arg s "$stack" '.[$s] // empty' "$FAKE_CONFIG" ||
            { echo "error: configuration key 'plano:vpcId' not found for stack '$stack'" >&2; exit 255; } ;;
    destroy*) echo "destroyed $stack" ;;
    *) exit 9 ;;
esac
"""


def run(
    tmp_path: Path, stack: str, stacks: dict[str, str | None], *, adopted: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (CI installs it; the script needs it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    (tmp_path / "stacks.json").write_text(json.dumps(stacks))
    (tmp_path / "config.json").write_text(json.dumps(adopted or {}))
    log = tmp_path / "calls.log"
    log.write_text("")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_STACKS": str(tmp_path / "stacks.json"),
        "FAKE_CONFIG": str(tmp_path / "config.json"),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), stack, "--yes"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    return result, log.read_text().splitlines()


def test_dev_is_not_destroyed_while_review_stacks_use_its_network(tmp_path: Path) -> None:
    stacks = {"dev": DEV_VPC, "prod": PROD_VPC, "pr-12": DEV_VPC, "pr-7": DEV_VPC, "pr-9": None}
    result, calls = run(tmp_path, "dev", stacks)
    assert result.returncode == 1
    assert not [c for c in calls if c.startswith("destroy")]  # nothing deleted
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert DEV_VPC in line and "pr-12" in line and "pr-7" in line and "prod" not in line and "pr-9" not in line
    assert (
        "pulumi destroy --yes --remove --stack pr-12" in line and "pulumi destroy --yes --remove --stack pr-7" in line
    )
    assert "nothing was deleted" in line


def test_dev_is_destroyed_once_no_stack_uses_its_network(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "dev", {"dev": DEV_VPC, "prod": PROD_VPC, "pr-9": None})
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "destroy --stack dev --yes"


def test_stack_names_with_an_organization_compare_by_their_last_part(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "acme/dev", {"acme/dev": DEV_VPC, "acme/pr-3": DEV_VPC})
    assert result.returncode == 1 and "pr-3" in result.stderr
    assert not [c for c in calls if c.startswith("destroy")]


def test_a_review_stack_is_destroyed_without_the_check(tmp_path: Path) -> None:
    """Review stacks share dev's network with each other; none of them owns it."""
    result, calls = run(tmp_path, "pr-12", {"dev": DEV_VPC, "pr-12": DEV_VPC, "pr-7": DEV_VPC})
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "destroy --stack pr-12 --yes"


def test_a_stack_in_an_adopted_vpc_does_not_own_it(tmp_path: Path) -> None:
    stacks = {"team-a": DEV_VPC, "team-b": DEV_VPC}
    result, calls = run(tmp_path, "team-a", stacks, adopted={"team-a": DEV_VPC, "team-b": DEV_VPC})
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "destroy --stack team-a --yes"


def test_a_stack_never_deployed_is_handed_to_pulumi(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "dev", {"dev": None, "pr-1": DEV_VPC})
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "destroy --stack dev --yes"
