"""The ADOT collector's configuration schema, as far as this project uses it (for the tests).

The collector binary cannot be pulled or built here, and the collector publishes no JSON schema:
each component decodes its section into a Go ``Config`` struct (``mapstructure`` tags) and the
collector refuses a key it does not know and a pipeline naming an undefined component. This
module records those keys, read from the upstream sources, and checks a config the same way:

- components of the ADOT distribution: aws-observability/aws-otel-collector
  ``pkg/defaultcomponents/defaults.go`` (v0.45.x);
- ``awsemf``: opentelemetry-collector-contrib ``exporter/awsemfexporter/config.go`` (with
  ``internal/aws/awsutil.AWSSessionSettings`` squashed in) and ``metric_declaration.go``;
- ``awsxray``: ``exporter/awsxrayexporter/internal/... config.go`` (AWSSessionSettings too);
- ``prometheus``: ``receiver/prometheusreceiver/config.go``, its ``config`` being Prometheus'
  own scrape configuration (``scrape_configs``, ``relabel_configs``);
- ``otlp`` receiver, ``batch`` processor, ``health_check`` extension, ``service``: the core
  collector's and contrib's config structs.

A key missing here that the collector accepts makes a test fail loudly (add it with its source);
a key here that the collector refuses would go unnoticed, so only keys read upstream are listed.
"""

from __future__ import annotations

from typing import Any

ANY = None  # a value whose inner structure is not checked

ADOT_COMPONENTS: dict[str, set[str]] = {
    "extensions": {
        "awsproxy", "ecs_observer", "health_check", "pprof", "sigv4auth", "zpages", "memory_ballast", "file_storage",
    },
    "receivers": {
        "awsecscontainermetrics", "awscontainerinsightreceiver", "awsxray", "statsd", "prometheus", "kafka",
        "jaeger", "zipkin", "otlp", "filelog",
    },
    "processors": {
        "groupbytrace", "tail_sampling", "attributes", "resource", "probabilistic_sampler", "span", "filter",
        "metricstransform", "resourcedetection", "experimental_metricsgeneration", "cumulativetodelta",
        "deltatorate", "batch", "memory_limiter", "k8sattributes",
    },
    "exporters": {
        "awsemf", "prometheusremotewrite", "prometheus", "file", "kafka", "debug", "logging", "otlp", "otlphttp",
        "awsxray", "loadbalancing", "awscloudwatchlogs",
    },
}  # fmt: skip

_AWS_SESSION = {
    "num_workers": ANY,
    "endpoint": ANY,
    "request_timeout_seconds": ANY,
    "max_retries": ANY,
    "no_verify_ssl": ANY,
    "proxy_address": ANY,
    "region": ANY,
    "local_mode": ANY,
    "resource_arn": ANY,
    "role_arn": ANY,
    "external_id": ANY,
}
_RELABEL = {
    "source_labels": ANY,
    "separator": ANY,
    "regex": ANY,
    "modulus": ANY,
    "target_label": ANY,
    "replacement": ANY,
    "action": ANY,
}
_SCRAPE = {
    "job_name": ANY,
    "scrape_interval": ANY,
    "scrape_timeout": ANY,
    "metrics_path": ANY,
    "scheme": ANY,
    "honor_labels": ANY,
    "honor_timestamps": ANY,
    "params": ANY,
    "static_configs": [{"targets": ANY, "labels": ANY}],
    "relabel_configs": [_RELABEL],
    "metric_relabel_configs": [_RELABEL],
}
_GRPC_SERVER = {"endpoint": ANY, "transport": ANY, "tls": ANY, "max_recv_msg_size_mib": ANY, "keepalive": ANY}
COMPONENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "health_check": {"endpoint": ANY, "path": ANY, "tls": ANY, "check_collector_pipeline": ANY, "response_body": ANY},
    "prometheus": {
        "config": {
            "global": {"scrape_interval": ANY, "scrape_timeout": ANY, "external_labels": ANY},
            "scrape_configs": [_SCRAPE],
        },
        "trim_metric_suffixes": ANY,
        "use_start_time_metric": ANY,
        "start_time_metric_regex": ANY,
        "target_allocator": ANY,
        "report_extra_scrape_metrics": ANY,
    },
    "otlp": {"protocols": {"grpc": _GRPC_SERVER, "http": {"endpoint": ANY, "tls": ANY, "cors": ANY}}},
    "batch": {
        "timeout": ANY,
        "send_batch_size": ANY,
        "send_batch_max_size": ANY,
        "metadata_keys": ANY,
        "metadata_cardinality_limit": ANY,
    },
    "awsemf": {
        **_AWS_SESSION,
        "log_group_name": ANY,
        "log_stream_name": ANY,
        "namespace": ANY,
        "retain_initial_value_of_delta_metric": ANY,
        "dimension_rollup_option": ANY,
        "log_retention": ANY,
        "tags": ANY,
        "parse_json_encoded_attr_values": ANY,
        "metric_declarations": [{"dimensions": ANY, "label_matchers": ANY, "metric_name_selectors": ANY}],
        "metric_descriptors": ANY,
        "output_destination": ANY,
        "eks_fargate_container_insights_enabled": ANY,
        "disable_metric_extraction": ANY,
        "resource_to_telemetry_conversion": {"enabled": ANY},
        "detailed_metrics": ANY,
        "version": ANY,
    },
    "awsxray": {
        **_AWS_SESSION,
        "index_all_attributes": ANY,
        "indexed_attributes": ANY,
        "aws_log_groups": ANY,
        "telemetry": ANY,
        "transit_spans_in_otlp_format": ANY,
    },
}
_ENUMS = {
    ("awsemf", "dimension_rollup_option"): {
        "ZeroAndSingleDimensionRollup", "SingleDimensionRollupOnly", "NoDimensionRollup",
    },
    ("relabel", "action"): {
        "replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep",
        "lowercase", "uppercase",
    },
}  # fmt: skip
_SERVICE = {"extensions": ANY, "pipelines": ANY, "telemetry": {"metrics": {"level": ANY, "address": ANY}, "logs": ANY}}
_TELEMETRY_LEVELS = {"none", "basic", "normal", "detailed"}


def _check(value: Any, schema: Any, where: str, problems: list[str]) -> None:
    if schema is ANY:
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            problems.append(f"{where}: must be a list")
            return
        for i, item in enumerate(value):
            _check(item, schema[0], f"{where}[{i}]", problems)
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a mapping")
        return
    for key, item in value.items():
        if key not in schema:
            problems.append(f"{where}: unknown key {key}")
            continue
        _check(item, schema[key], f"{where}.{key}", problems)


def validate_collector_config(config: dict[str, Any]) -> list[str]:
    """What the ADOT collector would refuse in ``config`` (empty: nothing)."""
    problems: list[str] = []
    allowed_top = {"extensions", "receivers", "processors", "exporters", "connectors", "service"}
    problems += [f"unknown top-level section {key}" for key in config if key not in allowed_top]
    defined: dict[str, set[str]] = {}
    for section in ("extensions", "receivers", "processors", "exporters"):
        defined[section] = set()
        for name, body in (config.get(section) or {}).items():
            kind = name.split("/", 1)[0]
            defined[section].add(name)
            if kind not in ADOT_COMPONENTS[section]:
                problems.append(f"{section}.{name}: component {kind} is not in the ADOT collector")
                continue
            schema = COMPONENT_SCHEMAS.get(kind)
            if schema is None:
                problems.append(f"{section}.{name}: no schema recorded for {kind} (add it with its source)")
                continue
            _check(body or {}, schema, f"{section}.{kind}", problems)
    emf = (config.get("exporters") or {}).get("awsemf") or {}
    option = emf.get("dimension_rollup_option")
    if option is not None and option not in _ENUMS[("awsemf", "dimension_rollup_option")]:
        problems.append(f"awsemf.dimension_rollup_option: {option} is not a rollup option")
    prometheus = ((config.get("receivers") or {}).get("prometheus") or {}).get("config") or {}
    for job in prometheus.get("scrape_configs") or []:
        for rule in [*(job.get("relabel_configs") or []), *(job.get("metric_relabel_configs") or [])]:
            action = rule.get("action", "replace")
            if action not in _ENUMS[("relabel", "action")]:
                problems.append(f"prometheus job {job.get('job_name')}: relabel action {action} is unknown")
    service = config.get("service") or {}
    _check(service, _SERVICE, "service", problems)
    level = ((service.get("telemetry") or {}).get("metrics") or {}).get("level")
    if level is not None and level not in _TELEMETRY_LEVELS:
        problems.append(f"service.telemetry.metrics.level: {level} is not a level")
    for name in service.get("extensions") or []:
        if name not in defined["extensions"]:
            problems.append(f"service.extensions: {name} is not defined")
    for pipeline, body in (service.get("pipelines") or {}).items():
        if pipeline.split("/", 1)[0] not in ("metrics", "traces", "logs"):
            problems.append(f"service.pipelines.{pipeline}: not a signal (metrics, traces, logs)")
        for section in ("receivers", "processors", "exporters"):
            for name in (body or {}).get(section) or []:
                if name not in defined[section]:
                    problems.append(f"service.pipelines.{pipeline}.{section}: {name} is not defined")
        if not (body or {}).get("receivers") or not (body or {}).get("exporters"):
            problems.append(f"service.pipelines.{pipeline}: needs receivers and exporters")
    return problems
