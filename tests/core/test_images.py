"""Default images, the Plano release in one place, and plano:imageRegistry (mocked stack runs)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.images import (
    INIT_IMAGE,
    PGBOUNCER_IMAGE,
    PLANO_IMAGE,
    PLANO_VERSION,
    in_registry,
    parse_image,
    plano_image_environment,
)
from plano_pulumi.core.settings.keys import KEYS_BY_NAME

from tests.conftest import PROJECT, containers, env_of, plain, run_with, stack_run

REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def _requirement(name: str) -> str:
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        match = re.match(rf"^{re.escape(name)}==(\S+)", line.strip())
        if match:
            return match.group(1)
    raise AssertionError(f"requirements.txt does not pin {name}")


def test_one_plano_version_for_image_package_and_pulumi_yaml() -> None:
    pulumi_yaml = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())["config"]
    assert PLANO_IMAGE.endswith(f":{PLANO_VERSION}")
    assert _requirement("planoai") == PLANO_VERSION
    assert pulumi_yaml["image"]["default"] == KEYS_BY_NAME["image"].default == PLANO_IMAGE
    installed = pytest.importorskip("planoai")
    assert installed.__version__ == PLANO_VERSION, "run `make setup`: the venv's planoai is not the pinned one"


def test_default_images_avoid_registries_with_anonymous_pull_limits() -> None:
    for image in (PLANO_IMAGE, PGBOUNCER_IMAGE, INIT_IMAGE):
        assert parse_image(image).registry in ("ghcr.io", "public.ecr.aws"), image
    task = containers(stack_run("dev"))
    images = [task[name]["image"] for name in ("plano", "pgbouncer", "init")]
    assert images == [PLANO_IMAGE, PGBOUNCER_IMAGE, INIT_IMAGE]


def test_plano_container_starts_without_a_package_index(any_stack: Any) -> None:
    env = env_of(containers(any_stack)["plano"])
    assert env["UV_NO_SYNC"] == "1"
    assert env["UV_PROJECT_ENVIRONMENT"] == "/usr/local"  # where the image pip-installs planoai
    assert plano_image_environment().items() <= env.items()


def test_user_environment_cannot_undo_the_offline_start() -> None:
    # Issue 19: a name the image relies on is refused with one line instead of silently dropped.
    refused = run_with("dev", values={"environment": {"UV_NO_SYNC": "0", "LOG_LEVEL": "info"}})
    assert isinstance(refused.error, ConfigError) and "plano:environment.UV_NO_SYNC" in str(refused.error)
    assert refused.resources == []
    run = run_with("dev", values={"environment": {"LOG_LEVEL": "info"}})
    assert run.error is None, run.error
    env = env_of(containers(run)["plano"])
    assert env["UV_NO_SYNC"] == "1" and env["LOG_LEVEL"] == "info"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/katanemo/plano:0.4.39", f"{REGISTRY}/ghcr/katanemo/plano:0.4.39"),
        ("public.ecr.aws/docker/library/postgres:17", f"{REGISTRY}/ecr-public/docker/library/postgres:17"),
        ("postgres:17@sha256:" + "b" * 64, f"{REGISTRY}/docker-hub/library/postgres:17@sha256:" + "b" * 64),
        ("katanemo/plano:0.4.36", f"{REGISTRY}/docker-hub/katanemo/plano:0.4.36"),
        (f"{REGISTRY}/mine/plano:1", f"{REGISTRY}/mine/plano:1"),
    ],
)
def test_images_map_to_the_pull_through_cache_layout(image: str, expected: str) -> None:
    assert in_registry(image, REGISTRY) == expected
    assert in_registry(image, "") == image


def test_image_registry_moves_every_image_and_lets_the_task_fill_the_cache() -> None:
    run = run_with("dev", values={"imageRegistry": REGISTRY})
    assert run.error is None, run.error
    images = {name: c["image"] for name, c in containers(run).items()}
    assert all(image.startswith(f"{REGISTRY}/") for image in images.values()), images
    roles = {r.name: json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}
    # Plano's task, and dev's review-database janitor (the init image only): each pulls its own images.
    for role, repository in (("execution-policy", "ghcr/katanemo/plano"), ("janitor-execution-policy", "ecr-public")):
        statements = {s.get("Sid"): s for s in roles[role]["Statement"]}
        assert "ecr:BatchGetImage" in statements["PullTaskImages"]["Action"]
        fill = statements["FillPullThroughCache"]
        assert set(fill["Action"]) == {"ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
        assert any(f"arn:aws:ecr:eu-west-1:123456789012:repository/{repository}" in r for r in fill["Resource"]), role


def test_without_image_registry_the_role_gets_no_ecr_rights() -> None:
    policies = [json.loads(r.inputs["policy"]) for r in stack_run("dev").of_type("aws:iam/rolePolicy:RolePolicy")]
    assert not any('"ecr:' in json.dumps(p) for p in policies)


@pytest.mark.parametrize("value", ["ghcr.io", "123.dkr.ecr.us-east-1.amazonaws.com", "https://x.example"])
def test_image_registry_must_be_an_ecr_registry(value: str) -> None:
    run = run_with("dev", values={"imageRegistry": value})
    assert isinstance(run.error, ConfigError) and "plano:imageRegistry" in str(run.error)


def test_image_registry_refuses_registries_it_cannot_map() -> None:
    run = run_with("dev", values={"imageRegistry": REGISTRY, "image": "quay.io/example/plano:1"})
    assert isinstance(run.error, ConfigError)
    assert "quay.io" in str(run.error) and "plano:imageRegistry" in str(run.error)


def test_plano_0_4_36_still_accepted() -> None:
    run = run_with("dev", values={"image": "ghcr.io/katanemo/plano:0.4.36"})
    assert run.error is None, run.error
    assert containers(run)["plano"]["image"] == "ghcr.io/katanemo/plano:0.4.36"


def test_the_local_docker_stack_starts_plano_without_a_package_index_too() -> None:
    local = {c.name: c for c in stack_run("local").of_type("docker:index/container:Container")}
    env = dict(line.split("=", 1) for line in plain(local["plano"].inputs["envs"]))
    assert plano_image_environment().items() <= env.items()
