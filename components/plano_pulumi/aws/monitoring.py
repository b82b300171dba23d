"""Monitoring: alarms that reach someone, the state path made visible, a dashboard per stack.

Creates, from plain names and thresholds (``core/monitoring.py`` decides what; this wires it):

- an SNS topic for the stack's alarms with an e-mail subscription per address, or none when an
  existing topic is given (``alarm_topic_arn``: the way to Slack, PagerDuty or a chat bot);
- CloudWatch Logs metric filters on the service's log group that count the state-path lines of
  Plano and of the PgBouncer sidecar (``StatePathErrors`` in ``Plano/<stack>``);
- an EventBridge rule that writes the cluster's stopped-task events to a log group of its own
  (with a retention, and a resource policy letting EventBridge write there), and a metric filter
  counting the tasks stopped by a failure (``TasksStoppedByFailure``): the crash-loop alarm's metric;
- one CloudWatch alarm per ``alarm_specs`` entry, notifying the topic on ALARM and OK;
- the dashboard (``dashboard_body``); its console link is the ``dashboard_url`` output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from plano_pulumi.core.monitoring import (
    STATE_PATH_METRIC,
    STATE_PATH_PATTERNS,
    STOPPED_TASKS_METRIC,
    AlarmSpec,
    MonitoredStack,
    Thresholds,
    alarm_specs,
    dashboard_body,
    dashboard_url,
    metric_namespace,
    stopped_task_event_pattern,
    stopped_task_filter_pattern,
)

# Placeholders for dimension values only known once the load balancer exists.
_LB = "<load balancer>"


def _tg(listener: str) -> str:
    return f"<target group {listener}>"


@dataclass
class MonitoringArgs:
    base: str
    """``Names.base`` of the stack: resource names and the metric namespace ``Plano/<base>``."""
    region: str
    """AWS region (dashboard widgets, console link)."""
    cluster_name: str
    """ECS cluster name."""
    service_name: str
    """ECS service name."""
    log_group_name: str
    """The service's log group (plano/ and pgbouncer/ streams): where the state-path filters look."""
    db_engine: str
    """rds or aurora-serverless."""
    db_identifier: str
    """RDS instance identifier, or the Aurora cluster identifier."""
    thresholds: Thresholds
    """When each alarm fires (plano:alarmThresholds over the profile's defaults)."""
    db_instance_class: str = ""
    """RDS instance class (its memory gives max_connections); empty for Aurora."""
    db_allocated_storage_gb: int = 0
    """RDS allocated storage (free-storage threshold)."""
    db_max_acu: float = 0
    """Aurora Serverless v2 maximum capacity (max_connections)."""
    load_balancer_arn_suffix: pulumi.Input[str] | None = None
    """The load balancer's ARN suffix; None without one (no load balancer alarms)."""
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plano listener name -> target group ARN suffix."""
    alarm_emails: Sequence[str] = ()
    """Addresses subscribed to the stack's topic."""
    alarm_topic_arn: str = ""
    """An existing topic to notify instead of creating one."""
    container_insights: bool = True
    """Container Insights is on for the cluster (the running-below-desired alarm reads its metrics)."""
    collector_namespace: str = ""
    """Namespace of the collector's metrics (dashboard widgets); empty without the collector."""
    log_retention_days: int = 30
    """Retention of the stopped-task events' log group."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags for every resource that takes them."""


def _monitored_stack(args: MonitoringArgs) -> MonitoredStack:
    """What the alarms and the dashboard watch, with placeholders for the ARN suffixes."""
    return MonitoredStack(
        base=args.base,
        cluster=args.cluster_name,
        service=args.service_name,
        log_group=args.log_group_name,
        db_engine=args.db_engine,
        db_identifier=args.db_identifier,
        db_instance_class=args.db_instance_class,
        db_allocated_storage_gb=args.db_allocated_storage_gb,
        db_max_acu=args.db_max_acu,
        load_balancer=_LB if args.load_balancer_arn_suffix is not None else "",
        target_groups={listener: _tg(listener) for listener in args.target_group_arn_suffixes},
        container_insights=args.container_insights,
    )


class Monitoring(pulumi.ComponentResource):
    """The stack's alarms, their topic, the state-path metrics and the dashboard."""

    topic_arn: pulumi.Output[str]
    """The topic the alarms notify (created here, or the one given)."""
    dashboard_name: pulumi.Output[str]
    """The dashboard's name."""
    dashboard_url: pulumi.Output[str]
    """The dashboard in the CloudWatch console."""
    alarm_names: list[pulumi.Output[str]]
    """Every alarm's name."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = metric_namespace(args.base)
        stack = _monitored_stack(args)
        placeholders: dict[str, pulumi.Input[str]] = {_tg(k): v for k, v in args.target_group_arn_suffixes.items()}
        if args.load_balancer_arn_suffix is not None:
            placeholders[_LB] = args.load_balancer_arn_suffix

        topic_arn = self._topic_arn(args, child)
        self._state_path_filters(args, namespace, child)
        self._stopped_tasks(args, namespace, child)

        self.alarm_names = []
        for spec in alarm_specs(stack, args.thresholds):
            alarm = self._alarm(spec, args.base, topic_arn, placeholders, child)
            self.alarm_names.append(alarm.name)

        dashboard = self._dashboard(args, stack, placeholders, child)
        self.topic_arn = topic_arn
        self.dashboard_name = dashboard.dashboard_name
        self.dashboard_url = dashboard.dashboard_name.apply(lambda n: dashboard_url(args.region, n))
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs(
            {"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name, "dashboard_url": self.dashboard_url}
        )

    def _topic_arn(self, args: MonitoringArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """The user's topic (plano:alarmTopicArn), or a topic of the stack's own with the e-mail subscriptions."""
        if args.alarm_topic_arn:
            return pulumi.Output.from_input(args.alarm_topic_arn)
        topic = aws.sns.Topic("alarms", name=f"{args.base}-alarms", tags=args.tags, opts=child)
        for index, email in enumerate(args.alarm_emails):
            aws.sns.TopicSubscription(
                f"alarms-email-{index}", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        return topic.arn

    def _state_path_filters(self, args: MonitoringArgs, namespace: str, child: pulumi.ResourceOptions) -> None:
        """A metric of the log lines that say the state path (Plano - PgBouncer - database) broke."""
        for pattern in STATE_PATH_PATTERNS:
            aws.cloudwatch.LogMetricFilter(
                f"state-path-{pattern.container}",
                name=f"{args.base}-{pattern.key}",
                log_group_name=args.log_group_name,
                pattern=pattern.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=STATE_PATH_METRIC, namespace=namespace, value="1", unit="Count"
                ),
                opts=child,
            )

    def _dashboard(
        self,
        args: MonitoringArgs,
        stack: MonitoredStack,
        placeholders: Mapping[str, pulumi.Input[str]],
        child: pulumi.ResourceOptions,
    ) -> aws.cloudwatch.Dashboard:
        body = pulumi.Output.all(*placeholders.values()).apply(
            lambda values: json.dumps(
                _resolved(
                    dashboard_body(stack, args.region, collector_namespace=args.collector_namespace),
                    dict(zip(placeholders, values, strict=True)),
                )
            )
        )
        return aws.cloudwatch.Dashboard(
            "dashboard", dashboard_name=f"{args.base}-plano", dashboard_body=body, opts=child
        )

    def _stopped_tasks(self, args: MonitoringArgs, namespace: str, child: pulumi.ResourceOptions) -> None:
        events = aws.cloudwatch.LogGroup(
            "stopped-tasks",
            name=f"/aws/events/{args.base}/stopped-tasks",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        aws.cloudwatch.LogResourcePolicy(
            "stopped-tasks-delivery",
            policy_name=f"{args.base}-stopped-tasks",
            policy_document=events.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "EventBridgeWritesStoppedTasks",
                                "Effect": "Allow",
                                "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": f"{arn}:*",
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        rule = aws.cloudwatch.EventRule(
            "stopped-tasks",
            name=f"{args.base}-stopped-tasks",
            description="Tasks of the Plano service that stopped (the crash-loop alarm counts the failures)",
            event_pattern=json.dumps(stopped_task_event_pattern(args.cluster_name, args.service_name)),
            tags=args.tags,
            opts=child,
        )
        aws.cloudwatch.EventTarget("stopped-tasks", rule=rule.name, arn=events.arn, opts=child)
        aws.cloudwatch.LogMetricFilter(
            "stopped-by-failure",
            name=f"{args.base}-stopped-by-failure",
            log_group_name=events.name,
            pattern=stopped_task_filter_pattern(),
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=STOPPED_TASKS_METRIC, namespace=namespace, value="1", unit="Count"
            ),
            opts=child,
        )

    def _alarm(
        self,
        spec: AlarmSpec,
        base: str,
        topic_arn: pulumi.Output[str],
        placeholders: Mapping[str, pulumi.Input[str]],
        child: pulumi.ResourceOptions,
    ) -> aws.cloudwatch.MetricAlarm:
        def dims(values: Mapping[str, str]) -> dict[str, pulumi.Input[str]]:
            return {key: placeholders.get(value, value) for key, value in values.items()}

        single = None if spec.expression else spec.metrics[0]
        queries = None
        if spec.expression:
            queries = [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=metric.id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=metric.namespace,
                        metric_name=metric.name,
                        dimensions=dims(metric.dimensions),
                        stat=metric.statistic,
                        period=metric.period_s,
                    ),
                )
                for metric in spec.metrics
            ]
            queries.append(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="e", expression=spec.expression, label=spec.title, return_data=True
                )
            )
        return aws.cloudwatch.MetricAlarm(
            spec.key.replace(":", "-"),
            name=f"{base}-{spec.key.replace(':', '-')}",
            alarm_description=spec.description,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            treat_missing_data=spec.treat_missing_data,
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            namespace=single.namespace if single else None,
            metric_name=single.name if single else None,
            dimensions=(dims(single.dimensions) or None) if single else None,
            statistic=single.statistic if single else None,
            period=single.period_s if single else None,
            metric_queries=queries,
            opts=child,
        )


def _resolved(node: object, values: Mapping[str, str]) -> object:
    """``node`` with every placeholder string replaced by its value (dashboard body)."""
    if isinstance(node, str):
        return values.get(node, node)
    if isinstance(node, list):
        return [_resolved(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _resolved(value, values) for key, value in node.items()}
    return node


__all__ = ["Monitoring", "MonitoringArgs"]
