"""The offline plan and plan diff: a documented JSON contract, secrets masked, no credentials."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from components.tools.cli import main
from components.tools.plan import plan_diff_markdown, plan_document, plan_text
from components.tools.simulate import MOCK_PASSWORD, run_program
from tests.conftest import PROJECT, run_with, stack_run

SCHEMA = json.loads((PROJECT / "docs" / "plan.schema.json").read_text())


def plan_json(stack: str, capsys: pytest.CaptureFixture[str], project_dir: Path = PROJECT) -> dict[str, Any]:
    assert main(["--project-dir", str(project_dir), "plan", "--stack", stack, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_json_follows_the_documented_contract(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    document = plan_json(stack, capsys)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["stack"] == stack and document["profile"] == stack
    types = {r["type"] for r in document["resources"]}
    assert {"aws:rds/instance:Instance", "aws:ecs/service:Service", "plano:database:Database"} <= types
    rds = next(r for r in document["resources"] if r["type"] == "aws:rds/instance:Instance")
    assert rds["parent"] == "plano:database:Database::database"
    assert "instanceClass" in rds["inputs"]  # camelCase, as Pulumi passes them


def test_plan_masks_every_secret(capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(plan_json("dev", capsys))
    assert MOCK_PASSWORD not in text
    rds = next(r for r in plan_json("dev", capsys)["resources"] if r["type"] == "aws:rds/instance:Instance")
    assert rds["inputs"]["password"] == "[secret]"


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
        "key-OPENAI_API_KEY-value",
        "key-ANTHROPIC_API_KEY-value",
    }
    assert all(v["inputs"]["secretString"] == "[secret]" for v in versions)
    assert "v1:AAAA" not in json.dumps(document)
    assert document["cost"]["region"] == "eu-west-1"


def test_plan_text_groups_resources_by_component_and_ends_with_the_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "prod"]) == 0
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
    base = plan_document(stack_run("dev"))
    head = plan_document(
        run_with(
            "dev", values={"dbInstanceClass": "db.t4g.small", "ingress": "alb", "allowedCidrs": ["198.51.100.0/24"]}
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
    assert plan_text(plan_document(stack_run("prod"))) == plan_text(plan_document(run_program(PROJECT, "prod")))
