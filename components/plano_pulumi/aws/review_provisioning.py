"""Dev's provisioning role for review stacks (see review_database.py): password, secret, verifier.

A child of either database component when ``plano:dbReviewStacks`` > 0 (``provide_for_review_stacks``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from plano_pulumi.aws.credentials import password_keepers
from plano_pulumi.core.naming import Names, _slug
from plano_pulumi.core.passwords import DB_PASSWORD_RULES
from plano_pulumi.core.review_database import (
    MAINTENANCE_DB,
    PROVISIONER_VERIFIER_VAR,
    provisioner_role_name,
    provisioner_secret_policy,
    scram_sha256_verifier,
)
from plano_pulumi.core.settings import DatabaseSettings

if TYPE_CHECKING:
    from plano_pulumi.aws.database import PostgresComponent


def secret_json(
    *, host: pulumi.Input[str], port: pulumi.Input[int], dbname: str, username: str, password: pulumi.Input[str]
) -> pulumi.Output[str]:
    """A secret's value with RDS-style JSON, as a Pulumi secret."""
    value = pulumi.Output.json_dumps(
        {"engine": "postgres", "host": host, "port": port, "dbname": dbname, "username": username, "password": password}
    )
    return pulumi.Output.secret(value)  # type: ignore[return-value]


@dataclass
class ReviewProvisioningArgs:
    names: Names
    """Physical names of the stack whose server carries the review databases (dev)."""
    master_user: str
    """That stack's master user (the provisioning role is named after it)."""
    host: pulumi.Input[str]
    """The server's address (in the secret's JSON)."""
    port: pulumi.Input[int]
    """The server's port."""
    password_version: int
    """plano:dbPasswordVersion: a bump also rotates the provisioning password."""
    kms_key_arn: str
    """Customer managed key for the secrets; empty for the AWS managed key."""
    recovery_window_days: int
    """Days a deleted secret can still be restored."""
    tags: dict[str, str]
    """Tags for every resource."""


class ReviewProvisioning(pulumi.ComponentResource):
    """Dev's provisioning role for review stacks: its password, secret and verifier."""

    user: str
    """The provisioning role's name."""
    secret_arn: pulumi.Output[str]
    """ARN of its secret (RDS-style JSON): review stacks' init steps and the janitor read it."""
    verifier_secret_arn: pulumi.Output[str]
    """ARN of the secret holding the password's SCRAM verifier: dev's own init step reads it."""
    values: list[aws.secretsmanager.SecretVersion]
    """Both secrets' values (tasks start after them)."""
    version_ids: list[pulumi.Output[str]]
    """Their version ids (a change redeploys dev's tasks, which set the role's password again)."""

    def __init__(self, name: str, args: ReviewProvisioningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:database:ReviewProvisioning", name, None, opts)
        child = self._child = pulumi.ResourceOptions(parent=self)
        self.user = provisioner_role_name(args.master_user)
        password = random.RandomPassword(
            "provisioner-password",
            **DB_PASSWORD_RULES,
            keepers=password_keepers(args.password_version),
            opts=child,
        )
        # A stable random salt: the verifier (and so dev's task definition) changes only with the password.
        salt = random.RandomId(
            "provisioner-salt", byte_length=16, keepers=password_keepers(args.password_version), opts=child
        )
        value = self._provisioner_secret(args, password)
        verifier_value = self._verifier_secret(args, password, salt)
        self.values = [value, verifier_value]
        self.version_ids = [value.version_id, verifier_value.version_id]
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"secret_arn": self.secret_arn, "user": self.user})

    def _secret(
        self, args: ReviewProvisioningArgs, resource_name: str, path: str, description: str
    ) -> aws.secretsmanager.Secret:
        return aws.secretsmanager.Secret(
            resource_name,
            name=args.names.path("secret", path),
            description=description,
            kms_key_id=args.kms_key_arn or None,
            recovery_window_in_days=args.recovery_window_days,
            tags=args.tags,
            opts=self._child,
        )

    def _provisioner_secret(
        self, args: ReviewProvisioningArgs, password: random.RandomPassword
    ) -> aws.secretsmanager.SecretVersion:
        """The role's credentials (RDS-style JSON), readable only by this project's review stacks."""
        secret = self._secret(
            args,
            "provisioner-secret",
            "db-provisioner",
            "Review stacks' provisioning role (CREATEDB, CREATEROLE) on this stack's database: "
            "review stacks' init steps and the janitor only",
        )
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        project_slug = _slug(args.names.project)
        aws.secretsmanager.SecretPolicy(
            "provisioner-secret-policy",
            secret_arn=secret.arn,
            policy=pulumi.Output.all(identity.account_id, partition.partition).apply(
                lambda v: json.dumps(
                    provisioner_secret_policy(project_slug=project_slug, account_id=v[0], partition=v[1])
                )
            ),
            opts=self._child,
        )
        self.secret_arn = secret.arn
        return aws.secretsmanager.SecretVersion(
            "provisioner-secret-value",
            secret_id=secret.id,
            secret_string=secret_json(
                host=args.host, port=args.port, dbname=MAINTENANCE_DB, username=self.user, password=password.result
            ),
            opts=self._child,
        )

    def _verifier_secret(
        self, args: ReviewProvisioningArgs, password: random.RandomPassword, salt: random.RandomId
    ) -> aws.secretsmanager.SecretVersion:
        """The password's SCRAM verifier: dev's own init step sets the role's password from it."""
        verifier_secret = self._secret(
            args,
            "provisioner-verifier",
            "db-provisioner-verifier",
            "SCRAM verifier of the provisioning role's password: this stack's init step only",
        )
        verifier = pulumi.Output.all(password.result, salt.hex).apply(
            lambda v: scram_sha256_verifier(v[0], bytes.fromhex(v[1]))
        )
        self.verifier_secret_arn = verifier_secret.arn
        return aws.secretsmanager.SecretVersion(
            "provisioner-verifier-value",
            secret_id=verifier_secret.id,
            secret_string=pulumi.Output.secret(verifier),  # type: ignore[arg-type]
            opts=self._child,
        )


def provide_for_review_stacks(
    component: PostgresComponent,
    db: DatabaseSettings,
    *,
    names: Names,
    host: pulumi.Input[str],
    port: pulumi.Input[int],
    kms_key_arn: str,
    recovery_window_days: int,
    tags: dict[str, str],
    aliases: list[pulumi.Alias] | None = None,
) -> None:
    """For either engine: with plano:dbReviewStacks > 0, the provisioning role's secrets, and the
    verifier as one more init secret (render_provisioner_sql reads it). ``aliases`` move it over
    when plano:dbEngine switches (its secrets keep their names, which AWS would not give twice)."""
    if db.review_stacks <= 0:
        return
    provisioning = ReviewProvisioning(
        "review-provisioning",
        ReviewProvisioningArgs(
            names=names,
            master_user=db.user,
            host=host,
            port=port,
            password_version=db.password_version,
            kms_key_arn=kms_key_arn,
            recovery_window_days=recovery_window_days,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=component, aliases=aliases or []),
    )
    component.provisioner_secret_arn = provisioning.secret_arn
    component.init_secret_arns = {PROVISIONER_VERIFIER_VAR: provisioning.verifier_secret_arn}
    component.secret_values = [*component.secret_values, *provisioning.values]
    component.secret_version_ids = [*component.secret_version_ids, *provisioning.version_ids]
