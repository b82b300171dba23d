"""Prod's preparation: the shipped placeholders are refused, and the tests never depend on them.

The committed ``Pulumi.prod.yaml`` ships with three documentation placeholders (the CIDR
203.0.113.0/24, a certificate of the example account 123456789012 and the on-call address
oncall@example.com). Prod refuses them at preview
(core/settings/placeholders.py), so the tests plan prod from a prepared fixture
(tests/fixtures/stacks/prepared), never from the committed file: a user who prepared prod as
docs/deploying.md says (their networks, their certificate, pinned images) keeps a green ``make test``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.placeholders import is_example_arn, is_example_network
from plano_tools.pin_images import write_pins
from plano_tools.simulate import read_stack_config, run_program

from tests.conftest import FIXTURE_STACKS, PREPARED_STACKS, PROJECT, example_run

# Tests that plan prod and once read the committed Pulumi.prod.yaml (its example values).
AFFECTED = [
    "tests/tools/test_render.py::test_rendered_files_are_what_the_task_carries",
    "tests/tools/test_plan.py::test_plan_text_groups_resources_by_component_and_ends_with_the_cost",
    "tests/stacks/test_stacks.py::test_images_come_from_config_and_prod_warns_unless_pinned",
    "tests/stacks/test_stacks.py::test_alb_admits_only_allowed_cidrs",
    "tests/policy/test_policy.py::test_committed_prod_file_fails_at_most_the_digest_policy_for_its_unpinned_images",
    "tests/policy/test_policy.py::test_example_prod_file_fails_only_the_digest_policy_for_its_unpinned_images",
    "tests/policy/test_policy.py::test_offline_command_checks_plan_files",
    "tests/policy/test_policy.py::test_breaking_an_invariant_fails_with_the_policy_name"
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


def prepare_prod(text: str, *, cidr: str = REAL_CIDR, certificate: str = REAL_CERTIFICATE, pins: bool = True) -> str:
    """What docs/deploying.md asks before the first prod deploy, done to a stack file's text: the
    placeholder values replaced (by value, whatever the comments say) and the images pinned."""
    text = text.replace("203.0.113.0/24", cidr)
    text = re.sub(r"arn:aws:acm:[a-z0-9-]+:123456789012:certificate/[0-9a-f-]+", certificate, text)
    text = re.sub(r"[A-Za-z0-9._%+-]+@example\.com", REAL_ALARM_EMAIL, text)
    return write_pins(text, PINNED) if pins else text


def test_the_shipped_prod_file_is_refused_before_any_resource() -> None:
    run = example_run("prod")
    assert isinstance(run.error, ConfigError) and run.resources == []
    assert run.error.where == "plano:allowedCidrs" and "documentation placeholder" in str(run.error)


def test_the_committed_prod_file_is_refused_while_it_holds_a_placeholder() -> None:
    """Whatever the user has filled in: a placeholder left is refused naming its key; a prepared
    file is not refused for a placeholder."""
    config = read_stack_config(PROJECT, "prod")
    cidrs = json.loads(config.values.get("plano:allowedCidrs", "[]"))
    left = [
        key
        for key, held in (
            ("plano:allowedCidrs", any(is_example_network(c) for c in cidrs)),
            ("plano:certificateArn", is_example_arn(config.values.get("plano:certificateArn", ""))),
        )
        if held
    ]
    run = run_program(PROJECT, "prod")
    if left:
        assert isinstance(run.error, ConfigError) and run.error.where == left[0], run.error
        assert run.resources == []
    else:
        assert "documentation placeholder" not in str(run.error or "")


def test_the_prepared_fixture_is_the_shipped_file_with_its_placeholders_replaced() -> None:
    shipped = yaml.safe_load(prepare_prod((FIXTURE_STACKS / "Pulumi.prod.yaml").read_text(), pins=False))["config"]
    prepared = yaml.safe_load((PREPARED_STACKS / "Pulumi.prod.yaml").read_text())["config"]
    images = {"plano:image", "plano:pgbouncerImage", "plano:initImage"}  # pinning is its own step
    assert {k: v for k, v in shipped.items() if k not in images} == {
        k: v for k, v in prepared.items() if k not in images
    }
    assert prepared["plano:allowedCidrs"] == [REAL_CIDR] and prepared["plano:certificateArn"] == REAL_CERTIFICATE


def test_prepare_prod_fills_in_every_example_value() -> None:
    config = yaml.safe_load(prepare_prod((FIXTURE_STACKS / "Pulumi.prod.yaml").read_text()))["config"]
    assert config["plano:allowedCidrs"] == [REAL_CIDR]
    assert config["plano:certificateArn"] == REAL_CERTIFICATE
    assert all("@sha256:" in config[f"plano:{k}"] for k in ("image", "pgbouncerImage", "initImage", "collectorImage"))
    assert config["plano:alarmEmails"] == [REAL_ALARM_EMAIL]


@pytest.mark.processes
def test_tests_of_the_prod_stack_pass_whatever_the_user_filled_in(tmp_path: Path) -> None:
    """A copy of the project whose Pulumi.prod.yaml a user prepared with values of their own (other
    than the fixture's): the tests that plan prod still pass there."""
    copy = tmp_path / "project"
    # Compiled modules come along (their sources keep their times, so they stay valid): the run
    # below then compiles nothing.
    kept = tuple(name for name in IGNORED if name != "__pycache__")
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns(*kept), symlinks=True)
    stack_file = copy / "Pulumi.prod.yaml"
    users = "arn:aws:acm:us-east-1:770011223344:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    stack_file.write_text(prepare_prod(stack_file.read_text(), cidr="172.20.0.0/16", certificate=users))
    env = dict(os.environ)
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
    """`make plan STACK=prod` lists what is left to do; after the guide's steps, nothing."""
    from plano_tools.plan import plan_document

    (tmp_path / "Pulumi.prod.yaml").write_text(prepare_prod((FIXTURE_STACKS / "Pulumi.prod.yaml").read_text()))
    run = run_program(PROJECT, "prod", config=read_stack_config(tmp_path, "prod"))
    assert run.error is None, run.error
    assert plan_document(run)["warnings"] == []
