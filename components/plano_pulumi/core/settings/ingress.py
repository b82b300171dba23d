"""Validation of the ingress keys: who may reach Plano, over what."""

from __future__ import annotations

import ipaddress
import re

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import Ingress, Profile
from plano_pulumi.core.settings.limits import DOCUMENTATION_NETWORKS, EXAMPLE_ACCOUNT, UUID, is_internet_wide
from plano_pulumi.core.settings.model import IngressSettings
from plano_pulumi.core.settings.reader import _Reader


def _ingress(read: _Reader, profile: Profile, warnings: list[str]) -> IngressSettings:
    mode = read.choice("ingress", Ingress)
    example = "pulumi config set --path 'plano:allowedCidrs[0]' 203.0.113.0/24"
    cidrs = read.string_list("allowedCidrs", example)
    allow_public = read.boolean("allowPublicIngress")
    certificate = read.string("certificateArn")
    internal = read.boolean("albInternal")
    plain_http = read.boolean("allowPlainHttp")  # checked in every profile, used only in prod
    if read.is_set("allowPlainHttp") and (profile is not Profile.PROD or mode is not Ingress.ALB or certificate):
        warnings.append(
            "plano:allowPlainHttp has no effect here: it only lets a prod load balancer without "
            "plano:certificateArn serve plain HTTP"
        )
    seen_networks: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            raise ConfigError(
                "plano:allowedCidrs",
                f"holds an invalid CIDR ({exc})",
                value=cidr,
                allowed="IPv4 or IPv6 networks such as 203.0.113.0/24 or 2001:db8::/48, host bits zero",
                fix=example,
            ) from None
        if network in seen_networks:
            raise ConfigError(
                "plano:allowedCidrs",
                f"lists the same network twice (as {seen_networks[network]} and {cidr})",
                value=cidr,
                fix="remove the duplicate with pulumi config rm --path 'plano:allowedCidrs[N]'",
            )
        seen_networks[network] = cidr
        if is_internet_wide(cidr) and not allow_public:
            raise ConfigError(
                "plano:allowedCidrs",
                "opens the endpoint to the whole internet or most of it; Plano has no client "
                "authentication, so anyone could spend your model-provider keys",
                value=cidr,
                allowed="the networks of your clients",
                fix=f"{example}; only if you really mean it: pulumi config set plano:allowPublicIngress true",
            )
    if certificate and not re.fullmatch(
        rf"arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{{12}}:certificate/{UUID}", certificate, re.ASCII
    ):
        raise ConfigError(
            "plano:certificateArn",
            "is not an ACM certificate ARN",
            value=certificate,
            allowed="arn:aws:acm:<region>:<account>:certificate/<uuid>",
            fix="pulumi config set plano:certificateArn arn:aws:acm:us-east-1:123456789012:certificate/<id>",
        )
    examples = [c for c in cidrs if any(ipaddress.ip_network(c).overlaps(net) for net in DOCUMENTATION_NETWORKS)]
    if examples:
        warnings.append(
            f"plano:allowedCidrs holds documentation example networks ({', '.join(examples)}): "
            "replace them with your clients' networks before deploying"
        )
    if f":{EXAMPLE_ACCOUNT}:" in certificate:
        warnings.append("plano:certificateArn is the documentation example: set your ACM certificate before deploying")
    if mode is Ingress.ALB:
        if not cidrs:
            raise ConfigError(
                "plano:allowedCidrs",
                "is empty, so nobody could reach the load balancer",
                value=[],
                fix=example + ", or pulumi config set plano:ingress none",
            )
        if not certificate:
            if profile is Profile.PROD and not plain_http:
                raise ConfigError(
                    "plano:certificateArn",
                    "is empty, so prompts and answers would cross the network in plain HTTP",
                    fix="pulumi config set plano:certificateArn <ACM certificate ARN>; or accept plain HTTP "
                    "with pulumi config set plano:allowPlainHttp true",
                )
            warnings.append("the load balancer serves plain HTTP; set plano:certificateArn for HTTPS")
    elif cidrs or certificate:
        warnings.append("plano:ingress is none: plano:allowedCidrs and plano:certificateArn are ignored")
    return IngressSettings(mode=mode, allowed_cidrs=cidrs, certificate_arn=certificate, internal=internal)
