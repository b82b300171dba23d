"""The offline plan and plan diff: a documented JSON contract, secrets masked, no credentials."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.images import PLANO_IMAGE
from plano_pulumi.core.settings import RawConfig
from plano_tools.cli import main
from plano_tools.plan import plan_diff_markdown, plan_document, plan_text
from plano_tools.simulate import MOCK_PASSWORD, read_stack_config, run_program

from tests.conftest import (
    FIXTURE_STACKS,
    PREPARED_STACKS,
    PROJECT,
    example_run,
    python_shim,
    run_with,
    shared_across_workers,
    stack_run,
)


def config_with(directory: Path, stack: str, **values: Any) -> RawConfig:
    """A stack file's config with some keys set, as `pulumi config set` leaves it."""
    base = read_stack_config(directory, stack)
    merged = {**base.values, **{f"plano:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}}
    return RawConfig(values=merged, secret_keys=base.secret_keys)


SCHEMA = json.loads((PROJECT / "docs" / "plan.schema.json").read_text())
TASK = "aws:ecs/taskDefinition:TaskDefinition"
EMPTY_COST = {"monthly_usd": 0.0, "currency": "USD", "region": "us-east-1", "prices_as_of": "2026-01-01", "items": []}
DIGEST = "sha256:" + "a" * 64
PINNED = {
    "image": f"katanemo/plano:0.4.36@{DIGEST}",
    "pgbouncerImage": f"ghcr.io/cloudnative-pg/pgbouncer:1.24.1@{DIGEST}",
    "initImage": f"postgres:17-alpine@{DIGEST}",
    "collectorImage": f"public.ecr.aws/aws-observability/aws-otel-collector:v0.45.1@{DIGEST}",
}


def plan_json(stack: str, capsys: pytest.CaptureFixture[str], project_dir: Path = PROJECT) -> dict[str, Any]:
    assert main(["--project-dir", str(project_dir), "plan", "--stack", stack, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_json_follows_the_documented_contract(
    stack: str, capsys: pytest.CaptureFixture[str], prepared_project: Path
) -> None:
    document = plan_json(stack, capsys, prepared_project)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["stack"] == stack and document["profile"] == stack
    types = {r["type"] for r in document["resources"]}
    # dev runs Aurora Serverless v2, prod RDS (plano:dbEngine); both are the `database` component.
    db_type, component = {
        "dev": ("aws:rds/cluster:Cluster", "plano:database:AuroraServerless"),
        "prod": ("aws:rds/instance:Instance", "plano:database:Database"),
    }[stack]
    assert {db_type, "aws:ecs/service:Service", component} <= types
    db = next(r for r in document["resources"] if r["type"] == db_type)
    assert db["parent"] == f"{component}::database"
    assert "storageEncrypted" in db["inputs"]  # camelCase, as Pulumi passes them
    assert document["cost"]["idle_day_usd"] >= 0


def test_plan_masks_every_secret(capsys: pytest.CaptureFixture[str]) -> None:
    document = plan_json("dev", capsys)
    assert MOCK_PASSWORD not in json.dumps(document)
    db = next(r for r in document["resources"] if r["type"] == "aws:rds/cluster:Cluster")
    assert db["inputs"]["masterPassword"] == "[secret]"


def test_plan_needs_no_passphrase_for_secure_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack file with `secure:` values (encrypted by some passphrase) plans offline as-is."""
    for name in ("__main__.py", "Pulumi.yaml", "plano_config.yaml"):
        shutil.copy(PROJECT / name, tmp_path / name)
    (tmp_path / "Pulumi.team.yaml").write_text(
        "encryptionsalt: v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy\n"
        "config:\n  aws:region: eu-west-1\n  plano:providerKeys:\n"
        "    OPENAI_API_KEY:\n      secure: v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBBBB\n"
        "    ANTHROPIC_API_KEY:\n      secure: v1:CCCCCCCCCCCCCCCC:DDDDDDDDDDDDDDDDDDDDDDDD\n"
    )
    document = plan_json("team", capsys, tmp_path)
    versions = [r for r in document["resources"] if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion"]
    assert {v["name"] for v in versions} == {
        "db-secret-value",
        "db-app-secret-value",
        "key-OPENAI_API_KEY-value",
        "key-ANTHROPIC_API_KEY-value",
        "provisioner-secret-value",  # a dev-profile server carries review stacks
        "provisioner-verifier-value",
    }
    assert all(v["inputs"]["secretString"] == "[secret]" for v in versions)
    assert "v1:AAAA" not in json.dumps(document)
    assert document["cost"]["region"] == "eu-west-1"


def test_plan_text_groups_resources_by_component_and_ends_with_the_cost(
    capsys: pytest.CaptureFixture[str], prepared_project: Path
) -> None:
    assert main(["--project-dir", str(prepared_project), "plan", "--stack", "prod"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Offline plan for stack prod (profile prod)")
    assert "plano:database:Database  database" in text
    assert "instanceClass=db.m7g.large" in text and "multiAz=true" in text
    assert "Estimated monthly cost:" in text and "Assumes:" in text
    assert MOCK_PASSWORD not in text


def test_plan_fails_with_the_same_message_as_pulumi_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("__main__.py", "Pulumi.yaml", "plano_config.yaml"):
        shutil.copy(PROJECT / name, tmp_path / name)
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  aws:region: us-east-1\n  plano:ingress: nlb\n")
    assert main(["--project-dir", str(tmp_path), "plan", "--stack", "bad"]) == 2
    err = capsys.readouterr().err
    expected = run_program(tmp_path, "bad").error
    assert err.strip() == f"error: {expected}"
    assert "plano:ingress" in err and "Traceback" not in err


def test_plan_diff_shows_changes_and_the_cost_delta() -> None:
    base = plan_document(run_with("dev", values={"dbEngine": "rds"}))
    head = plan_document(
        run_with(
            "dev",
            values={
                "dbEngine": "rds",
                "dbInstanceClass": "db.t4g.small",
                "ingress": "alb",
                "allowedCidrs": ["198.51.100.0/24"],
            },
        )
    )
    markdown = plan_diff_markdown(base, head)
    assert "### Offline plan: stack `dev`" in markdown
    assert "`instanceClass`: `db.t4g.micro` → `db.t4g.small`" in markdown
    assert "#### Added" in markdown and "`aws:lb/loadBalancer:LoadBalancer` **alb**" in markdown
    delta = head["cost"]["monthly_usd"] - base["cost"]["monthly_usd"]
    assert f"(**+{delta:.2f}**)" in markdown
    assert MOCK_PASSWORD not in markdown


def test_plan_diff_of_identical_plans_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = plan_document(stack_run("dev"))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    assert main(["plan-diff", str(path), str(path)]) == 0
    out = capsys.readouterr().out
    assert "0 to add, 0 to change, 0 to remove." in out and "No infrastructure change." in out


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not a plan JSON file"), ("[]", "is JSON but not a plan"), ('{"stack": "x"}', "no profile")],
)
def test_plan_diff_reports_a_bad_file(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(content)
    assert main(["plan-diff", str(broken), str(broken)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_plan_text_is_stable() -> None:
    again = run_program(PROJECT, "prod", config=read_stack_config(PREPARED_STACKS, "prod"))
    assert plan_text(plan_document(stack_run("prod"))) == plan_text(plan_document(again))


# --- warnings -------------------------------------------------------------------------------------


def test_example_prod_plan_is_refused_naming_the_placeholder_and_the_command() -> None:
    """The prod file as shipped (tests/fixtures/stacks) holds documentation placeholders: refused
    before any resource, with the key and the command that sets it (pulumi preview says the same)."""
    run = example_run("prod")
    assert isinstance(run.error, ConfigError) and run.resources == []
    assert run.error.where == "plano:allowedCidrs"
    assert "pulumi config set --path 'plano:allowedCidrs[0]'" in str(run.error)
    # Once the CIDR is set, the certificate is next, with its own command.
    cidr_set = run_program(PROJECT, "prod", config=config_with(FIXTURE_STACKS, "prod", allowedCidrs=["10.1.0.0/16"]))
    assert isinstance(cidr_set.error, ConfigError) and cidr_set.error.where == "plano:certificateArn"
    assert "pulumi config set plano:certificateArn" in str(cidr_set.error)


def test_prepared_prod_plan_shows_the_programs_warnings_in_text_and_json() -> None:
    """The three warnings pulumi preview prints for prod once its placeholders are replaced: the
    images are not pinned by digest yet (docs/deploying.md pins them next)."""
    run = stack_run("prod")
    document = plan_document(run)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert len(run.warnings) == 3
    assert document["warnings"] == run.warnings
    expected = ("plano:image", "plano:pgbouncerImage", "plano:collectorImage")
    for key, warning in zip(expected, document["warnings"], strict=True):
        assert warning.startswith(key)
    text = plan_text(document)
    head = text[: text.index("plano:network:Network")]  # before the resources: seen first
    assert "Warnings (3)" in head
    assert all(f"  ! {w}" in head for w in run.warnings)


def test_committed_dev_plan_has_no_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    document = plan_json("dev", capsys)
    assert document["warnings"] == []
    assert "Warnings" not in plan_text(document)


def test_plan_diff_lists_the_warnings_and_marks_the_new_ones() -> None:
    base = plan_document(run_with("prod", values=PINNED))
    head = plan_document(stack_run("prod"))
    markdown = plan_diff_markdown(base, head)
    section = markdown[markdown.index("#### Warnings (3)") :]
    assert f"- **new:** plano:image ({PLANO_IMAGE}) is not pinned by digest" in section
    same = plan_diff_markdown(head, head)
    assert "#### Warnings (3)" in same and "**new:**" not in same


# --- structural diffs ------------------------------------------------------------------------------


def test_plan_diff_of_an_image_bump_shows_the_old_and_the_new_image() -> None:
    base = plan_document(stack_run("dev"))
    head = plan_document(run_with("dev", values={"image": "ghcr.io/katanemo/plano:0.4.40"}))
    markdown = plan_diff_markdown(base, head)
    assert f"- `containerDefinitions[plano].image`: `{PLANO_IMAGE}` → `ghcr.io/katanemo/plano:0.4.40`" in markdown
    changed = markdown[markdown.index("#### Changed") :]
    assert changed.count("\n  - ") == 1  # only that field of that container
    assert "..." not in changed


def test_plan_diff_names_environment_secrets_and_statements() -> None:
    base = plan_document(stack_run("dev"))
    head = plan_document(
        run_with(
            "dev",
            values={
                "environment": {"LOG_LEVEL": "warn"},
                "providerKeysExternal": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MISTRAL_API_KEY"],
            },
        )
    )
    markdown = plan_diff_markdown(base, head)
    assert "- `containerDefinitions[plano].environment[LOG_LEVEL]`: added `warn`" in markdown
    assert "- `containerDefinitions[plano].secrets[MISTRAL_API_KEY]`: added `arn:aws:secretsmanager:" in markdown
    assert "- `policy.Statement[ReadThisTasksSecrets].Resource`: added `arn:aws:secretsmanager:" in markdown
    assert MOCK_PASSWORD not in markdown


def test_plan_diff_shows_a_long_value_as_a_line_diff_never_truncated() -> None:
    config = "listeners:\n" + "".join(f"  - port {n}\n" for n in range(40))
    base = {"stack": "s", "profile": "dev", "resources": [], "outputs": {}, "cost": EMPTY_COST}
    task = {"type": TASK, "name": "task", "parent": None}
    containers_before = [{"name": "init", "environment": [{"name": "PLANO_CONFIG_YAML", "value": config}]}]
    containers_after = [
        {"name": "init", "environment": [{"name": "PLANO_CONFIG_YAML", "value": config.replace("port 37", "port 9")}]}
    ]
    before = {**base, "resources": [{**task, "inputs": {"containerDefinitions": json.dumps(containers_before)}}]}
    after = {**base, "resources": [{**task, "inputs": {"containerDefinitions": json.dumps(containers_after)}}]}
    markdown = plan_diff_markdown(before, after)
    assert "- `containerDefinitions[init].environment[PLANO_CONFIG_YAML]`: changed" in markdown
    assert "\n    -  - port 37\n    +  - port 9\n" in markdown
    assert "```diff" in markdown


def test_plan_diff_keeps_secrets_masked() -> None:
    base = {"stack": "s", "profile": "dev", "resources": [], "outputs": {}, "cost": EMPTY_COST}
    version = {"type": "aws:secretsmanager/secretVersion:SecretVersion", "name": "v", "parent": None}
    before = {**base, "resources": [{**version, "inputs": {"secretString": "[secret]", "secretId": "a"}}]}
    after = {**base, "resources": [{**version, "inputs": {"secretString": "[secret]", "secretId": "b"}}]}
    markdown = plan_diff_markdown(before, after)
    assert "`secretId`: `a` → `b`" in markdown and "secretString" not in markdown


# --- not priced ----------------------------------------------------------------------------------


def test_plan_of_an_unpriced_region_and_class_marks_the_lines_and_the_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("__main__.py", "Pulumi.yaml", "plano_config.yaml"):
        shutil.copy(PROJECT / name, tmp_path / name)
    shutil.copy(FIXTURE_STACKS / "Pulumi.frankfurt.yaml", tmp_path / "Pulumi.frankfurt.yaml")
    assert main(["--project-dir", str(tmp_path), "plan", "--stack", "frankfurt"]) == 0
    text = capsys.readouterr().out
    assert "Estimated monthly cost: 0.00 USD in eu-central-1 PARTIAL:" in text
    assert (
        "not priced  RDS PostgreSQL db.m8g.large Multi-AZ, 730 h (no price: rds.instance.db.m8g.large.multi-az)" in text
    )
    assert "  ! not priced: the cost model has no prices for region eu-central-1" in text
    document = plan_json("frankfurt", capsys, tmp_path)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["cost"]["partial"] is True and document["cost"]["items"] == []


def test_plan_of_an_unpriced_class_prices_the_rest() -> None:
    document = plan_document(run_with("prod", values={**PINNED, "dbInstanceClass": "db.m8g.large"}))
    cost = document["cost"]
    assert cost["partial"] is True
    assert [i["what"] for i in cost["unpriced"]] == ["RDS PostgreSQL db.m8g.large Multi-AZ, 730 h"]
    assert cost["monthly_usd"] > 100  # storage, Fargate, NAT, ALB... still priced
    assert any(w.startswith("not priced: RDS PostgreSQL db.m8g.large") for w in document["warnings"])
    markdown = plan_diff_markdown(plan_document(run_with("prod", values=PINNED)), document)
    assert "**Partial:** 1 lines not priced" in markdown


def test_plan_says_how_old_the_prices_are() -> None:
    document = plan_document(stack_run("dev"), today=date(2027, 1, 1))
    as_of = date.fromisoformat(document["cost"]["prices_as_of"])
    assert document["cost"]["prices_age_days"] == (date(2027, 1, 1) - as_of).days
    assert f"{(date(2027, 1, 1) - as_of).days} days old" in plan_text(document)


def test_plan_flags_prices_older_than_a_year() -> None:
    as_of = date.fromisoformat(plan_document(stack_run("dev"))["cost"]["prices_as_of"])
    stale = plan_text(plan_document(stack_run("dev"), today=as_of + timedelta(days=366)))
    assert "Stale prices: the cost estimate uses list prices as of" in stale[: stale.index("\nplano:")]  # at the top
    assert "make refresh-prices" in stale and "STALE, over a year" in stale
    fresh = plan_text(plan_document(stack_run("dev"), today=as_of + timedelta(days=30)))
    assert "Stale prices" not in fresh and "STALE" not in fresh and "30 days old" in fresh


def test_plan_shows_when_dev_runs_before_the_resources(capsys: pytest.CaptureFixture[str]) -> None:
    document = plan_document(stack_run("dev"))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["schedule"] == {
        "active_hours": "08:00-20:00",
        "days": ["MON", "TUE", "WED", "THU", "FRI"],
        "timezone": "UTC",
    }
    text = plan_text(document)
    head = text[: text.index("\nplano:")]  # before the first component
    assert "Schedule: tasks run 08:00-20:00 UTC, MON-FRI, and are stopped otherwise" in head
    assert "wake_command" in head
    local = plan_document(run_with("dev", values={"scheduleTimezone": "America/Chicago", "activeDays": "MON,WED"}))
    assert "Schedule: tasks run 08:00-20:00 America/Chicago, MON,WED" in plan_text(local)
    prod = plan_document(stack_run("prod"))
    assert prod["schedule"] is None and "Schedule:" not in plan_text(prod)


# scripts/ci/offline-plan.sh as the pull-request workflow runs it, once for three stacks (each a
# process start and a program run; the dependency install is stubbed: the interpreter running the
# tests is used):
#   prod           prepared prod, no such stack on the base branch: compared as empty, every warning new
#   prod-unchanged shipped prod on both sides: refused as on the base branch, shown, not failed
#   prod-broken    prepared on the base branch, shipped in the pull request: failed
OFFLINE_STACKS = {
    "prod": (None, PREPARED_STACKS / "Pulumi.prod.yaml"),
    "prod-unchanged": (FIXTURE_STACKS / "Pulumi.prod.yaml", FIXTURE_STACKS / "Pulumi.prod.yaml"),
    "prod-broken": (PREPARED_STACKS / "Pulumi.prod.yaml", FIXTURE_STACKS / "Pulumi.prod.yaml"),
}


def _run_offline_plan(root: Path) -> None:
    """scripts/ci/offline-plan.sh on a base and a head checkout; its exit code in root/returncode."""
    ci = root / "ci"
    ci.mkdir()
    shutil.copy(PROJECT / "scripts" / "ci" / "offline-plan.sh", ci / "offline-plan.sh")
    (ci / "install-deps.sh").write_text("#!/bin/sh\nexit 0\n")
    (ci / "install-deps.sh").chmod(0o755)
    for side, index in (("base", 0), ("head", 1)):
        checkout = root / side
        for folder in ("components", "policy"):  # the program reads policy/secret_names.py
            # Compiled modules come along (their sources keep their times): the plans compile nothing.
            shutil.copytree(PROJECT / folder, checkout / folder)
        for name in ("__main__.py", "Pulumi.yaml", "plano_config.yaml", "requirements.txt"):
            shutil.copy(PROJECT / name, checkout / name)
        for stack, files in OFFLINE_STACKS.items():
            if files[index] is not None:
                shutil.copy(files[index], checkout / f"Pulumi.{stack}.yaml")
        python_shim(checkout)
    result = subprocess.run(
        [
            "bash",
            str(ci / "offline-plan.sh"),
            str(root / "base"),
            str(root / "head"),
            str(root / "out"),
            *OFFLINE_STACKS,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
    )
    (root / "returncode").write_text(str(result.returncode))
    (root / "stdout").write_text(result.stdout)


@pytest.fixture(scope="module")
def offline_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, str]]:
    """The script's exit code, its output and the comment's section per stack (one run for all workers)."""
    root = shared_across_workers(tmp_path_factory, "offline-plan", _run_offline_plan)
    comment = (root / "out" / "comment.md").read_text()
    sections = {}
    for part in comment.split("### Offline plan: stack `")[1:]:
        stack = part.split("`", 1)[0]
        sections[stack] = part
    assert set(sections) == set(OFFLINE_STACKS), comment
    return int((root / "returncode").read_text()), (root / "stdout").read_text(), sections


@pytest.mark.processes
def test_pull_request_comment_shows_the_warnings(offline_plan: Any) -> None:
    _, _, sections = offline_plan
    assert "#### Warnings (3)" in sections["prod"]
    assert f"- **new:** plano:image ({PLANO_IMAGE}) is not pinned by digest" in sections["prod"]


@pytest.mark.processes
def test_pull_request_comment_shows_why_an_unprepared_prod_is_refused(offline_plan: Any) -> None:
    """The shipped prod file in a pull request that breaks a prepared one: the job fails and the
    comment says which key and which command (the refusal pulumi preview and the deploy job meet)."""
    returncode, _, sections = offline_plan
    assert returncode == 1
    broken = sections["prod-broken"]
    assert broken.startswith("prod-broken`: failed")
    assert "plano:allowedCidrs" in broken and "documentation placeholder" in broken
    assert "pulumi config set --path 'plano:allowedCidrs[0]'" in broken


@pytest.mark.processes
def test_a_prod_refused_as_on_the_base_branch_is_shown_but_not_failed(offline_plan: Any) -> None:
    """The template repository ships prod unprepared: a pull request that leaves it so is not failed
    for it (only prod-broken fails the run above), and the comment still shows the refusal."""
    _, stdout, sections = offline_plan
    unchanged = sections["prod-unchanged"]
    assert unchanged.startswith("prod-unchanged`: refused, as on the base branch")
    assert "plano:allowedCidrs" in unchanged
    assert "failed" not in unchanged
    assert stdout.count(": failed") == 1  # prod-broken's alone
