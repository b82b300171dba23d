"""Following the README's prod preparation does not break the tests.

The README asks users to replace the three example values in ``Pulumi.prod.yaml`` (the documentation
CIDR, the example certificate ARN and the example on-call address) and to pin the images by digest
(``make pin-images``) before the first prod deploy. This test does exactly that in a copy of the
project and runs there the tests that read the committed stack files, so a test that only holds
for the shipped example values fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from plano_tools.pin_images import write_pins

from tests.conftest import PROJECT

# The tests that read the committed Pulumi.prod.yaml and once asserted its example values.
AFFECTED = [
    "tests/test_stacks.py::test_images_come_from_config_and_prod_warns_unless_pinned",
    "tests/test_stacks.py::test_alb_admits_only_allowed_cidrs",
    "tests/test_policy.py::test_committed_prod_file_fails_at_most_the_digest_policy_for_its_unpinned_images",
    "tests/test_policy.py::test_example_prod_file_fails_only_the_digest_policy_for_its_unpinned_images",
    "tests/test_policy.py::test_offline_command_checks_plan_files",
    "tests/test_policy.py::test_breaking_an_invariant_fails_with_the_policy_name"
    "[internet into the load balancer without consent]",
]
REAL_CIDR = "10.40.0.0/16"
REAL_ALARM_EMAIL = "platform-oncall@plano.dev"
REAL_CERTIFICATE = "arn:aws:acm:us-east-1:491085411627:certificate/4f1c2a9e-7b3d-4e8a-9c21-5d6e7f8a9b0c"
PINNED = {  # what `make pin-images STACK=prod` writes (components/plano_tools/pin_images.write_pins)
    "image": "ghcr.io/katanemo/plano:0.4.39@sha256:" + "3f" * 32,
    "pgbouncerImage": "ghcr.io/cloudnative-pg/pgbouncer:1.25.2@sha256:" + "8c" * 32,
    "initImage": "public.ecr.aws/docker/library/postgres:17-alpine@sha256:" + "b0" * 32,
    "collectorImage": "public.ecr.aws/aws-observability/aws-otel-collector:v0.45.1@sha256:" + "5e" * 32,
}
IGNORED = (".venv", ".cache", ".git", "out", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__")


def prepare_prod(text: str) -> str:
    """What the README asks before the first prod deploy, done to the stack file's text: the lines
    marked REPLACE get real values, and the images are pinned (as `pulumi config set` would)."""
    lines = []
    for line in text.splitlines():
        if "REPLACE" in line and "203.0.113.0/24" in line:
            line = line.replace("203.0.113.0/24", REAL_CIDR)
        elif "REPLACE" in line and "certificateArn" in line:
            line = re.sub(r"arn:aws:acm:\S+", REAL_CERTIFICATE, line)
        elif "REPLACE" in line and "@example.com" in line:
            line = re.sub(r"\S+@example\.com", REAL_ALARM_EMAIL, line)
        lines.append(line)
    return write_pins("\n".join(lines) + "\n", PINNED)


def test_prepare_prod_fills_in_every_example_value() -> None:
    config = yaml.safe_load(prepare_prod((PROJECT / "Pulumi.prod.yaml").read_text()))["config"]
    assert config["plano:allowedCidrs"] == [REAL_CIDR]
    assert config["plano:certificateArn"] == REAL_CERTIFICATE
    assert all("@sha256:" in config[f"plano:{k}"] for k in ("image", "pgbouncerImage", "initImage", "collectorImage"))
    assert config["plano:alarmEmails"] == [REAL_ALARM_EMAIL]


def test_tests_of_the_committed_stacks_pass_after_the_readme_prod_preparation(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    stack_file = copy / "Pulumi.prod.yaml"
    stack_file.write_text(prepare_prod(stack_file.read_text()))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *AFFECTED],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "deselected" not in result.stdout


def test_after_the_preparation_the_prod_plan_has_no_warnings_left(tmp_path: Path) -> None:
    """`make plan STACK=prod` lists what is left to do; after the README's steps, nothing."""
    from plano_tools.plan import plan_document
    from plano_tools.simulate import read_stack_config, run_program

    (tmp_path / "Pulumi.prod.yaml").write_text(prepare_prod((PROJECT / "Pulumi.prod.yaml").read_text()))
    run = run_program(PROJECT, "prod", config=read_stack_config(tmp_path, "prod"))
    assert run.error is None, run.error
    assert plan_document(run)["warnings"] == []
