"""Reading a plan JSON file that may come from anywhere (a pull request's artifact, a hand edit):
bounded in size, depth and node count, then checked against ``docs/plan.schema.json``, so
``plan-diff`` and the policy pack's offline entry point never crash on it and never take long.

Every problem is one line: ``ConfigError`` naming the file, what is wrong and where.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plano_pulumi.core.errors import ConfigError

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "plan.schema.json"
PLAN_FIX = "create it with `.venv/bin/python -m plano_tools plan --stack STACK --json > FILE`"
# A real stack's plan is a few hundred KiB and a few thousand values; these leave ample room.
MAX_PLAN_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 500_000


def _shape_problem(document: Any) -> str | None:
    """Too deep or too many values (iteratively: no recursion on hostile nesting)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return f"holds more than {MAX_NODES} values, far more than any stack's plan"
        if depth > MAX_DEPTH:
            return f"nests deeper than {MAX_DEPTH} levels, far more than any stack's plan"
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


def schema_problem(document: Any) -> str | None:
    """Why ``document`` does not follow docs/plan.schema.json (None when it does)."""
    problem = _shape_problem(document)
    if problem:
        return problem
    if not isinstance(document, dict):
        return "is JSON but not a plan (not an object)"
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for key in schema["required"]:
        if key not in document:
            return f"is JSON but not a plan (no {key})"
    try:
        import jsonschema
    except ModuleNotFoundError:  # installed without the dev tools: the structural check instead
        from plano_tools.plan import plan_shape_problem

        return plan_shape_problem(document)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return f"is JSON but not a plan (at {where or 'the top level'}: {error.message[:160]}; see docs/plan.schema.json)"


def load_plan(path: Path) -> dict[str, Any]:
    """The plan in ``path``, or a one-line ConfigError (missing, too big, not JSON, not a plan)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as error:
        raise ConfigError(
            str(path), f"cannot be read ({error.strerror or type(error).__name__})", fix=PLAN_FIX
        ) from None
    if len(data) > MAX_PLAN_BYTES:
        raise ConfigError(
            str(path), f"is larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB, far more than any plan", fix=PLAN_FIX
        )
    try:
        document = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        reason = "not UTF-8" if isinstance(error, UnicodeDecodeError) else type(error).__name__
        if isinstance(error, json.JSONDecodeError):
            reason = f"{error.msg} at line {error.lineno} column {error.colno}"
        raise ConfigError(str(path), f"is not a plan JSON file ({reason})", fix=PLAN_FIX) from None
    problem = schema_problem(document)
    if problem:
        raise ConfigError(str(path), problem, fix=PLAN_FIX)
    return dict(document)
