"""Network layout (pure): subnets inside the VPC block, NAT gateways per setting."""

from __future__ import annotations

import ipaddress

import pytest
from plano_pulumi.aws.network import nat_gateway_count, subnet_cidrs
from plano_pulumi.core.settings import NatGateways


@pytest.mark.parametrize("vpc", ["10.40.0.0/16", "172.20.0.0/20", "192.168.8.0/22"])
def test_subnets_are_disjoint_and_inside_the_vpc(vpc: str) -> None:
    public, private = subnet_cidrs(vpc)
    networks = [ipaddress.ip_network(c) for c in public + private]
    assert len(public) == len(private) == 2
    assert all(n.subnet_of(ipaddress.ip_network(vpc)) for n in networks)
    assert all(not a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_nat_gateways_per_setting() -> None:
    assert [nat_gateway_count(n) for n in NatGateways] == [0, 1, 2]
