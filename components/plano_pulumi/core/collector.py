"""The metrics and traces collector sidecar: its config, its metrics and what they cost (pure).

The AWS Distro for OpenTelemetry (ADOT) collector runs as a fourth container of the task when
``plano:metricsCollector`` is on. It scrapes, on the task's loopback only, brightstaff's
Prometheus endpoint (``127.0.0.1:9092/metrics``) and Envoy's admin (``127.0.0.1:9901/stats/prometheus``),
keeps a fixed list of metric names (``METRICS``), and writes them to CloudWatch as Embedded Metric
Format (EMF) log events, which CloudWatch turns into metrics. With ``plano:tracing`` it also
receives Plano's OTLP traces on ``127.0.0.1:4317`` and sends them to X-Ray.

Cost: CloudWatch bills each distinct metric name and dimension set as a custom metric
(``max_series``); EMF log events are billed as log ingestion. The collector's own ports are
internal like Plano's (``COLLECTOR_PORTS``): never mapped, never admitted by a security group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

# The task's loopback (the sidecar's address too); plano_config reserves COLLECTOR_PORTS from here.
LOOPBACK = "127.0.0.1"
BRIGHTSTAFF_METRICS = f"{LOOPBACK}:9092"
ENVOY_ADMIN = f"{LOOPBACK}:9901"
OTLP_GRPC_PORT = 4317
HEALTH_PORT = 13133
# Ports the collector could bind (OTLP gRPC/HTTP, its health check, its own metrics, pprof and
# zpages). The config binds only the first and the health check, on loopback; none is ever mapped.
COLLECTOR_PORTS: dict[int, str] = {
    4317: "the collector's OTLP gRPC receiver",
    4318: "the collector's OTLP HTTP receiver",
    8888: "the collector's own metrics",
    13133: "the collector's health check",
    1777: "the collector's pprof extension",
    55679: "the collector's zpages extension",
}
TRACING_ENDPOINT = f"http://{LOOPBACK}:{OTLP_GRPC_PORT}"
# How often the collector scrapes: one data point per metric a minute (CloudWatch's standard resolution).
SCRAPE_INTERVAL_S = 60
# The container's share of the task: ADOT documents 256 MiB as enough for a sidecar at this load.
COLLECTOR_CPU_UNITS = 128
COLLECTOR_MEMORY_MIB = 256
# Envoy's listeners besides the user's: Plano 0.4.36 always renders 10000, 10001, 11000 and 12001.
ENVOY_INTERNAL_LISTENERS = 4
# Plano's label values are fixed sets (crates/brightstaff/src/metrics/labels.rs).
STATUS_CLASSES = 5  # 1xx .. 5xx
ERROR_CLASSES = 6  # none, timeout, connect, parse, other, stream
TOKEN_KINDS = 4  # prompt, completion, cache_read, cache_write


@dataclass(frozen=True)
class CollectedMetric:
    """One metric the collector keeps: its name, the labels kept as dimensions, what it shows."""

    name: str
    source: str  # brightstaff | envoy
    labels: tuple[str, ...]
    means: str

    def series(self, listeners: int) -> int:
        """Distinct dimension sets at most, each a CloudWatch custom metric."""
        count = 1
        for label in self.labels:
            count *= {
                "status_class": STATUS_CLASSES,
                "error_class": ERROR_CLASSES,
                "kind": TOKEN_KINDS,
                "envoy_response_code_class": STATUS_CLASSES,
                "envoy_http_conn_manager_prefix": listeners + ENVOY_INTERNAL_LISTENERS,
            }[label]
        return count


METRICS: tuple[CollectedMetric, ...] = (
    CollectedMetric(
        "brightstaff_http_requests_total", "brightstaff", ("status_class",), "brightstaff's requests by status class"
    ),
    CollectedMetric("brightstaff_http_request_duration_seconds", "brightstaff", (), "brightstaff's request duration"),
    CollectedMetric("brightstaff_http_in_flight_requests", "brightstaff", (), "requests in progress"),
    CollectedMetric(
        "brightstaff_llm_upstream_requests_total",
        "brightstaff",
        ("error_class",),
        "model provider calls by outcome (none = success)",
    ),
    CollectedMetric("brightstaff_llm_upstream_duration_seconds", "brightstaff", (), "model provider call duration"),
    CollectedMetric(
        "brightstaff_llm_time_to_first_token_seconds", "brightstaff", (), "time to the first streamed token"
    ),
    CollectedMetric("brightstaff_llm_tokens_total", "brightstaff", ("kind",), "tokens by kind"),
    CollectedMetric(
        "envoy_http_downstream_rq_xx",
        "envoy",
        ("envoy_http_conn_manager_prefix", "envoy_response_code_class"),
        "requests per Envoy listener by status class",
    ),
    CollectedMetric(
        "envoy_http_downstream_rq_time",
        "envoy",
        ("envoy_http_conn_manager_prefix",),
        "request duration per Envoy listener",
    ),
)
# Every metric also carries the service's dimensions, so series never multiply with the task count.
SERVICE_DIMENSIONS = ("ClusterName", "ServiceName")


def max_series(listeners: int) -> int:
    """The most custom metrics the collector can create for a config with this many listeners."""
    return sum(metric.series(listeners) for metric in METRICS)


def _keep(source: str) -> str:
    # Histograms arrive as _bucket/_sum/_count series; keep those of the listed names only.
    names = "|".join(m.name for m in METRICS if m.source == source)
    return f"({names})(_bucket|_sum|_count)?"


def collector_config(
    *,
    region: str,
    namespace: str,
    log_group: str,
    cluster: str,
    service: str,
    tracing: bool,
) -> dict[str, Any]:
    """The ADOT collector's configuration (what ``AOT_CONFIG_CONTENT`` carries, as a mapping)."""
    config: dict[str, Any] = {
        "extensions": {"health_check": {"endpoint": f"{LOOPBACK}:{HEALTH_PORT}"}},
        "receivers": {"prometheus": _prometheus_receiver(cluster, service)},
        "processors": {"batch/metrics": {"timeout": "60s"}},
        "exporters": {"awsemf": _emf_exporter(region, namespace, log_group)},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "metrics": {"receivers": ["prometheus"], "processors": ["batch/metrics"], "exporters": ["awsemf"]}
            },
            # The collector's own metrics endpoint (8888) stays off.
            "telemetry": {"metrics": {"level": "none"}},
        },
    }
    if tracing:
        _add_traces_pipeline(config, region)
    return config


def _prometheus_receiver(cluster: str, service: str) -> dict[str, Any]:
    """Scrapes brightstaff's and Envoy's Prometheus endpoints, keeping only the metrics we chart."""
    relabel_service = [
        {"target_label": "ClusterName", "replacement": cluster},
        {"target_label": "ServiceName", "replacement": service},
    ]
    scrape = {
        "scrape_interval": f"{SCRAPE_INTERVAL_S}s",
        "scrape_timeout": "10s",
    }
    return {
        "config": {
            "global": scrape,
            "scrape_configs": [
                {
                    "job_name": "brightstaff",
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": [BRIGHTSTAFF_METRICS]}],
                    "relabel_configs": relabel_service,
                    "metric_relabel_configs": [
                        {"source_labels": ["__name__"], "regex": _keep("brightstaff"), "action": "keep"}
                    ],
                },
                {
                    "job_name": "envoy",
                    "metrics_path": "/stats/prometheus",
                    "static_configs": [{"targets": [ENVOY_ADMIN]}],
                    "relabel_configs": relabel_service,
                    "metric_relabel_configs": [
                        {"source_labels": ["__name__"], "regex": _keep("envoy"), "action": "keep"}
                    ],
                },
            ],
        }
    }


def _emf_exporter(region: str, namespace: str, log_group: str) -> dict[str, Any]:
    """Writes the metrics as CloudWatch embedded metric format log events (one stream per task)."""
    return {
        "region": region,
        "namespace": namespace,
        "log_group_name": log_group,
        "log_stream_name": "{TaskId}",
        # Only the declared dimension sets: no per-task or per-instance series.
        "dimension_rollup_option": "NoDimensionRollup",
        "resource_to_telemetry_conversion": {"enabled": False},
        "metric_declarations": [
            {
                "dimensions": [[*SERVICE_DIMENSIONS, *metric.labels]],
                # A search, anchored at the start; no `$`: the collector expands `$` in its config.
                "metric_name_selectors": [f"^{metric.name}"],
            }
            for metric in METRICS
        ],
    }


def _add_traces_pipeline(config: dict[str, Any], region: str) -> None:
    """Plano's OTLP traces, received on loopback and sent to X-Ray."""
    config["receivers"]["otlp"] = {"protocols": {"grpc": {"endpoint": f"{LOOPBACK}:{OTLP_GRPC_PORT}"}}}
    config["processors"]["batch/traces"] = {"timeout": "1s", "send_batch_size": 50}
    config["exporters"]["awsxray"] = {"region": region}
    config["service"]["pipelines"]["traces"] = {
        "receivers": ["otlp"],
        "processors": ["batch/traces"],
        "exporters": ["awsxray"],
    }


def collector_config_yaml(**kwargs: Any) -> str:
    # The collector expands ${...} and $VAR in its config: the values here hold none (checked in tests).
    return yaml.safe_dump(collector_config(**kwargs), sort_keys=False, default_flow_style=False)


def scrape_targets(config: dict[str, Any]) -> list[str]:
    """Every address the collector scrapes or binds (tests check they are all loopback)."""
    targets = [
        target
        for job in config["receivers"]["prometheus"]["config"]["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]
    binds = [config["extensions"]["health_check"]["endpoint"]]
    otlp = config["receivers"].get("otlp", {}).get("protocols", {})
    binds += [protocol["endpoint"] for protocol in otlp.values()]
    return targets + binds


def tracing_document(document: dict[str, Any]) -> dict[str, Any]:
    """The user's Plano config with its traces sent to the collector (``plano:tracing``).

    Plano sends traces to ``tracing.opentracing_grpc_endpoint`` only when
    ``tracing.random_sampling`` is above 0; a config without it gets 100 (every request)."""
    tracing = dict(document.get("tracing") or {})
    tracing["opentracing_grpc_endpoint"] = TRACING_ENDPOINT
    tracing.setdefault("random_sampling", 100)
    return {**document, "tracing": tracing}
