"""Review environments at team scale: a review stack in the dev stack's network, Aurora Serverless
v2 that pauses, tasks at rest outside working hours, and what an idle day costs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings import ScheduleSettings
from plano_pulumi.core.task_schedule import running_hours_per_week, scheduled_actions
from plano_tools.plan import plan_document
from plano_tools.pricing import idle_day_estimate
from plano_tools.simulate import MOCK_PASSWORD, Run

from policy.validators import check
from tests.conftest import PROJECT, cached_run, config_for, plain, run_with, stack_run
from tests.policy.test_policy import resources_of

VPC = "vpc-0a1b2c3d4e5f60718"
PUBLIC = ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"]
PRIVATE = ["subnet-0a1b2c3d4e5f60721", "subnet-0a1b2c3d4e5f60722"]
# What scripts/ci/review-stack.sh sets from the dev stack's outputs.
SHARED_NETWORK = {"vpcId": VPC, "publicSubnetIds": PUBLIC, "privateSubnetIds": PRIVATE}
DEV_DB_ADDRESS = "plano-dev.cluster-c0ffee123456.us-east-1.rds.amazonaws.com"
DEV_DB_GROUP = "sg-0a1b2c3d4e5f60799"
PROVISIONER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/db-provisioner-AbC123"
DEV_KEY_ARNS = {
    name: f"arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/provider-keys/{name}-XyZ789"
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
}
SHARED_DATABASE = {
    "sharedDatabase": {
        "address": DEV_DB_ADDRESS,
        "port": 5432,
        "securityGroupId": DEV_DB_GROUP,
        "provisionerSecretArn": PROVISIONER_ARN,
    },
    "sharedProviderKeySecretArns": DEV_KEY_ARNS,
    # review-stack.sh gives review stacks a quarter vCPU (REVIEW_TASK_CPU, REVIEW_TASK_MEMORY).
    "cpu": 256,
    "memory": 1024,
}
NETWORK_TYPES = {
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/route:Route",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
}
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
CLUSTER_PARAMS = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
SERVICE = "aws:ecs/service:Service"
SG = "aws:ec2/securityGroup:SecurityGroup"


def review_stack(number: int = 123, **values: Any) -> Run:
    """A review stack `pr-<number>` as the workflow sets it up (cached: the runs are pure)."""
    run = cached_run(f"pr-{number}", config_for("dev", values={**SHARED_NETWORK, **SHARED_DATABASE, **values}))
    assert run.error is None, run.error
    return run


# --- 1. The shared network --------------------------------------------------------------------------


def test_dev_exports_what_a_review_stack_needs() -> None:
    outputs = stack_run("dev").outputs
    assert outputs["vpc_id"].startswith("vpc-")
    assert len(outputs["public_subnet_ids"]) == 2 and len(outputs["private_subnet_ids"]) == 2
    assert set(outputs["public_subnet_ids"]).isdisjoint(outputs["private_subnet_ids"])


def test_a_review_stack_creates_no_network_resource() -> None:
    run = review_stack()
    assert {r.type for r in run.resources} & NETWORK_TYPES == set()
    assert stack_run("dev").of_type("aws:ec2/vpc:Vpc")  # the dev stack itself still creates its VPC


def test_review_stacks_keep_their_own_security_groups() -> None:
    first, second = review_stack(123), review_stack(124)
    names = [{plain(g.inputs)["name"] for g in run.of_type(SG)} for run in (first, second)]
    assert names[0] and names[0].isdisjoint(names[1])
    assert all(plain(g.inputs)["vpcId"] == VPC for g in first.of_type(SG))
    # The database admits only this stack's service group: nothing from another review stack.
    rules = [plain(r.inputs) for r in first.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    db_rules = [r for r in rules if r.get("fromPort") == 5432]
    assert db_rules and all("cidrIpv4" not in r and r.get("referencedSecurityGroupId") for r in db_rules)


def test_review_stack_tasks_egress_through_public_ips_in_a_vpc_without_nat() -> None:
    network = plain(review_stack().one(SERVICE).inputs)["networkConfiguration"]
    assert network["assignPublicIp"] is True
    assert sorted(network["subnets"]) == sorted(PUBLIC)
    ingress = [
        plain(r.inputs) for r in review_stack().of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    ]
    assert not [r for r in ingress if "cidrIpv4" in r or "cidrIpv6" in r]  # no inbound from anywhere


def test_review_stack_tasks_stay_private_when_the_shared_vpc_has_nat() -> None:
    run = review_stack(natGateways="single")
    network = plain(run.one(SERVICE).inputs)["networkConfiguration"]
    assert network["assignPublicIp"] is False and sorted(network["subnets"]) == sorted(PRIVATE)
    assert {r.type for r in run.resources} & NETWORK_TYPES == set()  # no NAT of its own either


def test_a_review_stack_has_no_database_server_or_subnet_group_of_its_own() -> None:
    # Its database lives on dev's server, which sits in the shared private subnets.
    run = review_stack()
    assert run.of_type("aws:rds/subnetGroup:SubnetGroup") == []
    assert plain(run.one(SERVICE).inputs)["networkConfiguration"]["subnets"]  # the tasks still run


# --- 2. Aurora Serverless v2 --------------------------------------------------------------------------


def test_dev_database_is_aurora_serverless_v2_that_pauses_at_zero() -> None:
    run = stack_run("dev")
    assert run.of_type("aws:rds/instance:Instance") == []
    cluster = plain(run.one(CLUSTER).inputs)
    assert cluster["engine"] == "aurora-postgresql" and cluster["engineMode"] == "provisioned"
    scaling = cluster["serverlessv2ScalingConfiguration"]
    assert scaling["minCapacity"] == 0 and scaling["maxCapacity"] == 2
    assert scaling["secondsUntilAutoPause"] == 300
    assert cluster["storageEncrypted"] is True
    instance = plain(run.one(CLUSTER_INSTANCE).inputs)
    assert instance["instanceClass"] == "db.serverless" and instance["publiclyAccessible"] is False
    assert instance["caCertIdentifier"] == "rds-ca-rsa2048-g1"


def test_aurora_cluster_parameter_group_is_tls_only_with_pg_cron() -> None:
    run = stack_run("dev")
    group = plain(run.one(CLUSTER_PARAMS).inputs)
    assert group["family"] == "aurora-postgresql17"
    params = {p["name"]: p["value"] for p in group["parameters"]}
    assert params["rds.force_ssl"] == "1"
    assert "pg_cron" in params["shared_preload_libraries"].split(",")
    assert params["cron.database_name"] == "plano"
    assert plain(run.one(CLUSTER).inputs)["dbClusterParameterGroupName"] == group["name"]


def test_aurora_sits_in_the_private_subnets_behind_the_database_group() -> None:
    run = stack_run("dev")
    private = {r.id for r in run.of_type("aws:ec2/subnet:Subnet") if r.name.startswith("private-")}
    assert set(plain(run.one("aws:rds/subnetGroup:SubnetGroup").inputs)["subnetIds"]) == private
    db_group = next(g for g in run.of_type(SG) if plain(g.inputs)["name"].endswith("-db"))
    assert plain(run.one(CLUSTER).inputs)["vpcSecurityGroupIds"] == [db_group.id]


def test_aurora_secrets_have_the_same_json_and_the_passwords_leak_nowhere() -> None:
    run = stack_run("dev")
    versions = {r.name: plain(r.inputs) for r in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    # Master, Plano's role, and review stacks' provisioning role with its SCRAM verifier (dev's init).
    assert set(versions) == {
        "db-secret-value",
        "db-app-secret-value",
        "provisioner-secret-value",
        "provisioner-verifier-value",
    }
    assert versions.pop("provisioner-verifier-value")["secretString"].startswith("SCRAM-SHA-256$4096:")
    passwords = {}
    for name, version in versions.items():
        value = json.loads(version["secretString"])
        assert set(value) == {"engine", "host", "port", "dbname", "username", "password"}
        assert value["host"] == run.outputs["db_address"] and len(value["password"]) >= 16
        passwords[name] = value["password"]
    assert len(set(passwords.values())) == 3
    assert passwords["db-secret-value"] == MOCK_PASSWORD  # the cluster's master password
    for password in passwords.values():
        carriers = {
            (r.type, key)
            for r in run.resources
            for key, value in r.inputs.items()
            if password in json.dumps(plain(value), default=str)
        }
        assert carriers <= {
            (CLUSTER, "masterPassword"),
            ("aws:secretsmanager/secretVersion:SecretVersion", "secretString"),
        }
        assert password not in json.dumps(plain(run.outputs), default=str)


@pytest.mark.parametrize("variant", ["dev", "review"])
def test_aurora_stacks_pass_the_policy_pack(variant: str) -> None:
    run = stack_run("dev") if variant == "dev" else review_stack()
    assert check(resources_of(run)) == []


def test_prod_on_aurora_is_safe_and_never_pauses() -> None:
    run = run_with("prod", values={"dbEngine": "aurora-serverless"})
    assert run.error is None, run.error
    cluster = run.one(CLUSTER)
    inputs = plain(cluster.inputs)
    assert cluster.protect and inputs["deletionProtection"] is True and inputs["skipFinalSnapshot"] is False
    assert inputs["finalSnapshotIdentifier"].startswith("plano-prod-final-")
    assert inputs["serverlessv2ScalingConfiguration"]["minCapacity"] == 0.5
    assert "secondsUntilAutoPause" not in inputs["serverlessv2ScalingConfiguration"]
    assert len(run.of_type(CLUSTER_INSTANCE)) == 2  # a writer and a failover reader in another tier
    assert run.outputs["log_group_names"][1:] == ["/aws/rds/cluster/plano-prod/postgresql"]


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"dbAutoPauseSeconds": 120}, "plano:dbAutoPauseSeconds"),
        ({"dbAutoPauseSeconds": 90_000}, "plano:dbAutoPauseSeconds"),
        ({"dbEngineVersion": "16.2"}, "plano:dbEngineVersion"),
        ({"dbEngineVersion": "18"}, "plano:dbEngineVersion"),
        ({"dbEngine": "aurora"}, "plano:dbEngine"),
        ({"activeHours": "20:00-08:00"}, "plano:activeHours"),
        ({"activeDays": "FRI-MON"}, "plano:activeDays"),
        ({"scheduleTimezone": "Mars/Olympus"}, "plano:scheduleTimezone"),
    ],
)
def test_bad_aurora_and_schedule_settings_stop_before_any_resource(values: dict[str, Any], key: str) -> None:
    run = run_with("dev", values=values)
    assert isinstance(run.error, ConfigError) and str(run.error).startswith(key)
    assert run.resources == []


def test_prod_refuses_a_schedule() -> None:
    run = run_with("prod", values={"activeHours": "08:00-20:00"})
    assert isinstance(run.error, ConfigError) and str(run.error).startswith("plano:activeHours")


# --- 3. Tasks at rest -------------------------------------------------------------------------------


def test_dev_tasks_sleep_outside_working_hours_in_the_configured_time_zone() -> None:
    run = run_with("dev", values={"scheduleTimezone": "Europe/Berlin", "activeHours": "07:30-19:00"})
    actions = {r.name: plain(r.inputs) for r in run.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")}
    assert actions["wake"]["schedule"] == "cron(30 7 ? * MON,TUE,WED,THU,FRI *)"
    assert actions["sleep"]["schedule"] == "cron(0 19 ? * MON,TUE,WED,THU,FRI *)"
    assert {a["timezone"] for a in actions.values()} == {"Europe/Berlin"}
    assert actions["sleep"]["scalableTargetAction"] == {"minCapacity": 0, "maxCapacity": 0}
    assert actions["wake"]["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 1}
    target = plain(run.one("aws:appautoscaling/target:Target").inputs)
    assert {a["resourceId"] for a in actions.values()} == {target["resourceId"]} == {"service/plano-dev/plano-dev"}
    assert "desiredCount" in run.one(SERVICE).ignore_changes  # `pulumi up` does not wake it at night
    wake = run.outputs["wake_command"]
    assert "--resource-id service/plano-dev/plano-dev" in wake and "--region us-east-1" in wake


def test_always_on_dev_has_no_schedule() -> None:
    run = run_with("dev", values={"activeHours": "always"})
    assert run.of_type("aws:appautoscaling/scheduledAction:ScheduledAction") == []
    assert "wake_command" not in run.outputs


def test_schedule_crons_read_back_to_the_hours_they_leave_on() -> None:
    schedule = ScheduleSettings(start="08:30", stop="18:00", days=("MON", "WED", "FRI"), timezone="UTC")
    wake, sleep = scheduled_actions(schedule, 2)
    assert running_hours_per_week(wake.cron, sleep.cron) == (9.5, 3)
    assert running_hours_per_week(sleep.cron, wake.cron) is None  # stop before start is not a pair


# --- 4. Cost per environment-day -----------------------------------------------------------------------


def test_goals_review_idle_day_and_dev_month() -> None:
    review = plan_document(review_stack())["cost"]
    dev = plan_document(stack_run("dev"))["cost"]
    assert review["idle_day_usd"] <= 0.25
    assert dev["monthly_usd"] <= 10.0


def test_aurora_is_cheaper_than_rds_for_dev_at_the_default_profile() -> None:
    aurora = plan_document(stack_run("dev"))["cost"]["monthly_usd"]
    rds = plan_document(run_with("dev", values={"dbEngine": "rds"}))["cost"]["monthly_usd"]
    assert aurora < rds


def test_usage_profile_changes_the_aurora_figure_not_the_idle_day() -> None:
    base = plan_document(stack_run("dev"))["cost"]
    busy = plan_document(run_with("dev", values={"usageActiveHoursPerDay": 8}))["cost"]
    acu = next(i for i in busy["items"] if "ACU" in i["what"])["monthly_usd"]
    assert acu > next(i for i in base["items"] if "ACU" in i["what"])["monthly_usd"] * 3
    assert busy["idle_day_usd"] == base["idle_day_usd"]


def test_idle_day_of_an_always_on_rds_stack_is_its_monthly_cost_per_day_without_usage() -> None:
    run = run_with("dev", values={"dbEngine": "rds", "activeHours": "always"})
    document = plan_document(run)
    resources, region = document["resources"], "us-east-1"
    idle = idle_day_estimate(resources, region)
    # An always-on instance and task cost the same on an idle day; usage items (log ingestion,
    # API calls) drop out, so the idle day is a little below the monthly average per day.
    assert 0.8 * document["cost"]["monthly_usd"] / (730 / 24) < idle < document["cost"]["monthly_usd"] / (730 / 24)


def test_the_review_workflow_adopts_the_network_stacks_outputs() -> None:
    script = (PROJECT / "scripts/ci/review-stack.sh").read_text()
    up = script[script.index("    up)") : script.index("    destroy)")]
    assert up.index("copy_dev_config") < up.index("share_network") < up.index("pulumi up")
    for output, key in (("vpc_id", "plano:vpcId"), ("_subnet_ids", "SubnetIds")):
        assert output in script and key in script
    # The keys it sets are the ones the tests above give a review stack.
    assert set(SHARED_NETWORK) == {"vpcId", "publicSubnetIds", "privateSubnetIds"}
    workflow = (PROJECT / ".github/workflows/review-stacks.yml").read_text()
    assert "REVIEW_NETWORK_STACK" in workflow


def test_the_goals_table_shows_what_the_plan_says() -> None:
    import re

    page = (PROJECT / "docs/tools.md").read_text()
    idle = re.search(r"idle for a day \| at most 0\.25 USD \| \*\*([\d.]+)\*\* USD/day", page)
    month = re.search(r"dev at the default usage profile \| at most 10 USD/month \| \*\*([\d.]+)\*\*", page)
    assert idle and month
    assert float(idle.group(1)) == plan_document(review_stack())["cost"]["idle_day_usd"]
    assert float(month.group(1)) == plan_document(stack_run("dev"))["cost"]["monthly_usd"]
    readme = (PROJECT / "README.md").read_text().replace("\n", " ")
    assert f"idle for a day costs {idle.group(1)} USD, dev about {month.group(1)} USD a month" in readme


def test_switching_the_engine_moves_the_named_children_instead_of_colliding() -> None:
    aurora, rds = stack_run("dev"), run_with("dev", values={"dbEngine": "rds"})
    for run, other in ((aurora, rds), (rds, aurora)):
        engines = ("plano:database:AuroraServerless", "plano:database:Database")
        component = next(r for r in other.resources if r.type in engines)
        moved = {(r.type, r.name) for r in run.resources if component.urn in r.alias_parents}
        # Same AWS names on both sides (AWS refuses a second subnet group or secret of that name);
        # the credentials component moves with its passwords and secrets (children follow it), and
        # so does review stacks' provisioning role with its secrets.
        assert moved == {
            ("aws:rds/subnetGroup:SubnetGroup", "subnets"),
            ("plano:database:Credentials", "credentials"),
            ("plano:database:ReviewProvisioning", "review-provisioning"),
        }
        assert moved <= {(r.type, r.name) for r in other.resources if r.parent == component.urn}


def test_plan_diff_shows_the_idle_day_change() -> None:
    from plano_tools.plan import plan_diff_markdown

    rds = plan_document(run_with("dev", values={"dbEngine": "rds", "activeHours": "always"}))
    aurora = plan_document(stack_run("dev"))
    markdown = plan_diff_markdown(rds, aurora)
    expected = f"**Idle day:** {rds['cost']['idle_day_usd']:.2f} → {aurora['cost']['idle_day_usd']:.2f} USD"
    assert expected in markdown
    assert rds["cost"]["idle_day_usd"] > aurora["cost"]["idle_day_usd"]


def test_aurora_password_is_a_secret_input_and_the_sidecar_speaks_tls_to_the_cluster() -> None:
    import configparser

    from pulumi.runtime import rpc

    from tests.conftest import containers, env_of

    run = stack_run("dev")
    cluster = run.one(CLUSTER)
    assert rpc.is_rpc_secret(cluster.inputs["masterPassword"])
    for password in run.of_type("random:index/randomPassword:RandomPassword"):
        assert plain(password.inputs)["special"] is False and plain(password.inputs)["length"] >= 32
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(env_of(containers(run)["init"])["PGBOUNCER_INI"])
    assert parser["pgbouncer"]["server_tls_sslmode"] == "verify-full"
    assert run.outputs["db_address"] in parser["databases"]["plano"]
    assert ".cluster-" in run.outputs["db_address"]  # the writer endpoint, not an instance


def test_aurora_fixed_names_are_replaced_delete_first_and_parented() -> None:
    run = stack_run("dev")
    component = run.one("plano:database:AuroraServerless")
    children = {r.type for r in run.resources if r.parent == component.urn}
    assert {CLUSTER, CLUSTER_INSTANCE, CLUSTER_PARAMS, "plano:database:Credentials"} <= children
    assert run.one(CLUSTER).delete_before_replace and run.one(CLUSTER_INSTANCE).delete_before_replace
    assert plain(run.one(CLUSTER).inputs)["allowMajorVersionUpgrade"] is True
    db_group = next(g for g in run.of_type(SG) if plain(g.inputs)["name"].endswith("-db"))
    rules = [
        plain(r.inputs)
        for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if plain(r.inputs)["securityGroupId"] == db_group.id
    ]
    assert len(rules) == 1 and rules[0]["fromPort"] == 5432 and "cidrIpv4" not in rules[0]
