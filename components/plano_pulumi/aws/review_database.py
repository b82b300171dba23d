"""Review databases on dev's server: what dev provides, what a review stack creates, the janitor.

- ``ReviewProvisioning`` (dev, with ``plano:dbReviewStacks`` > 0; a child of the database
  component): the provisioning role's generated password, its secret ``<stack>/db-provisioner``
  (RDS-style JSON) with a resource policy that lets, of this project's roles, only review stacks'
  execution roles read it, and a second secret with the password's SCRAM verifier, which dev's own
  init step uses to create the role: dev's task never holds the provisioning password.
- ``ReviewDatabase`` (a review stack, ``plano:sharedDatabase`` set): no server, no parameter or
  subnet group, no master secret. Plano's role's generated password and its secret ``<stack>/db-app``;
  an ingress rule that admits the stack's own service group into dev's database group. The same
  outputs as ``Database``/``AuroraServerless``: the service sees dev's address, the provisioning
  secret where the master secret would be, and ``init_db_name`` = ``postgres`` (the init step creates
  the review database, core/review_database.py).
- ``ReviewJanitor`` (dev): a one-off ECS task definition in dev's cluster that drops the review
  databases of stacks that no longer exist (``scripts/ci/cleanup-review-stacks.sh`` runs it after
  destroying stacks, ``review-stack.sh destroy`` after each destroy), with an execution role that
  may read the provisioning secret and write its logs, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from plano_pulumi.aws.credentials import password_keepers
from plano_pulumi.aws.database import PostgresComponent
from plano_pulumi.aws.iam import check_role_policy_size, execution_role_policy
from plano_pulumi.aws.review_provisioning import secret_json
from plano_pulumi.aws.trust import ecs_task_trust
from plano_pulumi.core.naming import Names
from plano_pulumi.core.passwords import DB_PASSWORD_RULES
from plano_pulumi.core.review_database import (
    JANITOR_CONTAINER,
    MAINTENANCE_DB,
    render_janitor_script,
    render_janitor_sql,
    secret_name_from_arn,
)
from plano_pulumi.core.settings import DatabaseSettings, TlsMode
from plano_pulumi.core.task_env import CA_BUNDLE_URL_VAR
from plano_pulumi.core.task_files import rds_ca_bundle_url

REVIEW_DATABASE_TYPE = "plano:database:ReviewDatabase"


@dataclass
class ReviewDatabaseArgs:
    """Inputs of a review stack's database on another stack's server (plano:sharedDatabase)."""

    names: Names
    """Physical names for the stack."""
    settings: DatabaseSettings
    """Database settings with ``shared`` set (settings/review.py)."""
    client_security_group_id: pulumi.Input[str]
    """The stack's service group: admitted into the server's database group."""
    kms_key_arn: str
    """Customer managed key for the secret; empty for the AWS managed key."""
    recovery_window_days: int
    """Days a deleted secret can still be restored (0 for review stacks)."""
    tags: dict[str, str]
    """Tags for every resource."""


class ReviewDatabase(PostgresComponent):
    """A review stack's own database on dev's server: no server of its own (see the module docstring)."""

    def __init__(self, name: str, args: ReviewDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(REVIEW_DATABASE_TYPE, name, None, opts)
        db, names = args.settings, args.names
        shared = db.shared
        if shared is None:
            raise ValueError("ReviewDatabase needs settings.shared (plano:sharedDatabase)")
        child = pulumi.ResourceOptions(parent=self)
        # The stack's tasks reach dev's database: one rule in dev's database group, removed on destroy.
        aws.vpc.SecurityGroupIngressRule(
            "db-ingress",
            security_group_id=shared.security_group_id,
            referenced_security_group_id=args.client_security_group_id,
            ip_protocol="tcp",
            from_port=shared.port,
            to_port=shared.port,
            description=f"PostgreSQL from review stack {names.stack}'s tasks",
            tags=args.tags,
            opts=child,
        )
        password = random.RandomPassword(
            "app-password", **DB_PASSWORD_RULES, keepers=password_keepers(db.password_version), opts=child
        )
        secret = aws.secretsmanager.Secret(
            "db-app-secret",
            name=names.db_app_secret,
            description="Plano's own role in this review stack's database on dev's server; DB_PASS is `password`",
            kms_key_id=args.kms_key_arn or None,
            recovery_window_in_days=args.recovery_window_days,
            tags=args.tags,
            opts=child,
        )
        value = aws.secretsmanager.SecretVersion(
            "db-app-secret-value",
            secret_id=secret.id,
            secret_string=secret_json(
                host=shared.host, port=shared.port, dbname=db.name, username=db.app_user, password=password.result
            ),
            opts=child,
        )
        self.address = pulumi.Output.from_input(shared.host)
        self.port = pulumi.Output.from_input(shared.port)
        # Where the master secret would be: the provisioning role's (the init step's login).
        self.secret_arn = pulumi.Output.from_input(shared.provisioner_secret_arn)
        self.secret_name = pulumi.Output.from_input(secret_name_from_arn(shared.provisioner_secret_arn))
        self.app_secret_arn = secret.arn
        self.app_secret_name = secret.name
        self.app_user = db.app_user
        self.identifier = pulumi.Output.from_input(db.name)
        self.secret_values = [value]
        self.secret_version_ids = [value.version_id]
        self.init_db_name = MAINTENANCE_DB
        self.init_secret_arns = {}
        self.provisioner_secret_arn = None
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs(
            {"address": self.address, "port": self.port, "secret_arn": self.secret_arn, "identifier": self.identifier}
        )


@dataclass
class ReviewJanitorArgs:
    names: Names
    """Physical names of the stack whose server carries the review databases (dev)."""
    region: str
    """AWS region."""
    image: str
    """The init image (sh, psql, wget)."""
    architecture: str
    """ARM64 or X86_64."""
    base_db_name: str
    """That stack's plano:dbName (review databases are named after it)."""
    provisioner_user: str
    """The provisioning role."""
    provisioner_secret_arn: pulumi.Input[str]
    """Its secret."""
    db_host: pulumi.Input[str]
    """The server's address."""
    db_port: pulumi.Input[int]
    """The server's port."""
    tls_mode: TlsMode
    """How the janitor checks the server's certificate (the stack's plano:dbTlsMode)."""
    cluster_name: pulumi.Input[str]
    """The ECS cluster it runs in (dev's)."""
    log_group_name: pulumi.Input[str]
    """Dev's service log group (stream prefix ``janitor``)."""
    subnet_ids: pulumi.Input[list[str]]
    """Subnets of dev's tasks."""
    security_group_id: pulumi.Input[str]
    """Dev's service group (the database admits it)."""
    assign_public_ip: bool
    """As dev's tasks (no NAT: a public IP to pull the image, no inbound)."""
    kms_key_arn: str
    """Customer managed key of the secret; empty when AWS managed."""
    images: Sequence[str] = field(default_factory=tuple)
    """Every image it pulls (ECR permissions)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource."""


class ReviewJanitor(pulumi.ComponentResource):
    """A one-off task that drops the review databases of stacks that no longer exist."""

    task_definition_arn: pulumi.Output[str]
    """The janitor's task definition."""
    run: pulumi.Output[dict[str, object]]
    """What ``scripts/ci/drop-review-databases.sh`` needs to run it (the ``review_janitor`` output)."""

    def __init__(self, name: str, args: ReviewJanitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:database:ReviewJanitor", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        task = self._task_definition(self._execution_role())
        self.task_definition_arn = task.arn
        self.run = pulumi.Output.all(args.cluster_name, task.arn, args.subnet_ids, args.security_group_id).apply(
            lambda v: {
                "cluster": v[0],
                "task_definition": v[1],
                "container": JANITOR_CONTAINER,
                "subnets": list(v[2]),
                "security_groups": [v[3]],
                "assign_public_ip": args.assign_public_ip,
                "database_prefix": args.base_db_name,
                "region": args.region,
            }
        )
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"task_definition_arn": self.task_definition_arn})

    def _execution_role(self) -> aws.iam.Role:
        """The role ECS starts the janitor with: its logs and the provisioning secret, nothing else."""
        args = self._args
        trust = ecs_task_trust(self, args.region)
        role = aws.iam.Role(
            "janitor-execution-role",
            name=args.names.name("iam_role", "review-janitor"),
            description="ECS starts the review-database janitor with this role: its logs, the provisioning secret",
            assume_role_policy=trust.policy,
            tags=args.tags,
            opts=self._child,
        )
        log_group_arn = pulumi.Output.all(trust.partition, trust.account_id, args.log_group_name).apply(
            lambda v: f"arn:{v[0]}:logs:{args.region}:{v[1]}:log-group:{v[2]}"
        )
        aws.iam.RolePolicy(
            "janitor-execution-policy",
            role=role.id,
            policy=pulumi.Output.all(log_group_arn, trust.partition, args.provisioner_secret_arn).apply(
                lambda v: check_role_policy_size(
                    json.dumps(
                        execution_role_policy(
                            log_group_arn=v[0],
                            partition=v[1],
                            secret_arns=[v[2]],
                            kms_key_arn=args.kms_key_arn,
                            region=args.region,
                            images=[args.image],
                        )
                    )
                )
            ),
            opts=self._child,
        )
        return role

    def _task_definition(self, role: aws.iam.Role) -> aws.ecs.TaskDefinition:
        """A quarter vCPU running the janitor's one container (janitor_container_definitions)."""
        args = self._args
        definitions = pulumi.Output.all(
            args.log_group_name, args.db_host, args.db_port, args.provisioner_secret_arn
        ).apply(
            lambda v: json.dumps(
                janitor_container_definitions(args, log_group=v[0], host=v[1], port=int(v[2]), secret_arn=v[3])
            )
        )
        return aws.ecs.TaskDefinition(
            "janitor-task",
            family=args.names.name("ecs", "review-janitor"),
            cpu="256",
            memory="512",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=args.architecture
            ),
            execution_role_arn=role.arn,
            container_definitions=definitions,
            tags=args.tags,
            opts=self._child,
        )


def janitor_container_definitions(
    args: ReviewJanitorArgs, *, log_group: str, host: str, port: int, secret_arn: str
) -> list[dict[str, object]]:
    """The janitor's one container: the init image running the janitor script as the provisioning role."""
    environment = {
        "PGHOST": host,
        "PGPORT": str(port),
        "PGDATABASE": MAINTENANCE_DB,
        "PGUSER": args.provisioner_user,
        "PGSSLMODE": args.tls_mode.value,
        "PGCONNECT_TIMEOUT": "10",
        "PGAPPNAME": "plano-review-janitor",
        "JANITOR_SQL": render_janitor_sql(args.base_db_name),
        # KEEP_DATABASES is set by each run (a container override); the script refuses to run without it.
    }
    if args.tls_mode is TlsMode.VERIFY_FULL:
        environment[CA_BUNDLE_URL_VAR] = rds_ca_bundle_url(args.region)
    return [
        {
            "name": JANITOR_CONTAINER,
            "image": args.image,
            "essential": True,
            "entryPoint": ["sh", "-c"],
            "command": [render_janitor_script()],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "secrets": [{"name": "PGPASSWORD", "valueFrom": f"{secret_arn}:password::"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group,
                    "awslogs-region": args.region,
                    "awslogs-stream-prefix": "janitor",
                },
            },
        }
    ]
