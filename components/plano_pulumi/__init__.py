"""Plano on Pulumi: components that run Plano (AI gateway) with durable, TLS-protected state.

- ``PlanoOnAws`` (args ``PlanoOnAwsArgs``): ECS Fargate, RDS or Aurora Serverless v2 PostgreSQL
  behind a TLS PgBouncer sidecar, Secrets Manager, an optional load balancer.
- ``PlanoOnDocker`` (args ``PlanoOnDockerArgs``): the same task on a Docker engine, no AWS.
- ``args_from_stack_config``: a stack's ``plano:`` config as those args (this repository's stacks).

Layout: ``core/`` pure functions and settings (no resources), ``aws/`` and ``local/`` the two
targets' components. The offline tools (plan, pricing, diff, pin) are the ``plano_tools`` package.

The names load on first use: a tool that needs only ``core`` (plan-diff, the settings) does not
import pulumi-aws and pulumi-docker (a third of a second a process).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plano_pulumi.args import PlanoOnAwsArgs, PlanoOnDockerArgs
    from plano_pulumi.aws.plano import PlanoOnAws
    from plano_pulumi.core.settings.source import args_from_stack_config
    from plano_pulumi.local.plano import PlanoOnDocker

_WHERE = {
    "PlanoOnAws": "plano_pulumi.aws.plano",
    "PlanoOnAwsArgs": "plano_pulumi.args",
    "PlanoOnDocker": "plano_pulumi.local.plano",
    "PlanoOnDockerArgs": "plano_pulumi.args",
    "args_from_stack_config": "plano_pulumi.core.settings.source",
}

__all__ = ["PlanoOnAws", "PlanoOnAwsArgs", "PlanoOnDocker", "PlanoOnDockerArgs", "args_from_stack_config"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'plano_pulumi' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
