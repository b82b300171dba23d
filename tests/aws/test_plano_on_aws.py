"""``PlanoOnAws`` constructed on its own under mocks, the way a team's own program uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from plano_pulumi import PlanoOnAws
from plano_pulumi.core.errors import ConfigError
from plano_tools.simulate import Run, run_callable
from pulumi.runtime import rpc

CONFIG_TEXT = """\
version: v0.4.0
listeners:
  - type: model
    name: llm_gateway
    port: 12000
    timeout: 300s
model_providers:
  - model: openai/gpt-4o-mini
    access_key: $OPENAI_API_KEY
    default: true
"""
KEYS = {"provider_keys_external": ["OPENAI_API_KEY"]}
CERTIFICATE = "arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
EXISTING = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "public_subnet_ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
    "private_subnet_ids": ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"],
}


def construct(args: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> Run:
    def program() -> None:
        plano = PlanoOnAws("plano", {"config_text": CONFIG_TEXT, **KEYS, **args}, opts)  # type: ignore[typeddict-item]
        pulumi.export("endpoint_url", plano.endpoint_url)

    return run_callable(program)


def _types(run: Run) -> set[str]:
    return {r.type for r in run.resources}


def test_in_an_existing_vpc_it_creates_the_database_secrets_and_service_and_no_network() -> None:
    run = construct({"profile": "dev", **EXISTING})
    assert run.error is None, run.error
    types = _types(run)
    assert {"aws:rds/cluster:Cluster", "aws:secretsmanager/secret:Secret", "aws:ecs/service:Service"} <= types
    assert not {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"} & types
    service = run.one("aws:ecs/service:Service")
    subnets = service.inputs["networkConfiguration"]["subnets"]
    assert set(subnets) <= set(EXISTING["public_subnet_ids"]) | set(EXISTING["private_subnet_ids"])
    assert run.outputs["endpoint_url"].startswith("http://localhost:")


def test_every_resource_belongs_to_the_component() -> None:
    run = construct({"profile": "dev", **EXISTING})
    root = run.one("plano:index:PlanoOnAws")
    by_urn = {r.urn: r for r in run.resources}

    def ancestors(r: Any) -> list[str]:
        chain = []
        while r.parent in by_urn:
            r = by_urn[r.parent]
            chain.append(r.urn)
        return chain

    orphans = [f"{r.type} {r.name}" for r in run.resources if r is not root and root.urn not in ancestors(r)]
    assert orphans == []


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ({"profile": "staging"}, "plano:profile"),
        ({"db_engine": "mysql"}, "plano:dbEngine"),
        ({"vpc_id": "vpc-0a1b2c3d4e5f60718"}, "plano:"),  # subnets missing
        ({"desired_count": "two"}, "plano:desiredCount"),
        ({"db_engin": "rds"}, "args.db_engin"),
        ({"profile": "local"}, "args.profile"),
    ],
)
def test_bad_args_give_one_line_and_create_nothing(args: dict[str, Any], where: str) -> None:
    run = construct(args)
    assert isinstance(run.error, ConfigError), run.error
    message = str(run.error)
    assert "\n" not in message and message.startswith(where)
    assert "Fix:" in message
    assert run.resources == []


def test_an_unknown_arg_names_the_closest_one() -> None:
    run = construct({"db_engin": "rds"})
    assert "did you mean db_engine?" in str(run.error)


def test_a_users_transform_reaches_every_child() -> None:
    seen: list[str] = []

    def tag_everything(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        seen.append(args.type_)
        if "tags" not in args.props:
            return None
        return pulumi.ResourceTransformResult(
            {**args.props, "tags": {**(args.props["tags"] or {}), "team": "ai"}}, args.opts
        )

    run = construct({"profile": "dev", **EXISTING}, pulumi.ResourceOptions(transforms=[tag_everything]))
    assert run.error is None, run.error
    assert "aws:ecs/taskDefinition:TaskDefinition" in seen  # a grandchild (inside PlanoService)
    tagged = [r for r in run.resources if isinstance(r.inputs.get("tags"), dict)]
    assert tagged and all(r.inputs["tags"].get("team") == "ai" for r in tagged)


def test_a_provider_key_given_as_an_output_reaches_its_secret_as_a_secret() -> None:
    value = "test-" + "k" * 24

    def program() -> None:
        PlanoOnAws(
            "plano",
            {
                "config_text": CONFIG_TEXT,
                "profile": "dev",
                "provider_keys": {"OPENAI_API_KEY": pulumi.Output.secret(value)},
            },
        )

    run = run_callable(program)
    assert run.error is None, run.error
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion", "key-OPENAI_API_KEY-value")
    assert rpc.is_rpc_secret(version.inputs["secretString"])
    assert rpc.unwrap_rpc_secret(version.inputs["secretString"]) == value


def test_the_plano_config_as_a_file_path(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(CONFIG_TEXT, encoding="utf-8")
    run = run_callable(lambda: PlanoOnAws("plano", {"config_file": str(config), "profile": "dev", **KEYS}))
    assert run.error is None, run.error
    both = run_callable(lambda: PlanoOnAws("plano", {"config_file": str(config), "config_text": CONFIG_TEXT}))
    assert isinstance(both.error, ConfigError) and "both set" in str(both.error)


def test_a_second_deployment_in_one_stack_is_refused_before_its_resources() -> None:
    def program() -> None:
        PlanoOnAws("one", {"config_text": CONFIG_TEXT, "profile": "dev", **KEYS})
        PlanoOnAws("two", {"config_text": CONFIG_TEXT, "profile": "dev", **KEYS})

    run = run_callable(program)
    assert isinstance(run.error, ConfigError) and "second Plano deployment" in str(run.error)
    assert not [r for r in run.resources if r.name == "two"]


def test_the_children_a_user_may_need_are_attributes() -> None:
    found: dict[str, Any] = {}

    def program() -> None:
        plano = PlanoOnAws(
            "plano",
            {
                "config_text": CONFIG_TEXT,
                "profile": "prod",
                "allowed_cidrs": ["10.20.0.0/16"],
                "certificate_arn": CERTIFICATE,
                **KEYS,
            },
        )
        found.update(vars(plano))

    run_callable(program)
    for name in ("network", "firewall", "database", "provider_keys", "load_balancer", "service", "schedule"):
        assert name in found
    assert found["load_balancer"] is not None and found["schedule"] is None  # prod: a load balancer, no schedule
