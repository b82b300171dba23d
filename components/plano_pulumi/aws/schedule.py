"""Schedule: the task count of a service without autoscaling, at rest outside working hours.

Creates an Application Auto Scaling target for the service's desired count (every stack without
autoscaling: dev, review stacks, any stack with ``plano:activeHours always``) and, with a schedule,
two scheduled actions in the configured time zone: ``wake`` (the desired count, on the active days
at the start hour) and ``sleep`` (zero tasks at the end hour). Outside those hours nothing runs and
nothing is billed for Fargate or the tasks' public IPv4 addresses. ``wake_command`` brings it back
at once: it raises the target's minimum, and Application Auto Scaling starts the tasks; the next
``sleep`` action puts it to rest again.

Why the target exists without a schedule too, and why ``pulumi up`` writes its range: each call of
RegisterScalableTarget compares the running count with the range and moves it inside (AWS,
Application Auto Scaling user guide, "Scalable target"), so a minimum above the running count
starts tasks at once (as ``wake_command`` does).
- Turning the schedule off (``plano:activeHours always``) keeps the same target and changes its
  ``suspendedState`` (scheduled scaling suspended: there are no actions left), so `pulumi up`
  re-registers it with ``desiredCount`` as its minimum and a service left asleep at 0 tasks comes
  back. (Without it, the service's own ``desiredCount`` would not change in Pulumi's state, which
  never saw the sleep action set it to 0, so nothing would be sent.)
- A new ``plano:desiredCount`` is a new range, registered on that `up` (not at the next wake): it
  starts the tasks now, outside the active hours too, until the next ``sleep``.
The range is not ignored between runs: Pulumi compares it with what it last wrote, which the
scheduled actions do not change, so an ordinary `pulumi up` leaves a sleeping service asleep
(after a `pulumi refresh` at night, though, the next `up` writes the range back and wakes it).
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
    schedule: ScheduleSettings | None
    """Active hours, days and time zone; None: the tasks run around the clock (no actions)."""
    cluster_name: pulumi.Input[str]
    """The ECS cluster."""
    service_name: pulumi.Input[str]
    """The ECS service."""
    desired_count: int
    """Tasks while awake."""
    region: str
    """For the wake command."""


class TaskSchedule(pulumi.ComponentResource):
    """Holds the service's task count; with a schedule, scales it to zero outside the active hours and back."""

    wake_command: pulumi.Output[str]
    """`aws` command that starts the tasks now."""

    def __init__(self, name: str, args: TaskScheduleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:service:TaskSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        scheduled = args.schedule is not None
        target = aws.appautoscaling.Target(
            "target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", args.service_name),
            min_capacity=args.desired_count,
            max_capacity=args.desired_count,
            # Differs with and without a schedule, so switching re-registers the range (module docstring).
            suspended_state=aws.appautoscaling.TargetSuspendedStateArgs(
                dynamic_scaling_in_suspended=False,
                dynamic_scaling_out_suspended=False,
                scheduled_scaling_suspended=not scheduled,
            ),
            opts=child,
        )
        schedule = args.schedule
        actions = scheduled_actions(schedule, args.desired_count) if schedule else ()
        timezone = schedule.timezone if schedule else None
        for action in actions:
            aws.appautoscaling.ScheduledAction(
                action.name,
                name=pulumi.Output.concat(args.service_name, f"-{action.name}"),
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                schedule=action.cron,
                timezone=timezone,
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
