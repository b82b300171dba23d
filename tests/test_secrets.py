"""Provider-key reminders: which external keys still have no value (only where it can tell)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pulumi_aws as aws
import pytest

from components.aws.secrets import empty_external_keys, put_secret_value_command
from components.core.naming import Names

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
    assert empty_external_keys(NAMES, external) == ["OPENAI_API_KEY"]


def test_a_prefix_match_is_not_the_secret(secrets_manager: dict[str, list[str]]) -> None:
    secrets_manager[NAMES.provider_key_secret("OPENAI_API_KEY_OLD")] = []
    assert empty_external_keys(NAMES, ("OPENAI_API_KEY",)) == []


def test_nothing_to_ask_without_external_keys(secrets_manager: dict[str, list[str]]) -> None:
    assert empty_external_keys(NAMES, ()) == []


def test_fill_command_reads_the_value_from_the_environment() -> None:
    command = put_secret_value_command("plano-dev/provider-keys/OPENAI_API_KEY", "OPENAI_API_KEY", "us-east-1")
    assert command.endswith('--secret-string "$OPENAI_API_KEY"')
    assert "--secret-id plano-dev/provider-keys/OPENAI_API_KEY" in command
