"""Settings: one declaration of every key, profile defaults, and Pulumi.yaml kept in step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings import (
    KEYS,
    PROFILES,
    Capacity,
    Ingress,
    NatGateways,
    Profile,
    RawConfig,
    Secret,
    load_settings,
    pulumi_yaml_config_block,
)

from tests.conftest import PROJECT, UPSTREAM


def settings_for(values: dict[str, Any], secret_keys: set[str] | None = None, region: str | None = "us-east-1") -> Any:
    raw = {
        "plano:providerKeysExternal": json.dumps(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]),
        **{(k if ":" in k else f"plano:{k}"): (v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()},
    }
    return load_settings(
        RawConfig(values=raw, secret_keys=frozenset(secret_keys or ())),
        project="plano",
        stack="dev",
        base_dir=PROJECT,
        region=region,
    )


def test_pulumi_yaml_declares_exactly_the_keys_and_defaults_of_the_code() -> None:
    declared = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())["config"]
    assert declared == pulumi_yaml_config_block()
    for key in KEYS:
        assert declared[key.name]["description"], key.name


def test_pulumi_yaml_uses_a_pip_virtualenv() -> None:
    project = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())
    assert project["name"] == "plano"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


@pytest.mark.skipif(not (UPSTREAM / "pulumi" / "project.json").is_file(), reason="../shared/upstream is not present")
def test_pulumi_yaml_validates_against_pulumis_project_schema() -> None:
    import jsonschema

    schema = json.loads((UPSTREAM / "pulumi" / "project.json").read_text())
    project = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(project)]
    assert errors == []


def test_every_per_profile_key_has_a_value_in_every_profile() -> None:
    per_profile = {key.name for key in KEYS if key.per_profile}
    for profile in Profile:
        assert set(PROFILES[profile]) == per_profile


def test_profile_defaults_apply_when_keys_are_unset_or_sentinel() -> None:
    dev = settings_for({})
    assert dev.profile is Profile.DEV
    assert dev.ingress.mode is Ingress.NONE
    assert dev.network.nat_gateways is NatGateways.NONE
    assert dev.service.capacity is Capacity.FARGATE_SPOT
    assert dev.database.instance_class == PROFILES[Profile.DEV]["dbInstanceClass"]
    # What the Pulumi CLI merges in from Pulumi.yaml ("" and 0) also means "the profile's value".
    merged = settings_for({"dbInstanceClass": "", "cpu": "0", "memory": "", "ingress": ""})
    assert merged.database.instance_class == dev.database.instance_class
    assert (merged.service.cpu, merged.service.memory) == (dev.service.cpu, dev.service.memory)
    prod = settings_for(
        {
            "profile": "prod",
            "allowedCidrs": ["10.40.0.0/16"],
            "certificateArn": "arn:aws:acm:us-east-1:491085411627:certificate/00000000-0000-4000-8000-000000000000",
        }
    )
    assert prod.ingress.mode is Ingress.ALB
    assert prod.service.desired_count >= 2
    assert prod.policy.deletion_protection and prod.policy.multi_az and prod.policy.protect


def test_explicit_values_win_over_the_profile() -> None:
    settings = settings_for({"dbInstanceClass": "db.t4g.small", "cpu": 1024, "memory": 2048, "natGateways": "single"})
    assert settings.database.instance_class == "db.t4g.small"
    assert (settings.service.cpu, settings.service.memory) == (1024, 2048)
    assert settings.network.nat_gateways is NatGateways.SINGLE
    assert settings.network.tasks_in_public_subnets is False


def test_unknown_keys_are_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as error:
        settings_for({"dbInstanceClas": "db.t4g.micro"})
    message = str(error.value)
    assert "plano:dbInstanceClas" in message and "did you mean plano:dbInstanceClass?" in message


def test_region_is_required() -> None:
    with pytest.raises(ConfigError, match="aws:region"):
        settings_for({}, region=None)


def test_secret_values_never_show() -> None:
    secret = Secret("sk-live-123")
    assert "sk-live-123" not in repr(secret) and secret.reveal() == "sk-live-123"
    settings = settings_for(
        {"providerKeys": {"OPENAI_API_KEY": "sk-live-123"}, "providerKeysExternal": ["ANTHROPIC_API_KEY"]},
        {"plano:providerKeys"},
    )
    assert "sk-live-123" not in repr(settings)


def test_provider_keys_set_without_secret_in_the_stack_file_are_found(tmp_path: Path) -> None:
    from plano_pulumi.core.settings import plaintext_secret_leaves

    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(
        "config:\n  plano:providerKeys:\n    OPENAI_API_KEY:\n      secure: v1:abc\n    ANTHROPIC_API_KEY: sk-plain\n"
    )
    assert plaintext_secret_leaves(stack_file) == {"plano:providerKeys": ("ANTHROPIC_API_KEY",)}


# --- messages that point at the right place (issue 18, finding 9) ----------------------------------------


def test_an_unknown_key_points_at_the_configuration_reference() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for({"dbInstanceKlass": "db.t4g.small"})
    assert "docs/configuration.md lists every key" in caught.value.fix and "README" not in str(caught.value)
    assert "did you mean plano:dbInstanceClass" in caught.value.fix


@pytest.mark.parametrize(
    ("value", "suggested"), [("production", "prod"), ("development", "dev"), ("docker-local", "local")]
)
def test_a_bad_choice_suggests_the_value_meant(value: str, suggested: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for({"profile": value})
    assert caught.value.fix == f"pulumi config set plano:profile {suggested}"


@pytest.mark.parametrize(
    ("values", "ignored"),
    [
        ({"dbEngine": "aurora-serverless", "dbInstanceClass": "db.r7g.large"}, "plano:dbInstanceClass"),
        ({"dbEngine": "rds", "dbMaxCapacityAcu": 8}, "plano:dbMaxCapacityAcu"),
        ({"dbEngine": "rds", "dbAutoPauseSeconds": 600}, "plano:dbAutoPauseSeconds"),
    ],
)
def test_a_key_of_the_other_database_engine_is_not_silently_ignored(values: dict[str, Any], ignored: str) -> None:
    warnings = settings_for(values).warnings
    assert [w for w in warnings if w.startswith(f"{ignored} is ignored")], warnings
    # The same key on its own engine, or the profile's sentinel, warns about nothing.
    own = {"dbEngine": "rds" if values["dbEngine"] != "rds" else "aurora-serverless"}
    assert not [w for w in settings_for({**values, **own}).warnings if "is ignored" in w]
    sentinel = {k: ("" if isinstance(v, str) and k != "dbEngine" else v) for k, v in values.items()}
    sentinel = {k: (0 if isinstance(v, int) else v) for k, v in sentinel.items()}
    assert not [w for w in settings_for(sentinel).warnings if "is ignored" in w]


def test_file_errors_name_the_file_relative_to_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plano_pulumi.core.plano_config import load_plano_config

    (tmp_path / "configs").mkdir()
    big = tmp_path / "configs" / "plano_config.yaml"
    big.write_text("version: v0.1\n" + "#" * 600_000 + "\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as too_big:
        load_plano_config(big.resolve())
    assert too_big.value.where == "configs/plano_config.yaml"
    with pytest.raises(ConfigError) as missing:
        load_plano_config((tmp_path / "nowhere.yaml").resolve())
    assert "points at nowhere.yaml," in str(missing.value) and str(tmp_path) not in str(missing.value)
