#!/usr/bin/env python3
"""Refresh the cost model's prices from AWS's price list: the Query API, or the bulk files.

    .venv/bin/python scripts/refresh_prices.py --query-api [--region R ...] [--dry-run]
    .venv/bin/python scripts/refresh_prices.py [--region R ...] [--from-dir DIR] [--dry-run]

With ``--query-api`` (preferred) it asks AWS's Price List Query API (``pricing:GetProducts``,
through the ``aws`` CLI, so any AWS credentials allowed that action) for the few products the cost
model uses, filtered on the server (``QUERY_FILTERS``): a few hundred kilobytes instead of the
~100 MB RDS bulk file. Without it, it reads the price list bulk files (no credentials needed)

    https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.json

for the offers in RULES (AmazonRDS, AmazonECS, AWSELB), picks the on-demand USD price of every
product a rule matches, and rewrites the ``REFRESHED`` block at the end of
components/plano_tools/prices.py with them, each dated by the file's ``publicationDate``. Entries there
override the hand-entered table; prices no rule covers (NAT gateway, public IPv4, Secrets Manager,
KMS, CloudWatch Logs, Fargate Spot) stay hand-maintained with their sources. ``--from-dir`` reads
``<offer>-<region>.json`` files instead of downloading them (the tests use a recorded excerpt).

Note: the AmazonRDS file of a region is about 100 MB; the download takes a while.
To price something new (e.g. Aurora Serverless v2 ACU-hours): add a Rule whose ``key`` function
returns the price key that components/plano_tools/pricing.py looks up.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
PRICES_FILE = PROJECT / "components" / "plano_tools" / "prices.py"
OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
BEGIN = "# --- refreshed: written by scripts/refresh_prices.py; do not edit by hand ---"
END = "# --- end refreshed ---"
_AZ = {"Single-AZ": "single-az", "Multi-AZ": "multi-az"}  # not "Multi-AZ (readable standbys)"


@dataclass(frozen=True)
class Rule:
    """Products of one offer that give one kind of price."""

    offer: str
    unit: str  # the table's unit name
    price_unit: str  # the unit the price list charges in ("Hrs", "GB-Mo")
    key: Callable[[dict[str, str]], str | None]  # product attributes -> price key, or None: not this rule


def _usage(pattern: str, key: str, family: str | None = None) -> Callable[[dict[str, str]], str | None]:
    """Match on the usage type without its region prefix (``USE1-``, ``EUC1-``, or none), and on the
    product family when given."""
    regex = re.compile(rf"(^|-){pattern}$")

    def match(a: dict[str, str]) -> str | None:
        if family is not None and a.get("productFamily") != family:
            return None
        return key if regex.search(a.get("usagetype", "")) else None

    return match


def _rds_instance(a: dict[str, str]) -> str | None:
    if a.get("databaseEngine") != "PostgreSQL" or a.get("deploymentOption") not in _AZ:
        return None
    if not a.get("instanceType", "").startswith("db."):
        return None
    return f"rds.instance.{a['instanceType']}.{_AZ[a['deploymentOption']]}"


def _rds_gp3(a: dict[str, str]) -> str | None:
    if a.get("volumeType") != "General Purpose-GP3" or a.get("deploymentOption") not in _AZ:
        return None
    if a.get("databaseEngine") not in ("PostgreSQL", "Any", None):
        return None
    return f"rds.storage.gp3.{_AZ[a['deploymentOption']]}"


RULES = [
    Rule("AmazonRDS", "instance-hour", "Hrs", _rds_instance),
    Rule("AmazonRDS", "GB-month", "GB-Mo", _rds_gp3),
    Rule("AmazonECS", "vCPU-hour", "hours", _usage(r"Fargate-vCPU-Hours:perCPU", "fargate.x86_64.vcpu-hour")),
    Rule("AmazonECS", "GB-hour", "hours", _usage(r"Fargate-GB-Hours", "fargate.x86_64.gb-hour")),
    Rule("AmazonECS", "vCPU-hour", "hours", _usage(r"Fargate-ARM-vCPU-Hours:perCPU", "fargate.arm64.vcpu-hour")),
    Rule("AmazonECS", "GB-hour", "hours", _usage(r"Fargate-ARM-GB-Hours", "fargate.arm64.gb-hour")),
    Rule("AWSELB", "ALB-hour", "Hrs", _usage(r"LoadBalancerUsage", "alb.hour", "Load Balancer-Application")),
    Rule("AWSELB", "LCU-hour", "LCU-Hrs", _usage(r"LCUUsage", "alb.lcu-hour", "Load Balancer-Application")),
]


class RefreshError(Exception):
    pass


def load_offer(offer: str, region: str, from_dir: Path | None) -> dict[str, Any]:
    if from_dir is not None:
        path = from_dir / f"{offer}-{region}.json"
        if not path.is_file():
            raise RefreshError(f"{path} does not exist (recorded files are named <offer>-<region>.json)")
        return dict(json.loads(path.read_text(encoding="utf-8")))
    url = OFFER_URL.format(offer=offer, region=region)
    print(f"downloading {url}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=600) as response:
            return dict(json.load(response))
    except OSError as exc:
        raise RefreshError(f"cannot download {url} ({exc}); use --from-dir with files downloaded elsewhere") from None


# Price List Query API filters per offer: only the products RULES can match (server-side).
QUERY_FILTERS: dict[str, list[dict[str, str]]] = {
    "AmazonRDS": [
        {"productFamily": "Database Instance", "databaseEngine": "PostgreSQL"},
        {"productFamily": "Database Storage", "volumeType": "General Purpose-GP3"},
    ],
    "AmazonECS": [{"productFamily": "Compute"}],
    "AWSELB": [{"productFamily": "Load Balancer-Application"}],
}
# The Query API answers in us-east-1 (also eu-central-1, ap-south-1) for every region's prices.
QUERY_ENDPOINT_REGION = "us-east-1"


def query_offer(offer: str, region: str, aws: str = "aws") -> dict[str, Any]:
    """The products of ``offer`` in ``region`` that QUERY_FILTERS select, from the Price List Query
    API, in the layout of a bulk file (so ``extract`` reads both)."""
    products: dict[str, Any] = {}
    on_demand: dict[str, Any] = {}
    published = ""
    version = ""
    for fields in QUERY_FILTERS[offer]:
        filters = [f"Type=TERM_MATCH,Field={k},Value={v}" for k, v in {"regionCode": region, **fields}.items()]
        command = [aws, "pricing", "get-products", "--region", QUERY_ENDPOINT_REGION, "--service-code", offer]
        command += ["--format-version", "aws_v1", "--output", "json", "--filters", *filters]
        print(f"querying {offer} {region} {fields}", file=sys.stderr)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except OSError as exc:
            raise RefreshError(f"cannot run the aws CLI ({exc}); install it, or use the bulk files") from None
        if result.returncode != 0:
            raise RefreshError(f"aws pricing get-products {offer}: {result.stderr.strip()[-300:]}")
        for item in json.loads(result.stdout).get("PriceList", []):
            entry = json.loads(item) if isinstance(item, str) else item
            sku = entry["product"]["sku"]
            products[sku] = entry["product"]
            on_demand[sku] = entry.get("terms", {}).get("OnDemand", {})
            published = max(published, str(entry.get("publicationDate", "")))
            version = max(version, str(entry.get("version", "")))
    if not products:
        raise RefreshError(f"the Price List Query API returned no {offer} products for {region}")
    return {
        "offerCode": offer,
        "version": version or "unknown",
        "publicationDate": published,
        "products": products,
        "terms": {"OnDemand": on_demand},
    }


def _on_demand_usd(offer: dict[str, Any], sku: str, price_unit: str) -> float | None:
    """The single on-demand USD price per ``price_unit`` of a product (first tier), if there is one."""
    terms = offer.get("terms", {}).get("OnDemand", {}).get(sku, {})
    amounts = [
        float(dimension["pricePerUnit"]["USD"])
        for term in terms.values()
        for dimension in term.get("priceDimensions", {}).values()
        if dimension.get("unit") == price_unit
        and "USD" in dimension.get("pricePerUnit", {})
        and str(dimension.get("beginRange", "0")) == "0"
    ]
    return amounts[0] if len(set(amounts)) == 1 else None


def extract(offer: dict[str, Any], region: str, rules: list[Rule]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(price key, Price) for every product of ``offer`` in ``region`` that a rule matches."""
    version = str(offer.get("version", "unknown"))
    published = str(offer.get("publicationDate", ""))[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", published):
        raise RefreshError(f"{offer.get('offerCode')} {region}: no publicationDate in the file")
    for sku, product in offer.get("products", {}).items():
        attributes = {**product.get("attributes", {}), "productFamily": product.get("productFamily", "")}
        if attributes.get("regionCode", region) != region:
            continue
        for rule in rules:
            key = rule.key(attributes)
            if key is None:
                continue
            usd = _on_demand_usd(offer, sku, rule.price_unit)
            if usd is None:
                continue
            source = f"AWS Price List {offer.get('offerCode')} {region}, version {version}, sku {sku}"
            yield key, {"usd": usd, "unit": rule.unit, "source": source, "as_of": published}


def refresh(
    regions: list[str], from_dir: Path | None, *, query_api: bool = False
) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for region in regions:
        prices: dict[str, dict[str, Any]] = {}
        for offer_code in dict.fromkeys(rule.offer for rule in RULES):
            offer = query_offer(offer_code, region) if query_api else load_offer(offer_code, region, from_dir)
            rules = [rule for rule in RULES if rule.offer == offer_code]
            for key, price in extract(offer, region, rules):
                if key in prices and prices[key]["usd"] != price["usd"]:
                    raise RefreshError(f"{region} {key}: two prices ({prices[key]['usd']} and {price['usd']})")
                prices[key] = price
        out[region] = dict(sorted(prices.items()))
    return out


def render_block(refreshed: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The REFRESHED block, formatted as ruff format leaves it."""
    if not refreshed:
        return f"{BEGIN}\nREFRESHED: dict[str, dict[str, Price]] = {{}}\n{END}\n"
    lines = [BEGIN, "REFRESHED: dict[str, dict[str, Price]] = {"]
    for region, prices in refreshed.items():
        lines.append(f"    {json.dumps(region)}: {{")
        for key, price in prices.items():
            lines.append(f"        {json.dumps(key)}: {{")
            lines += [f"            {json.dumps(field)}: {json.dumps(value)}," for field, value in price.items()]
            lines.append("        },")
        lines.append("    },")
    lines += ["}", END]
    return "\n".join(lines) + "\n"


def refreshed_now(prices_file: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The REFRESHED block as the file holds it (a literal, read without importing the file)."""
    for node in ast.parse(prices_file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "REFRESHED":
            return dict(ast.literal_eval(node.value)) if node.value is not None else {}
    raise RefreshError(f"{prices_file} has no REFRESHED block between {BEGIN!r} and {END!r}")


def rewrite(prices_file: Path, refreshed: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The file with the regions in ``refreshed`` replaced in its REFRESHED block (others kept)."""
    text = prices_file.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise RefreshError(f"{prices_file} has no REFRESHED block between {BEGIN!r} and {END!r}")
    merged = {**refreshed_now(prices_file), **refreshed}
    return text[:start] + render_block(dict(sorted(merged.items()))) + text[end + len(END) + 1 :]


def current_regions(prices_file: Path) -> list[str]:
    """The regions the table has: hand-entered and refreshed."""
    entered = re.findall(r'^    "([a-z]{2}-[a-z]+-\d)": _', prices_file.read_text(encoding="utf-8"), re.MULTILINE)
    return list(dict.fromkeys([*entered, *refreshed_now(prices_file)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", action="append", help="region to refresh (repeatable; default: the table's)")
    parser.add_argument(
        "--query-api",
        action="store_true",
        help="ask the Price List Query API for the few products used (aws CLI and credentials; preferred)",
    )
    parser.add_argument("--from-dir", type=Path, help="read <offer>-<region>.json from DIR instead of downloading")
    parser.add_argument("--prices-file", type=Path, default=PRICES_FILE, help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    args = parser.parse_args(argv)
    regions = args.region or current_regions(args.prices_file)
    try:
        if args.query_api and args.from_dir:
            raise RefreshError("--query-api and --from-dir exclude each other")
        refreshed = refresh(regions, args.from_dir, query_api=args.query_api)
        text = rewrite(args.prices_file, refreshed)
    except RefreshError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for region, prices in refreshed.items():
        dates = sorted({p["as_of"] for p in prices.values()})
        print(f"{region}: {len(prices)} prices, published {', '.join(dates) or '-'}")
    if args.dry_run:
        return 0
    args.prices_file.write_text(text, encoding="utf-8")
    print(f"rewrote the REFRESHED block of {args.prices_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
