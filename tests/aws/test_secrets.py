"""Provider-key reminders: which external keys still have no value (only where it can tell)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi_aws as aws
import pytest
from plano_pulumi.aws.secrets import empty_external_keys, put_secret_value_command
from plano_pulumi.core.naming import Names

from tests.conftest import PROJECT, stack_run

NAMES = Names("plano", "dev")


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Secret name -> its version ids, answered by fakes of the two invokes the check uses."""
    store: dict[str, list[str]] = {}

    def get_secrets(filters: Any = None, **_: Any) -> SimpleNamespace:
        prefix = filters[0].values[0]
        names = [n for n in store if n.startswith(prefix)]
        return SimpleNamespace(names=names, arns=[f"arn:{n}" for n in names])

    def get_secret_versions(secret_id: str, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(versions=store[secret_id.removeprefix("arn:")])

    monkeypatch.setattr(aws.secretsmanager, "get_secrets", get_secrets)
    monkeypatch.setattr(aws.secretsmanager, "get_secret_versions", get_secret_versions)
    return store


def test_reports_only_existing_secrets_without_a_value(secrets_manager: dict[str, list[str]]) -> None:
    secrets_manager[NAMES.provider_key_secret("OPENAI_API_KEY")] = []
    secrets_manager[NAMES.provider_key_secret("ANTHROPIC_API_KEY")] = ["v1"]
    # MISTRAL_API_KEY's secret does not exist yet (before the first `up`): nothing can be said.
    external = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MISTRAL_API_KEY")
    assert empty_external_keys(NAMES, external).empty == ["OPENAI_API_KEY"]


def test_a_prefix_match_is_not_the_secret(secrets_manager: dict[str, list[str]]) -> None:
    secrets_manager[NAMES.provider_key_secret("OPENAI_API_KEY_OLD")] = []
    assert empty_external_keys(NAMES, ("OPENAI_API_KEY",)).empty == []


def test_nothing_to_ask_without_external_keys(secrets_manager: dict[str, list[str]]) -> None:
    assert empty_external_keys(NAMES, ()).empty == []


def test_missing_list_permission_is_reported_not_raised(
    secrets_manager: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI role without ListSecretVersionIds must still preview; the reminder says why it is silent."""
    secrets_manager[NAMES.provider_key_secret("OPENAI_API_KEY")] = []

    def denied(secret_id: str, **_: Any) -> SimpleNamespace:
        raise Exception(
            "invoke of aws:secretsmanager/getSecretVersions:getSecretVersions failed: AccessDeniedException: "
            "not authorized to perform: secretsmanager:ListSecretVersionIds"
        )

    monkeypatch.setattr(aws.secretsmanager, "get_secret_versions", denied)
    check = empty_external_keys(NAMES, ("OPENAI_API_KEY",))
    assert check.empty == []
    assert "ListSecretVersionIds" in check.unchecked


def test_fill_command_reads_the_value_from_the_environment() -> None:
    command = put_secret_value_command("plano-dev/provider-keys/OPENAI_API_KEY", "OPENAI_API_KEY", "us-east-1")
    assert command.endswith('--secret-string "$OPENAI_API_KEY"')
    assert "--secret-id plano-dev/provider-keys/OPENAI_API_KEY" in command


@pytest.mark.processes
def test_fill_commands_output_runs_as_printed(tmp_path: Path) -> None:
    """`pulumi stack output provider_key_fill_commands | bash` (a string output prints as is)."""
    (tmp_path / "aws").write_text('#!/bin/sh\necho "$@" >> "$CALLS"\n')
    (tmp_path / "aws").chmod(0o755)
    calls = tmp_path / "calls"
    env = {
        "PATH": f"{tmp_path}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "OPENAI_API_KEY": "sk-test-openai",
        "ANTHROPIC_API_KEY": "sk-test-anthropic",
    }
    output = stack_run("dev").outputs["provider_key_fill_commands"]
    result = subprocess.run(["bash"], input=output, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "secretsmanager put-secret-value --region us-east-1 --secret-id plano-dev/provider-keys/OPENAI_API_KEY "
        "--secret-string sk-test-openai",
        "secretsmanager put-secret-value --region us-east-1 --secret-id plano-dev/provider-keys/ANTHROPIC_API_KEY "
        "--secret-string sk-test-anthropic",
    ]


# describe-secret: OPENAI_API_KEY's secret is empty, ANTHROPIC_API_KEY's has a value (filled earlier).
FAKE_AWS_ONE_FILLED = """#!/bin/sh
echo "$@" >> "$CALLS"
case "$2 $6" in
  *describe-secret*ANTHROPIC*) echo '{"VersionIdsToStages": {"v1": ["AWSCURRENT"]}}' ;;
  describe-secret*) echo "{}" ;;
esac
"""


def _fill_keys(tmp_path: Path, aws: str, **env_keys: str) -> tuple[subprocess.CompletedProcess[str], str]:
    outputs = {k: v for k, v in stack_run("dev").outputs.items() if k.startswith("provider_key")}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    (tmp_path / "pulumi").write_text(f'#!/bin/sh\ncat "{tmp_path / "outputs.json"}"\n')
    (tmp_path / "aws").write_text(aws)
    for tool in ("pulumi", "aws"):
        (tmp_path / tool).chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "CALLS": str(calls), **env_keys}
    result = subprocess.run(
        ["bash", str(PROJECT / "scripts/ci/fill-provider-keys.sh"), "dev"], env=env, capture_output=True, text=True
    )
    return result, calls.read_text()


@pytest.mark.processes
def test_ci_fills_the_external_keys_named_by_the_stack_output(tmp_path: Path) -> None:
    """scripts/ci/fill-provider-keys.sh reads provider_keys_external and provider_key_secret_arns
    from `pulumi stack output --json` (stand-ins for pulumi and aws; jq is real)."""
    openai = "test-" + secrets.token_hex(8)
    result, made = _fill_keys(tmp_path, FAKE_AWS_ONE_FILLED, OPENAI_API_KEY=openai)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ANTHROPIC_API_KEY: no repository secret" in result.stdout and "keeps its value" in result.stdout
    assert "put-secret-value --region us-east-1 --secret-id arn:aws:secretsmanager:us-east-1:" in made
    assert "provider-keys/OPENAI_API_KEY" in made and openai not in made  # the value goes by file
    assert "provider-keys/ANTHROPIC_API_KEY --secret-string" not in made  # left as it is
    assert "update-service --region us-east-1" in made  # the key was empty before: redeployed


@pytest.mark.processes
def test_ci_fails_at_once_naming_a_key_with_no_value_and_no_repository_secret(tmp_path: Path) -> None:
    """Issue 17, finding 15: an empty secret kept every task from starting while wait-stable.sh
    waited 40 minutes. Now the job fails in seconds, in one line naming the key and the fix."""
    openai = "test-" + secrets.token_hex(8)
    empty = '#!/bin/sh\necho "$@" >> "$CALLS"\ncase "$2" in describe-secret) echo "{}" ;; esac\n'
    result, made = _fill_keys(tmp_path, empty, OPENAI_API_KEY=openai)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1, result.stdout
    assert "ANTHROPIC_API_KEY has no value in Secrets Manager and no repository secret" in errors[0]
    assert "pulumi stack output provider_key_fill_commands --stack dev | bash" in errors[0]
    assert "provider-keys/OPENAI_API_KEY" in made  # the keys it has are still filled first
    assert "update-service" not in made  # no redeploy of tasks that cannot start
