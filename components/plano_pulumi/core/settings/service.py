"""Validation of the service keys: images, task size, capacity, counts, logs."""

from __future__ import annotations

import re

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.images import check_image_registry, in_registry
from plano_pulumi.core.settings.keys import IMAGE_KEYS, KEYS_BY_NAME, PROFILES, Architecture, Capacity, Profile
from plano_pulumi.core.settings.limits import FARGATE_SIZES, LOG_RETENTION_DAYS
from plano_pulumi.core.settings.model import ServiceSettings
from plano_pulumi.core.settings.profiles import ProfilePolicy
from plano_pulumi.core.settings.reader import _Reader
from plano_pulumi.core.settings.secrets import _environment

# ECS: an image reference of at most 255 characters; the distribution spec: tags of at most 128.
MAX_IMAGE_CHARS = 255
MAX_TAG_CHARS = 128


def check_image(name: str, image: str, profile: Profile, warnings: list[str]) -> None:
    """One image key's value: a reference registries and ECS accept; prod warns unless it is pinned."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?", image, re.ASCII) or image.endswith(":"):
        raise ConfigError(
            f"plano:{name}",
            "is not an image reference",
            value=image,
            allowed="registry/repository:tag or registry/repository@sha256:<64 hex digits>",
            fix=f"pulumi config set plano:{name} {KEYS_BY_NAME[name].default}",
        )
    tail = image.split("@")[0].rsplit(":", 1)
    tag = tail[1] if len(tail) == 2 and "/" not in tail[1] else ""  # not a registry's port
    if len(image) > MAX_IMAGE_CHARS or len(tag) > MAX_TAG_CHARS:
        raise ConfigError(
            f"plano:{name}",
            "is longer than registries and ECS accept",
            value=image,
            allowed=f"at most {MAX_IMAGE_CHARS} characters in all, a tag of at most {MAX_TAG_CHARS}",
            fix=f"pulumi config set plano:{name} {KEYS_BY_NAME[name].default}",
        )
    if profile is Profile.PROD and "@sha256:" not in image:
        warnings.append(
            f"plano:{name} ({image}) is not pinned by digest; prod should run exactly the image "
            "you tested: use <image>@sha256:<digest>"
        )


def _service(read: _Reader, profile: Profile, policy: ProfilePolicy, warnings: list[str]) -> ServiceSettings:
    # The task's own three images; the collector's (plano:collectorImage) is checked with monitoring.
    images = {name: read.string(name) for name in IMAGE_KEYS if name != "collectorImage"}
    for name, image in images.items():
        check_image(name, image, profile, warnings)
    _check_pgbouncer_version(images["pgbouncerImage"])
    registry = check_image_registry(read.string("imageRegistry"))
    images = {name: in_registry(image, registry) for name, image in images.items()}
    cpu, memory = _task_size(read)
    desired, maximum = _task_count(read, profile, policy)
    retention = _log_retention(read)
    environment = _environment(read)
    return ServiceSettings(
        image=images["image"],
        pgbouncer_image=images["pgbouncerImage"],
        init_image=images["initImage"],
        cpu=cpu,
        memory=memory,
        architecture=read.choice("cpuArchitecture", Architecture),
        capacity=read.choice("capacity", Capacity),
        desired_count=desired,
        max_count=maximum,
        log_retention_days=retention,
        environment=environment,
        image_registry=registry,
    )


def _task_size(read: _Reader) -> tuple[int, int]:
    """plano:cpu and plano:memory: a Fargate size."""
    cpu = read.integer("cpu", minimum=256)
    memory = read.integer("memory", minimum=512)
    if cpu not in FARGATE_SIZES:
        raise ConfigError(
            "plano:cpu",
            "is not a Fargate CPU size",
            value=cpu,
            allowed=", ".join(map(str, FARGATE_SIZES)),
            fix="pulumi config set plano:cpu 512",
        )
    if memory not in FARGATE_SIZES[cpu]:
        choices = FARGATE_SIZES[cpu]
        raise ConfigError(
            "plano:memory",
            f"does not fit plano:cpu {cpu} on Fargate",
            value=memory,
            allowed=f"{choices[0]} to {choices[-1]} MiB in steps of {choices[1] - choices[0]}",
            fix=f"pulumi config set plano:memory {choices[0] if choices[0] >= 1024 else choices[1]}",
        )
    return cpu, memory


def _task_count(read: _Reader, profile: Profile, policy: ProfilePolicy) -> tuple[int, int]:
    """plano:desiredCount (at least the profile's minimum) and plano:maxCount (at least that)."""
    desired = read.integer("desiredCount", minimum=1, maximum=100)
    maximum = read.integer("maxCount", minimum=1, maximum=100)
    if desired < policy.min_tasks:
        raise ConfigError(
            "plano:desiredCount",
            f"is below the {profile.value} profile's minimum of {policy.min_tasks} tasks (one per zone, so "
            "a zone outage or a deployment never takes the service down)",
            value=desired,
            allowed=f"{policy.min_tasks} to 100",
            fix=f"pulumi config set plano:desiredCount {policy.min_tasks}",
        )
    if maximum < desired:
        raise ConfigError(
            "plano:maxCount",
            f"is below plano:desiredCount ({desired})",
            value=maximum,
            allowed=f"{desired} to 100",
            fix=f"pulumi config set plano:maxCount {max(desired, PROFILES[profile]['maxCount'])}",
        )
    return desired, maximum


def _log_retention(read: _Reader) -> int:
    retention = read.integer("logRetentionDays", minimum=1)
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(
            "plano:logRetentionDays",
            "is not a retention CloudWatch Logs accepts",
            value=retention,
            allowed=", ".join(map(str, LOG_RETENTION_DAYS)),
            fix="pulumi config set plano:logRetentionDays 30",
        )
    return retention


MIN_PGBOUNCER = (1, 21)


def _check_pgbouncer_version(image: str) -> None:
    """Refuse a PgBouncer tag older than 1.21: it cannot keep prepared statements in transaction
    pooling, which Plano's single, never-reconnecting connection relies on. Tags that do not read
    as a version (a digest only, `latest`) are left to the image's owner."""
    match = re.search(r":([0-9]+)\.([0-9]+)(?:[.\-][^@]*)?(?:@|\Z)", image, re.ASCII)
    if match and (int(match.group(1)), int(match.group(2))) < MIN_PGBOUNCER:
        raise ConfigError(
            "plano:pgbouncerImage",
            "is older than PgBouncer 1.21, which cannot carry Plano's prepared statements in transaction pooling",
            value=image,
            allowed="PgBouncer 1.21 or newer",
            fix=f"pulumi config set plano:pgbouncerImage {KEYS_BY_NAME['pgbouncerImage'].default}",
        )
