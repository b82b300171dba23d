"""The end-to-end harness around the real Pulumi CLI and Docker engine (pure parts and thin edges).

A copy of the project in a temporary directory, with its own file backend (``PULUMI_BACKEND_URL``,
the same as ``pulumi login --local`` without touching the caller's login), a throwaway passphrase,
a stack file for ``local`` that points Plano at the mock provider, and helpers to run the CLI,
Docker and HTTP requests with timeouts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).with_name("plano_config.template.yaml")
STACK = "local"
KEY_NAME = "MOCK_PROVIDER_KEY"
MODEL = "mock-small"
# Set where the end-to-end test must run (make e2e, the workflow job): missing tools fail it.
REQUIRED_ENV = "PLANO_E2E_REQUIRED"
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt")


def render_test_config(listener_port: int, mock_base_url: str) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    return text.replace("@LISTENER_PORT@", str(listener_port)).replace("@MOCK_BASE_URL@", mock_base_url)


def stack_file(*, config_file: str, db_port: int) -> dict[str, Any]:
    """Pulumi.local.yaml for the test: the committed local stack's settings, pointed at the mock."""
    committed = yaml.safe_load((PROJECT / f"Pulumi.{STACK}.yaml").read_text(encoding="utf-8"))
    config = dict(committed["config"])
    config.update(
        {
            "plano:configFile": config_file,
            "plano:providerKeysExternal": [KEY_NAME],
            "plano:localDbPort": db_port,
            "plano:localKeepDataVolume": False,  # leave nothing behind
        }
    )
    return {"config": config}


def precondition_message(missing: list[str], *, required: bool) -> str:
    """Why the end-to-end test cannot run, as one sentence (a skip, or a failure under make e2e)."""
    problems = "; ".join(missing)
    if required:
        return f"{REQUIRED_ENV} is set, but the end-to-end test cannot run: {problems}"
    return f"end-to-end test skipped (it needs Docker, the Pulumi CLI and psql): {problems}"


def missing_tools() -> list[str]:
    """What the end-to-end test needs and this machine lacks, each with the reason."""
    missing = []
    if shutil.which("pulumi") is None:
        missing.append("the Pulumi CLI (pulumi) is not installed")
    if shutil.which("docker") is None:
        missing.append("the Docker CLI (docker) is not installed")
    else:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, check=False)
        if info.returncode != 0:
            missing.append("no Docker engine answers (`docker info` failed)")
    if shutil.which("psql") is None and not os.environ.get("PLANO_PSQL"):
        missing.append("psql (postgresql-client) is not installed")
    return missing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mock_address() -> tuple[str, str]:
    """Where the mock listens, and the host name containers use for it.

    On Linux the default bridge's gateway is an address of this machine that containers reach (it
    is what ``host-gateway`` maps to); an IP literal keeps name resolution out of the test. Docker
    Desktop forwards ``host.docker.internal`` to the host's loopback instead.
    """
    if sys.platform.startswith("linux"):
        gateway = subprocess.run(
            ["docker", "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return gateway, gateway
    return "127.0.0.1", "host.docker.internal"


@dataclass
class Project:
    """A copy of the project with its own state directory; every CLI call runs here."""

    root: Path
    env: dict[str, str]
    db_port: int

    @classmethod
    def create(cls, base: Path, *, config_text: str, db_port: int, key: str) -> Project:
        root = base / "project"
        root.mkdir()
        for name in PROJECT_FILES:
            shutil.copy2(PROJECT / name, root / name)
        shutil.copytree(PROJECT / "components", root / "components", ignore=shutil.ignore_patterns("__pycache__"))
        (root / ".venv").symlink_to((PROJECT / ".venv").resolve())
        (root / "e2e_plano_config.yaml").write_text(config_text, encoding="utf-8")
        stack = stack_file(config_file="e2e_plano_config.yaml", db_port=db_port)
        (root / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
        state = base / "state"
        state.mkdir()
        env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": "e2e-throwaway-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            KEY_NAME: key,
        }
        return cls(root, env, db_port)

    def pulumi(self, *args: str, timeout_s: float = 1200) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def outputs(self) -> dict[str, Any]:
        out = self.pulumi("stack", "output", "--stack", STACK, "--json", "--show-secrets").stdout
        return dict(json.loads(out))


def docker(*args: str, timeout_s: float = 120) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def wait_healthy(container: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        status = docker("inspect", "--format", "{{.State.Health.Status}}", container).strip()
        if status == "healthy":
            return
        time.sleep(2)
    raise TimeoutError(f"{container} is {status!r} after {timeout_s}s; `docker logs {container}` says why")


def post_json(url: str, body: dict[str, Any], timeout_s: float = 60) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, dict(json.loads(answer.read() or b"{}"))
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        return error.code, {"error": text}
