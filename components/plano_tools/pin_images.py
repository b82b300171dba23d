"""Pin a stack's images by digest: ``make pin-images STACK=prod``.

For each image key (``plano:image``, ``plano:pgbouncerImage``, ``plano:initImage``: the stack
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
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from plano_pulumi.core.errors import ConfigError, shown_path
from plano_pulumi.core.images import ImageRef, parse_image

IMAGE_KEYS = ("image", "pgbouncerImage", "initImage")
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
SINGLE_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
TIMEOUT_S = 30
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class PinError(Exception):
    """A registry did not give a digest; the message says which image and why."""


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


def _anonymous_token(challenge: str, repository: str, opener: urllib.request.OpenerDirector) -> str:
    scheme, _, params = challenge.partition(" ")
    if scheme.lower() != "bearer":
        raise PinError(f"the registry asks for {scheme} credentials; anonymous pulls are not allowed")
    fields = dict(_CHALLENGE_PARAM.findall(params))
    if "realm" not in fields:
        raise PinError("the registry's token challenge names no realm")
    query = {"scope": fields.get("scope", f"repository:{repository}:pull")}
    if "service" in fields:
        query["service"] = fields["service"]
    url = f"{fields['realm']}?{urllib.parse.urlencode(query)}"
    with opener.open(url, timeout=TIMEOUT_S) as response:
        body = json.loads(response.read())
    token = body.get("token") or body.get("access_token")
    if not token:
        raise PinError("the registry's token service gave no token")
    return str(token)


def resolve(image: str, *, opener: urllib.request.OpenerDirector | None = None) -> Resolved:
    """The digest of the manifest ``image``'s tag points to (an index when it is multi-arch)."""
    ref = parse_image(image)
    opener = opener or urllib.request.build_opener()
    url = f"{registry_base(ref.registry)}/v2/{ref.repository}/manifests/{ref.tag}"
    headers = {"Accept": ", ".join((*INDEX_TYPES, *SINGLE_TYPES))}
    for attempt in (1, 2):
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with opener.open(request, timeout=TIMEOUT_S) as response:
                body = response.read()
                media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                claimed = response.headers.get("Docker-Content-Digest")
            break
        except urllib.error.HTTPError as error:
            challenge = error.headers.get("WWW-Authenticate", "")
            if error.code == 401 and attempt == 1 and challenge:
                headers["Authorization"] = f"Bearer {_anonymous_token(challenge, ref.repository, opener)}"
                continue
            raise PinError(f"{url} answered HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise PinError(f"cannot reach {registry_base(ref.registry)} ({error})") from None
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if claimed and claimed != digest:
        raise PinError(f"the registry says {claimed} but sent bytes with digest {digest}")
    return Resolved(digest=digest, media_type=media_type or json.loads(body).get("mediaType", ""))


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
