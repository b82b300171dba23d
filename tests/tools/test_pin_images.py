"""The pin tool's pieces that need no registry: the anonymous token flow, and editing stack files.

The anonymous token flow is what ghcr.io, public.ecr.aws and Docker Hub ask for; the reference
registry in the integration test runs without auth, so a small HTTP server here plays a registry
that answers 401 with a Bearer challenge and hands out a token from its realm.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from plano_tools.pin_images import INDEX_TYPES, PinError, registry_base, resolve, stack_images, write_pins

INDEX = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}'


class _Registry(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        host = f"127.0.0.1:{self.server.server_address[1]}"
        _Registry.seen.append({"path": self.path, "headers": dict(self.headers)})
        if self.path.startswith("/token?"):
            assert "scope=repository%3Aorg%2Fapp%3Apull" in self.path and "service=test-registry" in self.path
            self._send(200, b'{"token": "anon-token"}', "application/json")
        elif self.headers.get("Authorization") != "Bearer anon-token":
            self.send_response(401)
            challenge = f'Bearer realm="http://{host}/token",service="test-registry",scope="repository:org/app:pull"'
            self.send_header("WWW-Authenticate", challenge)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            assert INDEX_TYPES[0] in self.headers["Accept"]
            self._send(200, INDEX, INDEX_TYPES[0], digest="sha256:" + hashlib.sha256(INDEX).hexdigest())

    def _send(self, code: int, body: bytes, content_type: str, digest: str = "") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def token_registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_anonymous_bearer_token_flow(token_registry: str) -> None:
    _Registry.seen.clear()
    resolved = resolve(f"{token_registry}/org/app:1.0")
    assert resolved.digest == "sha256:" + hashlib.sha256(INDEX).hexdigest()
    assert resolved.multi_arch
    assert [s["path"].split("?")[0] for s in _Registry.seen] == [
        "/v2/org/app/manifests/1.0",
        "/token",
        "/v2/org/app/manifests/1.0",
    ]


def test_unreachable_registry_is_a_clear_error() -> None:
    with pytest.raises(PinError, match="cannot reach"):
        resolve("127.0.0.1:9/org/app:1.0")


def test_registries_are_spoken_to_over_https_except_loopback() -> None:
    assert registry_base("ghcr.io") == "https://ghcr.io"
    assert registry_base("docker.io") == "https://registry-1.docker.io"
    assert registry_base("127.0.0.1:5000") == "http://127.0.0.1:5000"


STACK = """\
# a comment
config:
  aws:region: us-east-1
  plano:image: 'ghcr.io/katanemo/plano:0.4.39' # keep me
"""


def test_stack_images_use_the_file_then_the_defaults() -> None:
    defaults = {"image": "a:1", "pgbouncerImage": "b:1", "initImage": "c:1", "collectorImage": "d:1"}
    assert stack_images(STACK, defaults) == {
        "image": "ghcr.io/katanemo/plano:0.4.39",
        "pgbouncerImage": "b:1",
        "initImage": "c:1",
        "collectorImage": "d:1",
    }


def test_write_pins_edits_lines_and_adds_missing_keys() -> None:
    digest = "sha256:" + "c" * 64
    text = write_pins(STACK, {"image": f"ghcr.io/katanemo/plano:0.4.39@{digest}", "initImage": f"c:1@{digest}"})
    assert text.splitlines() == [
        "# a comment",
        "config:",
        f"  plano:initImage: c:1@{digest}",
        "  aws:region: us-east-1",
        f"  plano:image: ghcr.io/katanemo/plano:0.4.39@{digest} # keep me",
    ]
