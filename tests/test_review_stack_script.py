"""scripts/ci/review-stack.sh, run for real against a fake `pulumi`: a review stack takes the dev
stack's network from its outputs before `pulumi up`, and refuses to go on without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

DEV_OUTPUTS = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "public_subnet_ids": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
    "private_subnet_ids": ["subnet-0a1b2c3d4e5f60721", "subnet-0a1b2c3d4e5f60722"],
}
FAKE_PULUMI = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_LOG"
case "$*" in
    "stack output --json --stack dev") cat "$FAKE_OUTPUTS" ;;
    "stack ls --json") echo '[]' ;;
esac
"""


def run_up(tmp_path: Path, outputs: dict[str, object] | None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (CI installs it; the script needs it)")
    repo = tmp_path / "repo"
    (repo / "scripts/ci").mkdir(parents=True)
    shutil.copy(PROJECT / "scripts/ci/review-stack.sh", repo / "scripts/ci/review-stack.sh")
    # The other CI scripts it calls (provider keys, waiting for the service) are stubs here.
    for other in (PROJECT / "scripts/ci").glob("*.sh"):
        if other.name != "review-stack.sh":
            (repo / "scripts/ci" / other.name).write_text("#!/usr/bin/env bash\nexit 0\n")
            (repo / "scripts/ci" / other.name).chmod(0o755)
    shutil.copy(PROJECT / "Pulumi.dev.yaml", repo / "Pulumi.dev.yaml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    log, outputs_file = tmp_path / "calls.log", tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(outputs or {}))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_OUTPUTS": str(outputs_file),
        "GITHUB_STEP_SUMMARY": "",
        # No .venv in the checkout: the script takes the interpreter from PYTHON (any environment
        # with PyYAML), as it does wherever the tests run.
        "PYTHON": sys.executable,
    }
    env.pop("REVIEW_NETWORK_STACK", None)
    result = subprocess.run(
        ["bash", str(repo / "scripts/ci/review-stack.sh"), "up", "7"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


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
