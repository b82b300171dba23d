"""`make pin-images` against a real OCI registry on loopback (Debian's `docker-registry`).

The test starts the reference registry with a temporary config on 127.0.0.1, pushes a multi-arch
index (two image manifests, their config and layer blobs) through the distribution API, pins a
stack file with it and checks the digest is the sha256 of the index bytes it pushed.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from plano_tools import pin_images
from plano_tools.pin_images import INDEX_TYPES, PinError, pin_stack, resolve

from tests.integration.conftest import servers_unavailable

pytestmark = pytest.mark.integration

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not os.access(REGISTRY_BIN, os.X_OK):
        servers_unavailable("docker-registry is not installed (scripts/ensure-test-servers.sh installs it)", os.environ)
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "error"},
                "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    process = subprocess.Popen(
        [REGISTRY_BIN, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry did not start: {process.stderr.read() if process.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        yield host
    finally:
        process.terminate()
        process.wait(timeout=10)


def _request(method: str, url: str, body: bytes = b"", content_type: str = "") -> urllib.request.Request:
    headers = {"Content-Type": content_type} if content_type else {}
    return urllib.request.Request(url, data=body or None, headers=headers, method=method)


def _push_blob(host: str, repo: str, blob: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with urllib.request.urlopen(_request("POST", f"http://{host}/v2/{repo}/blobs/uploads/"), timeout=10) as r:
        location = r.headers["Location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    separator = "&" if "?" in location else "?"
    put = _request("PUT", f"{location}{separator}digest={digest}", blob, "application/octet-stream")
    with urllib.request.urlopen(put, timeout=10) as r:
        assert r.status == 201
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": len(blob)}


def _push_manifest(host: str, repo: str, reference: str, manifest: dict[str, object], media_type: str) -> bytes:
    body = json.dumps(manifest, indent=2).encode()
    with urllib.request.urlopen(
        _request("PUT", f"http://{host}/v2/{repo}/manifests/{reference}", body, media_type), timeout=10
    ) as r:
        assert r.status == 201
    return body


def push_index(host: str, repo: str, tag: str, salt: str) -> bytes:
    """Push a two-platform OCI index under ``tag``; returns the index bytes as pushed."""
    entries = []
    for arch in ("amd64", "arm64"):
        layer = _push_blob(host, repo, f"layer {arch} {salt}".encode())
        config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        config_desc = _push_blob(host, repo, config.encode())
        config_desc["mediaType"] = "application/vnd.oci.image.config.v1+json"
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer],
        }
        body = json.dumps(manifest).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        _push_manifest_bytes(host, repo, digest, body)
        entries.append(
            {
                "mediaType": manifest["mediaType"],
                "digest": digest,
                "size": len(body),
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = {"schemaVersion": 2, "mediaType": INDEX_TYPES[0], "manifests": entries}
    return _push_manifest(host, repo, tag, index, INDEX_TYPES[0])


def _push_manifest_bytes(host: str, repo: str, reference: str, body: bytes) -> None:
    request = _request(
        "PUT", f"http://{host}/v2/{repo}/manifests/{reference}", body, "application/vnd.oci.image.manifest.v1+json"
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 201


STACK = """\
# prod: a comment that must survive
config:
  aws:region: us-east-1
  plano:profile: prod
  # the Plano image, kept readable
  plano:image: {plano} # pinned by make pin-images
  plano:pgbouncerImage: {pgbouncer}
"""


def test_pinning_writes_the_index_digest_and_keeps_the_file(registry: str, tmp_path: Path) -> None:
    plano_index = push_index(registry, "katanemo/plano", "0.4.39", "a")
    pgbouncer_index = push_index(registry, "cloudnative-pg/pgbouncer", "1.25.2", "b")
    init_index = push_index(registry, "docker/library/postgres", "17-alpine", "c")
    stack = tmp_path / "Pulumi.prod.yaml"
    plano, pgbouncer = f"{registry}/katanemo/plano:0.4.39", f"{registry}/cloudnative-pg/pgbouncer:1.25.2"
    stack.write_text(STACK.format(plano=plano, pgbouncer=pgbouncer))
    defaults = {
        "image": "unused/plano:1",
        "pgbouncerImage": "unused/pgbouncer:1",
        "initImage": f"{registry}/docker/library/postgres:17-alpine",
    }

    pins = pin_stack(stack, defaults, log=lambda _: None)

    digest = "sha256:" + hashlib.sha256(plano_index).hexdigest()
    assert pins["image"] == f"{plano}@{digest}"
    assert pins["pgbouncerImage"].endswith("@sha256:" + hashlib.sha256(pgbouncer_index).hexdigest())
    assert pins["initImage"].endswith("@sha256:" + hashlib.sha256(init_index).hexdigest())
    text = stack.read_text()
    assert "# prod: a comment that must survive" in text and "# the Plano image, kept readable" in text
    assert f"plano:image: {plano}@{digest} # pinned by make pin-images" in text
    config = yaml.safe_load(text)["config"]
    assert config["plano:image"] == pins["image"] and config["plano:initImage"] == pins["initImage"]

    # The tag moves: pinning again follows it (the tag in the pinned reference is what is resolved).
    moved = push_index(registry, "katanemo/plano", "0.4.39", "moved")
    said: list[str] = []
    pin_stack(stack, defaults, log=said.append)
    assert any("plano:image: the tag 0.4.39 has moved" in line for line in said), said
    assert yaml.safe_load(stack.read_text())["config"]["plano:image"] == (
        f"{plano}@sha256:" + hashlib.sha256(moved).hexdigest()
    )


def test_the_command_pins_a_stack_and_fails_cleanly_for_a_missing_tag(registry: str, tmp_path: Path) -> None:
    index = push_index(registry, "cli/plano", "1.0", "cli")
    (tmp_path / "Pulumi.test.yaml").write_text(
        "config:\n"
        f"  plano:image: {registry}/cli/plano:1.0\n"
        f"  plano:pgbouncerImage: {registry}/cli/plano:1.0\n"
        f"  plano:initImage: {registry}/cli/plano:1.0\n"
    )
    run = [sys.executable, "-m", "plano_tools", "--project-dir", str(tmp_path), "pin-images", "--stack", "test"]
    done = subprocess.run(run, cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "sha256:" + hashlib.sha256(index).hexdigest() in (tmp_path / "Pulumi.test.yaml").read_text()

    missing = f"{registry}/cli/plano:no-such-tag"
    before = "config:\n" + "".join(f"  plano:{key}: {missing}\n" for key in ("image", "pgbouncerImage", "initImage"))
    (tmp_path / "Pulumi.test.yaml").write_text(before)
    done = subprocess.run(run, cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "HTTP 404" in done.stderr and "unchanged" in done.stderr
    assert (tmp_path / "Pulumi.test.yaml").read_text() == before
    with pytest.raises(PinError, match="HTTP 404"):
        resolve(missing)


# --- a hostile registry on loopback (issue 19, class 5) ------------------------------------------------------
#
# A tiny HTTP server plays a registry that lies: realms that point at local files or other schemes,
# token and manifest bodies that are not what they claim, bodies that never end, answers that
# trickle in. Each must end in a one-line PinError, within a bounded time, with nothing local sent.

HOSTILE_SECRET_FILE_TEXT = "local-file-contents-must-never-leave"


class _Hostile(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []
    local_file: ClassVar[Path] = Path("/nonexistent")
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _challenge(self, realm: str) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="s",scope="repository:x:pull"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _body(self, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _endless(self, delay: float = 0.0, chunk: bytes = b"A" * 65536) -> None:
        self.send_response(200)
        self.send_header("Content-Type", INDEX_TYPES[0])
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            while True:
                self.wfile.write(chunk)
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
        except OSError:
            return

    def do_GET(self) -> None:
        _Hostile.seen.append({"path": self.path, "authorization": self.headers.get("Authorization", "")})
        host = f"127.0.0.1:{self.server.server_address[1]}"
        mode = self.path.split("/")[2] if self.path.startswith("/v2/") else self.path.split("?")[0].strip("/")
        realms = {
            "file-realm": f"file://{_Hostile.local_file}",
            "ftp-realm": "ftp://127.0.0.1/token",
            "data-realm": "data:text/plain,token",
            "http-realm-elsewhere": "http://registry.example.invalid/token",
        }
        tokens = {
            "token-not-json": b"{not json",
            "token-a-list": b"[1, 2, 3]",
            "token-missing": b'{"expires_in": 300}',
            "token-not-a-string": b'{"token": {"nested": true}}',
            "token-with-a-line-break": b'{"token": "abc\\r\\nX-Injected: 1"}',
        }
        if mode in realms and not self.headers.get("Authorization"):
            self._challenge(realms[mode])
        elif mode in tokens and not self.headers.get("Authorization"):
            self._challenge(f"http://{host}/{mode}-token")
        elif mode.endswith("-token") and mode.removesuffix("-token") in tokens:
            self._body(tokens[mode.removesuffix("-token")])
        elif mode == "token-endless" and not self.headers.get("Authorization"):
            self._challenge(f"http://{host}/endless-token")
        elif mode == "endless-token":
            self._endless()
        elif mode == "manifest-not-json":
            self._body(b"<html>not a manifest</html>", content_type="")
        elif mode == "manifest-html":
            self._body(b"<html></html>", content_type="text/html")
        elif mode == "manifest-a-list":
            self._body(b"[]", content_type=INDEX_TYPES[0])
        elif mode == "manifest-endless":
            self._endless()
        elif mode == "manifest-slow":
            self._endless(delay=0.2, chunk=b" ")
        elif mode == "redirect-to-file":
            self.send_response(302)
            self.send_header("Location", f"file://{_Hostile.local_file}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "digest-with-a-line-break":
            self._body(b"{}", content_type=INDEX_TYPES[0], Docker_Content_Digest="sha256:00\r::error::owned")
        else:
            self._body(b"{}", content_type=INDEX_TYPES[0])


HOSTILE_MODES = [
    ("file-realm", "realm"),
    ("ftp-realm", "realm"),
    ("data-realm", "realm"),
    ("http-realm-elsewhere", "realm"),
    ("token-not-json", "token"),
    ("token-a-list", "token"),
    ("token-missing", "token"),
    ("token-not-a-string", "token"),
    ("token-with-a-line-break", "token"),
    ("token-endless", "token"),
    ("manifest-not-json", "manifest"),
    ("manifest-html", "media type"),
    ("manifest-a-list", "manifest"),
    ("manifest-endless", "manifest"),
    ("manifest-slow", "did not answer"),
    ("redirect-to-file", "redirect"),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _Hostile.local_file = tmp_path_factory.mktemp("hostile") / "local-secret.txt"
    _Hostile.local_file.write_text(HOSTILE_SECRET_FILE_TEXT)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.mark.parametrize(("mode", "says"), HOSTILE_MODES, ids=[m for m, _ in HOSTILE_MODES])
def test_a_hostile_registry_gets_a_one_line_error_in_bounded_time(
    mode: str, says: str, hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pin_images, "TOTAL_TIMEOUT_S", 3)
    monkeypatch.setattr(pin_images, "TIMEOUT_S", 2)
    started = time.monotonic()
    with pytest.raises(PinError) as error:
        resolve(f"{hostile}/{mode}/app:1.0")
    assert time.monotonic() - started < 8
    message = str(error.value)
    assert says in message and message.isprintable() and len(message) <= 300, message
    assert HOSTILE_SECRET_FILE_TEXT not in json.dumps(_Hostile.seen)


def test_a_digest_header_with_a_line_break_stays_one_line(hostile: str) -> None:
    with pytest.raises(PinError) as error:
        resolve(f"{hostile}/digest-with-a-line-break/app:1.0")
    assert str(error.value).isprintable() and "\n" not in str(error.value)


@pytest.mark.parametrize("mode", ["file-realm", "token-not-json", "manifest-endless", "manifest-html"])
def test_the_command_fails_in_one_line_and_leaves_the_stack_file(mode: str, hostile: str, tmp_path: Path) -> None:
    image = f"{hostile}/{mode}/app:1.0"
    before = "config:\n" + "".join(f"  plano:{key}: {image}\n" for key in ("image", "pgbouncerImage", "initImage"))
    (tmp_path / "Pulumi.test.yaml").write_text(before)
    run = [sys.executable, "-m", "plano_tools", "--project-dir", str(tmp_path), "pin-images", "--stack", "test"]
    started = time.monotonic()
    done = subprocess.run(run, cwd=PROJECT, capture_output=True, text=True, timeout=150, check=False)
    assert time.monotonic() - started < pin_images.TOTAL_TIMEOUT_S + 30
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and (tmp_path / "Pulumi.test.yaml").read_text() == before
