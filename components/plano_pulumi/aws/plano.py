"""``PlanoOnAws``: Plano on ECS Fargate with its conversation state in TLS-only PostgreSQL.

    clients --(allowedCidrs only)--> load balancer --> task: init -> pgbouncer --TLS--> RDS or Aurora
                                                             plano --loopback--^
    DB_PASS and provider keys: Secrets Manager -> ECS secrets (never in plain text)

It creates, as its children and in the order data flows: a network (or adopts ``vpc_id`` and its
subnets), security groups, the database (RDS PostgreSQL or Aurora Serverless v2, per ``db_engine``;
for a review stack, ``shared_database``, its own database on dev's server), the provider-key secrets
(or dev's, ``shared_provider_key_secret_arns``), a load balancer (``ingress: alb``), the Fargate
service, for dev the working-hours schedule and, when its server carries review stacks
(``db_review_stacks``), the janitor that drops the databases of removed ones. Every argument is
validated before the first child is registered.
"""

from typing import Any

import pulumi

from plano_pulumi.args import PlanoOnAwsArgs
from plano_pulumi.aws.aurora import AuroraServerless
from plano_pulumi.aws.database import Database, DatabaseArgs, PostgresComponent, check_engine_change
from plano_pulumi.aws.firewall import Firewall, FirewallArgs
from plano_pulumi.aws.ingress import LoadBalancer, LoadBalancerArgs, deregistration_delay_s
from plano_pulumi.aws.monitoring import Monitoring, MonitoringArgs
from plano_pulumi.aws.network import Network, NetworkArgs
from plano_pulumi.aws.review_database import ReviewDatabase, ReviewDatabaseArgs, ReviewJanitor, ReviewJanitorArgs
from plano_pulumi.aws.schedule import TaskSchedule, TaskScheduleArgs
from plano_pulumi.aws.secrets import (
    ProviderKeys,
    ProviderKeysArgs,
    put_secret_value_command,
    remind_empty_external_keys,
)
from plano_pulumi.aws.service import PlanoService, ServiceArgs, redeploy_command
from plano_pulumi.component import PlanoComponent
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.monitoring import metric_namespace
from plano_pulumi.core.plano_config import primary_listener
from plano_pulumi.core.review_database import provisioner_role_name
from plano_pulumi.core.settings import DbEngine, Ingress, Settings, resource_tags
from plano_pulumi.core.settings.source import settings_from_args
from plano_pulumi.core.task_files import task_files

TYPE = "plano:index:PlanoOnAws"


class PlanoOnAws(PlanoComponent):
    """Plano (AI gateway) on ECS Fargate, its conversation state in TLS-only RDS or Aurora PostgreSQL,
    its database password and model-provider keys in Secrets Manager."""

    endpoint_url: pulumi.Output[str]
    """Where clients reach Plano's primary listener (the model listener when there is one)."""
    endpoint_urls: pulumi.Output[dict[str, str]]
    """Every listener's URL by listener name (with a load balancer)."""
    profile: pulumi.Output[str]
    """The profile the stack runs: dev or prod."""
    db_address: pulumi.Output[str]
    """The database's private host name (RDS instance or Aurora writer endpoint)."""
    db_secret_arn: pulumi.Output[str]
    """ARN of the Secrets Manager secret holding the master password (used by the init step only)."""
    db_secret_name: pulumi.Output[str]
    """Name of that secret."""
    db_app_secret_name: pulumi.Output[str]
    """Name of the secret holding the password of Plano's own database role."""
    provider_key_secret_arns: pulumi.Output[dict[str, str]]
    """Secrets Manager ARN of each model-provider key, by environment variable name."""
    provider_keys_external: pulumi.Output[list[str]]
    """Provider keys whose values you put into Secrets Manager yourself."""
    provider_key_fill_commands: pulumi.Output[str]
    """One `aws secretsmanager put-secret-value` command per external key, one per line."""
    redeploy_command: pulumi.Output[str]
    """Rolls the tasks so they read every secret afresh, and waits until the service is stable."""
    cluster_name: pulumi.Output[str]
    """The ECS cluster's name."""
    service_name: pulumi.Output[str]
    """The ECS service's name."""
    task_definition_arn: pulumi.Output[str]
    """The task definition the service runs (CI checks a deploy reached it)."""
    log_group_names: pulumi.Output[list[str]]
    """CloudWatch log groups: the task's, then the database's."""
    vpc_id: pulumi.Output[str]
    """The VPC the stack runs in (created or adopted)."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnets (load balancer; tasks when there is no NAT gateway)."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets (database; tasks when there is NAT)."""
    rendered_plano_config: pulumi.Output[str]
    """The Plano config the task runs: placeholders only, no secret."""
    alb_dns_name: pulumi.Output[str]
    """With a load balancer: its DNS name (the CNAME target for plano:domainName without Route 53)."""
    port_forward_command: pulumi.Output[str]
    """Without a load balancer: the command that forwards the primary listener to localhost."""
    wake_command: pulumi.Output[str]
    """With a schedule (dev): the command that starts the tasks outside working hours."""
    dashboard_url: pulumi.Output[str]
    """With alarms (prod): the stack's CloudWatch dashboard."""
    alarm_topic_arn: pulumi.Output[str]
    """With alarms (prod): the SNS topic the alarms notify (subscribe Slack or PagerDuty to it)."""
    review_database: pulumi.Output[dict[str, Any]]
    """When the server carries review stacks: address, port, securityGroupId, provisionerSecretArn
    (a review stack's ``shared_database``) and maxReviewStacks."""
    review_janitor: pulumi.Output[dict[str, Any]]
    """When the server carries review stacks: how scripts/ci/drop-review-databases.sh runs the janitor."""

    def __init__(self, name: str, args: PlanoOnAwsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Everything is validated before the first resource: bad args register nothing.
        settings = settings_from_args(args, local=False)
        _one_per_stack(name, settings)
        check_engine_change(settings.names, settings.database)  # a switch of engine needs confirming
        self._register(TYPE, name, settings, opts)
        self._tags = resource_tags(settings)
        self._build()
        self._outputs()

    def _build(self) -> None:
        s, names, tags = self.settings, self.settings.names, self._tags
        self.network = Network("network", NetworkArgs(s.network, names.base, tags), self._child())
        self.firewall = Firewall(
            "firewall",
            FirewallArgs(
                names=names,
                vpc_id=self.network.vpc_id,
                listeners=s.plano.listeners,
                load_balancer=s.ingress.mode is Ingress.ALB,
                https=s.ingress.https,
                allowed_cidrs=s.ingress.allowed_cidrs,
                egress_ports=s.plano.egress_ports,
                tags=tags,
            ),
            self._child(),
        )
        self.database = self._database()
        self.provider_keys = self._provider_keys()
        self.load_balancer = self._load_balancer()
        self.service = self._service()
        self.schedule = self._schedule()
        self.monitoring = self._monitoring()
        self.review_janitor_task = self._review_janitor()

    def _database(self) -> PostgresComponent:
        s = self.settings
        db_args = DatabaseArgs(
            names=s.names,
            settings=s.database,
            policy=s.policy,
            subnet_ids=self.network.private_subnet_ids,
            vpc_id=self.network.vpc_id,
            security_group_id=self.firewall.db_security_group_id,
            kms_key_arn=s.secrets.kms_key_arn,
            log_retention_days=s.service.log_retention_days,
            tags=self._tags,
        )
        if s.database.shared is not None:  # a review stack: its own database on dev's server
            return ReviewDatabase(
                "database",
                ReviewDatabaseArgs(
                    names=s.names,
                    settings=s.database,
                    client_security_group_id=self.firewall.service_security_group_id,
                    kms_key_arn=s.secrets.kms_key_arn,
                    recovery_window_days=s.policy.secret_recovery_window_days,
                    tags=self._tags,
                ),
                self._child(),
            )
        if s.database.engine is DbEngine.AURORA_SERVERLESS:
            return AuroraServerless("database", db_args, self._child())
        return Database("database", db_args, self._child())

    def _provider_keys(self) -> ProviderKeys:
        s = self.settings
        remind_empty_external_keys(s.names, s.secrets.provider_keys_external, s.region)
        return ProviderKeys(
            "provider-keys",
            ProviderKeysArgs(
                names=s.names,
                provider_keys=s.secrets.provider_keys,
                external=s.secrets.provider_keys_external,
                kms_key_arn=s.secrets.kms_key_arn,
                recovery_window_days=s.policy.secret_recovery_window_days,
                protect=s.policy.protect,
                tags=self._tags,
                shared_arns=s.secrets.shared_arns,
            ),
            self._child(),
        )

    def _load_balancer(self) -> LoadBalancer | None:
        s = self.settings
        if s.ingress.mode is not Ingress.ALB:
            return None
        return LoadBalancer(
            "ingress",
            LoadBalancerArgs(
                names=s.names,
                listeners=s.plano.listeners,
                health_port=s.plano.health_listener.port,
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.private_subnet_ids if s.ingress.internal else self.network.public_subnet_ids,
                security_group_id=self.firewall.alb_security_group_id,  # type: ignore[arg-type]
                certificate_arn=s.ingress.certificate_arn,
                internal=s.ingress.internal,
                deregistration_delay_s=deregistration_delay_s(s.plano.listeners, keep_streams=s.policy.protect),
                deletion_protection=s.policy.deletion_protection,
                domain_name=s.ingress.domain_name,
                hosted_zone_id=s.ingress.hosted_zone_id,
                tags=self._tags,
            ),
            self._child(),
        )

    def _service(self) -> PlanoService:
        s, database, keys, lb = self.settings, self.database, self.provider_keys, self.load_balancer
        in_public = s.network.tasks_in_public_subnets
        return PlanoService(
            "plano",
            ServiceArgs(
                names=s.names,
                region=s.region,
                images=(s.service.image, s.service.pgbouncer_image, s.service.init_image),
                cpu=s.service.cpu,
                memory=s.service.memory,
                architecture=s.service.architecture.value,
                capacity=s.service.capacity,
                desired_count=s.service.desired_count,
                max_count=s.service.max_count,
                autoscaling=s.policy.autoscaling,
                scheduled=s.schedule is not None,
                log_retention_days=s.service.log_retention_days,
                subnet_ids=self.network.public_subnet_ids if in_public else self.network.private_subnet_ids,
                assign_public_ip=in_public,
                security_group_id=self.firewall.service_security_group_id,
                listeners=s.plano.listeners,
                health_port=s.plano.health_listener.port,
                files=pulumi.Output.all(database.address, database.port).apply(
                    lambda a: task_files(s.plano.text, s.database, a[0], a[1])
                ),
                db_host=database.address,
                db_port=database.port,
                db_name=s.database.name,
                db_user=s.database.user,
                tls_mode=s.database.tls_mode,
                db_secret_arn=database.secret_arn,
                app_user=database.app_user,
                app_secret_arn=database.app_secret_arn,
                init_db_name=database.init_db_name,
                init_secret_arns=database.init_secret_arns,
                secret_version_ids=[*database.secret_version_ids, *keys.version_ids],
                provider_key_arns=keys.arns,
                environment=s.service.environment,
                kms_key_arn=s.secrets.kms_key_arn,
                target_group_arns=lb.target_group_arns if lb else {},
                container_insights=s.policy.protect,
                collector_image=s.monitoring.collector_image if s.monitoring.collector else "",
                metrics_namespace=metric_namespace(s.names.base),
                tracing=s.monitoring.tracing,
                protect=s.policy.protect,
                depends_on=[*database.secret_values, *keys.values, *(lb.listeners if lb else [])],
                tags=self._tags,
            ),
            self._child(),
        )

    def _schedule(self) -> TaskSchedule | None:
        # Without autoscaling, a scalable target holds the task count; dev and review stacks can rest
        # outside working hours (plano:activeHours). Always there, so turning the schedule off wakes them.
        s = self.settings
        if s.policy.autoscaling:
            return None
        return TaskSchedule(
            "schedule",
            TaskScheduleArgs(
                schedule=s.schedule,
                cluster_name=self.service.cluster_name,
                service_name=self.service.service_name,
                desired_count=s.service.desired_count,
                region=s.region,
            ),
            self._child(),
        )

    def _monitoring(self) -> Monitoring | None:
        s, lb = self.settings, self.load_balancer
        if not s.monitoring.alarms:  # prod by default; dev and review stacks with plano:alarms on
            return None
        names = s.names
        return Monitoring(
            "monitoring",
            MonitoringArgs(
                base=names.base,
                region=s.region,
                cluster_name=names.cluster,
                service_name=names.service,
                log_group_name=names.log_group,
                db_engine=s.database.engine.value,
                db_identifier=names.db_identifier,
                thresholds=s.monitoring.thresholds,
                db_instance_class=s.database.instance_class,
                db_allocated_storage_gb=s.database.allocated_storage_gb,
                db_max_acu=s.database.max_capacity_acu,
                load_balancer_arn_suffix=lb.arn_suffix if lb else None,
                target_group_arn_suffixes=lb.target_group_arn_suffixes if lb else {},
                alarm_emails=s.monitoring.alarm_emails,
                alarm_topic_arn=s.monitoring.alarm_topic_arn,
                container_insights=s.policy.protect,
                collector_namespace=metric_namespace(names.base) if s.monitoring.collector else "",
                log_retention_days=s.service.log_retention_days,
                tags=self._tags,
            ),
            # The metric filters need the service's log group.
            pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
        )

    def _review_janitor(self) -> ReviewJanitor | None:
        s, database = self.settings, self.database
        if database.provisioner_secret_arn is None:  # this server carries no review stacks
            return None
        in_public = s.network.tasks_in_public_subnets
        return ReviewJanitor(
            "review-janitor",
            ReviewJanitorArgs(
                names=s.names,
                region=s.region,
                image=s.service.init_image,
                architecture=s.service.architecture.value,
                base_db_name=s.database.name,
                provisioner_user=provisioner_role_name(s.database.user),
                provisioner_secret_arn=database.provisioner_secret_arn,
                db_host=database.address,
                db_port=database.port,
                tls_mode=s.database.tls_mode,
                cluster_name=self.service.cluster_name,
                log_group_name=self.service.log_group_name,
                subnet_ids=self.network.public_subnet_ids if in_public else self.network.private_subnet_ids,
                security_group_id=self.firewall.service_security_group_id,
                assign_public_ip=in_public,
                kms_key_arn=s.secrets.kms_key_arn,
                tags=self._tags,
            ),
            self._child(),
        )

    def _outputs(self) -> None:
        s, service, database, keys = self.settings, self.service, self.database, self.provider_keys
        self._endpoint_outputs()
        if self.schedule is not None and s.schedule is not None:
            self.wake_command = self.schedule.wake_command
        if self.monitoring is not None:
            self.dashboard_url = self.monitoring.dashboard_url
            self.alarm_topic_arn = self.monitoring.topic_arn
        self._review_outputs()
        self.profile = pulumi.Output.from_input(s.profile.value)
        self.db_address = database.address
        self.db_secret_arn = database.secret_arn
        self.db_secret_name = database.secret_name
        self.db_app_secret_name = database.app_secret_name
        self.provider_key_secret_arns = pulumi.Output.all(**keys.arns).apply(dict)  # type: ignore[arg-type]
        self.provider_keys_external = pulumi.Output.from_input(list(s.secrets.provider_keys_external))
        self.provider_key_fill_commands = pulumi.Output.from_input(
            "\n".join(
                put_secret_value_command(keys.secret_names[name], name, s.region)
                for name in s.secrets.provider_keys_external
            )
        )
        self.redeploy_command = redeploy_command(service.cluster_name, service.service_name, s.region)
        self.cluster_name = service.cluster_name
        self.service_name = service.service_name
        self.task_definition_arn = service.task_definition_arn
        self.log_group_names = pulumi.Output.all(service.log_group_name, *self._db_log_groups()).apply(list)
        self.vpc_id = self.network.vpc_id
        self.public_subnet_ids = self.network.public_subnet_ids
        self.private_subnet_ids = self.network.private_subnet_ids
        self.rendered_plano_config = pulumi.Output.from_input(s.plano.text)
        self._publish()

    def _endpoint_outputs(self) -> None:
        """Where clients reach Plano: the load balancer's URLs, or localhost through a port forward."""
        s, service = self.settings, self.service
        primary = primary_listener(s.plano.listeners)
        if self.load_balancer is not None:
            self.endpoint_urls = self.load_balancer.endpoint_urls
            self.alb_dns_name = self.load_balancer.dns_name
            self.endpoint_url = self.endpoint_urls.apply(lambda urls: urls[primary.name])
        else:
            self.endpoint_url = pulumi.Output.from_input(
                f"http://localhost:{primary.port} (after the port_forward_command)"
            )
            self.port_forward_command = pulumi.Output.concat(
                f"scripts/port-forward.sh --region {s.region} ",
                service.cluster_name,
                " ",
                service.service_name,
                f" {primary.port}",
            )

    def _review_outputs(self) -> None:
        """What review stacks need from this one (plano:dbReviewStacks): the server and the janitor."""
        database = self.database
        if self.review_janitor_task is None or database.provisioner_secret_arn is None:
            return
        max_review_stacks = self.settings.database.review_stacks
        self.review_database = pulumi.Output.all(
            database.address, database.port, self.firewall.db_security_group_id, database.provisioner_secret_arn
        ).apply(
            lambda v: {
                "address": v[0],
                "port": v[1],
                "securityGroupId": v[2],
                "provisionerSecretArn": v[3],
                "maxReviewStacks": max_review_stacks,
            }
        )
        self.review_janitor = self.review_janitor_task.run

    def _db_log_groups(self) -> list[Any]:
        if isinstance(self.database, ReviewDatabase):  # dev's server exports the logs
            return []
        if isinstance(self.database, AuroraServerless):
            return list(self.database.log_group_names)
        return [self.settings.names.rds_log_group(log) for log in self.settings.policy.log_exports]


_INSTANCES: dict[int, str] = {}


def _one_per_stack(name: str, settings: Settings) -> None:
    # Physical names derive from project and stack (core/naming.py): a second instance would collide.
    first = _INSTANCES.setdefault(id(pulumi.runtime.get_root_resource()), name)
    if first != name:
        raise ConfigError(
            f"PlanoOnAws {name}",
            f"is the second Plano deployment in stack {settings.stack} (the first is {first}); AWS names "
            "derive from the project and stack, so two would collide",
            fix="deploy each Plano in its own stack",
        )
