"""Documentation placeholders: values from the docs' examples that must never reach a real stack.

The committed ``Pulumi.prod.yaml`` ships with the documentation network 203.0.113.0/24 and an
ACM certificate of the example account 123456789012, so that it plans out of the box. In prod such
a value is refused at preview (prod creates a protected, deletion-protected database: going ahead
with an example network or certificate is never what the user meant); other profiles get a warning.
"""

from __future__ import annotations

import ipaddress

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import Profile
from plano_pulumi.core.settings.limits import DOCUMENTATION_NETWORKS, EXAMPLE_ACCOUNT

# RFC 2606 / RFC 6761: names reserved for documentation.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")
EXAMPLE_TLDS = (".example", ".test", ".invalid", ".localhost")


def is_example_network(cidr: str) -> bool:
    """Inside a documentation range (RFC 5737, RFC 3849); ::/0 contains one but is not an example."""
    network = ipaddress.ip_network(cidr, strict=False)
    return any(network.version == doc.version and network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS)  # type: ignore[arg-type]


def is_example_arn(arn: str) -> bool:
    return f":{EXAMPLE_ACCOUNT}:" in arn


def is_example_domain(name: str) -> bool:
    name = name.lower().rstrip(".")
    return any(name == d or name.endswith("." + d) for d in EXAMPLE_DOMAINS) or name.endswith(EXAMPLE_TLDS)


def refuse_in_prod(profile: Profile, key: str, value: object, what: str, fix: str, warnings: list[str]) -> None:
    """A documentation placeholder: a ConfigError in prod (naming the key and the command that
    sets it), a warning elsewhere."""
    if profile is Profile.PROD:
        raise ConfigError(
            f"plano:{key}",
            f"is a documentation placeholder ({what}), not yours; prod refuses it before creating anything",
            value=value,
            fix=f"{fix} (docs/deploying.md, Prod)",
        )
    warnings.append(f"plano:{key} holds a documentation placeholder ({what}): {fix} before deploying")
