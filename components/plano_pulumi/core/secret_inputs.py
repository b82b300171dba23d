"""Values of ``plano:*`` keys set with ``--secret`` stay secret in Pulumi's state and plan too.

Pulumi hands the program a secret key's plain value, and settings turn it into plain strings (a
CIDR, an ARN, an image), so the resource inputs built from it would be stored in the state and
shown by ``pulumi preview`` as plain text. ``keep_secret_inputs`` registers one stack
transformation: every resource input that contains a piece of such a value (the pieces
``settings/masking.py`` finds) is wrapped as a Pulumi secret before the resource is registered.
One rule for every component of both targets, so no component has to remember it.
"""

from __future__ import annotations

from typing import Any

import pulumi


def contains_secret(value: Any, secrets: tuple[str, ...]) -> bool:
    """Whether a plain value holds any piece of a secret key's value (at any depth)."""
    if isinstance(value, str):
        return any(piece in value for piece in secrets)
    if isinstance(value, dict):
        return any(contains_secret(v, secrets) or contains_secret(k, secrets) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_secret(v, secrets) for v in value)
    return False


def _mark(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, pulumi.Output):
        # Known only later: decide on the resolved value (an Output returned by apply keeps its
        # secretness, so this marks exactly the values that hold a secret).
        return value.apply(lambda v: pulumi.Output.secret(v) if contains_secret(v, secrets) else v)
    if isinstance(value, dict):
        return {k: _mark(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark(v, secrets) for v in value]
    if contains_secret(value, secrets):
        return pulumi.Output.secret(value)
    return value


def keep_secret_inputs(secrets: tuple[str, ...]) -> None:
    """Register the transformation for the rest of the program (nothing to do without secret keys)."""
    if not secrets:
        return

    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.props:
            return None
        return pulumi.ResourceTransformationResult(props=_mark(dict(args.props), secrets), opts=args.opts)

    pulumi.runtime.register_stack_transformation(transformation)
