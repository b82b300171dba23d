"""Documents AWS would refuse at create time are refused by the program: a task definition over
ECS's 64 KiB, an execution role whose inline policy is over IAM's 10,240 characters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from plano_pulumi.aws.containers import MAX_TASK_DEFINITION_BYTES, check_task_definition_size
from plano_pulumi.aws.iam import MAX_ROLE_INLINE_POLICY_CHARS, check_role_policy_size, execution_role_policy
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.plano_config import Listener
from plano_pulumi.core.settings.quotas import load_balancer_ports

from tests.conftest import run_with

PLANO = "version: v0.4.0\nlisteners:\n  - {type: model, name: llm, port: 12000}\nmodel_providers:\n"


@pytest.mark.parametrize(
    ("size", "refused"), [(1000, False), (MAX_TASK_DEFINITION_BYTES, False), (MAX_TASK_DEFINITION_BYTES + 1, True)]
)
def test_task_definition_size(size: int, refused: bool) -> None:
    frame = '[{"command": ""}]'
    document = frame[:14] + "a" * (size - len(frame)) + frame[14:]
    json.loads(document)
    assert len(document.encode()) == size
    if refused:
        with pytest.raises(ConfigError, match="64 KiB"):
            check_task_definition_size(document)
    else:
        assert check_task_definition_size(document) == document


def _policy(keys: int) -> str:
    arns = [
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-prod/provider-keys/KEY_{i:03d}-AbCdEf"
        for i in range(keys)
    ]
    return json.dumps(
        execution_role_policy(
            log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/ecs/plano-prod",
            secret_arns=arns,
            kms_key_arn="",
            region="us-east-1",
            images=["katanemo/plano:0.4.36"],
            partition="aws",
        ),
        indent=4,  # white space does not count against IAM's limit
    )


@pytest.mark.parametrize(("keys", "refused"), [(10, False), (90, False), (130, True), (400, True)])
def test_execution_role_policy_size(keys: int, refused: bool) -> None:
    policy = _policy(keys)
    size = sum(not c.isspace() for c in policy)
    assert (size > MAX_ROLE_INLINE_POLICY_CHARS) == refused, size
    if refused:
        with pytest.raises(ConfigError, match="10240"):
            check_role_policy_size(policy)
    else:
        assert check_role_policy_size(policy) == policy


def test_a_plano_config_too_large_for_the_task_definition_stops_the_program(tmp_path: Path) -> None:
    path = tmp_path / "plano.yaml"
    providers = "".join(
        f"  - {{model: openai/model-{i:04d}-{'x' * 40}, access_key: $OPENAI_API_KEY}}\n" for i in range(1200)
    )
    path.write_text(PLANO + providers)
    run = run_with("dev", values={"configFile": str(path)})
    assert isinstance(run.error, ConfigError) and "64 KiB" in str(run.error), run.error
    assert run.resources == [], "refused before any resource"


def test_too_many_provider_keys_for_the_execution_role_stops_the_program() -> None:
    names = [f"PROVIDER_{i:03d}_API_KEY" for i in range(140)]
    run = run_with("dev", values={"providerKeysExternal": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", *names]})
    assert isinstance(run.error, ConfigError) and "10240" in str(run.error), run.error
    assert run.resources == [], "refused before any resource"


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("keys", [0, 2, 60])
def test_the_early_estimates_never_exceed_the_real_documents(stack: str, keys: int) -> None:
    """The settings-time checks use lower bounds, so they never refuse what AWS would accept."""
    from plano_pulumi.core.settings.quotas import role_policy_chars_at_least, task_definition_bytes_at_least
    from plano_tools.simulate import unwrap_secrets

    names = [f"PROVIDER_{i:02d}_API_KEY" for i in range(keys)]
    run = run_with(stack, values={"providerKeysExternal": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", *names]})
    assert run.error is None, run.error
    settings = _settings_of(run)
    definitions = unwrap_secrets(
        run.one("aws:ecs/taskDefinition:TaskDefinition", "task").inputs["containerDefinitions"]
    )
    policy = next(r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "execution-policy")
    policy_chars = sum(not c.isspace() for c in unwrap_secrets(policy.inputs["policy"]))
    assert task_definition_bytes_at_least(settings) <= len(definitions.encode())
    assert role_policy_chars_at_least(settings) <= policy_chars


def _settings_of(run: Any) -> Any:
    from plano_pulumi.core.settings import load_settings

    from tests.conftest import PROJECT

    return load_settings(run.config, project=run.project, stack=run.stack, base_dir=PROJECT, region="us-east-1")


@pytest.mark.parametrize(("https", "others", "ports"), [(True, 0, 2), (False, 0, 1), (True, 3, 5), (False, 48, 49)])
def test_load_balancer_ports_counts_what_the_stack_opens(https: bool, others: int, ports: int) -> None:
    from plano_pulumi.aws.ingress import alb_listeners

    listeners = (Listener("llm", "model", 12000), *[Listener(f"a{i}", "agent", 13000 + i) for i in range(others)])
    assert len(load_balancer_ports(listeners, https=https)) == ports == len(alb_listeners(listeners, https=https))
