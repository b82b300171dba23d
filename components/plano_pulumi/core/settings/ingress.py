"""Validation of the ingress keys: who may reach Plano, over what."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import Ingress, Profile
from plano_pulumi.core.settings.limits import EXAMPLE_ACCOUNT, UUID, is_internet_wide
from plano_pulumi.core.settings.model import IngressSettings
from plano_pulumi.core.settings.placeholders import (
    is_example_arn,
    is_example_domain,
    is_example_network,
    refuse_in_prod,
)
from plano_pulumi.core.settings.reader import _Reader

EXAMPLE_CIDR = "pulumi config set --path 'plano:allowedCidrs[0]' 203.0.113.0/24"


def _ingress(read: _Reader, profile: Profile, warnings: list[str]) -> IngressSettings:
    mode = read.choice("ingress", Ingress)
    cidrs = read.string_list("allowedCidrs", EXAMPLE_CIDR)
    allow_public = read.boolean("allowPublicIngress")
    certificate = read.string("certificateArn")
    internal = read.boolean("albInternal")
    plain_http = read.boolean("allowPlainHttp")  # checked in every profile, used only in prod
    if read.is_set("allowPlainHttp") and (profile is not Profile.PROD or mode is not Ingress.ALB or certificate):
        warnings.append(
            "plano:allowPlainHttp has no effect here: it only lets a prod load balancer without "
            "plano:certificateArn serve plain HTTP"
        )
    _check_cidrs(cidrs, allow_public=allow_public)
    _check_certificate_arn(certificate)
    _refuse_placeholders(profile, cidrs, certificate, warnings)
    domain, zone = _domain(read, profile, warnings)
    if mode is Ingress.ALB:
        _check_load_balancer(profile, cidrs, certificate, plain_http=plain_http, warnings=warnings)
    elif cidrs or certificate or domain:
        warnings.append(
            "plano:ingress is none: plano:allowedCidrs, plano:certificateArn and plano:domainName are ignored"
        )
        domain, zone = "", ""
    return IngressSettings(
        mode=mode,
        allowed_cidrs=cidrs,
        certificate_arn=certificate,
        internal=internal,
        domain_name=domain,
        hosted_zone_id=zone,
    )


def _check_cidrs(cidrs: Sequence[str], *, allow_public: bool) -> None:
    """Each a valid network, listed once, and not internet-wide unless plano:allowPublicIngress."""
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
                fix=EXAMPLE_CIDR,
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
                fix=f"{EXAMPLE_CIDR}; only if you really mean it: pulumi config set plano:allowPublicIngress true",
            )


def _check_certificate_arn(certificate: str) -> None:
    if certificate and not re.fullmatch(
        rf"arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{{12}}:certificate/{UUID}", certificate, re.ASCII
    ):
        raise ConfigError(
            "plano:certificateArn",
            "is not an ACM certificate ARN",
            value=certificate,
            allowed="arn:aws:acm:<region>:<account>:certificate/<uuid>",
            fix="pulumi config set plano:certificateArn arn:aws:acm:<region>:<account>:certificate/<id>",
        )


def _refuse_placeholders(profile: Profile, cidrs: Sequence[str], certificate: str, warnings: list[str]) -> None:
    """The documentation's example networks and certificate: refused in prod, warned about elsewhere."""
    examples = [c for c in cidrs if is_example_network(c)]
    if examples:
        refuse_in_prod(
            profile,
            "allowedCidrs",
            examples,
            "a documentation network",
            "set your clients' networks: pulumi config set --path 'plano:allowedCidrs[0]' <your CIDR>",
            warnings,
        )
    if is_example_arn(certificate):
        refuse_in_prod(
            profile,
            "certificateArn",
            certificate,
            f"the example account {EXAMPLE_ACCOUNT}",
            "set your ACM certificate: pulumi config set plano:certificateArn <certificate ARN>",
            warnings,
        )


def _check_load_balancer(
    profile: Profile, cidrs: Sequence[str], certificate: str, *, plain_http: bool, warnings: list[str]
) -> None:
    """A load balancer needs someone to admit, and in prod HTTPS unless plain HTTP is accepted."""
    if not cidrs:
        raise ConfigError(
            "plano:allowedCidrs",
            "is empty, so nobody could reach the load balancer",
            value=[],
            fix=EXAMPLE_CIDR + ", or pulumi config set plano:ingress none",
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


DNS_NAME = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
HOSTED_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")


def _domain(read: _Reader, profile: Profile, warnings: list[str]) -> tuple[str, str]:
    """plano:domainName and plano:hostedZoneId: the user's name for the endpoint, and the Route 53
    zone the stack writes its alias record in (empty: the user points the name at the load balancer)."""
    domain = read.string("domainName").lower().rstrip(".")
    zone = read.string("hostedZoneId")
    if domain and not DNS_NAME.fullmatch(domain):
        raise ConfigError(
            "plano:domainName",
            "is not a DNS name",
            value=domain,
            allowed="a fully qualified name such as plano.yourcompany.com (no scheme, port or path)",
            fix="pulumi config set plano:domainName <name your certificate covers>",
        )
    if zone and not HOSTED_ZONE_ID.fullmatch(zone):
        raise ConfigError(
            "plano:hostedZoneId",
            "is not a Route 53 hosted zone id",
            value=zone,
            allowed="Z followed by upper-case letters and digits (aws route53 list-hosted-zones-by-name)",
            fix="pulumi config set plano:hostedZoneId <zone id without /hostedzone/>",
        )
    if zone and not domain:
        raise ConfigError(
            "plano:hostedZoneId",
            "is set without plano:domainName, so there is no name to write in the zone",
            value=zone,
            fix="pulumi config set plano:domainName <your name in that zone>",
        )
    if domain and is_example_domain(domain):
        refuse_in_prod(
            profile,
            "domainName",
            domain,
            "a name reserved for examples",
            "set your name: pulumi config set plano:domainName <your domain>",
            warnings,
        )
    return domain, zone
