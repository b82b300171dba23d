"""Plano in a VPC you already have: no network of its own, your subnets, your tags on everything.

pulumi config set aws:region eu-west-1
pulumi config set vpcId vpc-0123456789abcdef0
pulumi config set --path 'publicSubnetIds[0]' subnet-...   (and [1]; privateSubnetIds likewise)
pulumi config set --secret openaiApiKey "$OPENAI_API_KEY"
pulumi up
"""

from pathlib import Path

import pulumi
from plano_pulumi import PlanoOnAws

config = pulumi.Config()


def cost_center(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """A transform reaches every child of the component: here, one more tag on each tagged resource."""
    if "tags" not in args.props:
        return None
    tags = {**(args.props["tags"] or {}), "cost-center": "ai-platform"}
    return pulumi.ResourceTransformResult({**args.props, "tags": tags}, args.opts)


plano = PlanoOnAws(
    "plano",
    {
        "profile": "dev",
        "config_text": (Path(__file__).parent / "plano_config.yaml").read_text(encoding="utf-8"),
        "vpc_id": config.require("vpcId"),
        "public_subnet_ids": config.require_object("publicSubnetIds"),
        "private_subnet_ids": config.require_object("privateSubnetIds"),
        "provider_keys": {"OPENAI_API_KEY": config.require_secret("openaiApiKey")},
    },
    opts=pulumi.ResourceOptions(transforms=[cost_center]),
)

pulumi.export("endpoint_url", plano.endpoint_url)
pulumi.export("port_forward_command", plano.port_forward_command)
pulumi.export("db_address", plano.db_address)
pulumi.export("service_security_group_id", plano.firewall.service_security_group_id)
