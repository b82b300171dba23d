"""The images a Plano task runs, where they come from, and what Plano's image needs to start.

Pure: plain values in, plain values out. One place for the Plano release this project targets
(the image tag and the ``planoai`` package in ``requirements.txt`` share its version), the default
image references, the environment Plano's image needs to start with no package index, and the
rewriting of image references for a private ECR registry (a pull-through cache or copies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plano_pulumi.core.errors import ConfigError

# The Plano release: image tag and `planoai==` pin in requirements.txt (a test keeps them equal).
# 0.4.39 only moves Envoy from v1.37.0 to v1.37.8 against 0.4.36: the `planoai` wheels' config
# schema, Envoy template and config generator are byte-identical, so 0.4.36 keeps working.
PLANO_VERSION = "0.4.39"
PGBOUNCER_VERSION = "1.25.2"

# Registries without anonymous pull limits (Docker Hub limits anonymous pulls per IP, and Fargate
# tasks behind shared NAT addresses have no image cache). All three are multi-arch (amd64, arm64).
PLANO_IMAGE = f"ghcr.io/katanemo/plano:{PLANO_VERSION}"
PGBOUNCER_IMAGE = f"ghcr.io/cloudnative-pg/pgbouncer:{PGBOUNCER_VERSION}"
INIT_IMAGE = "public.ecr.aws/docker/library/postgres:17-alpine"

# The image's supervisord runs `uv run python -m planoai.config_generator` in /app, which holds
# pyproject.toml and uv.lock but no .venv, while planoai is pip-installed into the system Python
# (/usr/local). Without these, `uv run` creates /app/.venv and syncs it from PyPI at every start,
# so a task cannot start when PyPI is unreachable. With them, uv uses /usr/local as it is.
_PLANO_START_ENV = {"UV_NO_SYNC": "1", "UV_PROJECT_ENVIRONMENT": "/usr/local"}


def plano_image_environment() -> dict[str, str]:
    """Environment every runner of Plano's image sets (ECS task, local Docker): start offline."""
    return dict(_PLANO_START_ENV)


# ECR repository prefixes for the upstream registries: the names a pull-through cache rule
# creates (`<registry>/<prefix>/<upstream repository>`), and the layout for private copies.
ECR_PREFIXES = {"ghcr.io": "ghcr", "public.ecr.aws": "ecr-public", "docker.io": "docker-hub"}
_ECR_REGISTRY = re.compile(r"[0-9]{12}\.dkr\.ecr\.[a-z]{2}(-gov)?-[a-z]+-[0-9]\.amazonaws\.com(\.cn)?", re.ASCII)


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into registry host, repository, tag and digest."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(reference: str) -> ImageRef:
    """Split a reference the way Docker does: a first part with a dot or colon is a registry."""
    rest, _, digest = reference.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
        if "/" not in path:
            path = f"library/{path}"
    repository, _, tag = path.rpartition(":") if ":" in path else (path, "", "")
    if not tag and not digest:
        tag = "latest"
    return ImageRef(registry=registry, repository=repository, tag=tag or None, digest=digest or None)


def in_registry(image: str, registry: str) -> str:
    """The reference of ``image`` in the private ECR ``registry`` (empty: unchanged).

    ``ghcr.io/katanemo/plano:0.4.39`` becomes ``<registry>/ghcr/katanemo/plano:0.4.39``: the name
    an ECR pull-through cache rule with prefix ``ghcr`` serves, or the one to copy the image to.
    Images already in an ECR private registry are left alone.
    """
    if not registry:
        return image
    ref = parse_image(image)
    if _ECR_REGISTRY.fullmatch(ref.registry):
        return image
    prefix = ECR_PREFIXES.get(ref.registry)
    if prefix is None:
        raise ConfigError(
            "plano:imageRegistry",
            f"cannot map images from {ref.registry} (in {image}) to an ECR repository",
            allowed=", ".join(sorted(ECR_PREFIXES)),
            fix=f"copy the image into {registry} yourself and set its full ECR reference, "
            "or use an image from one of those registries",
        )
    return str(ImageRef(registry, f"{prefix}/{ref.repository}", ref.tag, ref.digest))


def check_image_registry(value: str) -> str:
    """Validate ``plano:imageRegistry``: empty or an ECR private registry host."""
    registry = value.strip().rstrip("/")
    if registry and not _ECR_REGISTRY.fullmatch(registry):
        raise ConfigError(
            "plano:imageRegistry",
            "is not an ECR private registry",
            value=value,
            allowed="<account id>.dkr.ecr.<region>.amazonaws.com, or empty for the public registries",
            fix="pulumi config set plano:imageRegistry 123456789012.dkr.ecr.us-east-1.amazonaws.com",
        )
    return registry
