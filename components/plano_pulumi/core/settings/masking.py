"""Values of ``plano:*`` keys set with ``--secret`` stay secret in every message and document the
project writes: config errors, warnings, the offline plan (and so plan-diff).

Pulumi hands the program a secret key's plain value; this module finds every piece of it (the whole
string, each leaf of a JSON list or map, and the dashed form resource names use) so it can be
replaced by ``[secret]`` wherever it would otherwise be echoed: in every form it can take on
the way (stripped, escaped in quotes, upper- or lower-cased, shortened before an ellipsis).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any

from plano_pulumi.core.errors import SECRET_MASK, ConfigError, escaped
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


def _forms(piece: str) -> set[str]:
    """The forms a value takes on its way into messages and inputs: as set, stripped of white
    space (settings strip what they read), a network's normal form (``2001:DB8:0::/48`` is written
    ``2001:db8::/48``), and escaped inside a quoted string (JSON, ``repr``)."""
    forms = {piece, piece.strip()}
    with contextlib.suppress(ValueError):  # a network or address as the settings write it back
        network = ipaddress.ip_network(piece.strip(), strict=False)
        forms |= {str(network), network.compressed, network.exploded}
    for form in list(forms):
        forms |= {form.upper(), form.lower()}  # where the length changes (ß, SS), ignoring case is not enough
    for form in list(forms):
        forms |= {escaped(form), json.dumps(form)[1:-1], json.dumps(form, ensure_ascii=False)[1:-1], repr(form)[1:-1]}
    return forms


def secret_strings(raw: RawConfig) -> tuple[str, ...]:
    """Every piece of every secret key's value, longest first (so no piece is half-replaced).

    Pieces are the whole value and each leaf of a JSON list or map, each in every derived form
    (``_forms``; the dashed form resource names use too). Matching ignores case (``scrub``,
    ``contains_secret``), so an upper- or lower-cased copy counts as the value.
    """
    found: set[str] = set()
    for key in raw.secret_keys:
        text = raw.values.get(key)
        if text is None:
            continue
        found.add(text)
        with contextlib.suppress(ValueError, RecursionError):
            found.update(_leaves(json.loads(text)))
    found = {form for piece in found for form in _forms(piece)}
    pieces = {p for p in found if len(p.strip()) >= MIN_SECRET_CHARS}
    # Resource names carry values with every other character made a dash (alb-in-443-10-0-0-0-8).
    pieces |= {d for p in pieces if len(d := re.sub("[^0-9A-Za-z]+", "-", p).strip("-")) >= MIN_SECRET_CHARS}
    return tuple(sorted(pieces, key=len, reverse=True))


# Where a message shortens a value: "<start>..." (errors.show_value, reader) or "...<end>".
_ELLIPSES = ("...", "\u2026")


def _shortened(text: str, piece: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that hold a shortened copy of ``piece``: a start of it directly before an
    ellipsis, or an end of it directly after one (any case)."""
    if not any(ellipsis in text for ellipsis in _ELLIPSES):
        return []
    lower, target = text.lower(), piece.lower()
    spans = []
    for ellipsis in _ELLIPSES:
        at = lower.find(ellipsis)
        while at != -1:
            # the longest start of the piece ending at `at`
            for size in range(min(len(target), at), MIN_SECRET_CHARS - 1, -1):
                if lower[at - size : at] == target[:size]:
                    spans.append((at - size, at))
                    break
            end = at + len(ellipsis)
            for size in range(min(len(target), len(lower) - end), MIN_SECRET_CHARS - 1, -1):
                if lower[end : end + size] == target[-size:]:
                    spans.append((end, end + size))
                    break
            at = lower.find(ellipsis, at + 1)
    return spans


@functools.lru_cache(maxsize=4096)
def _pattern(piece: str) -> re.Pattern[str]:
    """The piece as a case-blind pattern, compiled once (a plan scrubs every string it holds)."""
    return re.compile(re.escape(piece), flags=re.IGNORECASE)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret piece replaced by ``[secret]``: in any case, and shortened copies
    (a start before ``...``, an end after it) too. Spans are found on the original text and merged,
    so one piece's mask never hides another piece's longer, overlapping copy."""
    if len(text) < MIN_SECRET_CHARS:  # no piece, whole or shortened, fits
        return text
    spans: list[tuple[int, int]] = []
    shortened = any(ellipsis in text for ellipsis in _ELLIPSES)
    for piece in secrets:
        spans += [m.span() for m in _pattern(piece).finditer(text)]
        if shortened:
            spans += _shortened(text, piece)
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [text[at:start], SECRET_MASK]
        at = end
    return "".join([*out, text[at:]])


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
