"""The database across changes of a running stack (issue 17, findings 11-13): moving it to another
VPC, switching plano:dbEngine, and the PostgreSQL version each engine runs."""

from __future__ import annotations

from typing import Any

import pytest
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.limits import AURORA_AUTO_PAUSE_MIN_MINOR, PINNED_ENGINE_VERSIONS, SUPPORTED_PG_MAJORS
from plano_tools.simulate import Run, run_program

from tests.conftest import PROJECT, config_for, plain

SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
VPC_A = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "publicSubnetIds": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
    "privateSubnetIds": ["subnet-0a1b2c3d4e5f60721", "subnet-0a1b2c3d4e5f60722"],
    "natGateways": "none",
}
VPC_B = {
    "vpcId": "vpc-0f9e8d7c6b5a40302",
    "publicSubnetIds": ["subnet-0f9e8d7c6b5a40311", "subnet-0f9e8d7c6b5a40312"],
    "privateSubnetIds": ["subnet-0f9e8d7c6b5a40321", "subnet-0f9e8d7c6b5a40322"],
    "natGateways": "none",
}


def run(stack: str = "dev", **values: Any) -> Run:
    result = run_program(PROJECT, stack, config=config_for("dev" if stack.startswith("pr-") else stack, values=values))
    assert result.error is None, result.error
    return result


# --- 11. A database moving to another VPC gets a new subnet group --------------------------------------


@pytest.mark.parametrize("engine", ["rds", "aurora-serverless"])
def test_the_subnet_group_name_changes_with_the_vpc(engine: str) -> None:
    """A fixed name made AWS update the group in place to another VPC's subnets, which it refuses."""
    in_a = plain(run(dbEngine=engine, **VPC_A).one(SUBNET_GROUP).inputs)
    in_b = plain(run(dbEngine=engine, **VPC_B).one(SUBNET_GROUP).inputs)
    assert in_a["name"] != in_b["name"]
    assert VPC_A["vpcId"] in in_a["name"] and VPC_B["vpcId"] in in_b["name"]
    # The same VPC keeps the same name (no replacement on an ordinary `pulumi up`).
    assert plain(run(dbEngine=engine, **VPC_A).one(SUBNET_GROUP).inputs)["name"] == in_a["name"]


def test_a_stack_with_its_own_vpc_names_the_group_after_that_vpc() -> None:
    result = run("dev")
    vpc = result.one("aws:ec2/vpc:Vpc")
    assert plain(result.one(SUBNET_GROUP).inputs)["name"] == f"plano-dev-{vpc.id}"
    assert plain(result.one(CLUSTER).inputs)["dbSubnetGroupName"] == f"plano-dev-{vpc.id}"


# --- 13. Engine versions are full versions, pinned per engine -----------------------------------------


def test_each_engine_runs_its_pinned_full_version_with_no_automatic_minor_upgrades() -> None:
    rds = run("prod")
    instance = plain(rds.one(RDS).inputs)
    assert instance["engineVersion"] == PINNED_ENGINE_VERSIONS["rds"] == "17.6"
    assert instance["autoMinorVersionUpgrade"] is False
    assert plain(rds.one("aws:rds/parameterGroup:ParameterGroup").inputs)["family"] == "postgres17"
    aurora = run("dev")
    assert plain(aurora.one(CLUSTER).inputs)["engineVersion"] == PINNED_ENGINE_VERSIONS["aurora-serverless"]
    for member in aurora.of_type("aws:rds/clusterInstance:ClusterInstance"):
        assert plain(member.inputs)["autoMinorVersionUpgrade"] is False
    family = plain(aurora.one("aws:rds/clusterParameterGroup:ClusterParameterGroup").inputs)["family"]
    assert family == "aurora-postgresql17"


def test_the_pinned_versions_are_full_and_aurora_scales_to_zero() -> None:
    for engine, version in PINNED_ENGINE_VERSIONS.items():
        major, minor = (int(part) for part in version.split("."))
        assert major in SUPPORTED_PG_MAJORS and minor >= 1, engine
    major, minor = (int(part) for part in PINNED_ENGINE_VERSIONS["aurora-serverless"].split("."))
    assert minor >= AURORA_AUTO_PAUSE_MIN_MINOR[major]
    # The local stack's PostgreSQL image follows the RDS major.
    local = run("local")
    assert plain(local.one("docker:index/remoteImage:RemoteImage", "image").inputs)["name"].endswith(":17-alpine")


@pytest.mark.parametrize("engine", ["rds", "aurora-serverless"])
def test_a_full_version_of_the_users_choice_is_kept_with_its_family(engine: str) -> None:
    result = run(dbEngine=engine, dbEngineVersion="16.8")
    db = result.one(RDS if engine == "rds" else CLUSTER)
    assert plain(db.inputs)["engineVersion"] == "16.8"


@pytest.mark.parametrize("engine", ["rds", "aurora-serverless"])
def test_a_bare_major_is_refused_in_one_line_naming_the_full_version(engine: str) -> None:
    result = run_program(PROJECT, "dev", config=config_for("dev", values={"dbEngine": engine, "dbEngineVersion": "17"}))
    assert isinstance(result.error, ConfigError)
    message = str(result.error)
    assert "\n" not in message and "plano:dbEngineVersion" in message and "bare major" in message
    assert f"pulumi config set plano:dbEngineVersion {PINNED_ENGINE_VERSIONS[engine]}" in message
    assert [r for r in result.resources if not r.type.startswith("pulumi:")] == []
