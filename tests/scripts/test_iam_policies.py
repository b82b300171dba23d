"""docs/iam: one policy document per CI role, checked against what the program and scripts call.

The resource types come from the program run under mocks (every stack variant the roles deploy),
the data sources from the program's source, the ``aws`` commands from the scripts each workflow job
runs (and the scripts those call). A type, data source or command without its actions in the role
that needs them fails here; so does a preview role that could write or read a secret value, and a
role a pull request can assume that reaches prod's state or key.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import PROJECT, config_for, run_with, stack_run
from tests.scripts.test_workflows import JOBS, ROLE_VARS, _environment, _reachable_from_pull_requests, _role_var, _runs

IAM_DIR = PROJECT / "docs" / "iam"
SCRIPTS = PROJECT / "scripts"
AWS_CALL = re.compile(r"\baws ([a-z0-9-]+) ([a-z0-9-]+)(?: ([a-z0-9-]+))?")


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("iam_policies", SCRIPTS / "iam_policies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["iam_policies"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["iam_policies"]
    return module


GEN = _load_generator()


def _policy(role: str) -> dict[str, Any]:
    return dict(json.loads((IAM_DIR / f"{role}.json").read_text()))


def _allowed(role: str) -> set[str]:
    return {a for st in _policy(role)["Statement"] if st["Effect"] == "Allow" for a in _as_list(st["Action"])}


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _aws_types(run: Any) -> set[str]:
    assert run.error is None, run.error
    return {r.type for r in run.resources if r.type.startswith("aws:")}


@cache
def _deployed_types() -> frozenset[str]:
    """Every AWS resource type the program registers, over the stack variants CI deploys."""
    kms = "arn:aws:kms:us-east-1:491085411627:key/11111111-2222-4333-8444-555555555555"
    runs = [
        stack_run("dev"),
        stack_run("dev-rds"),
        stack_run("prod"),
        run_with("prod", values={"domainName": "plano.acme-widgets.io", "hostedZoneId": "Z04517273AHR7XK1QJ2PM"}),
        run_with("prod", values={"kmsKeyArn": kms, "dbEngine": "aurora-serverless"}),
        run_with("dev", values={"natGateways": "single", "ingress": "alb", "allowedCidrs": ["10.0.0.0/8"]}),
    ]
    return frozenset(t for run in runs for t in _aws_types(run))


def _review_run() -> Any:
    """A review stack: dev's config in dev's network (scripts/ci/review-stack.sh sets these keys)."""
    from plano_tools.simulate import run_program

    shared = {
        "vpcId": "vpc-0a1b2c3d4e5f60718",
        "publicSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
        "privateSubnetIds": ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"],
    }
    return run_program(PROJECT, "pr-123", config=config_for("dev", values=shared))


def test_the_committed_documents_are_current() -> None:
    wanted = {name: GEN.render(doc) for name, doc in GEN.documents().items()}
    present = {p.name: p.read_text() for p in IAM_DIR.glob("*.json")}
    assert present == wanted, "run .venv/bin/python scripts/iam_policies.py"
    for name, text in present.items():
        document = json.loads(text)
        assert document["Version"] == "2012-10-17", name
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow" and statement["Action"], name
            for action in _as_list(statement["Action"]):
                assert re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+", action), f"{name}: {action} (no wildcards)"


def test_every_resource_type_the_program_registers_has_its_actions() -> None:
    missing = sorted(_deployed_types() - set(GEN.RESOURCE_ACTIONS))
    assert missing == [], f"add these to RESOURCE_ACTIONS in scripts/iam_policies.py: {missing}"
    unused = sorted(set(GEN.RESOURCE_ACTIONS) - _deployed_types())
    assert unused == [], f"RESOURCE_ACTIONS lists types the program no longer registers: {unused}"


@pytest.mark.parametrize("role", ["deploy-dev", "deploy-prod"])
def test_deploy_roles_may_create_change_read_and_delete_every_type(role: str) -> None:
    allowed = _allowed(role)
    for type_ in _deployed_types():
        read, write = GEN.RESOURCE_ACTIONS[type_]
        assert set(read) | set(write) <= allowed, (role, type_, sorted(set(read) | set(write) - allowed))


def test_the_review_role_covers_a_review_stack_and_creates_no_network() -> None:
    types = _aws_types(_review_run())
    assert types and not types & GEN.NETWORK_TYPES, "a review stack shares dev's network"
    allowed = _allowed("review")
    for type_ in types:
        read, write = GEN.RESOURCE_ACTIONS[type_]
        assert set(read) | set(write) <= allowed, (type_, sorted(set(read) | set(write) - allowed))
    assert not {"ec2:CreateVpc", "ec2:CreateSubnet", "ec2:AllocateAddress", "ec2:CreateNatGateway"} & allowed


def test_every_data_source_the_program_calls_is_allowed_to_every_role() -> None:
    source = "\n".join(p.read_text() for p in (PROJECT / "components" / "plano_pulumi").rglob("*.py"))
    calls = set(re.findall(r"\baws\.((?:[a-z0-9]+\.)?get_[a-z_]+?)(?:_output)?\(", source))
    assert calls, "the program calls data sources"
    assert calls <= set(GEN.INVOKE_ACTIONS), f"add to INVOKE_ACTIONS: {sorted(calls - set(GEN.INVOKE_ACTIONS))}"
    for role in GEN.ROLES:
        for call in calls:
            assert set(GEN.INVOKE_ACTIONS[call]) <= _allowed(role), (role, call)


def _script_calls(path: Path, seen: set[Path] | None = None) -> set[str]:
    """`aws <service> <command>` in a script and in the scripts/ci scripts it runs."""
    seen = seen if seen is not None else set()
    if path in seen or not path.is_file():
        return set()
    seen.add(path)
    text = path.read_text()
    calls = {_command(m) for m in AWS_CALL.finditer(text)}
    for other in re.findall(r"scripts/ci/([\w.-]+\.sh)|\$here/([\w.-]+\.sh)|dirname \"\$0\"\)/([\w.-]+\.sh)", text):
        name = next(n for n in other if n)
        calls |= _script_calls(SCRIPTS / "ci" / name, seen)
    return calls


def _command(match: re.Match[str]) -> str:
    service, command, third = match.groups()
    return f"{service} {command} {third}" if command == "wait" and third else f"{service} {command}"


def test_every_aws_command_in_the_scripts_has_its_actions() -> None:
    calls = set()
    for path in [*SCRIPTS.glob("*.sh"), *SCRIPTS.glob("ci/*.sh"), *SCRIPTS.glob("*.py")]:
        calls |= {_command(m) for m in AWS_CALL.finditer(path.read_text())}
    assert {"ecs update-service", "secretsmanager put-secret-value", "ssm start-session"} <= calls
    assert calls <= set(GEN.CLI_ACTIONS), f"add to CLI_ACTIONS: {sorted(calls - set(GEN.CLI_ACTIONS))}"
    # What people run (not CI) is in the operator's document.
    people = set().union(*(_script_calls(p) for p in SCRIPTS.glob("*.sh"))) | {
        _command(m) for m in AWS_CALL.finditer((SCRIPTS / "refresh_prices.py").read_text())
    }
    operator = _allowed("operator")
    for call in people:
        assert set(GEN.CLI_ACTIONS[call]) <= operator, call


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS, ids=[f"{w}:{j}" for w, j, _ in JOBS])
def test_each_jobs_role_allows_the_aws_commands_its_scripts_run(
    workflow: str, job_id: str, job: dict[str, Any]
) -> None:
    if not _role_var(job):
        return
    role = ROLE_VARS[_role_var(job)]
    scripts = set(re.findall(r"(?:head/)?scripts/ci/([\w.-]+\.sh)", _runs(job)))
    calls = set().union(*(_script_calls(SCRIPTS / "ci" / s) for s in scripts)) if scripts else set()
    allowed = _allowed(role)
    for call in calls:
        assert set(GEN.CLI_ACTIONS[call]) <= allowed, f"{workflow}:{job_id} ({role}) runs `aws {call}`"


@pytest.mark.parametrize("role", ["preview", "preview-prod"])
def test_preview_roles_only_read_and_never_a_secret_value(role: str) -> None:
    cloud = {a for st in _policy(role)["Statement"] if st["Sid"] != "StateLock" for a in _as_list(st["Action"])}
    cloud = {a for a in cloud if not a.startswith(("s3:", "kms:"))}
    writes = sorted(a for a in cloud if not re.match(r"[a-z0-9-]+:(Describe|Get|List)", a))
    assert writes == [], writes
    assert "secretsmanager:GetSecretValue" not in _allowed(role)
    locks = [st for st in _policy(role)["Statement"] if st["Sid"] == "StateLock"]
    assert all("/.pulumi/locks/" in r for st in locks for r in _as_list(st["Resource"]))


def _reaches_prod(role: str) -> list[str]:
    """State objects or keys of prod that the role's document grants."""
    found = []
    for statement in _policy(role)["Statement"]:
        for resource in _as_list(statement.get("Resource", [])):
            if f"/{GEN.PULUMI_PROJECT}/prod" in resource or resource == GEN.PROD_SECRETS_KEY:
                found.append(resource)
    return found


def test_roles_a_pull_request_can_assume_never_reach_prods_state_or_key() -> None:
    for workflow, job_id, job in JOBS:
        if not (_role_var(job) and _reachable_from_pull_requests(workflow, job)):
            continue
        role = ROLE_VARS[_role_var(job)]
        if role == "preview-prod":  # behind its own environment with reviewers (test_workflows.py)
            assert _environment(job) == "production-preview"
            continue
        assert _reaches_prod(role) == [], (workflow, job_id, role)
        trust = json.loads((IAM_DIR / f"{role}.trust.json").read_text())
        subs = _as_list(trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"])
        assert not any("environment:production" in s for s in subs), role
    assert _reaches_prod("deploy-prod") and _reaches_prod("preview-prod")


@pytest.mark.parametrize(("role", "sub"), [("deploy-prod", "production"), ("preview-prod", "production-preview")])
def test_prod_roles_trust_only_their_environment(role: str, sub: str) -> None:
    trust = json.loads((IAM_DIR / f"{role}.trust.json").read_text())
    [statement] = trust["Statement"]
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:sub"] == f"repo:{GEN.REPO}:environment:{sub}"
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
