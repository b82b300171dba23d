"""Physical names: within each service's rules, stable, and unique between stacks."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.naming import RULES, Names, check_stack_name, fits
from plano_tools.simulate import Run

from tests.conftest import stack_run

# Every name the stacks set, by the service rule it must satisfy.
NAMERS: dict[str, Callable[[Names], str]] = {
    "alb": lambda n: n.alb,
    "target_group": lambda n: n.target_group(12000),
    "rds": lambda n: n.db_identifier,
    "rds_pg": lambda n: n.db_parameter_group("postgres17"),
    "snapshot": lambda n: n.final_snapshot_prefix() + "-0a1b2c3d",
    "iam_role": lambda n: n.execution_role,
    "iam_task_role": lambda n: n.task_role,
    "ecs": lambda n: n.cluster,
    "security_group": lambda n: n.security_group("service"),
    "log_group": lambda n: n.log_group,
    "log_group_rds": lambda n: n.rds_log_group("postgresql"),
    "secret": lambda n: n.db_secret,
    "secret_app": lambda n: n.db_app_secret,
    "secret_key": lambda n: n.provider_key_secret("OPENAI_API_KEY"),
}


def rule_of(namer: str) -> str:
    return {
        "rds_pg": "rds",
        "iam_task_role": "iam_role",
        "log_group_rds": "log_group",
        "secret_key": "secret",
        "secret_app": "secret",
    }.get(namer, namer)


# Pulumi stack names: letters, digits, '-', '_', '.'; up to 100 characters.
stack_names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=1, max_size=100
)


@settings(max_examples=300, deadline=None)
@given(stack=stack_names)
def test_every_name_fits_its_service_and_is_stable(stack: str) -> None:
    names = Names("plano", stack)
    for namer, make in NAMERS.items():
        name = make(names)
        assert fits(rule_of(namer), name), (namer, name)
        assert make(Names("plano", stack)) == name  # same stack, same name, every run


@settings(max_examples=300, deadline=None)
@given(a=stack_names, b=stack_names)
def test_different_stacks_never_share_a_name(a: str, b: str) -> None:
    if a == b:
        return
    for namer, make in NAMERS.items():
        assert make(Names("plano", a)) != make(Names("plano", b)), namer


@pytest.mark.parametrize(
    "stack",
    ["dev", "prod", "pr-1", "pr-12345", "1st", "-lead", "trail-", "a--b", "UPPER", "a_b", "a.b", "x" * 100],
)
def test_awkward_stack_names(stack: str) -> None:
    names = Names("plano", stack)
    assert names.db_identifier[0].isalpha()
    assert "--" not in names.db_identifier and not names.alb.endswith("-")
    for namer, make in NAMERS.items():
        assert fits(rule_of(namer), make(names)), namer


def test_long_names_that_differ_only_at_the_end_stay_unique() -> None:
    stem = "feature-" + "x" * 80
    first, second = Names("plano", stem + "-a"), Names("plano", stem + "-b")
    for make in NAMERS.values():
        assert make(first) != make(second)
    assert len(first.alb) == 32


def test_similar_names_after_cleanup_stay_unique() -> None:
    """'a_b', 'a.b', 'A-B' and 'a-b' all read as a-b; a hash keeps the altered ones apart."""
    variants = ["a-b", "a_b", "a.b", "A-B"]
    assert len({Names("plano", v).alb for v in variants}) == len(variants)
    assert Names("plano", "a-b").alb == "plano-a-b"  # untouched names stay readable


def test_invalid_stack_names_are_refused() -> None:
    for bad in ("", "my stack", "x" * 101, "ünï"):
        with pytest.raises(ConfigError, match="stack name"):
            check_stack_name(bad)


def _physical_names(run: Run) -> list[tuple[str, str]]:
    """(rule, name) for each physical name set in the registered resources."""
    by_type = {
        "aws:lb/loadBalancer:LoadBalancer": "alb",
        "aws:lb/targetGroup:TargetGroup": "target_group",
        "aws:rds/subnetGroup:SubnetGroup": "rds",
        "aws:rds/parameterGroup:ParameterGroup": "rds",
        "aws:iam/role:Role": "iam_role",
        "aws:ecs/cluster:Cluster": "ecs",
        "aws:ecs/service:Service": "ecs",
        "aws:ec2/securityGroup:SecurityGroup": "security_group",
        "aws:cloudwatch/logGroup:LogGroup": "log_group",
        "aws:secretsmanager/secret:Secret": "secret",
    }
    found = [(rule, r.inputs["name"]) for r in run.resources if (rule := by_type.get(r.type))]
    found += [("rds", r.inputs["identifier"]) for r in run.of_type("aws:rds/instance:Instance")]
    found += [("ecs", r.inputs["family"]) for r in run.of_type("aws:ecs/taskDefinition:TaskDefinition")]
    snapshot = [r.inputs.get("finalSnapshotIdentifier") for r in run.of_type("aws:rds/instance:Instance")]
    found += [("snapshot", s) for s in snapshot if s]
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_set_only_names_that_fit(stack: str) -> None:
    found = _physical_names(stack_run(stack))
    assert len(found) >= 10
    for rule, name in found:
        assert fits(rule, name), (rule, name)
        assert re.search(rf"plano-{stack}\b", name), name  # derived from project and stack


def test_rules_cover_every_kind() -> None:
    assert {rule_of(n) for n in NAMERS} == set(RULES)
