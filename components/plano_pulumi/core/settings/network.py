"""Validation of the network keys (a new VPC or an adopted one)."""

from __future__ import annotations

import ipaddress
import re

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import NatGateways
from plano_pulumi.core.settings.model import NetworkSettings
from plano_pulumi.core.settings.reader import _Reader


def _network(read: _Reader) -> NetworkSettings:
    vpc_id = read.string("vpcId")
    example = "pulumi config set --path 'plano:{key}[0]' subnet-0123456789abcdef0"
    public = read.string_list("publicSubnetIds", example.format(key="publicSubnetIds"))
    private = read.string_list("privateSubnetIds", example.format(key="privateSubnetIds"))
    cidr = read.string("vpcCidr")
    nat = read.choice("natGateways", NatGateways)
    if vpc_id:
        if not re.fullmatch(r"vpc-[0-9a-f]{8,17}", vpc_id, re.ASCII):
            raise ConfigError(
                "plano:vpcId",
                "is not a VPC id",
                value=vpc_id,
                allowed="vpc- followed by 8 or 17 hex digits",
                fix="pulumi config set plano:vpcId vpc-0123456789abcdef0, or remove it to create a VPC",
            )
        _check_subnets_distinct(public, private)
        for key, subnets in (("privateSubnetIds", private), ("publicSubnetIds", public)):
            if len(subnets) < 2:
                raise ConfigError(
                    f"plano:{key}",
                    "needs at least two subnets in different availability zones when plano:vpcId is set "
                    "(RDS subnet groups and load balancers span two zones)",
                    value=list(subnets),
                    fix=example.format(key=key) + "  (and [1])",
                )
            for subnet in subnets:
                if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", subnet, re.ASCII):
                    raise ConfigError(
                        f"plano:{key}",
                        "holds something that is not a subnet id",
                        value=subnet,
                        allowed="subnet- followed by 8 or 17 hex digits",
                        fix=example.format(key=key),
                    )
    elif public or private:
        raise ConfigError(
            "plano:publicSubnetIds" if public else "plano:privateSubnetIds",
            "is set but plano:vpcId is not; subnets only apply to an existing VPC",
            fix="set plano:vpcId to their VPC, or remove the subnet lists to let the stack create a VPC",
        )
    else:
        _check_vpc_cidr(cidr)
    return NetworkSettings(
        create_vpc=not vpc_id,
        vpc_id=vpc_id,
        public_subnet_ids=public,
        private_subnet_ids=private,
        vpc_cidr=cidr,
        nat_gateways=nat,
    )


# Blocks AWS accepts for a VPC that are also private: RFC 1918 and the shared range of RFC 6598.
# AWS refuses 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16 and 224.0.0.0/4, which Python calls private too.
VPC_PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


def _check_vpc_cidr(cidr: str) -> None:
    allowed = "a /16 to /22 block inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10, e.g. 10.40.0.0/16"
    fix = "pulumi config set plano:vpcCidr 10.40.0.0/16"
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ConfigError("plano:vpcCidr", "is not an IPv4 block", value=cidr, allowed=allowed, fix=fix) from None
    if network.version == 4 and str(network) != cidr.strip():
        raise ConfigError(
            "plano:vpcCidr",
            f"has host bits set (the block is {network})",
            value=cidr,
            allowed=allowed,
            fix=f"pulumi config set plano:vpcCidr {network}",
        )
    if (
        not isinstance(network, ipaddress.IPv4Network)
        or not 16 <= network.prefixlen <= 22
        or not any(network.subnet_of(r) for r in VPC_PRIVATE_RANGES)
    ):
        raise ConfigError(
            "plano:vpcCidr",
            "is not a private IPv4 block between /16 and /22 that AWS accepts for a VPC",
            value=cidr,
            allowed=allowed,
            fix=fix,
        )


def _check_subnets_distinct(public: tuple[str, ...], private: tuple[str, ...]) -> None:
    for key, subnets in (("publicSubnetIds", public), ("privateSubnetIds", private)):
        seen: set[str] = set()
        for subnet in subnets:
            if subnet in seen:
                raise ConfigError(
                    f"plano:{key}",
                    "lists the same subnet twice (both copies would land in one availability zone)",
                    value=subnet,
                    fix=f"list distinct subnets: pulumi config rm --path 'plano:{key}[N]' for the duplicate",
                )
            seen.add(subnet)
    both = sorted(set(public) & set(private))
    if both:
        raise ConfigError(
            "plano:privateSubnetIds",
            "holds a subnet that is also in plano:publicSubnetIds; the database and tasks need "
            "subnets with no route from the internet",
            value=both[0],
            fix="list your private subnets in plano:privateSubnetIds and your public ones in plano:publicSubnetIds",
        )
