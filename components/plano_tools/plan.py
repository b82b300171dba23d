"""The offline plan (pure: a recorded run in, a JSON document or text out) and its diff.

The JSON document is a stable contract (docs/tools.md, specified in docs/plan.schema.json):

    {"stack", "profile",
     "warnings": [...],
     "resources": [{"type", "name", "parent", "inputs"}],
     "outputs": {...},
     "cost": {"monthly_usd", "currency", "region", "prices_as_of", "assumptions",
              "items": [{"resource", "what", "monthly_usd"}]}}

``warnings`` are the warnings ``pulumi preview`` would print for the stack (the program's own:
example values left in place, unpinned images, plain HTTP...), then the cost model's.

``inputs`` are what Pulumi passes to the provider (camelCase), with every secret replaced by
``"[secret]"``. ``parent`` is ``"<type>::<name>"`` of the component a resource belongs to, or null
for the stack's direct children. A resource is identified by (type, name, parent).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from plano_pulumi.core.errors import SECRET_MASK, ConfigError
from plano_pulumi.core.settings import Profile
from plano_pulumi.core.settings.masking import masked_error, scrub_value, secret_strings
from plano_pulumi.core.settings.schedule import WEEKDAYS, schedule_of, usage_profile

from plano_tools.diff import change_markdown, changes
from plano_tools.pricing import estimate, idle_day_estimate, local_estimate
from plano_tools.simulate import Run, unwrap_secrets

# Older list prices than this are flagged in the plan (AWS changes prices a few times a year).
STALE_PRICES_DAYS = 365

# Inputs a reviewer cares about, per resource type (the text plan shows only these).
REVIEW_KEYS: dict[str, tuple[str, ...]] = {
    # The local stack (Docker): what is published where, and who shares whose network.
    "docker:index/container:Container": ("ports", "networkMode", "restart"),
    "docker:index/volume:Volume": ("name",),
    "aws:rds/instance:Instance": (
        "instanceClass",
        "engineVersion",
        "multiAz",
        "allocatedStorage",
        "maxAllocatedStorage",
        "storageEncrypted",
        "publiclyAccessible",
        "deletionProtection",
        "skipFinalSnapshot",
        "backupRetentionPeriod",
        "caCertIdentifier",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:ecs/taskDefinition:TaskDefinition": ("cpu", "memory", "runtimePlatform"),
    "aws:ecs/service:Service": ("desiredCount", "capacityProviderStrategies", "enableExecuteCommand"),
    "aws:lb/loadBalancer:LoadBalancer": ("internal", "idleTimeout"),
    "aws:lb/listener:Listener": ("port", "protocol", "certificateArn"),
    # How long a stream may run on after its task leaves the target group (deploys, scale-in).
    "aws:lb/targetGroup:TargetGroup": ("port", "deregistrationDelay"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "fromPort",
        "cidrIpv4",
        "cidrIpv6",
        "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "fromPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ),
    "aws:secretsmanager/secret:Secret": ("name", "recoveryWindowInDays"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:appautoscaling/target:Target": ("minCapacity", "maxCapacity"),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
}


def _parent_key(run: Run, parent_urn: str) -> str | None:
    parent = run.by_urn(parent_urn)
    return f"{parent.type}::{parent.name}" if parent else None


def _tidy(value: Any) -> Any:
    """Whole numbers arrive from the engine as floats (300.0); show them as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def prices_age_days(as_of: str, today: date | None = None) -> int | None:
    """How many days old the oldest price used is (None when the date is not a date)."""
    try:
        return ((today or date.today()) - date.fromisoformat(as_of)).days
    except ValueError:
        return None


def plan_document(run: Run, today: date | None = None) -> dict[str, Any]:
    """The JSON contract for a recorded run, secrets masked, in a stable order."""
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "parent": _parent_key(run, r.parent),
            "inputs": _tidy(unwrap_secrets(r.inputs, SECRET_MASK)),
        }
        for r in run.resources
    ]
    resources.sort(key=lambda r: (r["parent"] or "", r["type"], r["name"]))
    profile = run.outputs.get("profile") or run.config.values.get("plano:profile", "dev")
    region = run.config.values.get("aws:region", "us-east-1")
    # Values of keys set with --secret, wherever the program put them (rule names, descriptions).
    secrets = secret_strings(run.config)
    try:
        if profile == Profile.LOCAL.value:
            cost = local_estimate(resources)
        else:
            usage = usage_profile(run.config)
            cost = estimate(resources, region, usage)
            # A day with no request at all: what an environment costs while it waits for a reviewer.
            cost["idle_day_usd"] = idle_day_estimate(resources, region, usage)
    except ConfigError as error:
        raise masked_error(error, secrets) from None
    cost["prices_age_days"] = prices_age_days(cost["prices_as_of"], today) if cost["items"] else None
    warnings = list(dict.fromkeys([*run.warnings, *cost.get("warnings", [])]))
    schedule = None if profile == Profile.LOCAL.value else schedule_of(run.config)
    document = {
        "stack": run.stack,
        "profile": profile,
        "warnings": warnings,
        "resources": resources,
        "outputs": _tidy(unwrap_secrets(run.outputs, SECRET_MASK)),
        "cost": cost,
        "schedule": None
        if schedule is None
        else {
            "active_hours": f"{schedule.start}-{schedule.stop}",
            "days": list(schedule.days),
            "timezone": schedule.timezone,
        },
    }
    return dict(scrub_value(document, secrets))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 90 else text[:87] + "..."


def plan_text(document: dict[str, Any]) -> str:
    """Resources grouped by component with the settings a reviewer cares about, then the cost."""
    lines = [f"Offline plan for stack {document['stack']} (profile {document['profile']})", ""]
    lines += _notes(document)
    lines += _components(document)
    lines += _cost(document["cost"])
    return "\n".join(lines) + "\n"


def _notes(document: dict[str, Any]) -> list[str]:
    """Warnings, stale prices and the schedule, each followed by a blank line."""
    lines: list[str] = []
    warnings = document.get("warnings", [])
    if warnings:
        lines.append(f"Warnings ({len(warnings)}), as `pulumi preview` shows them:")
        lines += [f"  ! {warning}" for warning in warnings]
        lines.append("")
    cost = document["cost"]
    age = cost.get("prices_age_days")
    if isinstance(age, int) and age > STALE_PRICES_DAYS:
        lines.append(
            f"Stale prices: the cost estimate uses list prices as of {cost['prices_as_of']}, {age} days old; "
            "refresh them with make refresh-prices (docs/tools.md, What it costs)"
        )
        lines.append("")
    schedule = document.get("schedule")
    if schedule:
        days = schedule["days"]
        contiguous = len(days) == WEEKDAYS.index(days[-1]) - WEEKDAYS.index(days[0]) + 1
        when = f"{days[0]}-{days[-1]}" if len(days) > 1 and contiguous else ",".join(days)
        lines.append(
            f"Schedule: tasks run {schedule['active_hours']} {schedule['timezone']}, {when}, and are stopped "
            "otherwise (plano:activeHours, plano:activeDays, plano:scheduleTimezone; "
            "`pulumi stack output wake_command | bash` starts them now)"
        )
        lines.append("")
    return lines


def _components(document: dict[str, Any]) -> list[str]:
    """Each component with the resources it creates and their reviewed settings."""
    lines: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for resource in document["resources"]:
        if resource["parent"] is not None:
            groups.setdefault(resource["parent"], []).append(resource)
    # A component is any resource others belong to; each is shown with the resources it creates.
    components = [r for r in document["resources"] if f"{r['type']}::{r['name']}" in groups or r["parent"] is None]
    for component in components:
        key = f"{component['type']}::{component['name']}"
        children = [c for c in groups.get(key, []) if f"{c['type']}::{c['name']}" not in groups]
        if not children and component["parent"] is not None:
            continue
        inner = sum(1 for c in groups.get(key, []) if f"{c['type']}::{c['name']}" in groups)
        size = f"{len(children)} resources" if children or not inner else f"{inner} components, below"
        lines.append(f"{component['type']}  {component['name']}  ({size})")
        for child in children:
            shown = {k: child["inputs"][k] for k in REVIEW_KEYS.get(child["type"], ()) if k in child["inputs"]}
            detail = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
            lines.append(f"  + {child['type'].split(':')[-1]:<28} {child['name']}" + (f"  {detail}" if detail else ""))
        lines.append("")
    return lines


def _cost(cost: dict[str, Any]) -> list[str]:
    """The monthly estimate, the idle day, each priced and unpriced line, and the assumptions."""
    lines: list[str] = []
    unpriced = cost.get("unpriced", [])
    partial = f" PARTIAL: {len(unpriced)} lines not priced, left out of the total" if unpriced else ""
    lines.append(
        f"Estimated monthly cost: {cost['monthly_usd']:.2f} {cost['currency']} in {cost['region']}{partial} "
        f"({_prices_age(cost)})"
    )
    if "idle_day_usd" in cost:
        lines.append(
            f"Idle day: {cost['idle_day_usd']:.2f} {cost['currency']} (an active day without requests: "
            "tasks on their schedule, database paused if it can pause)"
        )
    for item in sorted(cost["items"], key=lambda i: -i["monthly_usd"]):
        lines.append(f"  {item['monthly_usd']:>9.2f}  {item['what']}")
    for item in unpriced:
        missing = f" (no price: {', '.join(item['missing'])})" if item["missing"] else ""
        lines.append(f"  {'not priced':>9}  {item['what']}{missing}")
    lines.append("Assumes: " + "; ".join(cost["assumptions"]))
    return lines


def _prices_age(cost: dict[str, Any]) -> str:
    age = cost.get("prices_age_days")
    if not cost["items"] and cost.get("unpriced"):
        return f"no list prices for {cost['region']} in components/plano_tools/prices.py"
    text = f"list prices as of {cost['prices_as_of']}"
    if isinstance(age, int) and age > STALE_PRICES_DAYS:
        text += f", {age} days old: STALE, over a year; refresh: make refresh-prices (docs/tools.md)"
    elif isinstance(age, int):
        text += f", {age} days old; refresh: make refresh-prices"
    return text


def _identity(resource: dict[str, Any]) -> tuple[str, str, str]:
    return (resource["type"], resource["name"], resource["parent"] or "")


def plan_diff_markdown(base: dict[str, Any], head: dict[str, Any]) -> str:
    """Markdown for a pull-request comment: what the change adds, removes, changes and costs."""
    base_by = {_identity(r): r for r in base["resources"]}
    head_by = {_identity(r): r for r in head["resources"]}
    added = [head_by[k] for k in head_by if k not in base_by]
    removed = [base_by[k] for k in base_by if k not in head_by]
    changed = [
        (head_by[k], changes(base_by[k]["inputs"], head_by[k]["inputs"]))
        for k in head_by
        if k in base_by and base_by[k]["inputs"] != head_by[k]["inputs"]
    ]
    old, new = base["cost"]["monthly_usd"], head["cost"]["monthly_usd"]
    delta = new - old
    lines = [
        f"### Offline plan: stack `{head['stack']}` (profile `{head['profile']}`)",
        "",
        f"**Monthly cost:** {old:.2f} → {new:.2f} {head['cost']['currency']} "
        f"(**{'+' if delta >= 0 else '-'}{abs(delta):.2f}**) at {_prices_age(head['cost'])}"
        + (
            f". **Partial:** {len(head['cost']['unpriced'])} lines not priced (see the warnings)"
            if head["cost"].get("unpriced")
            else ""
        ),
        "",
        f"{len(added)} to add, {len(changed)} to change, {len(removed)} to remove.",
    ]
    if "idle_day_usd" in base["cost"] and "idle_day_usd" in head["cost"]:
        lines[3:3] = [
            "",
            f"**Idle day:** {base['cost']['idle_day_usd']:.2f} → {head['cost']['idle_day_usd']:.2f} "
            f"{head['cost']['currency']} (a day without requests)",
        ]
    if not (added or removed or changed):
        lines += ["", "No infrastructure change."]
    warnings, known = head.get("warnings", []), set(base.get("warnings", []))
    if warnings:
        lines += ["", f"#### Warnings ({len(warnings)})", ""]
        lines += [f"- {'**new:** ' if w not in known else ''}{w}" for w in warnings]
    for title, items in (("Added", added), ("Removed", removed)):
        if items:
            lines += ["", f"#### {title}", ""]
            lines += [
                f"- `{r['type']}` **{r['name']}**" + (f" (in {r['parent']})" if r["parent"] else "") for r in items
            ]
    if changed:
        lines += ["", "#### Changed", ""]
        for resource, diffs in changed:
            lines.append(f"- `{resource['type']}` **{resource['name']}**")
            for change in diffs:
                lines += change_markdown(change)
    cost_changes = _cost_item_changes(base["cost"]["items"], head["cost"]["items"])
    if cost_changes:
        lines += ["", "#### Cost items", "", "| item | before | after |", "|---|---:|---:|"]
        lines += [f"| {what} | {b:.2f} | {a:.2f} |" for what, b, a in cost_changes]
    lines += ["", "_Secrets are shown as `[secret]`. Generated offline under mocks: no cloud credentials used._"]
    return "\n".join(lines) + "\n"


def _cost_item_changes(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    def totals(items: list[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for item in items:
            out[item["what"]] = out.get(item["what"], 0.0) + float(item["monthly_usd"])
        return out

    b, h = totals(base), totals(head)
    return [
        (k, b.get(k, 0.0), h.get(k, 0.0))
        for k in sorted(set(b) | set(h))
        if abs(b.get(k, 0.0) - h.get(k, 0.0)) >= 0.005
    ]


def plan_shape_problem(document: Any) -> str | None:
    """Why ``document`` is not a plan this module wrote (None when it is one), so plan-diff never crashes."""
    if not isinstance(document, dict):
        return "is JSON but not a plan (not an object)"
    for key, kind in (("stack", str), ("profile", str), ("resources", list), ("cost", dict)):
        if key not in document:
            return f"is JSON but not a plan (no {key})"
        if not isinstance(document[key], kind):
            return f"is JSON but not a plan (`{key}` is not a {kind.__name__})"
    for index, resource in enumerate(document["resources"]):
        if not (
            isinstance(resource, dict)
            and isinstance(resource.get("type"), str)
            and isinstance(resource.get("name"), str)
            and isinstance(resource.get("parent"), (str, type(None)))
            and isinstance(resource.get("inputs"), dict)
        ):
            return f"is JSON but not a plan (resources[{index}] lacks type, name, parent or inputs)"
    cost = document["cost"]
    number = (int, float)
    if not (
        isinstance(cost.get("monthly_usd"), number)
        and not isinstance(cost.get("monthly_usd"), bool)
        and isinstance(cost.get("currency"), str)
        and isinstance(cost.get("prices_as_of"), str)
        and isinstance(cost.get("items"), list)
        and all(
            isinstance(i, dict) and isinstance(i.get("what"), str) and isinstance(i.get("monthly_usd"), number)
            for i in cost["items"]
        )
    ):
        return "is JSON but not a plan (`cost` lacks monthly_usd, currency, prices_as_of or items)"
    return None
