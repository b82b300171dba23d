"""The local stack's Docker network: PostgreSQL and the task meet on it, by name.

Creates one user-defined bridge network. Docker's embedded DNS resolves the database's network
alias (``postgres``), which its server certificate names, so ``verify-full`` holds as on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass(frozen=True)
class LocalNetworkArgs:
    name: str
    """The Docker network's name."""


class LocalNetwork(pulumi.ComponentResource):
    name: pulumi.Output[str]
    """The network's name, for containers to join."""

    def __init__(self, name: str, args: LocalNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("plano:local:Network", name, None, opts)
        network = docker.Network(
            "network",
            name=args.name,
            driver="bridge",
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.name = network.name
        # Registered so `pulumi stack` shows the network under this component.
        self.register_outputs({"name": self.name})
