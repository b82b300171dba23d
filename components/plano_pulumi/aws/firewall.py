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
from typing import Any

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
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        service = self._group("service", "Plano tasks")
        db = self._group("db", "Plano state database")
        alb = self._group("alb", "Plano load balancer") if args.load_balancer else None
        if alb is not None:
            self._load_balancer_rules(alb, service)
        self._service_and_database_rules(service, db)

        self.alb_security_group_id = alb.id if alb else None
        self.service_security_group_id = service.id
        self.db_security_group_id = db.id
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"service_security_group_id": service.id, "db_security_group_id": db.id})

    def _group(self, role: str, description: str) -> aws.ec2.SecurityGroup:
        # No inline rules: the provider then also removes AWS's default allow-all egress rule.
        names = self._args.names
        return aws.ec2.SecurityGroup(
            role,
            name=names.security_group(role),
            description=description,
            vpc_id=self._args.vpc_id,
            tags={**self._args.tags, "Name": names.security_group(role)},
            opts=self._child,
        )

    def _rule(
        self, kind: type[Any], name: str, group: aws.ec2.SecurityGroup, port: int, description: str, **target: Any
    ) -> None:
        """One TCP port of one group, to or from ``target`` (a CIDR or another group)."""
        kind(
            name,
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=description,
            **{"tags": self._args.tags, **target},
            opts=self._child,
        )

    def _load_balancer_rules(self, alb: aws.ec2.SecurityGroup, service: aws.ec2.SecurityGroup) -> None:
        args = self._args
        alb_ports = sorted({plan.port for plan in alb_listeners(args.listeners, https=args.https)})
        for cidr in args.allowed_cidrs:
            # An internet-wide rule exists only with plano:allowPublicIngress; the tag records
            # that consent for the policy pack (no-open-ingress).
            public = is_internet_wide(cidr)
            for port in alb_ports:
                self._rule(
                    aws.vpc.SecurityGroupIngressRule,
                    f"alb-in-{port}-{re.sub('[^0-9a-fA-F]+', '-', cidr)}",
                    alb,
                    port,
                    f"clients {cidr}",
                    cidr_ipv4=None if _is_ipv6(cidr) else cidr,
                    cidr_ipv6=cidr if _is_ipv6(cidr) else None,
                    tags={**args.tags, PUBLIC_INGRESS_TAG: "allowed"} if public else args.tags,
                )
        for port in sorted({lst.port for lst in args.listeners}):
            self._rule(
                aws.vpc.SecurityGroupEgressRule,
                f"alb-out-{port}",
                alb,
                port,
                "to Plano listeners",
                referenced_security_group_id=service.id,
            )
            self._rule(
                aws.vpc.SecurityGroupIngressRule,
                f"service-in-{port}",
                service,
                port,
                "from the load balancer",
                referenced_security_group_id=alb.id,
            )

    def _service_and_database_rules(self, service: aws.ec2.SecurityGroup, db: aws.ec2.SecurityGroup) -> None:
        for port in sorted(self._args.egress_ports):
            self._rule(
                aws.vpc.SecurityGroupEgressRule,
                f"service-out-{port}",
                service,
                port,
                "model providers, registries, AWS APIs",
                cidr_ipv4="0.0.0.0/0",
            )
        self._rule(
            aws.vpc.SecurityGroupEgressRule,
            "service-out-db",
            service,
            POSTGRES_PORT,
            "to the database (TLS, via the pgbouncer sidecar and the init step)",
            referenced_security_group_id=db.id,
        )
        self._rule(
            aws.vpc.SecurityGroupIngressRule,
            "db-in-service",
            db,
            POSTGRES_PORT,
            "from Plano tasks only",
            referenced_security_group_id=service.id,
        )
