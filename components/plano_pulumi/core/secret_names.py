"""What looks like a secret: the words in a variable's name, and the shapes of a value.

The component package (``settings/limits.py`` SECRET_LOOKING refuses such names in
plano:environment) and the policy pack (``policy/secret_names.py``, validators.py refuses them in a
container's plain environment and labels) each ship this module: the pack is published on its own
(``pulumi policy publish`` uploads its folder only) and the package is installed on its own, so
neither can import the other. tests/policy/test_policy.py keeps the two files' code identical.
"""

from __future__ import annotations

import re

SECRET_NAME_WORDS: tuple[str, ...] = ("PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
"""Substrings, matched case-insensitively (PASS covers PASSWORD, PGPASS; KEY covers API_KEY)."""


# Go's simple case folding leaves the Turkic dotted and dotless i alone (Unicode gives them only
# "T" mappings); Python's upper()/lower() would link them to ASCII I and i.
_NOT_FOLDED = frozenset("\u0130\u0131")


def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    if char in _NOT_FOLDED:
        return char
    orbit, todo = {char}, [char]
    while todo:  # every character one simple (one-character) case mapping away, and theirs
        current = todo.pop()
        for other in (current.lower(), current.upper(), current.casefold()):
            if len(other) == 1 and other not in orbit and other not in _NOT_FOLDED:
                orbit.add(other)
                todo.append(other)
    lowest = min(orbit)
    return lowest.lower() if lowest.isascii() else lowest


def go_fold(text: str) -> str:
    """``text`` folded the way Go's encoding/json matches object keys to fields (and so the way the
    AWS provider reads container definitions): each character replaced by the smallest one of its
    simple case-folding orbit, ASCII written lower-case. So ``\u017f`` (long s) folds to ``s`` and the
    Kelvin sign to ``k``, where Python's ``lower()`` keeps them apart from ASCII."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(char) for char in text)


def secret_word(name: str) -> str | None:
    """The first word of SECRET_NAME_WORDS that ``name`` contains (any case, Go's folding), or None."""
    upper = go_fold(name).upper()
    return next((word for word in SECRET_NAME_WORDS if word in upper), None)


# --- values that look like a secret -------------------------------------------------------------

PLACEHOLDER = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")
_SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an API key in the sk-... format (OpenAI, Anthropic)", re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}")),
    ("an AWS access key id (AKIA.../ASIA...)", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    (
        "a GitHub token (ghp_..., github_pat_...)",
        re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    ),
    ("a Slack token (xox...)", re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a private key (-----BEGIN ... PRIVATE KEY-----)", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("a Google API key (AIza...)", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}")),
    ("a Stripe live key", re.compile(r"(?<![A-Za-z0-9])[sr]k_live_[0-9A-Za-z]{16,}")),
)
# scheme://user:password@host, password captured (placeholders such as $DB_PASS are fine).
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#]*:(?P<password>[^\s@/?#]*)@")
_SECRET_KEYS = r"password|passwd|pwd|secret|client_secret|secret_key|token|api_key|apikey|access_key"
# A literal where a $VAR placeholder belongs: a YAML/INI line `access_key: ...` / `password = ...`,
# or a conninfo/query pair `password=...` (comments and prose do not match).
_ASSIGNED_SECRET = re.compile(
    rf"(?im)^[ \t]*-?[ \t]*[\"']?(?P<key>{_SECRET_KEYS})[\"']?[ \t]*[:=][ \t]*[\"']?(?P<value>[^\s\"'#;,}}]+)"
    rf"|(?:^|[\s;&?])(?P<pair>{_SECRET_KEYS})=(?P<pair_value>[^\s&;\"']+)"
)


def secret_findings(value: str) -> list[str]:
    """What in ``value`` looks like a secret (descriptions only: never the value itself)."""
    found = [what for what, pattern in _SECRET_VALUES if pattern.search(value)]
    for match in _URL_PASSWORD.finditer(value):
        password = match.group("password")
        if password and not PLACEHOLDER.fullmatch(password):
            found.append("a URL with an inline password")
            break
    for match in _ASSIGNED_SECRET.finditer(value):
        key, literal = match.group("key") or match.group("pair"), match.group("value") or match.group("pair_value")
        if not PLACEHOLDER.fullmatch(literal):
            found.append(f"a literal {key.lower()} where a $VAR placeholder belongs")
            break
    return found
