"""The local stack's certificate authority and PostgreSQL's server certificate (pulumi-tls).

Creates a private key and a self-signed CA certificate, and a server key and certificate the CA
signs for the database's name on the stack's network (``postgres``) and for 127.0.0.1 (psql from
the host). PgBouncer and the init step verify the server against this CA (``verify-full``), as
they verify RDS against AWS's CA. The private keys stay in Pulumi state, encrypted as secrets, and
reach only the PostgreSQL container; the CA certificate is public.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_tls as tls

VALIDITY_HOURS = 24 * 365  # a workstation stack; `pulumi up` after a year issues new ones
EARLY_RENEWAL_HOURS = 24 * 30


@dataclass(frozen=True)
class CertificatesArgs:
    common_name: str
    """Names the CA after the stack, so two stacks' CAs are told apart."""
    dns_names: Sequence[str]
    """Names the server certificate is valid for."""
    ip_addresses: Sequence[str] = field(default_factory=tuple)
    """Addresses the server certificate is valid for."""


class DatabaseCertificates(pulumi.ComponentResource):
    ca_cert_pem: pulumi.Output[str]
    """The CA certificate (public) PgBouncer, the init step and psql verify the server with."""
    server_cert_pem: pulumi.Output[str]
    """PostgreSQL's certificate, signed by the CA."""
    server_key_pem: pulumi.Output[str]
    """PostgreSQL's private key (secret)."""

    def __init__(self, name: str, args: CertificatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:local:DatabaseCertificates", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey("ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        ca = tls.SelfSignedCert(
            "ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{args.common_name} CA"),
            allowed_uses=["cert_signing", "crl_signing"],
            validity_period_hours=VALIDITY_HOURS,
            early_renewal_hours=EARLY_RENEWAL_HOURS,
            opts=child,
        )
        server_key = tls.PrivateKey("server-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        request = tls.CertRequest(
            "server",
            private_key_pem=server_key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=args.dns_names[0]),
            dns_names=list(args.dns_names),
            ip_addresses=list(args.ip_addresses),
            opts=child,
        )
        server = tls.LocallySignedCert(
            "server",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            validity_period_hours=VALIDITY_HOURS,
            early_renewal_hours=EARLY_RENEWAL_HOURS,
            opts=child,
        )
        self.ca_cert_pem = ca.cert_pem
        self.server_cert_pem = server.cert_pem
        self.server_key_pem = pulumi.Output.secret(server_key.private_key_pem)
        # Registered so the CA and the server certificate show as this component's outputs.
        self.register_outputs({"ca_cert_pem": self.ca_cert_pem, "server_cert_pem": self.server_cert_pem})
