"""Service: the ECS cluster and the Fargate service running Plano with its TLS sidecar.

Creates the cluster (with both Fargate and Fargate Spot available), a log group with a
retention, the execution role (logs, exactly this task's secrets, KMS/ECR only when needed) and
the task role (no permissions; ECS Exec's ``ssmmessages`` actions only without a load balancer),
the task definition with the ``init``, ``pgbouncer`` and ``plano`` containers
(``containers.py``; with ``collector_image`` a ``collector`` sidecar too, its EMF log group and the
task role's right to write there and to X-Ray), the service (deployment circuit breaker with rollback; ECS Exec only
without a load balancer; redeployed whenever a secret value it reads changes, through
``triggers``; created after the load balancer's listeners) and, in prod, CPU target-tracking
autoscaling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from plano_pulumi.aws.containers import (
    PGBOUNCER_VOLUME,
    PLANO_VOLUME,
    STOP_TIMEOUT_S,
    TaskInputs,
    check_task_definition_size,
    container_definitions,
)
from plano_pulumi.aws.credentials import service_triggers
from plano_pulumi.aws.iam import (
    check_role_policy_size,
    collector_policy,
    ecs_exec_policy,
    execution_role_policy,
)
from plano_pulumi.aws.trust import TaskTrust, ecs_task_trust
from plano_pulumi.core.collector import collector_config_yaml
from plano_pulumi.core.naming import Names
from plano_pulumi.core.plano_config import Listener
from plano_pulumi.core.settings import Capacity, TlsMode

CPU_TARGET_PERCENT = 60


def redeploy_command(cluster: pulumi.Input[str], service: pulumi.Input[str], region: str) -> pulumi.Output[str]:
    """One command that rolls the tasks (they read every secret afresh) and waits until it is done."""
    return pulumi.Output.concat(
        f"aws ecs update-service --region {region} --cluster ",
        cluster,
        " --service ",
        service,
        " --force-new-deployment --query service.serviceName --output text",
        f" && aws ecs wait services-stable --region {region} --cluster ",
        cluster,
        " --services ",
        service,
    )


@dataclass
class ServiceArgs:
    names: Names
    """Physical names for the stack."""
    region: str
    """AWS region (log configuration, trust policy)."""
    images: tuple[str, str, str]
    """Images of plano, pgbouncer and init."""
    cpu: int
    """Task CPU units."""
    memory: int
    """Task memory in MiB."""
    architecture: str
    """ARM64 or X86_64."""
    capacity: Capacity
    """Fargate or Fargate Spot."""
    desired_count: int
    """Tasks to run; the autoscaling minimum."""
    max_count: int
    """Autoscaling maximum."""
    autoscaling: bool
    """Scale on CPU between desired_count and max_count."""
    log_retention_days: int
    """CloudWatch Logs retention."""
    subnet_ids: pulumi.Input[list[str]]
    """Subnets of the tasks."""
    assign_public_ip: bool
    """Public IP for egress when the subnets have no NAT (no inbound: the security group has none)."""
    security_group_id: pulumi.Input[str]
    """The tasks' security group."""
    listeners: tuple[Listener, ...]
    """Plano's listeners (container ports)."""
    health_port: int
    """Port of the listener that answers /healthz."""
    files: pulumi.Input[Mapping[str, str]]
    """The files the init step writes and runs (task_files.task_files; no secrets)."""
    db_host: pulumi.Input[str]
    """Database address."""
    db_port: pulumi.Input[int]
    """Database port."""
    db_name: str
    """Database name."""
    db_user: str
    """Database user."""
    tls_mode: TlsMode
    """TLS mode of the init step and the sidecar."""
    db_secret_arn: pulumi.Input[str]
    """Secret holding the master credentials (the init step's only)."""
    app_user: str
    """Plano's own database role."""
    app_secret_arn: pulumi.Input[str]
    """Secret holding Plano's role's credentials (plano and pgbouncer)."""
    secret_version_ids: Sequence[pulumi.Input[str]]
    """Version ids of every secret value Pulumi writes for the task: a change redeploys it."""
    provider_key_arns: Mapping[str, pulumi.Input[str]]
    """Env name -> secret ARN of each provider key."""
    environment: Mapping[str, str]
    """Plain environment variables for Plano."""
    kms_key_arn: str
    """Customer managed key of the secrets; empty when AWS managed."""
    target_group_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plano listener name -> target group, when a load balancer fronts the service."""
    health_check_grace_s: int = 120
    """Grace period before load balancer health checks count."""
    container_insights: bool = False
    """CloudWatch Container Insights on the cluster."""
    protect: bool = False
    """Protect the log group (prod)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources the service needs first (secret values, the load balancer's listeners)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource."""
    scheduled: bool = False
    """A schedule (components/plano_pulumi/aws/schedule.py) scales the service to zero and back."""
    state_probe: bool = True
    """The sidecar's health check fails once Plano's database connection is gone (task_env)."""
    collector_image: str = ""
    """The collector sidecar's image (plano:metricsCollector); empty = no collector."""
    metrics_namespace: str = ""
    """CloudWatch namespace of the collector's metrics."""
    tracing: bool = False
    """The collector relays Plano's OTLP traces to X-Ray."""
    init_db_name: str = ""
    """The database the init step logs in to first; empty = db_name (the database component's ``init_db_name``)."""
    init_secret_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """More secrets for the init step only, env name -> ARN (the database component's ``init_secret_arns``)."""


class PlanoService(pulumi.ComponentResource):
    """Plano on ECS Fargate."""

    cluster_name: pulumi.Output[str]
    """ECS cluster name."""
    service_name: pulumi.Output[str]
    """ECS service name."""
    log_group_name: pulumi.Output[str]
    """Log group of all three containers (stream prefixes init/, pgbouncer/, plano/)."""
    task_definition_arn: pulumi.Output[str]
    """The current task definition."""
    metrics_log_group_name: pulumi.Output[str] | None
    """Log group of the collector's EMF events (None without the collector)."""

    def __init__(self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:service:PlanoService", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        cluster, providers = self._cluster()
        log_group = aws.cloudwatch.LogGroup(
            "logs",
            name=args.names.log_group,
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        trust = ecs_task_trust(self, args.region)
        execution_role = self._execution_role(trust, log_group)
        task_role, task_role_policy = self._task_role(trust.policy)
        metrics_log_group = self._collector_logs(task_role) if args.collector_image else None
        task = self._task_definition(execution_role, task_role, self._container_definitions(log_group))
        service = self._service(cluster, task, first=[providers, *args.depends_on, *filter(None, [task_role_policy])])
        if args.autoscaling:
            self._autoscaling(cluster, service)

        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.task_definition_arn = task.arn
        self.metrics_log_group_name = metrics_log_group.name if metrics_log_group else None
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "log_group_name": self.log_group_name,
                "task_definition_arn": self.task_definition_arn,
            }
        )

    @property
    def _exec_enabled(self) -> bool:
        """ECS Exec is on only without a load balancer."""
        return not self._args.target_group_arns

    def _cluster(self) -> tuple[aws.ecs.Cluster, aws.ecs.ClusterCapacityProviders]:
        """The cluster, with both Fargate and Fargate Spot available."""
        args = self._args
        cluster = aws.ecs.Cluster(
            "cluster",
            name=args.names.cluster,
            settings=[
                aws.ecs.ClusterSettingArgs(
                    name="containerInsights", value="enabled" if args.container_insights else "disabled"
                )
            ],
            tags=args.tags,
            opts=self._child,
        )
        providers = aws.ecs.ClusterCapacityProviders(
            "capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            opts=self._child,
        )
        return cluster, providers

    def _execution_role(self, trust: TaskTrust, log_group: aws.cloudwatch.LogGroup) -> aws.iam.Role:
        """The role ECS starts the tasks with: logs, exactly this task's secrets, KMS/ECR when needed."""
        args = self._args
        execution_role = aws.iam.Role(
            "execution-role",
            name=args.names.execution_role,
            description="ECS starts Plano tasks with this role: logs, this task's secrets",
            assume_role_policy=trust.policy,
            tags=args.tags,
            opts=self._child,
        )
        secret_arns = [
            args.db_secret_arn,
            args.app_secret_arn,
            *args.provider_key_arns.values(),
            *args.init_secret_arns.values(),
        ]
        aws.iam.RolePolicy(
            "execution-policy",
            role=execution_role.id,
            policy=pulumi.Output.all(log_group.arn, trust.partition, *secret_arns).apply(
                lambda v: check_role_policy_size(
                    json.dumps(
                        execution_role_policy(
                            log_group_arn=v[0],
                            partition=v[1],
                            secret_arns=v[2:],
                            kms_key_arn=args.kms_key_arn,
                            region=args.region,
                            images=args.images,
                        )
                    )
                )
            ),
            opts=self._child,
        )
        return execution_role

    def _task_role(self, trust: pulumi.Output[str]) -> tuple[aws.iam.Role, aws.iam.RolePolicy | None]:
        """The role the tasks run with: no permissions but ECS Exec's (without a load balancer)."""
        args = self._args
        task_role = aws.iam.Role(
            "task-role",
            name=args.names.task_role,
            description="Plano tasks run with this role: no AWS permissions"
            + ("" if not self._exec_enabled else " except ECS Exec")
            + ("" if not args.collector_image else " except the collector's metrics and traces"),
            assume_role_policy=trust,
            tags=args.tags,
            opts=self._child,
        )
        task_role_policy = None
        if self._exec_enabled:
            task_role_policy = aws.iam.RolePolicy(
                "task-exec-policy", role=task_role.id, policy=json.dumps(ecs_exec_policy()), opts=self._child
            )
        return task_role, task_role_policy

    def _collector_logs(self, task_role: aws.iam.Role) -> aws.cloudwatch.LogGroup:
        """The collector's EMF events: a log group of the stack's own, with its retention, so the
        collector needs no right to create one; the task role may write there (and to X-Ray)."""
        args = self._args
        metrics_log_group = aws.cloudwatch.LogGroup(
            "metrics-logs",
            name=f"{args.names.log_group}/metrics",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=self._child,
        )
        aws.iam.RolePolicy(
            "task-collector-policy",
            role=task_role.id,
            policy=metrics_log_group.arn.apply(lambda arn: json.dumps(collector_policy(arn, tracing=args.tracing))),
            opts=self._child,
        )
        return metrics_log_group

    def _collector_yaml(self) -> str:
        """The collector sidecar's config ("" without the collector)."""
        args = self._args
        if not args.collector_image:
            return ""
        return collector_config_yaml(
            region=args.region,
            namespace=args.metrics_namespace,
            log_group=f"{args.names.log_group}/metrics",
            cluster=args.names.cluster,
            service=args.names.service,
            tracing=args.tracing,
        )

    def _container_definitions(self, log_group: aws.cloudwatch.LogGroup) -> pulumi.Output[str]:
        """The init, pgbouncer and plano (and collector) containers as ECS JSON (containers.py)."""
        args = self._args
        collector_yaml = self._collector_yaml()
        provider_names = sorted(args.provider_key_arns)
        init_secret_names = sorted(args.init_secret_arns)
        return pulumi.Output.all(
            log_group.name,
            args.db_host,
            args.db_port,
            args.db_secret_arn,
            args.files,
            args.app_secret_arn,
            *[args.provider_key_arns[n] for n in provider_names],
            *[args.init_secret_arns[n] for n in init_secret_names],
        ).apply(
            lambda v: check_task_definition_size(
                json.dumps(
                    container_definitions(
                        TaskInputs(
                            region=args.region,
                            log_group=v[0],
                            plano_image=args.images[0],
                            pgbouncer_image=args.images[1],
                            init_image=args.images[2],
                            db_host=v[1],
                            db_port=int(v[2]),
                            db_name=args.db_name,
                            db_user=args.db_user,
                            tls_mode=args.tls_mode,
                            db_password_arn=v[3],
                            app_user=args.app_user,
                            app_password_arn=v[5],
                            files=v[4],
                            listeners=args.listeners,
                            health_port=args.health_port,
                            provider_key_arns=dict(zip(provider_names, v[6 : 6 + len(provider_names)], strict=True)),
                            environment=args.environment,
                            state_probe=args.state_probe,
                            collector_image=args.collector_image,
                            collector_config=collector_yaml,
                            init_db_name=args.init_db_name,
                            init_secret_arns=dict(zip(init_secret_names, v[6 + len(provider_names) :], strict=True)),
                        )
                    )
                )
            )
        )

    def _task_definition(
        self, execution_role: aws.iam.Role, task_role: aws.iam.Role, definitions: pulumi.Output[str]
    ) -> aws.ecs.TaskDefinition:
        args = self._args
        return aws.ecs.TaskDefinition(
            "task",
            family=args.names.task_family,
            cpu=str(args.cpu),
            memory=str(args.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=args.architecture
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=definitions,
            volumes=[
                aws.ecs.TaskDefinitionVolumeArgs(name=PLANO_VOLUME),
                aws.ecs.TaskDefinitionVolumeArgs(name=PGBOUNCER_VOLUME),
            ],
            tags=args.tags,
            opts=self._child,
        )

    def _service(
        self, cluster: aws.ecs.Cluster, task: aws.ecs.TaskDefinition, first: Sequence[pulumi.Resource]
    ) -> aws.ecs.Service:
        """The Fargate service: circuit breaker with rollback, ECS Exec only without a load
        balancer, redeployed when a secret value changes, created after ``first``."""
        args = self._args
        spot = args.capacity is Capacity.FARGATE_SPOT
        return aws.ecs.Service(
            "service",
            name=args.names.service,
            cluster=cluster.arn,
            task_definition=task.arn,
            desired_count=args.desired_count,
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(
                    capacity_provider="FARGATE_SPOT" if spot else "FARGATE", weight=1
                )
            ],
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids,
                security_groups=[args.security_group_id],
                assign_public_ip=args.assign_public_ip,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(target_group_arn=arn, container_name="plano", container_port=lst.port)
                for lst in args.listeners
                if (arn := args.target_group_arns.get(lst.name)) is not None
            ],
            health_check_grace_period_seconds=args.health_check_grace_s if args.target_group_arns else None,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            # The provider requires it to change capacity_provider_strategies (plano:capacity) in place,
            # and for `triggers`.
            force_new_deployment=True,
            # ECS reads secrets only when a task starts: a new value of any secret Pulumi writes (a
            # provider key, a rotated DB password, a moved endpoint) must roll the tasks.
            triggers=service_triggers(args.secret_version_ids),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            enable_execute_command=self._exec_enabled,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            wait_for_steady_state=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(first),
                # The autoscaler (or the schedule) owns the task count once it is on.
                ignore_changes=["desiredCount"] if args.autoscaling or args.scheduled else None,
            ),
        )

    def _autoscaling(self, cluster: aws.ecs.Cluster, service: aws.ecs.Service) -> None:
        """CPU target tracking between desired_count and max_count."""
        args = self._args
        target = aws.appautoscaling.Target(
            "scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=args.desired_count,
            max_capacity=args.max_count,
            opts=self._child,
        )
        aws.appautoscaling.Policy(
            "scale-on-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=CPU_TARGET_PERCENT,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ECSServiceAverageCPUUtilization"
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
            opts=self._child,
        )


__all__ = ["STOP_TIMEOUT_S", "PlanoService", "ServiceArgs", "redeploy_command"]
