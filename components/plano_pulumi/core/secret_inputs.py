"""Values of ``plano:*`` keys set with ``--secret`` stay secret in Pulumi's state and plan too.

Pulumi hands the program a secret key's plain value, and settings turn it into plain strings (a
CIDR, an ARN, an image), so the resource inputs built from it would be stored in the state and
shown by ``pulumi preview`` as plain text. ``keep_secret_inputs`` registers one stack
transformation: every resource input that contains a piece of such a value (the pieces
``settings/masking.py`` finds, in any case) is wrapped as a Pulumi secret before the resource is
registered, and so is every stack output that holds one. One rule for every component of both
targets, so no component has to remember it.
"""

from __future__ import annotations

from typing import Any

import pulumi


def contains_secret(value: Any, secrets: tuple[str, ...]) -> bool:
    """Whether a plain value holds any piece of a secret key's value (at any depth, in any case:
    a name or an address built from it may have been lower-cased on the way)."""
    if isinstance(value, str):
        folded = value.lower()
        return any(piece.lower() in folded for piece in secrets)
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
    """Register the transformation for the rest of the program (nothing to do without secret keys).

    Stack outputs are no resource's inputs, so the stack's own ``output`` (what ``pulumi.export``
    calls) gets the same rule: an export built from a ``--secret`` key (the rendered Plano config
    naming a secret ``dbUser``'s role, say) is a Pulumi secret too.
    """
    if not secrets:
        return
    from pulumi.runtime.settings import get_root_resource

    stack = get_root_resource()
    if stack is not None and hasattr(stack, "output"):
        export = stack.output

        def secret_aware_output(name: str, value: Any) -> None:
            export(name, _mark(value, secrets))

        stack.output = secret_aware_output  # type: ignore[method-assign]

    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.props:
            return None
        return pulumi.ResourceTransformationResult(props=_mark(dict(args.props), secrets), opts=args.opts)

    pulumi.runtime.register_stack_transformation(transformation)
