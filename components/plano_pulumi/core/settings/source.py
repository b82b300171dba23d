"""The Pulumi edge: the only code that reads ``pulumi.Config`` data."""

from __future__ import annotations

from pathlib import Path

from plano_pulumi.core.settings.keys import NAMESPACE
from plano_pulumi.core.settings.load import load_settings
from plano_pulumi.core.settings.model import RawConfig, Settings


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


def resource_tags(settings: Settings) -> dict[str, str]:
    """Tags on every resource: who owns it and which stack and profile it belongs to."""
    return {
        "app": settings.project,
        "stack": settings.stack,
        "profile": settings.profile.value,
        "managed-by": "pulumi",
    }
