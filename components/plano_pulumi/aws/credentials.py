"""Database credentials that do not depend on the engine: the master user and Plano's own role.

Creates, as children of ``DatabaseCredentials``:
- two generated passwords (alphanumeric, 40 characters: they are pasted into a URL inside YAML
  and into PgBouncer's auth file), one for the master user and one for Plano's role. Bumping
  ``plano:dbPasswordVersion`` replaces both (their ``keepers`` hold it);
- two Secrets Manager secrets, each with RDS-style JSON (username, password, host, port, dbname,
  engine): ``<stack>/db`` with the master credentials, read only by the task's ``init`` step (DDL,
  grants, creating Plano's role), and ``<stack>/db-app`` with Plano's role, which the ``plano``
  and ``pgbouncer`` containers use. Neither of those two ever receives the master password.

Prod protects the secrets (``protect``) and deletes them only after a 30-day recovery window; the
secret *versions* are never protected, because any change of a value (a rotated password, a new
endpoint) replaces the version: the provider forces a new resource for ``secret_string``.

Interface for an engine (``database.py``'s RDS instance; an Aurora cluster works the same way)::

    creds = DatabaseCredentials("credentials", DatabaseCredentialsArgs(...), opts=ResourceOptions(parent=self))
    engine = aws.rds.Instance(..., username=creds.master_user, password=creds.master_password)
    creds.store(host=engine.address, port=engine.port, engine="postgres")  # once, after the engine

Then ``master_secret_arn`` feeds the init container, ``app_secret_arn`` the sidecar and Plano,
``values`` the service's ``depends_on`` and ``version_ids`` its redeploy trigger
(``service_triggers``). ``store`` registers the component's outputs, so call it exactly once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from plano_pulumi.core.naming import Names
from plano_pulumi.core.passwords import DB_PASSWORD_RULES

FIRST_PASSWORD_VERSION = 1


def password_keepers(version: int) -> dict[str, str] | None:
    """``keepers`` of the generated passwords: a new value means a new password.

    Version 1 has none, so stacks created before the key existed keep their passwords.
    """
    return None if version <= FIRST_PASSWORD_VERSION else {"dbPasswordVersion": str(version)}


def secret_value_fingerprint(version_ids: Sequence[str]) -> str:
    """A short stable digest of the secret version ids a task reads (no secret in it).

    Secrets Manager gives every new value a new version id, so this changes exactly when a value
    the task reads changes; the service's ``triggers`` carry it and ECS then rolls the tasks.
    """
    return hashlib.sha256("\n".join(sorted(version_ids)).encode()).hexdigest()[:16]


def service_triggers(version_ids: Sequence[pulumi.Input[str]]) -> pulumi.Output[dict[str, str]]:
    """The ECS service's ``triggers``: a redeploy whenever one of these secret values changes."""
    return pulumi.Output.all(*version_ids).apply(lambda ids: {"secret-values": secret_value_fingerprint(ids)})


@dataclass
class DatabaseCredentialsArgs:
    names: Names
    """Physical names for the stack."""
    master_user: str
    """The engine's master user (plano:dbUser): DDL and grants, init step only."""
    app_user: str
    """Plano's role: SELECT, INSERT, UPDATE, DELETE on its table, nothing else."""
    db_name: str
    """Database name (in the secrets' JSON)."""
    password_version: int
    """plano:dbPasswordVersion: bump it to generate new passwords."""
    kms_key_arn: str
    """Customer managed key for the secrets; empty for the AWS managed key."""
    recovery_window_days: int
    """Days a deleted secret can still be restored (0 in dev: a re-create works at once)."""
    protect: bool
    """Protect the secrets (not their versions) from deletion (prod)."""
    tags: dict[str, str]
    """Tags for every resource."""
    aliases_parent: pulumi.Resource | None = None
    """Where the master password and secret lived before this component existed (keeps their URNs)."""


class DatabaseCredentials(pulumi.ComponentResource):
    """Master and app passwords with their secrets, for any PostgreSQL engine."""

    master_user: str
    """Master user name (for the engine resource)."""
    app_user: str
    """Plano's role name."""
    master_password: pulumi.Output[str]
    """The generated master password (a Pulumi secret): give it to the engine resource only."""
    app_password: pulumi.Output[str]
    """The generated password of Plano's role (a Pulumi secret)."""
    master_secret_arn: pulumi.Output[str]
    """ARN of the master secret (init step only)."""
    master_secret_name: pulumi.Output[str]
    """Name of the master secret."""
    app_secret_arn: pulumi.Output[str]
    """ARN of the app secret (plano and pgbouncer)."""
    app_secret_name: pulumi.Output[str]
    """Name of the app secret."""
    values: list[aws.secretsmanager.SecretVersion]
    """The two secret values, after ``store`` (tasks must start after them)."""
    version_ids: list[pulumi.Output[str]]
    """Their version ids, after ``store`` (a new id on every change of a value)."""

    def __init__(self, name: str, args: DatabaseCredentialsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:database:Credentials", name, None, opts)
        self._args = args
        names = args.names
        self.master_user, self.app_user = args.master_user, args.app_user
        moved = [pulumi.Alias(parent=args.aliases_parent)] if args.aliases_parent is not None else []
        child = pulumi.ResourceOptions(parent=self)
        # Prod: a stray `pulumi destroy` or refactor cannot delete the secrets.
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)

        def password(resource_name: str, aliases: list[pulumi.Alias]) -> random.RandomPassword:
            return random.RandomPassword(
                resource_name,
                **DB_PASSWORD_RULES,  # alphanumeric: pasted into a URL in YAML and PgBouncer's auth file
                keepers=password_keepers(args.password_version),
                opts=child.merge(pulumi.ResourceOptions(aliases=aliases)),
            )

        def secret(
            resource_name: str, secret_name: str, description: str, aliases: list[pulumi.Alias]
        ) -> aws.secretsmanager.Secret:
            return aws.secretsmanager.Secret(
                resource_name,
                name=secret_name,
                description=description,
                kms_key_id=args.kms_key_arn or None,
                recovery_window_in_days=args.recovery_window_days,
                tags=args.tags,
                opts=keep.merge(pulumi.ResourceOptions(aliases=aliases)),
            )

        self._master_password = password("password", moved)
        self._app_password = password("app-password", [])
        self._master_secret = secret(
            "db-secret",
            names.db_secret,
            "Plano state database master credentials (RDS-style JSON): the init step only",
            moved,
        )
        self._app_secret = secret(
            "db-app-secret",
            names.db_app_secret,
            "Plano's own database role (RDS-style JSON); DB_PASS is `password`",
            [],
        )
        self.master_password = self._master_password.result
        self.app_password = self._app_password.result
        self.master_secret_arn = self._master_secret.arn
        self.master_secret_name = self._master_secret.name
        self.app_secret_arn = self._app_secret.arn
        self.app_secret_name = self._app_secret.name
        self.values = []
        self.version_ids = []

    def store(self, *, host: pulumi.Input[str], port: pulumi.Input[int], engine: str = "postgres") -> None:
        """Write both secrets' values once the engine's endpoint is known; registers the outputs."""
        args = self._args
        moved = [pulumi.Alias(parent=args.aliases_parent)] if args.aliases_parent is not None else []
        for resource_name, secret, user, password, aliases in (
            ("db-secret-value", self._master_secret, args.master_user, self.master_password, moved),
            ("db-app-secret-value", self._app_secret, args.app_user, self.app_password, []),
        ):
            value = pulumi.Output.json_dumps(
                {
                    "engine": engine,
                    "host": host,
                    "port": port,
                    "dbname": args.db_name,
                    "username": user,
                    "password": password,
                }
            )
            version = aws.secretsmanager.SecretVersion(
                resource_name,
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(value),  # type: ignore[arg-type]
                # Never protected: a new value replaces the version (see the module docstring).
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
            )
            self.values.append(version)
            self.version_ids.append(version.version_id)
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"master_secret_arn": self.master_secret_arn, "app_secret_arn": self.app_secret_arn})
