"""The one list of words that make a variable's name look like a secret's.

Shared by the program (components/core/settings/limits.py SECRET_LOOKING refuses such names in
plano:environment) and the policy pack (validators.py refuses them in a container's plain
environment and labels). It lives in the pack's folder because the pack is deployed on its own
(``pulumi policy publish`` uploads this folder only) while the program always runs from the
repository, where it can import this module. No imports: both sides load it as it is.
"""

from __future__ import annotations

SECRET_NAME_WORDS: tuple[str, ...] = ("PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
"""Substrings, matched case-insensitively (PASS covers PASSWORD, PGPASS; KEY covers API_KEY)."""


def secret_word(name: str) -> str | None:
    """The first word of SECRET_NAME_WORDS that ``name`` contains (any case), or None."""
    upper = name.upper()
    return next((word for word in SECRET_NAME_WORDS if word in upper), None)
