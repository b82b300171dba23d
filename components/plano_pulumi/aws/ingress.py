"""Ingress: an Application Load Balancer in front of Plano's listeners (``plano:ingress = alb``).

Creates the load balancer (in the public subnets, or the private ones when internal), one target
group per Plano listener (health check on ``/healthz``), and the listeners: with a certificate,
HTTPS on 443 for the primary Plano listener and on each other listener's own port, plus HTTP on 80
redirecting to HTTPS; without one, plain HTTP on 80 and on the other listeners' ports. The idle
timeout covers Plano's longest stream. Who may connect is decided by the security groups
(``firewall.py``): only ``plano:allowedCidrs``.

With ``plano:domainName`` the endpoint URLs use that name (the one the certificate covers); with
``plano:hostedZoneId`` as well, an alias A record in that Route 53 zone points the name at the load
balancer. Without a zone the user creates the record (a CNAME to the ``alb_dns_name`` output).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from plano_pulumi.core.naming import Names
from plano_pulumi.core.plano_config import Listener, primary_listener

# Plano's model listener streams for up to 300 s by default; the load balancer must not cut it.
MIN_IDLE_TIMEOUT_S = 300
MAX_IDLE_TIMEOUT_S = 4000
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
DEV_DEREGISTRATION_DELAY_S = 10
MAX_DEREGISTRATION_DELAY_S = 3600  # the target group attribute's maximum


@dataclass(frozen=True)
class AlbListener:
    """One listener on the load balancer."""

    port: int
    protocol: str  # HTTP | HTTPS
    target: Listener | None  # None: redirect to HTTPS on 443


def alb_listeners(listeners: tuple[Listener, ...], *, https: bool) -> list[AlbListener]:
    """Which ports the load balancer opens and where each one goes."""
    primary = primary_listener(listeners)
    protocol = "HTTPS" if https else "HTTP"
    plan = [AlbListener(443 if https else 80, protocol, primary)]
    if https:
        plan.append(AlbListener(80, "HTTP", None))
    plan += [AlbListener(lst.port, protocol, lst) for lst in listeners if lst is not primary]
    return plan


def idle_timeout_s(listeners: tuple[Listener, ...]) -> int:
    longest = max((lst.timeout_s or 0 for lst in listeners), default=0)
    return min(MAX_IDLE_TIMEOUT_S, max(MIN_IDLE_TIMEOUT_S, longest + 5 if longest else 0))


def deregistration_delay_s(listeners: tuple[Listener, ...], *, keep_streams: bool) -> int:
    """How long a task leaving the target group keeps serving what it has in flight.

    ECS deregisters a task and waits this long before it sends SIGTERM, on which Envoy in Plano's
    image exits at once (DESIGN.md 5.6): so in prod it covers the longest listener timeout (at
    least Plano's default 300 s), and a deploy cuts no stream. Dev stays quick (10 s).
    """
    if not keep_streams:
        return DEV_DEREGISTRATION_DELAY_S
    longest = max((lst.timeout_s or 0 for lst in listeners), default=0)
    return min(MAX_DEREGISTRATION_DELAY_S, max(MIN_IDLE_TIMEOUT_S, longest))


def endpoint_urls(dns_name: str, listeners: tuple[Listener, ...], *, https: bool) -> dict[str, str]:
    """Listener name -> URL clients use."""
    scheme = "https" if https else "http"
    urls = {}
    for alb in alb_listeners(listeners, https=https):
        if alb.target is None:
            continue
        default_port = 443 if https else 80
        port = "" if alb.port == default_port else f":{alb.port}"
        urls[alb.target.name] = f"{scheme}://{dns_name}{port}"
    return urls


@dataclass
class LoadBalancerArgs:
    names: Names
    """Physical names for the stack."""
    listeners: tuple[Listener, ...]
    """Plano's listeners, from the rendered config."""
    health_port: int
    """Container port that answers /healthz (for prompt listeners, which do not)."""
    vpc_id: pulumi.Input[str]
    """VPC of the target groups."""
    subnet_ids: pulumi.Input[list[str]]
    """Subnets of the load balancer (public, or private when internal)."""
    security_group_id: pulumi.Input[str]
    """The load balancer's security group (from the firewall)."""
    certificate_arn: str
    """ACM certificate; empty for plain HTTP."""
    internal: bool
    """Internal scheme: reachable only from inside the VPC and connected networks."""
    deregistration_delay_s: int
    """How long a stopping task keeps serving in-flight streams."""
    deletion_protection: bool
    """Guard against deleting the load balancer (prod)."""
    tags: dict[str, str]
    """Tags for every resource."""
    domain_name: str = ""
    """The user's DNS name for the endpoint; empty = the load balancer's own name."""
    hosted_zone_id: str = ""
    """Route 53 hosted zone for an alias record from domain_name to the load balancer; empty = none."""


class LoadBalancer(pulumi.ComponentResource):
    """The way in: TLS terminated at the load balancer, forwarded to the tasks' listener ports."""

    dns_name: pulumi.Output[str]
    """The load balancer's DNS name."""
    target_group_arns: dict[str, pulumi.Output[str]]
    """Plano listener name -> target group ARN (the service registers its tasks there)."""
    endpoint_urls: pulumi.Output[dict[str, str]]
    """Plano listener name -> URL for clients (on domain_name when given)."""
    arn_suffix: pulumi.Output[str]
    """The load balancer's ARN suffix (app/<name>/<id>): its CloudWatch dimension."""
    target_group_arn_suffixes: dict[str, pulumi.Output[str]]
    """Plano listener name -> target group ARN suffix (CloudWatch dimension)."""
    dns_record: aws.route53.Record | None
    """The alias record domain_name -> load balancer (only with hosted_zone_id)."""
    listeners: list[aws.lb.Listener]
    """The listeners: the service must depend on them (a target group without a load balancer
    cannot take a service's tasks)."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:ingress:LoadBalancer", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        https = bool(args.certificate_arn)
        alb = self._load_balancer()
        groups = {listener.name: self._target_group(listener) for listener in args.listeners}
        self.listeners = [self._listener(alb, plan, groups) for plan in alb_listeners(args.listeners, https=https)]
        self.dns_record = self._dns_record(alb) if args.hosted_zone_id else None

        self.dns_name = alb.dns_name
        self.target_group_arns = {name: group.arn for name, group in groups.items()}
        self.arn_suffix = alb.arn_suffix
        self.target_group_arn_suffixes = {name: group.arn_suffix for name, group in groups.items()}
        domain = args.domain_name
        self.endpoint_urls = alb.dns_name.apply(lambda dns: endpoint_urls(domain or dns, args.listeners, https=https))
        # Registering outputs marks the component complete in the engine and shows them in `pulumi stack`.
        self.register_outputs({"dns_name": self.dns_name, "endpoint_urls": self.endpoint_urls})

    def _load_balancer(self) -> aws.lb.LoadBalancer:
        args = self._args
        return aws.lb.LoadBalancer(
            "alb",
            name=args.names.alb,
            load_balancer_type="application",
            internal=args.internal,
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            idle_timeout=idle_timeout_s(args.listeners),
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            tags=args.tags,
            # The name is fixed, so a replacement (plano:albInternal) must delete the old one first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _target_group(self, listener: Listener) -> aws.lb.TargetGroup:
        """The tasks' addresses on one Plano listener, health-checked on /healthz."""
        args = self._args
        return aws.lb.TargetGroup(
            f"tg-{listener.port}",
            name=args.names.target_group(listener.port),
            port=listener.port,
            protocol="HTTP",
            target_type="ip",  # Fargate tasks register by their ENI address
            vpc_id=args.vpc_id,
            deregistration_delay=args.deregistration_delay_s,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path="/healthz",
                port=str(listener.port if listener.serves_healthz else args.health_port),
                protocol="HTTP",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=args.tags,
            opts=self._child,
        )

    def _listener(
        self, alb: aws.lb.LoadBalancer, plan: AlbListener, groups: Mapping[str, aws.lb.TargetGroup]
    ) -> aws.lb.Listener:
        """One load balancer port: forward to its target group, or redirect HTTP to HTTPS."""
        if plan.target is None:
            action = aws.lb.ListenerDefaultActionArgs(
                type="redirect",
                redirect=aws.lb.ListenerDefaultActionRedirectArgs(port="443", protocol="HTTPS", status_code="HTTP_301"),
            )
        else:
            action = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=groups[plan.target.name].arn)
        return aws.lb.Listener(
            f"listener-{plan.port}",
            load_balancer_arn=alb.arn,
            port=plan.port,
            protocol=plan.protocol,
            ssl_policy=TLS_POLICY if plan.protocol == "HTTPS" else None,
            certificate_arn=self._args.certificate_arn if plan.protocol == "HTTPS" else None,
            default_actions=[action],
            tags=self._args.tags,
            opts=self._child,
        )

    def _dns_record(self, alb: aws.lb.LoadBalancer) -> aws.route53.Record:
        """An alias, not a CNAME: it works at a zone apex and follows the load balancer's addresses."""
        return aws.route53.Record(
            "dns",
            zone_id=self._args.hosted_zone_id,
            name=self._args.domain_name,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True)],
            opts=self._child,
        )
