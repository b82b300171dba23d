"""GitHub Actions workflows: zizmor finds nothing, the schema check passes, and the promises hold.

Both tools come from PyPI (requirements-dev.txt) and run offline: zizmor with ``--offline`` (no
GitHub API audits), check-jsonschema with its vendored copy of the workflow schema.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT

WORKFLOWS_DIR = PROJECT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))
DEPENDABOT = PROJECT / ".github" / "dependabot.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")
VERSION_COMMENT = re.compile(r"^\s*#\s*v\d+\.\d+\.\d+\s*$")
PULUMI_STEP_ACTIONS = ("pulumi/actions@",)


def _tool(name: str) -> str:
    """The tool installed next to the interpreter running the tests (the project's virtualenv)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: make setup (it is in requirements-dev.txt)")
    return found


def _offline_env() -> dict[str, str]:
    # No token: even a misconfigured run cannot reach the GitHub API.
    drop = {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}
    return {k: v for k, v in os.environ.items() if k not in drop} | {"NO_COLOR": "1"}


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean true.
    triggers = workflow.get("on", workflow.get(True))
    if isinstance(triggers, str):
        return {triggers: None}
    if isinstance(triggers, list):
        return dict.fromkeys(triggers)
    assert isinstance(triggers, dict)
    return triggers


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def _uses(job: dict[str, Any]) -> list[str]:
    return [str(step["uses"]) for step in _steps(job) if "uses" in step]


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step["run"]) for step in _steps(job) if "run" in step)


WORKFLOWS = {path.name: _load(path) for path in WORKFLOW_FILES}

# Repository or environment variable holding each job kind's AWS role -> its policy in docs/iam/.
ROLE_VARS = {
    "DEV_AWS_ROLE_ARN": "deploy-dev",
    "PROD_AWS_ROLE_ARN": "deploy-prod",
    "PREVIEW_AWS_ROLE_ARN": "preview",
    "PROD_PREVIEW_AWS_ROLE_ARN": "preview-prod",
    "REVIEW_AWS_ROLE_ARN": "review",
}
# Roles set on an environment (a job's `if` cannot read those): the repository variable that turns the job on.
ENVIRONMENT_GATES = {
    "PROD_AWS_ROLE_ARN": "vars.DEPLOY_PROD == 'true'",
    "PROD_PREVIEW_AWS_ROLE_ARN": "vars.PREVIEW_PROD == 'true'",
}
EXPRESSION_NAME = re.compile(r"\b(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)")


def _role_var(job: dict[str, Any]) -> str:
    """The variable the job's OIDC step takes its role from ("" without one)."""
    for step in job.get("steps", []):
        if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
            match = re.fullmatch(r"\$\{\{ vars\.([A-Z_]+) \}\}", str(step["with"]["role-to-assume"]))
            assert match, step["with"]["role-to-assume"]
            return match.group(1)
    return ""


def _environment(job: dict[str, Any]) -> str:
    env = job.get("environment", "")
    return str(env.get("name", "") if isinstance(env, dict) else env)


def _reachable_from_pull_requests(workflow: str, job: dict[str, Any]) -> bool:
    """The job can run for a pull_request event (its `if` does not restrict it to other events)."""
    if not {"pull_request", "pull_request_target"} & set(_triggers(WORKFLOWS[workflow])):
        return False
    condition = " ".join(str(job.get("if", "")).split())
    return not re.search(r"github\.event_name == '(schedule|workflow_dispatch|push)'", condition)


def _names(job: dict[str, Any]) -> set[str]:
    """Every secrets.X and vars.X the job refers to (in any field)."""
    return {f"{kind}.{name}" for kind, name in EXPRESSION_NAME.findall(json.dumps(job))}


JOBS = [(name, job_id, job) for name, wf in WORKFLOWS.items() for job_id, job in wf["jobs"].items()]


def _job(workflow: str, job_id: str) -> dict[str, Any]:
    job = WORKFLOWS[workflow]["jobs"][job_id]
    assert isinstance(job, dict)
    return job


def test_the_workflows_exist() -> None:
    assert set(WORKFLOWS) == {"pull-request.yml", "review-stacks.yml", "deploy.yml", "component-package.yml"}


# --- the tools ------------------------------------------------------------------------------------


@pytest.mark.processes
def test_zizmor_reports_nothing() -> None:
    result = subprocess.run(
        [
            _tool("zizmor"),
            "--offline",
            "--strict-collection",  # a workflow zizmor cannot parse is an error, not a skipped file
            "--no-progress",
            "--format",
            "json",
            str(WORKFLOWS_DIR.parent),  # the workflows and dependabot.yml
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_offline_env(),
        cwd=PROJECT,
    )
    findings = json.loads(result.stdout) if result.stdout.strip() else None
    assert result.returncode == 0 and findings == [], (
        f"zizmor exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    for path in [*WORKFLOW_FILES, DEPENDABOT]:  # every file was audited, none silently skipped
        assert re.search(rf"completed \S*/{re.escape(path.name)}$", result.stderr, re.M), result.stderr


@pytest.mark.processes
def test_check_jsonschema_accepts_the_workflows() -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOW_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_offline_env(),
        cwd=PROJECT,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


@pytest.mark.processes
def test_dependabot_keeps_the_pins_current() -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_offline_env(),
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    ecosystems = {u["package-ecosystem"] for u in _load(DEPENDABOT)["updates"]}
    assert ecosystems == {"github-actions", "pip"}


# --- supply chain and permissions ---------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version(path: Path) -> None:
    lines = [m for line in path.read_text(encoding="utf-8").splitlines() if (m := USES_LINE.match(line))]
    assert lines, f"{path.name} uses no action"
    for match in lines:
        ref, rest = match.group(1), match.group(2)
        assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned by a full commit SHA"
        assert VERSION_COMMENT.match(rest), f"{path.name}: {ref} needs a '# vX.Y.Z' comment, got {rest!r}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_pull_request_target(path: Path) -> None:
    assert "pull_request_target" not in _triggers(WORKFLOWS[path.name])
    assert "pull_request_target" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_top_level_permissions_grant_nothing(name: str) -> None:
    assert WORKFLOWS[name].get("permissions") == {}, "top level: `permissions: {}`, jobs ask for their own"


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS, ids=[f"{w}:{j}" for w, j, _ in JOBS])
def test_every_job_declares_minimal_permissions(workflow: str, job_id: str, job: dict[str, Any]) -> None:
    permissions = job.get("permissions")
    assert isinstance(permissions, dict), f"{workflow}:{job_id} must declare its permissions"
    allowed = {"contents": "read", "id-token": "write", "pull-requests": "write"}
    for scope, level in permissions.items():
        assert allowed.get(scope) == level, f"{workflow}:{job_id} asks for {scope}: {level}"
    uses_aws = any(u.startswith("aws-actions/configure-aws-credentials@") for u in _uses(job))
    assert ("id-token" in permissions) == uses_aws, f"{workflow}:{job_id}: id-token only where OIDC is used"


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS, ids=[f"{w}:{j}" for w, j, _ in JOBS])
def test_checkouts_do_not_persist_credentials(workflow: str, job_id: str, job: dict[str, Any]) -> None:
    for step in _steps(job):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{workflow}:{job_id}"


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS, ids=[f"{w}:{j}" for w, j, _ in JOBS])
def test_no_expression_is_interpolated_into_a_script(workflow: str, job_id: str, job: dict[str, Any]) -> None:
    # Stricter than zizmor's template-injection audit: values reach scripts through `env:` only.
    assert "${{" not in _runs(job), f"{workflow}:{job_id}: pass the value through env"


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS, ids=[f"{w}:{j}" for w, j, _ in JOBS])
def test_cloud_credentials_only_when_configured_and_never_for_forks(
    workflow: str, job_id: str, job: dict[str, Any]
) -> None:
    if not any(u.startswith("aws-actions/configure-aws-credentials@") for u in _uses(job)):
        return
    condition = " ".join(str(job.get("if", "")).split())
    role = _role_var(job)
    # Skipped until configured: the role's variable (or, for environment-scoped roles, which a job's
    # `if` cannot read, the repository variable that turns the job on).
    gate = ENVIRONMENT_GATES.get(role, f"vars.{role} != ''")
    assert gate in condition, f"{workflow}:{job_id} must be skipped without {gate}"
    if _reachable_from_pull_requests(workflow, job):
        assert "github.event.pull_request.head.repo.full_name == github.repository" in condition, (
            f"{workflow}:{job_id} must not run for pull requests from forks"
        )
    for step in _steps(job):
        if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
            assert role in ROLE_VARS, f"{workflow}:{job_id}: role-to-assume must be one of {sorted(ROLE_VARS)}"
            assert "aws-access-key-id" not in step["with"], "OIDC only, no long-lived keys"


def test_pulumi_cli_version_matches_the_sdk_pin() -> None:
    requirements = (PROJECT / "requirements.txt").read_text(encoding="utf-8")
    [sdk] = re.findall(r"^pulumi==(\S+)", requirements, re.M)
    for name, workflow in WORKFLOWS.items():
        for job_id, job in workflow["jobs"].items():
            for step in _steps(job):
                if str(step.get("uses", "")).startswith(PULUMI_STEP_ACTIONS):
                    version = step["with"]["pulumi-version"]
                    if version == "${{ env.PULUMI_VERSION }}":
                        version = {**workflow.get("env", {}), **job.get("env", {})}["PULUMI_VERSION"]
                    assert version == sdk, f"{name}:{job_id} installs Pulumi {version}, the SDK is {sdk}"


def test_scripts_the_workflows_run_exist_and_are_executable() -> None:
    scripts = set()
    for _, _, job in JOBS:
        scripts |= set(re.findall(r"(?:head/)?(scripts/ci/[\w.-]+\.sh)", _runs(job)))
    assert scripts
    for script in scripts:
        path = PROJECT / script
        assert path.is_file() and os.access(path, os.X_OK), script


# --- the promises of each workflow --------------------------------------------------------------


def test_pull_requests_run_the_tests_the_offline_plan_and_previews() -> None:
    workflow = WORKFLOWS["pull-request.yml"]
    assert set(_triggers(workflow)) == {"pull_request"}
    assert "make test" in _runs(_job("pull-request.yml", "test"))
    plan = _job("pull-request.yml", "offline-plan")
    assert plan["permissions"] == {"contents": "read"}, "pull request code runs with a read-only token"
    checkouts = [s for s in _steps(plan) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert any(s["with"].get("ref") == "${{ github.event.pull_request.base.sha }}" for s in checkouts)
    assert "offline-plan.sh" in _runs(plan)
    assert "GITHUB_STEP_SUMMARY" in (PROJECT / "scripts/ci/offline-plan.sh").read_text(), "the plan is always shown"
    comment = _job("pull-request.yml", "plan-comment")
    assert not any(str(u).startswith("actions/checkout@") for u in _uses(comment)), "no PR code beside a write token"
    assert "github.event.pull_request.head.repo.full_name == github.repository" in comment["if"]
    for job_id, stack in (("preview", "dev"), ("preview-prod", "prod")):
        preview = _job("pull-request.yml", job_id)
        [run] = [s for s in _steps(preview) if s.get("with", {}).get("command") == "preview"]
        assert run["with"]["stack-name"] == stack
        assert run["with"]["comment-on-pr"] is True
        assert run["with"]["policyPacks"] == "${{ steps.prepare.outputs.policy_packs }}"


def test_review_stacks_follow_the_pull_request_and_expire() -> None:
    workflow = WORKFLOWS["review-stacks.yml"]
    triggers = _triggers(workflow)
    assert set(triggers["pull_request"]["types"]) == {"opened", "synchronize", "reopened", "closed"}
    assert triggers["schedule"] and "workflow_dispatch" in triggers
    up, destroy = _job("review-stacks.yml", "up"), _job("review-stacks.yml", "destroy")
    assert "github.event.action != 'closed'" in up["if"]
    assert "github.event.action == 'closed'" in destroy["if"]
    assert 'review-stack.sh up "$PR_NUMBER"' in _runs(up)
    assert 'review-stack.sh destroy "$PR_NUMBER"' in _runs(destroy)
    for job in (up, destroy):
        assert job["concurrency"] == {
            "group": "pulumi-pr-${{ github.event.pull_request.number }}",
            "cancel-in-progress": False,
        }
    cleanup = _job("review-stacks.yml", "cleanup")
    env = next(s["env"] for s in _steps(cleanup) if "cleanup-review-stacks.sh" in str(s.get("run", "")))
    assert "vars.REVIEW_STACK_MAX_AGE_DAYS || '3'" in env["MAX_AGE_DAYS"]


def test_review_stack_teardown_removes_the_stack() -> None:
    review = (PROJECT / "scripts/ci/review-stack.sh").read_text()
    cleanup = (PROJECT / "scripts/ci/cleanup-review-stacks.sh").read_text()
    for script in (review, cleanup):
        destroys = [line for line in script.splitlines() if re.search(r"\bpulumi destroy\b", line)]
        assert destroys and all("--remove" in line and "--yes" in line for line in destroys)
    assert "pulumi stack select --create" in review
    assert "Pulumi.dev.yaml" in review, "review stacks start from the dev profile"


def test_dev_deploys_on_push_and_prod_only_through_the_protected_environment() -> None:
    workflow = WORKFLOWS["deploy.yml"]
    triggers = _triggers(workflow)
    assert triggers["push"]["branches"] == ["main"] and "workflow_dispatch" in triggers
    dev, prod = _job("deploy.yml", "dev"), _job("deploy.yml", "prod")
    assert "environment" not in dev
    assert prod["environment"] == "production"
    assert prod["needs"] == "dev"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        [up] = [s for s in _steps(job) if s.get("with", {}).get("command") == "up"]
        assert up["with"]["stack-name"] == stack
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
        assert "github.ref == 'refs/heads/main'" in job["if"]
    assert not any(
        s.get("with", {}).get("stack-name") == "prod"
        for name, wf in WORKFLOWS.items()
        for job_id, job in wf["jobs"].items()
        if (name, job_id) != ("deploy.yml", "prod")
        for s in _steps(job)
        if s.get("with", {}).get("command") in {"up", "destroy", "refresh"}
    ), "only the protected job changes prod"


def test_the_component_package_job_reads_the_schema_and_generates_an_sdk_without_skipping() -> None:
    workflow = WORKFLOWS["component-package.yml"]
    triggers = _triggers(workflow)
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    [(job_id, job)] = workflow["jobs"].items()
    assert job["permissions"] == {"contents": "read"}
    # Nothing can turn a failure into a pass: no condition, no continue-on-error, bash with pipefail.
    for part in [job, *_steps(job)]:
        assert "if" not in part and "continue-on-error" not in part, f"{job_id}: {part.get('name', 'the job')}"
    assert job["defaults"]["run"]["shell"] == "bash"
    assert any(str(u).startswith(PULUMI_STEP_ACTIONS) for u in _uses(job)), "the real Pulumi CLI"
    runs = _runs(job)
    assert "pulumi package get-schema components/plugin" in runs
    assert "pulumi package gen-sdk" in runs and "--language nodejs" in runs
    assert "|| true" not in runs and "set +e" not in runs
    checks = [line for line in runs.splitlines() if line.strip().startswith("jq -e")]
    assert any("plano:index:PlanoOnAws" in line and "plano:index:PlanoOnDocker" in line for line in checks)
    assert any("providerKeys.secret" in line for line in checks)
    # The plugin folder the job reads is the one the repository ships.
    assert (PROJECT / "components/plugin/PulumiPlugin.yaml").is_file()


# --- prod's secrets and role: only in the protected `production` environment ---------------------------


def _production_names() -> set[str]:
    """The secrets and variables the production-environment jobs use that no other job does."""
    inside = {n for _, _, job in JOBS if _environment(job) == "production" for n in _names(job)}
    outside = {n for _, _, job in JOBS if _environment(job) != "production" for n in _names(job)}
    return inside - outside


def test_prods_secrets_and_role_are_used_only_in_the_production_environment() -> None:
    names = _production_names()
    assert {"secrets.PROD_PULUMI_CONFIG_PASSPHRASE", "vars.PROD_AWS_ROLE_ARN"} <= names
    for workflow, job_id, job in JOBS:
        used = {n for n in _names(job) if re.match(r"(secrets|vars)\.PROD_(?!PREVIEW_)", n)}
        if used:
            assert _environment(job) == "production", f"{workflow}:{job_id} uses {sorted(used)} outside production"
        preview_names = {n for n in _names(job) if ".PROD_PREVIEW_" in n}
        if preview_names:
            assert _environment(job) == "production-preview", f"{workflow}:{job_id} uses {sorted(preview_names)}"
    # No secret under a generic name that a repository-level value would fill for every job.
    everything = {n for _, _, job in JOBS for n in _names(job)}
    assert "secrets.PULUMI_CONFIG_PASSPHRASE" not in everything and "vars.AWS_ROLE_ARN" not in everything


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS, ids=[f"{w}:{j}" for w, j, _ in JOBS])
def test_no_pull_request_job_can_reach_the_production_environment_or_its_secrets(
    workflow: str, job_id: str, job: dict[str, Any]
) -> None:
    if not _reachable_from_pull_requests(workflow, job):
        return
    assert _environment(job) != "production", f"{workflow}:{job_id} runs in production on a pull request"
    leaked = _names(job) & _production_names()
    assert not leaked, f"{workflow}:{job_id} can read {sorted(leaked)} on a pull request"
    text = json.dumps(job)
    assert "toJSON(secrets)" not in text and "inherit" not in str(job.get("secrets", "")), "no secrets wholesale"
    if _role_var(job):
        assert ROLE_VARS[_role_var(job)] not in ("deploy-prod", "deploy-dev"), f"{workflow}:{job_id}: a deploy role"


def test_a_prod_preview_on_a_pull_request_waits_behind_its_own_environment() -> None:
    job = _job("pull-request.yml", "preview-prod")
    assert _environment(job) == "production-preview" != "production"
    assert _role_var(job) == "PROD_PREVIEW_AWS_ROLE_ARN"
    assert "vars.PREVIEW_PROD == 'true'" in job["if"]  # opt-in: it waits for a reviewer on every pull request
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    docs = (PROJECT / "docs" / "operations.md").read_text()
    assert "production-preview" in docs and "Required reviewers" in docs


@pytest.mark.parametrize(("workflow", "job_id", "job"), JOBS, ids=[f"{w}:{j}" for w, j, _ in JOBS])
def test_jobs_that_only_preview_use_a_read_only_role(workflow: str, job_id: str, job: dict[str, Any]) -> None:
    commands = {s["with"].get("command") for s in _steps(job) if str(s.get("uses", "")).startswith("pulumi/actions@")}
    commands.discard(None)
    if commands != {"preview"}:
        return
    role = ROLE_VARS[_role_var(job)]
    policy = json.loads((PROJECT / "docs" / "iam" / f"{role}.json").read_text())
    [stack] = [st for st in policy["Statement"] if st["Sid"] == "Stack"]
    writes = [a for a in stack["Action"] if not re.match(r"[a-z0-9-]+:(Describe|Get|List)", a)]
    assert writes == [] and "secretsmanager:GetSecretValue" not in stack["Action"], (role, writes)
