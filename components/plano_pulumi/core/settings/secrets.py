"""Validation of Plano's environment and the model-provider keys (never echoing a secret)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.reserved_env import reserved_by
from plano_pulumi.core.secret_names import secret_findings
from plano_pulumi.core.settings.keys import NAMESPACE, Profile
from plano_pulumi.core.settings.limits import (
    ENV_NAME,
    EXAMPLE_ACCOUNT,
    LEAKY_LOG_LEVELS,
    LOG_LEVEL_VARS,
    SAFE_LOG_LEVELS,
    SECRET_LOOKING,
    UUID,
)
from plano_pulumi.core.settings.model import RawConfig, Secret, SecretSettings, ServiceSettings
from plano_pulumi.core.settings.placeholders import is_example_arn, refuse_in_prod
from plano_pulumi.core.settings.reader import _Reader


def _refuse_reserved(where: str, name: str, *, fix: str) -> None:
    """A name the task, its image or CI owns (core/reserved_env_names.txt) is refused."""
    entry = reserved_by(name)
    if entry is not None:
        raise ConfigError(
            where,
            f"uses the environment name {name}, which the task, its image or CI owns ({entry}); set here it "
            "would be dropped or override what the task relies on",
            fix=f"{fix}; docs/configuration.md lists the reserved names",
        )


def _environment(read: _Reader) -> dict[str, str]:
    example = "pulumi config set --path 'plano:environment.NAME' value"
    if f"{NAMESPACE}:environment" in read.raw.secret_keys:
        raise ConfigError(
            "plano:environment",
            "holds a secret value, but it reaches the container as plain text in the task definition",
            fix="move secret values to plano:providerKeys (pulumi config set --secret --path "
            "'plano:providerKeys.NAME' <value>); keep plano:environment for plain values",
        )
    env = read.string_map("environment", example)
    result: dict[str, str] = {}
    for name, value in env.items():
        where = f"plano:environment.{name}"
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(
                where,
                "is not an environment variable name",
                value=name,
                allowed="letters, digits and _, not starting with a digit",
                fix=example,
            )
        _refuse_reserved(where, name, fix=f"pulumi config rm --path '{where}'")
        if SECRET_LOOKING.search(name):
            raise ConfigError(
                where,
                "looks like a secret, and plano:environment is stored and shown in plain text",
                fix=f"move it to plano:providerKeys: pulumi config rm --path '{where}' && "
                f"pulumi config set --secret --path 'plano:providerKeys.{name}' <value>",
            )
        if not isinstance(value, (str, int, float, bool)) or isinstance(value, bool):
            raise ConfigError(where, "must be a string or a number", value=value, fix=example)
        text = str(value)
        findings = secret_findings(text)
        if findings:
            raise ConfigError(
                where,
                f"holds {findings[0]} (value not shown), and plano:environment is stored and shown in plain text",
                fix=f"move it to plano:providerKeys: pulumi config rm --path '{where}' && "
                f"pulumi config set --secret --path 'plano:providerKeys.{name}' <value>",
            )
        if name in LOG_LEVEL_VARS and text.strip().lower() not in SAFE_LOG_LEVELS:
            # Plano's supervisord hands LOG_LEVEL to brightstaff as RUST_LOG (a tracing filter, where
            # `brightstaff=debug`, `4` or a bare module name all mean debug or trace) and to Envoy as
            # `--component-log-level wasm:$LOG_LEVEL`, unquoted. Only a plain safe level is
            # certain to log no connection string and no request header.
            leaky = any(level in text.lower() for level in LEAKY_LOG_LEVELS)
            raise ConfigError(
                where,
                "makes Plano log its substituted connection string, database password included"
                if leaky
                else "is not a plain log level; a filter (per-module levels, numbers, bare module names) "
                "can turn on debug logging, which prints the database password",
                value=text,
                allowed=", ".join(SAFE_LOG_LEVELS),
                fix=f"pulumi config set --path '{where}' info",
            )
        result[name] = text
    return result


def check_plaintext_leaves(raw: RawConfig) -> None:
    """Refuse provider keys written into the stack file as plain text (Pulumi marks a whole map secret
    when one leaf is, so only the file tells)."""
    plain_leaves = raw.plaintext_leaves.get(f"{NAMESPACE}:providerKeys", ())
    if plain_leaves:
        raise ConfigError(
            f"plano:providerKeys.{plain_leaves[0]}",
            "is stored in plain text in the stack file; model-provider keys must be Pulumi secrets",
            fix=f"pulumi config set --secret --path 'plano:providerKeys.{plain_leaves[0]}' <value>",
        )


def _secrets(read: _Reader, raw: RawConfig, service: ServiceSettings, warnings: list[str]) -> SecretSettings:
    keys_map = read.string_map(
        "providerKeys",
        "pulumi config set --secret --path 'plano:providerKeys.OPENAI_API_KEY' <key>",
    )
    if keys_map and f"{NAMESPACE}:providerKeys" not in raw.secret_keys:
        raise ConfigError(
            "plano:providerKeys",
            "is stored in plain text in the stack file; model-provider keys must be Pulumi secrets",
            value=sorted(keys_map),
            fix="for each key: pulumi config set --secret --path 'plano:providerKeys.<NAME>' <value>",
        )
    check_plaintext_leaves(raw)
    external = read.string_list(
        "providerKeysExternal",
        "pulumi config set --path 'plano:providerKeysExternal[0]' OPENAI_API_KEY",
    )
    provider_keys = _provider_keys(keys_map)
    seen = _external_names(external)
    _check_declared_once(provider_keys, seen, service)
    kms = _kms_key_arn(read, warnings)
    return SecretSettings(provider_keys=provider_keys, provider_keys_external=tuple(external), kms_key_arn=kms)


def _provider_keys(keys_map: Mapping[str, Any]) -> dict[str, Secret]:
    """plano:providerKeys: environment variable names with non-empty values, kept as secrets."""
    provider_keys: dict[str, Secret] = {}
    for name, value in keys_map.items():
        where = f"plano:providerKeys.{name}"
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(
                where,
                "is not an environment variable name",
                allowed="letters, digits and _, not starting with a digit",
                fix="use the name your plano_config.yaml references, e.g. OPENAI_API_KEY",
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(
                where,
                "must be a non-empty string",
                value=value,
                secret=True,
                fix=f"pulumi config set --secret --path '{where}' <key>",
            )
        provider_keys[name] = Secret(value)
    return provider_keys


def _external_names(external: Sequence[str]) -> set[str]:
    """plano:providerKeysExternal: environment variable names, each once."""
    seen: set[str] = set()
    for name in external:
        where = "plano:providerKeysExternal"
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(
                where,
                "holds something that is not an environment variable name",
                value=name,
                allowed="letters, digits and _, not starting with a digit",
                fix="list the names your plano_config.yaml references, e.g. OPENAI_API_KEY",
            )
        if name in seen:
            raise ConfigError(where, "lists the same name twice", value=name, fix="remove the duplicate")
        seen.add(name)
    return seen


def _check_declared_once(provider_keys: Mapping[str, Secret], seen: set[str], service: ServiceSettings) -> None:
    """Each key in exactly one way (a Pulumi secret, an external secret, or plain environment), and
    never a name the task reserves."""
    for name in sorted(set(provider_keys) | seen):
        if name in provider_keys and name in seen:
            raise ConfigError(
                f"plano:providerKeys.{name}",
                "is also listed in plano:providerKeysExternal; declare each key in exactly one way",
                fix=f"keep plano:providerKeys.{name} (value in Pulumi, encrypted) or the entry in "
                "plano:providerKeysExternal (value put into Secrets Manager by you), and remove the other",
            )
        where = f"plano:providerKeys.{name}" if name in provider_keys else "plano:providerKeysExternal"
        _refuse_reserved(where, name, fix=f"rename {name} in your plano_config.yaml and here")
        if name in service.environment:
            raise ConfigError(
                f"plano:environment.{name}",
                "is also declared as a provider key; declare each variable in exactly one way",
                fix=f"pulumi config rm --path 'plano:environment.{name}'",
            )


def _kms_key_arn(read: _Reader, warnings: list[str]) -> str:
    """plano:kmsKeyArn: a KMS key ARN, or empty for AWS managed keys; the example account only outside prod."""
    kms = read.string("kmsKeyArn")
    if kms and not re.fullmatch(
        rf"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{{12}}:key/(?:{UUID}|mrk-[0-9a-f]{{32}})", kms, re.ASCII
    ):
        raise ConfigError(
            "plano:kmsKeyArn",
            "is not a KMS key ARN",
            value=kms,
            allowed="arn:aws:kms:<region>:<account>:key/<key id>",
            fix="pulumi config set plano:kmsKeyArn arn:aws:kms:<region>:<account>:key/<id>, or remove it",
        )
    if is_example_arn(kms):
        refuse_in_prod(
            read.profile or Profile.DEV,
            "kmsKeyArn",
            kms,
            f"the example account {EXAMPLE_ACCOUNT}",
            "set your key: pulumi config set plano:kmsKeyArn <KMS key ARN>, or pulumi config rm plano:kmsKeyArn",
            warnings,
        )
    return kms
