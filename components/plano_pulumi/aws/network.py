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
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            "vpc",
            cidr_block=settings.vpc_cidr,
            enable_dns_hostnames=True,  # RDS endpoints and ECS Exec need DNS names
            enable_dns_support=True,
            tags=self._tagged("vpc"),
            opts=self._child,
        )
        igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags=self._tagged("igw"), opts=self._child)
        public, private = self._subnets(vpc, igw)
        self._private_routes(vpc, private, self._nat_gateways(igw, public))

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

    def _tagged(self, name: str) -> dict[str, str]:
        return {**self._args.tags, "Name": f"{self._args.name_prefix}-{name}"}

    def _subnets(
        self, vpc: aws.ec2.Vpc, igw: aws.ec2.InternetGateway
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.Subnet]]:
        """A public and a private subnet in each of two standard zones; public ones route to the gateway."""
        # Standard availability zones only: Local and Wavelength Zones lack services this stack
        # needs (RDS Multi-AZ, NAT gateways) and are listed once a region has opted in to them.
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name=f, values=[v]) for f, v in STANDARD_ZONE_FILTERS],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        public_rt = aws.ec2.RouteTable(
            "public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=self._tagged("public"),
            opts=self._child,
        )
        public_cidrs, private_cidrs = subnet_cidrs(self._args.settings.vpc_cidr)
        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        for i in range(AZ_COUNT):
            # Addresses are assigned explicitly (tasks) or by the service (ALB, NAT), never by default.
            for kind, cidrs, found in (("public", public_cidrs, public), ("private", private_cidrs, private)):
                subnet = aws.ec2.Subnet(
                    f"{kind}-{i}",
                    vpc_id=vpc.id,
                    cidr_block=cidrs[i],
                    availability_zone=zones.names[i],
                    map_public_ip_on_launch=False,
                    tags=self._tagged(f"{kind}-{i}"),
                    opts=self._child,
                )
                found.append(subnet)
                if kind == "public":
                    aws.ec2.RouteTableAssociation(
                        f"public-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=self._child
                    )
        return public, private

    def _nat_gateways(self, igw: aws.ec2.InternetGateway, public: list[aws.ec2.Subnet]) -> list[aws.ec2.NatGateway]:
        nats = []
        for i in range(nat_gateway_count(self._args.settings.nat_gateways)):
            eip = aws.ec2.Eip(f"nat-{i}", domain="vpc", tags=self._tagged(f"nat-{i}"), opts=self._child)
            nats.append(
                aws.ec2.NatGateway(
                    f"nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags=self._tagged(f"nat-{i}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        return nats

    def _private_routes(self, vpc: aws.ec2.Vpc, private: list[aws.ec2.Subnet], nats: list[aws.ec2.NatGateway]) -> None:
        for i, subnet in enumerate(private):
            routes = []
            if nats:
                # Each zone uses its own NAT gateway when there is one per zone, so a zone outage
                # does not cut the other zone's tasks off from the model providers.
                nat = nats[i % len(nats)]
                routes.append(aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id))
            table = aws.ec2.RouteTable(
                f"private-{i}", vpc_id=vpc.id, routes=routes, tags=self._tagged(f"private-{i}"), opts=self._child
            )
            aws.ec2.RouteTableAssociation(
                f"private-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=self._child
            )
