"""Schedule: the service at rest outside working hours (dev and review stacks).

Creates an Application Auto Scaling target for the service's desired count and two scheduled
actions in the configured time zone: ``wake`` (the desired count, on the active days at the start
hour) and ``sleep`` (zero tasks at the end hour). Outside those hours nothing runs and nothing is
billed for Fargate or the tasks' public IPv4 addresses. ``wake_command`` brings it back at once:
it raises the target's minimum, and Application Auto Scaling starts the tasks; the next ``sleep``
action puts it to rest again.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from plano_pulumi.core.settings import ScheduleSettings
from plano_pulumi.core.task_schedule import scheduled_actions


def wake_command(cluster: str, service: str, region: str, desired_count: int) -> str:
    """One command that starts the tasks now (until the next scheduled sleep)."""
    return (
        "aws application-autoscaling register-scalable-target --service-namespace ecs "
        f"--scalable-dimension ecs:service:DesiredCount --resource-id service/{cluster}/{service} "
        f"--min-capacity {desired_count} --max-capacity {desired_count} --region {region}"
    )


@dataclass
class TaskScheduleArgs:
    schedule: ScheduleSettings
    """Active hours, days and time zone."""
    cluster_name: pulumi.Input[str]
    """The ECS cluster."""
    service_name: pulumi.Input[str]
    """The ECS service."""
    desired_count: int
    """Tasks while awake."""
    region: str
    """For the wake command."""


class TaskSchedule(pulumi.ComponentResource):
    """Scales the service to zero tasks outside the active hours, and back."""

    wake_command: pulumi.Output[str]
    """`aws` command that starts the tasks now."""

    def __init__(self, name: str, args: TaskScheduleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:service:TaskSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            "target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", args.service_name),
            min_capacity=args.desired_count,
            max_capacity=args.desired_count,
            # The scheduled actions own the range between runs of `pulumi up`.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["minCapacity", "maxCapacity"]),
        )
        for action in scheduled_actions(args.schedule, args.desired_count):
            aws.appautoscaling.ScheduledAction(
                action.name,
                name=pulumi.Output.concat(args.service_name, f"-{action.name}"),
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                schedule=action.cron,
                timezone=args.schedule.timezone,
                scalable_target_action=aws.appautoscaling.ScheduledActionScalableTargetActionArgs(
                    min_capacity=action.min_capacity, max_capacity=action.max_capacity
                ),
                opts=child,
            )
        self.wake_command = pulumi.Output.all(args.cluster_name, args.service_name).apply(
            lambda a: wake_command(a[0], a[1], args.region, args.desired_count)
        )
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"wake_command": self.wake_command})
