"""Production you can watch (issue 20): alarms with a destination, the state path as a metric, the
dashboard, the collector sidecar, the state probe, and no password in the logs by configuration.

Runs the whole program under mocks (prod: everything; dev: nothing unless configured) and the pure
functions of ``core/monitoring.py`` and ``core/collector.py``. Real PgBouncer log lines and the
probe on real servers: ``tests/integration/test_monitoring_servers.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from plano_pulumi.aws.containers import TaskInputs, container_definitions
from plano_pulumi.core.collector import (
    COLLECTOR_MEMORY_MIB,
    COLLECTOR_PORTS,
    METRICS,
    TRACING_ENDPOINT,
    collector_config,
    collector_config_yaml,
    max_series,
    scrape_targets,
)
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.monitoring import (
    RUNBOOK,
    STATE_PATH_PATTERNS,
    THRESHOLD_KEYS,
    MonitoredStack,
    Thresholds,
    dashboard_body,
    filter_matches,
    runbook_markdown,
    threshold_key,
    thresholds_from_config,
)
from plano_pulumi.core.plano_config import RESERVED_PORTS
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_env import (
    STATE_PROBE_INTERVAL_S,
    STATE_PROBE_RETRIES,
    STATE_PROBE_TIMEOUT_S,
    state_probe_health_check,
)
from plano_tools.plan import plan_document
from plano_tools.simulate import Run

from tests.collector_schema import ADOT_COMPONENTS, validate_collector_config
from tests.conftest import PROJECT, containers, env_of, plain, run_with, stack_run

TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
RULE = "aws:cloudwatch/eventRule:EventRule"
LOG_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
MONITORING_TYPES = (TOPIC, SUBSCRIPTION, ALARM, FILTER, DASHBOARD, RULE, LOG_POLICY)
DOCS = (PROJECT / "docs" / "monitoring.md").read_text()


def alarms(run: Run) -> dict[str, dict[str, Any]]:
    return {a.name: plain(a.inputs) for a in run.of_type(ALARM)}


def query_metrics(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["id"]: q["metric"] for q in alarm.get("metricQueries", []) if q.get("metric")}


# --- prod has everything, dev nothing ------------------------------------------------------------


def test_prod_has_the_topic_and_every_alarm_with_its_metric_namespace_dimensions_and_threshold() -> None:
    prod = stack_run("prod")
    assert len(prod.of_type(TOPIC)) == 1
    found = alarms(prod)
    listener = "llm_gateway"  # the shipped plano_config.yaml's one listener
    # name -> (namespace, metric, dimension names, statistic, comparison, threshold)
    single = {
        f"unhealthy-targets-{listener}": (
            "AWS/ApplicationELB",
            "UnHealthyHostCount",
            {"TargetGroup", "LoadBalancer"},
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            1,
        ),
        f"no-healthy-targets-{listener}": (
            "AWS/ApplicationELB",
            "HealthyHostCount",
            {"TargetGroup", "LoadBalancer"},
            "Minimum",
            "LessThanThreshold",
            1,
        ),
        "crash-loop": ("Plano/plano-prod", "TasksStoppedByFailure", set(), "Sum", "GreaterThanOrEqualToThreshold", 3),
        "service-cpu": (
            "AWS/ECS",
            "CPUUtilization",
            {"ClusterName", "ServiceName"},
            "Average",
            "GreaterThanOrEqualToThreshold",
            80,
        ),
        "service-memory": (
            "AWS/ECS",
            "MemoryUtilization",
            {"ClusterName", "ServiceName"},
            "Average",
            "GreaterThanOrEqualToThreshold",
            85,
        ),
        "db-cpu": (
            "AWS/RDS",
            "CPUUtilization",
            {"DBInstanceIdentifier"},
            "Average",
            "GreaterThanOrEqualToThreshold",
            80,
        ),
        "db-free-storage": (
            "AWS/RDS",
            "FreeStorageSpace",
            {"DBInstanceIdentifier"},
            "Minimum",
            "LessThanThreshold",
            10e9,  # 10% of prod's 100 GB
        ),
        "db-connections": (
            "AWS/RDS",
            "DatabaseConnections",
            {"DBInstanceIdentifier"},
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            720,  # 80% of db.m7g.large's 901
        ),
        "state-path": ("Plano/plano-prod", "StatePathErrors", set(), "Sum", "GreaterThanOrEqualToThreshold", 1),
    }
    for name, (namespace, metric, dims, stat, comparison, threshold) in single.items():
        alarm = found[name]
        assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (namespace, metric, stat), name
        assert set(alarm.get("dimensions") or {}) == dims, name
        assert alarm["comparisonOperator"] == comparison and alarm["threshold"] == threshold, name
        assert alarm["alarmActions"] == alarm["okActions"] == [prod.outputs["alarm_topic_arn"]], name
    assert found["db-cpu"]["dimensions"] == {"DBInstanceIdentifier": "plano-prod"}
    assert found["service-cpu"]["dimensions"] == {"ClusterName": "plano-prod", "ServiceName": "plano-prod"}
    lb = found[f"unhealthy-targets-{listener}"]["dimensions"]
    assert lb["LoadBalancer"].startswith("app/") and lb["TargetGroup"].startswith("targetgroup/")
    # The rates: metric math over the load balancer's 5xx and request counts.
    for name, errors in (("alb-5xx", "HTTPCode_ELB_5XX_Count"), ("target-5xx", "HTTPCode_Target_5XX_Count")):
        metrics = query_metrics(found[name])
        assert metrics["errors"]["metricName"] == errors and metrics["requests"]["metricName"] == "RequestCount"
        assert {m["namespace"] for m in metrics.values()} == {"AWS/ApplicationELB"}
        assert all(set(m["dimensions"]) == {"LoadBalancer"} for m in metrics.values())
        assert found[name]["threshold"] == 5
        expression = next(q["expression"] for q in found[name]["metricQueries"] if q.get("expression"))
        assert "100 * FILL(errors, 0) / requests" in expression and ">= 20" in expression
    below = query_metrics(found["tasks-below-desired"])
    assert {m["metricName"] for m in below.values()} == {"RunningTaskCount", "DesiredTaskCount"}
    assert {m["namespace"] for m in below.values()} == {"ECS/ContainerInsights"}
    assert set(found) == {*single, "alb-5xx", "target-5xx", "tasks-below-desired"}
    assert prod.outputs["dashboard_url"].endswith("#dashboards/dashboard/plano-prod-plano")


def test_every_alarm_description_names_its_meaning_and_first_action() -> None:
    for alarm in alarms(stack_run("prod")).values():
        kind = next(key for key in RUNBOOK if alarm["name"].removeprefix("plano-prod-").startswith(key))
        meaning, action = RUNBOOK[kind]
        assert alarm["alarmDescription"].startswith(meaning) and action in alarm["alarmDescription"]


def test_dev_has_no_alarm_topic_filter_dashboard_or_collector_by_default() -> None:
    dev = stack_run("dev")
    for type_ in MONITORING_TYPES:
        assert dev.of_type(type_) == [], type_
    assert "collector" not in containers(dev)
    assert "dashboard_url" not in dev.outputs
    assert [g.inputs["name"] for g in dev.of_type(LOG_GROUP)] == ["/ecs/plano-dev"]  # no metrics or events group
    # Plano's roles, and the janitor of the review databases dev carries: none for monitoring.
    assert sorted(p.name for p in dev.of_type(ROLE_POLICY)) == [
        "execution-policy",
        "janitor-execution-policy",
        "task-exec-policy",
    ]


def test_dev_gets_them_when_configured_with_its_own_thresholds() -> None:
    dev = run_with(
        "dev",
        values={"alarms": "on", "alarmEmails": ["oncall@plano.dev"], "alarmThresholds": {"dbCpuPercent": 70}},
    )
    assert dev.error is None, dev.error
    found = alarms(dev)
    assert found["db-cpu"]["threshold"] == 70
    assert found["service-cpu"]["threshold"] == 90  # dev's default (prod: 80)
    # dev runs Aurora: capacity near the maximum, no free-storage alarm; connections from the max ACU.
    assert found["db-acu-max"]["metricName"] == "ACUUtilization"
    assert found["db-acu-max"]["dimensions"] == {"DBClusterIdentifier": "plano-dev"}
    assert "db-free-storage" not in found
    assert found["db-connections"]["threshold"] == 360  # 80% of 450: 2 ACU = 4 GiB / 9,531,392 bytes
    subscription = plain(dev.one(SUBSCRIPTION).inputs)
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "oncall@plano.dev")
    # No load balancer and no Container Insights in dev: those alarms are left out, not broken.
    assert not any(name.startswith(("alb-", "target-", "unhealthy", "no-healthy", "tasks-below")) for name in found)


def test_an_existing_topic_is_notified_instead_of_a_new_one() -> None:
    arn = "arn:aws:sns:us-east-1:123456789012:pagerduty"
    run = run_with("prod", values={"alarmTopicArn": arn}, remove=["alarmEmails"])
    assert run.error is None, run.error
    assert run.of_type(TOPIC) == [] and run.of_type(SUBSCRIPTION) == []
    assert all(a["alarmActions"] == [arn] for a in alarms(run).values())
    assert run.outputs["alarm_topic_arn"] == arn


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"alarmThresholds": {"dbCpu": 70}}, "plano:alarmThresholds.dbCpu"),
        ({"alarmThresholds": {"dbCpuPercent": 170}}, "plano:alarmThresholds.dbCpuPercent"),
        ({"alarmThresholds": {"stoppedTasks": -1}}, "plano:alarmThresholds.stoppedTasks"),
        ({"alarmThresholds": {"stoppedTasks": "many"}}, "plano:alarmThresholds.stoppedTasks"),
        ({"alarmEmails": ["not an address"]}, "plano:alarmEmails[0]"),
        ({"alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:oncall"}, "plano:alarmTopicArn"),
        ({"alarmTopicArn": "oncall"}, "plano:alarmTopicArn"),
        ({"alarmTopicArn": "arn:aws:sns:us-east-1:123456789012:oncall"}, "plano:alarmEmails"),  # prod has both
        ({"alarms": "maybe"}, "plano:alarms"),
        ({"tracing": "true", "metricsCollector": "off"}, "plano:tracing"),
        ({"memory": "512", "cpu": "256"}, "plano:memory"),
    ],
)
def test_bad_monitoring_settings_stop_with_one_clear_message(values: dict[str, Any], where: str) -> None:
    run = run_with("prod", values=values)
    assert isinstance(run.error, ConfigError), run.error
    assert str(run.error).startswith(where) and "Fix:" in str(run.error)
    assert run.resources == []


def test_alarm_settings_without_alarms_are_refused_in_dev() -> None:
    run = run_with("dev", values={"alarmEmails": ["oncall@plano.dev"]})
    assert isinstance(run.error, ConfigError) and "plano:alarms is off" in str(run.error)


def test_the_local_stack_documents_its_absence_of_monitoring() -> None:
    run = run_with("local", values={"alarms": "on"})
    assert isinstance(run.error, ConfigError) and "local stack runs on Docker" in str(run.error)
    assert "## The local stack" in DOCS


def test_thresholds_are_every_field_and_default_per_profile() -> None:
    assert set(THRESHOLD_KEYS.values()) == set(Thresholds.__dataclass_fields__)
    assert threshold_key("db_cpu_percent") == "dbCpuPercent"
    assert thresholds_from_config("prod", {}).service_cpu_percent == 80
    assert thresholds_from_config("dev", {}).service_cpu_percent == 90
    assert thresholds_from_config("prod", {"serviceCpuPercent": "65"}).service_cpu_percent == 65
    with pytest.raises(ConfigError):
        thresholds_from_config("prod", {"serviceCpuPercent": float("nan")})


def test_the_docs_list_every_threshold_and_the_runbook_table() -> None:
    assert runbook_markdown() in DOCS
    for key in THRESHOLD_KEYS:
        assert f"`{key}`" in DOCS, key


# --- the state path as a metric ------------------------------------------------------------------

# brightstaff's lines as its tracing formatter writes them (crates/brightstaff/src/tracing/init.rs:
# `[<time>][<level>] <message> <field>=<value>...`, supervisord prefixing `[brightstaff] `), with the
# messages and fields of Plano 0.4.36's source.
_T = "[brightstaff] [2026-12-07 16:43:05.126][warn]"
PLANO_LINES = {
    # state/response_state_processor.rs: the fire-and-forget write failed.
    f"{_T} request_id=r1 Failed to store conversation state request_id=r1 response_id=resp_1 error=Storage "
    "error: Failed to store conversation state for resp_1: db error: FATAL: query_wait_timeout": True,
    # handlers/llm/mod.rs: reading earlier turns failed; the request goes on without history.
    f"{_T} request_id=r2 failed to retrieve conversation state previous_response_id=resp_0 error=Storage error: "
    "Failed to fetch conversation state for resp_0: connection closed": True,
    # state/postgresql.rs: the one connection's background task ended.
    f"{_T} Database connection error: connection closed": True,
    # state/postgresql.rs at start: no database.
    "[brightstaff] Error: Storage error: Failed to connect to database: error connecting to server": True,
    # Normal operation and a client's own mistake (an unknown id answers 409): no alarm.
    "[brightstaff] [2026-12-07 16:43:05.126][info] request_id=r3 Stored conversation state request_id=r3 "
    "response_id=resp_3 items=4": False,
    f"{_T} request_id=r4 previous response_id not found previous_response_id=resp_x": False,
    "[brightstaff] [2026-12-07 16:43:05.126][info] Conversation state storage table verified": False,
    "[plano_logs] [2026-12-07 16:43:05.126][info] all clusters initialized": False,
}


def _pattern(container: str) -> str:
    return next(p.pattern for p in STATE_PATH_PATTERNS if p.container == container)


@pytest.mark.parametrize(("line", "expected"), PLANO_LINES.items())
def test_plano_state_path_lines_match_and_normal_lines_do_not(line: str, expected: bool) -> None:
    assert filter_matches(_pattern("plano"), line) is expected


def test_prod_has_the_state_path_filters_on_the_service_log_group() -> None:
    prod = stack_run("prod")
    filters = {f.name: plain(f.inputs) for f in prod.of_type(FILTER)}
    for pattern in STATE_PATH_PATTERNS:
        found = filters[f"state-path-{pattern.container}"]
        assert found["pattern"] == pattern.pattern
        assert found["logGroupName"] == "/ecs/plano-prod"
        assert found["metricTransformation"] == {
            "name": "StatePathErrors",
            "namespace": "Plano/plano-prod",
            "value": "1",
            "unit": "Count",
        }
    stopped = filters["stopped-by-failure"]
    assert stopped["logGroupName"] == "/aws/events/plano-prod/stopped-tasks"
    pattern = json.loads(prod.one(RULE).inputs["eventPattern"])
    assert pattern["detail"]["group"] == ["service:plano-prod"] and pattern["detail"]["lastStatus"] == ["STOPPED"]
    assert {"stopCode": ["EssentialContainerExited", "TaskFailedToStart"]} in pattern["detail"]["$or"]


def test_the_filter_evaluator_follows_cloudwatch_term_rules() -> None:
    assert filter_matches('"a b" c', "x a b y c")
    assert not filter_matches('"a b" c', "x a b y")
    assert filter_matches("?ERROR ?WARN", "WARN here") and not filter_matches("?ERROR ?WARN", "error")  # case matters
    assert not filter_matches("ERROR -timeout", "ERROR timeout")
    with pytest.raises(ValueError):
        filter_matches('{ $.level = "x" }', "{}")


# --- the dashboard -------------------------------------------------------------------------------


def test_the_dashboard_shows_requests_errors_latency_state_tasks_and_database() -> None:
    body = json.loads(plain(stack_run("prod").one(DASHBOARD).inputs["dashboardBody"]))
    titles = [w["properties"]["title"] for w in body["widgets"]]
    for wanted in ("Requests per listener", "Errors (5xx)", "Latency per listener", "State-path", "Tasks", "Database"):
        assert any(t.startswith(wanted) for t in titles), (wanted, titles)
    text = json.dumps(body)
    assert "<load balancer>" not in text and "<target group" not in text  # placeholders resolved
    assert "app/" in text and "targetgroup/" in text
    assert "brightstaff_llm_time_to_first_token_seconds" in text  # the collector's metrics (prod)
    log_widget = next(w for w in body["widgets"] if w["type"] == "log")
    assert log_widget["properties"]["query"].startswith("SOURCE '/ecs/plano-prod'")


def test_dashboard_widgets_do_not_overlap() -> None:
    stack = MonitoredStack(
        base="b", cluster="c", service="s", log_group="/l", db_engine="rds", db_identifier="d",
        load_balancer="app/x/1", target_groups={"a": "targetgroup/a/1", "b": "targetgroup/b/2"},
    )  # fmt: skip
    cells: set[tuple[int, int]] = set()
    for widget in dashboard_body(stack, "us-east-1")["widgets"]:
        mine = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + 6)
        }
        assert not mine & cells
        cells |= mine


# --- the collector -------------------------------------------------------------------------------


def collector_of(run: Run) -> dict[str, Any]:
    return containers(run)["collector"]


def test_prod_runs_the_collector_sidecar_with_its_config() -> None:
    prod = stack_run("prod")
    collector = collector_of(prod)
    assert collector["image"].startswith("public.ecr.aws/aws-observability/aws-otel-collector:")
    assert collector["essential"] is False and collector["restartPolicy"]["enabled"] is True
    assert "portMappings" not in collector
    assert collector["memory"] == COLLECTOR_MEMORY_MIB
    assert collector["healthCheck"]["command"] == ["CMD", "/healthcheck"]
    config = yaml.safe_load(env_of(collector)["AOT_CONFIG_CONTENT"])
    assert config == collector_config(
        region="us-east-1",
        namespace="Plano/plano-prod",
        log_group="/ecs/plano-prod/metrics",
        cluster="plano-prod",
        service="plano-prod",
        tracing=False,
    )
    # brightstaff serves its metrics on loopback only, where the collector scrapes them.
    assert env_of(containers(prod)["plano"])["METRICS_BIND_ADDRESS"] == "127.0.0.1:9092"
    policy = json.loads(plain(prod.one(ROLE_POLICY, "task-collector-policy").inputs["policy"]))
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}
    assert all("/ecs/plano-prod/metrics" in r for s in policy["Statement"] for r in s["Resource"])


@pytest.mark.parametrize("tracing", [False, True])
def test_the_collector_config_passes_the_collectors_schema(tracing: bool) -> None:
    config = collector_config(
        region="us-east-1", namespace="Plano/x", log_group="/ecs/x/metrics", cluster="x", service="x", tracing=tracing
    )
    assert validate_collector_config(config) == []


def test_the_schema_check_catches_what_the_collector_would_refuse() -> None:
    config = collector_config(region="r", namespace="n", log_group="l", cluster="c", service="s", tracing=True)
    config["exporters"]["awsemf"]["log_group"] = "typo"
    config["processors"]["groupbyattrs"] = {}
    config["service"]["pipelines"]["metrics"]["exporters"].append("prometheus")
    problems = validate_collector_config(config)
    assert any("awsemf: unknown key log_group" in p for p in problems)
    assert any("groupbyattrs" in p and "not in the ADOT collector" in p for p in problems)
    assert any("prometheus" in p and "not defined" in p for p in problems)
    assert "awsemf" in ADOT_COMPONENTS["exporters"]


def test_the_collector_scrapes_and_listens_on_loopback_only() -> None:
    config = collector_config(region="r", namespace="n", log_group="l", cluster="c", service="s", tracing=True)
    targets = scrape_targets(config)
    assert set(targets) >= {"127.0.0.1:9092", "127.0.0.1:9901", "127.0.0.1:4317", "127.0.0.1:13133"}
    assert all(t.startswith("127.0.0.1:") for t in targets)
    jobs = {j["job_name"]: j for j in config["receivers"]["prometheus"]["config"]["scrape_configs"]}
    assert jobs["envoy"]["metrics_path"] == "/stats/prometheus" and jobs["brightstaff"]["metrics_path"] == "/metrics"
    assert config["service"]["telemetry"]["metrics"]["level"] == "none"  # no :8888
    assert {int(t.rsplit(":", 1)[1]) for t in targets} - {9092, 9901} <= set(COLLECTOR_PORTS)
    assert set(COLLECTOR_PORTS) <= set(RESERVED_PORTS)  # no listener may take one


def test_the_collector_keeps_a_bounded_named_set_of_metrics() -> None:
    config = collector_config(region="r", namespace="n", log_group="l", cluster="c", service="s", tracing=False)
    declarations = config["exporters"]["awsemf"]["metric_declarations"]
    assert [d["metric_name_selectors"] for d in declarations] == [[f"^{m.name}"] for m in METRICS]
    assert config["exporters"]["awsemf"]["dimension_rollup_option"] == "NoDimensionRollup"
    keep = [
        r["regex"]
        for j in config["receivers"]["prometheus"]["config"]["scrape_configs"]
        for r in j["metric_relabel_configs"]
    ]
    kept = {name for regex in keep for name in METRICS_NAMES if re.fullmatch(regex, name)}
    assert kept == METRICS_NAMES
    assert not any(re.fullmatch(r, "brightstaff_router_decisions_total") for r in keep)
    assert not any(re.fullmatch(r, "envoy_cluster_upstream_cx_total") for r in keep)
    # No per-task dimension: series do not multiply with tasks.
    assert all("TaskId" not in str(d["dimensions"]) for d in declarations)
    assert max_series(1) == 49 and max_series(3) == 49 + 2 * 6
    for metric in METRICS:
        assert f"`{metric.name}`" in DOCS, metric.name


METRICS_NAMES = {m.name for m in METRICS}


def test_the_collector_config_holds_nothing_the_collector_would_expand() -> None:
    text = collector_config_yaml(region="r", namespace="n", log_group="l", cluster="c", service="s", tracing=True)
    assert "$" not in text


def test_tracing_sends_plano_traces_to_the_sidecar_and_on_to_xray() -> None:
    run = run_with("prod", values={"tracing": "true"})
    assert run.error is None, run.error
    plano_config = yaml.safe_load(run.outputs["rendered_plano_config"])
    assert plano_config["tracing"]["opentracing_grpc_endpoint"] == TRACING_ENDPOINT == "http://127.0.0.1:4317"
    assert plano_config["tracing"]["random_sampling"] == 100
    config = yaml.safe_load(env_of(collector_of(run))["AOT_CONFIG_CONTENT"])
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["awsxray"]
    policy = json.loads(plain(run.one(ROLE_POLICY, "task-collector-policy").inputs["policy"]))
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= {
        a for s in policy["Statement"] for a in s["Action"]
    }
    cost = plan_document(run)["cost"]
    assert any(i["what"].startswith("X-Ray traces") for i in cost["items"])


def test_a_config_tracing_to_nowhere_on_fargate_is_pointed_out(tmp_path: Path) -> None:
    config = yaml.safe_load((PROJECT / "plano_config.yaml").read_text())
    config["tracing"] = {"random_sampling": 10}
    path = tmp_path / "plano.yaml"
    path.write_text(yaml.safe_dump(config))
    run = run_with("dev", values={"configFile": str(path)})
    assert run.error is None, run.error
    assert any("host.docker.internal:4317" in w for w in run.warnings)


# --- cost ----------------------------------------------------------------------------------------


def test_make_plan_prices_alarms_metrics_and_the_dashboard_in_prod_and_none_in_dev() -> None:
    prod = plan_document(stack_run("prod"))["cost"]
    whats = [i["what"] for i in prod["items"]]
    assert sum(w.startswith("CloudWatch alarm ") for w in whats) == len(stack_run("prod").of_type(ALARM))
    assert "CloudWatch dashboard plano-prod-plano" in whats
    assert "CloudWatch custom metric Plano/plano-prod StatePathErrors" in whats
    collector = next(i for i in prod["items"] if i["what"].startswith("CloudWatch custom metrics from the collector"))
    assert collector["monthly_usd"] == round(0.30 * max_series(1), 2)
    assert any("/ecs/plano-prod/metrics" in w for w in whats)
    assert not any("not priced: CloudWatch" in a for a in prod["assumptions"])
    dev = plan_document(stack_run("dev"))["cost"]
    assert not any("CloudWatch alarm" in i["what"] or "dashboard" in i["what"] for i in dev["items"])


# --- the state probe -----------------------------------------------------------------------------


def test_the_state_probe_reads_the_sidecars_console_and_never_the_database() -> None:
    check = state_probe_health_check(host="127.0.0.1", port=6432, db_user="plano_app", db_name="plano", userlist="/u")
    # ECS's limits: interval 5-300, timeout 2-60 (below the interval), retries 1-10, start period 0-300.
    assert 5 <= check["interval"] <= 300 and 2 <= check["timeout"] < check["interval"] and 1 <= check["retries"] <= 10
    assert check["timeout"] > STATE_PROBE_TIMEOUT_S  # psql gives up before ECS does
    script = check["command"][1]
    assert check["command"][0] == "CMD-SHELL" and "$(cut -d'\"' -f4 /u)" in script
    # The console (`-d pgbouncer`): no server connection, so no wake-up of a paused Aurora and no
    # cached login failure that would fail Plano's queries during an outage (tests/integration).
    assert "-h 127.0.0.1 -p 6432 -U plano_app -d pgbouncer -c 'SHOW CLIENTS'" in script
    assert '$3 == "plano"' in script or '$3 == "plano"' in script
    # A task that loses Plano's connection is replaced after retries x interval: half a minute.
    assert STATE_PROBE_RETRIES * STATE_PROBE_INTERVAL_S <= 60


def test_every_stack_runs_the_state_probe_and_lets_plano_read_the_console() -> None:
    for stack in ("dev", "prod"):
        run = stack_run(stack)
        probe = containers(run)["pgbouncer"]["healthCheck"]["command"]
        assert probe[0] == "CMD-SHELL" and "SHOW CLIENTS" in probe[1], stack
        ini = env_of(containers(run)["init"])["PGBOUNCER_INI"]
        assert re.search(r"^stats_users = plano_app$", ini, re.MULTILINE), stack
        assert not re.search(r"^admin_users", ini, re.MULTILINE)  # read-only: SHOW, never PAUSE or KILL


def test_the_task_definition_holds_no_secret_with_the_probe_and_the_collector() -> None:
    inputs = TaskInputs(
        region="us-east-1", log_group="g", plano_image="p", pgbouncer_image="b", init_image="i", db_host="h",
        db_port=5432, db_name="plano", db_user="plano", tls_mode=TlsMode.VERIFY_FULL, db_password_arn="arn:m",
        app_user="plano_app", app_password_arn="arn:a", files={"plano_config.yaml": "", "pgbouncer.ini": "",
        "schema.sql": "", "init.sh": ""}, listeners=(), health_port=12000, state_probe=True,
        collector_image="c", collector_config="x: 1\n",
    )  # fmt: skip
    definitions = container_definitions(inputs)
    assert [d["name"] for d in definitions] == ["init", "pgbouncer", "plano", "collector"]
    text = json.dumps(definitions)
    assert 'PGPASSWORD=\\"$(cut' in text  # read at run time from the sidecar's own file, never stored


# --- no secret in the logs by configuration ------------------------------------------------------


@pytest.mark.parametrize(
    "level",
    [
        "debug",
        "DEBUG",
        "trace",
        "info,brightstaff=debug",
        "brightstaff::state=trace",
        "4",
        "5",
        "brightstaff",
        "info --log-level debug",
        "",
    ],
)
def test_every_form_that_turns_debug_logging_on_is_refused(level: str) -> None:
    for name in ("LOG_LEVEL", "RUST_LOG"):
        run = run_with("dev", values={"environment": {name: level}})
        assert isinstance(run.error, ConfigError), (name, level)
        assert str(run.error).startswith(f"plano:environment.{name}")


@pytest.mark.parametrize("level", ["info", "warn", "error", "WARN"])
def test_plain_safe_levels_pass(level: str) -> None:
    assert run_with("dev", values={"environment": {"LOG_LEVEL": level}}).error is None


def test_the_metrics_address_is_the_stacks_own() -> None:
    run = run_with("dev", values={"environment": {"METRICS_BIND_ADDRESS": "0.0.0.0:9092"}})
    assert isinstance(run.error, ConfigError) and "METRICS_BIND_ADDRESS, which the task" in str(run.error)


def test_the_rendered_pgbouncer_config_never_logs_credentials() -> None:
    for stack in ("dev", "prod"):
        ini = env_of(containers(stack_run(stack))["init"])["PGBOUNCER_INI"]
        assert not re.search(r"^\s*verbose\s*=", ini, re.MULTILINE)
        assert re.search(r"^log_connections = 0$", ini, re.MULTILINE)
        command = containers(stack_run(stack))["pgbouncer"]["command"]
        assert not any(part.startswith("-v") for part in command)
