"""The database across changes of a running stack (issue 17, findings 11-13): moving it to another
VPC, switching plano:dbEngine, and the PostgreSQL version each engine runs."""

from __future__ import annotations

from typing import Any

import pytest
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.limits import AURORA_AUTO_PAUSE_MIN_MINOR, PINNED_ENGINE_VERSIONS, SUPPORTED_PG_MAJORS
from plano_tools.simulate import OfflineMocks, Run

from tests.conftest import cached_run, config_for, plain
from tests.stacks.test_day_two import EngineInvokeError

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
    result = cached_run(stack, config_for("dev" if stack.startswith("pr-") else stack, values=values))
    assert result.error is None, result.error
    return result


@pytest.fixture
def deployed_on(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the mocked AWS answer that this stack's database exists on ``engine`` (by its identifier),
    using subnet group ``group`` in VPC ``vpc``."""
    lookups: list[str] = []

    def deploy(engine: str, group: str = "plano-dev", vpc: str = VPC_A["vpcId"]) -> list[str]:
        original = OfflineMocks.call

        def call(self: OfflineMocks, args: Any) -> Any:
            ids = [f["values"][0] for f in args.args.get("filters", [])]
            if args.token == "aws:rds/getClusters:getClusters":
                lookups.append(f"clusters {ids}")
                found = ids if engine == "aurora-serverless" else []
                return {"clusterArns": [], "clusterIdentifiers": found}, []
            if args.token == "aws:rds/getInstances:getInstances":
                lookups.append(f"instances {ids}")
                return {"instanceArns": [], "instanceIdentifiers": ids if engine == "rds" else []}, []
            if args.token == "aws:rds/getInstance:getInstance":
                return {"dbSubnetGroup": group}, []
            if args.token == "aws:rds/getCluster:getCluster":
                return {"dbSubnetGroupName": group}, []
            if args.token == "aws:rds/getSubnetGroup:getSubnetGroup":
                assert args.args["name"] == group
                return {"name": group, "vpcId": vpc}, []
            return original(self, args)

        monkeypatch.setattr(OfflineMocks, "call", call)
        return lookups

    return deploy


# --- 11. A database moving to another VPC gets a new subnet group --------------------------------------


@pytest.mark.parametrize("engine", ["rds", "aurora-serverless"])
def test_a_database_moving_to_another_vpc_gets_a_new_subnet_group(deployed_on: Any, engine: str) -> None:
    """A fixed name made AWS update the group in place to another VPC's subnets, which it refuses."""
    deployed_on(engine, group="plano-dev", vpc=VPC_A["vpcId"])  # created before the name carried the VPC
    staying = run(dbEngine=engine, **VPC_A)
    moving = run(dbEngine=engine, **VPC_B)
    # Staying in its VPC, the database keeps its group (RDS refuses another group of the same VPC).
    assert plain(staying.one(SUBNET_GROUP).inputs)["name"] == "plano-dev"
    # Moving, it gets a new group named after the new VPC: created first, the old one deleted after.
    assert plain(moving.one(SUBNET_GROUP).inputs)["name"] == f"plano-dev-{VPC_B['vpcId']}"
    db = moving.one(RDS if engine == "rds" else CLUSTER)
    assert plain(db.inputs)["dbSubnetGroupName"] == f"plano-dev-{VPC_B['vpcId']}"


def test_after_a_move_the_new_group_stays(deployed_on: Any) -> None:
    deployed_on("aurora-serverless", group=f"plano-dev-{VPC_B['vpcId']}", vpc=VPC_B["vpcId"])
    assert plain(run(**VPC_B).one(SUBNET_GROUP).inputs)["name"] == f"plano-dev-{VPC_B['vpcId']}"


@pytest.mark.parametrize("engine", ["rds", "aurora-serverless"])
def test_a_new_database_names_its_group_after_its_vpc(engine: str) -> None:
    assert plain(run(dbEngine=engine, **VPC_A).one(SUBNET_GROUP).inputs)["name"] == f"plano-dev-{VPC_A['vpcId']}"
    result = run("dev", dbEngine=engine)
    vpc = result.one("aws:ec2/vpc:Vpc")
    assert plain(result.one(SUBNET_GROUP).inputs)["name"] == f"plano-dev-{vpc.id}"


def test_without_rds_read_access_the_group_keeps_the_name_stacks_always_had(monkeypatch: pytest.MonkeyPatch) -> None:
    original = OfflineMocks.call

    def call(self: OfflineMocks, args: Any) -> Any:
        if args.token.startswith("aws:rds/get"):
            raise EngineInvokeError(f"invocation of {args.token} returned an error: AccessDenied: not authorized")
        return original(self, args)

    monkeypatch.setattr(OfflineMocks, "call", call)
    result = run("prod")
    assert plain(result.one(SUBNET_GROUP).inputs)["name"] == "plano-prod"
    assert any("could not read which DB subnet group" in w for w in result.warnings)


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
    result = cached_run("dev", config_for("dev", values={"dbEngine": engine, "dbEngineVersion": "17"}))
    assert isinstance(result.error, ConfigError)
    message = str(result.error)
    assert "\n" not in message and "plano:dbEngineVersion" in message and "bare major" in message
    assert f"pulumi config set plano:dbEngineVersion {PINNED_ENGINE_VERSIONS[engine]}" in message
    assert [r for r in result.resources if not r.type.startswith("pulumi:")] == []


# --- 12. Switching plano:dbEngine needs the stack's confirmation --------------------------------------


def _aws_resources(result: Run) -> list[str]:
    return [r.type for r in result.resources if not r.type.startswith(("pulumi:", "plano:"))]


@pytest.mark.parametrize(("was", "now"), [("rds", "aurora-serverless"), ("aurora-serverless", "rds")])
def test_an_engine_switch_without_confirmation_stops_before_any_resource(deployed_on: Any, was: str, now: str) -> None:
    lookups = deployed_on(was)
    for stack in ("dev", "prod"):
        result = cached_run(stack, config_for(stack, values={"dbEngine": now}))
        assert isinstance(result.error, ConfigError), result.error
        message = str(result.error)
        assert "\n" not in message and message.startswith("plano:dbEngine: ")
        assert f"pulumi config set plano:dbEngineChangeConfirmed {now}" in message
        assert f"pulumi config set plano:dbEngine {was}" in message and "docs/operations.md" in message
        assert _aws_resources(result) == []
    assert lookups and all("plano-dev" in entry or "plano-prod" in entry for entry in lookups)


@pytest.mark.parametrize(("was", "now"), [("rds", "aurora-serverless"), ("aurora-serverless", "rds")])
def test_a_confirmed_engine_switch_goes_ahead(deployed_on: Any, was: str, now: str) -> None:
    deployed_on(was)
    result = cached_run("dev", config_for("dev", values={"dbEngine": now, "dbEngineChangeConfirmed": now}))
    assert result.error is None, result.error
    assert result.of_type(CLUSTER if now == "aurora-serverless" else RDS)


def test_a_confirmation_left_from_an_earlier_switch_does_not_confirm_a_switch_back(deployed_on: Any) -> None:
    deployed_on("aurora-serverless")
    config = config_for("dev", values={"dbEngine": "rds", "dbEngineChangeConfirmed": "aurora-serverless"})
    assert isinstance(cached_run("dev", config).error, ConfigError)


def test_the_same_engine_or_a_new_stack_needs_no_confirmation(deployed_on: Any) -> None:
    deployed_on("aurora-serverless")
    assert cached_run("dev", config_for("dev")).error is None  # dev is Aurora already
    deployed_on("none")
    assert cached_run("dev", config_for("dev", values={"dbEngine": "rds"})).error is None


def test_a_confirmation_must_name_an_engine() -> None:
    result = cached_run("dev", config_for("dev", values={"dbEngineChangeConfirmed": "yes"}))
    assert isinstance(result.error, ConfigError) and "plano:dbEngineChangeConfirmed" in str(result.error)


def test_without_rds_read_access_preview_goes_on_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    original = OfflineMocks.call

    def call(self: OfflineMocks, args: Any) -> Any:
        if args.token.startswith("aws:rds/get"):
            raise EngineInvokeError(f"invocation of {args.token} returned an error: AccessDenied: not authorized")
        return original(self, args)

    monkeypatch.setattr(OfflineMocks, "call", call)
    result = cached_run("prod", config_for("prod"))
    assert result.error is None
    assert any("could not check whether this stack's database runs on another engine" in w for w in result.warnings)
    assert plain(result.one(SUBNET_GROUP).inputs)["name"] == "plano-prod"
