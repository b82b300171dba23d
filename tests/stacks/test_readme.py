"""The README and the pages in docs/ match the code: config reference, commands and keys."""

from __future__ import annotations

import re

import pytest
from plano_pulumi.core.settings import KEYS, config_reference_markdown

from tests.conftest import PROJECT

README = (PROJECT / "README.md").read_text()
PAGES = {path.name: path.read_text() for path in sorted((PROJECT / "docs").glob("*.md"))}
CONFIGURATION = PAGES["configuration.md"]
COST = PAGES["tools.md"]
ALL_DOCS = "\n".join([README, *PAGES.values()])


def test_config_reference_is_current() -> None:
    start = CONFIGURATION.index("<!-- config-reference:start")
    start = CONFIGURATION.index("\n", start) + 1
    end = CONFIGURATION.index("<!-- config-reference:end -->")
    assert CONFIGURATION[start:end] == config_reference_markdown()


def test_every_plano_key_the_readme_mentions_exists() -> None:
    known = {key.name for key in KEYS}
    mentioned = set(re.findall(r"plano:([A-Za-z]+)(?![:A-Za-z])", ALL_DOCS))  # not type tokens
    assert mentioned - known == set()


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (PROJECT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z0-9-]+):", makefile, re.MULTILINE))
    used = set(re.findall(r"\bmake ([a-z0-9-]+)", ALL_DOCS))
    assert "test" in used
    assert used - targets == set()


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (PROJECT / ".ci" / "run").read_text()


def test_cost_table_totals_are_what_the_plan_estimates() -> None:
    from plano_tools.plan import plan_document

    from tests.conftest import stack_run

    row = next(line for line in COST.splitlines() if line.startswith("| **total** |"))
    dev, prod = re.findall(r"\*\*([\d.]+)\*\*", row)
    assert float(dev) == plan_document(stack_run("dev"))["cost"]["monthly_usd"]
    assert float(prod) == plan_document(stack_run("prod"))["cost"]["monthly_usd"]
    table = COST[COST.index("| us-east-1, USD/month |") : COST.index("| **total** |")]
    for column, total in ((1, float(dev)), (2, float(prod))):
        cells = [line.split("|")[column + 1] for line in table.splitlines()[2:]]
        numbers = [float(m.group()) for c in cells if (m := re.match(r"\s*([\d.]+)", c))]
        assert round(sum(numbers), 2) == total


def test_every_docs_page_is_linked_from_the_readme() -> None:
    for name in PAGES:
        assert f"(docs/{name})" in README, f"docs/{name} is not in the README's table of contents"


def test_the_docs_name_what_the_code_does() -> None:
    tools, design, review = PAGES["tools.md"], PAGES["design.md"], PAGES["review-environments.md"]
    assert "`userlist.txt` with `$APP_DB_PASSWORD`" in tools and "$PGPASSWORD` where" not in tools
    assert "build machines" not in design
    # $(...) runs the command it is given; `pulumi stack output` prints it.
    assert "$(pulumi stack output wake_command" not in review
    assert "`pulumi stack output wake_command --stack pr-123` prints it" in review


def test_the_plan_files_the_docs_write_are_ignored_by_git() -> None:
    import shutil
    import subprocess

    if shutil.which("git") is None or not (PROJECT / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("prod.json", "dev.json", "base.json", "head.json"):
        result = subprocess.run(["git", "check-ignore", "-q", name], cwd=PROJECT, capture_output=True)
        assert result.returncode == 0, f"{name} is not ignored"
