"""The Pulumi edge: the only code that reads ``pulumi.Config`` data."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.arguments import args_from_raw_config, ignored_keys, raw_config_from_args
from plano_pulumi.core.settings.keys import KEYS_BY_NAME, NAMESPACE
from plano_pulumi.core.settings.load import load_settings
from plano_pulumi.core.settings.masking import masked_error, secret_strings
from plano_pulumi.core.settings.model import RawConfig, Secret, Settings
from plano_pulumi.core.settings.secrets import check_plaintext_leaves


def raw_config_from_pulumi(stack_file: Path | None = None) -> RawConfig:
    """Collect this program's config the way the Pulumi SDK received it.

    When the stack file is at hand, it is also read to find provider keys set without --secret
    (Pulumi marks a whole object secret when any one leaf is).
    """
    from pulumi.runtime import config as runtime_config

    values: dict[str, str] = {}
    values.update({k: str(v) for k, v in runtime_config.get_config_env().items()})
    values.update({k: str(v) for k, v in runtime_config.CONFIG.get().items()})
    secret_keys = set(runtime_config.get_config_secret_keys_env())
    secret_keys |= {k for k in values if runtime_config.is_config_secret(k)}
    return RawConfig(
        values=values, secret_keys=frozenset(secret_keys), plaintext_leaves=plaintext_secret_leaves(stack_file)
    )


def plaintext_secret_leaves(stack_file: Path | None) -> dict[str, tuple[str, ...]]:
    """Provider keys whose value sits in the stack file as plain text instead of `secure:`."""
    from plano_pulumi.core.safe_yaml import load_stack_file

    if stack_file is None or not stack_file.exists():
        return {}
    document = load_stack_file(stack_file)[0] or {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        return {}
    config = document.get("config") or {}
    found: dict[str, tuple[str, ...]] = {}
    for key in (f"{NAMESPACE}:providerKeys", "providerKeys"):
        value = config.get(key)
        if isinstance(value, dict):
            plain = tuple(sorted(k for k, v in value.items() if not (isinstance(v, dict) and set(v) == {"secure"})))
            if plain:
                found[f"{NAMESPACE}:providerKeys"] = plain
    return found


def settings_from_pulumi(base_dir: Path) -> Settings:
    """Settings for the running Pulumi program (the only caller of ``pulumi.Config`` data)."""
    import os

    import pulumi

    project, stack = pulumi.get_project(), pulumi.get_stack()
    raw = raw_config_from_pulumi(base_dir / f"Pulumi.{stack}.yaml")
    region = raw.values.get("aws:region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return load_settings(raw, project=project, stack=stack, base_dir=base_dir, region=region)


def settings_from_args(args: Mapping[str, Any] | None, *, local: bool, base_dir: Path | None = None) -> Settings:
    """Settings for a component from its args: the same validation, and errors, as a stack's config.

    The project and stack come from the running program; the region from the AWS provider's config
    (``aws:region``) or the environment, as pulumi-aws itself finds it. Provider keys given as
    Outputs are validated by name and reach their secrets unread.
    """
    import os

    import pulumi

    given = raw_config_from_args(args, local=local)
    values = dict(given.raw.values)
    region = None
    if not local:
        region = (
            pulumi.Config("aws").get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        )
    settings = load_settings(
        RawConfig(values=values, secret_keys=given.raw.secret_keys),
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        base_dir=base_dir or Path.cwd(),
        region=region,
        config_text=given.config_text,
    )
    if not given.provider_key_inputs:
        return settings
    keys = {**settings.secrets.provider_keys, **{n: Secret(v) for n, v in given.provider_key_inputs.items()}}
    return dataclasses.replace(settings, secrets=dataclasses.replace(settings.secrets, provider_keys=keys))


def args_from_stack_config(project_dir: Path) -> tuple[str, dict[str, Any]]:
    """The stack's profile, and its ``plano:`` config as that target's component args (this
    repository's ``__main__.py``): ``local`` takes ``PlanoOnDocker``, dev and prod ``PlanoOnAws``.

    Refuses provider keys written into the stack file as plain text first: that is a property of
    the file, not of the values a component receives.
    """
    import pulumi

    raw = raw_config_from_pulumi(project_dir / f"Pulumi.{pulumi.get_stack()}.yaml")
    try:
        check_plaintext_leaves(raw)
        args = args_from_raw_config(raw)
    except ConfigError as error:
        raise masked_error(error, secret_strings(raw)) from None
    for full in ignored_keys(raw):
        pulumi.log.warn(f"{full} has no effect on the local stack (Docker); remove it: pulumi config rm {full}")
    profile = raw.values.get(f"{NAMESPACE}:profile", "").strip() or str(KEYS_BY_NAME["profile"].default)
    return profile, args


def resource_tags(settings: Settings) -> dict[str, str]:
    """Tags on every resource: who owns it and which stack and profile it belongs to."""
    return {
        "app": settings.project,
        "stack": settings.stack,
        "profile": settings.profile.value,
        "managed-by": "pulumi",
    }
