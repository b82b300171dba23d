"""The Plano policy pack: the validators of ``validators.py`` served to the Pulumi engine.

``pulumi preview --policy-pack policy`` runs this file (``python -m pulumi.policy``, as
``__main__``). Importing it under another name only defines the policies (``build_policies()``),
so the tests can check the wiring without starting the analyzer server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import serialize_properties
from pulumi_policy.proxy import UnknownValueError

try:  # imported from the repository root (tests, or the CLI started there)
    from policy.validators import (
        RESOURCE_POLICIES,
        STACK_POLICIES,
        NotKnownYetError,
        ResourcePolicy,
        StackPolicy,
        context_from_config,
    )
except ModuleNotFoundError:  # run by the Pulumi CLI: this directory is on sys.path
    from validators import (  # type: ignore[no-redef]
        RESOURCE_POLICIES,
        STACK_POLICIES,
        NotKnownYetError,
        ResourcePolicy,
        StackPolicy,
        context_from_config,
    )

PACK_NAME = "plano"
ENFORCEMENT = EnforcementLevel.MANDATORY
CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "profile": {
        "type": "string",
        "enum": ["dev", "prod"],
        "description": "Hold every resource to this profile (default: each resource's `profile` tag; prod wins).",
    },
    "allowPublicIngress": {
        "type": "boolean",
        "default": False,
        "description": "Consent to ingress rules open to 0.0.0.0/0 or ::/0 (load balancer only).",
    },
}


def plain(props: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's property proxy as plain dicts and lists (unknowns stay as sentinel strings)."""
    return dict(serialize_properties(props))


def _schema(keys: tuple[str, ...]) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: CONFIG_SCHEMA[k] for k in keys}) if keys else None


def _not_known_yet(error: NotKnownYetError) -> UnknownValueError:
    """pulumi_policy's own error: the engine reports "can't run policy ... during preview" (advisory)."""
    return UnknownValueError(error.sentinel, list(error.path))


def resource_validation(policy: ResourcePolicy) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in policy.resource_types:
            return
        context = context_from_config(args.get_config(), protect=args.opts.protect)
        try:
            messages = policy.validate(args.resource_type, plain(args.props), context)
        except NotKnownYetError as error:
            raise _not_known_yet(error) from None
        for message in messages:
            report_violation(message, None)

    return validate


def stack_validation(policy: StackPolicy) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            {
                "type": r.resource_type,
                "name": r.name,
                "urn": r.urn,
                "props": plain(r.props),
                "protect": r.opts.protect,
            }
            for r in args.resources
        ]
        try:
            messages = policy.validate(resources, context_from_config(args.get_config()))
        except NotKnownYetError as error:
            raise _not_known_yet(error) from None
        for message in messages:
            report_violation(message, None)

    return validate


def build_policies() -> list[Policy]:
    """One pulumi_policy policy per entry of the validators' registry, all mandatory."""
    policies: list[Policy] = [
        ResourceValidationPolicy(
            name=p.name,
            description=p.description,
            validate=resource_validation(p),
            enforcement_level=ENFORCEMENT,
            config_schema=_schema(p.config),
        )
        for p in RESOURCE_POLICIES
    ]
    policies += [
        StackValidationPolicy(
            name=p.name,
            description=p.description,
            validate=stack_validation(p),
            enforcement_level=ENFORCEMENT,
            config_schema=_schema(p.config),
        )
        for p in STACK_POLICIES
    ]
    return policies


def main() -> None:
    """Serve the pack to the engine (blocks: PolicyPack starts the analyzer's gRPC server)."""
    PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=ENFORCEMENT)


if __name__ == "__main__":
    main()
