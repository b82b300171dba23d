"""Validation of Plano's environment and the model-provider keys (never echoing a secret)."""

from __future__ import annotations

import re

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import NAMESPACE, Profile
from plano_pulumi.core.settings.limits import ENV_NAME, EXAMPLE_ACCOUNT, LEAKY_LOG_LEVELS, SECRET_LOOKING, TASK_ENV
from plano_pulumi.core.settings.model import RawConfig, Secret, SecretSettings, ServiceSettings
from plano_pulumi.core.settings.placeholders import is_example_arn, refuse_in_prod
from plano_pulumi.core.settings.reader import _Reader


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
        if name in TASK_ENV:
            raise ConfigError(
                where, "is set by the stack itself and cannot be overridden", fix=f"pulumi config rm --path '{where}'"
            )
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
        if name in ("LOG_LEVEL", "RUST_LOG") and any(level in text.lower() for level in LEAKY_LOG_LEVELS):
            raise ConfigError(
                where,
                "makes Plano log its substituted connection string, database password included",
                value=text,
                allowed="info, warn, error",
                fix=f"pulumi config set --path '{where}' info",
            )
        result[name] = text
    return result


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
    plain_leaves = raw.plaintext_leaves.get(f"{NAMESPACE}:providerKeys", ())
    if plain_leaves:
        raise ConfigError(
            f"plano:providerKeys.{plain_leaves[0]}",
            "is stored in plain text in the stack file; model-provider keys must be Pulumi secrets",
            fix=f"pulumi config set --secret --path 'plano:providerKeys.{plain_leaves[0]}' <value>",
        )
    external = read.string_list(
        "providerKeysExternal",
        "pulumi config set --path 'plano:providerKeysExternal[0]' OPENAI_API_KEY",
    )
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
    for name in sorted(set(provider_keys) | seen):
        if name in provider_keys and name in seen:
            raise ConfigError(
                f"plano:providerKeys.{name}",
                "is also listed in plano:providerKeysExternal; declare each key in exactly one way",
                fix=f"keep plano:providerKeys.{name} (value in Pulumi, encrypted) or the entry in "
                "plano:providerKeysExternal (value put into Secrets Manager by you), and remove the other",
            )
        if name in TASK_ENV:
            raise ConfigError(
                "plano:providerKeys",
                f"declares {name}, which the stack sets itself",
                fix=f"rename {name} in your plano_config.yaml and here",
            )
        if name in service.environment:
            raise ConfigError(
                f"plano:environment.{name}",
                "is also declared as a provider key; declare each variable in exactly one way",
                fix=f"pulumi config rm --path 'plano:environment.{name}'",
            )
    kms = read.string("kmsKeyArn")
    if kms and not re.fullmatch(
        r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/mrk-[0-9a-f]{32}",
        kms,
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
    return SecretSettings(provider_keys=provider_keys, provider_keys_external=tuple(external), kms_key_arn=kms)
