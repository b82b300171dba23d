"""`python -m plano_tools render`: the task's files, from the same code as the task definition."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from plano_pulumi.core.task_files import render_userlist
from plano_tools.cli import main

from tests.conftest import PROJECT, containers, env_of, stack_dir, stack_run


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_files_are_what_the_task_carries(stack: str, tmp_path: Path) -> None:
    run = stack_run(stack)
    db_host = run.outputs["db_address"]
    # The project with the stack file the tests plan (prod: prepared, tests/conftest.py).
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "plano_config.yaml"):
        shutil.copy(PROJECT / name, project / name)
    shutil.copy(stack_dir(stack) / f"Pulumi.{stack}.yaml", project)
    out = tmp_path / "out"
    argv = ["--project-dir", str(project), "render", "--stack", stack, "--out", str(out), "--db-host", db_host]
    assert main(argv) == 0
    files = {p.name: p.read_text() for p in out.iterdir()}
    init = containers(run)["init"]
    env = env_of(init)
    assert files["plano_config.yaml"] == env["PLANO_CONFIG_YAML"] == run.outputs["rendered_plano_config"]
    assert files["pgbouncer.ini"] == env["PGBOUNCER_INI"]
    assert files["schema.sql"] == env["SCHEMA_SQL"]
    assert files["init.sh"] == init["command"][0]
    assert files["userlist.txt"] == render_userlist("plano_app", "$APP_DB_PASSWORD")


def test_render_without_out_prints_the_plano_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--stack", "dev"]) == 0
    assert capsys.readouterr().out == stack_run("dev").outputs["rendered_plano_config"]


def test_render_reports_bad_input_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--stack", "staging"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.staging.yaml: does not exist") and "Traceback" not in err


def test_render_marks_an_unknown_database_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--stack", "dev", "--out", str(tmp_path)]) == 0
    assert "host=db-address.invalid" in (tmp_path / "pgbouncer.ini").read_text()
    assert "--db-host" in capsys.readouterr().out
