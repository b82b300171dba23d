"""Plano's start-up step runs with no network under the task's environment (and fails without it).

A replica of what Plano's image runs at every start, without the image (no Docker engine here):
- ``/usr/local``, where the image pip-installs ``planoai``: a virtual environment made once under
  ``.cache`` with ``planoai==PLANO_VERSION`` from PyPI (the only download; later runs reuse it);
- ``/app``: a directory holding the ``pyproject.toml`` and ``uv.lock`` the image copies there
  (``../shared/upstream/plano/cli``), and no ``.venv``;
- supervisord's command, ``uv run python -m planoai.config_generator``, under ``unshare -n``.

With the task's environment (plano_pulumi.core.images.plano_image_environment, its
``UV_PROJECT_ENVIRONMENT=/usr/local`` pointed at the replica prefix) the generator renders Envoy's
config offline. Without it, uv creates ``/app/.venv`` and tries to sync it from PyPI, and fails.

Python: the image runs 3.14, this machine 3.11. ``uv.lock`` and ``pyproject.toml`` say
``requires-python = ">=3.10"``, which both satisfy, and with ``UV_NO_SYNC`` uv does not read the
lock's packages at all, so the interpreter version does not change what this test shows.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from plano_pulumi.core.images import PLANO_VERSION, plano_image_environment
from plano_pulumi.core.plano_config import render_plano_config

from tests.conftest import PROJECT, UPSTREAM

pytestmark = pytest.mark.integration

CLI = UPSTREAM / "plano" / "cli"
CACHE = Path(os.environ.get("PLANO_TEST_CACHE", PROJECT / ".cache"))
IMAGE_PREFIX = "/usr/local"


def _uv() -> str:
    uv = Path(sys.executable).with_name("uv")
    found = str(uv) if uv.exists() else shutil.which("uv")
    if not found:
        pytest.fail("uv is pinned in requirements-dev.txt: run `make setup`")
    return found


def _offline_allowed() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed, so the test cannot take the network away")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here ({probe.stderr.strip()}); CI runs as root and allows it")


def _planoai_prefix() -> Path:
    """A prefix with planoai==PLANO_VERSION, made once (the only step that downloads)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    prefix = CACHE / "plano-start" / f"planoai-{PLANO_VERSION}-py{version}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (prefix / ".complete").exists():
            shutil.rmtree(prefix, ignore_errors=True)
            # uv (pinned for this test anyway) installs in seconds what pip took half a minute for.
            subprocess.run([_uv(), "venv", "-q", "--python", sys.executable, str(prefix)], check=True)
            subprocess.run(
                [
                    _uv(),
                    "pip",
                    "install",
                    "-q",
                    "--python",
                    str(prefix / "bin" / "python"),
                    f"planoai=={PLANO_VERSION}",
                ],
                check=True,
                timeout=600,
            )
            (prefix / ".complete").touch()
    return prefix


def _app(tmp_path: Path, name: str) -> Path:
    app = tmp_path / name
    app.mkdir()
    for file in ("pyproject.toml", "uv.lock"):
        shutil.copy(CLI / file, app / file)
    document = yaml.safe_load((PROJECT / "plano_config.yaml").read_text())
    rendered = render_plano_config(document, source="plano_config.yaml", db_user="plano", db_name="plano")
    (app / "plano_config.yaml").write_text(rendered.text)
    return app


def _start(app: Path, prefix: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    data = next(prefix.glob("lib/python*/site-packages/planoai/data"))
    env = {
        "PATH": f"{prefix / 'bin'}:/usr/bin:/bin",
        "HOME": str(app.parent),
        "UV_CACHE_DIR": str(app.parent / f"uv-cache-{app.name}"),  # empty: nothing to sync from
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_HTTP_RETRIES": "0",  # fail fast offline
        "PLANO_CONFIG_FILE": str(app / "plano_config.yaml"),
        "PLANO_CONFIG_SCHEMA_FILE": str(data / "plano_config_schema.yaml"),
        "TEMPLATE_ROOT": str(data),
        "ENVOY_CONFIG_TEMPLATE_FILE": "envoy.template.yaml",
        "PLANO_CONFIG_FILE_RENDERED": str(app / "plano_config_rendered.yaml"),
        "ENVOY_CONFIG_FILE_RENDERED": str(app / "envoy.yaml"),
        **extra_env,
    }
    command = ["unshare", "-n", _uv(), "run", "python", "-m", "planoai.config_generator"]
    return subprocess.run(command, cwd=app, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not CLI.is_dir(), reason="../shared/upstream is not present")
def test_config_step_starts_offline_with_the_tasks_environment_and_not_without(tmp_path: Path) -> None:
    _offline_allowed()
    prefix = _planoai_prefix()

    task_env = plano_image_environment()
    assert task_env["UV_PROJECT_ENVIRONMENT"] == IMAGE_PREFIX  # the image's prefix, replaced by the replica
    task_env["UV_PROJECT_ENVIRONMENT"] = str(prefix)
    with_env = _app(tmp_path, "with")
    started = _start(with_env, prefix, task_env)
    assert started.returncode == 0, started.stderr[-2000:]
    assert "listeners:" in (with_env / "envoy.yaml").read_text()
    assert not (with_env / ".venv").exists()

    without = _app(tmp_path, "without")
    failed = _start(without, prefix, {})
    assert failed.returncode != 0
    assert not (without / "envoy.yaml").exists()
    assert (without / ".venv").exists()  # uv made its own environment and could not fill it offline
    assert any(word in failed.stderr.lower() for word in ("dns", "network", "resolv", "connect")), failed.stderr
