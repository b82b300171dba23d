"""Structural differences between two resources' inputs, for the plan diff (pure).

Pulumi passes some inputs as JSON strings: an ECS task's ``containerDefinitions``, IAM policy
documents. Compared as strings, a one-field change (a new image) shows as two long, identical
looking blobs. Here such strings are decoded and compared as data, and every difference is
reported at its own path:

    containerDefinitions[plano].image
    containerDefinitions[plano].environment[LOG_LEVEL]
    containerDefinitions[plano].secrets[OPENAI_API_KEY]
    containerDefinitions[plano].portMappings[0].containerPort
    policy.Statement[ReadThisTasksSecrets].Action

Lists of named things (containers, environment variables, secrets, volumes) are matched by name,
IAM statements by ``Sid`` (else by position), other lists by position. Values stay as the plan
holds them: secrets are already ``"[secret]"`` there, and a secret of a container is listed by its
name with the ARN it is read from, never a value.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()
"""Marks the side of a change where the path does not exist (added or removed)."""


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any


def _decoded(value: Any) -> Any:
    """A JSON document held in a string (``'[{"name": ...}]'``, ``'{"Version": ...}'``) as data."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _list_key(items: list[Any]) -> str | None:
    """The field that names each item of a list of objects, when every item has a distinct one."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in ("name", "Sid"):
        names = [i.get(key) for i in items]
        if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
            return key
    return None


def _scalars(items: list[Any]) -> bool:
    return all(isinstance(i, (str, int, float, bool)) or i is None for i in items)


def _named(items: list[Any], key: str) -> dict[str, Any]:
    """Items by name; ``{name, value}`` pairs (environment) and ``{name, valueFrom}`` (secrets) by
    their one payload, so a change reads ``environment[LOG_LEVEL]: info -> debug``."""
    out: dict[str, Any] = {}
    for item in items:
        rest = {k: v for k, v in item.items() if k != key}
        payload = set(rest) in ({"value"}, {"valueFrom"}) and key == "name"
        out[item[key]] = next(iter(rest.values())) if payload else rest
    return out


def changes(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every leaf that differs between ``before`` and ``after`` (``MISSING`` on the absent side)."""
    before, after = _decoded(before), _decoded(after)
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += changes(before.get(key, MISSING), after.get(key, MISSING), sub)
        return out
    if isinstance(before, list) and isinstance(after, list):
        key = _list_key(before or after)
        if key is not None and all(_list_key(side) == key for side in (before, after) if side):
            b, a = _named(before, key), _named(after, key)
            out = []
            for name in list(b) + [n for n in a if n not in b]:
                out += changes(b.get(name, MISSING), a.get(name, MISSING), f"{path}[{name}]")
            return out
        if _scalars(before) and _scalars(after) and len(set(before)) == len(before) and len(set(after)) == len(after):
            before_set, after_set = set(before), set(after)  # linear however long the lists
            gone = [Change(path, item, MISSING) for item in before if item not in after_set]
            new = [Change(path, MISSING, item) for item in after if item not in before_set]
            if gone or new:  # else the same items in another order: shown whole below
                return gone + new
        if len(before) == len(after):
            out = []
            for index, (b_item, a_item) in enumerate(zip(before, after, strict=True)):
                out += changes(b_item, a_item, f"{path}[{index}]")
            return out
    return [Change(path, before, after)]


# --- Markdown ----------------------------------------------------------------------------------

INLINE_MAX = 120  # longer values, and any with a line break, are shown as a line diff
LINE_DIFF_MAX = 2000  # longer texts are shown removed and added whole (difflib is quadratic)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _code(text: str) -> str:
    """Inline code that survives backticks in the text (a fence longer than any run inside)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _block(lines: list[str], indent: str) -> list[str]:
    fence = "````" if any("```" in line for line in lines) else "```"
    return [f"{indent}{fence}diff", *(f"{indent}{line}" for line in lines), f"{indent}{fence}"]


def change_markdown(change: Change, indent: str = "  ") -> list[str]:
    """One change as Markdown list lines: inline when short, else a line diff (never truncated)."""
    label = _code(change.path or "(value)")
    if change.before is MISSING:
        head, values = "added", [change.after]
    elif change.after is MISSING:
        head, values = "removed", [change.before]
    else:
        head, values = "", [change.before, change.after]
    texts = [_text(v) for v in values]
    if all(len(t) <= INLINE_MAX and "\n" not in t for t in texts):
        shown = " → ".join(_code(t) for t in texts)
        return [f"{indent}- {label}: " + (f"{head} {shown}" if head else shown)]
    if head:
        sign = "+" if head == "added" else "-"
        lines = [f"{sign}{line}" for line in texts[0].splitlines()]
    elif max(len(t.splitlines()) for t in texts) > LINE_DIFF_MAX:
        lines = [f"-{line}" for line in texts[0].splitlines()] + [f"+{line}" for line in texts[1].splitlines()]
    else:
        lines = [
            line.rstrip("\n")
            for line in difflib.unified_diff(texts[0].splitlines(), texts[1].splitlines(), lineterm="", n=2)
        ][2:]  # without the ---/+++ file header
    return [f"{indent}- {label}: {head or 'changed'}", *_block(lines, indent + "  ")]
