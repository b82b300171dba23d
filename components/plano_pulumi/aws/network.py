"""Network: a VPC over two availability zones, or the existing VPC and subnets from config.

Creates (new VPC only): the VPC, an internet gateway, a public and a private subnet in each of two
zones, route tables, and NAT gateways with their Elastic IPs when the profile asks for them (none in
dev: tasks then sit in the public subnets with a public IP and no inbound rule; the database always
sits in the private subnets, which have no route to the internet at all without NAT).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from plano_pulumi.core.settings import NatGateways, NetworkSettings

AZ_COUNT = 2
# DescribeAvailabilityZones filters: regular zones need no opt-in and have zone-type availability-zone.
STANDARD_ZONE_FILTERS = (("opt-in-status", "opt-in-not-required"), ("zone-type", "availability-zone"))


def subnet_cidrs(vpc_cidr: str, az_count: int = AZ_COUNT) -> tuple[list[str], list[str]]:
    """Split the VPC block into equal public and private subnets, one of each per zone."""
    network = ipaddress.ip_network(vpc_cidr)
    blocks = list(network.subnets(prefixlen_diff=2))  # four quarters: 2 public, 2 private
    public = [str(b) for b in blocks[:az_count]]
    private = [str(b) for b in blocks[az_count : 2 * az_count]]
    return public, private


def nat_gateway_count(nat: NatGateways, az_count: int = AZ_COUNT) -> int:
    return {NatGateways.NONE: 0, NatGateways.SINGLE: 1, NatGateways.PER_AZ: az_count}[nat]


@dataclass
class NetworkArgs:
    settings: NetworkSettings
    """What to create or which VPC to use."""
    name_prefix: str
    """Prefix for the Name tags (project-stack)."""
    tags: dict[str, str]
    """Tags for every resource."""


class Network(pulumi.ComponentResource):
    """The VPC the database, the tasks and the load balancer live in."""

    vpc_id: pulumi.Output[str]
    """The VPC's id."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Subnets with a route to the internet gateway (load balancer; tasks when there is no NAT)."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Subnets without inbound internet access (database; tasks when there is NAT)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:network:Network", name, None, opts)
        settings = args.settings
        if not settings.create_vpc:
            self.vpc_id = pulumi.Output.from_input(settings.vpc_id)
            self.public_subnet_ids = pulumi.Output.from_input(list(settings.public_subnet_ids))
            self.private_subnet_ids = pulumi.Output.from_input(list(settings.private_subnet_ids))
            self.register_outputs({"vpc_id": self.vpc_id})
            return

        child = pulumi.ResourceOptions(parent=self)
        prefix = args.name_prefix

        def tagged(name: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{prefix}-{name}"}

        # Standard availability zones only: Local and Wavelength Zones lack services this stack
        # needs (RDS Multi-AZ, NAT gateways) and are listed once a region has opted in to them.
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name=f, values=[v]) for f, v in STANDARD_ZONE_FILTERS],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        vpc = aws.ec2.Vpc(
            "vpc",
            cidr_block=settings.vpc_cidr,
            enable_dns_hostnames=True,  # RDS endpoints and ECS Exec need DNS names
            enable_dns_support=True,
            tags=tagged("vpc"),
            opts=child,
        )
        igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags=tagged("igw"), opts=child)
        public_rt = aws.ec2.RouteTable(
            "public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=tagged("public"),
            opts=child,
        )
        public_cidrs, private_cidrs = subnet_cidrs(settings.vpc_cidr)
        public, private = [], []
        for i in range(AZ_COUNT):
            zone = zones.names[i]
            subnet = aws.ec2.Subnet(
                f"public-{i}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=zone,
                # Addresses are assigned explicitly (tasks) or by the service (ALB, NAT), never by default.
                map_public_ip_on_launch=False,
                tags=tagged(f"public-{i}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"public-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child)
            public.append(subnet)
            private.append(
                aws.ec2.Subnet(
                    f"private-{i}",
                    vpc_id=vpc.id,
                    cidr_block=private_cidrs[i],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags=tagged(f"private-{i}"),
                    opts=child,
                )
            )

        nat_count = nat_gateway_count(settings.nat_gateways)
        nats = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"nat-{i}", domain="vpc", tags=tagged(f"nat-{i}"), opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags=tagged(f"nat-{i}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        for i, subnet in enumerate(private):
            routes = []
            if nats:
                # Each zone uses its own NAT gateway when there is one per zone, so a zone outage
                # does not cut the other zone's tasks off from the model providers.
                nat = nats[i % len(nats)]
                routes.append(aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id))
            table = aws.ec2.RouteTable(
                f"private-{i}", vpc_id=vpc.id, routes=routes, tags=tagged(f"private-{i}"), opts=child
            )
            aws.ec2.RouteTableAssociation(f"private-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child)

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public]).apply(list)
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private]).apply(list)
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )
