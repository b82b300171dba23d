"""Pin a stack's images by digest: ``make pin-images STACK=prod``.

For each image key (``plano:image``, ``plano:pgbouncerImage``, ``plano:initImage``, ``plano:collectorImage``: the stack
file's value, else the default) this asks the image's registry, through the OCI distribution API,
for the manifest its tag points to, with the media types of a multi-arch index first. The digest
is the sha256 of the bytes the registry returned, checked against the registry's
``Docker-Content-Digest`` header. The stack file gets ``repository:tag@sha256:<digest>``: the tag
stays readable, and the digest is what runs. Lines are edited in place, so comments and the order
of the file stay as they are.

Registries that need a token for anonymous pulls (ghcr.io, public.ecr.aws, Docker Hub) answer
401 with a ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` challenge; the token comes
from that realm, anonymously. Loopback registries (127.0.0.1, localhost) are spoken to over plain
HTTP, all others over HTTPS.

Nothing a registry sends is trusted: the realm must be an https URL (plain http only on loopback),
redirects likewise, no ``file:``/``ftp:``/``data:`` handler exists; token answers and manifests are
size-bounded and must be JSON objects of the expected shape; each image takes at most
``TOTAL_TIMEOUT_S`` however slowly the server sends; every failure is a one-line ``PinError``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plano_pulumi.core.errors import ConfigError, one_line, shown_path
from plano_pulumi.core.images import ImageRef, parse_image
from plano_pulumi.core.settings.keys import IMAGE_KEYS

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
SINGLE_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
TIMEOUT_S = 30
"""Longest wait for any one socket operation."""
TOTAL_TIMEOUT_S = 60
"""Longest time one image may take, token and manifest together, however slowly a server answers."""
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the distribution spec's registries refuse larger manifests
MAX_TOKEN_BYTES = 64 * 1024
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"', re.ASCII)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class PinError(Exception):
    """A registry did not give a digest; the message says which image and why (one line)."""

    def __init__(self, message: str) -> None:
        text = one_line(message)
        super().__init__(text if len(text) <= 300 else text[:297] + "...")


@dataclass(frozen=True)
class Resolved:
    digest: str
    media_type: str

    @property
    def multi_arch(self) -> bool:
        return self.media_type in INDEX_TYPES


def registry_base(registry: str) -> str:
    host = "registry-1.docker.io" if registry == "docker.io" else registry
    loopback = host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")
    return f"{'http' if loopback else 'https'}://{host}"


def check_url(url: str, what: str) -> str:
    """``url`` if it is one this tool may fetch: https, or plain http to a loopback host (a local
    registry). A token realm or a redirect to ``file:``, ``ftp:``, ``data:`` or plain http elsewhere
    is refused (a ``file://`` realm would otherwise be read and sent to the registry as a token)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise PinError(f"{what} {url!r} is not a URL") from None
    scheme = parts.scheme.lower()
    if not host or not (scheme == "https" or (scheme == "http" and host in LOOPBACK_HOSTS)):
        raise PinError(f"{what} {url!r} is not an https URL (plain http only to a loopback registry); refused")
    return url


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_url(newurl, "a redirect to")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def safe_opener() -> urllib.request.OpenerDirector:
    """An opener with HTTP(S) only: no file, ftp or data handlers, redirects checked."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _CheckedRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise PinError(f"the registry did not answer within {TOTAL_TIMEOUT_S} s")
        return min(left, TIMEOUT_S)


def _read(response: Any, limit: int, deadline: _Deadline, what: str) -> bytes:
    """At most ``limit`` bytes of the body, each read bounded in time; more is refused."""
    chunks: list[bytes] = []
    size = 0
    while True:
        deadline.left()
        chunk = response.read1(64 * 1024) if hasattr(response, "read1") else response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise PinError(f"the registry's {what} is larger than {limit // 1024} KiB; refused")
        chunks.append(chunk)


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise PinError(f"the registry's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise PinError(f"the registry's {what} is not a JSON object")
    return value


def _anonymous_token(
    challenge: str, repository: str, opener: urllib.request.OpenerDirector, deadline: _Deadline
) -> str:
    scheme, _, params = challenge.partition(" ")
    if scheme.lower() != "bearer":
        raise PinError(f"the registry asks for {scheme[:40]} credentials; anonymous pulls are not allowed")
    fields = dict(_CHALLENGE_PARAM.findall(params))
    if "realm" not in fields:
        raise PinError("the registry's token challenge names no realm")
    query = {"scope": fields.get("scope", f"repository:{repository}:pull")}
    if "service" in fields:
        query["service"] = fields["service"]
    url = check_url(f"{fields['realm']}?{urllib.parse.urlencode(query)}", "the token realm")
    try:
        with opener.open(url, timeout=deadline.left()) as response:
            body = _json_object(_read(response, MAX_TOKEN_BYTES, deadline, "token answer"), "token answer")
    except urllib.error.HTTPError as error:
        raise PinError(f"the token service answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise PinError(f"cannot reach the token service ({type(error).__name__}: {error})") from None
    token = body.get("token") or body.get("access_token")
    if not isinstance(token, str) or not token or not token.isprintable() or len(token) > MAX_TOKEN_BYTES:
        raise PinError("the registry's token service gave no usable token")
    return token


def resolve(image: str, *, opener: urllib.request.OpenerDirector | None = None) -> Resolved:
    """The digest of the manifest ``image``'s tag points to (an index when it is multi-arch).

    Bounded: ``TOTAL_TIMEOUT_S`` in all, however slowly the server sends, and ``MAX_MANIFEST_BYTES``.
    """
    outcome: list[Resolved | BaseException] = []

    def work() -> None:
        try:
            outcome.append(_resolve(image, opener or safe_opener(), _Deadline(TOTAL_TIMEOUT_S)))
        except BaseException as error:  # handed to the caller's thread
            outcome.append(error)

    worker = threading.Thread(target=work, name=f"resolve {image}", daemon=True)
    worker.start()
    worker.join(TOTAL_TIMEOUT_S + 1)
    if not outcome:  # still blocked in a read: leave the daemon thread, give up on this registry
        raise PinError(f"{image}: the registry did not answer within {TOTAL_TIMEOUT_S} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _resolve(image: str, opener: urllib.request.OpenerDirector, deadline: _Deadline) -> Resolved:
    ref = parse_image(image)
    url = check_url(f"{registry_base(ref.registry)}/v2/{ref.repository}/manifests/{ref.tag}", "the registry")
    headers = {"Accept": ", ".join((*INDEX_TYPES, *SINGLE_TYPES))}
    body, media_type, claimed = b"", "", None
    for attempt in (1, 2):
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with opener.open(request, timeout=deadline.left()) as response:
                body = _read(response, MAX_MANIFEST_BYTES, deadline, "manifest")
                media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                claimed = response.headers.get("Docker-Content-Digest")
            break
        except urllib.error.HTTPError as error:
            challenge = error.headers.get("WWW-Authenticate", "")
            if error.code == 401 and attempt == 1 and challenge:
                headers["Authorization"] = f"Bearer {_anonymous_token(challenge, ref.repository, opener, deadline)}"
                continue
            raise PinError(f"{url} answered HTTP {error.code} {str(error.reason)[:80]}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise PinError(f"cannot reach {registry_base(ref.registry)} ({type(error).__name__}: {error})") from None
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if claimed and claimed != digest:
        raise PinError(f"the registry says {claimed[:80]} but sent bytes with digest {digest}")
    if not media_type:
        media_type = str(_json_object(body, "manifest").get("mediaType", ""))
    if media_type not in (*INDEX_TYPES, *SINGLE_TYPES):
        raise PinError(f"the registry's manifest has media type {media_type[:80]!r}, not an image index or manifest")
    _json_object(body, "manifest")  # what is pinned must at least be a manifest document
    return Resolved(digest=digest, media_type=media_type)


def pinned(image: str, digest: str) -> str:
    """``repository:tag@digest`` (the registry written as the user wrote it)."""
    return f"{image.split('@', 1)[0]}@{digest}"


def stack_images(stack_text: str, defaults: Mapping[str, str]) -> dict[str, str]:
    """The effective image of each key: the stack file's value, else the default."""
    found = {key: defaults[key] for key in IMAGE_KEYS}
    for key in IMAGE_KEYS:
        match = re.search(rf"^\s+plano:{key}:\s*(\S+)", stack_text, re.MULTILINE)
        if match:
            found[key] = match.group(1).strip("'\"")
    return found


def write_pins(stack_text: str, pins: Mapping[str, str]) -> str:
    """The stack file with each key's value replaced (comments kept) or added under `config:`."""
    lines = stack_text.splitlines(keepends=True)
    for key, value in pins.items():
        pattern = re.compile(rf"^(\s+plano:{key}:\s*)(\S+)(.*)$", re.DOTALL)
        for i, line in enumerate(lines):
            match = pattern.match(line)
            if match:
                lines[i] = f"{match.group(1)}{value}{match.group(3)}"
                break
        else:
            at = next((i for i, line in enumerate(lines) if line.rstrip() == "config:"), None)
            if at is None:
                raise PinError("the stack file has no top-level `config:` block")
            lines.insert(at + 1, f"  plano:{key}: {value}\n")
    return "".join(lines)


def pin_stack(
    stack_file: Path,
    defaults: Mapping[str, str],
    *,
    resolver: Callable[[str], Resolved] = resolve,
    log: Callable[[str], None] = print,
) -> dict[str, str]:
    """Resolve every image of the stack and write the pins; returns key -> pinned reference."""
    text = stack_file.read_text(encoding="utf-8")
    pins: dict[str, str] = {}
    for key, image in stack_images(text, defaults).items():
        ref: ImageRef = parse_image(image)
        if not ref.tag:
            raise PinError(f"plano:{key} ({image}) has a digest but no tag: add the tag so it can be re-resolved")
        resolved = resolver(image.split("@", 1)[0])
        if not resolved.multi_arch:
            log(f"warning: plano:{key} {image} is a single-platform image ({resolved.media_type})")
        pins[key] = pinned(image, resolved.digest)
        if ref.digest and ref.digest != resolved.digest:
            log(f"plano:{key}: the tag {ref.tag} has moved since it was pinned ({ref.digest} -> {resolved.digest})")
        log(f"plano:{key}: {pins[key]}")
    stack_file.write_text(write_pins(text, pins), encoding="utf-8")
    return pins


def main(argv: list[str] | None = None, *, project_dir: Path | None = None) -> int:
    from plano_pulumi.core.settings.keys import KEYS_BY_NAME

    parser = argparse.ArgumentParser(prog="python -m plano_tools pin-images")
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    root = project_dir or Path.cwd()
    stack_file = root / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():
        raise ConfigError(
            shown_path(stack_file), "does not exist", fix="pass an existing stack: --stack dev or --stack prod"
        )
    defaults = {key: str(KEYS_BY_NAME[key].default) for key in IMAGE_KEYS}
    try:
        pin_stack(stack_file, defaults)
    except PinError as error:
        print(f"error: {error}; {stack_file} is unchanged", file=sys.stderr)
        return 1
    print(f"pinned the images of {stack_file}; review and commit it")
    return 0
