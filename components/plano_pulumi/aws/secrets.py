"""Provider keys: one Secrets Manager secret per model-provider key the Plano config uses.

Creates, for each name in ``plano:providerKeys``, a secret and its value (from Pulumi's encrypted
config, so the key is in Pulumi state, encrypted); for each name in ``plano:providerKeysExternal``,
a secret with no value: you put the value in with ``aws secretsmanager put-secret-value`` and it
never enters Pulumi at all. Each reaches the ``plano`` container as an ECS secret under its env
name. Where it can tell (the secret already exists and the caller may list its versions), the
program warns about external keys that are still empty, because a task cannot start without them;
where it cannot (no permission), it says it could not check. Prod protects the secrets, never their
values. A change of a value Pulumi writes redeploys the service; an external key changed outside
Pulumi needs the ``redeploy_command`` output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from plano_pulumi.core.naming import Names
from plano_pulumi.core.review_database import secret_name_from_arn
from plano_pulumi.core.settings import Secret


def put_secret_value_command(secret_name: str, env_name: str, region: str) -> str:
    """The command that fills an external key (reads the value from your shell, not history)."""
    return (
        f'aws secretsmanager put-secret-value --region {region} --secret-id {secret_name} --secret-string "${env_name}"'
    )


@dataclass(frozen=True)
class KeyCheck:
    """What the preview could find out about the external keys."""

    empty: list[str]
    """External keys whose secret exists but has no value yet."""
    unchecked: str = ""
    """Why nothing could be checked (missing permission, ...); empty when the check ran."""


def empty_external_keys(names: Names, external: tuple[str, ...]) -> KeyCheck:
    """External keys whose secret exists but has no value yet.

    Lists this stack's provider-key secrets (none before the first `up`), then the versions of
    those that exist; keys whose secret does not exist yet are left out. The check is a courtesy:
    a caller without ``secretsmanager:ListSecrets`` or ``ListSecretVersionIds`` (a read-only CI
    role) must still preview, so a failed lookup is reported, not raised. (The Python SDK raises
    a provider's invoke error as an ordinary exception, ``pulumi/runtime/invoke.py``.)
    """
    if not external:
        return KeyCheck([])
    prefix = names.provider_key_secret("")
    try:
        listed = aws.secretsmanager.get_secrets(
            filters=[aws.secretsmanager.GetSecretsFilterArgs(name="name", values=[prefix])]
        )
        existing = dict(zip(listed.names or [], listed.arns or [], strict=False))
        empty = []
        for env_name in external:
            arn = existing.get(names.provider_key_secret(env_name))
            if arn and not aws.secretsmanager.get_secret_versions(secret_id=arn).versions:
                empty.append(env_name)
    except Exception as error:
        return KeyCheck([], unchecked=_first_line(str(error)))
    return KeyCheck(empty)


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def remind_empty_external_keys(names: Names, external: tuple[str, ...], region: str) -> None:
    check = empty_external_keys(names, external)
    if check.unchecked:
        pulumi.log.warn(
            f"could not check whether the external provider keys ({', '.join(external)}) have values "
            f"(needs secretsmanager:ListSecrets and ListSecretVersionIds): {check.unchecked}. "
            "Plano tasks cannot start while one is empty; fill it with the provider_key_fill_commands output."
        )
    for env_name in check.empty:
        secret_name = names.provider_key_secret(env_name)
        pulumi.log.warn(
            f"{env_name} has no value in Secrets Manager yet, so Plano tasks cannot start: "
            + put_secret_value_command(secret_name, env_name, region)
        )


@dataclass
class ProviderKeysArgs:
    names: Names
    """Physical names for the stack."""
    provider_keys: Mapping[str, Secret]
    """Env name -> key value, from Pulumi secret config."""
    external: tuple[str, ...]
    """Env names whose values are put into Secrets Manager outside Pulumi."""
    kms_key_arn: str
    """Customer managed key; empty for the AWS managed key."""
    recovery_window_days: int
    """0 in dev (deleted at once, so a re-create works), 30 in prod."""
    protect: bool
    """Protect the secrets from deletion (prod)."""
    tags: dict[str, str]
    """Tags for every resource."""
    shared_arns: Mapping[str, str] = field(default_factory=dict)
    """plano:sharedProviderKeySecretArns: read these (another stack's, e.g. dev's for a review
    stack) and create no secret at all."""


class ProviderKeys(pulumi.ComponentResource):
    """The secrets that hold model-provider keys."""

    arns: dict[str, pulumi.Output[str]]
    """Env name -> secret ARN, for every provider key."""
    secret_names: dict[str, str]
    """Env name -> secret name."""
    values: list[aws.secretsmanager.SecretVersion]
    """The values Pulumi writes (tasks should start after them)."""
    version_ids: list[pulumi.Output[str]]
    """Their version ids: a new one on every change of a value (the service's redeploy trigger)."""

    def __init__(self, name: str, args: ProviderKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:secrets:ProviderKeys", name, None, opts)
        # Prod protects the secrets; never their versions: a new value replaces the version (the
        # provider forces a new resource for secret_string), which `protect` would refuse.
        opts_ = pulumi.ResourceOptions(parent=self, protect=args.protect)
        value_opts = pulumi.ResourceOptions(parent=self)
        self.arns = {}
        self.secret_names = {}
        self.values = []
        self.version_ids = []
        if args.shared_arns:
            for env_name, arn in sorted(args.shared_arns.items()):
                self.arns[env_name] = pulumi.Output.from_input(arn)
                self.secret_names[env_name] = secret_name_from_arn(arn)
            # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
            self.register_outputs({"arns": self.arns})
            return
        for env_name in sorted(args.provider_keys) + sorted(args.external):
            secret_name = args.names.provider_key_secret(env_name)
            external = env_name in args.external
            secret = aws.secretsmanager.Secret(
                f"key-{env_name}",
                name=secret_name,
                description=(
                    f"{env_name} for Plano; value put in outside Pulumi"
                    if external
                    else f"{env_name} for Plano; value from Pulumi secret config"
                ),
                kms_key_id=args.kms_key_arn or None,
                recovery_window_in_days=args.recovery_window_days,
                tags=args.tags,
                opts=opts_,
            )
            if not external:
                version = aws.secretsmanager.SecretVersion(
                    f"key-{env_name}-value",
                    secret_id=secret.id,
                    secret_string=pulumi.Output.secret(args.provider_keys[env_name].reveal()),
                    opts=value_opts,
                )
                self.values.append(version)
                self.version_ids.append(version.version_id)
            self.arns[env_name] = secret.arn
            self.secret_names[env_name] = secret_name
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"arns": self.arns})
