"""Database: RDS PostgreSQL that only accepts TLS, and the DB_PASS secret in Secrets Manager.

Creates:
- a DB subnet group over the private subnets;
- a parameter group of the engine's family with ``rds.force_ssl = 1`` (the server refuses plain
  text) and pg_cron preloaded for the retention job, scheduled in this database;
- the credentials (``credentials.py``): generated passwords for the master user and for Plano's
  own role, each in its own Secrets Manager secret with RDS-style JSON (the only places the
  passwords are readable); ``plano:dbPasswordVersion`` rotates both;
- the instance: encrypted gp3 storage with autoscaling, not publicly accessible, CA
  ``rds-ca-rsa2048-g1``, admitting only the service's security group.

Profiles: dev has no deletion protection, no final snapshot, one day of backups, immediate changes,
and secrets deleted without recovery window, so teardown and re-create just work. Prod is
Multi-AZ, deletion-protected, ``protect``-ed in Pulumi (the instance and the secrets, never the
secret versions, which a changed value replaces), keeps 7+ days of backups, takes a final
snapshot with a unique name, has Performance Insights and exports its logs to CloudWatch log
groups the stack owns (so they have a retention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from plano_pulumi.aws.credentials import DatabaseCredentials, DatabaseCredentialsArgs
from plano_pulumi.aws.review_provisioning import provide_for_review_stacks
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.naming import Names
from plano_pulumi.core.settings import DatabaseSettings, DbEngine, ProfilePolicy

CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7  # the free tier
# The engine runs exactly the pinned plano:dbEngineVersion (major.minor): AWS's automatic minor
# upgrades would move it away from the version in the stack's config, and the next `pulumi up`
# would then try to go back down (which RDS refuses). A new minor is a config change instead
# (docs/operations.md, "Upgrading PostgreSQL"); AWS still upgrades a minor that reaches its end
# of support, announced in advance.
AUTO_MINOR_VERSION_UPGRADE = False


def parameter_group_parameters(db: DatabaseSettings) -> list[dict[str, str]]:
    """Parameters of the stack's own group. All `pending-reboot`: they are set at creation."""
    values = {
        "rds.force_ssl": "1",
        # pg_cron runs the retention job; pg_stat_statements is RDS's own default.
        "shared_preload_libraries": "pg_stat_statements,pg_cron",
        "cron.database_name": db.name,
    }
    return [{"name": name, "value": value, "apply_method": "pending-reboot"} for name, value in values.items()]


def existing_other_engine(names: Names, engine: DbEngine) -> DbEngine | None:
    """The other engine, when this stack's database exists in AWS on it (under the stack's identifier).

    Read from AWS at preview and up (``DescribeDBClusters``/``DescribeDBInstances``, filtered to the
    one identifier), not from Pulumi's state: a program cannot read its own stack's previous state,
    and the database in the account is what a switch would abandon. An RDS instance and an Aurora
    cluster of the same stack share ``names.db_identifier``; Aurora's member instances are
    ``<identifier>-1`` and ``-2``, so they never match the RDS filter.
    """
    identifier = [names.db_identifier]
    if engine is DbEngine.RDS:
        clusters = aws.rds.get_clusters(
            filters=[aws.rds.GetClustersFilterArgs(name="db-cluster-id", values=identifier)]
        )
        return DbEngine.AURORA_SERVERLESS if clusters.cluster_identifiers else None
    instances = aws.rds.get_instances(
        filters=[aws.rds.GetInstancesFilterArgs(name="db-instance-id", values=identifier)]
    )
    return DbEngine.RDS if instances.instance_identifiers else None


def check_engine_change(names: Names, db: DatabaseSettings) -> None:
    """Refuse a switch of ``plano:dbEngine`` on a stack whose database exists, unless confirmed.

    A switch creates an empty database of the new engine, moves the service onto it and deletes
    the old one with every stored conversation (in prod, ``protect`` stops that delete only after
    the service has moved). So it needs ``plano:dbEngineChangeConfirmed`` set to the new engine (a
    confirmation left from an earlier switch does not confirm a switch back). Call it before any
    resource is registered. A caller that may not describe RDS (a read-only role without
    ``rds:Describe*``) still previews: the check is then reported as not done, not raised.
    """
    try:
        other = existing_other_engine(names, db.engine)
    except Exception as error:  # the SDK raises a provider's invoke error as an ordinary exception
        pulumi.log.warn(
            f"could not check whether this stack's database runs on another engine than plano:dbEngine "
            f"{db.engine.value} (needs rds:DescribeDBClusters and rds:DescribeDBInstances): "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else 'unknown error'}"
        )
        return
    if other is None or db.engine_change_confirmed == db.engine.value:
        return
    raise ConfigError(
        "plano:dbEngine",
        f"would switch this stack's database from {other.value} ({names.db_identifier}) to an empty "
        f"{db.engine.value} one and delete the old one with its conversations",
        value=db.engine.value,
        fix=f"keep it: pulumi config set plano:dbEngine {other.value}; or migrate the data (docs/operations.md, "
        f'"Switching plano:dbEngine") and confirm: pulumi config set plano:dbEngineChangeConfirmed {db.engine.value}',
    )


def subnet_group_in_use(names: Names, engine: DbEngine) -> tuple[str, str] | None:
    """(name, VPC id) of the subnet group this stack's database of ``engine`` uses now, or None
    when there is no such database (read from AWS, like ``existing_other_engine``)."""
    identifier = names.db_identifier
    if engine is DbEngine.RDS:
        listed = aws.rds.get_instances(
            filters=[aws.rds.GetInstancesFilterArgs(name="db-instance-id", values=[identifier])]
        )
        if not listed.instance_identifiers:
            return None
        group = aws.rds.get_instance(db_instance_identifier=identifier).db_subnet_group
    else:
        clusters = aws.rds.get_clusters(
            filters=[aws.rds.GetClustersFilterArgs(name="db-cluster-id", values=[identifier])]
        )
        if not clusters.cluster_identifiers:
            return None
        group = aws.rds.get_cluster(cluster_identifier=identifier).db_subnet_group_name
    return group, aws.rds.get_subnet_group(name=group).vpc_id


def subnet_group_name(names: Names, engine: DbEngine, vpc_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """The DB subnet group's name: the one the database uses now while it stays in that VPC, else
    one carrying the VPC id.

    A subnet group cannot be updated to another VPC's subnets ("The new Subnets are not in the
    same Vpc as the existing subnet group"), so a move needs a new group under a new name; and RDS
    refuses to move an instance to another group of the same VPC, so a stack that does not move
    must keep its group's name (stacks created before this rule: ``plano-<stack>``).
    """
    try:
        in_use = subnet_group_in_use(names, engine)
    except Exception as error:  # the SDK raises a provider's invoke error as an ordinary exception
        pulumi.log.warn(
            "could not read which DB subnet group this stack's database uses (needs rds:DescribeDBInstances, "
            f"rds:DescribeDBClusters and rds:DescribeDBSubnetGroups), so it keeps {names.legacy_db_subnet_group}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else 'unknown error'}"
        )
        return pulumi.Output.from_input(names.legacy_db_subnet_group)

    def choose(vpc: str) -> str:
        if in_use is not None and in_use[1] == vpc:
            return in_use[0]
        return names.db_subnet_group(vpc)

    return pulumi.Output.from_input(vpc_id).apply(choose)


DATABASE_TYPE = "plano:database:Database"
AURORA_TYPE = "plano:database:AuroraServerless"


def moved_from(component: pulumi.Resource, own_type: str, other_type: str) -> list[pulumi.Alias]:
    """Aliases for a child both engines create under the same AWS name (subnet group, password, secret).

    Switching ``plano:dbEngine`` then moves the child from the other engine's component (same name,
    same place in the stack) instead of creating a second one with a name AWS refuses to reuse; the
    password and the secret stay the same.
    """

    def swap(urn: str) -> str:
        head, name = urn.rsplit("::", 1)
        return f"{head.removesuffix(own_type)}{other_type}::{name}"

    return [pulumi.Alias(parent=component.urn.apply(swap))]


def final_snapshot_identifier(names: Names, parent: pulumi.Resource) -> pulumi.Output[str]:
    """A final snapshot name unique per destroy (a fixed one collides with an earlier destroy's)."""
    suffix = random.RandomId("final-snapshot-suffix", byte_length=4, opts=pulumi.ResourceOptions(parent=parent))
    return suffix.hex.apply(lambda h: f"{names.final_snapshot_prefix()}-{h}")


@dataclass
class DatabaseArgs:
    """Inputs of either engine behind ``plano:dbEngine`` (``Database`` here, ``AuroraServerless``)."""

    names: Names
    """Physical names for the stack."""
    settings: DatabaseSettings
    """Engine, size, names and TLS mode."""
    policy: ProfilePolicy
    """The profile's safety settings (Multi-AZ or a second instance, deletion protection, snapshots, ...)."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets for the subnet group."""
    vpc_id: pulumi.Input[str]
    """Their VPC: part of the subnet group's name, so moving the database to another VPC replaces the
    group (and the database: docs/operations.md, "Moving the database to another VPC")."""
    security_group_id: pulumi.Input[str]
    """The database's security group (admits only the service)."""
    kms_key_arn: str
    """Customer managed key for storage and the secret; empty for AWS managed keys."""
    log_retention_days: int
    """Retention of the exported PostgreSQL logs."""
    tags: dict[str, str]
    """Tags for every resource."""


def database_credentials(
    parent: pulumi.Resource,
    args: DatabaseArgs,
    aliases: list[pulumi.Alias],
    aliases_parent: pulumi.Resource | None = None,
) -> DatabaseCredentials:
    """The engine-independent passwords and secrets (credentials.py), as either engine creates them;
    ``aliases`` move them over when plano:dbEngine switches (same secret names, same passwords)."""
    db, policy = args.settings, args.policy
    return DatabaseCredentials(
        "credentials",
        DatabaseCredentialsArgs(
            names=args.names,
            master_user=db.user,
            app_user=db.app_user,
            db_name=db.name,
            password_version=db.password_version,
            kms_key_arn=args.kms_key_arn,
            recovery_window_days=policy.secret_recovery_window_days,
            protect=policy.protect,
            tags=args.tags,
            aliases_parent=aliases_parent,
        ),
        opts=pulumi.ResourceOptions(parent=parent, aliases=aliases),
    )


class PostgresComponent(pulumi.ComponentResource):
    """What either engine behind ``plano:dbEngine`` gives the rest of the stack (``Database`` here,
    ``AuroraServerless`` in aurora.py): the same outputs, so the service does not care which."""

    address: pulumi.Output[str]
    """Host name of the instance, or of the cluster's writer endpoint (private)."""
    port: pulumi.Output[int]
    """Port of the database."""
    secret_arn: pulumi.Output[str]
    """ARN of the master secret with the RDS-style JSON (password under `password`): init only."""
    secret_name: pulumi.Output[str]
    """Name of that secret."""
    app_secret_arn: pulumi.Output[str]
    """ARN of Plano's role's secret (same JSON shape): plano and pgbouncer."""
    app_secret_name: pulumi.Output[str]
    """Name of that secret."""
    app_user: str
    """Plano's role."""
    identifier: pulumi.Output[str]
    """RDS instance or Aurora cluster identifier."""
    secret_values: list[aws.secretsmanager.SecretVersion]
    """Both secrets' values: tasks must not start before they exist (use in depends_on)."""
    secret_version_ids: list[pulumi.Output[str]]
    """Their version ids: a change means the tasks must be replaced (service triggers)."""
    init_db_name: str = ""
    """The database the init step logs in to first (empty: the stack's; a review stack's: ``postgres``)."""
    init_secret_arns: dict[str, pulumi.Output[str]] = {}  # noqa: RUF012 (replaced per instance, never mutated)
    """More secrets for the init step only (env name -> ARN): the provisioning role's verifier on dev."""
    provisioner_secret_arn: pulumi.Output[str] | None = None
    """The provisioning role's secret when this server carries review databases (plano:dbReviewStacks)."""

    def _subnet_group(self, args: DatabaseArgs, aliases: list[pulumi.Alias]) -> aws.rds.SubnetGroup:
        """A DB subnet group over the private subnets (both engines: the same AWS name)."""
        return aws.rds.SubnetGroup(
            "subnets",
            name=subnet_group_name(args.names, args.settings.engine, args.vpc_id),
            subnet_ids=args.subnet_ids,
            description="Private subnets of the Plano state database",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
        )

    def _export_log_groups(
        self, args: DatabaseArgs, log_group_names: Mapping[str, str]
    ) -> list[aws.cloudwatch.LogGroup]:
        """Log groups of the exported PostgreSQL logs (log -> group name), with the stack's retention."""
        return [
            aws.cloudwatch.LogGroup(
                f"rds-{log}",
                name=group,
                retention_in_days=args.log_retention_days,
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for log, group in log_group_names.items()
        ]

    def _publish(
        self,
        args: DatabaseArgs,
        credentials: DatabaseCredentials,
        *,
        host: pulumi.Output[str],
        port: pulumi.Output[int],
        identifier: pulumi.Output[str],
        aliases: list[pulumi.Alias],
    ) -> None:
        """Once the server exists: its endpoint into the secrets, the review stacks' provisioning
        (plano:dbReviewStacks), and the outputs either engine gives the rest of the stack."""
        credentials.store(host=host, port=port, engine="postgres")
        self.secret_values = credentials.values
        self.secret_version_ids = credentials.version_ids
        provide_for_review_stacks(
            self,
            args.settings,
            names=args.names,
            host=host,
            port=port,
            kms_key_arn=args.kms_key_arn,
            recovery_window_days=args.policy.secret_recovery_window_days,
            tags=args.tags,
            aliases=aliases,
        )
        self.address = host
        self.port = port
        self.secret_arn = credentials.master_secret_arn
        self.secret_name = credentials.master_secret_name
        self.app_secret_arn = credentials.app_secret_arn
        self.app_secret_name = credentials.app_secret_name
        self.app_user = credentials.app_user
        self.identifier = identifier
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs(
            {"address": self.address, "port": self.port, "secret_arn": self.secret_arn, "identifier": self.identifier}
        )


class Database(PostgresComponent):
    """RDS PostgreSQL with enforced TLS, and its credentials in Secrets Manager."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(DATABASE_TYPE, name, None, opts)
        aliases = moved_from(self, DATABASE_TYPE, AURORA_TYPE)
        subnet_group = self._subnet_group(args, aliases)
        parameters = self._parameter_group(args)
        # The passwords and their secrets do not depend on the engine (credentials.py).
        credentials = database_credentials(
            self,
            args,
            aliases,
            aliases_parent=self,  # the master password and secret were this component's children
        )
        log_groups = self._export_log_groups(
            args, {log: args.names.rds_log_group(log) for log in args.policy.log_exports}
        )
        instance = self._instance(args, subnet_group, parameters, credentials, log_groups)
        self._publish(
            args,
            credentials,
            host=instance.address,
            port=instance.port,
            identifier=instance.identifier,
            aliases=aliases,
        )

    def _parameter_group(self, args: DatabaseArgs) -> aws.rds.ParameterGroup:
        """TLS only (``rds.force_ssl``) and pg_cron preloaded for the retention job."""
        db, names = args.settings, args.names
        return aws.rds.ParameterGroup(
            "parameters",
            name=names.db_parameter_group(db.parameter_group_family),
            family=db.parameter_group_family,
            description="Plano state: TLS only, pg_cron for retention",
            parameters=[aws.rds.ParameterGroupParameterArgs(**p) for p in parameter_group_parameters(db)],
            tags=args.tags,
            # A new family gets a new name: create the new group before the old one goes.
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _instance(
        self,
        args: DatabaseArgs,
        subnet_group: aws.rds.SubnetGroup,
        parameters: aws.rds.ParameterGroup,
        credentials: DatabaseCredentials,
        log_groups: list[aws.cloudwatch.LogGroup],
    ) -> aws.rds.Instance:
        """The RDS instance: private, encrypted, TLS-only; the profile decides Multi-AZ, deletion
        protection, snapshots, Performance Insights and log exports."""
        db, policy, names = args.settings, args.policy, args.names
        kms = args.kms_key_arn or None
        final_snapshot = None if policy.skip_final_snapshot else final_snapshot_identifier(names, self)
        return aws.rds.Instance(
            "instance",
            identifier=names.db_identifier,
            engine="postgres",
            engine_version=db.engine_version,
            auto_minor_version_upgrade=AUTO_MINOR_VERSION_UPGRADE,
            # A new plano:dbEngineVersion upgrades in place (docs/operations.md, "Upgrading PostgreSQL").
            allow_major_version_upgrade=True,
            instance_class=db.instance_class,
            allocated_storage=db.allocated_storage_gb,
            max_allocated_storage=db.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=kms,
            db_name=db.name,
            username=db.user,
            password=credentials.master_password,
            port=5432,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            parameter_group_name=parameters.name,
            ca_cert_identifier=CA_CERT_IDENTIFIER,
            multi_az=policy.multi_az,
            deletion_protection=policy.deletion_protection,
            skip_final_snapshot=policy.skip_final_snapshot,
            final_snapshot_identifier=final_snapshot,
            delete_automated_backups=policy.skip_final_snapshot,
            backup_retention_period=db.backup_retention_days,
            copy_tags_to_snapshot=True,
            apply_immediately=policy.apply_immediately,
            performance_insights_enabled=policy.performance_insights,
            performance_insights_retention_period=(
                PERFORMANCE_INSIGHTS_RETENTION_DAYS if policy.performance_insights else None
            ),
            performance_insights_kms_key_id=kms if policy.performance_insights else None,
            enabled_cloudwatch_logs_exports=list(policy.log_exports),
            tags=args.tags,
            # The identifier is fixed, so a replacement (new dbName, dbUser or kmsKeyArn) must delete
            # the old instance first; in prod `protect` stops any replacement before it starts.
            opts=pulumi.ResourceOptions(
                parent=self, protect=policy.protect, depends_on=log_groups, delete_before_replace=True
            ),
        )
