"""Firewall: every security group and rule of the stack, in one place, so it can be read at a glance.

Creates three security groups and only these rules:

- load balancer (``plano:ingress = alb`` only): in from ``plano:allowedCidrs`` on the load
  balancer's ports; out to the tasks on Plano's listener ports.
- service (the Fargate tasks): in from the load balancer on the listener ports, nothing else (with
  ``ingress = none``, no inbound rule at all); out on HTTPS (model providers, image registries, AWS
  APIs), on the other ports the Plano config calls, and to the database on 5432.
- database: in on 5432 from the service's security group only; never from a CIDR; no outbound.

Plano's internal ports (9901 Envoy admin, 9091, 9092, ...) are never opened: the rules name the
listener ports only.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from plano_pulumi.aws.ingress import alb_listeners
from plano_pulumi.core.naming import Names
from plano_pulumi.core.plano_config import Listener
from plano_pulumi.core.settings import is_internet_wide

POSTGRES_PORT = 5432
PUBLIC_INGRESS_TAG = "public-ingress"


def _is_ipv6(cidr: str) -> bool:
    return ipaddress.ip_network(cidr).version == 6


@dataclass
class FirewallArgs:
    names: Names
    """Physical names for the stack."""
    vpc_id: pulumi.Input[str]
    """VPC of the security groups."""
    listeners: tuple[Listener, ...]
    """Plano's listeners (container ports)."""
    load_balancer: bool
    """Whether a load balancer fronts the service."""
    https: bool
    """Whether the load balancer terminates HTTPS (decides its ports)."""
    allowed_cidrs: tuple[str, ...]
    """Client networks allowed to reach the load balancer."""
    egress_ports: frozenset[int]
    """Ports the tasks call out to (HTTPS plus what the Plano config names)."""
    tags: dict[str, str]
    """Tags for every resource."""


class Firewall(pulumi.ComponentResource):
    """Security groups for the load balancer, the tasks and the database."""

    alb_security_group_id: pulumi.Output[str] | None
    """The load balancer's group (None without a load balancer)."""
    service_security_group_id: pulumi.Output[str]
    """The tasks' group."""
    db_security_group_id: pulumi.Output[str]
    """The database's group."""

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:firewall:Firewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        names = args.names

        def group(role: str, description: str) -> aws.ec2.SecurityGroup:
            # No inline rules: the provider then also removes AWS's default allow-all egress rule.
            return aws.ec2.SecurityGroup(
                role,
                name=names.security_group(role),
                description=description,
                vpc_id=args.vpc_id,
                tags={**args.tags, "Name": names.security_group(role)},
                opts=child,
            )

        service = group("service", "Plano tasks")
        db = group("db", "Plano state database")
        container_ports = sorted({lst.port for lst in args.listeners})

        alb = None
        if args.load_balancer:
            alb = group("alb", "Plano load balancer")
            alb_ports = sorted({plan.port for plan in alb_listeners(args.listeners, https=args.https)})
            for cidr in args.allowed_cidrs:
                # An internet-wide rule exists only with plano:allowPublicIngress; the tag records
                # that consent for the policy pack (no-open-ingress).
                public = is_internet_wide(cidr)
                for port in alb_ports:
                    aws.vpc.SecurityGroupIngressRule(
                        f"alb-in-{port}-{re.sub('[^0-9a-fA-F]+', '-', cidr)}",
                        security_group_id=alb.id,
                        ip_protocol="tcp",
                        from_port=port,
                        to_port=port,
                        description=f"clients {cidr}",
                        cidr_ipv4=None if _is_ipv6(cidr) else cidr,
                        cidr_ipv6=cidr if _is_ipv6(cidr) else None,
                        tags={**args.tags, PUBLIC_INGRESS_TAG: "allowed"} if public else args.tags,
                        opts=child,
                    )
            for port in container_ports:
                aws.vpc.SecurityGroupEgressRule(
                    f"alb-out-{port}",
                    security_group_id=alb.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    referenced_security_group_id=service.id,
                    description="to Plano listeners",
                    tags=args.tags,
                    opts=child,
                )
                aws.vpc.SecurityGroupIngressRule(
                    f"service-in-{port}",
                    security_group_id=service.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    referenced_security_group_id=alb.id,
                    description="from the load balancer",
                    tags=args.tags,
                    opts=child,
                )

        for port in sorted(args.egress_ports):
            aws.vpc.SecurityGroupEgressRule(
                f"service-out-{port}",
                security_group_id=service.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4="0.0.0.0/0",
                description="model providers, registries, AWS APIs",
                tags=args.tags,
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            "service-out-db",
            security_group_id=service.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=db.id,
            description="to the database (TLS, via the pgbouncer sidecar and the init step)",
            tags=args.tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            "db-in-service",
            security_group_id=db.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=service.id,
            description="from Plano tasks only",
            tags=args.tags,
            opts=child,
        )

        self.alb_security_group_id = alb.id if alb else None
        self.service_security_group_id = service.id
        self.db_security_group_id = db.id
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"service_security_group_id": service.id, "db_security_group_id": db.id})
