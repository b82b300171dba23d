"""The security invariants of the Plano stacks, as pure functions over plain dicts.

No import of ``pulumi_policy`` here: the tests (and ``python policy/validators.py plan.json``) call
these functions directly, and ``__main__.py`` wires them into the policy pack.

Resource validators take ``(resource_type, props, context)`` where ``props`` are the resource's
inputs in the camelCase wire form Pulumi passes (``storageEncrypted``, ``containerDefinitions``,
...), and return a list of violation messages (empty: compliant, or the type is not theirs).

Stack validators take the stack's resources as ``{"type", "name", "props", "protect"?, "id"?,
"urn"?}`` dicts (the pack builds them from ``StackValidationArgs``; the tests from offline runs)
and return messages that name the resource concerned.

Values Pulumi cannot know yet (during a preview, anything computed from another resource's
outputs) arrive as sentinel strings; a validator that needs one raises ``NotKnownYetError``, which
the pack turns into pulumi_policy's "can't run policy during preview" advisory. The resource
policies run again, before anything is created, during ``pulumi up`` with every value known.

The stack profile (the ``prod-*`` policies) comes from the policy config ``profile`` when it is
set and from the resource's ``profile`` tag otherwise; whichever says ``prod`` wins, and a
resource with neither is held to the prod rules.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # imported from the repository root (tests)
    from policy.secret_names import go_fold, secret_findings, secret_word
except ModuleNotFoundError:  # the pack's folder on sys.path (the Pulumi CLI, `python policy/validators.py`)
    from secret_names import go_fold, secret_findings, secret_word  # type: ignore[no-redef]

# --- resource types -------------------------------------------------------------------------------

RDS_INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
# Aurora (engine aurora-postgresql) and Multi-AZ DB clusters (engine postgres).
RDS_CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
DATABASES = (RDS_INSTANCE, RDS_CLUSTER)
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
INGRESS_TYPES = (INGRESS_RULE, SECURITY_GROUP_RULE, SECURITY_GROUP, DEFAULT_SECURITY_GROUP)

PROD = "prod"
PROFILE_TAG = "profile"
# Tag that records consent to an ingress rule open to the whole internet (see README).
PUBLIC_INGRESS_TAG = "public-ingress"
PUBLIC_INGRESS_ALLOWED = "allowed"

# Ports Plano binds inside the task and that must never be published (components/plano_pulumi/core/plano_config.py,
# PLANO_INTERNAL_PORTS; tests/policy/test_policy.py keeps the two equal). 9901 is Envoy's admin port, whose
# /config_dump shows the substituted config, secrets included.
INTERNAL_PORTS: frozenset[int] = frozenset({9091, 9092, 9901, 10001, 11000, 12001})
# The collector sidecar's ports (components/plano_pulumi/core/collector.py, COLLECTOR_PORTS; a test
# keeps the two equal): OTLP receivers, its health check, its own metrics, pprof and zpages.
COLLECTOR_PORTS: frozenset[int] = frozenset({4317, 4318, 8888, 13133, 1777, 55679})
NEVER_MAPPED_PORTS = INTERNAL_PORTS | COLLECTOR_PORTS
_INTERNAL_PORT_LIST = ", ".join(str(p) for p in sorted(INTERNAL_PORTS))
_COLLECTOR_PORT_LIST = ", ".join(str(p) for p in sorted(COLLECTOR_PORTS))
# Log settings that print credentials (components/plano_pulumi/core/settings/limits.py and
# task_files.py; tests keep them equal): Plano's log level variables may only hold a plain safe
# level, and PgBouncer at verbose >= 1 logs the password it read from its auth file.
LOG_LEVEL_VARS = ("LOG_LEVEL", "RUST_LOG")
SAFE_LOG_LEVELS = ("error", "warn", "info")
PGBOUNCER_INI_VAR = "PGBOUNCER_INI"
_PGBOUNCER_VERBOSE = re.compile(r"^\s*verbose\s*=\s*(\d+)", re.MULTILINE | re.IGNORECASE)

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

# pulumi_policy's sentinels for values that are unknown during a preview (pulumi_policy.proxy).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class NotKnownYetError(Exception):
    """A value the check needs is not known yet (preview); ``path`` is where it sits."""

    def __init__(self, sentinel: str, path: Sequence[str]) -> None:
        super().__init__(f"{'.'.join(path)} is not known until the update")
        self.sentinel = sentinel
        self.path = tuple(path)


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def _require_known(value: Any, path: Sequence[str]) -> Any:
    if is_unknown(value):
        raise NotKnownYetError(value, path)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _require_known(item, [*path, str(key)])
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _require_known(item, [*path, str(index)])
    return value


def _get(props: Mapping[str, Any], key: str) -> Any:
    """``props[key]`` (None when absent), raising NotKnownYetError if any part of it is unknown."""
    return _require_known(props.get(key), [key])


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _strings(value: Any) -> tuple[str, ...]:
    """A property that may be absent, one string or a list of strings, as a tuple of non-empty strings."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if v not in (None, ""))


# --- context ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a validator knows besides the resource's inputs."""

    profile: str | None = None
    """Policy config ``profile`` (dev or prod); None: take the resource's ``profile`` tag."""
    allow_public_ingress: bool = False
    """Policy config ``allowPublicIngress``: consent to rules open to the internet for this stack."""
    protect: bool | None = None
    """The resource's Pulumi ``protect`` option, when known."""


def context_from_config(config: Mapping[str, Any] | None, protect: bool | None = None) -> Context:
    """The context for one policy from its policy config (``--policy-pack-config``)."""
    config = config or {}
    profile = config.get("profile")
    return Context(
        profile=str(profile) if profile not in (None, "") else None,
        allow_public_ingress=_true(config.get("allowPublicIngress", False)),
        protect=protect,
    )


def tags_of(props: Mapping[str, Any]) -> dict[str, str]:
    """The resource's tags; unknown ones (``tagsAll`` of a resource not created yet) are left out."""
    tags: dict[str, str] = {}
    for key in ("tagsAll", "tags"):
        value = props.get(key)
        if isinstance(value, Mapping):
            tags.update({str(k): str(v) for k, v in value.items() if not is_unknown(v)})
    return tags


# Profiles that relax the prod rules (the program's dev and local), as written in the tag or the
# config after trimming and lower-casing. Anything else (Prod, PROD, production, prd, a typo) is
# held to the prod rules.
NON_PROD_PROFILES = frozenset({"dev", "local"})


def _profile_name(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return text if text in NON_PROD_PROFILES else PROD


def profile_of(props: Mapping[str, Any], context: Context) -> str:
    """The profile the resource is held to: the stricter of config and tags; prod if neither says.

    Every tag named ``profile`` in any case counts, and any value but a known non-prod profile
    (``dev``) means prod, so ``Prod``, ``production`` or ``PROD`` never switch the prod rules off.
    """
    tags = tags_of(props)
    said = [_profile_name(context.profile)] if context.profile is not None else []
    said += [_profile_name(v) for k, v in tags.items() if k.strip().lower() == PROFILE_TAG]
    if not said or PROD in said:
        return PROD
    return str(said[0])


def _is_prod(props: Mapping[str, Any], context: Context) -> bool:
    return profile_of(props, context) == PROD


# --- helpers over resource shapes ------------------------------------------------------------------


def _fold(value: Any) -> Any:
    """Keys folded at every level as the AWS provider decodes container JSON: Go's encoding/json
    matches field names with Unicode simple case folding (``go_fold``: ``portMappingſ`` with a long
    s and a Kelvin sign for ``k`` are ``portmappings`` and ``k`` to it). Keys that fold alike are
    merged: lists joined and maps merged (so a check sees every entry), other values last-wins."""
    if isinstance(value, Mapping):
        folded: dict[str, Any] = {}
        for key, item in value.items():
            name, item = go_fold(str(key)), _fold(item)
            before = folded.get(name)
            if isinstance(before, list) and isinstance(item, list):
                folded[name] = before + item
            elif isinstance(before, dict) and isinstance(item, dict):
                folded[name] = {**before, **item}
            else:
                folded[name] = item
        return folded
    if isinstance(value, list):
        return [_fold(item) for item in value]
    return value


def _containers(props: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The task definition's container definitions (keys lower-cased, see ``_fold``), and a message
    if they cannot be read."""
    raw = _get(props, "containerDefinitions")
    if raw is None:
        return [], []
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        return [], ["containerDefinitions is not valid JSON, so it cannot be checked"]
    if not isinstance(parsed, list) or not all(isinstance(c, Mapping) for c in parsed):
        return [], ["containerDefinitions is not a list of container definitions, so it cannot be checked"]
    try:
        return [_fold(c) for c in parsed], []
    except RecursionError:
        return [], ["containerDefinitions nests too deeply to be checked"]


def _entries(container: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """A list-of-objects field of a folded container (environment, secrets, portmappings)."""
    value = container.get(key)
    return [e for e in value if isinstance(e, Mapping)] if isinstance(value, list) else []


def _strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys of objects included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _parameter_name(name: Any) -> str:
    """A parameter's name as RDS compares them (case and surrounding white space do not count)."""
    return str(name).strip().lower()


def repeated_parameters(parameters: Any) -> list[str]:
    """Parameter names a group lists more than once (the provider keeps a set: which value AWS
    applies is not defined, so ``rds.force_ssl`` set to 1 and again to 0 proves nothing)."""
    seen: dict[str, int] = {}
    for parameter in parameters if isinstance(parameters, (list, tuple)) else ():
        if isinstance(parameter, Mapping) and parameter.get("name") is not None:
            name = _parameter_name(parameter.get("name"))
            seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, count in seen.items() if count > 1)


def _force_ssl_value(parameters: Any) -> str | None:
    for parameter in parameters if isinstance(parameters, (list, tuple)) else ():
        if isinstance(parameter, Mapping) and _parameter_name(parameter.get("name")) == "rds.force_ssl":
            value = parameter.get("value")
            number = _number(value)
            return str(int(number)) if number is not None and number.is_integer() else str(value)
    return None


def _is_postgres(engine: Any) -> bool:
    """Every PostgreSQL engine RDS offers: postgres (instances, Multi-AZ DB clusters) and
    aurora-postgresql (Aurora, Serverless v2 included). No engine: an instance's default is not
    known, so it is held to the PostgreSQL rules."""
    text = str(engine or "").strip().lower()
    return text == "" or text.startswith(("postgres", "aurora-postgresql"))


def _is_postgres_family(family: Any) -> bool:
    return str(family or "").strip().lower().startswith(("postgres", "aurora-postgresql"))


# Shorter prefixes than these span so much of the internet that they count as open: 0.0.0.0/1
# plus 128.0.0.0/1 is 0.0.0.0/0 in two rules. The program uses the same bounds
# (plano_pulumi.core.settings.is_internet_wide); a test keeps them equal.
OPEN_PREFIX_BELOW = {4: 8, 6: 16}


def _is_open(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
        return network.prefixlen < OPEN_PREFIX_BELOW[network.version]
    except ValueError:
        return cidr.strip() in ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class Permission:
    """One ingress permission, whatever resource shape it was declared with."""

    label: str
    security_group_id: str | None
    """The group it opens: None if not known to the resource, or an unknown sentinel in a preview."""
    cidrs: tuple[str, ...]
    prefix_lists: tuple[str, ...]
    source_groups: tuple[str, ...]
    self_reference: bool
    consent: bool
    ports: str
    port_range: tuple[int, int] | None = None
    """TCP ports admitted, first to last; None for other protocols, all protocols (-1) or unknown."""

    @property
    def open_cidrs(self) -> tuple[str, ...]:
        return tuple(c for c in self.cidrs if _is_open(c))


def _ports(rule: Mapping[str, Any]) -> str:
    low, high = _number(rule.get("fromPort")), _number(rule.get("toPort"))
    protocol = str(rule.get("ipProtocol") or rule.get("protocol") or "")
    if protocol in ("-1", "all"):
        return "all ports"
    if low is None:
        return "some ports"
    if high is None or low == high:
        return f"port {int(low)}"
    return f"ports {int(low)}-{int(high)}"


def _tcp_range(rule: Mapping[str, Any]) -> tuple[int, int] | None:
    protocol = str(rule.get("ipProtocol") or rule.get("protocol") or "").strip().lower()
    low, high = _number(rule.get("fromPort")), _number(rule.get("toPort"))
    if protocol not in ("tcp", "6") or low is None:
        return None
    return int(low), int(high if high is not None else low)


def ingress_permissions(
    resource_type: str, props: Mapping[str, Any], resource_id: str | None = None
) -> list[Permission]:
    """Every ingress permission the resource declares (an ingress rule, or a group's inline rules)."""
    # aws:ec2/securityGroupRule has no tags: consent for it can only come from the policy config.
    consent = resource_type != SECURITY_GROUP_RULE and tags_of(props).get(PUBLIC_INGRESS_TAG) == PUBLIC_INGRESS_ALLOWED
    if resource_type == INGRESS_RULE:
        return [
            Permission(
                label="this rule",
                security_group_id=props.get("securityGroupId"),
                cidrs=_strings(_get(props, "cidrIpv4")) + _strings(_get(props, "cidrIpv6")),
                prefix_lists=_strings(_get(props, "prefixListId")),
                source_groups=_strings(_get(props, "referencedSecurityGroupId")),
                self_reference=False,
                consent=consent,
                ports=_ports(props),
                port_range=_tcp_range(props),
            )
        ]
    if resource_type == SECURITY_GROUP_RULE:
        if _get(props, "type") != "ingress":
            return []
        return [
            Permission(
                label="this rule",
                security_group_id=props.get("securityGroupId"),
                cidrs=_strings(_get(props, "cidrBlocks")) + _strings(_get(props, "ipv6CidrBlocks")),
                prefix_lists=_strings(_get(props, "prefixListIds")),
                source_groups=_strings(_get(props, "sourceSecurityGroupId")),
                self_reference=_true(_get(props, "self")),
                consent=consent,
                ports=_ports(props),
                port_range=_tcp_range(props),
            )
        ]
    if resource_type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        group_id = resource_id or props.get("id")
        permissions = []
        for index, rule in enumerate(_get(props, "ingress") or ()):
            permissions.append(
                Permission(
                    label=f"inline ingress rule #{index + 1}",
                    security_group_id=str(group_id) if group_id else None,
                    cidrs=_strings(rule.get("cidrBlocks")) + _strings(rule.get("ipv6CidrBlocks")),
                    prefix_lists=_strings(rule.get("prefixListIds")),
                    source_groups=_strings(rule.get("securityGroups")),
                    self_reference=_true(rule.get("self")),
                    consent=consent,
                    ports=_ports(rule),
                    port_range=_tcp_range(rule),
                )
            )
        return permissions
    return []


# --- resource validators -------------------------------------------------------------------------------

Props = Mapping[str, Any]
ResourceValidator = Callable[[str, Props, Context], list[str]]
Resource = Mapping[str, Any]
StackValidator = Callable[[Sequence[Resource], Context], list[str]]


def rds_storage_encrypted(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type not in DATABASES or _true(_get(props, "storageEncrypted")):
        return []
    return [
        "storageEncrypted is not true: the database, its backups and snapshots would be stored "
        "unencrypted. Set storage_encrypted=True (it cannot be switched on later without a restore)."
    ]


def rds_not_public(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type not in (*DATABASES, CLUSTER_INSTANCE) or not _true(_get(props, "publiclyAccessible")):
        return []
    return [
        "publiclyAccessible is true: the database would get a public address. Set "
        "publicly_accessible=False; clients reach it through the tasks (or SSM port forwarding)."
    ]


def rds_force_ssl(resource_type: str, props: Props, context: Context) -> list[str]:
    # Aurora PostgreSQL sets rds.force_ssl in the cluster parameter group (its instance groups
    # do not carry it); RDS PostgreSQL in the instance's group, Multi-AZ DB clusters in the cluster's.
    instance_group = resource_type == PARAMETER_GROUP and str(_get(props, "family") or "").lower().startswith(
        "postgres"
    )
    cluster_group = resource_type == CLUSTER_PARAMETER_GROUP and _is_postgres_family(_get(props, "family"))
    if resource_type in (PARAMETER_GROUP, CLUSTER_PARAMETER_GROUP):
        repeated = repeated_parameters(_get(props, "parameters"))
        if repeated:
            return [
                f"parameter group lists {', '.join(repeated)} more than once; the provider keeps a set and "
                "the value AWS applies is not defined. List each parameter once (rds.force_ssl = 1)."
            ]
    if instance_group or cluster_group:
        family = _get(props, "family")
        value = _force_ssl_value(_get(props, "parameters"))
        if value == "1":
            return []
        shown = "is not set" if value is None else f"is {value!r}"
        return [
            f"PostgreSQL parameter group (family {family}): rds.force_ssl {shown}, so the database "
            "would accept plain-text connections. Add the parameter rds.force_ssl = 1."
        ]
    if resource_type == RDS_CLUSTER and _is_postgres(_get(props, "engine")):
        group = _get(props, "dbClusterParameterGroupName")
        if not group or str(group).startswith("default."):
            shown = "is not set" if not group else f"is {group}, a default group"
            return [
                f"dbClusterParameterGroupName {shown}: the cluster would use the engine's default cluster "
                "parameter group, which this stack cannot make TLS-only. Use the stack's cluster parameter "
                "group with rds.force_ssl = 1."
            ]
    if resource_type == RDS_INSTANCE and _is_postgres(_get(props, "engine")):
        group = _get(props, "parameterGroupName")
        if not group:
            return [
                "parameterGroupName is not set: the instance would use the engine's default parameter "
                "group, which this stack cannot make TLS-only. Use the stack's group with rds.force_ssl = 1."
            ]
        if str(group).startswith("default."):
            return [
                f"parameterGroupName is {group}, a default parameter group this stack cannot make "
                "TLS-only. Use the stack's group with rds.force_ssl = 1."
            ]
    return []


# Container fields whose strings reach the process or AWS's console in plain text.
_PLAIN_TEXT_FIELDS = ("command", "entrypoint", "dockerlabels", "healthcheck", "linuxparameters")


def no_secrets_in_container_environment(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type != TASK_DEFINITION:
        return []
    containers, problems = _containers(props)
    messages = list(problems)
    fix = "pass it in the container's `secrets` (valueFrom a Secrets Manager ARN), not in plain text"
    for container in containers:
        where = f"container {container.get('name', '?')}"
        for entry in _entries(container, "environment"):
            name = str(entry.get("name", ""))
            word = secret_word(name)
            if word:
                messages.append(f"{where}: environment variable {name} has a secret's name (contains {word}); {fix}.")
            value = entry.get("value")
            if isinstance(value, str):
                messages.extend(
                    f"{where}: environment variable {name} holds {what} (value not shown); {fix}, and refer "
                    "to it as a $VAR placeholder."
                    for what in secret_findings(value)
                )
        for entry in _entries(container, "secrets"):
            value = entry.get("valuefrom")
            if isinstance(value, str):
                messages.extend(
                    f"{where}: secret {entry.get('name', '?')} has {what} as its valueFrom (value not shown); "
                    "valueFrom names a Secrets Manager or SSM parameter ARN, never the secret itself."
                    for what in secret_findings(value)
                )
        labels = container.get("dockerlabels")
        if isinstance(labels, Mapping):
            for label in labels:
                word = secret_word(str(label))
                if word:
                    messages.append(f"{where}: docker label {label} has a secret's name (contains {word}); {fix}.")
        for field in _PLAIN_TEXT_FIELDS:
            found = sorted({what for text in _strings_in(container.get(field)) for what in secret_findings(text)})
            messages.extend(
                f"{where}: {field} holds {what} (value not shown); {fix}, and refer to it as a $VAR placeholder."
                for what in found
            )
    return messages


def no_internal_ports(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type != TASK_DEFINITION:
        return []
    containers, problems = _containers(props)
    messages = list(problems)
    for container in containers:
        where = f"container {container.get('name', '?')}"
        for mapping in _entries(container, "portmappings"):
            ports = {int(n) for k in ("containerport", "hostport") if (n := _number(mapping.get(k))) is not None}
            span = str(mapping.get("containerportrange") or "").replace(" ", "")
            if re.fullmatch(r"\d+-\d+", span):
                low, high = (int(p) for p in span.split("-"))
                ports |= {p for p in NEVER_MAPPED_PORTS if low <= p <= high}
            for port in sorted(ports & INTERNAL_PORTS):
                messages.append(
                    f"{where} maps port {port}, one of Plano's internal ports ({_INTERNAL_PORT_LIST}; 9901 is "
                    "Envoy's admin interface, which shows the config with its secrets). Map only the listener "
                    "ports of your Plano config."
                )
            for port in sorted(ports & COLLECTOR_PORTS):
                messages.append(
                    f"{where} maps port {port}, one of the collector sidecar's ports ({_COLLECTOR_PORT_LIST}: "
                    "OTLP, health, its own metrics, pprof, zpages), which serve the task's loopback only. Map "
                    "only the listener ports of your Plano config."
                )
    return messages


def no_credential_logging(resource_type: str, props: Props, context: Context) -> list[str]:
    """No container setting that makes Plano or PgBouncer log a password."""
    if resource_type != TASK_DEFINITION:
        return []
    containers, problems = _containers(props)
    messages = list(problems)
    for container in containers:
        where = f"container {container.get('name', '?')}"
        for entry in _entries(container, "environment"):
            name, value = str(entry.get("name", "")), entry.get("value")
            if not isinstance(value, str):
                continue
            if name.upper() in LOG_LEVEL_VARS and value.strip().lower() not in SAFE_LOG_LEVELS:
                messages.append(
                    f"{where}: {name}={value!r} can turn on Plano's debug logging, which prints the database "
                    f"connection string with its password; use one of {', '.join(SAFE_LOG_LEVELS)}."
                )
            if name.upper() == PGBOUNCER_INI_VAR:
                for level in _PGBOUNCER_VERBOSE.findall(value):
                    if int(level) > 0:
                        messages.append(
                            f"{where}: the PgBouncer config it writes sets verbose = {level}; PgBouncer then logs "
                            "the password it read from its auth file. Remove the verbose setting."
                        )
        words = [w for field in ("entrypoint", "command") for w in _strings_in(container.get(field))]
        if any("pgbouncer" in w for w in words) and any(re.fullmatch(r"-v+|--verbose", w) for w in words):
            messages.append(
                f"{where}: PgBouncer runs with -v (verbose), which logs the password it read from its auth "
                "file. Remove the flag."
            )
    return messages


def no_open_ingress(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type not in INGRESS_TYPES:
        return []
    messages = []
    for permission in ingress_permissions(resource_type, props):
        opened = permission.open_cidrs
        if opened and not (permission.consent or context.allow_public_ingress):
            messages.append(
                f"{permission.label} admits {' and '.join(opened)} (the whole internet) on {permission.ports}. "
                "Admit known networks (plano:allowedCidrs) or a security group. Only the load balancer may be "
                f"public, and only with explicit consent: the rule tagged {PUBLIC_INGRESS_TAG}={PUBLIC_INGRESS_ALLOWED}"
                " or the policy config allowPublicIngress=true."
            )
    return messages


def log_group_retention(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type != LOG_GROUP:
        return []
    days = _number(_get(props, "retentionInDays"))
    if days is not None and days > 0:
        return []
    shown = "not set" if days is None else f"{int(days)}"
    return [
        f"retentionInDays is {shown}: the logs would be kept forever. Set a retention "
        "(plano:logRetentionDays; the profiles use 7 days in dev and 90 in prod)."
    ]


def prod_deletion_protection(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type in DATABASES and _is_prod(props, context):
        messages = []
        if not _true(_get(props, "deletionProtection")):
            messages.append("deletionProtection is not true on a prod database. Set deletion_protection=True.")
        if context.protect is False:
            messages.append("the prod database is not protected in Pulumi. Register it with protect=True.")
        return messages
    if (
        resource_type in LOAD_BALANCERS
        and _is_prod(props, context)
        and not _true(_get(props, "enableDeletionProtection"))
    ):
        return ["enableDeletionProtection is not true on a prod load balancer. Set enable_deletion_protection=True."]
    return []


def prod_multi_az(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type != RDS_INSTANCE or not _is_prod(props, context) or _true(_get(props, "multiAz")):
        return []
    return ["multiAz is not true on a prod database: one zone's outage would stop Plano. Set multi_az=True."]


def prod_backups_7_days(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type not in DATABASES or not _is_prod(props, context):
        return []
    days = _number(_get(props, "backupRetentionPeriod"))
    if days is not None and days >= 7:
        return []
    shown = "not set" if days is None else f"{int(days)} days"
    return [f"backupRetentionPeriod is {shown} on a prod database; keep 7 days or more (plano:dbBackupRetentionDays)."]


def prod_final_snapshot(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type not in DATABASES or not _is_prod(props, context):
        return []
    messages = []
    if _true(_get(props, "skipFinalSnapshot")):
        messages.append("skipFinalSnapshot is true on a prod database: deleting it would lose the data.")
    if not _get(props, "finalSnapshotIdentifier"):
        messages.append("finalSnapshotIdentifier is not set on a prod database, so no final snapshot can be taken.")
    return messages


def prod_images_pinned_by_digest(resource_type: str, props: Props, context: Context) -> list[str]:
    if resource_type != TASK_DEFINITION or not _is_prod(props, context):
        return []
    containers, problems = _containers(props)
    messages = list(problems)
    for container in containers:
        image = str(container.get("image", ""))
        if not _DIGEST.search(image):
            messages.append(
                f"container {container.get('name', '?')}: image {image} is not pinned by digest (a tag can "
                f"be moved to another image). Use {image}@sha256:<digest>; `docker buildx imagetools "
                f"inspect {image}` prints the digest."
            )
    return messages


# --- stack validators --------------------------------------------------------------------------------------


def _props(resource: Resource) -> Mapping[str, Any]:
    props = resource.get("props")
    return props if isinstance(props, Mapping) else {}


def _label(resource: Resource) -> str:
    return f"{resource.get('type')} {resource.get('name')}"


def _resource_id(resource: Resource) -> str | None:
    value = resource.get("id") or _props(resource).get("id")
    return str(value) if value else None


class _Deferred:
    """Checks that go on past unknown values; if nothing was found, the first unknown is raised."""

    def __init__(self) -> None:
        self.unknown: NotKnownYetError | None = None

    def each(self, resources: Iterable[Resource], wanted: Iterable[str]) -> Iterator[Resource]:
        types = set(wanted)
        for resource in resources:
            if resource.get("type") in types:
                yield resource

    def group_of(self, permission: Permission) -> str | None:
        """The group a permission opens, or None (remembered, if only because it is not known yet)."""
        if is_unknown(permission.security_group_id):
            self.unknown = self.unknown or NotKnownYetError(str(permission.security_group_id), ["securityGroupId"])
            return None
        return permission.security_group_id

    def attempt(self, check: Callable[[], list[str]]) -> list[str]:
        try:
            return check()
        except NotKnownYetError as unknown:
            self.unknown = self.unknown or unknown
            return []

    def result(self, messages: list[str]) -> list[str]:
        if not messages and self.unknown is not None:
            raise self.unknown
        return messages


def rds_force_ssl_attached(resources: Sequence[Resource], context: Context) -> list[str]:
    """Each PostgreSQL instance or cluster names a parameter group of this stack with rds.force_ssl = 1.

    An instance needs its (instance) parameter group to set it; a cluster (Aurora PostgreSQL or a
    Multi-AZ DB cluster) its cluster parameter group.
    """
    deferred = _Deferred()
    groups: dict[tuple[str, str], Resource] = {}
    for group in deferred.each(resources, [PARAMETER_GROUP, CLUSTER_PARAMETER_GROUP]):

        def register(g: Resource = group) -> list[str]:
            name = _get(_props(g), "name") or _resource_id(g)
            if name:
                groups[(str(g["type"]), str(name))] = g
            return []

        deferred.attempt(register)

    def check(database: Resource) -> list[str]:
        props = _props(database)
        if not _is_postgres(_get(props, "engine")):
            return []
        cluster = database.get("type") == RDS_CLUSTER
        key = "dbClusterParameterGroupName" if cluster else "parameterGroupName"
        kind = CLUSTER_PARAMETER_GROUP if cluster else PARAMETER_GROUP
        name = _get(props, key)
        if not name:
            return [f"{_label(database)} has no {key}, so it does not use a TLS-only group."]
        group = groups.get((kind, str(name)))
        if group is None:
            return [
                f"{_label(database)} uses parameter group {name}, which this stack does not manage, so "
                "rds.force_ssl = 1 cannot be verified. Use the stack's own parameter group."
            ]
        repeated = repeated_parameters(_get(_props(group), "parameters"))
        if repeated:
            return [
                f"{_label(database)} uses parameter group {name}, which lists {', '.join(repeated)} more "
                "than once; which value AWS applies is not defined. List each parameter once."
            ]
        value = _force_ssl_value(_get(_props(group), "parameters"))
        if value != "1":
            return [
                f"{_label(database)} uses parameter group {name}, where rds.force_ssl is "
                f"{'not set' if value is None else repr(value)}; it must be 1."
            ]
        return []

    messages: list[str] = []
    for database in deferred.each(resources, DATABASES):
        messages += deferred.attempt(functools.partial(check, database))
    return deferred.result(messages)


def _permissions(deferred: _Deferred, resources: Sequence[Resource]) -> list[tuple[Resource, Permission]]:
    found: list[tuple[Resource, Permission]] = []
    for resource in deferred.each(resources, INGRESS_TYPES):

        def collect(r: Resource = resource) -> list[str]:
            found.extend((r, p) for p in ingress_permissions(str(r["type"]), _props(r), _resource_id(r)))
            return []

        deferred.attempt(collect)
    return found


def db_ingress_only_from_security_groups(resources: Sequence[Resource], context: Context) -> list[str]:
    """The database's security groups admit other security groups only: no CIDR, no prefix list."""
    deferred = _Deferred()
    messages: list[str] = []
    db_groups: set[str] = set()
    for instance in deferred.each(resources, DATABASES):

        def groups_of(i: Resource = instance) -> list[str]:
            ids = _strings(_get(_props(i), "vpcSecurityGroupIds"))
            db_groups.update(ids)
            if not ids:
                return [
                    f"{_label(i)} has no vpcSecurityGroupIds, so the VPC's default security group would "
                    "apply. Attach the stack's database security group."
                ]
            return []

        messages += deferred.attempt(groups_of)
    service_groups: set[str] = set()
    for service in deferred.each(resources, [ECS_SERVICE]):

        def service_groups_of(svc: Resource = service) -> list[str]:
            network = _get(_props(svc), "networkConfiguration")
            service_groups.update(_strings(network.get("securityGroups")) if isinstance(network, Mapping) else ())
            return []

        deferred.attempt(service_groups_of)
    for resource, permission in _permissions(deferred, resources):
        if deferred.group_of(permission) not in db_groups:
            continue
        strangers = [g for g in permission.source_groups if g not in service_groups]
        if strangers or permission.self_reference:
            admitted = ", ".join(strangers) if strangers else "the group itself"
            messages.append(
                f"{_label(resource)}: {permission.label} admits security group {admitted} on {permission.ports} "
                f"into the database's security group {permission.security_group_id}, which is not the service's. "
                "The database admits only the service's security group."
            )
        sources = permission.cidrs + permission.prefix_lists
        if sources or not (permission.source_groups or permission.self_reference):
            admitted = ", ".join(sources) if sources else "no security group"
            messages.append(
                f"{_label(resource)}: {permission.label} admits {admitted} on {permission.ports} into the "
                f"database's security group {permission.security_group_id}. The database admits only "
                "security groups (the service's), never CIDRs or prefix lists."
            )
    return deferred.result(messages)


def security_groups_owned_by_the_stack(resources: Sequence[Resource], context: Context) -> list[str]:
    """The service, the database and the load balancer carry only security groups this stack creates.

    A group the stack did not create (any ``sg-...`` from elsewhere) has rules nobody here checks:
    on the service it could admit anyone to Envoy's admin port, on the database any CIDR.
    """
    deferred = _Deferred()
    own: set[str] = set()
    groups = list(deferred.each(resources, [SECURITY_GROUP]))
    for group in groups:
        group_id = _resource_id(group)
        if is_unknown(group_id):
            deferred.unknown = deferred.unknown or NotKnownYetError(str(group_id), [str(group.get("name")), "id"])
        elif group_id:
            own.add(group_id)
    if groups and not own and deferred.unknown is None:
        return []  # an offline plan: its groups carry no ids to compare with
    messages: list[str] = []

    def check(resource: Resource) -> list[str]:
        props = _props(resource)
        if resource.get("type") == ECS_SERVICE:
            network = _get(props, "networkConfiguration")
            groups = _strings(network.get("securityGroups")) if isinstance(network, Mapping) else ()
        elif resource.get("type") in DATABASES:
            groups = _strings(_get(props, "vpcSecurityGroupIds"))
        else:
            groups = _strings(_get(props, "securityGroups"))
        foreign = [g for g in groups if g not in own]
        if not foreign:
            return []
        return [
            f"{_label(resource)} carries security group {', '.join(foreign)}, which this stack does not create; "
            "its rules are checked by no one here. Attach only the stack's own groups."
        ]

    for resource in deferred.each(resources, [ECS_SERVICE, *DATABASES, *LOAD_BALANCERS]):
        messages += deferred.attempt(functools.partial(check, resource))
    return deferred.result(messages)


def public_ingress_only_on_load_balancer(resources: Sequence[Resource], context: Context) -> list[str]:
    """A rule open to the internet (allowed with consent) must be on a load balancer's security group."""
    deferred = _Deferred()
    lb_groups: set[str] = set()
    for balancer in deferred.each(resources, LOAD_BALANCERS):

        def register(b: Resource = balancer) -> list[str]:
            lb_groups.update(_strings(_get(_props(b), "securityGroups")))
            return []

        deferred.attempt(register)
    messages = []
    for resource, permission in _permissions(deferred, resources):
        if not permission.open_cidrs or (group_id := deferred.group_of(permission)) is None:
            continue
        if group_id not in lb_groups:
            messages.append(
                f"{_label(resource)}: {permission.label} admits {' and '.join(permission.open_cidrs)} into "
                f"security group {permission.security_group_id}, which no load balancer of this stack uses. "
                "Only the load balancer may be open to the internet."
            )
    return deferred.result(messages)


def _listener_ports(deferred: _Deferred, resources: Sequence[Resource]) -> set[int]:
    """The container ports the stack's task definitions map (Plano's listeners), internal ones excluded."""
    ports: set[int] = set()
    for task in deferred.each(resources, [TASK_DEFINITION]):

        def collect(t: Resource = task) -> list[str]:
            containers, _ = _containers(_props(t))
            for container in containers:
                for mapping in _entries(container, "portmappings"):
                    port = _number(mapping.get("containerport"))
                    if port is not None and int(port) not in NEVER_MAPPED_PORTS:
                        ports.add(int(port))
            return []

        deferred.attempt(collect)
    return ports


def service_ingress_only_from_load_balancer(resources: Sequence[Resource], context: Context) -> list[str]:
    """The tasks' security groups admit only the listener ports, from the load balancer's group.

    On Fargate the security group, not the port mappings, decides what is reachable: Envoy's admin
    port 9901 (whose /config_dump shows the substituted secrets) listens on every task address.
    So any inbound permission into a service's group, whatever resource declares it (inline rules,
    aws:ec2/securityGroupRule, aws:vpc/securityGroupIngressRule), must be TCP, within the mapped
    listener ports, and from a load balancer's security group. A stack without a load balancer
    (ingress none) may admit known networks (CIDRs, never the internet) on those ports instead.
    """
    deferred = _Deferred()
    messages: list[str] = []
    service_groups: set[str] = set()
    for service in deferred.each(resources, [ECS_SERVICE]):

        def groups_of(svc: Resource = service) -> list[str]:
            network = _get(_props(svc), "networkConfiguration")
            groups = _strings(network.get("securityGroups")) if isinstance(network, Mapping) else ()
            service_groups.update(groups)
            if not groups:
                return [
                    f"{_label(svc)} names no security group, so the VPC's default group (which admits "
                    "itself on every port) would apply. Give the service its own group."
                ]
            return []

        messages += deferred.attempt(groups_of)
    lb_groups: set[str] = set()
    balancers = list(deferred.each(resources, LOAD_BALANCERS))
    for balancer in balancers:

        def register(b: Resource = balancer) -> list[str]:
            lb_groups.update(_strings(_get(_props(b), "securityGroups")))
            return []

        deferred.attempt(register)
    listeners = _listener_ports(deferred, resources)
    shown = ", ".join(map(str, sorted(listeners))) or "none"
    for resource, permission in _permissions(deferred, resources):
        group_id = deferred.group_of(permission)
        if group_id is None or group_id not in service_groups:
            continue
        problems = []
        span = permission.port_range
        if (
            span is None
            or span[0] > span[1]
            or any(p not in listeners for p in range(span[0], min(span[1], 65535) + 1))
        ):
            problems.append(f"{permission.ports} (only the listener ports {shown}, over TCP)")
        if permission.prefix_lists:
            problems.append(f"prefix list {', '.join(permission.prefix_lists)}")
        if permission.self_reference:
            problems.append("the group itself (every task could reach every other task's internal ports)")
        others = [g for g in permission.source_groups if is_unknown(g) or g not in lb_groups]
        if others:
            problems.append(f"security group {', '.join(others)}, which is not a load balancer's")
        if permission.cidrs and balancers:
            problems.append(f"{', '.join(permission.cidrs)} directly (clients go through the load balancer)")
        if not (permission.cidrs or permission.prefix_lists or permission.source_groups or permission.self_reference):
            problems.append("no source")
        if problems:
            messages.append(
                f"{_label(resource)}: {permission.label} admits {'; '.join(problems)} into the service's "
                f"security group {permission.security_group_id}. On Fargate this group decides what reaches "
                "the tasks, Envoy's admin port 9901 included: admit only the listener ports from the load "
                "balancer's security group (or, without a load balancer, from plano:allowedCidrs)."
            )
    return deferred.result(messages)


def prod_aurora_in_two_zones(resources: Sequence[Resource], context: Context) -> list[str]:
    """A prod Aurora PostgreSQL cluster has at least two instances (a writer and a reader that can
    take over); its storage spans three zones, but with one instance an outage stops Plano.
    (A Multi-AZ DB cluster, engine postgres, always runs in three zones.)"""
    deferred = _Deferred()
    members: dict[str, int] = {}
    for instance in deferred.each(resources, [CLUSTER_INSTANCE]):

        def count(i: Resource = instance) -> list[str]:
            cluster = _get(_props(i), "clusterIdentifier")
            if cluster:
                members[str(cluster)] = members.get(str(cluster), 0) + 1
            return []

        deferred.attempt(count)

    def check(cluster: Resource) -> list[str]:
        props = _props(cluster)
        engine = str(_get(props, "engine") or "").strip().lower()
        if not engine.startswith("aurora-postgresql") or not _is_prod(props, context):
            return []
        names = {str(n) for n in (_get(props, "clusterIdentifier"), _resource_id(cluster)) if n}
        found = sum(members.get(n, 0) for n in names)
        if found >= 2:
            return []
        return [
            f"{_label(cluster)} is a prod Aurora cluster with {found} instance(s); give it at least two "
            "aws.rds.ClusterInstance resources (a writer and a reader in another zone)."
        ]

    messages: list[str] = []
    for cluster in deferred.each(resources, [RDS_CLUSTER]):
        messages += deferred.attempt(functools.partial(check, cluster))
    return deferred.result(messages)


# --- the registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourcePolicy:
    name: str
    description: str
    resource_types: tuple[str, ...]
    validate: ResourceValidator
    config: tuple[str, ...] = ()
    """Policy config keys it reads (PulumiPolicy config schema)."""


@dataclass(frozen=True)
class StackPolicy:
    name: str
    description: str
    validate: StackValidator
    config: tuple[str, ...] = ()


RESOURCE_POLICIES: tuple[ResourcePolicy, ...] = (
    ResourcePolicy(
        "rds-storage-encrypted",
        "RDS storage (instances and clusters) is encrypted at rest.",
        DATABASES,
        rds_storage_encrypted,
    ),
    ResourcePolicy(
        "rds-not-public",
        "No RDS instance, cluster or cluster instance is publicly accessible.",
        (*DATABASES, CLUSTER_INSTANCE),
        rds_not_public,
    ),
    ResourcePolicy(
        "rds-force-ssl",
        "PostgreSQL parameter groups (instance and cluster, Aurora included) set rds.force_ssl = 1 and the "
        "database uses its own group, not a default.",
        (PARAMETER_GROUP, CLUSTER_PARAMETER_GROUP, RDS_INSTANCE, RDS_CLUSTER),
        rds_force_ssl,
    ),
    ResourcePolicy(
        "no-secrets-in-container-environment",
        "No secret in a container's plain text: environment (any key case), docker labels, command, entry "
        "point, health check, Linux parameters, or a secret's valueFrom; secrets go in `secrets`.",
        (TASK_DEFINITION,),
        no_secrets_in_container_environment,
    ),
    ResourcePolicy(
        "no-internal-ports",
        "No container maps one of Plano's internal ports (9901 Envoy admin, 9091, 9092, ...) or the collector's "
        "(4317, 4318, 8888, 13133, ...).",
        (TASK_DEFINITION,),
        no_internal_ports,
    ),
    ResourcePolicy(
        "no-credential-logging",
        "No container turns on logging that prints a password: Plano's LOG_LEVEL/RUST_LOG only error, warn "
        "or info; PgBouncer never verbose.",
        (TASK_DEFINITION,),
        no_credential_logging,
    ),
    ResourcePolicy(
        "no-open-ingress",
        "No security group rule admits 0.0.0.0/0 or ::/0 without explicit consent.",
        INGRESS_TYPES,
        no_open_ingress,
        ("allowPublicIngress",),
    ),
    ResourcePolicy("log-group-retention", "Log groups have a retention.", (LOG_GROUP,), log_group_retention),
    ResourcePolicy(
        "prod-deletion-protection",
        "Prod: the database (instance or cluster) and the load balancer have deletion protection (and the "
        "database protect=True).",
        (*DATABASES, *LOAD_BALANCERS),
        prod_deletion_protection,
        ("profile",),
    ),
    ResourcePolicy("prod-multi-az", "Prod: the database is Multi-AZ.", (RDS_INSTANCE,), prod_multi_az, ("profile",)),
    ResourcePolicy(
        "prod-backups-7-days",
        "Prod: automated backups (instance or cluster) are kept 7 days or more.",
        DATABASES,
        prod_backups_7_days,
        ("profile",),
    ),
    ResourcePolicy(
        "prod-final-snapshot",
        "Prod: deleting the database (instance or cluster) takes a final snapshot.",
        DATABASES,
        prod_final_snapshot,
        ("profile",),
    ),
    ResourcePolicy(
        "prod-images-pinned-by-digest",
        "Prod: every container image is pinned by digest (@sha256:...).",
        (TASK_DEFINITION,),
        prod_images_pinned_by_digest,
        ("profile",),
    ),
)

STACK_POLICIES: tuple[StackPolicy, ...] = (
    StackPolicy(
        "rds-force-ssl-attached",
        "Each PostgreSQL instance or cluster uses a parameter group of this stack that sets rds.force_ssl = 1.",
        rds_force_ssl_attached,
    ),
    StackPolicy(
        "prod-aurora-in-two-zones",
        "Prod: an Aurora PostgreSQL cluster has at least two instances.",
        prod_aurora_in_two_zones,
        ("profile",),
    ),
    StackPolicy(
        "service-ingress-only-from-load-balancer",
        "The tasks' security group admits only the listener ports, from the load balancer's group.",
        service_ingress_only_from_load_balancer,
    ),
    StackPolicy(
        "db-ingress-only-from-security-groups",
        "The database's security group admits only security groups, never CIDRs.",
        db_ingress_only_from_security_groups,
    ),
    StackPolicy(
        "security-groups-owned-by-the-stack",
        "The service, the database and the load balancer carry only security groups this stack creates.",
        security_groups_owned_by_the_stack,
    ),
    StackPolicy(
        "public-ingress-only-on-load-balancer",
        "A rule open to the internet is only ever on a load balancer's security group.",
        public_ingress_only_on_load_balancer,
    ),
)

POLICY_NAMES: tuple[str, ...] = tuple(p.name for p in RESOURCE_POLICIES) + tuple(p.name for p in STACK_POLICIES)


def check_resource(resource: Resource, context: Context = Context()) -> list[str]:
    """Every resource policy on one resource, as ``"<policy>: <type> <name>: <message>"``."""
    resource_type = str(resource.get("type"))
    context = dataclasses.replace(context, protect=resource.get("protect", context.protect))
    return [
        f"{policy.name}: {_label(resource)}: {message}"
        for policy in RESOURCE_POLICIES
        if resource_type in policy.resource_types
        for message in policy.validate(resource_type, _props(resource), context)
    ]


def check_stack(resources: Sequence[Resource], context: Context = Context()) -> list[str]:
    """Every stack policy, as ``"<policy>: <message>"``."""
    return [f"{policy.name}: {message}" for policy in STACK_POLICIES for message in policy.validate(resources, context)]


def check(resources: Sequence[Resource], context: Context = Context()) -> list[str]:
    """The whole pack over a stack's resources: what ``pulumi preview --policy-pack policy`` would report."""
    return [m for r in resources for m in check_resource(r, context)] + check_stack(resources, context)


def violated_policies(messages: Iterable[str]) -> set[str]:
    return {m.split(":", 1)[0] for m in messages}


def resources_from_plan(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of an offline plan (``python -m plano_tools plan --json``) in the validators' shape."""
    resources = document["resources"]
    if not isinstance(resources, list) or not all(isinstance(r, Mapping) for r in resources):
        raise TypeError("resources is not a list of objects")
    return [{"type": r["type"], "name": r["name"], "props": r.get("inputs") or {}} for r in resources]


class PlanFileError(Exception):
    """A plan file the offline tools refused (one line: the file, the problem, the fix)."""


def _load_plan(path: Path) -> Any:
    """The plan document: bounded and checked against docs/plan.schema.json by the offline tools
    when they are installed (the repository's .venv), else read as it is (the shape is checked by
    ``resources_from_plan``)."""
    try:
        from plano_pulumi.core.errors import ConfigError
        from plano_tools.plan_file import load_plan
    except ModuleNotFoundError:  # the pack on its own
        if path.stat().st_size > 8 * 1024 * 1024:
            raise ValueError("larger than 8 MiB") from None
        return json.loads(path.read_text(encoding="utf-8"))
    try:
        return load_plan(path)
    except ConfigError as error:
        raise PlanFileError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Check offline plan documents: ``python policy/validators.py plan-prod.json [--profile prod]``."""
    parser = argparse.ArgumentParser(description="Run the Plano policy pack's validators over offline plans.")
    parser.add_argument("plans", nargs="+", type=Path, help="plan JSON documents")
    parser.add_argument("--profile", choices=("dev", "prod"), help="hold every resource to this profile")
    parser.add_argument("--allow-public-ingress", action="store_true", help="consent to open ingress rules")
    args = parser.parse_args(argv)
    context = Context(profile=args.profile, allow_public_ingress=args.allow_public_ingress)
    failed = False
    for path in args.plans:
        try:
            resources = resources_from_plan(_load_plan(path))
        except (OSError, ValueError, RecursionError, KeyError, TypeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            print(
                f"error: {path}: is not a plan JSON file ({reason}). Fix: create it with "
                "`python -m plano_tools plan --stack STACK --json > FILE`.",
                file=sys.stderr,
            )
            return 2
        except PlanFileError as exc:  # already one line, naming the file and the fix
            print(f"error: {exc}", file=sys.stderr)
            return 2
        messages = check(resources, context)
        for message in messages:
            print(f"{path}: {message}")
        print(f"{path}: {len(messages)} violation(s)")
        failed |= bool(messages)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
