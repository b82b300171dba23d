"""Plano on this machine's Docker engine: the same task as on AWS, no cloud account.

pulumi login --local && pulumi stack init local
export OPENAI_API_KEY=...     (read at `pulumi up`, kept secret; or write it to local.env here)
pulumi up
curl "$(pulumi stack output endpoint_url)/v1/chat/completions" ...
"""

from pathlib import Path

import pulumi
from plano_pulumi import PlanoOnDocker

here = Path(__file__).parent
plano = PlanoOnDocker(
    "plano",
    {
        "config_text": (here / "plano_config.yaml").read_text(encoding="utf-8"),
        "provider_keys_external": ["OPENAI_API_KEY"],
        "state_retention_days": 0,  # the retention job needs pg_cron, which the postgres image lacks
    },
    project_dir=here,
)

pulumi.export("endpoint_url", plano.endpoint_url)
pulumi.export("psql_command", plano.psql_command)
pulumi.export("db_password", plano.db_password)
