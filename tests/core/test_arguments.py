"""``components/plano_pulumi/args.py`` is generated from the key declarations, and stays so."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from plano_pulumi.core.settings.arguments import args_module_source

from tests.conftest import PROJECT

ARGS = PROJECT / "components" / "plano_pulumi" / "args.py"


def test_args_module_is_current() -> None:
    assert ARGS.read_text(encoding="utf-8") == args_module_source(), (
        "components/plano_pulumi/args.py is stale: run .venv/bin/python -m plano_tools sync-args"
    )


def test_args_module_evaluates_its_annotations() -> None:
    # Pulumi's analyzer reads annotations as they are (no eval): postponed ones would be strings.
    assert "from __future__ import annotations" not in args_module_source()


@pytest.mark.processes
def test_sync_args_rewrites_a_stale_args_module(tmp_path: Path) -> None:
    shutil.copytree(
        PROJECT / "components", tmp_path / "components", ignore=shutil.ignore_patterns("plugin", "*.egg-info")
    )
    stale = tmp_path / "components" / "plano_pulumi" / "args.py"
    # Stale as after a new key: the declarations have a field the file lacks.
    stale.write_text(args_module_source().replace("    db_engine: str\n", "", 1), encoding="utf-8")
    assert stale.read_text(encoding="utf-8") != args_module_source()
    result = subprocess.run(
        [sys.executable, "-m", "plano_tools", "sync-args"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "components")},
    )
    assert result.returncode == 0, result.stderr
    assert str(stale) in result.stdout
    assert stale.read_text(encoding="utf-8") == args_module_source()
