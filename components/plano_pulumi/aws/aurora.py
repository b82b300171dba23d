"""Aurora: Aurora PostgreSQL Serverless v2 that only accepts TLS and can pause at 0 ACU when idle.

The other engine behind ``plano:dbEngine`` (``aurora-serverless``); it exposes the same outputs as
``database.Database``, so the rest of the program does not know which one it got.

Creates:
- a DB subnet group over the private subnets;
- a cluster parameter group of the ``aurora-postgresqlNN`` family with ``rds.force_ssl = 1`` and
  pg_cron preloaded for the retention job (the same parameters as the RDS path);
- the same engine-independent credentials as the RDS path (``credentials.py``: the master user
  and Plano's own role, their generated passwords and secrets with RDS-style JSON);
- the cluster: engine ``aurora-postgresql`` in ``provisioned`` mode with a Serverless v2 scaling
  range (minimum 0 ACU and a pause after ``plano:dbAutoPauseSeconds`` idle seconds, or 0.5 ACU
  when it must never pause), encrypted storage, admitting only the service's security group;
- one ``db.serverless`` writer instance, not publicly accessible, CA ``rds-ca-rsa2048-g1``; with
  the prod profile a second one (a reader in another zone, promotion tier 1) for failover.

A paused instance resumes on the first connection (about 15 s; 30 s or more after a day asleep):
the sidecar's connect and query-wait timeouts must outlast that (docs/review-environments.md).

Profiles: as for RDS. Dev has no deletion protection and no final snapshot; prod is
deletion-protected, ``protect``-ed, and takes a final snapshot with a unique name.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from plano_pulumi.aws.credentials import DatabaseCredentials
from plano_pulumi.aws.database import (
    AURORA_TYPE,
    AUTO_MINOR_VERSION_UPGRADE,
    CA_CERT_IDENTIFIER,
    DATABASE_TYPE,
    DatabaseArgs,
    PostgresComponent,
    database_credentials,
    final_snapshot_identifier,
    moved_from,
    parameter_group_parameters,
)
from plano_pulumi.core.naming import Names
from plano_pulumi.core.settings import DatabaseSettings, ProfilePolicy

SERVERLESS_INSTANCE_CLASS = "db.serverless"
# Aurora PostgreSQL exports only the `postgresql` log (no `upgrade` log as RDS has).
AURORA_LOG_EXPORTS = ("postgresql",)


def scaling_configuration(db: DatabaseSettings) -> dict[str, float | int]:
    """The Serverless v2 range: 0 ACU with a pause after the idle time, or 0.5 ACU and no pause."""
    config: dict[str, float | int] = {"min_capacity": db.min_capacity_acu, "max_capacity": float(db.max_capacity_acu)}
    if db.auto_pause_s is not None:
        config["seconds_until_auto_pause"] = db.auto_pause_s
    return config


def aurora_log_exports(policy: ProfilePolicy) -> tuple[str, ...]:
    return AURORA_LOG_EXPORTS if policy.log_exports else ()


def cluster_log_group(names: Names, log: str) -> str:
    """Aurora writes exported logs to /aws/rds/cluster/<cluster>/<log>."""
    return f"/aws/rds/cluster/{names.db_identifier}/{log}"


class AuroraServerless(PostgresComponent):
    """Aurora PostgreSQL Serverless v2 with enforced TLS, and its credentials in Secrets Manager."""

    log_group_names: list[str]
    """Log groups of the exported PostgreSQL logs (prod)."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(AURORA_TYPE, name, None, opts)
        # Children that keep their AWS name across an engine switch move over from the RDS component.
        aliases = moved_from(self, AURORA_TYPE, DATABASE_TYPE)
        subnet_group = self._subnet_group(args, aliases)
        parameters = self._parameter_group(args)
        # The same credentials as the RDS path; switching the engine moves them over (same passwords).
        credentials = database_credentials(self, args, aliases)
        exports = aurora_log_exports(args.policy)
        log_groups = self._export_log_groups(args, {log: cluster_log_group(args.names, log) for log in exports})
        cluster = self._cluster(args, subnet_group, parameters, credentials, log_groups)
        self._instances(args, cluster, subnet_group)
        self.log_group_names = [cluster_log_group(args.names, log) for log in exports]
        self._publish(
            args,
            credentials,
            host=cluster.endpoint,
            port=cluster.port,
            identifier=cluster.cluster_identifier,
            aliases=aliases,
        )

    def _parameter_group(self, args: DatabaseArgs) -> aws.rds.ClusterParameterGroup:
        """TLS only (``rds.force_ssl``) and pg_cron preloaded: the same parameters as the RDS path."""
        family = args.settings.cluster_parameter_group_family
        return aws.rds.ClusterParameterGroup(
            "parameters",
            name=args.names.db_parameter_group(family),
            family=family,
            description="Plano state: TLS only, pg_cron for retention",
            parameters=[
                aws.rds.ClusterParameterGroupParameterArgs(**p) for p in parameter_group_parameters(args.settings)
            ],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _cluster(
        self,
        args: DatabaseArgs,
        subnet_group: aws.rds.SubnetGroup,
        parameters: aws.rds.ClusterParameterGroup,
        credentials: DatabaseCredentials,
        log_groups: list[aws.cloudwatch.LogGroup],
    ) -> aws.rds.Cluster:
        """The Serverless v2 cluster: encrypted, admitting only the service's security group; the
        profile decides deletion protection, snapshots and log exports."""
        db, policy, names = args.settings, args.policy, args.names
        final_snapshot = None if policy.skip_final_snapshot else final_snapshot_identifier(names, self)
        return aws.rds.Cluster(
            "cluster",
            cluster_identifier=names.db_identifier,
            engine="aurora-postgresql",
            engine_mode="provisioned",  # Serverless v2 is the provisioned mode with db.serverless instances
            engine_version=db.engine_version,
            allow_major_version_upgrade=True,
            database_name=db.name,
            master_username=credentials.master_user,
            master_password=credentials.master_password,
            port=5432,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[args.security_group_id],
            db_cluster_parameter_group_name=parameters.name,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn or None,
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                **scaling_configuration(db)  # type: ignore[arg-type]
            ),
            backup_retention_period=db.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=policy.deletion_protection,
            skip_final_snapshot=policy.skip_final_snapshot,
            final_snapshot_identifier=final_snapshot,
            delete_automated_backups=policy.skip_final_snapshot,
            apply_immediately=policy.apply_immediately,
            enabled_cloudwatch_logs_exports=list(aurora_log_exports(policy)),
            tags=args.tags,
            # Fixed identifier: a replacement must delete the old cluster first (prod: `protect` stops it).
            opts=pulumi.ResourceOptions(
                parent=self, protect=policy.protect, depends_on=log_groups, delete_before_replace=True
            ),
        )

    def _instances(self, args: DatabaseArgs, cluster: aws.rds.Cluster, subnet_group: aws.rds.SubnetGroup) -> None:
        """One ``db.serverless`` writer; in prod a second instance for failover."""
        policy, names = args.policy, args.names
        # The writer, and in prod a reader in promotion tier 1 (it follows the writer's capacity and
        # takes over on failover, like RDS Multi-AZ).
        for index in range(2 if policy.multi_az else 1):
            aws.rds.ClusterInstance(
                f"instance-{index}",
                identifier=f"{names.db_identifier}-{index + 1}",
                cluster_identifier=cluster.id,
                instance_class=SERVERLESS_INSTANCE_CLASS,
                # The engine version follows the cluster's (an instance's own would drift after minor upgrades).
                engine=aws.rds.EngineType.AURORA_POSTGRESQL,
                publicly_accessible=False,
                db_subnet_group_name=subnet_group.name,
                ca_cert_identifier=CA_CERT_IDENTIFIER,
                promotion_tier=index,
                auto_minor_version_upgrade=AUTO_MINOR_VERSION_UPGRADE,  # the cluster's version is pinned
                apply_immediately=policy.apply_immediately,
                # Performance Insights needs at least 2 ACU and stops while paused: not used here.
                performance_insights_enabled=False,
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self, protect=policy.protect, delete_before_replace=True),
            )
