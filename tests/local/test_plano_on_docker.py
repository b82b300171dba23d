"""``PlanoOnDocker`` constructed on its own under mocks: the task on Docker from a program's args."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
from plano_pulumi import PlanoOnDocker
from plano_pulumi.core.errors import ConfigError
from plano_tools.simulate import Run, run_callable

CONFIG_TEXT = """\
version: v0.4.0
listeners:
  - type: model
    name: llm_gateway
    port: 12000
model_providers:
  - model: openai/gpt-4o-mini
    access_key: $OPENAI_API_KEY
    default: true
"""


def construct(args: dict[str, Any] | Callable[[], dict[str, Any]]) -> Run:
    """``args`` may be a function, for args holding Outputs (made inside the program's event loop)."""

    def program() -> None:
        given = args() if callable(args) else args
        plano = PlanoOnDocker("plano", {"config_text": CONFIG_TEXT, "state_retention_days": 0, **given})  # type: ignore[typeddict-item]
        pulumi.export("endpoint_url", plano.endpoint_url)

    return run_callable(program)


def test_the_task_runs_on_docker_with_no_cloud_resource() -> None:
    run = construct(lambda: {"provider_keys": {"OPENAI_API_KEY": pulumi.Output.secret("test-" + "x" * 20)}})
    assert run.error is None, run.error
    types = {r.type for r in run.resources}
    assert "docker:index/container:Container" in types
    assert not [t for t in types if t.startswith("aws:")]
    assert run.outputs["endpoint_url"] == "http://127.0.0.1:12000"


def test_aws_only_args_are_not_args_of_the_docker_target() -> None:
    run = construct({"db_instance_class": "db.t4g.micro"})
    assert isinstance(run.error, ConfigError)
    assert str(run.error).startswith("args.db_instance_class: is not an argument of PlanoOnDocker")
    assert run.resources == []


def test_bad_values_give_the_stack_keys_one_line_errors() -> None:
    run = construct({"local_db_port": 12000, "provider_keys_external": ["OPENAI_API_KEY"]})
    assert isinstance(run.error, ConfigError)
    assert str(run.error).startswith("plano:localDbPort:") and "\n" not in str(run.error)
    assert run.resources == []
