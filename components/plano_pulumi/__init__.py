"""Plano on Pulumi: components that run Plano (AI gateway) with durable, TLS-protected state.

- ``PlanoOnAws`` (args ``PlanoOnAwsArgs``): ECS Fargate, RDS or Aurora Serverless v2 PostgreSQL
  behind a TLS PgBouncer sidecar, Secrets Manager, an optional load balancer.
- ``PlanoOnDocker`` (args ``PlanoOnDockerArgs``): the same task on a Docker engine, no AWS.
- ``args_from_stack_config``: a stack's ``plano:`` config as those args (this repository's stacks).

Layout: ``core/`` pure functions and settings (no resources), ``aws/`` and ``local/`` the two
targets' components. The offline tools (plan, pricing, diff, pin) are the ``plano_tools`` package.
"""

from plano_pulumi.args import PlanoOnAwsArgs, PlanoOnDockerArgs
from plano_pulumi.aws.plano import PlanoOnAws
from plano_pulumi.core.settings.source import args_from_stack_config
from plano_pulumi.local.plano import PlanoOnDocker

__all__ = ["PlanoOnAws", "PlanoOnAwsArgs", "PlanoOnDocker", "PlanoOnDockerArgs", "args_from_stack_config"]
