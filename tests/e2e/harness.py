"""The end-to-end harness around the real Pulumi CLI and Docker engine (pure parts and thin edges).

A copy of the project in a temporary directory, with its own file backend (``PULUMI_BACKEND_URL``,
the same as ``pulumi login --local`` without touching the caller's login), a throwaway passphrase,
a stack of its own (``e2e-<random>``, never the user's ``local``: its Docker names differ, so it
cannot adopt the user's kept data volume or delete it) whose file is the committed local stack's
settings pointed at the mock provider, and helpers to run the CLI, Docker and HTTP requests with
timeouts. Before `pulumi up` it refuses to start when any container, volume or network with its
names already exists on the engine: it only ever touches what it created.
"""

from __future__ import annotations

import json
import os
import secrets
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
from plano_pulumi.core.naming import Names
from plano_pulumi.local.layout import LOOPBACK, LocalNames

from tests.e2e.psql import Database

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).with_name("plano_config.template.yaml")
LOCAL_STACK = "local"  # the committed stack whose settings the e2e stack takes (never deployed here)
STACK_PREFIX = "e2e-"
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
    committed = yaml.safe_load((PROJECT / f"Pulumi.{LOCAL_STACK}.yaml").read_text(encoding="utf-8"))
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


def new_stack_name() -> str:
    return f"{STACK_PREFIX}{secrets.token_hex(4)}"


def docker_names(project: str, stack: str) -> list[str]:
    """Every container, volume and network name the local program gives this stack."""
    names = LocalNames(Names(project, stack))
    return [
        *(names.container(role) for role in ("postgres", "task", "init", "pgbouncer", "plano")),
        names.data_volume,
        names.config_volume("plano"),
        names.config_volume("pgbouncer"),
        names.network,
    ]


def clashes(ours: list[str], existing: set[str]) -> list[str]:
    return sorted(set(ours) & existing)


def existing_docker_names() -> set[str]:
    """The names of every container, volume and network on the engine (the edge)."""
    found: set[str] = set()
    for args in (
        ["ps", "-a", "--format", "{{.Names}}"],
        ["volume", "ls", "-q"],
        ["network", "ls", "--format", "{{.Name}}"],
    ):
        found |= set(docker(*args).split())
    return found


@dataclass
class Project:
    """A copy of the project with its own state directory and stack; every CLI call runs here."""

    root: Path
    env: dict[str, str]
    db_port: int
    """The port the harness gave PostgreSQL on 127.0.0.1 (plano:localDbPort)."""
    stack: str

    @classmethod
    def create(cls, base: Path, *, config_text: str, db_port: int, key: str, stack: str | None = None) -> Project:
        root = base / "project"
        root.mkdir()
        for name in PROJECT_FILES:
            shutil.copy2(PROJECT / name, root / name)
        shutil.copytree(PROJECT / "components", root / "components", ignore=shutil.ignore_patterns("__pycache__"))
        (root / ".venv").symlink_to((PROJECT / ".venv").resolve())
        (root / "e2e_plano_config.yaml").write_text(config_text, encoding="utf-8")
        stack = stack or new_stack_name()
        settings = stack_file(config_file="e2e_plano_config.yaml", db_port=db_port)
        (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        state = base / "state"
        state.mkdir()
        env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": "e2e-throwaway-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            KEY_NAME: key,
        }
        return cls(root, env, db_port, stack)

    @property
    def docker_names(self) -> list[str]:
        project = yaml.safe_load((self.root / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
        return docker_names(str(project), self.stack)

    def refuse_foreign_objects(self, existing: set[str]) -> None:
        """Stop before `pulumi up` when the engine already has an object with one of our names."""
        found = clashes(self.docker_names, existing)
        if found:
            raise RuntimeError(
                f"the engine already has {', '.join(found)}: the end-to-end test creates and deletes only its "
                "own objects, so it stops here (remove them, or run it again: the stack name is random)"
            )

    def database(self, outputs: dict[str, Any], ca_file: Path) -> Database:
        """PostgreSQL as published for this stack: the port the harness chose (the stack file, which
        `pulumi stack init` rewrites, is not read back), the CA and password from the outputs."""
        ca_file.write_text(str(outputs["db_ca_cert_pem"]))
        return Database(LOOPBACK, self.db_port, "plano", "plano", str(outputs["db_password"]), ca_file)

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
        out = self.pulumi("stack", "output", "--stack", self.stack, "--json", "--show-secrets").stdout
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
