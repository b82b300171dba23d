"""No resource of an existing stack is replaced by the move into the component package.

The stacks' resources used to sit at the stack's root (``__main__.py`` built each component); now
they are children of one ``PlanoOnAws`` or ``PlanoOnDocker``. A URN names the chain of parent types,
so every URN changed, and each moved component carries an alias to its old place. This test runs
the program as it was before the move (from git history) and as it is now, both under mocks, and
computes URNs and alias URNs the way the Pulumi engine does (the full chain of parent types; a
child inherits its parent's aliases): every old URN is still a URN, or an alias of one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from plano_pulumi.core.settings import RawConfig
from plano_tools.simulate import read_stack_config, run_program

from tests.conftest import PROJECT, stack_run
from tests.stacks.test_prod_preparation import prepare_prod

BEFORE_THE_PACKAGE = "7fc4744e7e45f76a0837f6dd53877d538dd90d08"
"""The last commit whose __main__.py built the components itself (the stacks as users deployed them)."""

STACKS = ("dev", "prod", "local")

# The old program, for every stack, in one interpreter (its start-up and imports were most of the time).
_OLD_RUN = """
import json, sys
from pathlib import Path
from plano_pulumi.core.settings import RawConfig
from plano_tools.simulate import read_stack_config, run_program
records = {}
for stack in sys.argv[2:]:
    run = run_program(Path(sys.argv[1]), stack)
    assert run.error is None, (stack, run.error)
    records[stack] = [[r.type, r.name, r.urn, r.parent] for r in run.resources]
print(json.dumps(records))
"""


def _old_tree(tmp_path: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", "--format=tar", BEFORE_THE_PACKAGE],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        message = f"commit {BEFORE_THE_PACKAGE[:12]} is not in this clone's history (a shallow clone?)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI clones the whole history")
        pytest.skip(message)
    root = tmp_path / "before"
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    return root


def _engine_urns(stack: str, records: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """Mock URN -> the URN the engine gives it (the mocks keep only the parent's last type)."""
    by_urn = {urn: (type_, name, parent) for type_, name, urn, parent in records}

    def qualified(urn: str) -> str:
        type_, _, parent = by_urn[urn]
        return f"{qualified(parent)}${type_}" if parent in by_urn else type_

    return {urn: f"urn:pulumi:{stack}::plano::{qualified(urn)}::{by_urn[urn][1]}" for urn in by_urn}


def _qualified_type(urn: str) -> str:
    return urn.split("::")[2]


def _new_urns_and_aliases(stack: str, config: RawConfig) -> set[str]:
    run = run_program(PROJECT, stack, config=config)
    assert run.error is None, run.error
    engine = _engine_urns(stack, [(r.type, r.name, r.urn, r.parent) for r in run.resources])
    records = {r.urn: r for r in run.resources}
    known: dict[str, set[str]] = {}

    def aliases(urn: str) -> set[str]:
        if urn in known:
            return known[urn]
        r = records[urn]
        found: set[str] = set()
        for spec in r.aliases:
            assert "urn" not in spec, "aliases are specs (name, type, parent), so they survive a stack rename"
            type_, name = spec["type"] or r.type, spec["name"] or r.name
            if spec["noParent"]:
                found.add(f"urn:pulumi:{stack}::plano::{type_}::{name}")
            else:
                parent = spec["parentUrn"] or r.parent
                chain = _qualified_type(engine[parent]) + "$" if parent in engine else ""
                found.add(f"urn:pulumi:{stack}::plano::{chain}{type_}::{name}")
        if r.parent in records:  # a child inherits every alias of its parent (the engine's rule)
            found |= {f"urn:pulumi:{stack}::plano::{_qualified_type(a)}${r.type}::{r.name}" for a in aliases(r.parent)}
        known[urn] = found
        return found

    return set(engine.values()) | {a for urn in records for a in aliases(urn)}


@pytest.mark.processes
def test_every_urn_of_the_stacks_before_the_package_is_kept_or_aliased(tmp_path: Path) -> None:
    """Dev, prod and local: one test, so the old program runs once for the three."""
    before = _old_tree(tmp_path)
    # Prod refuses the shipped documentation placeholders now: both programs get the file as a
    # user prepares it (the same networks, so the rules' names, and their URNs, are comparable).
    stack_file = before / "Pulumi.prod.yaml"
    stack_file.write_text(prepare_prod(stack_file.read_text(encoding="utf-8"), pins=False), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(before), str(PROJECT / "components")])}
    result = subprocess.run(
        [sys.executable, "-c", _OLD_RUN, str(before), *STACKS],
        cwd=before,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    old_records: dict[str, list[Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(old_records) == set(STACKS)
    for stack in STACKS:
        old = set(_engine_urns(stack, [tuple(r) for r in old_records[stack]]).values())
        assert len(old) > 10, stack  # the program ran and registered the stack's resources
        lost = sorted(old - _new_urns_and_aliases(stack, read_stack_config(before, stack)))
        assert lost == [], f"{stack}: {len(lost)} of {len(old)} resources would be replaced, e.g. {lost[:3]}"


def test_the_check_sees_a_missing_alias(tmp_path: Path) -> None:
    """Without the aliases the same comparison loses every resource (so the test above can fail)."""
    run = stack_run("dev")
    engine = _engine_urns("dev", [(r.type, r.name, r.urn, r.parent) for r in run.resources])
    at_root = {u for u in engine.values() if "$" not in _qualified_type(u)}
    assert at_root == {"urn:pulumi:dev::plano::plano:index:PlanoOnAws::plano"}
