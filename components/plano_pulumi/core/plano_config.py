"""Render Plano's config from the user's ``plano_config.yaml`` (pure: no Pulumi, no I/O but reading).

What the task runs is the user's own file with ``state_storage`` set to postgres and its
connection string pointing at the pgbouncer sidecar on the task's loopback, with the password as
the ``$DB_PASS`` placeholder. Plano 0.4.36 runs GNU ``envsubst`` over its config at start-up, after
schema validation, and a variable that is not set silently becomes an empty string. So this module
also collects every ``$VAR``/``${VAR}`` in the result, refuses the forms Plano cannot handle
(``${VAR:-default}``, placeholders in number or boolean fields), and lets the caller check that the
task provides every variable. Facts behind this: DESIGN.md section 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from plano_pulumi.core import safe_yaml
from plano_pulumi.core.collector import COLLECTOR_PORTS
from plano_pulumi.core.errors import ConfigError, shown_path
from plano_pulumi.core.secret_names import go_fold, secret_findings

DEFAULT_LISTENER_PORTS = {"model": 12000, "prompt": 10000}

# Ports Plano binds inside the task (all on 0.0.0.0); never mapped, never reachable from outside.
# 9901 is Envoy's admin port, whose /config_dump shows the substituted config (secrets included);
# 9091 is brightstaff without Envoy in front. Plano 0.4.36's Envoy template also binds 10001, 11000
# and 12001 for internal traffic, and always renders the prompt listener on 10000.
PLANO_INTERNAL_PORTS = {
    9091: "brightstaff (Plano's state and routing service)",
    9092: "Plano's metrics endpoint",
    9901: "Envoy's admin interface",
    10001: "an internal Envoy listener",
    11000: "an internal Envoy listener",
    12001: "an internal Envoy listener",
}
PROMPT_LISTENER_PORT = 10000
SIDECAR_HOST = "127.0.0.1"
SIDECAR_PORT = 6432
# The collector sidecar's ports too: a listener there would collide with it in the task's namespace.
RESERVED_PORTS = {**PLANO_INTERNAL_PORTS, SIDECAR_PORT: "the pgbouncer sidecar", **COLLECTOR_PORTS}

# The environment variable the task fills with the database password.
DB_PASSWORD_VAR = "DB_PASS"

# Keys whose values Plano's schema types as numbers or booleans. envsubst runs after schema
# validation, so a placeholder there fails validation in the container: refuse it here.
NON_STRING_KEYS = frozenset(
    {
        "port",
        "max_retries",
        "default",
        "passthrough_auth",
        "prefix_affinity",
        "random_sampling",
        "trace_arch_internal",
        "capture_messages",
        "prompt_target_intent_matching_threshold",
        "optimize_context_window",
        "use_agent_orchestrator",
        "disable_signals",
        "orchestrator_model_context_length",
        "enabled",
        "session_affinity",
        "inject_cache_control",
        "min_prefix_tokens",
        "session_ttl_seconds",
        "session_max_entries",
        "max_switch_spend_pct",
        "replenish_on_rebind",
        "cache_read_discount",
        "record_counterfactual",
        "route_on_user_only",
        "refresh_interval",
        "tokens",
        "required",
        "in_path",
        "auto_llm_dispatch_on_response",
    }
)
# `default` is a boolean on providers and listeners' agents, but any type for prompt parameters.
_ANY_TYPE_PARENTS = ("parameters",)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(rf"\$(?:\{{({_NAME})\}}|({_NAME}))")
_BRACED = re.compile(r"\$\{([^}]*)\}?")


class ConnectionMode(StrEnum):
    """How Plano reaches PostgreSQL. The one switch to flip when Plano gains a TLS connector."""

    # Plano 0.4.36 has no TLS (DESIGN.md 2.1): it talks plain text to pgbouncer on loopback and
    # pgbouncer talks TLS to RDS.
    SIDECAR = "sidecar"
    # For a future Plano with a TLS connector: straight to RDS with sslmode=require.
    DIRECT_TLS = "direct-tls"


# Plano 0.4.36 cannot use DIRECT_TLS; keep the choice here so the sidecar can be switched off later.
CONNECTION_MODE = ConnectionMode.SIDECAR


@dataclass(frozen=True)
class Listener:
    """One Plano listener as the task needs it: a name, a type and the container port."""

    name: str
    type: str
    port: int
    timeout_s: int | None = None

    @property
    def serves_healthz(self) -> bool:
        """Envoy answers GET /healthz on model and agent listeners (DESIGN.md 2.6)."""
        return self.type in ("model", "agent")


@dataclass(frozen=True)
class RenderedPlanoConfig:
    """The config the task runs, and what the task must provide for it."""

    text: str
    listeners: tuple[Listener, ...]
    placeholders: frozenset[str]
    replaced_memory_state: bool
    egress_ports: frozenset[int] = frozenset({443})
    """TCP ports Plano calls out to (HTTPS always; others from the URLs in the config)."""

    @property
    def health_listener(self) -> Listener:
        """The listener the health checks probe: the primary one (``primary_listener``)."""
        return primary_listener(self.listeners)


def primary_listener(listeners: Sequence[Listener]) -> Listener:
    """The one listener that stands for the deployment: the load balancer's standard port, the
    endpoint URL and the health check. The model listener when there is one, else the first agent
    listener (both answer ``/healthz``); a validated config always has one of them."""
    for kind in ("model", "agent"):
        for listener in listeners:
            if listener.type == kind:
                return listener
    return listeners[0]


def connection_string(*, db_user: str, db_name: str, mode: ConnectionMode = CONNECTION_MODE, db_host: str = "") -> str:
    """The connection string written into Plano's config: the password only as $DB_PASS."""
    if mode is ConnectionMode.SIDECAR:
        return f"postgresql://{db_user}:${DB_PASSWORD_VAR}@{SIDECAR_HOST}:{SIDECAR_PORT}/{db_name}"
    return f"postgresql://{db_user}:${DB_PASSWORD_VAR}@{db_host}:5432/{db_name}?sslmode=require"


def load_plano_config(path: Path, *, key: str = "plano:configFile") -> dict[str, Any]:
    """Read the user's Plano config, with clear errors for a missing or malformed file."""
    if not path.exists():
        raise ConfigError(
            key,
            f"points at {shown_path(path)}, which does not exist",
            fix=f"create the file, or run `pulumi config set {key} <path to your plano_config.yaml>`",
        )
    if not path.is_file():
        raise ConfigError(
            key,
            f"points at {shown_path(path)}, which is not a regular file (a directory or a device)",
            fix=f"run `pulumi config set {key} <path to your plano_config.yaml>`",
        )
    # Bounded reading (size, aliases, depth, duplicate keys): see components/plano_pulumi/core/safe_yaml.py.
    document = safe_yaml.load(path, what="Plano config (plano_config.yaml)")
    if not isinstance(document, dict):
        raise ConfigError(
            shown_path(path),
            "must be a YAML mapping with `version` and `listeners` at the top level",
            fix="start from the example plano_config.yaml in this repository",
        )
    return document


def load_plano_config_text(text: str, *, key: str = "args.config_text") -> dict[str, Any]:
    """The user's Plano config given as text (a component argument), with the file's limits and errors."""
    document = safe_yaml.load_text(text, Path(key))
    if not isinstance(document, dict):
        raise ConfigError(
            key,
            "must be a YAML mapping with `version` and `listeners` at the top level",
            fix="start from the example plano_config.yaml in this repository",
        )
    return document


def render_plano_config(
    document: Mapping[str, Any], *, source: str, db_user: str, db_name: str, former_db_user: str = ""
) -> RenderedPlanoConfig:
    """Validate the user's config and return the text the task runs.

    ``source`` names the file in error messages. State storage is always postgres behind the
    sidecar; a ``memory`` store is replaced, a postgres store pointing elsewhere is refused.
    ``former_db_user``: a store written for the user Plano used to log in as (the master user)
    is still accepted and rewritten for ``db_user``.
    """
    listeners = _listeners(document.get("listeners"), source)
    wanted = connection_string(db_user=db_user, db_name=db_name)
    accepted = {wanted} | ({connection_string(db_user=former_db_user, db_name=db_name)} if former_db_user else set())
    replaced_memory = _check_state_storage(document.get("state_storage"), source, wanted, accepted)

    rendered = {k: v for k, v in document.items() if k != "state_storage"}
    rendered["state_storage"] = {"type": "postgres", "connection_string": wanted}
    placeholders = _placeholders(rendered, source)
    rendered["listeners"] = _with_durations(rendered.get("listeners"))
    # Nothing the user controls goes into the file except through the YAML emitter: the header is
    # fixed text (a file name with a line break would otherwise inject YAML).
    text = (
        "# Rendered from plano:configFile by this project. Holds no secret: placeholders are filled in "
        "by the container.\n" + yaml.safe_dump(rendered, sort_keys=False, allow_unicode=True, width=100)
    )
    return RenderedPlanoConfig(
        text=text,
        listeners=listeners,
        placeholders=frozenset(placeholders),
        replaced_memory_state=replaced_memory,
        egress_ports=frozenset({443} | _url_ports(rendered)),
    )


def check_placeholders_provided(
    rendered: RenderedPlanoConfig,
    *,
    source: str,
    provided: Mapping[str, str],
) -> None:
    """Fail unless every $VAR in the rendered config is given to the container.

    ``provided`` maps each variable the task sets to how it is set (for messages and tests).
    """
    for name in sorted(rendered.placeholders):
        if name in provided:
            continue
        raise ConfigError(
            source,
            f"uses ${name}, which the task does not provide (Plano would silently use an empty string)",
            fix=(
                f"declare it in exactly one way: a model-provider key as a secret with "
                f"`pulumi config set --secret --path 'plano:providerKeys.{name}' <value>`, or kept "
                f"out of Pulumi with `pulumi config set --path 'plano:providerKeysExternal[N]' {name}`"
                f"; a plain, non-secret value with `pulumi config set --path "
                f"'plano:environment.{name}' <value>`"
            ),
        )


def _listeners(raw: Any, source: str) -> tuple[Listener, ...]:
    where = f"{source}: listeners"
    if isinstance(raw, dict):
        items = _legacy_listeners(raw, where)
    elif isinstance(raw, list):
        items = raw
    else:
        raise ConfigError(
            where,
            "must be a list of listeners",
            value=raw,
            fix="write `listeners:` as a YAML list of `{type, name, port}` entries",
        )
    if not items:
        raise ConfigError(
            where,
            "is empty: Plano needs at least one listener",
            fix="add a model listener, e.g. `- {type: model, name: llm, port: 12000}`",
        )
    listeners = [_listener(item, f"{where}[{i}]") for i, item in enumerate(items)]

    names = [lst.name for lst in listeners]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(
                where,
                f"has two listeners named `{name}`",
                fix="give each listener its own name (the load balancer routes by it)",
            )
    seen: dict[int, str] = {}
    for lst in listeners:
        if lst.port in seen:
            raise ConfigError(
                where,
                f"uses port {lst.port} for both `{seen[lst.port]}` and `{lst.name}`",
                fix="give each listener its own port",
            )
        seen[lst.port] = lst.name
    if not any(lst.serves_healthz for lst in listeners):
        raise ConfigError(
            where,
            "has no model or agent listener, so nothing answers the health check on /healthz",
            fix="add a model listener, e.g. `- {type: model, name: llm, port: 12000}`",
        )
    return tuple(listeners)


def _legacy_listeners(raw: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The deprecated `{ingress_traffic, egress_traffic}` form, as list entries."""
    kinds = {"ingress_traffic": "prompt", "egress_traffic": "model"}
    unknown = sorted(set(raw) - set(kinds))
    if unknown:
        raise ConfigError(
            where,
            f"has unknown key `{unknown[0]}` in the legacy mapping form",
            allowed="ingress_traffic, egress_traffic (or, better, the list form)",
            fix="rewrite `listeners:` as a list of `{type, name, port}` entries",
        )
    items = []
    for key, kind in kinds.items():
        if key in raw:
            body = raw[key] if isinstance(raw[key], dict) else {}
            items.append({**body, "type": kind, "name": key})
    return items


def _listener(item: Any, where: str) -> Listener:
    kind = item.get("type")
    name = item.get("name")
    port = item.get("port", DEFAULT_LISTENER_PORTS.get(kind))
    if port is None:
        raise ConfigError(
            f"{where}.port",
            f"is required for {kind} listeners",
            fix="set `port:` to a free TCP port such as 8001",
        )
    if not isinstance(port, int) or isinstance(port, bool):
        # AWS decodes containerPort as an integer: 12000.0 or "12000" would be refused at deploy.
        raise ConfigError(
            f"{where}.port",
            "is not a whole number",
            value=port,
            allowed="an integer from 1024 to 65535, written without quotes or decimals",
            fix="write e.g. `port: 12000`",
        )
    if not 1024 <= port <= 65535:
        raise ConfigError(
            f"{where}.port",
            "is outside the usable range",
            value=port,
            allowed="1024-65535",
            fix="choose an unprivileged port such as 12000",
        )
    reserved = dict(RESERVED_PORTS)
    if kind != "prompt":
        reserved[PROMPT_LISTENER_PORT] = "Plano's prompt listener, which Envoy always renders"
    if port in reserved:
        raise ConfigError(
            f"{where}.port",
            f"collides with {reserved[port]}, which uses port {port} inside the task",
            value=port,
            allowed=f"any port from 1024 to 65535 except {', '.join(map(str, sorted(reserved)))}",
            fix="choose another port, e.g. 12000 for a model listener",
        )
    address = item.get("address")
    if address not in (None, "0.0.0.0", "::"):
        raise ConfigError(
            f"{where}.address",
            "makes the listener unreachable from the load balancer and health checks",
            value=address,
            allowed="0.0.0.0 or leave it out",
            fix="remove `address:` (the task's security group decides who can connect)",
        )
    return Listener(name=name, type=kind, port=port, timeout_s=_timeout_s(item.get("timeout"), where))


_DURATION = re.compile(r"([0-9]{1,9})(ms|s|m|h)", re.ASCII)
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
MAX_TIMEOUT_S = 24 * 3600


def _timeout_ms(raw: Any, where: str) -> int:
    match = _DURATION.fullmatch(raw) if isinstance(raw, str) else None
    if (
        not match
        or int(match.group(1)) == 0
        or int(match.group(1)) * _DURATION_MS[match.group(2)] > MAX_TIMEOUT_S * 1000
    ):
        raise ConfigError(
            f"{where}.timeout",
            "is not a duration",
            value=raw,
            allowed="a whole number (ASCII digits) with a unit, 1ms to 24h: 1500ms, 30s, 5m, 1h",
            fix="write e.g. `timeout: 300s`",
        )
    return int(match.group(1)) * _DURATION_MS[match.group(2)]


def _timeout_s(raw: Any, where: str) -> int | None:
    if raw is None:
        return None
    return max(1, _timeout_ms(raw, where) // 1000)


def envoy_duration(raw: str) -> str:
    """A checked timeout (``5m``, ``1500ms``) as Envoy reads it, a protobuf Duration in seconds
    with an ``s`` suffix (``300s``, ``1.5s``): Plano copies the text into Envoy's config as written."""
    ms = _timeout_ms(raw, "timeout")
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms / 1000:.3f}".rstrip("0") + "s"


def _with_durations(listeners: Any) -> Any:
    """The listeners with each ``timeout`` written as Envoy reads it (``envoy_duration``)."""
    if isinstance(listeners, list):
        return [
            {**item, "timeout": envoy_duration(item["timeout"])}
            if isinstance(item, dict) and "timeout" in item
            else item
            for item in listeners
        ]
    if isinstance(listeners, dict):
        return {key: _with_durations([body])[0] for key, body in listeners.items()}
    return listeners


def _check_state_storage(raw: Any, source: str, wanted: str, accepted: set[str] | None = None) -> bool:
    """Return True when a memory store is being replaced; refuse a foreign postgres store."""
    where = f"{source}: state_storage"
    if raw is None:
        return False
    if not isinstance(raw, dict):
        raise ConfigError(
            where,
            "must be a mapping",
            value=raw,
            fix="remove `state_storage:`; this project sets it to postgres behind the sidecar",
        )
    extra = sorted(set(raw) - {"type", "connection_string"})
    if extra:
        raise ConfigError(
            where,
            f"has unknown key `{extra[0]}`",
            allowed="type, connection_string",
            fix="remove that key (or the whole `state_storage:` block; this project fills it in)",
        )
    kind = raw.get("type")
    if kind == "memory":
        return True
    if kind != "postgres":
        raise ConfigError(
            f"{where}.type",
            "is not a state storage type",
            value=kind,
            allowed="memory, postgres",
            fix="remove `state_storage:`; this project sets it to postgres behind the sidecar",
        )
    given = raw.get("connection_string")
    if given not in (accepted or {wanted}):
        # Never echo the value: a hand-written connection string may hold a password.
        raise ConfigError(
            f"{where}.connection_string",
            "points at a database other than the one this stack provisions",
            value=given,
            secret=True,
            fix=(
                "remove `state_storage:` from the file; the stack writes a connection string to "
                f"the TLS sidecar ({wanted}) itself"
            ),
        )
    return False


def _walk(node: Any, path: str, parent_key: str | None = None) -> Iterator[tuple[str, str, Any]]:
    """Yield (path, key, value) for every scalar, with the key it sits under."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key), str(key))
            if isinstance(key, str) and "$" in key:
                yield (f"{path}.{key}" if path else key, "<key>", key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]", parent_key)
    else:
        yield (path, parent_key or "", node)


def _placeholders(document: Mapping[str, Any], source: str) -> set[str]:
    found: set[str] = set()
    for path, key, value in _walk(document, ""):
        if not isinstance(value, str) or "$" not in value:
            continue
        for braced in _BRACED.finditer(value):
            inner = braced.group(1)
            if not re.fullmatch(_NAME, inner) or not braced.group(0).endswith("}"):
                raise ConfigError(
                    f"{source}: {path}",
                    f"uses `{braced.group(0)}`, which Plano's envsubst does not support "
                    "(no defaults, no other shell forms; a missing variable becomes empty)",
                    fix="write a plain `${NAME}` or `$NAME` and declare NAME for the task",
                )
        names = {m.group(1) or m.group(2) for m in _PLACEHOLDER.finditer(value)}
        if names and key in NON_STRING_KEYS and not _is_any_type(path):
            raise ConfigError(
                f"{source}: {path}",
                "holds a $VAR placeholder in a number or boolean field; Plano validates types "
                "before it substitutes variables, so this field would fail validation",
                value=value,
                fix="write the literal value instead of a placeholder",
            )
        found |= names
    return found


def _is_any_type(path: str) -> bool:
    return any(f".{parent}[" in path or path.startswith(f"{parent}[") for parent in _ANY_TYPE_PARENTS)


_URL = re.compile(r"^(https?)://(\[[^\]]+\]|[^/:?#]+)(?::(\d+))?", re.IGNORECASE | re.ASCII)
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "0.0.0.0")


def _url_ports(document: Mapping[str, Any]) -> set[int]:
    """Ports of the non-loopback http(s) URLs and host:port endpoints the config calls."""
    ports: set[int] = set()
    for _path, key, value in _walk(document, ""):
        if not isinstance(value, str) or "$" in value:
            continue
        match = _URL.match(value.strip())
        if match:
            scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
        elif key == "endpoint" and re.fullmatch(r"[A-Za-z0-9.-]+:[0-9]+", value.strip(), re.ASCII):
            host, _, port = value.strip().rpartition(":")
            scheme = "http"
        else:
            continue
        if host in _LOOPBACK or host.startswith("127."):
            continue
        ports.add(int(port) if port else (443 if scheme == "https" else 80))
    return {p for p in ports if 0 < p < 65536}


def listener_ports(listeners: Sequence[Listener]) -> list[int]:
    """The container ports the task maps, in config order."""
    return [lst.port for lst in listeners]


# --- credentials in the user's config (new checks; kept apart from the schema checks above) --------

# Variables the stack itself fills with database credentials. They may appear only in
# state_storage.connection_string, which the stack writes: anywhere else (a provider's access_key,
# a base_url, a header) Plano would send the database password to whoever that is.
DATABASE_VARS = frozenset({DB_PASSWORD_VAR})
# Fields whose value is a credential whatever it looks like.
CREDENTIAL_KEYS = frozenset({"access_key", "api_key", "secret_key", "password", "token", "client_secret"})
_HEADER_PARENTS = ("headers", "http_headers", "extra_headers")
# Header values made only of placeholders and auth scheme words are fine (`Bearer $TOKEN`).
_SCHEME_WORDS = re.compile(r"(?i)(?:bearer|basic|token|apikey|api-key|key)")


def _literal_part(value: str) -> str:
    """``value`` without its $VAR placeholders, scheme words and separators."""
    rest = _PLACEHOLDER.sub("", value)
    rest = _SCHEME_WORDS.sub("", rest)
    return re.sub(r"[\s:=,;\"'/.-]+", "", rest)


def _looks_like_credential(literal: str) -> bool:
    """A token-like literal: 12+ characters of one word mixing letters and digits. Words such as
    EMPTY or not-needed (what local model servers accept) are not credentials."""
    return (
        len(literal) >= 12
        and re.fullmatch(r"[A-Za-z0-9_+/=-]+", literal) is not None
        and re.search(r"[0-9]", literal) is not None
        and re.search(r"[A-Za-z]", literal) is not None
    )


def _under_headers(path: str) -> bool:
    return any(f"{parent}." in path for parent in _HEADER_PARENTS)


def check_credentials(document: Mapping[str, Any], *, source: str) -> None:
    """Refuse database variables outside the connection string, and literal credentials.

    The rendered config is a plain-text stack output and sits in the task definition, so it must
    hold placeholders only. ``state_storage`` is left out: the stack writes it and
    ``render_plano_config`` refuses any other.
    """
    body = {k: v for k, v in document.items() if k != "state_storage"}
    for path, key, value in _walk(body, ""):
        if not isinstance(value, str):
            continue
        where = f"{source}: {path}"
        used = {m.group(1) or m.group(2) for m in _PLACEHOLDER.finditer(value)} & DATABASE_VARS
        if used:
            name = sorted(used)[0]
            raise ConfigError(
                where,
                f"uses ${name}, the database password, which may appear only in "
                "state_storage.connection_string (Plano would send it to whoever this field points at)",
                fix=f"remove ${name} from this field; the stack writes the connection string itself. A model "
                "provider's key is declared with pulumi config set --secret --path 'plano:providerKeys.NAME' "
                "<value> and used as $NAME",
            )
        literal = _literal_part(value)
        credential_field = go_fold(key) in CREDENTIAL_KEYS or (
            _under_headers(path) and SECRET_LOOKING_HEADER.search(key) is not None
        )
        findings = secret_findings(value)
        if (credential_field and _looks_like_credential(literal)) or findings:
            what = findings[0] if findings else "a literal credential"
            raise ConfigError(
                where,
                f"holds {what} (value not shown); the rendered config is a plain-text stack output and "
                "part of the task definition, so it may hold only $VAR placeholders",
                fix="declare a provider key: write `$NAME` (e.g. $OPENAI_API_KEY) in the file and run "
                "pulumi config set --secret --path 'plano:providerKeys.NAME' <value> (or list NAME in "
                "plano:providerKeysExternal)",
            )


# Header names that carry credentials (Authorization, X-Api-Key, api-key, X-Auth-Token, ...).
SECRET_LOOKING_HEADER = re.compile(r"(?i)auth|key|token|secret|pass|credential|cookie")
