"""Validation of the monitoring keys: alarms and their destination, thresholds, collector, tracing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from plano_pulumi.core.collector import COLLECTOR_MEMORY_MIB
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.images import in_registry
from plano_pulumi.core.monitoring import thresholds_from_config
from plano_pulumi.core.settings.keys import Profile
from plano_pulumi.core.settings.model import MonitoringSettings, ServiceSettings
from plano_pulumi.core.settings.placeholders import is_example_domain, refuse_in_prod
from plano_pulumi.core.settings.reader import _Reader
from plano_pulumi.core.settings.service import check_image

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[^@\s,;<>\"']+@{_LABEL}(?:\.{_LABEL})+")
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):[A-Za-z0-9_-]{1,256}")
# RFC 2606's documentation domains: an address there reaches no one.
# Plano and its collector together: the collector's share plus what Plano needs to start (its
# supervisord, Envoy and brightstaff) and PgBouncer.
MIN_TASK_MEMORY_WITH_COLLECTOR_MIB = 1024


def _switch(read: _Reader, name: str) -> bool:
    value = read.string(name).lower()
    if value not in ("on", "off"):
        raise ConfigError(
            f"plano:{name}",
            "is not on or off",
            value=value,
            allowed="on, off (empty: the profile's value)",
            fix=f"pulumi config set plano:{name} on",
        )
    return value == "on"


def _monitoring(
    read: _Reader, profile: Profile, service: ServiceSettings, region: str, warnings: list[str]
) -> MonitoringSettings:
    alarms = _switch(read, "alarms")
    collector = _switch(read, "metricsCollector")
    tracing = read.boolean("tracing")
    emails = read.string_list("alarmEmails", "pulumi config set --path 'plano:alarmEmails[0]' oncall@example.com")
    topic = read.string("alarmTopicArn")
    overrides = read.string_map("alarmThresholds", "pulumi config set --path 'plano:alarmThresholds.dbCpuPercent' 70")
    if profile is Profile.LOCAL:
        _refuse_on_local(alarms=alarms, collector=collector, tracing=tracing)
        return MonitoringSettings()
    _check_emails(emails, profile, alarms=alarms, warnings=warnings)
    if topic:
        _check_topic_arn(topic, region)
    _check_routing(emails, topic, overrides, alarms=alarms)
    thresholds = thresholds_from_config(profile.value, overrides)
    if alarms and not (emails or topic):
        warnings.append(
            "plano:alarms is on but no one is notified: set plano:alarmEmails or plano:alarmTopicArn "
            "(docs/monitoring.md: routing to Slack or PagerDuty)"
        )
    _check_collector(service, collector=collector, tracing=tracing)
    image = read.string("collectorImage")
    if collector:
        check_image("collectorImage", image, profile, warnings)
        image = in_registry(image, service.image_registry)
    return MonitoringSettings(
        alarms=alarms,
        alarm_emails=tuple(emails),
        alarm_topic_arn=topic,
        thresholds=thresholds,
        collector=collector,
        collector_image=image,
        tracing=tracing,
    )


def _refuse_on_local(*, alarms: bool, collector: bool, tracing: bool) -> None:
    """Alarms, the collector and tracing are AWS features: the local stack refuses them."""
    for name, on in (("alarms", alarms), ("metricsCollector", collector), ("tracing", tracing)):
        if on:
            raise ConfigError(
                f"plano:{name}",
                "is an AWS feature (CloudWatch, X-Ray); the local stack runs on Docker and has none",
                allowed="off with the local profile (docs/monitoring.md: the local stack)",
                fix=f"pulumi config rm plano:{name} --stack <local stack>",
            )


def _check_emails(emails: Sequence[str], profile: Profile, *, alarms: bool, warnings: list[str]) -> None:
    """Real addresses, each once; a documentation address is refused in prod, warned about in dev."""
    for i, email in enumerate(emails):
        if not _EMAIL.fullmatch(email):
            raise ConfigError(
                f"plano:alarmEmails[{i}]",
                "is not an e-mail address",
                value=email,
                fix=f"pulumi config set --path 'plano:alarmEmails[{i}]' oncall@example.com",
            )
    examples = [i for i, e in enumerate(emails) if is_example_domain(e.rsplit("@", 1)[-1])]
    if examples and alarms:
        # A documentation address: prod refuses it (the alarms would wake nobody), dev warns.
        first = examples[0]
        refuse_in_prod(
            profile,
            "alarmEmails",
            [emails[i] for i in examples],
            "an example.com address",
            f"pulumi config set --path 'plano:alarmEmails[{first}]' <your on-call address>",
            warnings,
        )
    if len(set(emails)) != len(emails):
        raise ConfigError("plano:alarmEmails", "lists an address twice", value=list(emails), fix="remove the duplicate")


def _check_topic_arn(topic: str, region: str) -> None:
    """An SNS topic ARN in the stack's region (alarms notify topics of their own region only)."""
    match = _TOPIC_ARN.fullmatch(topic)
    if not match:
        raise ConfigError(
            "plano:alarmTopicArn",
            "is not an SNS topic ARN",
            value=topic,
            allowed="arn:aws:sns:<region>:<account>:<topic name>",
            fix="pulumi config set plano:alarmTopicArn arn:aws:sns:us-east-1:123456789012:oncall",
        )
    if region and match.group(1) != region:
        raise ConfigError(
            "plano:alarmTopicArn",
            f"is in {match.group(1)}, but CloudWatch alarms notify topics of their own region ({region})",
            value=topic,
            fix=f"use a topic in {region} (it may forward to the other region)",
        )


def _check_routing(emails: Sequence[str], topic: str, overrides: Mapping[str, str], *, alarms: bool) -> None:
    """Addresses or a topic, not both; and none of them without alarms."""
    if emails and topic:
        raise ConfigError(
            "plano:alarmEmails",
            "is set together with plano:alarmTopicArn; the stack subscribes addresses only to a topic it creates",
            fix="subscribe the addresses to your topic yourself and `pulumi config rm plano:alarmEmails`, "
            "or remove plano:alarmTopicArn",
        )
    if (emails or topic or overrides) and not alarms:
        given = (("alarmEmails", emails), ("alarmTopicArn", topic), ("alarmThresholds", overrides))
        set_keys = [key for key, value in given if value]
        raise ConfigError(
            f"plano:{set_keys[0]}",
            "is set but plano:alarms is off, so nothing would ever notify it",
            fix="pulumi config set plano:alarms on",
        )


def _check_collector(service: ServiceSettings, *, collector: bool, tracing: bool) -> None:
    """Tracing needs the collector, and the collector needs room in the task's memory."""
    if tracing and not collector:
        raise ConfigError(
            "plano:tracing",
            "needs the collector sidecar, which receives Plano's traces and sends them to X-Ray",
            fix="pulumi config set plano:metricsCollector on",
        )
    if collector and service.memory < MIN_TASK_MEMORY_WITH_COLLECTOR_MIB:
        raise ConfigError(
            "plano:memory",
            f"leaves too little for Plano once the collector sidecar takes its {COLLECTOR_MEMORY_MIB} MiB",
            value=service.memory,
            allowed=f"{MIN_TASK_MEMORY_WITH_COLLECTOR_MIB} MiB or more with plano:metricsCollector on",
            fix=f"pulumi config set plano:memory {MIN_TASK_MEMORY_WITH_COLLECTOR_MIB}, or plano:metricsCollector off",
        )
