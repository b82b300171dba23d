"""The cost model: arithmetic on small synthetic plans, the price table's shape, and the real stacks."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from plano_tools.plan import plan_document
from plano_tools.prices import HOURS_PER_MONTH, PRICES
from plano_tools.pricing import estimate, known_instance_classes, supported_regions

from tests.conftest import stack_run

RDS = "aws:rds/instance:Instance"
SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SCALING = "aws:appautoscaling/target:Target"
ALB = "aws:lb/loadBalancer:LoadBalancer"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
SECRET = "aws:secretsmanager/secret:Secret"
KMS = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def resource(type_: str, name: str, /, **inputs: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "parent": None, "inputs": inputs}


def rds(
    instance_class: str = "db.t4g.micro", *, multi_az: bool = False, storage: int = 20, **extra: Any
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "engine": "postgres",
        "instanceClass": instance_class,
        "multiAz": multi_az,
        "allocatedStorage": storage,
        "storageType": "gp3",
        "backupRetentionPeriod": 1,
        **extra,
    }
    return resource(RDS, "instance", **inputs)


def fargate(
    *, provider: str = "FARGATE", arch: str = "X86_64", cpu: str = "1024", memory: str = "2048", count: int = 1
) -> list[dict[str, Any]]:
    task = resource(
        TASK,
        "task",
        family="app",
        cpu=cpu,
        memory=memory,
        runtimePlatform={"operatingSystemFamily": "LINUX", "cpuArchitecture": arch},
    )
    service = resource(
        SERVICE,
        "service",
        name="app",
        taskDefinition="arn:aws:ecs:us-east-1:123456789012:task-definition/app:3",
        desiredCount=count,
        capacityProviderStrategies=[{"capacityProvider": provider, "weight": 1}],
        networkConfiguration={"assignPublicIp": False},
    )
    return [task, service]


def amounts(cost: dict[str, Any]) -> dict[str, float]:
    return {item["what"]: item["monthly_usd"] for item in cost["items"]}


def price(region: str, key: str) -> float:
    return PRICES[region][key]["usd"]


# --- the contract -----------------------------------------------------------------------------


def test_result_has_the_documented_shape() -> None:
    cost = estimate([rds(), *fargate()], "us-east-1")
    assert set(cost) == {
        "monthly_usd",
        "currency",
        "region",
        "prices_as_of",
        "assumptions",
        "items",
        "partial",
        "unpriced",
        "warnings",
    }
    assert cost["partial"] is False and cost["unpriced"] == [] and cost["warnings"] == []
    assert cost["currency"] == "USD" and cost["region"] == "us-east-1"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cost["prices_as_of"])
    assert cost["assumptions"] and all(isinstance(a, str) and a for a in cost["assumptions"])
    for item in cost["items"]:
        assert set(item) == {"resource", "what", "monthly_usd"}
        assert item["resource"] in {f"{RDS}::instance", f"{SERVICE}::service"}
        assert item["monthly_usd"] == round(item["monthly_usd"], 2)


def test_prices_as_of_is_the_oldest_date_of_the_prices_used() -> None:
    cost = estimate([rds()], "us-east-1")
    used = [
        PRICES["us-east-1"][k]["as_of"] for k in ("rds.instance.db.t4g.micro.single-az", "rds.storage.gp3.single-az")
    ]
    assert cost["prices_as_of"] == min(used)


@pytest.mark.parametrize("region", REGIONS)
def test_total_is_the_sum_of_the_items(region: str) -> None:
    plan = [
        rds("db.m7g.large", multi_az=True, storage=100, backupRetentionPeriod=14),
        *fargate(provider="FARGATE_SPOT", arch="ARM64", count=2),
        resource(ALB, "alb", internal=False, subnets=["a", "b"]),
        resource(NAT, "nat-0"),
        resource(EIP, "nat-0"),
        resource(SECRET, "db", name="app/db"),
        resource(KMS, "key"),
        resource(LOG_GROUP, "logs", name="/ecs/app", retentionInDays=30),
    ]
    cost = estimate(plan, region)
    assert math.isclose(cost["monthly_usd"], sum(i["monthly_usd"] for i in cost["items"]), abs_tol=1e-9)
    assert cost["monthly_usd"] == round(cost["monthly_usd"], 2)


def test_an_empty_plan_costs_nothing() -> None:
    cost = estimate([], "eu-west-1")
    assert cost["monthly_usd"] == 0 and cost["items"] == []


# --- RDS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("instance_class", ["db.t4g.micro", "db.m7g.large", "db.r7g.large"])
def test_multi_az_uses_the_multi_az_prices(region: str, instance_class: str) -> None:
    single = amounts(estimate([rds(instance_class, storage=100)], region))
    multi = amounts(estimate([rds(instance_class, multi_az=True, storage=100)], region))
    hours = HOURS_PER_MONTH
    s_hour = price(region, f"rds.instance.{instance_class}.single-az")
    m_hour = price(region, f"rds.instance.{instance_class}.multi-az")
    assert single[f"RDS PostgreSQL {instance_class} Single-AZ, 730 h"] == round(s_hour * hours, 2)
    assert multi[f"RDS PostgreSQL {instance_class} Multi-AZ, 730 h"] == round(m_hour * hours, 2)
    # Multi-AZ is (about) twice Single-AZ for the instance and exactly twice for gp3 storage.
    assert 1.9 <= m_hour / s_hour <= 2.1
    assert multi["RDS gp3 storage 100 GB Multi-AZ"] == round(2 * single["RDS gp3 storage 100 GB Single-AZ"], 2)


def test_t4g_micro_prices_match_the_research() -> None:
    cost = amounts(estimate([rds("db.t4g.micro", storage=20)], "us-east-1"))
    assert cost == {
        "RDS PostgreSQL db.t4g.micro Single-AZ, 730 h": 11.68,  # 0.016 × 730
        "RDS gp3 storage 20 GB Single-AZ": 2.30,  # 0.115 × 20
    }


def test_backup_within_the_free_allowance_costs_nothing_and_longer_retention_is_billed() -> None:
    short = estimate([rds(storage=100, backupRetentionPeriod=1)], "us-east-1")
    long = estimate([rds(storage=100, backupRetentionPeriod=14)], "us-east-1")
    assert not any("backup" in i["what"] for i in short["items"])
    assert any("fits in the free allowance" in a for a in short["assumptions"])
    backup = [i for i in long["items"] if "backup" in i["what"]]
    assert len(backup) == 1 and backup[0]["monthly_usd"] > 0
    # 100 GB × 2% × 13 extra days = 26 GB beyond the free 100 GB, at 0.095 per GB-month
    assert backup[0]["monthly_usd"] == round(26 * price("us-east-1", "rds.backup"), 2)


def test_performance_insights_with_7_day_retention_is_free_and_said_so() -> None:
    cost = estimate([rds(performanceInsightsEnabled=True, performanceInsightsRetentionPeriod=7)], "us-east-1")
    assert any("Performance Insights" in a and "free" in a for a in cost["assumptions"])
    assert not any("Performance Insights" in i["what"] for i in cost["items"])


def unpriced(cost: dict[str, Any]) -> dict[str, list[str]]:
    return {item["what"]: item["missing"] for item in cost["unpriced"]}


@pytest.mark.parametrize("region", REGIONS)
def test_unknown_instance_class_is_not_priced_and_said_so(region: str) -> None:
    """A class the program deploys but the table lacks: a "not priced" line, never a refusal."""
    known = estimate([rds()], region)
    cost = estimate([rds("db.m8g.large", multi_az=True)], region)
    line = "RDS PostgreSQL db.m8g.large Multi-AZ, 730 h"
    assert unpriced(cost) == {line: ["rds.instance.db.m8g.large.multi-az"]}
    assert cost["partial"] is True
    assert line not in amounts(cost)
    assert "RDS gp3 storage 20 GB Multi-AZ" in amounts(cost)  # the rest is still priced
    (warning,) = cost["warnings"]
    assert warning.startswith(f"not priced: {line}") and region in warning and "leaves it out" in warning
    assert not known["partial"] and known["warnings"] == []


def test_other_storage_types_and_engines_are_not_priced_not_guessed() -> None:
    gp2 = estimate([rds(storageType="gp2")], "us-east-1")
    assert unpriced(gp2) == {"RDS gp2 storage 20 GB Single-AZ": ["rds.storage.gp2.single-az"]}
    assert gp2["partial"] and any("gp2" in w for w in gp2["warnings"])
    mysql = estimate([rds(engine="mysql")], "us-east-1")
    assert mysql["items"] == [] and mysql["partial"]
    assert list(unpriced(mysql)) == ["RDS mysql instance"] and "mysql" in mysql["warnings"][0]


# --- Fargate ----------------------------------------------------------------------------------


def fargate_total(region: str, **kwargs: Any) -> float:
    return float(estimate(fargate(**kwargs), region)["monthly_usd"])


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("arch", ["X86_64", "ARM64"])
def test_spot_is_cheaper_than_on_demand(region: str, arch: str) -> None:
    on_demand = fargate_total(region, provider="FARGATE", arch=arch)
    spot = fargate_total(region, provider="FARGATE_SPOT", arch=arch)
    assert 0 < spot < 0.5 * on_demand


@pytest.mark.parametrize("region", REGIONS)
def test_arm64_is_cheaper_than_x86(region: str) -> None:
    assert fargate_total(region, arch="ARM64") < fargate_total(region, arch="X86_64")


def test_fargate_on_demand_arithmetic() -> None:
    cost = amounts(estimate(fargate(cpu="512", memory="1024", count=2), "us-east-1"))
    assert cost == {
        "Fargate X86_64 0.5 vCPU × 2 tasks, 730 h": round(0.04048 * 0.5 * 2 * 730, 2),
        "Fargate X86_64 1 GB memory × 2 tasks, 730 h": round(0.004445 * 1 * 2 * 730, 2),
    }


def test_arm64_spot_applies_the_x86_spot_ratio_and_says_so() -> None:
    cost = estimate(fargate(provider="FARGATE_SPOT", arch="ARM64", cpu="1024", memory="1024"), "us-east-1")
    ratio = price("us-east-1", "fargate-spot.x86_64.vcpu-hour") / price("us-east-1", "fargate.x86_64.vcpu-hour")
    expected = price("us-east-1", "fargate.arm64.vcpu-hour") * ratio * HOURS_PER_MONTH
    assert amounts(cost)["Fargate Spot ARM64 1 vCPU × 1 task, 730 h"] == round(expected, 2)
    assert any("ARM64" in a and "Spot" in a and "x86_64" in a for a in cost["assumptions"])


def test_public_ip_per_task_when_assigned() -> None:
    task, service = fargate(count=3)
    service["inputs"]["networkConfiguration"] = {"assignPublicIp": True}
    cost = amounts(estimate([task, service], "us-east-1"))
    assert cost["Public IPv4 address × 3 (tasks, assignPublicIp), 730 h"] == round(3 * 0.005 * 730, 2)


def test_autoscaling_minimum_is_priced_and_the_maximum_is_stated() -> None:
    plan = [
        *fargate(count=1),
        resource(
            SCALING,
            "scaling",
            scalableDimension="ecs:service:DesiredCount",
            resourceId="service/cluster/app",
            minCapacity=2,
            maxCapacity=5,
        ),
    ]
    cost = estimate(plan, "us-east-1")
    assert any("× 2 tasks" in i["what"] for i in cost["items"])
    assert any("maximum of 5" in a for a in cost["assumptions"])


def test_capacity_provider_base_and_weights_split_the_tasks() -> None:
    task, service = fargate(count=4)
    service["inputs"]["capacityProviderStrategies"] = [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1},
    ]
    whats = list(amounts(estimate([task, service], "us-east-1")))
    assert "Fargate X86_64 1 vCPU × 3 tasks, 730 h" in whats  # base 2 + half of the other 2
    assert "Fargate Spot X86_64 1 vCPU × 1 task, 730 h" in whats


def test_ec2_launch_type_is_not_priced() -> None:
    task, service = fargate()
    service["inputs"].pop("capacityProviderStrategies")
    service["inputs"]["launchType"] = "EC2"
    cost = estimate([task, service], "us-east-1")
    assert cost["items"] == [] and cost["partial"]
    assert list(unpriced(cost)) == ["1 task of ECS service app on EC2"]
    assert "EC2" in cost["warnings"][0]


# --- network, secrets, keys, logs ---------------------------------------------------------------


def test_alb_nat_eip_secret_kms_and_logs() -> None:
    plan = [
        resource(ALB, "alb", internal=False, subnets=["a", "b", "c"]),
        resource(NAT, "nat-0"),
        resource(EIP, "nat-0"),
        resource(SECRET, "db", name="app/db"),
        resource(KMS, "key"),
        resource(LOG_GROUP, "logs", name="/ecs/app", retentionInDays=30),
        resource(LOG_GROUP, "rds", name="/aws/rds/instance/app/postgresql", retentionInDays=30),
    ]
    cost = amounts(estimate(plan, "eu-west-1"))
    assert cost["Application load balancer (internet-facing), 730 h"] == round(0.0252 * 730, 2)
    assert cost["ALB capacity units, 1 LCU baseline (assumed), 730 h"] == round(0.008 * 730, 2)
    assert cost["Public IPv4 address × 3 (ALB, one per AZ), 730 h"] == round(3 * 0.005 * 730, 2)
    assert cost["NAT gateway nat-0, 730 h"] == round(0.048 * 730, 2)
    assert cost["NAT gateway nat-0 data processed, 10 GB (assumed)"] == round(0.048 * 10, 2)
    assert cost["Public IPv4 address (Elastic IP nat-0), 730 h"] == round(0.005 * 730, 2)
    assert cost["Secrets Manager secret app/db, 1 month"] == 0.40
    assert cost["KMS customer managed key, 1 month"] == 1.00
    assert cost["CloudWatch Logs ingestion /ecs/app, 1 GB (assumed)"] == 0.57
    assert cost["CloudWatch Logs ingestion /aws/rds/instance/app/postgresql, 0.5 GB (assumed)"] == round(0.57 / 2, 2)


def test_internal_alb_has_no_public_addresses() -> None:
    cost = estimate([resource(ALB, "alb", internal=True)], "us-east-1")
    assert not any("IPv4" in i["what"] for i in cost["items"])


def test_every_assumed_quantity_is_stated() -> None:
    plan = [
        resource(ALB, "alb", internal=False),
        resource(NAT, "nat-0"),
        resource(SECRET, "db", name="app/db"),
        resource(LOG_GROUP, "logs", name="/ecs/app"),
    ]
    text = " | ".join(estimate(plan, "us-east-1")["assumptions"])
    for phrase in ("730 hours", "1 LCU", "2 AZs assumed", "10 GB processed", "10,000 API calls", "1 GB per month"):
        assert phrase in text
    assert "never expires" in text


# --- regions and the table ----------------------------------------------------------------------


@pytest.mark.parametrize("region", ["eu-central-1", "ap-south-1"])
def test_unknown_region_is_not_priced_with_one_warning_naming_it(region: str) -> None:
    cost = estimate([rds(), *fargate()], region)
    assert cost["monthly_usd"] == 0 and cost["items"] == [] and cost["partial"]
    assert len(cost["unpriced"]) == 4 and all(item["missing"] for item in cost["unpriced"])
    (warning,) = cost["warnings"]
    assert region in warning and "4 lines left out" in warning
    for supported in REGIONS:
        assert supported in warning


def test_the_table_covers_the_required_regions() -> None:
    assert set(supported_regions()) >= set(REGIONS)


def test_every_region_has_every_price_key() -> None:
    keys = {region: set(table) for region, table in PRICES.items()}
    reference = keys["us-east-1"]
    for region, region_keys in keys.items():
        assert region_keys == reference, f"{region}: missing {reference - region_keys}, extra {region_keys - reference}"


def test_every_price_has_an_amount_a_unit_a_source_and_a_date() -> None:
    for region, table in PRICES.items():
        for key, entry in table.items():
            where = f"{region} {key}"
            assert entry["usd"] >= 0, where
            assert entry["unit"].strip(), where
            assert len(entry["source"]) > 20, where
            assert re.fullmatch(r"20\d\d-[01]\d-[0-3]\d", entry["as_of"]), where


def test_copied_values_say_so_in_their_source() -> None:
    # A value verified for one region and used for another must say so (the weaker us-west-2 ARM64 price).
    assert "not verified for us-west-2" in PRICES["us-west-2"]["fargate.arm64.vcpu-hour"]["source"]
    assert "Spot" in PRICES["us-east-1"]["fargate-spot.x86_64.vcpu-hour"]["source"]


def test_known_classes_are_the_same_in_every_region() -> None:
    classes = {region: known_instance_classes(region) for region in PRICES}
    assert "db.t4g.micro" in classes["us-east-1"]
    assert all(c == classes["us-east-1"] for c in classes.values())


# --- the real stacks ----------------------------------------------------------------------------


def stack_cost(stack: str) -> dict[str, Any]:
    cost: dict[str, Any] = plan_document(stack_run(stack))["cost"]
    return cost


def test_dev_costs_at_most_35_usd_per_month() -> None:
    cost = stack_cost("dev")
    assert 0 < cost["monthly_usd"] <= 35, cost["items"]


def test_prod_costs_more_than_dev() -> None:
    assert stack_cost("prod")["monthly_usd"] > stack_cost("dev")["monthly_usd"]


def test_dev_items_include_the_database_and_fargate() -> None:
    cost = stack_cost("dev-rds")
    resources = {i["resource"] for i in cost["items"]}
    whats = " | ".join(i["what"] for i in cost["items"])
    assert f"{RDS}::instance" in resources
    assert f"{SERVICE}::service" in resources
    assert "RDS PostgreSQL db.t4g.micro Single-AZ" in whats
    assert "Fargate Spot ARM64" in whats


def test_prod_prices_the_multi_az_database_load_balancer_and_nat_gateways() -> None:
    cost = stack_cost("prod")
    whats = " | ".join(i["what"] for i in cost["items"])
    assert "Multi-AZ" in whats and "Application load balancer" in whats
    assert sum(1 for i in cost["items"] if i["what"].startswith("NAT gateway") and i["what"].endswith("h")) == 2
    assert math.isclose(cost["monthly_usd"], sum(i["monthly_usd"] for i in cost["items"]), abs_tol=1e-9)


# --- monitoring (issue 20) --------------------------------------------------------------------


@pytest.mark.parametrize("region", REGIONS)
def test_alarms_are_priced_per_metric_they_read_and_dashboards_and_filter_metrics_once(region: str) -> None:
    math_alarm = resource(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "rate",
        name="rate",
        metricQueries=[{"id": "a", "metric": {}}, {"id": "b", "metric": {}}, {"id": "e", "expression": "a/b"}],
    )
    plain_alarm = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "cpu", name="cpu", metricName="CPUUtilization")
    dashboard = resource("aws:cloudwatch/dashboard:Dashboard", "d", dashboardName="d")
    transformation = {"name": "StatePathErrors", "namespace": "Plano/x", "value": "1"}
    filters = [
        resource("aws:cloudwatch/logMetricFilter:LogMetricFilter", n, metricTransformation=transformation)
        for n in ("plano", "pgbouncer")
    ]
    cost = estimate([math_alarm, plain_alarm, dashboard, *filters], region)
    got = amounts(cost)
    alarm = price(region, "cloudwatch.alarm-metric-month")
    assert got["CloudWatch alarm rate, 2 metrics"] == round(2 * alarm, 2)
    assert got["CloudWatch alarm cpu, 1 metric"] == round(alarm, 2)
    assert got["CloudWatch dashboard d"] == price(region, "cloudwatch.dashboard-month")
    # Two filters writing one metric are one custom metric.
    assert got == {**got, "CloudWatch custom metric Plano/x StatePathErrors": price(region, "cloudwatch.metric-month")}
    assert sum(1 for what in got if what.startswith("CloudWatch custom metric")) == 1
    assert not cost["partial"]
