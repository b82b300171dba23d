"""Values of ``plano:*`` keys set with ``--secret`` stay secret in Pulumi's state and plan too.

Pulumi hands the program a secret key's plain value, and settings turn it into plain strings (a
CIDR, an ARN, an image), so the resource inputs built from it would be stored in the state and
shown by ``pulumi preview`` as plain text. ``secret_inputs_transform`` is one resource transform
that each top-level component (``PlanoOnAws``, ``PlanoOnDocker``) puts in its own options, so the
engine applies it to every child: every resource input that contains a piece of such a value (the
pieces ``settings/masking.py`` finds) is wrapped as a Pulumi secret before the resource is
registered, and so is every output of the component that holds one (``mark_secrets``). One rule
for every child of both targets, so no child has to remember it.
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


def mark_secrets(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every part that holds a piece of a secret made a Pulumi secret (a component's
    outputs: an output built from a ``--secret`` key, such as the rendered Plano config naming a
    secret ``dbUser``'s role, is a Pulumi secret too)."""
    return _mark(value, secrets) if secrets else value


def secret_inputs_transform(secrets: tuple[str, ...]) -> pulumi.ResourceTransform | None:
    """The transform a component puts in its own options, so it reaches every child (Pulumi's
    ``transforms``) and nothing outside the component; None without secret settings."""
    if not secrets:
        return None

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.props:
            return None
        return pulumi.ResourceTransformResult(props=_mark(dict(args.props), secrets), opts=args.opts)

    return transform
