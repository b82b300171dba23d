"""Rendering the user's Plano config: state storage, validation, and the $VAR placeholders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.plano_config import (
    NON_STRING_KEYS,
    check_placeholders_provided,
    connection_string,
    load_plano_config,
    render_plano_config,
)

from tests.conftest import PROJECT, UPSTREAM

SIDECAR = "postgresql://plano:$DB_PASS@127.0.0.1:6432/plano"
BASE: dict[str, Any] = {
    "version": "v0.4.0",
    "listeners": [{"type": "model", "name": "llm", "port": 12000}],
    "model_providers": [{"model": "openai/gpt-4o", "access_key": "$OPENAI_API_KEY"}],
}


def render(document: dict[str, Any]) -> Any:
    return render_plano_config(document, source="plano_config.yaml", db_user="plano", db_name="plano")


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_state_storage_is_added_pointing_at_the_sidecar_with_a_placeholder() -> None:
    rendered = render(BASE)
    document = yaml.safe_load(rendered.text)
    assert document["state_storage"] == {"type": "postgres", "connection_string": SIDECAR}
    assert connection_string(db_user="plano", db_name="plano") == SIDECAR
    assert "sslmode" not in rendered.text  # Plano 0.4.36 has no TLS: sslmode=require would not start
    assert rendered.placeholders == {"DB_PASS", "OPENAI_API_KEY"}


def test_memory_state_storage_is_replaced() -> None:
    rendered = render(with_(state_storage={"type": "memory"}))
    assert rendered.replaced_memory_state is True
    assert yaml.safe_load(rendered.text)["state_storage"]["type"] == "postgres"


def test_the_stacks_own_postgres_state_storage_is_accepted() -> None:
    rendered = render(with_(state_storage={"type": "postgres", "connection_string": SIDECAR}))
    assert yaml.safe_load(rendered.text)["state_storage"]["connection_string"] == SIDECAR


def test_postgres_state_storage_pointing_elsewhere_is_refused_without_echoing_it() -> None:
    foreign = "postgresql://admin:hunter2@db.example.com:5432/plano"
    with pytest.raises(ConfigError) as error:
        render(with_(state_storage={"type": "postgres", "connection_string": foreign}))
    message = str(error.value)
    assert "state_storage.connection_string" in message and "hunter2" not in message
    assert "remove `state_storage:`" in message


def test_user_keys_and_order_are_kept() -> None:
    document = with_(model_aliases={"fast": {"target": "gpt-4o"}}, tracing={"random_sampling": 10})
    rendered = yaml.safe_load(render(document).text)
    assert list(rendered)[:4] == ["version", "listeners", "model_providers", "model_aliases"]
    assert rendered["tracing"] == {"random_sampling": 10}


@pytest.mark.parametrize(
    ("document", "where", "fragment"),
    [
        (with_(listeners=[]), "listeners", "is empty"),
        (with_(listeners="12000"), "listeners", "must be a list"),
        (
            with_(
                listeners=[{"type": "model", "name": "a", "port": 12000}, {"type": "agent", "name": "b", "port": 12000}]
            ),
            "listeners",
            "uses port 12000 for both",
        ),
        (with_(listeners=[{"type": "model", "name": "a", "port": 9901}]), "listeners[0].port", "Envoy's admin"),
        (with_(listeners=[{"type": "model", "name": "a", "port": 6432}]), "listeners[0].port", "pgbouncer"),
        (with_(listeners=[{"type": "model", "name": "a", "port": 10000}]), "listeners[0].port", "prompt listener"),
        (
            with_(listeners=[{"type": "model", "name": "a", "port": 80}]),
            "listeners[0].port",
            "outside the usable range",
        ),
        (with_(listeners=[{"type": "agent", "name": "a"}]), "listeners[0].port", "required for agent"),
        (
            with_(listeners=[{"type": "model", "name": "a", "address": "127.0.0.1"}]),
            "listeners[0].address",
            "unreachable",
        ),
        (
            with_(listeners=[{"type": "model", "name": "a", "timeout": "soon"}]),
            "listeners[0].timeout",
            "not a duration",
        ),
        (with_(listeners=[{"type": "prompt", "name": "p", "port": 10000}]), "listeners", "no model or agent listener"),
        (with_(state_storage={"type": "redis"}), "state_storage.type", "not a state storage type"),
        (with_(state_storage={"type": "memory", "ttl": 3}), "state_storage", "unknown key `ttl`"),
        (
            with_(model_providers=[{"model": "m", "access_key": "${OPENAI_API_KEY:-none}"}]),
            "model_providers[0].access_key",
            "does not support",
        ),
        (
            with_(model_providers=[{"model": "m", "access_key": "${OPENAI_API_KEY"}]),
            "model_providers[0].access_key",
            "does not support",
        ),
        (with_(tracing={"random_sampling": "$SAMPLING"}), "tracing.random_sampling", "number or boolean field"),
        (
            with_(model_providers=[{"model": "m", "default": "$IS_DEFAULT"}]),
            "model_providers[0].default",
            "number or boolean field",
        ),
    ],
)
def test_invalid_configs_name_the_place_and_the_fix(document: dict[str, Any], where: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        render(document)
    message = str(error.value)
    assert where in message
    assert fragment in message
    assert "Fix:" in message


def test_prompt_listener_may_use_10000_and_legacy_listeners_are_understood() -> None:
    rendered = render(with_(listeners=[{"type": "prompt", "name": "p", "port": 10000}, {"type": "model", "name": "m"}]))
    assert [(lst.type, lst.port) for lst in rendered.listeners] == [("prompt", 10000), ("model", 12000)]
    legacy = render(
        with_(listeners={"egress_traffic": {"port": 12000, "timeout": "30s"}, "ingress_traffic": {"port": 10000}})
    )
    assert sorted((lst.type, lst.port) for lst in legacy.listeners) == [("model", 12000), ("prompt", 10000)]
    assert legacy.health_listener.port == 12000


def test_placeholders_in_parameter_defaults_are_allowed() -> None:
    target = {
        "name": "t",
        "description": "d",
        "parameters": [{"name": "p", "description": "d", "type": "str", "default": "$REGION"}],
    }
    assert "REGION" in render(with_(prompt_targets=[target])).placeholders


def test_both_placeholder_forms_are_collected() -> None:
    rendered = render(
        with_(model_providers=[{"model": "m", "access_key": "${A_KEY}"}, {"model": "n", "access_key": "x$B_KEY-y"}])
    )
    assert rendered.placeholders == {"DB_PASS", "A_KEY", "B_KEY"}


def test_every_placeholder_must_be_provided() -> None:
    rendered = render(BASE)
    check_placeholders_provided(rendered, source="f.yaml", provided={"DB_PASS": "db", "OPENAI_API_KEY": "key"})
    with pytest.raises(ConfigError) as error:
        check_placeholders_provided(rendered, source="f.yaml", provided={"DB_PASS": "db"})
    message = str(error.value)
    assert "$OPENAI_API_KEY" in message and "empty string" in message
    assert "plano:providerKeys.OPENAI_API_KEY" in message and "plano:providerKeysExternal" in message


def test_egress_ports_come_from_the_urls_in_the_config() -> None:
    document = with_(
        model_providers=[
            {"model": "a/b", "base_url": "http://llm.internal:8080/v1"},
            {"model": "c/d", "base_url": "https://api.example.com"},
            {"model": "e/f", "base_url": "http://localhost:9000"},
        ],
        endpoints={"app": {"endpoint": "app.internal:7000"}, "local": {"endpoint": "127.0.0.1:80"}},
    )
    assert render(document).egress_ports == {443, 8080, 7000}
    assert render(BASE).egress_ports == {443}


def test_load_reports_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_plano_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: v0.4.0\nlisteners:\n  - type: model\n   name: x\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_plano_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_plano_config(scalar)


def test_the_example_config_renders() -> None:
    rendered = render(load_plano_config(PROJECT / "plano_config.yaml"))
    assert rendered.placeholders == {"DB_PASS", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"}


# --- Conformance with Plano's own schema (skipped where ../shared is absent) ---------------------------

SCHEMA = UPSTREAM / "plano" / "plano_config_schema.yaml"
needs_upstream = pytest.mark.skipif(not SCHEMA.is_file(), reason="../shared/upstream is not present")


def _schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA.read_text())


@needs_upstream
def test_rendered_configs_validate_against_plano_schema() -> None:
    import jsonschema

    validator = jsonschema.Draft7Validator(_schema())
    examples = sorted((UPSTREAM / "plano" / "examples").glob("*.yaml"))
    assert examples
    rendered_any = 0
    for path in [*examples, PROJECT / "plano_config.yaml"]:
        document = yaml.safe_load(path.read_text())
        try:
            rendered = render(document)
        except ConfigError:
            continue  # e.g. an upstream example listening on 127.0.0.1; our rules are stricter
        errors = sorted(e.message for e in validator.iter_errors(yaml.safe_load(rendered.text)))
        assert errors == [], f"{path.name}: {errors}"
        rendered_any += 1
    assert rendered_any >= 4


@needs_upstream
def test_non_string_keys_cover_every_number_and_boolean_field_of_the_schema() -> None:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in (node.get("properties") or {}).items():
                if isinstance(value, dict) and value.get("type") in ("integer", "number", "boolean"):
                    found.add(key)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_schema())
    assert found, "schema walk found nothing"
    assert found <= NON_STRING_KEYS, sorted(found - NON_STRING_KEYS)


def test_a_store_written_for_the_master_user_is_rewritten_for_planos_role() -> None:
    """Configs that spelled out the old connection string (master user) keep working."""
    rendered = render_plano_config(
        with_(state_storage={"type": "postgres", "connection_string": SIDECAR}),
        source="plano_config.yaml",
        db_user="plano_app",
        former_db_user="plano",
        db_name="plano",
    )
    wanted = "postgresql://plano_app:$DB_PASS@127.0.0.1:6432/plano"
    assert yaml.safe_load(rendered.text)["state_storage"]["connection_string"] == wanted
