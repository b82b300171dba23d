"""YAML that hurts (alias bombs, duplicate keys, deep nesting, huge numbers, big or binary files),
stack files read as the Pulumi CLI reads them, and the offline tools never printing a traceback.

Each hostile file is given as a Plano config and as a stack file, through the whole program under
mocks and through ``python -m plano_tools plan`` (what ``make plan`` and the pull-request workflow
run on files from forks): one ``error:`` line naming the file, exit code 2, quickly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plano_pulumi.core import safe_yaml
from plano_pulumi.core.errors import ConfigError
from plano_tools.cli import main as plano_tools_main
from plano_tools.simulate import read_stack_config, run_program

from policy.validators import main as pack_main
from tests.conftest import PROJECT, config_for


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


PLANO_HEAD = "version: v0.4.0\nlisteners:\n  - {type: model, name: llm, port: 12000}\n"
# name -> (body appended to a valid file, words the one-line error must contain)
HOSTILE = {
    "billion laughs": (_bomb(), "aliases"),
    "duplicate key": ("version: v0.4.0\n", "twice"),
    "deep nesting": ("deep: " + "[" * 5000 + "]" * 5000 + "\n", "deeper than"),
    "deep block nesting": ("deep:\n" + "".join(" " * (i + 2) + f"k{i}:\n" for i in range(200)), "deeper than"),
    "huge integer": ("big: " + "9" * 5000 + "\n", "digits"),
    "many values": ("many:\n" + "  - x\n" * 30_000, "more than"),
    "NUL byte": ("note: a\0b\n", "NUL"),
    "too large": ("padding: '" + "x" * (safe_yaml.MAX_BYTES + 10) + "'\n", "KiB"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_plano_config_is_refused_quickly_under_mocks(name: str, tmp_path: Path) -> None:
    body, words = HOSTILE[name]
    path = tmp_path / "plano.yaml"
    path.write_text(PLANO_HEAD + body)
    started = time.monotonic()
    run = run_program(PROJECT, "dev", config=config_for("dev", values={"configFile": str(path)}))
    elapsed = time.monotonic() - started
    assert isinstance(run.error, ConfigError), repr(run.error)
    message = str(run.error)
    assert str(path) in message and words in message and "\n" not in message, message
    assert run.resources == []
    assert elapsed < 2, f"{name}: {elapsed:.2f}s"


STACK_HEAD = "config:\n  aws:region: us-east-1\n  plano:profile: dev\n"
STACK_HOSTILE = {
    **{k: v for k, v in HOSTILE.items() if k != "duplicate key"},
    "billion laughs": (_bomb(), "anchor"),
    "duplicate key": ("  plano:profile: prod\n", "twice"),
    "one anchor": ("  plano:allowedCidrs: &nets ['10.0.0.0/8']\n  plano:other: *nets\n", "anchor"),
}


@pytest.mark.parametrize("name", STACK_HOSTILE)
def test_hostile_stack_file_is_refused_quickly(name: str, tmp_path: Path) -> None:
    body, words = STACK_HOSTILE[name]
    (tmp_path / "Pulumi.bad.yaml").write_text(STACK_HEAD + body)
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        read_stack_config(tmp_path, "bad")
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert "Pulumi.bad.yaml" in message and words in message and "\n" not in message, message


def _project_copy(tmp_path: Path, stack_file: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py", "plano_config.yaml"):
        shutil.copy(PROJECT / name, project / name)
    (project / "Pulumi.hostile.yaml").write_text(stack_file)
    return project


def _plan(project: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "plano_tools", "--project-dir", str(project), "plan", "--stack", "hostile"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize("kind", ["plano config", "stack file"])
@pytest.mark.processes
def test_make_plan_refuses_a_yaml_bomb_with_one_line(kind: str, tmp_path: Path) -> None:
    if kind == "plano config":
        bomb = tmp_path / "bomb.yaml"
        bomb.write_text(PLANO_HEAD + _bomb())
        project = _project_copy(tmp_path, STACK_HEAD + f"  plano:configFile: {bomb}\n")
        named = str(bomb)
    else:
        project = _project_copy(tmp_path, STACK_HEAD + _bomb())
        named = "Pulumi.hostile.yaml"
    done, elapsed = _plan(project)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    # The whole command, Python start-up and imports included (about 1 s on an idle machine);
    # the refusal itself takes milliseconds (the tests above hold it to 2 s under mocks).
    assert elapsed < 10, f"{elapsed:.1f}s"


# --- stack files are read as the Pulumi CLI reads them ------------------------------------------------


@pytest.mark.parametrize(
    ("written", "passed"),
    [
        ("yes", "yes"),
        ("on", "on"),
        ("No", "No"),
        ("016", "016"),
        ("0x1F", "0x1F"),
        ("1e3", "1e3"),
        ("1_000", "1_000"),
        ("2026-01-01", "2026-01-01"),
        ("~", ""),
        ("null", ""),
        ("'yes'", "yes"),
        ('"016"', "016"),
        ("true", "true"),
        ("17", "17"),
    ],
)
def test_top_level_scalars_reach_the_program_as_written(written: str, passed: str, tmp_path: Path) -> None:
    """Pulumi decodes each config value into a Go string first, which keeps a scalar's text as
    written (gopkg.in/yaml decode of a scalar into a string); the offline plan must agree."""
    (tmp_path / "Pulumi.s.yaml").write_text(f"config:\n  plano:dbEngineVersion: {written}\n")
    assert read_stack_config(tmp_path, "s").values["plano:dbEngineVersion"] == passed


@pytest.mark.parametrize(("written", "refused"), [("yes", "yes"), ("on", "on"), ("016", "016")])
def test_a_yaml11_word_is_refused_as_written_not_as_what_pyyaml_makes_of_it(
    written: str, refused: str, tmp_path: Path
) -> None:
    stack_file = (PROJECT / "Pulumi.dev.yaml").read_text() + f"  plano:dbEngineVersion: {written}\n"
    project = _project_copy(tmp_path, stack_file)
    run = run_program(project, "hostile")
    assert isinstance(run.error, ConfigError), run.error
    assert f'"{refused}"' in str(run.error), str(run.error)


# --- no traceback from the tools ---------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``python -m plano_tools ARGS`` in this process: its exit code and standard error (an
    exception escaping ``main`` fails the test, as its traceback would show). As processes:
    tests/tools/test_hostile_tools.py."""
    capsys.readouterr()
    code = plano_tools_main(list(args))
    return code, capsys.readouterr().err


def _one_line_refusal(code: int, err: str) -> None:
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


NOT_PLANS = {
    "a list": "[1, 2]",
    "resources of numbers": json.dumps({"stack": "s", "profile": "dev", "resources": [1], "cost": {}}),
    "cost without items": json.dumps({"stack": "s", "profile": "dev", "resources": [], "cost": {"monthly_usd": 1}}),
    "deep JSON": "[" * 100_000 + "]" * 100_000,
    "huge number": "9" * 10_000,
    "not JSON": "hello",
}


@pytest.mark.parametrize("name", NOT_PLANS)
def test_plan_diff_on_a_file_that_is_not_a_plan(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.json"
    path.write_text(NOT_PLANS[name])
    _one_line_refusal(*_cli(capsys, "plan-diff", str(path), str(path)))


@pytest.mark.parametrize("target", ["file", "directory given to plan-diff"])
def test_tools_on_the_wrong_kind_of_path(target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "exists.txt"
    existing.write_text("x")
    if target == "file":
        code, err = _cli(capsys, "--project-dir", str(PROJECT), "render", "--stack", "dev", "--out", str(existing))
    else:
        code, err = _cli(capsys, "plan-diff", str(tmp_path), str(existing))
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err


@pytest.mark.parametrize(
    "config", ["  1: x\n", "  true: x\n", "  ? [a, b]\n  : x\n", "  plano:x: 1\n  2026-01-01: y\n"]
)
def test_stack_file_with_a_key_that_is_not_a_name(config: str, tmp_path: Path) -> None:
    (tmp_path / "Pulumi.k.yaml").write_text("config:\n" + config)
    with pytest.raises(ConfigError) as caught:
        read_stack_config(tmp_path, "k")
    assert "Pulumi.k.yaml" in str(caught.value)


@pytest.mark.parametrize("name", [*(n for n in NOT_PLANS if n != "cost without items"), "missing"])
def test_offline_pack_on_a_file_that_is_not_a_plan(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.json"
    if name != "missing":
        path.write_text(NOT_PLANS[name])
    capsys.readouterr()
    code = pack_main([str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err
