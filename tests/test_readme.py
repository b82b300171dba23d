"""The README matches the code: config reference, commands and keys."""

from __future__ import annotations

import re

from components.core.settings import KEYS, config_reference_markdown
from tests.conftest import PROJECT

README = (PROJECT / "README.md").read_text()


def test_config_reference_is_current() -> None:
    start = README.index("<!-- config-reference:start")
    start = README.index("\n", start) + 1
    end = README.index("<!-- config-reference:end -->")
    assert README[start:end] == config_reference_markdown()


def test_every_plano_key_the_readme_mentions_exists() -> None:
    known = {key.name for key in KEYS}
    mentioned = set(re.findall(r"plano:([A-Za-z]+)(?![:A-Za-z])", README))  # not type tokens
    assert mentioned - known == set()


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (PROJECT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.MULTILINE))
    used = set(re.findall(r"\bmake ([a-z-]+)", README))
    assert "test" in used
    assert used - targets == set()


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (PROJECT / ".ci" / "run").read_text()


def test_cost_table_totals_are_what_the_plan_estimates() -> None:
    from components.tools.plan import plan_document
    from tests.conftest import stack_run

    row = next(line for line in README.splitlines() if line.startswith("| **total** |"))
    dev, prod = re.findall(r"\*\*([\d.]+)\*\*", row)
    assert float(dev) == plan_document(stack_run("dev"))["cost"]["monthly_usd"]
    assert float(prod) == plan_document(stack_run("prod"))["cost"]["monthly_usd"]
    table = README[README.index("| us-east-1, USD/month |") : README.index("| **total** |")]
    for column, total in ((1, float(dev)), (2, float(prod))):
        cells = [line.split("|")[column + 1] for line in table.splitlines()[2:]]
        numbers = [float(m.group()) for c in cells if (m := re.match(r"\s*([\d.]+)", c))]
        assert round(sum(numbers), 2) == total
