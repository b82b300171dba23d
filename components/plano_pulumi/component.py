"""What both top-level components share: settings validated before the first child, the transform
that keeps secret settings secret in every child, children that moved from the stack's root, and
documented outputs registered (secret where they hold a secret)."""

from __future__ import annotations

from typing import Any

import pulumi

from plano_pulumi.core.settings import Settings
from plano_pulumi.transforms import mark_secrets, secret_inputs_transform


class PlanoComponent(pulumi.ComponentResource):
    """The base of ``PlanoOnAws`` and ``PlanoOnDocker`` (no outputs of its own)."""

    def _register(self, type_: str, name: str, settings: Settings, opts: pulumi.ResourceOptions | None) -> None:
        """Register the component once its settings are valid; the user's ``opts`` (transforms
        included) are merged after the secret-input transform, and both reach every child."""
        transform = secret_inputs_transform(settings.secret_strings)
        options = pulumi.ResourceOptions(transforms=[transform] if transform else None)
        super().__init__(type_, name, None, pulumi.ResourceOptions.merge(options, opts))
        for warning in settings.warnings:
            pulumi.log.warn(warning, resource=self)
        self.settings = settings
        """The validated settings every child was built from."""

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        # Children once sat at the stack's root: the alias keeps their URNs, so nothing is replaced.
        return pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)], **extra)

    def output_names(self) -> list[str]:
        """The documented outputs (the class's annotations) this instance has."""
        return [n for n in type(self).__annotations__ if not n.startswith("_") and n in vars(self)]

    def _publish(self) -> None:
        """Outputs built from a --secret setting are secrets too; then register them, so `pulumi
        stack output` and other languages (through the plugin) see them."""
        for name in self.output_names():
            setattr(self, name, mark_secrets(getattr(self, name), self.settings.secret_strings))
        self.register_outputs({name: getattr(self, name) for name in self.output_names()})
