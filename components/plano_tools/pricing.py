"""The cost model: a monthly estimate for the resources of an offline plan, at AWS list prices.

``estimate(resources, region)`` takes the plan document's resources (``{"type", "name", "parent",
"inputs"}``, inputs in camelCase as Pulumi passes them) and returns::

    {"monthly_usd", "currency", "region", "prices_as_of", "assumptions",
     "items": [{"resource": "<type>::<name>", "what", "monthly_usd"}],
     "partial", "unpriced": [{"resource", "what", "missing"}], "warnings"}

Prices come from ``prices.py`` (dated and sourced; ``scripts/refresh_prices.py`` refreshes them
from AWS's public price list). Usage that a plan cannot know (traffic, log volume, API calls) is
assumed with the constants below, and every assumption that shaped the number is listed in
``assumptions``. Each item is rounded to cents and the total is the sum of the rounded items.
``prices_as_of`` is the oldest ``as_of`` date among the prices the estimate used.

Never a refusal: the program deploys regions and classes the table does not know (eu-central-1,
db.m8g.large, ...). A line the table has no price for is left out of ``items`` and listed in
``unpriced`` with the price keys it lacks (``missing``); each gets a warning, and ``partial`` says
the total leaves something out. Nothing is guessed.

How a resource is priced (the interface for adding one, e.g. Aurora Serverless v2 ACU-hours):
``_Model.price(key)`` returns the table's USD amount for ``key``, or NaN when the region has no
such price; arithmetic carries the NaN, and ``_Model.add(resource, what, usd)`` turns a NaN
amount into an unpriced line. A new resource model therefore only calls ``price`` and ``add``
(and ``gap`` for something that cannot be priced at all), and gets "not priced" for free.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import Any

import yaml
from plano_pulumi.core.collector import max_series
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.model import UsageProfile
from plano_pulumi.core.task_files import SERVER_IDLE_TIMEOUT_S
from plano_pulumi.core.task_schedule import running_hours_per_week

from plano_tools.prices import HOURS_PER_MONTH, PRICES, TABLE_COMPILED, Price

PRICES_FILE = "components/plano_tools/prices.py"

# --- Assumed usage (each one is stated in the estimate when it is used) -------------------------
ALB_BASELINE_LCU = 1.0  # capacity units per hour for a lightly used load balancer
ALB_DEFAULT_AZS = 2  # public IPv4 addresses of an internet-facing ALB when its subnets are unknown
NAT_GB_PER_MONTH = 10.0  # data processed per NAT gateway
SECRET_API_CALLS_PER_MONTH = 10_000  # per secret: task starts, deployments, the provider's reads
ECS_LOG_GB_PER_MONTH = 1.0  # ingested per application log group
RDS_LOG_GB_PER_MONTH = 0.5  # ingested per RDS log export group
LOG_MONTHS_WITHOUT_RETENTION = 12  # stored months priced for a log group that never expires
RDS_BACKUP_DAILY_CHANGE = 0.02  # share of the allocated storage that changes per day
PI_FREE_RETENTION_DAYS = 7
# Aurora Serverless v2 at the usage profile (plano:usage*):
AURORA_AWAKE_ACU = 0.5  # a lightly used instance stays at the lowest awake capacity
AURORA_STORAGE_GB = 2.0  # conversation state of a dev or review environment
AURORA_IOS_PER_REQUEST = 20  # the upsert and the read of one Plano turn, with index and WAL pages
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
WEEKS_PER_MONTH = HOURS_PER_MONTH / 168

RDS = "aws:rds/instance:Instance"
SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SCALING_TARGET = "aws:appautoscaling/target:Target"
CLUSTER_PROVIDERS = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
SECRET = "aws:secretsmanager/secret:Secret"
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
AURORA_CLUSTER = "aws:rds/cluster:Cluster"
AURORA_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
SCHEDULED_ACTION = "aws:appautoscaling/scheduledAction:ScheduledAction"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
# Monitoring (issue 20): what the collector's EMF events weigh, and the small event log groups.
EMF_BYTES_PER_SERIES_MINUTE = 400  # one EMF record per metric series per task per scrape (60 s)
EVENT_LOG_GB_PER_MONTH = 0.01  # EventBridge's stopped-task events: a few per deployment

# Resource types that cost money but are not in the model: named in the assumptions when present.
UNPRICED_TYPES: dict[str, str] = {
    "aws:ec2/vpcEndpoint:VpcEndpoint": "VPC endpoints",
    "aws:ecr/repository:Repository": "ECR image storage",
    "aws:route53/zone:Zone": "Route 53 hosted zones",
    "aws:ec2/flowLog:FlowLog": "VPC flow logs",
    "aws:wafv2/webAcl:WebAcl": "WAF web ACLs",
}

_CAPACITY_PROVIDERS = {"FARGATE": "on-demand", "FARGATE_SPOT": "spot"}
_ARCHITECTURES = {"X86_64": "x86_64", "ARM64": "arm64"}


# libyaml's loader where PyYAML has it (same safe rules, ten times faster), else PyYAML's own.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PricingError(ConfigError):
    """Kept for callers that catch it; the estimate no longer raises it (see "Never a refusal")."""


def supported_regions() -> list[str]:
    return sorted(PRICES)


def known_instance_classes(region: str) -> list[str]:
    prefix, suffix = "rds.instance.", ".single-az"
    table = PRICES.get(region, {})
    return sorted(k[len(prefix) : -len(suffix)] for k in table if k.startswith(prefix) and k.endswith(suffix))


def estimate(resources: list[dict[str, Any]], region: str, usage: UsageProfile | None = None) -> dict[str, Any]:
    """The monthly cost of ``resources`` in ``region`` at on-demand list prices, itemized; lines
    without a price are listed in ``unpriced`` and the total is marked ``partial``.

    ``usage`` (``plano:usage*``) shapes what depends on use: Aurora's awake hours and I/O."""
    model = _Model(region, resources, usage or UsageProfile())
    model.run()
    return model.result()


def idle_day_estimate(resources: list[dict[str, Any]], region: str, usage: UsageProfile | None = None) -> float:
    """What one active day without a single request costs, in USD (priced lines only).

    An active day of the schedule (the tasks run their scheduled hours, or all day without a
    schedule); the database paused if it can pause; no traffic, API calls or log ingestion.
    """
    model = _Model(region, resources, usage or UsageProfile(), idle=True)
    model.run()
    return round(sum(float(item["monthly_usd"]) for item in model.items) / DAYS_PER_MONTH, 2)


def local_estimate(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The local profile runs on this machine's Docker engine: no cloud resource, nothing to price."""
    cloud = sorted({r["type"] for r in resources if not r["type"].startswith(LOCAL_TYPE_PREFIXES)})
    if cloud:
        raise PricingError(
            "plano:profile",
            "is local, but the program created cloud resources",
            value=", ".join(cloud),
            fix="create only Docker resources in the local branch of __main__.py",
        )
    return {
        "monthly_usd": 0.0,
        "currency": "USD",
        "region": "local (Docker)",
        "prices_as_of": TABLE_COMPILED,
        "assumptions": ["the local stack runs on your Docker engine; it creates no cloud resource"],
        "items": [],
        "partial": False,
        "unpriced": [],
        "warnings": [],
    }


# Resource types of the local stack: Docker objects, certificates, the password, its components.
LOCAL_TYPE_PREFIXES = ("docker:", "tls:", "random:", "plano:local:", "plano:index:PlanoOnDocker")


# ---------------------------------------------------------------------------------------------


def _key(resource: Mapping[str, Any]) -> str:
    return f"{resource['type']}::{resource['name']}"


def _inputs(resource: Mapping[str, Any]) -> dict[str, Any]:
    inputs = resource.get("inputs") or {}
    return inputs if isinstance(inputs, dict) else {}


def _num(value: Any, default: float = 0.0) -> float:
    if value is None or isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _label(resource: Mapping[str, Any]) -> str:
    """A short human name for assumptions: the AWS name when the plan knows it, else the resource name."""
    inputs = _inputs(resource)
    name = inputs.get("identifier") or inputs.get("name") or resource.get("name")
    kind = {RDS: "RDS instance", SERVICE: "ECS service", TASK_DEFINITION: "task definition", LOG_GROUP: "log group"}
    return f"{kind.get(str(resource.get('type')), str(resource.get('type')))} {name}"


def _qty(value: float) -> str:
    """A quantity for a "what" line: 1, 0.5, 2.96."""
    return f"{round(value, 2):g}"


def _plural(count: float, word: str) -> str:
    return f"{_qty(count)} {word}" + ("" if count == 1 else "s")


class _Model:
    def __init__(
        self, region: str, resources: list[dict[str, Any]], usage: UsageProfile | None = None, idle: bool = False
    ) -> None:
        self.usage = usage or UsageProfile()
        self.idle = idle  # price a day without requests (idle_day_estimate)
        self.region = region
        self.table: dict[str, Price] = PRICES.get(region, {})
        self.resources = resources
        self.items: list[dict[str, Any]] = []
        self.unpriced_items: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.assumptions: list[str] = []
        self.used: set[str] = set()
        self.missing: list[str] = []  # keys looked up without a price since the last add()

    # -- bookkeeping

    def price(self, key: str) -> float:
        """The table's USD amount for ``key``; NaN (and the key remembered) when it has none."""
        if key not in self.table:
            if key not in self.missing:
                self.missing.append(key)
            return math.nan
        self.used.add(key)
        return self.table[key]["usd"]

    def add(self, resource: Mapping[str, Any], what: str, usd: float) -> None:
        """A line of the estimate; a NaN amount (a price the table lacks) makes it an unpriced line."""
        missing, self.missing = self.missing, []
        if math.isnan(usd):
            self.gap(resource, what, f"no price for {', '.join(missing) or 'it'} in {self.region}", missing)
            return
        self.items.append({"resource": _key(resource), "what": what, "monthly_usd": round(usd, 2)})

    def gap(self, resource: Mapping[str, Any], what: str, reason: str, missing: list[str] | None = None) -> None:
        """A line that cannot be priced: listed, warned about, left out of the total."""
        self.unpriced_items.append({"resource": _key(resource), "what": what, "missing": list(missing or [])})
        if self.table:  # an unknown region gets one warning for all its lines (result())
            self.warnings.append(f"not priced: {what} ({reason}); the estimate's total leaves it out")

    def assume(self, text: str) -> None:
        if text not in self.assumptions:
            self.assumptions.append(text)

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r.get("type") == type_]

    def result(self) -> dict[str, Any]:
        dates = [self.table[k]["as_of"] for k in self.used] or [p["as_of"] for p in self.table.values()]
        total = round(sum(item["monthly_usd"] for item in self.items), 2)
        warnings = list(self.warnings)
        if not self.table and self.unpriced_items:
            warnings.insert(
                0,
                f"not priced: the cost model has no prices for region {self.region} "
                f"({len(self.unpriced_items)} lines left out; priced regions: {', '.join(supported_regions())}); "
                f"add them with scripts/refresh_prices.py --region {self.region}",
            )
        return {
            "monthly_usd": total,
            "currency": "USD",
            "region": self.region,
            "prices_as_of": min(dates) if dates else TABLE_COMPILED,
            "assumptions": self.assumptions,
            "items": self.items,
            "partial": bool(self.unpriced_items),
            "unpriced": self.unpriced_items,
            "warnings": warnings,
        }

    # -- the model

    def run(self) -> None:
        hours = _qty(HOURS_PER_MONTH)
        self.assume(
            f"{hours} hours per month, every resource running the whole month unless a schedule or an Aurora "
            "pause says otherwise"
        )
        self.assume(
            f"on-demand list prices in {self.region} from {PRICES_FILE}, without free tier, Savings Plans, "
            "reserved instances, taxes or support plans"
        )
        self.assume(
            "not priced: data transfer (internet egress, cross-AZ), AWS's own CloudWatch metrics (free), "
            "SNS e-mail notifications (the first 1,000 a month are free), DNS queries"
        )
        for resource in self.of_type(RDS):
            self.rds(resource)
        for resource in self.of_type(AURORA_INSTANCE):
            self.aurora_instance(resource)
        for resource in self.of_type(AURORA_CLUSTER):
            self.aurora_cluster(resource)
        for resource in self.of_type(SERVICE):
            self.service(resource)
        for resource in self.of_type(LOAD_BALANCER):
            self.load_balancer(resource)
        for resource in self.of_type(NAT_GATEWAY):
            self.nat_gateway(resource)
        for resource in self.of_type(EIP):
            self.eip(resource)
        for resource in self.of_type(SECRET):
            self.secret(resource)
        for resource in self.of_type(KMS_KEY):
            self.kms_key(resource)
        for resource in self.of_type(LOG_GROUP):
            self.log_group(resource)
        for resource in self.of_type(METRIC_ALARM):
            self.alarm(resource)
        for resource in self.of_type(DASHBOARD):
            self.dashboard(resource)
        self.custom_metrics()
        self.traces()
        self.unpriced()

    def rds(self, resource: dict[str, Any]) -> None:
        inputs = _inputs(resource)
        engine = str(inputs.get("engine") or "postgres")
        if engine != "postgres":
            self.gap(resource, f"RDS {engine} instance", f"the cost model prices PostgreSQL only, not {engine}")
            return
        instance_class = str(inputs.get("instanceClass") or "")
        multi_az = bool(inputs.get("multiAz"))
        az = "multi-az" if multi_az else "single-az"
        az_text = "Multi-AZ" if multi_az else "Single-AZ"
        key = f"rds.instance.{instance_class}.{az}"
        hours = HOURS_PER_MONTH
        self.add(
            resource,
            f"RDS PostgreSQL {instance_class} {az_text}, {_qty(hours)} h",
            self.price(key) * hours,
        )

        storage_type = str(inputs.get("storageType") or "gp2")
        storage_key = f"rds.storage.{storage_type}.{az}"
        allocated = _num(inputs.get("allocatedStorage"))
        self.add(
            resource,
            f"RDS {storage_type} storage {_qty(allocated)} GB {az_text}",
            self.price(storage_key) * allocated,
        )
        if inputs.get("iops") is not None or inputs.get("storageThroughput") is not None:
            self.assume(f"{_label(resource)}: provisioned gp3 IOPS/throughput above the baseline are not priced")
        if inputs.get("maxAllocatedStorage"):
            self.assume(
                "RDS storage priced at allocatedStorage (storage autoscaling up to maxAllocatedStorage is not priced)"
            )

        retention = int(_num(inputs.get("backupRetentionPeriod"), 0))
        change = RDS_BACKUP_DAILY_CHANGE
        self.assume(
            f"RDS automated backups: a full copy of the allocated storage plus {change:.0%} of it per further day "
            "of retention, billed only beyond the free allowance (100% of provisioned storage)"
        )
        billable = allocated * change * max(retention - 1, 0)
        if billable <= 0:
            self.assume(f"{_label(resource)}: {retention}-day backup retention fits in the free allowance")
        else:
            self.add(
                resource,
                f"RDS backup storage beyond the free allowance, {_qty(billable)} GB ({retention}-day retention)",
                self.price("rds.backup") * billable,
            )

        if inputs.get("performanceInsightsEnabled"):
            pi_days = int(_num(inputs.get("performanceInsightsRetentionPeriod"), PI_FREE_RETENTION_DAYS))
            if pi_days <= PI_FREE_RETENTION_DAYS:
                self.assume(f"Performance Insights with {pi_days}-day retention is free")
            else:
                self.assume(
                    f"{_label(resource)}: Performance Insights retention of {pi_days} days (beyond the free "
                    f"{PI_FREE_RETENTION_DAYS}) is not priced: no price in the table"
                )

    def _task_definition(self, service: dict[str, Any]) -> dict[str, Any] | None:
        tasks = self.of_type(TASK_DEFINITION)
        ref = str(_inputs(service).get("taskDefinition") or "")
        family = ref.rsplit("/", 1)[-1].split(":", 1)[0]
        matches = [t for t in tasks if _inputs(t).get("family") == family] if family else []
        if not matches:
            matches = [t for t in tasks if t.get("parent") == service.get("parent")]
        if not matches and len(tasks) == 1:
            matches = tasks
        if len(matches) != 1:
            return None
        return matches[0]

    def _task_count(self, service: dict[str, Any]) -> tuple[float, float | None]:
        """Tasks priced (desired, or the autoscaling minimum if higher) and the autoscaling maximum."""
        inputs = _inputs(service)
        desired = _num(inputs.get("desiredCount"))
        name = str(inputs.get("name") or "")
        for target in self.of_type(SCALING_TARGET):
            t = _inputs(target)
            if t.get("scalableDimension") != "ecs:service:DesiredCount":
                continue
            if name and str(t.get("resourceId") or "").rsplit("/", 1)[-1] == name:
                return max(desired, _num(t.get("minCapacity"))), _num(t.get("maxCapacity"))
        return desired, None

    def _strategy(self, service: dict[str, Any]) -> list[dict[str, Any]]:
        inputs = _inputs(service)
        strategies = inputs.get("capacityProviderStrategies") or []
        if strategies:
            return list(strategies)
        launch_type = inputs.get("launchType")
        if launch_type == "FARGATE":
            return [{"capacityProvider": "FARGATE", "weight": 1}]
        if launch_type is None:
            for cluster in self.of_type(CLUSTER_PROVIDERS):
                default = _inputs(cluster).get("defaultCapacityProviderStrategies") or []
                if default:
                    self.assume(f"{_label(service)}: runs on the cluster's default capacity provider strategy")
                    return list(default)
            self.assume(f"{_label(service)}: no launch type or capacity provider set, priced as Fargate on-demand")
            return [{"capacityProvider": "FARGATE", "weight": 1}]
        return [{"capacityProvider": str(launch_type), "weight": 1}]  # not Fargate: unpriced in service()

    def _split(self, service: dict[str, Any], tasks: float) -> dict[str, float]:
        """Tasks per capacity provider: the base first, the rest by weight."""
        strategies = self._strategy(service)
        out: dict[str, float] = {}
        remaining = tasks
        for s in strategies:
            provider = str(s.get("capacityProvider"))
            base = min(_num(s.get("base")), remaining)
            if base > 0:
                out[provider] = out.get(provider, 0.0) + base
                remaining -= base
        weights = [(str(s.get("capacityProvider")), _num(s.get("weight"))) for s in strategies]
        total_weight = sum(w for _, w in weights)
        if remaining > 0:
            if total_weight <= 0:
                weights, total_weight = [(weights[0][0], 1.0)], 1.0
            for provider, weight in weights:
                if weight > 0:
                    out[provider] = out.get(provider, 0.0) + remaining * weight / total_weight
        if len([p for p, n in out.items() if n > 0]) > 1:
            self.assume(f"{_label(service)}: tasks split between capacity providers by base and weight")
        return out

    def _fargate_rate(self, provider: str, arch: str, unit: str) -> float:
        """USD per vCPU-hour or GB-hour for a capacity provider and architecture."""
        on_demand = self.price(f"fargate.{arch}.{unit}")
        if provider == "FARGATE":
            return on_demand
        spot_key = f"fargate-spot.{arch}.{unit}"
        if spot_key in self.table:
            return self.price(spot_key)
        # No Spot price for this architecture: apply the region's x86_64 Spot discount.
        ratio = self.price(f"fargate-spot.x86_64.{unit}") / self.price(f"fargate.x86_64.{unit}")
        discount = 1 - self.price("fargate-spot.x86_64.vcpu-hour") / self.price("fargate.x86_64.vcpu-hour")
        if math.isnan(discount):
            return on_demand * ratio  # the lines come out unpriced, naming the missing keys
        self.assume(
            f"Fargate Spot {arch.upper()}: the table has no {arch.upper()} Spot price, so the region's x86_64 Spot "
            f"discount ({discount:.0%} off on-demand in {self.region}) is applied to the {arch.upper()} on-demand price"
        )
        return on_demand * ratio

    def service(self, service: dict[str, Any]) -> None:
        task = self._task_definition(service)
        if task is None:
            reason = "it matches no single task definition in the plan"
            self.gap(service, f"{_label(service)} tasks", reason)
            return
        t = _inputs(task)
        platform = t.get("runtimePlatform") or {}
        os_family = str(platform.get("operatingSystemFamily") or "LINUX")
        arch_name = str(platform.get("cpuArchitecture") or "X86_64")
        if os_family != "LINUX" or arch_name not in _ARCHITECTURES:
            reason = f"the cost model prices Linux on X86_64 or ARM64, not {os_family}/{arch_name}"
            self.gap(service, f"Fargate {os_family} {arch_name} tasks of {_label(service)}", reason)
            return
        vcpu = _num(t.get("cpu")) / 1024
        memory_gb = _num(t.get("memory")) / 1024
        if vcpu <= 0 or memory_gb <= 0:
            reason = "the task definition sets no task-level cpu and memory"
            self.gap(service, f"Fargate tasks of {_label(service)}", reason)
            return
        tasks, maximum = self._task_count(service)
        hours = self._service_hours(service)
        monthly = 0.0
        split = self._split(service, tasks)
        others = [p for p in split if p not in _CAPACITY_PROVIDERS]
        for provider in others:
            reason = f"the cost model prices Fargate and Fargate Spot only, not {provider}"
            self.gap(service, f"{_plural(split.pop(provider), 'task')} of {_label(service)} on {provider}", reason)
        for provider, count in split.items():
            monthly += self._fargate_tasks(
                service, provider, count, arch_name, vcpu=vcpu, memory_gb=memory_gb, hours=hours
            )
        monthly += self._public_ips(service, tasks, hours)
        ephemeral = _num((t.get("ephemeralStorage") or {}).get("sizeInGib"))
        if ephemeral > 20:
            self.assume(f"{_label(task)}: ephemeral storage beyond the included 20 GiB is not priced")
        if maximum is not None and maximum > tasks > 0 and monthly > 0:
            extra = monthly / tasks * (maximum - tasks)
            self.assume(
                f"{_label(service)}: priced at {_plural(tasks, 'task')} (desired count / autoscaling minimum), "
                f"scaling out to the maximum of {_qty(maximum)} would add up to {extra:.2f} USD per month"
            )
        else:
            self.assume(f"{_label(service)}: priced at its desired count of {_plural(tasks, 'task')}")

    def _fargate_tasks(
        self,
        service: dict[str, Any],
        provider: str,
        count: float,
        arch_name: str,
        *,
        vcpu: float,
        memory_gb: float,
        hours: float,
    ) -> float:
        """The vCPU and memory lines of ``count`` tasks on one capacity provider; their monthly sum."""
        arch = _ARCHITECTURES[arch_name]
        label = "Fargate" if provider == "FARGATE" else "Fargate Spot"
        tasks_text = _plural(count, "task")
        cpu_usd = self._fargate_rate(provider, arch, "vcpu-hour") * vcpu * count * hours
        self.add(service, f"{label} {arch_name} {_qty(vcpu)} vCPU × {tasks_text}, {_qty(hours)} h", cpu_usd)
        mem_usd = self._fargate_rate(provider, arch, "gb-hour") * memory_gb * count * hours
        self.add(service, f"{label} {arch_name} {_qty(memory_gb)} GB memory × {tasks_text}, {_qty(hours)} h", mem_usd)
        if provider == "FARGATE_SPOT":
            self.assume("Fargate Spot prices are a snapshot (AWS changes them with spare capacity)")
        return cpu_usd + mem_usd if not math.isnan(cpu_usd + mem_usd) else 0.0

    def _public_ips(self, service: dict[str, Any], tasks: float, hours: float) -> float:
        """A public IPv4 address per task when the tasks get one (no NAT); its monthly cost."""
        network = _inputs(service).get("networkConfiguration") or {}
        if not (network.get("assignPublicIp") and tasks > 0):
            return 0.0
        ip_usd = self.price("ipv4.hour") * tasks * hours
        self.add(service, f"Public IPv4 address × {_qty(tasks)} (tasks, assignPublicIp), {_qty(hours)} h", ip_usd)
        return ip_usd if not math.isnan(ip_usd) else 0.0

    def load_balancer(self, resource: dict[str, Any]) -> None:
        inputs = _inputs(resource)
        lb_type = str(inputs.get("loadBalancerType") or "application")
        if lb_type != "application":
            self.gap(resource, f"{lb_type} load balancer", "the cost model prices application load balancers only")
            return
        hours = HOURS_PER_MONTH
        internal = bool(inputs.get("internal"))
        self.add(
            resource,
            f"Application load balancer ({'internal' if internal else 'internet-facing'}), {_qty(hours)} h",
            self.price("alb.hour") * hours,
        )
        self.add(
            resource,
            f"ALB capacity units, {_qty(ALB_BASELINE_LCU * (not self.idle))} LCU baseline (assumed), {_qty(hours)} h",
            self.price("alb.lcu-hour") * ALB_BASELINE_LCU * hours * (not self.idle),
        )
        self.assume(f"ALB traffic: a baseline of {_qty(ALB_BASELINE_LCU)} LCU per hour")
        if internal:
            return
        subnets = inputs.get("subnets") or inputs.get("subnetMappings") or []
        azs = len(subnets) if subnets else ALB_DEFAULT_AZS
        self.assume(
            "an internet-facing ALB uses one public IPv4 address per availability zone "
            f"({'one per subnet' if subnets else f'{ALB_DEFAULT_AZS} AZs assumed'}, AWS may add more under load)"
        )
        self.add(
            resource,
            f"Public IPv4 address × {azs} (ALB, one per AZ), {_qty(hours)} h",
            self.price("ipv4.hour") * azs * hours,
        )

    def nat_gateway(self, resource: dict[str, Any]) -> None:
        hours = HOURS_PER_MONTH
        name = resource.get("name")
        self.add(resource, f"NAT gateway {name}, {_qty(hours)} h", self.price("nat.hour") * hours)
        self.add(
            resource,
            f"NAT gateway {name} data processed, {_qty(NAT_GB_PER_MONTH)} GB (assumed)",
            self.price("nat.gb") * NAT_GB_PER_MONTH * (not self.idle),
        )
        self.assume(f"NAT gateway traffic: {_qty(NAT_GB_PER_MONTH)} GB processed per gateway per month")

    def eip(self, resource: dict[str, Any]) -> None:
        hours = HOURS_PER_MONTH
        self.add(
            resource,
            f"Public IPv4 address (Elastic IP {resource.get('name')}), {_qty(hours)} h",
            self.price("ipv4.hour") * hours,
        )

    def secret(self, resource: dict[str, Any]) -> None:
        calls = SECRET_API_CALLS_PER_MONTH
        name = _inputs(resource).get("name") or resource.get("name")
        self.add(resource, f"Secrets Manager secret {name}, 1 month", self.price("secretsmanager.secret-month"))
        self.add(
            resource,
            f"Secrets Manager API calls for {name}, {calls:,} (assumed)",
            self.price("secretsmanager.10k-calls") * calls / 10_000 * (not self.idle),
        )
        self.assume(f"Secrets Manager: {calls:,} API calls per secret per month")

    def kms_key(self, resource: dict[str, Any]) -> None:
        self.add(resource, "KMS customer managed key, 1 month", self.price("kms.key-month"))
        self.assume("KMS API requests are not priced (assumed few)")

    def log_group(self, resource: dict[str, Any]) -> None:
        inputs = _inputs(resource)
        name = str(inputs.get("name") or "")
        is_rds = name.startswith("/aws/rds/")
        gb = RDS_LOG_GB_PER_MONTH if is_rds else ECS_LOG_GB_PER_MONTH
        collector = self._collector
        if name.startswith("/aws/events/"):
            gb = EVENT_LOG_GB_PER_MONTH
            self.assume(f"{_label(resource)}: {_qty(gb)} GB of events per month (assumed)")
        elif collector is not None and name == collector["log_group"]:
            series, tasks = collector["series"], collector["tasks"]
            minutes = HOURS_PER_MONTH * 60
            gb = series * tasks * minutes * EMF_BYTES_PER_SERIES_MINUTE / 1e9
            self.assume(
                f"{_label(resource)}: the collector's EMF events, {EMF_BYTES_PER_SERIES_MINUTE} bytes per metric "
                f"series per task per minute, {series} series at most × {_qty(tasks)} tasks"
            )
        self.assume(
            f"CloudWatch Logs volume: {_qty(ECS_LOG_GB_PER_MONTH)} GB per month per application log group, "
            f"{_qty(RDS_LOG_GB_PER_MONTH)} GB per RDS log export group, stored uncompressed"
        )
        if inputs.get("logGroupClass") not in (None, "STANDARD"):
            self.assume(f"{_label(resource)}: priced at the Standard log class (an upper bound)")
        self.add(
            resource,
            f"CloudWatch Logs ingestion {name}, {_qty(gb)} GB (assumed)",
            self.price("logs.ingest-gb") * gb * (not self.idle),
        )
        retention_days = _num(inputs.get("retentionInDays"))
        if retention_days > 0:
            stored = gb * retention_days / (HOURS_PER_MONTH / 24)
            retention = f"{_qty(retention_days)}-day retention"
        else:
            stored = gb * LOG_MONTHS_WITHOUT_RETENTION
            retention = f"no expiry, {LOG_MONTHS_WITHOUT_RETENTION} months kept (assumed)"
            self.assume(f"{_label(resource)}: never expires, priced at {LOG_MONTHS_WITHOUT_RETENTION} months stored")
        self.add(
            resource,
            f"CloudWatch Logs storage {name}, {_qty(stored)} GB ({retention})",
            self.price("logs.storage-gb-month") * stored,
        )

    # -- Monitoring: alarms, dashboards, custom metrics, traces (issue 20)

    def alarm(self, resource: dict[str, Any]) -> None:
        inputs = _inputs(resource)
        queries = inputs.get("metricQueries") or []
        metrics = sum(1 for q in queries if isinstance(q, dict) and q.get("metric") is not None) if queries else 1
        name = inputs.get("name") or resource.get("name")
        self.add(
            resource,
            f"CloudWatch alarm {name}, {_plural(metrics, 'metric')}",
            self.price("cloudwatch.alarm-metric-month") * metrics,
        )

    def dashboard(self, resource: dict[str, Any]) -> None:
        name = _inputs(resource).get("dashboardName") or resource.get("name")
        self.add(resource, f"CloudWatch dashboard {name}", self.price("cloudwatch.dashboard-month"))
        self.assume("CloudWatch dashboards: each priced, although an account's first 3 are free")

    @functools.cached_property
    def _collector(self) -> dict[str, Any] | None:
        """The collector sidecar of the plan's task definition: its metric series bound, EMF log
        group, task count and whether it relays traces (None without one). Read once per estimate:
        every log group, the metrics and the traces ask, and parsing the config was a fifth of a
        plan's time."""
        for task in self.of_type(TASK_DEFINITION):
            definitions = _inputs(task).get("containerDefinitions")
            try:
                loaded = json.loads(definitions) if isinstance(definitions, str) else definitions
            except ValueError:
                continue
            containers: list[dict[str, Any]] = loaded if isinstance(loaded, list) else []
            for container in containers:
                env = {e.get("name"): e.get("value") for e in container.get("environment") or []}
                if "AOT_CONFIG_CONTENT" not in env:
                    continue
                config = yaml.load(env["AOT_CONFIG_CONTENT"], Loader=_YAML_LOADER) or {}
                plano: dict[str, Any] = next((c for c in containers if c.get("name") == "plano"), {})
                listeners = len(plano.get("portMappings") or [])
                services = [s for s in self.of_type(SERVICE) if self._task_definition(s) is task]
                tasks = self._task_count(services[0])[0] if services else 1.0
                return {
                    "series": max_series(listeners),
                    "log_group": config.get("exporters", {}).get("awsemf", {}).get("log_group_name"),
                    "namespace": config.get("exporters", {}).get("awsemf", {}).get("namespace"),
                    "tasks": tasks,
                    "tracing": "awsxray" in config.get("exporters", {}),
                    "resource": task,
                }
        return None

    def custom_metrics(self) -> None:
        """Each distinct metric a log metric filter writes, and the collector's series (an upper bound)."""
        written: dict[tuple[str, str], dict[str, Any]] = {}
        for resource in self.of_type(METRIC_FILTER):
            transformation = _inputs(resource).get("metricTransformation") or {}
            key = (str(transformation.get("namespace")), str(transformation.get("name")))
            written.setdefault(key, resource)
        for (namespace, name), resource in sorted(written.items()):
            self.add(resource, f"CloudWatch custom metric {namespace} {name}", self.price("cloudwatch.metric-month"))
        collector = self._collector
        if collector is not None:
            series = collector["series"]
            self.add(
                collector["resource"],
                f"CloudWatch custom metrics from the collector, {series} series at most",
                self.price("cloudwatch.metric-month") * series,
            )
            self.assume(
                f"the collector's metrics priced at their upper bound of {series} series (every label value "
                "seen in the month); series are shared by all tasks of the service"
            )

    def traces(self) -> None:
        collector = self._collector
        if collector is None or not collector["tracing"]:
            return
        requests = 0.0 if self.idle else self.usage.requests_per_hour * self._active_hours_per_month()
        self.add(
            collector["resource"],
            f"X-Ray traces, {_qty(requests / 1e6)} million ({self.usage.requests_per_hour} requests/h, all sampled)",
            self.price("xray.million-traces") * requests / 1e6,
        )
        self.assume("X-Ray: one trace per request (random_sampling 100), the free 100,000 traces a month not deducted")

    # -- Aurora Serverless v2 and schedules (usage-profile dependent)

    def _active_hours_per_month(self) -> float:
        return self.usage.active_hours_per_day * self.usage.active_days_per_week * WEEKS_PER_MONTH

    def _scaling(self, instance: dict[str, Any]) -> dict[str, Any] | None:
        clusters = [c for c in self.of_type(AURORA_CLUSTER) if c.get("parent") == instance.get("parent")]
        clusters = clusters or self.of_type(AURORA_CLUSTER)
        config = _inputs(clusters[0]).get("serverlessv2ScalingConfiguration") if len(clusters) == 1 else None
        return config if isinstance(config, dict) else None

    def aurora_instance(self, resource: dict[str, Any]) -> None:
        inputs = _inputs(resource)
        what = f"Aurora instance {inputs.get('identifier') or resource.get('name')}"
        if inputs.get("instanceClass") != "db.serverless":
            self.gap(
                resource, what, f"the cost model prices Aurora Serverless v2 only, not {inputs.get('instanceClass')}"
            )
            return
        config = self._scaling(resource)
        if config is None:
            self.gap(resource, what, "no single Aurora cluster with a Serverless v2 scaling configuration in the plan")
            return
        minimum = _num(config.get("minCapacity"))
        awake_acu = max(minimum, AURORA_AWAKE_ACU)
        active = 0.0 if self.idle else self._active_hours_per_month()
        usage = self.usage
        if minimum == 0:
            pause_s = _num(config.get("secondsUntilAutoPause"), 300)
            # After the last request: the sidecar's idle server connection, then the pause delay.
            tail = 0.0 if self.idle else (SERVER_IDLE_TIMEOUT_S + pause_s) / 3600 * usage.active_days_per_week
            awake = active + tail * WEEKS_PER_MONTH
            acu_hours = awake * awake_acu
            what = (
                f"Aurora Serverless v2 {_qty(awake_acu)} ACU × {_qty(awake)} h awake "
                f"({usage.active_hours_per_day} h/day, {usage.active_days_per_week} days/week, then paused)"
            )
            self.assume(
                f"Aurora Serverless v2 pauses at 0 ACU: awake {_qty(awake_acu)} ACU during the active hours "
                f"(plano:usageActiveHoursPerDay {usage.active_hours_per_day}, plano:usageActiveDaysPerWeek "
                f"{usage.active_days_per_week}) plus {_qty(SERVER_IDLE_TIMEOUT_S + pause_s)} s after each active "
                "day (the sidecar's server_idle_timeout, then the pause delay); maintenance wake-ups not priced"
            )
        else:
            acu_hours = minimum * (HOURS_PER_MONTH - active) + awake_acu * active
            what = f"Aurora Serverless v2 at least {_qty(minimum)} ACU, {_qty(HOURS_PER_MONTH)} h (never pauses)"
        self.add(resource, what, self.price("aurora.serverless-v2.acu-hour") * acu_hours)

    def aurora_cluster(self, resource: dict[str, Any]) -> None:
        usage = self.usage
        self.add(
            resource,
            f"Aurora storage {_qty(AURORA_STORAGE_GB)} GB (assumed)",
            self.price("aurora.storage.gb-month") * AURORA_STORAGE_GB,
        )
        requests = 0.0 if self.idle else usage.requests_per_hour * self._active_hours_per_month()
        ios = requests * AURORA_IOS_PER_REQUEST
        self.add(
            resource,
            f"Aurora I/O, {_qty(ios / 1e6)} million requests ({usage.requests_per_hour} Plano requests/h)",
            self.price("aurora.io.million") * ios / 1e6,
        )
        self.assume(
            f"Aurora: {_qty(AURORA_STORAGE_GB)} GB stored, {AURORA_IOS_PER_REQUEST} I/Os per Plano request "
            "(plano:usageRequestsPerHour), backups within the free allowance (retention up to the cluster's size)"
        )

    def _service_hours(self, service: dict[str, Any]) -> float:
        """Hours a month the service runs: all of them, or what its wake/sleep schedule leaves on."""
        name = str(_inputs(service).get("name") or "")
        actions = {
            str(_inputs(a).get("name") or a.get("name")).rsplit("-", 1)[-1]: _inputs(a)
            for a in self.of_type(SCHEDULED_ACTION)
            if name and str(_inputs(a).get("resourceId") or "").rsplit("/", 1)[-1] == name
        }
        if not actions:
            return HOURS_PER_MONTH
        found = None
        if "wake" in actions and "sleep" in actions:
            found = running_hours_per_week(str(actions["wake"].get("schedule")), str(actions["sleep"].get("schedule")))
        if found is None:
            self.assume(f"{_label(service)}: scheduled actions not understood, priced as running all month")
            return HOURS_PER_MONTH
        per_day, days = found
        if self.idle:
            return per_day * DAYS_PER_MONTH  # every day priced as an active day
        self.assume(
            f"{_label(service)}: runs {_qty(per_day)} h on {days} days a week (plano:activeHours), "
            "at zero tasks otherwise"
        )
        return per_day * days * WEEKS_PER_MONTH

    def unpriced(self) -> None:
        found: dict[str, int] = {}
        for resource in self.resources:
            type_ = str(resource.get("type"))
            if type_ in UNPRICED_TYPES:
                found[UNPRICED_TYPES[type_]] = found.get(UNPRICED_TYPES[type_], 0) + 1
        for label, count in sorted(found.items()):
            self.assume(f"not priced: {label} ({count} in the plan)")
