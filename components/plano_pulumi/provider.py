"""The package as a Pulumi component plugin: ``PlanoOnAws`` and ``PlanoOnDocker`` for every language.

``components/plugin/`` (``PulumiPlugin.yaml``, runtime python) runs ``serve()``; ``pulumi package add``
then asks it for the schema and generates an SDK for TypeScript, Go, C#, Java or YAML. The schema is
the one the Pulumi SDK's own analyzer infers from the args TypedDicts and the output annotations
(``pulumi.provider.experimental``), with what the analyzer cannot know added on top:

- ``secret: true`` on inputs and outputs that hold secrets (the pinned SDK never writes it), so a
  generated SDK wraps the provider keys in ``pulumi.secret`` and keeps the Docker target's database
  password secret in the program's state;
- a secret input is not ``plain`` (the SDK wraps it in an Output);
- outputs a component sets only in some configurations are not ``required`` (a generated SDK must
  not promise them);
- docstrings wrapped over several lines become one line of text.
"""

import json
import re
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pulumi
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.provider import ConstructResult

from plano_pulumi.aws.plano import PlanoOnAws
from plano_pulumi.core.cycles import cycle_collection_held
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.local.plano import PlanoOnDocker

PACKAGE = "plano"
"""The schema's package name: type tokens are ``plano:index:<Component>``, the SDKs are named after it."""
COMPONENTS: list[type[pulumi.ComponentResource]] = [PlanoOnAws, PlanoOnDocker]

SECRET_INPUTS = frozenset({"providerKeys"})
"""Inputs that always hold secrets (the component keeps them secret however they were given)."""
SECRET_OUTPUTS: dict[str, frozenset[str]] = {"PlanoOnAws": frozenset(), "PlanoOnDocker": frozenset({"dbPassword"})}
"""Outputs that carry a secret value, per component."""
CONDITIONAL_OUTPUTS: dict[str, frozenset[str]] = {
    # endpointUrls and albDnsName need a load balancer, portForwardCommand its absence, wakeCommand a schedule (dev),
    # dashboardUrl and alarmTopicArn alarms (prod), reviewDatabase and reviewJanitor a server that
    # carries review stacks (dev).
    "PlanoOnAws": frozenset(
        {
            "endpointUrls",
            "albDnsName",
            "portForwardCommand",
            "wakeCommand",
            "dashboardUrl",
            "alarmTopicArn",
            "reviewDatabase",
            "reviewJanitor",
        }
    ),
    "PlanoOnDocker": frozenset(),
}


def package_version() -> str:
    """The installed distribution's version (the plugin's venv installs it); 0.0.0 from a bare source tree."""
    try:
        return metadata.version("plano-pulumi")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class PlanoProvider(ComponentProvider):
    """Pulumi's component provider for this package, serving the completed schema."""

    def __init__(self, version: str | None = None) -> None:
        # The analyzer reads each class's attribute docstrings with ast.parse and drops them silently
        # on any error. On CPython before 3.11.8, a collection during that parse can run a finalizer
        # that parses too, and the outer parse fails with "AST constructor recursion depth mismatch"
        # (CPython gh-106905): the first output lost its description in about one test process in
        # six. No collection, no finalizer in the middle.
        with cycle_collection_held():
            super().__init__(COMPONENTS, PACKAGE, None, version or package_version())
        self.schema = json.dumps(complete_schema(json.loads(self.schema or "{}")))

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: pulumi.Inputs,
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        inputs = dict(inputs)
        if "providerKeys" in inputs:
            inputs["providerKeys"] = provider_keys_by_name(inputs["providerKeys"])
        return super().construct(name, resource_type, inputs, options)


def provider_keys_by_name(value: Any) -> Any:
    """``providerKeys`` as a map of secret Outputs, the shape the components validate by name.

    Another language's SDK marks the whole map secret (the schema says so), so the provider server
    hands it over as one Output of a map. Its names are known when it arrives (the values may be
    secret); each value becomes its own Output, still secret and with the map's dependencies.
    """
    if not isinstance(value, pulumi.Output):
        return value
    data = value._data  # resolved by the provider server before construct; read without awaiting
    known = data.done() and not data.cancelled() and data.exception() is None and data.result().is_known
    names = data.result().value if known else None
    if not isinstance(names, dict):
        raise ConfigError(
            "args.provider_keys",
            "is not a map whose names are known when the component is created",
            fix="pass a map literal: names as plain text, values may be secrets or Outputs",
        )
    return {str(key): value.apply(_entry(key)) for key in names}


def _entry(key: Any) -> Callable[[dict[Any, Any]], Any]:
    return lambda keys: keys[key]


def complete_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Add to the analyzer's schema what it cannot infer: secrets, conditional outputs, clean text."""
    for token, resource in schema.get("resources", {}).items():
        component = token.rsplit(":", 1)[-1]
        for name, prop in resource.get("inputProperties", {}).items():
            if name in SECRET_INPUTS:
                prop["secret"] = True
                # An SDK wraps a secret input in pulumi.secret(), an Output: the type must allow one
                # (construct splits it back into one secret per key: provider_keys_by_name).
                prop.pop("plain", None)
        for name, prop in resource.get("properties", {}).items():
            if name in SECRET_OUTPUTS.get(component, ()):
                prop["secret"] = True
        conditional = CONDITIONAL_OUTPUTS.get(component, frozenset())
        resource["required"] = [name for name in resource.get("required", []) if name not in conditional]
    _one_line_descriptions(schema)
    return schema


def _one_line_descriptions(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = re.sub(r"\s*\n\s*", " ", value).strip()
            else:
                _one_line_descriptions(value)
    elif isinstance(node, list):
        for item in node:
            _one_line_descriptions(item)


def schema() -> dict[str, Any]:
    """The package schema exactly as the plugin serves it (for tests, docs and ``pulumi package``)."""
    provider = PlanoProvider()
    return dict(json.loads(provider.schema or "{}"))


def serve(args: list[str] | None = None) -> None:
    """Run the plugin: what ``component_provider_host`` does, with this package's completed schema.

    ``component_provider_host`` always builds a plain ``ComponentProvider``, so it could not serve the
    secret markings; this starts the same provider server with ``PlanoProvider`` instead.
    """
    from pulumi.provider import main

    main(PlanoProvider(), sys.argv[1:] if args is None else args)
