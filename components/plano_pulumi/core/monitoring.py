"""What production is watched with: thresholds, alarms, log patterns and the dashboard (pure).

Plain values in, plain values out; ``components/plano_pulumi/aws/monitoring.py`` turns them into
CloudWatch and SNS resources, and ``docs/monitoring.md`` shows the same alarms as a runbook (a test
keeps the two equal).

- ``Thresholds``: one number per alarm, with defaults per profile (``PROFILE_THRESHOLDS``) that
  ``plano:alarmThresholds`` overrides key by key.
- ``alarm_specs``: every alarm of a stack with its metric(s), namespace, dimensions, statistic,
  period and threshold; what it means and the first thing to do (``RUNBOOK``).
- ``STATE_PATH_PATTERNS``: CloudWatch Logs filter patterns for the log lines of Plano's
  brightstaff and of the PgBouncer sidecar that mean a state read or write failed, or Plano's
  database connection is gone; ``filter_matches`` evaluates such a pattern the way CloudWatch
  does for unstructured lines, so tests run real log lines through them.
- ``dashboard_body``: the stack's dashboard (requests, errors, latency per listener, state-path
  errors, tasks, database load).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from plano_pulumi.core.errors import ConfigError

# The custom namespace of this project's own metrics (log metric filters, crash loops).
NAMESPACE_PREFIX = "Plano"


def metric_namespace(base: str) -> str:
    """``Plano/<project-stack>``: one namespace per stack, so stacks never count each other's errors."""
    return f"{NAMESPACE_PREFIX}/{base}"


STATE_PATH_METRIC = "StatePathErrors"
STOPPED_TASKS_METRIC = "TasksStoppedByFailure"


@dataclass(frozen=True)
class Thresholds:
    """When each alarm fires. ``plano:alarmThresholds`` names them in camelCase (``threshold_key``)."""

    alb_5xx_percent: float = 5.0
    """Load balancer 5xx responses, percent of requests (over 5 minutes, at least min_requests)."""
    target_5xx_percent: float = 5.0
    """Plano's own 5xx responses, percent of requests."""
    min_requests: float = 20
    """Below this many requests in 5 minutes the 5xx rates do not alarm (one failed request of two)."""
    unhealthy_targets: float = 1
    """Unhealthy targets in any target group, for 3 minutes."""
    stopped_tasks: float = 3
    """Tasks stopped by a failure (essential container exited, failed health check) in 15 minutes."""
    service_cpu_percent: float = 80
    """Service CPU, average over 15 minutes."""
    service_memory_percent: float = 85
    """Service memory, average over 15 minutes."""
    db_cpu_percent: float = 80
    """Database CPU, average over 15 minutes."""
    db_free_storage_percent: float = 10
    """RDS free storage below this share of the allocated storage."""
    db_acu_percent: float = 90
    """Aurora Serverless v2: capacity used, percent of the maximum ACU, over 15 minutes."""
    db_connections_percent: float = 80
    """Database connections, percent of the instance's max_connections (estimated, see below)."""
    state_path_errors: float = 1
    """State-path log lines (failed reads or writes, lost connection) in one minute."""


# Dev and review stacks get no alarm unless plano:alarms says so; when they do, one task on Spot
# capacity runs hotter and restarts more often without anyone being paged for it.
PROFILE_THRESHOLDS: dict[str, Thresholds] = {
    "dev": Thresholds(
        stopped_tasks=5, service_cpu_percent=90, service_memory_percent=90, db_cpu_percent=90, min_requests=50
    ),
    "prod": Thresholds(),
}


def threshold_key(field_name: str) -> str:
    """The ``plano:alarmThresholds`` key of a field: ``db_cpu_percent`` -> ``dbCpuPercent``."""
    first, *rest = field_name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


THRESHOLD_KEYS = {threshold_key(f.name): f.name for f in fields(Thresholds)}


def thresholds_from_config(profile: str, overrides: Mapping[str, Any]) -> Thresholds:
    """The profile's thresholds with ``plano:alarmThresholds`` applied, or a ConfigError."""
    base = PROFILE_THRESHOLDS.get(profile, Thresholds())
    changed: dict[str, float] = {}
    for name, value in overrides.items():
        where = f"plano:alarmThresholds.{name}"
        if name not in THRESHOLD_KEYS:
            raise ConfigError(
                where,
                "is not an alarm threshold",
                allowed=", ".join(THRESHOLD_KEYS),
                fix=f"pulumi config rm --path '{where}'",
            )
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        attribute = THRESHOLD_KEYS[name]
        upper = 100.0 if attribute.endswith("_percent") else 1e9
        if number is None or not math.isfinite(number) or not 0 < number <= upper:
            raise ConfigError(
                where,
                "must be a number above 0" + (" and at most 100 (a percentage)" if upper == 100.0 else ""),
                value=value,
                fix=f"pulumi config set --path '{where}' {getattr(base, attribute):g}",
            )
        changed[attribute] = float(number)
    return replace(base, **changed)


# --- Alarms -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric as an alarm or a widget reads it."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    statistic: str
    period_s: int = 60
    id: str = "m"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: either a single ``metrics[0]``, or ``expression`` over ``metrics``."""

    key: str  # short and stable: the resource name and the alarm name's suffix
    title: str
    metrics: tuple[Metric, ...]
    comparison: str  # GreaterThanOrEqualToThreshold, LessThanThreshold, ...
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str = "notBreaching"
    expression: str = ""
    unit_text: str = ""

    @property
    def runbook(self) -> tuple[str, str]:
        return RUNBOOK[self.key.split(":", 1)[0]]

    @property
    def description(self) -> str:
        meaning, action = self.runbook
        return f"{meaning} First action: {action} (docs/monitoring.md)"


# Alarm kind -> (what it means, the first thing to do). docs/monitoring.md shows this table.
RUNBOOK: dict[str, tuple[str, str]] = {
    "alb-5xx": (
        "The load balancer itself answers 5xx: no healthy target, or targets that reset or time out.",
        "Check the target groups' health and the service's events (`aws ecs describe-services`); "
        "a deployment that cannot become healthy is rolled back by the circuit breaker",
    ),
    "target-5xx": (
        "Plano answers 5xx: a model provider fails or refuses (keys, quotas), or Plano itself errs.",
        "Read the plano/ log streams for the failing upstream; check the provider's status and the "
        "provider keys (`provider_key_fill_commands`)",
    ),
    "unhealthy-targets": (
        "A task fails the load balancer's health check on a listener.",
        "Look at the task's containers in the ECS console (stopped reason, health status) and the "
        "plano/ and pgbouncer/ log streams",
    ),
    "no-healthy-targets": (
        "A listener has no healthy target at all: every request to it fails.",
        "Treat as an outage: check the service's running tasks and events; redeploy the last good "
        "task definition if a deployment broke it",
    ),
    "tasks-below-desired": (
        "Fewer tasks run than the service wants: tasks cannot start or keep failing.",
        "Read the service's events and the stopped tasks' reasons; init/ logs show a database or "
        "secret that cannot be reached",
    ),
    "crash-loop": (
        "Tasks keep stopping because an essential container exited or failed its health check.",
        "Read the stopped reason of the latest tasks; a failing state probe (pgbouncer's health check) "
        "means the sidecar lost Plano's database connection: look for query_wait_timeout or login "
        "failures in the pgbouncer/ log stream",
    ),
    "service-cpu": (
        "The tasks are busy; autoscaling (prod) adds tasks at 60%, so this means it is at its maximum.",
        "Raise plano:maxCount or plano:cpu, or look for a traffic spike",
    ),
    "service-memory": (
        "The tasks are close to their memory limit; a container over it is killed.",
        "Raise plano:memory; check for a growing number of in-flight streams",
    ),
    "db-cpu": (
        "The database is busy: large conversation histories, or the retention job.",
        "Look at Performance Insights (prod) for the top statements; consider a larger "
        "plano:dbInstanceClass or plano:dbMaxCapacityAcu",
    ),
    "db-free-storage": (
        "The RDS instance is running out of storage; storage autoscaling stops at plano:dbMaxAllocatedStorageGb.",
        "Lower plano:stateRetentionDays, or raise plano:dbMaxAllocatedStorageGb",
    ),
    "db-acu-max": (
        "Aurora Serverless v2 runs near its maximum capacity; queries slow down at the ceiling.",
        "Raise plano:dbMaxCapacityAcu",
    ),
    "db-connections": (
        "The database is close to max_connections; new tasks' sidecars and the init step may be refused.",
        "Check plano:maxCount against the sidecar's pool (12 server connections per task) and other "
        "clients of the database",
    ),
    "state-path": (
        "Plano could not read or write conversation state, or lost its database connection: "
        "requests go on without history, silently for the client.",
        "Read the matching lines (the dashboard's state-path log widget lists them); a lost connection "
        "gets the task replaced by its state probe; failed reads or writes on a live connection (table, "
        "rights, storage) need the database fixed, then `redeploy_command`",
    ),
}

# Approximate memory (GiB) of the RDS classes the cost model knows, for max_connections, which RDS
# sets to LEAST(DBInstanceClassMemory / 9531392, 5000); DBInstanceClassMemory is a little below
# the class's memory, so the estimate is an upper bound and the alarm's percentage a little late.
CLASS_MEMORY_GIB = {
    "db.t4g.micro": 1,
    "db.t4g.small": 2,
    "db.t4g.medium": 4,
    "db.t4g.large": 8,
    "db.t3.micro": 1,
    "db.t3.small": 2,
    "db.t3.medium": 4,
    "db.m7g.large": 8,
    "db.m7g.xlarge": 16,
    "db.m6g.large": 8,
    "db.m6i.large": 8,
    "db.r7g.large": 16,
}
_BYTES_PER_CONNECTION = 9_531_392
GIB_PER_ACU = 2


def max_connections(memory_gib: float) -> int:
    """RDS/Aurora PostgreSQL's default max_connections for an instance of this much memory."""
    return min(int(memory_gib * 2**30 / _BYTES_PER_CONNECTION), 5000)


@dataclass(frozen=True)
class MonitoredStack:
    """The names of what a stack's alarms watch (plain strings; components resolve outputs first)."""

    base: str  # Names.base: alarm names, namespace
    cluster: str
    service: str
    log_group: str
    db_engine: str  # rds | aurora-serverless
    db_identifier: str  # RDS instance identifier or Aurora cluster identifier
    db_instance_class: str = ""
    db_allocated_storage_gb: int = 0
    db_max_acu: float = 0
    load_balancer: str = ""  # ARN suffix (app/<name>/<id>); empty without a load balancer
    target_groups: Mapping[str, str] = field(default_factory=dict)  # listener -> ARN suffix
    container_insights: bool = True


def _alarm(key: str, title: str, metric: Metric, comparison: str, threshold: float, **kwargs: Any) -> AlarmSpec:
    return AlarmSpec(key, title, (metric,), comparison, threshold, **kwargs)


def _rate(key: str, title: str, errors: str, lb: str, thresholds: Thresholds, percent: float) -> AlarmSpec:
    dims = {"LoadBalancer": lb}
    namespace = "AWS/ApplicationELB"
    return AlarmSpec(
        key,
        title,
        (
            Metric(namespace, errors, dims, "Sum", 300, id="errors"),
            Metric(namespace, "RequestCount", dims, "Sum", 300, id="requests"),
        ),
        "GreaterThanOrEqualToThreshold",
        percent,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        # Few requests make a rate meaningless: one failure of two is not an incident.
        expression=(f"IF(FILL(requests, 0) >= {thresholds.min_requests:g}, 100 * FILL(errors, 0) / requests, 0)"),
        unit_text="% of requests over 5 minutes",
    )


_GE, _LT = "GreaterThanOrEqualToThreshold", "LessThanThreshold"


def alarm_specs(stack: MonitoredStack, thresholds: Thresholds) -> list[AlarmSpec]:
    """Every alarm of a stack, in runbook order."""
    t = thresholds
    return [
        *_load_balancer_alarms(stack, t),
        *_service_alarms(stack, t),
        *_database_alarms(stack, t),
        _alarm(
            "state-path",
            "State path errors",
            Metric(metric_namespace(stack.base), STATE_PATH_METRIC, {}, "Sum", 60),
            _GE,
            t.state_path_errors,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            unit_text="log lines in one minute",
        ),
    ]


def _load_balancer_alarms(stack: MonitoredStack, t: Thresholds) -> list[AlarmSpec]:
    """5xx rates of the balancer and of Plano, and each target group's health (none without a balancer)."""
    ge, lt = _GE, _LT
    specs: list[AlarmSpec] = []
    if not stack.load_balancer:
        return specs
    specs.append(
        _rate("alb-5xx", "Load balancer 5xx rate", "HTTPCode_ELB_5XX_Count", stack.load_balancer, t, t.alb_5xx_percent)
    )
    specs.append(
        _rate(
            "target-5xx",
            "Plano 5xx rate",
            "HTTPCode_Target_5XX_Count",
            stack.load_balancer,
            t,
            t.target_5xx_percent,
        )
    )
    for listener, target_group in sorted(stack.target_groups.items()):
        dims = {"TargetGroup": target_group, "LoadBalancer": stack.load_balancer}
        specs.append(
            _alarm(
                f"unhealthy-targets:{listener}",
                f"Unhealthy targets ({listener})",
                Metric("AWS/ApplicationELB", "UnHealthyHostCount", dims, "Maximum", 60),
                ge,
                t.unhealthy_targets,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                unit_text="targets for 3 minutes",
            )
        )
        specs.append(
            _alarm(
                f"no-healthy-targets:{listener}",
                f"No healthy target ({listener})",
                Metric("AWS/ApplicationELB", "HealthyHostCount", dims, "Minimum", 60),
                lt,
                1,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                # No data from a target group means nothing reports healthy.
                treat_missing_data="breaching",
                unit_text="healthy targets for 2 minutes",
            )
        )
    return specs


def _service_alarms(stack: MonitoredStack, t: Thresholds) -> list[AlarmSpec]:
    """Missing tasks (with Container Insights), crash loops, CPU and memory of the service."""
    ge = _GE
    specs: list[AlarmSpec] = []
    service_dims = {"ClusterName": stack.cluster, "ServiceName": stack.service}
    if stack.container_insights:
        specs.append(
            AlarmSpec(
                "tasks-below-desired",
                "Running tasks below desired",
                (
                    Metric("ECS/ContainerInsights", "RunningTaskCount", service_dims, "Minimum", 60, id="running"),
                    Metric("ECS/ContainerInsights", "DesiredTaskCount", service_dims, "Maximum", 60, id="desired"),
                ),
                ge,
                1,
                evaluation_periods=10,
                datapoints_to_alarm=10,
                expression="desired - running",
                unit_text="task(s) missing for 10 minutes",
            )
        )
    specs.append(
        _alarm(
            "crash-loop",
            "Tasks stopped by failures",
            Metric(metric_namespace(stack.base), STOPPED_TASKS_METRIC, {}, "Sum", 900),
            ge,
            t.stopped_tasks,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            unit_text="tasks in 15 minutes",
        )
    )
    specs.append(
        _alarm(
            "service-cpu",
            "Service CPU",
            Metric("AWS/ECS", "CPUUtilization", service_dims, "Average", 300),
            ge,
            t.service_cpu_percent,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            unit_text="% for 15 minutes",
        )
    )
    specs.append(
        _alarm(
            "service-memory",
            "Service memory",
            Metric("AWS/ECS", "MemoryUtilization", service_dims, "Average", 300),
            ge,
            t.service_memory_percent,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            unit_text="% for 15 minutes",
        )
    )
    return specs


def _database_alarms(stack: MonitoredStack, t: Thresholds) -> list[AlarmSpec]:
    """CPU, capacity (Aurora) or free storage (RDS), and connections near the limit."""
    ge, lt = _GE, _LT
    specs: list[AlarmSpec] = []
    aurora = stack.db_engine == "aurora-serverless"
    db_dims = {"DBClusterIdentifier": stack.db_identifier} if aurora else {"DBInstanceIdentifier": stack.db_identifier}
    specs.append(
        _alarm(
            "db-cpu",
            "Database CPU",
            Metric("AWS/RDS", "CPUUtilization", db_dims, "Average", 300),
            ge,
            t.db_cpu_percent,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            unit_text="% for 15 minutes",
        )
    )
    if aurora:
        specs.append(
            _alarm(
                "db-acu-max",
                "Aurora capacity near its maximum",
                Metric("AWS/RDS", "ACUUtilization", db_dims, "Average", 300),
                ge,
                t.db_acu_percent,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                unit_text="% of the maximum ACU for 15 minutes",
            )
        )
        memory_gib = stack.db_max_acu * GIB_PER_ACU
    else:
        free_bytes = stack.db_allocated_storage_gb * 1e9 * t.db_free_storage_percent / 100
        specs.append(
            _alarm(
                "db-free-storage",
                "Database free storage",
                Metric("AWS/RDS", "FreeStorageSpace", db_dims, "Minimum", 300),
                lt,
                round(free_bytes),
                evaluation_periods=1,
                datapoints_to_alarm=1,
                unit_text=f"bytes ({t.db_free_storage_percent:g}% of {stack.db_allocated_storage_gb} GB)",
            )
        )
        memory_gib = CLASS_MEMORY_GIB.get(stack.db_instance_class, 0)
    if memory_gib:
        specs.append(_connections_alarm(db_dims, memory_gib, t))
    return specs


def _connections_alarm(db_dims: Mapping[str, str], memory_gib: float, t: Thresholds) -> AlarmSpec:
    """Connections near max_connections, which PostgreSQL on RDS derives from the memory."""
    limit = max_connections(memory_gib)
    return _alarm(
        "db-connections",
        "Database connections near the limit",
        Metric("AWS/RDS", "DatabaseConnections", db_dims, "Maximum", 300),
        _GE,
        math.floor(limit * t.db_connections_percent / 100),
        evaluation_periods=2,
        datapoints_to_alarm=2,
        unit_text=f"connections ({t.db_connections_percent:g}% of about {limit})",
    )


def connection_alarm_gap(engine: str, instance_class: str) -> str | None:
    """A warning when the connections alarm cannot be set (an RDS class whose memory is unknown)."""
    if engine == "aurora-serverless" or instance_class in CLASS_MEMORY_GIB:
        return None
    return (
        f"plano:alarms: no database-connections alarm for {instance_class}: its memory (and so "
        f"max_connections) is not in the project's table ({', '.join(sorted(CLASS_MEMORY_GIB))})"
    )


# --- Log patterns -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogPattern:
    """A CloudWatch Logs metric filter: which lines of which container count as a state-path error."""

    key: str
    container: str
    pattern: str
    means: str


# brightstaff (crates/brightstaff, Plano 0.4.36) logs through tracing-subscriber as
# `[<time>][warn] <message> <field>=<value> ...`; supervisord prefixes `[brightstaff] `.
# PgBouncer logs `<time> UTC [<pid>] WARNING C-0x...: <db>/<user>@<addr> <message>`.
STATE_PATH_PATTERNS: tuple[LogPattern, ...] = (
    LogPattern(
        "plano-state",
        "plano",
        '?"Failed to store conversation state" ?"failed to retrieve conversation state" '
        '?"Database connection error" ?"Failed to connect to database"',
        "a state write failed (state/response_state_processor.rs), a read of earlier turns failed and the "
        "request went on without history (handlers/llm/mod.rs), Plano's one database connection ended, or "
        "it could not connect at start (state/postgresql.rs)",
    ),
    LogPattern(
        "pgbouncer-state",
        "pgbouncer",
        '?"pooler error: query_wait_timeout" ?"login failed" ?"password authentication failed"',
        "the sidecar gave up a query that waited longer than query_wait_timeout and closed the client's "
        "connection (Plano's state is gone until the task restarts), or a login failed between Plano, "
        "the sidecar and the database (a password out of step)",
    ),
)

_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')


def _terms(pattern: str) -> list[tuple[str, str]]:
    terms: list[tuple[str, str]] = []
    position = 0
    text = pattern.strip()
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None:
            raise ValueError(f"not a term-based filter pattern: {pattern!r}")
        prefix, quoted, bare = match.groups()
        if bare is not None and (bare.startswith(("{", "[", "%")) or bare in ("?", "-")):
            raise ValueError(f"only term-based patterns are supported here: {pattern!r}")
        term = quoted.replace('\\"', '"') if quoted is not None else bare
        terms.append((prefix, term))
        position = match.end()
    return terms


def filter_matches(pattern: str, line: str) -> bool:
    """Whether CloudWatch Logs' term-based ``pattern`` matches an unstructured ``line``.

    CloudWatch's rules for terms: case-sensitive substrings; terms without a prefix must all
    match; ``?term`` terms match if any does; ``-term`` excludes. Only this subset is supported
    (JSON, space-delimited and regular-expression patterns raise ValueError).
    """
    terms = _terms(pattern)
    required = [t for p, t in terms if p == ""]
    optional = [t for p, t in terms if p == "?"]
    excluded = [t for p, t in terms if p == "-"]
    if any(t in line for t in excluded):
        return False
    if not all(t in line for t in required):
        return False
    return not optional or any(t in line for t in optional)


# --- Dashboard ----------------------------------------------------------------------------------


def _widget(
    title: str, metrics: list[list[Any]], region: str, *, stat: str, period: int = 60, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": period,
            "view": "timeSeries",
            "metrics": metrics,
            **extra,
        },
    }


def _metric_row(namespace: str, name: str, dimensions: Mapping[str, str], **options: Any) -> list[Any]:
    row: list[Any] = [namespace, name]
    for key, value in dimensions.items():
        row += [key, value]
    if options:
        row.append(dict(options))
    return row


def dashboard_body(
    stack: MonitoredStack,
    region: str,
    *,
    collector_namespace: str = "",
    state_patterns: Sequence[LogPattern] = STATE_PATH_PATTERNS,
) -> dict[str, Any]:
    """The stack's dashboard: requests, errors and latency per listener, state-path errors,
    tasks, database load; Plano's own metrics when the collector runs."""
    widgets = [
        *_load_balancer_widgets(stack, region),
        _widget(
            "State-path errors (log lines)",
            [_metric_row(metric_namespace(stack.base), STATE_PATH_METRIC, {}, label="state path")],
            region,
            stat="Sum",
        ),
        *_service_widgets(stack, region),
        _database_widget(stack, region),
        *(_collector_widgets(stack, region, collector_namespace) if collector_namespace else []),
        _state_path_log_widget(stack, region, state_patterns),
    ]
    # Lay the widgets out two per row.
    x = y = 0
    for widget in widgets:
        if x + widget["width"] > 24:
            x, y = 0, y + 6
        widget["x"], widget["y"] = x, y
        x += widget["width"]
    return {"widgets": widgets}


def _load_balancer_widgets(stack: MonitoredStack, region: str) -> list[dict[str, Any]]:
    """Requests, 5xx errors and latency per listener (none without a load balancer)."""
    widgets: list[dict[str, Any]] = []
    lb = stack.load_balancer
    if not lb:
        return widgets
    per_listener = sorted(stack.target_groups.items())
    widgets.append(
        _widget(
            "Requests per listener",
            [
                _metric_row("AWS/ApplicationELB", "RequestCount", {"TargetGroup": tg, "LoadBalancer": lb}, label=name)
                for name, tg in per_listener
            ],
            region,
            stat="Sum",
        )
    )
    widgets.append(
        _widget(
            "Errors (5xx)",
            [
                _metric_row(
                    "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", {"LoadBalancer": lb}, label="load balancer"
                ),
                _metric_row("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", {"LoadBalancer": lb}, label="Plano"),
            ],
            region,
            stat="Sum",
        )
    )
    widgets.append(
        _widget(
            "Latency per listener (p50, p99)",
            [
                _metric_row(
                    "AWS/ApplicationELB",
                    "TargetResponseTime",
                    {"TargetGroup": tg, "LoadBalancer": lb},
                    stat=stat,
                    label=f"{name} {stat}",
                )
                for name, tg in per_listener
                for stat in ("p50", "p99")
            ],
            region,
            stat="p99",
        )
    )
    return widgets


def _service_widgets(stack: MonitoredStack, region: str) -> list[dict[str, Any]]:
    """Tasks (running, desired, stopped by failure), and the service's CPU and memory."""
    widgets: list[dict[str, Any]] = []
    service_dims = {"ClusterName": stack.cluster, "ServiceName": stack.service}
    task_metrics = [_metric_row(metric_namespace(stack.base), STOPPED_TASKS_METRIC, {}, label="stopped by failure")]
    if stack.container_insights:
        task_metrics = [
            _metric_row("ECS/ContainerInsights", "RunningTaskCount", service_dims, label="running"),
            _metric_row("ECS/ContainerInsights", "DesiredTaskCount", service_dims, label="desired"),
            *task_metrics,
        ]
    widgets.append(_widget("Tasks", task_metrics, region, stat="Maximum"))
    widgets.append(
        _widget(
            "Service CPU and memory (%)",
            [
                _metric_row("AWS/ECS", "CPUUtilization", service_dims, label="CPU"),
                _metric_row("AWS/ECS", "MemoryUtilization", service_dims, label="memory"),
            ],
            region,
            stat="Average",
            period=300,
        )
    )
    return widgets


def _database_widget(stack: MonitoredStack, region: str) -> dict[str, Any]:
    """CPU, connections and (Aurora) capacity of the database."""
    aurora = stack.db_engine == "aurora-serverless"
    db_dims = {"DBClusterIdentifier": stack.db_identifier} if aurora else {"DBInstanceIdentifier": stack.db_identifier}
    db_metrics = [
        _metric_row("AWS/RDS", "CPUUtilization", db_dims, label="CPU %"),
        _metric_row("AWS/RDS", "DatabaseConnections", db_dims, label="connections", yAxis="right"),
    ]
    if aurora:
        db_metrics.append(_metric_row("AWS/RDS", "ServerlessDatabaseCapacity", db_dims, label="ACU", yAxis="right"))
    return _widget("Database load", db_metrics, region, stat="Average", period=300)


def _collector_widgets(stack: MonitoredStack, region: str, collector_namespace: str) -> list[dict[str, Any]]:
    """Plano's own metrics, from the collector: upstream requests, tokens, time to first token."""
    widgets: list[dict[str, Any]] = []
    dims = {"ClusterName": stack.cluster, "ServiceName": stack.service}
    widgets.append(
        _widget(
            "Plano: LLM upstream requests and tokens",
            [
                [
                    {
                        "expression": f"SEARCH('{{{collector_namespace},ClusterName,ServiceName,error_class}} "
                        "MetricName=\"brightstaff_llm_upstream_requests_total\"', 'Sum', 60)",
                        "label": "upstream",
                        "id": "u",
                    }
                ],
                [
                    {
                        "expression": f"SEARCH('{{{collector_namespace},ClusterName,ServiceName,kind}} "
                        "MetricName=\"brightstaff_llm_tokens_total\"', 'Sum', 60)",
                        "label": "tokens",
                        "id": "t",
                    }
                ],
            ],
            region,
            stat="Sum",
        )
    )
    widgets.append(
        _widget(
            "Plano: time to first token (s)",
            [_metric_row(collector_namespace, "brightstaff_llm_time_to_first_token_seconds", dims, label="average")],
            region,
            stat="Average",
        )
    )
    return widgets


def _state_path_log_widget(stack: MonitoredStack, region: str, state_patterns: Sequence[LogPattern]) -> dict[str, Any]:
    """The state-path log lines themselves, as a Logs Insights table."""
    return {
        "type": "log",
        "width": 24,
        "height": 6,
        "properties": {
            "title": "State-path log lines",
            "region": region,
            "view": "table",
            "query": state_path_query(stack.log_group, state_patterns),
        },
    }


def state_path_query(log_group: str, patterns: Sequence[LogPattern] = STATE_PATH_PATTERNS) -> str:
    """A Logs Insights query for the lines the state-path filters count."""
    phrases = [term for p in patterns for _, term in _terms(p.pattern)]
    condition = " or ".join(f"@message like {_insights_literal(phrase)}" for phrase in phrases)
    return (
        f"SOURCE '{log_group}' | fields @timestamp, @logStream, @message | filter {condition} "
        "| sort @timestamp desc | limit 50"
    )


def _insights_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dashboard_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


def runbook_markdown() -> str:
    """docs/monitoring.md's runbook table (a test keeps the file equal to it)."""
    lines = ["| alarm | what it means | first action |", "|---|---|---|"]
    for key, (meaning, action) in RUNBOOK.items():
        lines.append(f"| `{key}` | {meaning} | {action}. |")
    return "\n".join(lines) + "\n"


# --- Crash loops --------------------------------------------------------------------------------

# ECS's stop codes for a task that ended by itself: an essential container exited (Plano's
# supervisord stops when brightstaff or Envoy dies) or the task never started; and the reasons
# ECS gives when it replaces a task that failed a health check (the sidecar's state probe, or the
# load balancer's). Deployments, scale-in and schedules (UserInitiated, ServiceSchedulerInitiated
# without a failure, SpotInterruption) are not failures of the task.
FAILURE_STOP_CODES = ("EssentialContainerExited", "TaskFailedToStart")
FAILURE_REASON_PREFIX = "Task failed"  # "Task failed container health checks", "Task failed ELB health checks"


def stopped_task_event_pattern(cluster: str, service: str) -> dict[str, Any]:
    """EventBridge pattern for the service's tasks that stopped because of a failure."""
    return {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [{"suffix": f":cluster/{cluster}"}],
            "group": [f"service:{service}"],
            "lastStatus": ["STOPPED"],
            "$or": [
                {"stopCode": list(FAILURE_STOP_CODES)},
                {"stoppedReason": [{"prefix": FAILURE_REASON_PREFIX}]},
            ],
        },
    }


def stopped_task_filter_pattern() -> str:
    """The metric filter on the stopped-task events' log group: one per event (the rule already chose)."""
    return '{ $.detail.lastStatus = "STOPPED" }'
