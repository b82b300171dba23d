"""Checks across several keys that AWS would otherwise refuse late: ARNs from another region and
the default quotas the stack's rules and listeners count against (DESIGN.md 5.7)."""

from __future__ import annotations

from components.core.errors import ConfigError
from components.core.plano_config import Listener
from components.core.settings.keys import Ingress
from components.core.settings.model import IngressSettings, SecretSettings

# AWS default quotas: inbound rules per security group, listeners per load balancer.
MAX_RULES_PER_SECURITY_GROUP = 60
MAX_LISTENERS_PER_LOAD_BALANCER = 50


def check_arn_regions(region: str, ingress: IngressSettings, secrets: SecretSettings) -> None:
    """A certificate or KMS key must live in the stack's region: the ALB and Secrets Manager
    cannot use one from elsewhere, and AWS says so only at create time."""
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


def load_balancer_ports(listeners: tuple[Listener, ...], *, https: bool) -> list[int]:
    """The load balancer's listener ports: 443 (and 80 to redirect) or 80 for the primary Plano
    listener, and each further Plano listener on its own port (components/aws/ingress.py)."""
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
