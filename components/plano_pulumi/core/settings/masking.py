"""Values of ``plano:*`` keys set with ``--secret`` stay secret in every message and document the
project writes: config errors, warnings, the offline plan (and so plan-diff).

Pulumi hands the program a secret key's plain value; this module finds every piece of it (the whole
string, each leaf of a JSON list or map, and the dashed form resource names use) so it can be
replaced by ``[secret]`` wherever it would otherwise be echoed.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any

from plano_pulumi.core.errors import SECRET_MASK, ConfigError
from plano_pulumi.core.settings.model import RawConfig

# Shorter pieces (a flag, a count) would garble every message they happen to occur in.
MIN_SECRET_CHARS = 3


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def secret_strings(raw: RawConfig) -> tuple[str, ...]:
    """Every piece of every secret key's value, longest first (so no piece is half-replaced)."""
    found: set[str] = set()
    for key in raw.secret_keys:
        text = raw.values.get(key)
        if text is None:
            continue
        found.add(text)
        with contextlib.suppress(ValueError, RecursionError):
            found.update(_leaves(json.loads(text)))
    pieces = {p for p in found if len(p) >= MIN_SECRET_CHARS}
    # Resource names carry values with every other character made a dash (alb-in-443-10-0-0-0-8).
    pieces |= {d for p in pieces if len(d := re.sub("[^0-9A-Za-z]+", "-", p).strip("-")) >= MIN_SECRET_CHARS}
    return tuple(sorted(pieces, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    for piece in secrets:
        text = text.replace(piece, SECRET_MASK)
    return text


def scrub_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """A JSON-like value with every secret piece in its strings (and map keys) masked."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets) if isinstance(k, str) else k: scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, secrets) for v in value]
    return value


def masked_error(error: ConfigError, secrets: tuple[str, ...]) -> ConfigError:
    """``error`` with every secret piece masked in its message (the same error otherwise)."""
    message = str(error)
    clean = scrub(message, secrets)
    if clean == message:
        return error
    masked = ConfigError.__new__(ConfigError)
    Exception.__init__(masked, clean)
    masked.where = scrub(error.where, secrets)
    masked.problem = scrub(error.problem, secrets)
    masked.fix = scrub(error.fix, secrets)
    return masked
