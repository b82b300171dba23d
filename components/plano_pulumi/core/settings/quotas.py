"""Checks across several keys that AWS would otherwise refuse late: ARNs from another region and
the default quotas the stack's rules and listeners count against (DESIGN.md 5.7)."""

from __future__ import annotations

import json

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.plano_config import Listener
from plano_pulumi.core.settings.keys import Ingress
from plano_pulumi.core.settings.limits import (
    MAX_LISTENERS_PER_LOAD_BALANCER,
    MAX_RULES_PER_SECURITY_GROUP,
    partition_of,
)
from plano_pulumi.core.settings.model import IngressSettings, SecretSettings, Settings
from plano_pulumi.core.task_files import task_files

# AWS default quotas: inbound rules per security group, listeners per load balancer.


def check_arn_regions(region: str, ingress: IngressSettings, secrets: SecretSettings) -> None:
    """A certificate or KMS key must live in the stack's region: the ALB and Secrets Manager
    cannot use one from elsewhere, and AWS says so only at create time."""
    partition = partition_of(region)
    for key, arn in (("plano:certificateArn", ingress.certificate_arn), ("plano:kmsKeyArn", secrets.kms_key_arn)):
        parts = arn.split(":")
        if arn and len(parts) > 3 and parts[3] != region:
            raise ConfigError(
                key,
                f"is in region {parts[3]}, but the stack deploys to {region}",
                value=arn,
                allowed=f"an ARN in {region}",
                fix=f"create or import it in {region} and pulumi config set {key} <its ARN>",
            )
        if arn and len(parts) > 1 and parts[1] != partition:
            raise ConfigError(
                key,
                f"is in partition {parts[1]}, but region {region} is in {partition}",
                value=arn,
                allowed=f"arn:{partition}:...",
                fix=f"pulumi config set {key} <the ARN in {region}, starting arn:{partition}:>",
            )


def load_balancer_ports(listeners: tuple[Listener, ...], *, https: bool) -> list[int]:
    """The load balancer's listener ports: 443 (and 80 to redirect) or 80 for the primary Plano
    listener, and each further Plano listener on its own port (components/plano_pulumi/aws/ingress.py)."""
    others = [lst.port for lst in listeners[1:]] if listeners else []
    return ([443, 80] if https else [80]) + others


def check_ingress_quotas(ingress: IngressSettings, listeners: tuple[Listener, ...], *, source: str) -> None:
    """The load balancer's group gets one inbound rule per allowed CIDR and port."""
    if ingress.mode is not Ingress.ALB:
        return
    ports = load_balancer_ports(listeners, https=ingress.https)
    if len(ports) > MAX_LISTENERS_PER_LOAD_BALANCER:
        raise ConfigError(
            f"{source}: listeners",
            f"declares {len(listeners)} listeners, which need {len(ports)} load balancer listeners; "
            f"AWS allows {MAX_LISTENERS_PER_LOAD_BALANCER} per load balancer by default",
            fix="serve fewer listeners, or raise the quota in Service Quotas first",
        )
    rules = len(ingress.allowed_cidrs) * len(ports)
    if rules > MAX_RULES_PER_SECURITY_GROUP:
        raise ConfigError(
            "plano:allowedCidrs",
            f"lists {len(ingress.allowed_cidrs)} networks on {len(ports)} ports, {rules} inbound rules; AWS "
            f"allows {MAX_RULES_PER_SECURITY_GROUP} per security group by default",
            allowed=f"at most {MAX_RULES_PER_SECURITY_GROUP // len(ports)} networks with these listeners",
            fix="merge neighbouring networks into wider blocks, or raise the quota in Service Quotas first",
        )


# What the task definition and the execution role's policy hold besides the files and the key
# ARNs, at least (measured on the committed stacks: about 3.3 KiB and 390 characters). The
# estimates below are lower bounds, so a config refused here would certainly be refused by AWS;
# the program checks the exact documents again when it builds them (components/aws).
TASK_DEFINITION_BASE_BYTES = 3 * 1024
ROLE_POLICY_BASE_CHARS = 300
# ECS: 64 KiB per task definition (DESIGN.md 5.7). IAM: a role's inline policies together hold
# at most 10,240 characters, white space not counted ("Role policy size" in IAM's quotas).
MAX_TASK_DEFINITION_BYTES = 64 * 1024
MAX_ROLE_INLINE_POLICY_CHARS = 10_240


def task_definition_parts(settings: Settings) -> dict[str, int]:
    """Lower bounds of what each key puts into the container definitions, in bytes: the rendered
    files (``plano:configFile``), Plano's environment, each image reference."""
    files = task_files(settings.plano.text, settings.database, "db-address.invalid")
    service = settings.service
    return {
        "plano:configFile": sum(len(json.dumps(content)) for content in files.values()),
        "plano:environment": sum(
            len(json.dumps({"name": name, "value": value})) for name, value in service.environment.items()
        ),
        "plano:image": len(json.dumps(service.image)),
        "plano:pgbouncerImage": len(json.dumps(service.pgbouncer_image)),
        "plano:initImage": len(json.dumps(service.init_image)),
    }


def task_definition_bytes_at_least(settings: Settings) -> int:
    """A lower bound of the task definition's container definitions, in bytes."""
    return TASK_DEFINITION_BASE_BYTES + sum(task_definition_parts(settings).values())


def role_policy_chars_at_least(settings: Settings) -> int:
    """A lower bound of the execution role's inline policy, in characters (white space not counted)."""
    names = [*settings.secrets.provider_keys, *settings.secrets.provider_keys_external]
    # Each key's secret ARN: arn:aws:secretsmanager:<region>:<account>:secret:<base>/provider-keys/<NAME>-XXXXXX
    arn = len(
        f'"arn:aws:secretsmanager:{settings.region}:123456789012:secret:{settings.names.base}/provider-keys/-AbCdEf",'
    )
    return ROLE_POLICY_BASE_CHARS + sum(arn + len(name) for name in names)


def check_document_sizes(settings: Settings) -> None:
    """Refuse, before any resource, a config that makes ECS or IAM refuse the task's documents."""
    parts = task_definition_parts(settings)
    size = TASK_DEFINITION_BASE_BYTES + sum(parts.values())
    if size > MAX_TASK_DEFINITION_BYTES:
        key = max(parts, key=lambda k: parts[k])  # the key that takes the most room
        fixes = {
            "plano:configFile": "shorten the Plano config (comments, unused providers, long prompts) to fit",
            "plano:environment": "set fewer or shorter plano:environment values",
        }
        raise ConfigError(
            key,
            f"puts {parts[key] // 1024} KiB into the task definition, which would be at least {size // 1024} KiB; "
            f"ECS refuses task definitions over {MAX_TASK_DEFINITION_BYTES // 1024} KiB",
            fix=fixes.get(key, f"pulumi config set {key} <a shorter image reference>"),
        )
    chars = role_policy_chars_at_least(settings)
    if chars > MAX_ROLE_INLINE_POLICY_CHARS:
        count = len(settings.secrets.provider_keys) + len(settings.secrets.provider_keys_external)
        raise ConfigError(
            "plano:providerKeys",
            f"declares {count} keys, which make the execution role's inline policy at least {chars} "
            f"characters (one secret ARN per key); IAM refuses more than {MAX_ROLE_INLINE_POLICY_CHARS}",
            fix="declare fewer provider keys (plano:providerKeys and plano:providerKeysExternal together)",
        )
