"""Physical names for every AWS resource the stacks name: derived, within limits, stable, unique.

Each name is ``<project>-<stack>[-<hash>]-<suffix>``, lower-cased to the strictest alphabet the
stacks need (letters, digits, hyphens). A short hash of the original ``project/stack`` is added
whenever the readable part had to change (upper case, ``_`` or ``.`` in the stack name) or be
shortened, so the same stack always gets the same names and two stacks never share one:

- a readable name is kept as it is only if no hyphen-separated part of it is 6 hexadecimal
  characters (``dev``, ``pr-123``); such a part is what a hash looks like, so ``Dev`` (hashed to
  ``plano-dev-<hash>``) and a stack literally named ``dev-<that hash>`` cannot meet: the second is
  hashed as well;
- every hashed or shortened name holds such a part, every kept one does not, so the two kinds
  never meet, kept names are the stack names themselves, and hashed ones differ by their hash.

Limits are the services' own rules, listed in ``LIMITS``. tests/core/test_guardrails.py checks the names
are injective over a large generated set of stack names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from plano_pulumi.core.errors import ConfigError

# Each service's rule for the names the stacks set: (longest length, allowed form).
RULES: dict[str, tuple[int, str]] = {
    # Elastic Load Balancing: letters, digits, hyphens; no hyphen at either end; not "internal-".
    "alb": (32, r"(?!internal-)[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"),
    "target_group": (32, r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"),
    # RDS identifiers (instance, subnet and parameter groups here): start with a letter, no "--",
    # no hyphen at the end.
    "rds": (63, r"[a-z](?:[a-z0-9]|-(?!-))*(?<!-)"),
    "snapshot": (255, r"[a-zA-Z](?:[a-zA-Z0-9]|-(?!-))*(?<!-)"),
    "iam_role": (64, r"[\w+=,.@-]+"),
    "ecs": (255, r"[a-zA-Z0-9_-]+"),
    "security_group": (255, r"(?!sg-)[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+"),
    "log_group": (512, r"[\w#/.\-]+"),
    "secret": (512, r"[\w/+=.@-]+"),
}
LIMITS = {kind: rule[0] for kind, rule in RULES.items()}
HASH_LEN = 6
# Pulumi's own rule for stack names.
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}", re.ASCII)


def fits(kind: str, name: str) -> bool:
    """Whether ``name`` satisfies the service rule for ``kind``."""
    limit, form = RULES[kind]
    return 0 < len(name) <= limit and re.fullmatch(form, name, re.ASCII) is not None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LEN]


_HASH_PART = re.compile(rf"(?:^|-)[0-9a-f]{{{HASH_LEN}}}(?:-|$)", re.ASCII)


def _looks_hashed(text: str) -> bool:
    """Whether a hyphen-separated part of ``text`` looks like a hash this module adds."""
    return _HASH_PART.search(text) is not None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower())
    return re.sub(r"-{2,}", "-", slug).strip("-")


def check_stack_name(stack: str) -> None:
    """Refuse a stack name Pulumi itself would refuse (for the offline tools)."""
    if not _STACK_NAME.fullmatch(stack):
        raise ConfigError(
            "stack name",
            "is not a valid Pulumi stack name",
            value=stack,
            allowed="1-100 letters, digits, '-', '_' or '.'",
            fix="choose a name such as dev, prod or pr-123",
        )


@dataclass(frozen=True)
class Names:
    """Name factory for one project and stack."""

    project: str
    stack: str

    @property
    def base(self) -> str:
        """``<project>-<stack>``, readable, starting with a letter, with a hash if it was altered."""
        raw = f"{self.project}-{self.stack}"
        slug = _slug(raw)
        if not slug or not slug[0].isalpha():
            slug = f"p-{slug}".rstrip("-")
        if slug != raw or _looks_hashed(raw):
            slug = f"{slug}-{_hash(self.project + '/' + self.stack)}"
        return slug

    def name(self, kind: str, suffix: str = "") -> str:
        """The name for a resource of ``kind`` (a key of ``LIMITS``), ending in ``suffix``."""
        limit = LIMITS[kind]
        tail = f"-{_slug(suffix)}" if suffix else ""
        full = self.base + tail
        if len(full) <= limit:
            return full
        # Shorten the readable part, keep the hash of the full name so it stays unique.
        digest = _hash(f"{self.project}/{self.stack}/{suffix}")
        room = limit - len(tail) - HASH_LEN - 1
        head = self.base[:room].rstrip("-")
        return f"{head}-{digest}{tail}"

    def path(self, kind: str, *parts: str) -> str:
        """A slash-separated name (log groups, secrets): ``<base>/<part>/...``."""
        name = "/".join([self.base, *parts])
        limit = LIMITS[kind]
        if len(name) > limit:  # only possible with very long parts; keep it unique anyway
            name = name[: limit - HASH_LEN - 1] + "-" + _hash(name)
        return name

    # The concrete names, so every module asks for the same one.
    @property
    def cluster(self) -> str:
        return self.name("ecs")

    @property
    def service(self) -> str:
        return self.name("ecs")

    @property
    def task_family(self) -> str:
        return self.name("ecs")

    @property
    def log_group(self) -> str:
        return "/ecs/" + self.path("log_group")

    def rds_log_group(self, log: str) -> str:
        return f"/aws/rds/instance/{self.db_identifier}/{log}"

    @property
    def db_identifier(self) -> str:
        return self.name("rds")

    def db_subnet_group(self, vpc_id: str) -> str:
        # The VPC is part of the name: a subnet group cannot move to another VPC's subnets in place,
        # so a database moving VPC gets a new group (created first) instead of a failed update.
        return self.name("rds", vpc_id)

    @property
    def legacy_db_subnet_group(self) -> str:
        """The fixed name stacks gave their subnet group before it carried the VPC (kept while the
        database stays in that VPC: RDS refuses to move an instance to another group of its VPC)."""
        return self.name("rds")

    def db_parameter_group(self, family: str) -> str:
        # The family is part of the name so a major-version upgrade creates a new group first.
        return self.name("rds", family)

    def final_snapshot_prefix(self) -> str:
        # A random suffix is added at deploy time; leave room for it.
        return self.name("rds", "final")

    @property
    def db_secret(self) -> str:
        return self.path("secret", "db")

    @property
    def db_app_secret(self) -> str:
        return self.path("secret", "db-app")

    def provider_key_secret(self, env_name: str) -> str:
        return self.path("secret", "provider-keys", env_name)

    @property
    def execution_role(self) -> str:
        return self.name("iam_role", "execution")

    @property
    def task_role(self) -> str:
        return self.name("iam_role", "task")

    @property
    def alb(self) -> str:
        return self.name("alb")

    def target_group(self, port: int) -> str:
        return self.name("target_group", str(port))

    def security_group(self, role: str) -> str:
        return self.name("security_group", role)
