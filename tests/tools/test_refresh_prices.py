"""scripts/refresh_prices.py on a recorded, hand-made excerpt of AWS's price list files
(tests/fixtures/price-list, see its README): the right products are picked, the table is rewritten
in place, the result is valid and formatted, and the cost model prices a class it did not know."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import PROJECT

FIXTURES = PROJECT / "tests" / "fixtures" / "price-list"
SCRIPT = PROJECT / "scripts" / "refresh_prices.py"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def refreshed(tmp_path: Path) -> Path:
    prices = tmp_path / "prices.py"
    shutil.copy(PROJECT / "components" / "plano_tools" / "prices.py", prices)
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--region",
            "us-east-1",
            "--from-dir",
            str(FIXTURES),
            "--prices-file",
            str(prices),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "us-east-1: 12 prices, published 2026-10-15, 2026-10-20, 2026-11-01" in result.stdout
    return prices


@pytest.mark.processes
def test_refresh_picks_postgres_on_demand_prices_and_dates_them(refreshed: Path) -> None:
    table = load(refreshed, "refreshed_prices").REFRESHED["us-east-1"]
    assert set(table) == {
        "rds.instance.db.t4g.micro.single-az",
        "rds.instance.db.t4g.micro.multi-az",
        "rds.instance.db.m8g.large.single-az",
        "rds.instance.db.m8g.large.multi-az",
        "rds.storage.gp3.single-az",
        "rds.storage.gp3.multi-az",
        "fargate.x86_64.vcpu-hour",
        "fargate.x86_64.gb-hour",
        "fargate.arm64.vcpu-hour",
        "fargate.arm64.gb-hour",
        "alb.hour",
        "alb.lcu-hour",
        # The decoys are absent: MySQL, readable standbys, Windows, ephemeral storage, NLB, classic ELB.
    }
    m8g = table["rds.instance.db.m8g.large.multi-az"]
    assert m8g == {
        "usd": 0.366,
        "unit": "instance-hour",
        "source": "AWS Price List AmazonRDS us-east-1, version 20261101000000, sku RDSPGM8GLARGEMAZ",
        "as_of": "2026-11-01",
    }
    assert table["fargate.arm64.vcpu-hour"]["usd"] == 0.03238  # not Windows' 0.09148
    assert table["alb.lcu-hour"]["usd"] == 0.008  # not the network load balancer's 0.006
    assert table["rds.instance.db.t4g.micro.single-az"]["as_of"] == "2026-11-01"


@pytest.mark.processes
def test_refreshed_prices_override_the_entered_ones_and_keep_the_rest(refreshed: Path) -> None:
    module = load(refreshed, "refreshed_prices_merge")
    prices = module.PRICES["us-east-1"]
    assert prices["rds.instance.db.m8g.large.single-az"]["usd"] == 0.183  # new class
    assert prices["kms.key-month"]["source"].startswith("infracost golden file")  # no rule: kept as entered
    assert set(module.PRICES) == {"us-east-1", "us-west-2", "eu-west-1"}


@pytest.mark.processes
def test_the_rewritten_file_is_lint_and_format_clean(refreshed: Path) -> None:
    for command in (["ruff", "check", "--no-cache"], ["ruff", "format", "--check", "--no-cache"]):
        result = subprocess.run(
            [sys.executable, "-m", *command, "--config", str(PROJECT / "pyproject.toml"), str(refreshed)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.processes
def test_a_second_refresh_is_a_no_op(refreshed: Path) -> None:
    before = refreshed.read_text()
    result = run_script("--from-dir", str(FIXTURES), "--region", "us-east-1", "--prices-file", str(refreshed))
    assert result.returncode == 0, result.stderr
    assert refreshed.read_text() == before


@pytest.mark.processes
def test_missing_files_are_a_clear_error(tmp_path: Path) -> None:
    prices = tmp_path / "prices.py"
    shutil.copy(PROJECT / "components" / "plano_tools" / "prices.py", prices)
    result = run_script("--region", "eu-central-1", "--from-dir", str(FIXTURES), "--prices-file", str(prices))
    assert result.returncode == 2
    assert "error:" in result.stderr and "AmazonRDS-eu-central-1.json does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert prices.read_text() == (PROJECT / "components" / "plano_tools" / "prices.py").read_text()


def test_the_committed_table_has_a_refreshed_block() -> None:
    refresh = load(SCRIPT, "refresh_prices")
    assert isinstance(refresh.refreshed_now(PROJECT / "components" / "plano_tools" / "prices.py"), dict)


# A stand-in for `aws pricing get-products`: answers from the recorded bulk files, applying the
# TERM_MATCH filters as the Query API does, one JSON string per product (the API's PriceList).
FAKE_AWS = r"""#!PYTHON
import json, sys
from pathlib import Path
args = sys.argv[1:]
with open(sys.argv[0] + ".log", "a") as log:
    log.write(json.dumps(args) + "\n")
assert args[:2] == ["pricing", "get-products"], args
service = args[args.index("--service-code") + 1]
filters = dict(f.split(",Field=")[1].split(",Value=") for f in args[args.index("--filters") + 1:])
offer = json.loads((Path("FIXTURES") / f"{service}-{filters['regionCode']}.json").read_text())
items = []
for sku, product in offer["products"].items():
    fields = {**product["attributes"], "productFamily": product["productFamily"]}
    if all(fields.get(k) == v for k, v in filters.items()):
        entry = {"product": product, "serviceCode": service, "terms": {
            "OnDemand": offer["terms"]["OnDemand"].get(sku, {})}, "version": offer["version"],
            "publicationDate": offer["publicationDate"]}
        items.append(json.dumps(entry))
print(json.dumps({"FormatVersion": "aws_v1", "PriceList": items}))
"""


@pytest.mark.processes
def test_the_query_api_path_gives_the_same_table_as_the_bulk_files(refreshed: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(FAKE_AWS.replace("PYTHON", sys.executable).replace("FIXTURES", str(FIXTURES)))
    fake.chmod(0o755)
    prices = tmp_path / "query-prices.py"
    shutil.copy(PROJECT / "components" / "plano_tools" / "prices.py", prices)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--query-api", "--region", "us-east-1", "--prices-file", str(prices)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert prices.read_text() == refreshed.read_text()  # the same prices, sources and dates
    calls = [json.loads(line) for line in (bin_dir / "aws.log").read_text().splitlines()]
    # Filtered on the server, never a whole offer: every call names the region and a product family.
    assert calls and all("Field=regionCode,Value=us-east-1" in " ".join(c) for c in calls)
    assert all("Field=productFamily" in " ".join(c) for c in calls)
    assert {c[c.index("--service-code") + 1] for c in calls} == {"AmazonRDS", "AmazonECS", "AWSELB"}


@pytest.mark.processes
def test_the_query_api_without_the_aws_cli_is_a_clear_error(tmp_path: Path) -> None:
    prices = tmp_path / "prices.py"
    shutil.copy(PROJECT / "components" / "plano_tools" / "prices.py", prices)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--query-api", "--region", "us-east-1", "--prices-file", str(prices)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert result.returncode == 2 and "\nerror: cannot run the aws CLI" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
