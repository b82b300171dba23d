"""This repository's stacks: the plano: stack config in, one Plano component out.

The stacks consume the component package (components/plano_pulumi) like any other program: the
stack file's plano: keys are the component's args under the same names, so validation, errors and
resources are the package's. Profile dev or prod deploys PlanoOnAws (ECS Fargate, RDS or Aurora);
profile local deploys PlanoOnDocker (a Docker engine, no AWS). See docs/components.md.
"""

from pathlib import Path

import pulumi
from plano_pulumi import PlanoOnAws, PlanoOnDocker, args_from_stack_config

profile, args = args_from_stack_config(Path(__file__).parent)  # the only reader of this stack's config

plano: PlanoOnAws | PlanoOnDocker
if profile == "local":
    plano = PlanoOnDocker("plano", args, project_dir=Path(__file__).parent)
else:
    plano = PlanoOnAws("plano", args)

# The stack's outputs are the component's: endpoints, where state and secrets live, day-two commands.
for name in plano.output_names():
    pulumi.export(name, getattr(plano, name))
