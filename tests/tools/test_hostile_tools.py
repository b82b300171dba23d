"""``plan-diff`` and the policy pack's offline entry point on hostile plan files (issue 19, class 5).

A plan file may come from anywhere (a pull request's artifact, a hand edit). Both tools check it
against docs/plan.schema.json within bounds (size, depth, number of values) before reading it, and
answer one line, never a traceback, within a bounded time; a large but valid plan is diffed in
linear time. (The hostile registry for ``pin-images`` is in tests/integration/test_pin_images.py.)

Each case calls the tools' ``main`` as their command lines do (exit code, standard error, and any
exception escaping it, which would be the traceback); ``test_each_tool_as_a_process_...`` runs
both as the processes a user starts, on one hostile plan and one file that is no plan.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from plano_tools.cli import main as plano_tools_main
from plano_tools.plan import plan_document

from policy.validators import main as pack_main
from tests.conftest import PROJECT, stack_run

Plan = dict[str, Any]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return json.loads(json.dumps(plan_document(stack_run("dev"))))


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


def _set(path: str, value: Any) -> Callable[[Plan], Any]:
    def edit(document: Plan) -> Plan:
        target: Any = document
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if value is DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return document

    return edit


DELETE = object()
HOSTILE_PLANS: list[tuple[str, Callable[[Plan], Any]]] = [
    ("no resources", _set("resources", DELETE)),
    ("no cost", _set("cost", DELETE)),
    ("resources is a map", _set("resources", {"a": 1})),
    ("a resource is a string", _set("resources.0", "aws:rds/instance:Instance")),
    ("a resource without inputs", _set("resources.0.inputs", DELETE)),
    ("inputs is a list", _set("resources.0.inputs", [1, 2])),
    ("a resource name is a number", _set("resources.0.name", 7)),
    ("monthly cost is text", _set("cost.monthly_usd", "12.00")),
    ("a cost item without an amount", _set("cost.items", [{"resource": "x", "what": "y"}])),
    ("warnings hold a number", _set("warnings", [1])),
    ("an unknown top-level field", _set("extra", True)),
    ("deep nesting in inputs", _set("resources.0.inputs", _nested(500))),
    ("the whole file a list", lambda document: [document]),
    ("the whole file a number", lambda document: 12),
]


def _write(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


@dataclass
class Done:
    """How a tool's run ended: its exit code and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


def _in_process(tool: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]) -> Done:
    capsys.readouterr()
    code = tool(argv)
    out, err = capsys.readouterr()
    return Done(code, out, err)


def _diff(capsys: pytest.CaptureFixture[str], *paths: Path) -> Done:
    return _in_process(plano_tools_main, ["plan-diff", *map(str, paths)], capsys)


def _pack(capsys: pytest.CaptureFixture[str], *paths: Path) -> Done:
    return _in_process(pack_main, list(map(str, paths)), capsys)


def _as_process(*command: str) -> Done:
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False)
    return Done(done.returncode, done.stdout, done.stderr)


def _one_line_error(done: Done, path: Path) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize(("case", "edit"), HOSTILE_PLANS, ids=[c for c, _ in HOSTILE_PLANS])
def test_plan_diff_refuses_a_hostile_plan_in_one_line(
    case: str, edit: Callable[[Plan], Any], plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path, "base.json", plan)
    bad = _write(tmp_path, "head.json", edit(copy.deepcopy(plan)))
    started = time.monotonic()
    done = _diff(capsys, good, bad)
    assert time.monotonic() - started < 60
    _one_line_error(done, bad)


@pytest.mark.parametrize(("case", "edit"), HOSTILE_PLANS, ids=[c for c, _ in HOSTILE_PLANS])
def test_the_packs_offline_entry_refuses_a_hostile_plan_in_one_line(
    case: str, edit: Callable[[Plan], Any], plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path, "plan.json", edit(copy.deepcopy(plan)))
    _one_line_error(_pack(capsys, bad), bad)


RAW_FILES: list[tuple[str, bytes]] = [
    ("not JSON", b"{not json"),
    ("not UTF-8", b'{"stack": "\xff\xfe"}'),
    ("nested past the parser's limit", b"[" * 100_000 + b"]" * 100_000),
    ("larger than any plan", b'{"stack": "' + b"x" * (9 * 1024 * 1024) + b'"}'),
    ("empty", b""),
]


@pytest.mark.parametrize(("case", "content"), RAW_FILES, ids=[c for c, _ in RAW_FILES])
def test_both_tools_refuse_a_file_that_is_no_plan(
    case: str, content: bytes, plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    _one_line_error(_diff(capsys, _write(tmp_path, "good.json", plan), bad), bad)
    _one_line_error(_pack(capsys, bad), bad)


@pytest.mark.processes  # starts the tools as processes: make test runs it, make test-fast does not
def test_each_tool_as_a_process_exits_2_with_one_line(plan: Plan, tmp_path: Path) -> None:
    """As a user runs them: `python -m plano_tools plan-diff` and `python policy/validators.py`."""
    hostile = _write(tmp_path, "hostile.json", _nested(500))
    not_a_plan = tmp_path / "not-a-plan.json"
    not_a_plan.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    good = _write(tmp_path, "good.json", plan)
    for bad in (hostile, not_a_plan):
        _one_line_error(_as_process(sys.executable, "-m", "plano_tools", "plan-diff", str(good), str(bad)), bad)
        _one_line_error(_as_process(sys.executable, str(PROJECT / "policy" / "validators.py"), str(bad)), bad)


def test_a_large_valid_plan_is_diffed_in_bounded_time(
    plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Long lists in inputs (a resource listing 100,000 names) are compared in linear time."""
    base, head = copy.deepcopy(plan), copy.deepcopy(plan)
    base["resources"][0]["inputs"]["many"] = [f"name-{i}" for i in range(100_000)]
    head["resources"][0]["inputs"]["many"] = [f"name-{i}" for i in range(1, 100_001)]
    started = time.monotonic()
    done = _diff(capsys, _write(tmp_path, "base.json", base), _write(tmp_path, "head.json", head))
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert "name-0" in done.stdout and "name-100000" in done.stdout
