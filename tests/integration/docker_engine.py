"""A real Docker engine for the tests, and the local stack's container descriptions run on it.

``Engine.start`` runs Debian's ``dockerd`` as root in a new directory (``engine_root``: on a tmpfs
when one has room), with its own data root, exec root, pid file and unix socket
(``--storage-driver=vfs --iptables=false``), and ``stop`` ends it by its PID. ``import_images``
turns the root filesystem scripts/ensure-test-images.sh builds from Debian's packages into the
three images the local stack runs (PostgreSQL with the documented entry point, PgBouncer as uid
998, the init step's). ``run`` creates a container from a ``plano_pulumi.local.spec.ContainerSpec``
through the Engine API as the Docker provider does: create (entry point, command, environment,
health check in nanoseconds, network, ports, stop timeout, labels), then the files as a tar whose
headers carry path, mode, size and time (owner 0, as the provider writes them), then start.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from plano_pulumi.local.layout import env_list
from plano_pulumi.local.spec import INPUTS_LABEL, ContainerSpec, inputs_digest

API = "/v1.41"  # Docker 20.10 (Debian bookworm's docker.io) and newer
ROOTFS_ENV = "PLANO_TEST_ROOTFS"
SKIP_REASON_ENV = "PLANO_DOCKER_SKIP_REASON"
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PG_PATH = f"/usr/lib/postgresql/15/bin:{SEARCH_PATH}"
IMAGE_SETTINGS: dict[str, dict[str, Any]] = {
    # The official image's interface: its entry point runs the server as postgres on PGDATA, and
    # it stops with SIGINT (fast shutdown).
    "postgres": {
        "Env": [f"PATH={PG_PATH}", "PGDATA=/var/lib/postgresql/data"],
        "Entrypoint": ["docker-entrypoint.sh"],
        "Cmd": ["postgres"],
        "StopSignal": "SIGINT",
    },
    # CloudNativePG's PgBouncer image runs as uid 998 (core/task_files.py PGBOUNCER_UID).
    "pgbouncer": {"Env": [f"PATH={SEARCH_PATH}"], "User": "998"},
    # The init step's image (postgres:17-alpine on a workstation): sh, psql 15+, root.
    "init": {"Env": [f"PATH={SEARCH_PATH}"]},
}


# The engine's data root: on a tmpfs when one has room, as the vfs storage driver copies the whole
# image for every container (and `docker restart` keeps it): on this project's 2-core test machine
# the Docker test took 90 s with the copies on disk (29 s of it in the kernel) and 38 s on
# /dev/shm. PLANO_DOCKER_ROOT names another directory.
ROOT_ENV = "PLANO_DOCKER_ROOT"
TMPFS = Path("/dev/shm")
TMPFS_ROOM_BYTES = 4 << 30  # seven containers' copies of the ~200 MB image, with room to spare


class EngineUnavailableError(Exception):
    pass


def engine_root(fallback: Path) -> Path:
    """A new directory for one engine: under $PLANO_DOCKER_ROOT, else /dev/shm when it is a tmpfs
    with room, else ``fallback``."""
    chosen = os.environ.get(ROOT_ENV)
    if chosen:
        parent = Path(chosen)
    elif _is_roomy_tmpfs(TMPFS):
        parent = TMPFS
    else:
        return fallback
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="plano-docker-", dir=parent))


def _is_roomy_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
        stats = os.statvfs(path)
    except OSError:
        return False
    on_tmpfs = any(line.split()[1:3] == [str(path), "tmpfs"] for line in mounts if len(line.split()) > 2)
    return on_tmpfs and stats.f_bavail * stats.f_frsize >= TMPFS_ROOM_BYTES


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


@dataclass
class Engine:
    root: Path
    process: subprocess.Popen[bytes] | None = None
    images: dict[str, str] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)
    """Ids of the networks this engine created (their bridges live in the host's namespace)."""

    @property
    def socket(self) -> str:
        return str(self.root / "docker.sock")

    @property
    def pid(self) -> int:
        return int((self.root / "docker.pid").read_text().strip())

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout_s: float = 60) -> None:
        if os.geteuid() != 0:
            raise EngineUnavailableError("the tests start dockerd as root, and this is not root")
        dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").is_file() else None)
        if dockerd is None:
            raise EngineUnavailableError("dockerd is not installed (Debian's docker.io)")
        for name in ("data", "exec"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        log = (self.root / "dockerd.log").open("wb")
        self.process = subprocess.Popen(
            [
                dockerd,
                "--storage-driver=vfs",
                "--iptables=false",
                "--bridge=none",  # no docker0: the tests' containers use their own network
                "--host-gateway-ip=127.0.0.1",  # what `host-gateway` resolves to without docker0
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--pidfile={self.root / 'docker.pid'}",
                f"--host=unix://{self.socket}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": SEARCH_PATH},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineUnavailableError(f"dockerd exited {self.process.returncode}: {self.log_tail()}")
            try:
                if self.request("GET", "/_ping", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise EngineUnavailableError(f"dockerd did not answer within {timeout_s}s: {self.log_tail()}")

    def stop(self) -> list[str]:
        """Stop the engine and remove what it made; returns the host interfaces it could not remove.

        A bridge network's interface (``br-<id>``) is the host's: left behind by a stopped engine, it
        keeps its address range, and after some thirty runs Docker finds no free range for a new
        network. So the containers and networks are removed through the API first, and any bridge
        still there after dockerd exits is deleted."""
        if self.process is None:
            return []
        started = time.monotonic()
        if self.process.poll() is None:
            self._remove_containers_and_networks()
            pid = self.pid if (self.root / "docker.pid").is_file() else self.process.pid
            os.kill(pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        print(f"docker engine: dockerd exited after {time.monotonic() - started:.1f}s")
        left = self._delete_bridges()
        # vfs keeps whole copies of every layer: leave nothing behind (mounts first).
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.root) + "/")), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        subprocess.run(
            ["rm", "-rf", "--one-file-system", str(self.root / "data"), str(self.root / "exec")],
            check=False,
            timeout=900,
        )
        if self.root.name.startswith("plano-docker-"):  # made by engine_root, outside pytest's tmp
            shutil.rmtree(self.root, ignore_errors=True)
        print(f"docker engine: stopped and removed in {time.monotonic() - started:.1f}s")
        return left

    def _remove_containers_and_networks(self) -> None:
        try:
            for container in self.ok("GET", "/containers/json", query={"all": "true"}) or []:
                self.request("DELETE", f"/containers/{container['Id']}", query={"force": "true"}, timeout=60)
            for network in self.networks:
                self.request("DELETE", f"/networks/{network}", timeout=60)
        except (OSError, RuntimeError) as error:  # the bridges are deleted below anyway
            print(f"docker engine: could not remove containers and networks: {error}")

    def _delete_bridges(self) -> list[str]:
        left = []
        for network in self.networks:
            bridge = f"br-{network[:12]}"
            if Path("/sys/class/net", bridge).exists():
                subprocess.run(["ip", "link", "delete", bridge], check=False, capture_output=True)
                if Path("/sys/class/net", bridge).exists():
                    left.append(bridge)
        return left

    def log_tail(self, lines: int = 15) -> str:
        path = self.root / "dockerd.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # -- the Engine API -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        raw: bytes | BinaryIO | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 300,
    ) -> tuple[int, Any]:
        conn = _UnixConnection(self.socket, timeout)
        url = path if path == "/_ping" else API + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Content-Type": content_type, **(headers or {})} if data is not None else {}
        conn.request(method, url, body=data, headers=sent)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        try:
            return response.status, json.loads(payload) if payload else None
        except ValueError:
            return response.status, payload.decode(errors="replace")

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, answer = self.request(method, path, body, **kwargs)
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {answer}")
        return answer

    def cli(
        self, *args: str, input_text: str | None = None, timeout_s: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """The docker client against this engine (for exec)."""
        docker = shutil.which("docker") or "docker"
        return subprocess.run(
            [docker, "-H", f"unix://{self.socket}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    # -- images, networks, volumes --------------------------------------------------------------

    def import_images(self, rootfs: Path, tag: str) -> None:
        """Load the root filesystem once, as the one layer of three images with different settings.

        An archive in `docker save`'s format (one layer, three image configurations) loads the
        layer once; three `docker import`s would unpack it three times (vfs copies every layer).
        """
        digest = hashlib.sha256()
        with rootfs.open("rb") as layer:
            for block in iter(lambda: layer.read(1 << 20), b""):
                digest.update(block)
        diff_id = f"sha256:{digest.hexdigest()}"
        archive = self.root / "images.tar"
        manifest = []
        with tarfile.open(archive, "w") as out:
            out.add(rootfs, arcname="layer/layer.tar")
            for role, settings in IMAGE_SETTINGS.items():
                config = json.dumps(
                    {
                        "architecture": "amd64",
                        "os": "linux",
                        "created": "2026-01-01T00:00:00Z",
                        "config": settings,
                        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                        "history": [{"created": "2026-01-01T00:00:00Z", "comment": "debootstrap bookworm"}],
                    },
                    sort_keys=True,
                ).encode()
                name = f"{hashlib.sha256(config).hexdigest()}.json"
                info = tarfile.TarInfo(name)
                info.size = len(config)
                out.addfile(info, io.BytesIO(config))
                reference = f"plano-test/{role}:{tag}"
                manifest.append({"Config": name, "RepoTags": [reference], "Layers": ["layer/layer.tar"]})
                self.images[role] = reference
            data = json.dumps(manifest).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        try:
            with archive.open("rb") as body:
                self.ok(
                    "POST",
                    "/images/load",
                    query={"quiet": "1"},
                    raw=body,
                    content_type="application/x-tar",
                    headers={"Content-Length": str(archive.stat().st_size)},
                    timeout=600,
                )
        finally:
            archive.unlink()

    def network(self, name: str) -> None:
        created = self.ok("POST", "/networks/create", {"Name": name, "Driver": "bridge", "CheckDuplicate": True})
        self.networks.append(str(created["Id"]))

    def volume(self, name: str) -> None:
        self.ok("POST", "/volumes/create", {"Name": name})

    # -- containers -----------------------------------------------------------------------------

    def run(self, spec: ContainerSpec[str], *, image: str) -> str:
        """Create, upload the files, start; returns the container's id."""
        check = spec.healthcheck
        config: dict[str, Any] = {
            "Image": image,
            "Hostname": spec.hostname or "",
            "Entrypoint": list(spec.entrypoint) if spec.entrypoint is not None else None,
            "Cmd": list(spec.command) or None,
            "Env": env_list(dict(spec.env)),
            "Labels": {INPUTS_LABEL: inputs_digest([str(v) for v in spec.hidden_inputs])} if spec.hidden_inputs else {},
            "StopTimeout": spec.stop_timeout_s,
            "StopSignal": spec.stop_signal,
            "ExposedPorts": {f"{p.internal}/tcp": {} for p in spec.ports},
            "HostConfig": {
                "Binds": [f"{v.volume}:{v.path}{':ro' if v.read_only else ''}" for v in spec.volumes],
                "PortBindings": {
                    f"{p.internal}/tcp": [{"HostIp": p.ip, "HostPort": str(p.external)}] for p in spec.ports
                },
                "ExtraHosts": [f"{host}:{ip}" for host, ip in spec.extra_hosts],
                "RestartPolicy": {"Name": spec.restart},
                "Init": spec.init,
            },
        }
        if check is not None:
            second = 1_000_000_000
            config["Healthcheck"] = {
                "Test": list(check.test),
                "Interval": check.interval_s * second,
                "Timeout": check.timeout_s * second,
                "Retries": check.retries,
                "StartPeriod": check.start_period_s * second,
            }
        if spec.shares_network_of is not None:
            holder = self.inspect(self._name_of(spec.shares_network_of, spec))["Id"]
            config["HostConfig"]["NetworkMode"] = f"container:{holder}"
        elif spec.network is not None:
            config["HostConfig"]["NetworkMode"] = spec.network
            config["NetworkingConfig"] = {"EndpointsConfig": {spec.network: {"Aliases": list(spec.aliases)}}}
        created = self.ok("POST", "/containers/create", config, query={"name": spec.name})
        container_id = str(created["Id"])
        if spec.files:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for f in spec.files:
                    content = str(f.content).encode()
                    info = tarfile.TarInfo(f.path.lstrip("/"))
                    info.size, info.mode, info.mtime, info.uid, info.gid = len(content), f.mode, int(time.time()), 0, 0
                    tar.addfile(info, io.BytesIO(content))
            self.ok(
                "PUT",
                f"/containers/{container_id}/archive",
                query={"path": "/"},
                raw=buffer.getvalue(),
                content_type="application/x-tar",
            )
        self.ok("POST", f"/containers/{container_id}/start")
        return container_id

    def _name_of(self, role: str, spec: ContainerSpec[str]) -> str:
        # Containers are named <base>-<role>: the holder of the namespace is the same base's.
        return spec.name.rsplit("-", 1)[0] + f"-{role}"

    def inspect(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.ok("GET", f"/containers/{name}/json")
        return answer

    def wait_exit(self, name: str, timeout_s: float = 180) -> int:
        answer = self.ok("POST", f"/containers/{name}/wait", timeout=timeout_s)
        return int(answer["StatusCode"])

    def logs(self, name: str) -> str:
        return self.cli("logs", name).stdout + self.cli("logs", name).stderr

    def wait_healthy(self, name: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        status = ""
        while time.monotonic() < deadline:
            state = self.inspect(name)["State"]
            status = state.get("Health", {}).get("Status", "")
            if status == "healthy":
                return
            if not state["Running"] and not state["Restarting"]:
                break
            time.sleep(0.5)
        raise AssertionError(f"{name} is {status!r}, not healthy:\n{self.logs(name)[-3000:]}")

    def restart(self, name: str) -> None:
        self.ok("POST", f"/containers/{name}/restart", query={"t": 30}, timeout=120)

    def remove(self, name: str) -> None:
        self.ok("DELETE", f"/containers/{name}", query={"force": "true"})
