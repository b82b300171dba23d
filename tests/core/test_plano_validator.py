"""Plano's own config generator checks the rendered config at preview (core/plano_validator.py)."""

from __future__ import annotations

import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.plano_config import PLANO_INTERNAL_PORTS, connection_string, render_plano_config
from plano_pulumi.core.plano_validator import _cache, check_with_plano, config_as_run, run_plano_generator

from tests.conftest import PROJECT, UPSTREAM, run_with

pytest.importorskip("planoai", reason="planoai is in requirements.txt: run `make setup`")

BASE = (PROJECT / "plano_config.yaml").read_text()


def _run_with_config(tmp_path: Path, text: str) -> Any:
    config = tmp_path / "my_plano.yaml"
    config.write_text(text)
    return run_with("dev", values={"configFile": str(config)})


def test_a_top_level_typo_is_refused_with_file_path_and_fix(tmp_path: Path) -> None:
    document = yaml.safe_load(BASE)
    document["model_provider"] = document.pop("model_providers")
    run = _run_with_config(tmp_path, yaml.safe_dump(document))
    assert isinstance(run.error, ConfigError), run.error
    message = str(run.error)
    assert message.startswith(f"{tmp_path / 'my_plano.yaml'}: model_provider: ")
    assert "'model_provider' was unexpected" in message
    assert "Fix: rename `model_provider` to `model_providers`" in message
    assert "\n" not in message
    assert not run.resources  # refused before any resource


def _listeners(*items: dict[str, Any]) -> dict[str, Any]:
    return {"listeners": list(items)}


# What the project used to check by hand and now leaves to Plano (its schema or its generator).
@pytest.mark.parametrize(
    ("change", "where", "fragment"),
    [
        ({"version": "v9.9"}, "my_plano.yaml: version", "is not one of"),
        ({"listeners": None}, "my_plano.yaml: listeners", "is not valid under any of the given schemas"),
        (_listeners({"type": "router", "name": "a", "port": 12000}), "listeners[0].type", "'router' is not one of"),
        (_listeners({"type": "model", "port": 12000}), "my_plano.yaml: listeners[0]:", "'name' is a required property"),
        (_listeners({"type": "model", "name": "a", "port": "$PORT"}), "listeners[0].port", "is not of type 'integer'"),
        (
            _listeners({"type": "model", "name": "a", "port": 12000}, {"type": "model", "name": "b", "port": 12100}),
            "my_plano.yaml:",
            "only one listener can have model_providers",
        ),
        ({"version": 0.4}, "my_plano.yaml: version", "is not of type 'string'"),
        (
            {"listeners": [{"type": "model", "name": "llm", "port": 12000, "tiemout": "30s"}]},
            "my_plano.yaml: listeners[0].tiemout:",
            "Fix: rename `tiemout` to `timeout`",
        ),
    ],
)
def test_what_plano_refuses_is_refused_at_preview(
    tmp_path: Path, change: dict[str, Any], where: str, fragment: str
) -> None:
    document = {**yaml.safe_load(BASE), **change}
    run = _run_with_config(tmp_path, yaml.safe_dump(document))
    assert isinstance(run.error, ConfigError), run.error
    assert where in str(run.error) and fragment in str(run.error)


def test_the_generators_semantic_checks_count_too(tmp_path: Path) -> None:
    document = yaml.safe_load(BASE)
    document["model_aliases"] = {"fast": {"target": "no-such-model"}}
    run = _run_with_config(tmp_path, yaml.safe_dump(document))
    assert isinstance(run.error, ConfigError), run.error
    assert "no-such-model" in str(run.error) and "Plano" in str(run.error)


def test_the_rendered_config_passes_with_placeholders_unexpanded() -> None:
    rendered = render_plano_config(yaml.safe_load(BASE), source="plano_config.yaml", db_user="plano", db_name="plano")
    verdict = check_with_plano(rendered.text, source="plano_config.yaml")
    assert verdict.ok
    # The generator ran with an empty environment: Envoy's config carries the placeholders as written.
    assert "$DB_PASS" in verdict.envoy_config


def test_plano_checks_exactly_the_config_the_task_runs() -> None:
    document = yaml.safe_load(BASE)
    document["state_storage"] = {"type": "memory"}
    rendered = render_plano_config(document, source="plano_config.yaml", db_user="u", db_name="d")
    body = rendered.text.split("\n", 1)[1]  # after the "# Rendered from ..." line
    assert config_as_run(document, connection_string(db_user="u", db_name="d")) == body


def _bound_ports(envoy_config: str) -> set[int]:
    ports: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            address = node.get("address")
            if isinstance(address, dict) and "socket_address" in address:
                ports.add(int(address["socket_address"]["port_value"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    config = yaml.safe_load(envoy_config)
    walk(config.get("static_resources", {}).get("listeners", []))
    walk(config.get("admin", {}))
    return ports


def test_internal_ports_are_the_ones_plano_binds() -> None:
    rendered = render_plano_config(yaml.safe_load(BASE), source="plano_config.yaml", db_user="plano", db_name="plano")
    verdict = check_with_plano(rendered.text, source="plano_config.yaml")
    listener_ports = {listener.port for listener in rendered.listeners}
    envoy = _bound_ports(verdict.envoy_config)
    assert 9901 in envoy and listener_ports <= envoy
    # 9091 (brightstaff) and 9092 (metrics) are bound by Plano's processes, not by Envoy; Envoy
    # routes to 9091, so it appears as a cluster, not as a listener.
    assert "port_value: 9091" in verdict.envoy_config
    non_envoy = {9091, 9092}
    prompt_listener = {10000}  # always rendered; the project reserves it for non-prompt listeners
    assert set(PLANO_INTERNAL_PORTS) == (envoy - listener_ports - prompt_listener) | non_envoy


@pytest.mark.skipif(not (UPSTREAM / "plano" / "examples").is_dir(), reason="../shared/upstream is not present")
def test_upstream_examples_still_pass() -> None:
    passed = 0
    for path in sorted((UPSTREAM / "plano" / "examples").glob("*.yaml")):
        try:
            rendered = render_plano_config(yaml.safe_load(path.read_text()), source=path.name, db_user="u", db_name="d")
        except ConfigError:
            continue  # the project's own rules (e.g. a listener on 127.0.0.1) are stricter
        assert check_with_plano(rendered.text, source=path.name).ok
        passed += 1
    assert passed >= 4


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.processes
def test_a_missing_planoai_is_a_clear_error(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, f'exec {sys.executable} -S "$@"')  # no site-packages: no planoai
    with pytest.raises(ConfigError) as error:
        run_plano_generator(BASE + "\n# missing\n", python=python)
    assert "not installed" in str(error.value) and "make setup" in str(error.value)


@pytest.mark.processes
def test_a_hanging_generator_hits_the_time_limit(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, "sleep 30")
    with pytest.raises(ConfigError) as error:
        run_plano_generator(BASE + "\n# hang\n", python=python, timeout_s=0.1)
    assert "did not finish" in str(error.value)


@pytest.mark.processes
def test_results_are_cached_by_content(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("plano_pulumi.core.plano_validator.CACHE_DIR", tmp_path / "cache")
    unique = f"\n# {uuid.uuid4()}\n"
    first = run_plano_generator(BASE + unique)
    assert first.ok and len(list((tmp_path / "cache").glob("*.json"))) == 1

    def no_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the generator ran again for a config it already checked")

    monkeypatch.setattr("plano_pulumi.core.plano_validator._run", no_run)  # what runs the generator
    assert run_plano_generator(BASE + unique) is first  # in memory
    _cache.clear()
    assert run_plano_generator(BASE + unique) == first  # from the cache directory
    with pytest.raises(AssertionError, match="ran again"):
        run_plano_generator(BASE + unique + "# changed\n")
