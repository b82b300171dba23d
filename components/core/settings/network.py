"""Validation of the network keys (a new VPC or an adopted one)."""

from __future__ import annotations

import ipaddress
import re

from components.core.errors import ConfigError
from components.core.settings.keys import NatGateways
from components.core.settings.model import NetworkSettings
from components.core.settings.reader import _Reader


def _network(read: _Reader) -> NetworkSettings:
    vpc_id = read.string("vpcId")
    example = "pulumi config set --path 'plano:{key}[0]' subnet-0123456789abcdef0"
    public = read.string_list("publicSubnetIds", example.format(key="publicSubnetIds"))
    private = read.string_list("privateSubnetIds", example.format(key="privateSubnetIds"))
    cidr = read.string("vpcCidr")
    nat = read.choice("natGateways", NatGateways)
    if vpc_id:
        if not re.fullmatch(r"vpc-[0-9a-f]{8,17}", vpc_id):
            raise ConfigError(
                "plano:vpcId",
                "is not a VPC id",
                value=vpc_id,
                allowed="vpc- followed by 8 or 17 hex digits",
                fix="pulumi config set plano:vpcId vpc-0123456789abcdef0, or remove it to create a VPC",
            )
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
                if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", subnet):
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
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            network = None
        if network is None or network.version != 4 or not 16 <= network.prefixlen <= 22 or not network.is_private:
            raise ConfigError(
                "plano:vpcCidr",
                "is not a private IPv4 block between /16 and /22",
                value=cidr,
                allowed="e.g. 10.40.0.0/16, 172.20.0.0/20",
                fix="pulumi config set plano:vpcCidr 10.40.0.0/16",
            )
    return NetworkSettings(
        create_vpc=not vpc_id,
        vpc_id=vpc_id,
        public_subnet_ids=public,
        private_subnet_ids=private,
        vpc_cidr=cidr,
        nat_gateways=nat,
    )
