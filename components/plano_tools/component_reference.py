"""docs/components.md's args and outputs tables, from the schema the component plugin serves.

The schema is inferred from ``plano_pulumi/args.py`` (generated from the ``plano:`` key
declarations) and the components' output annotations, so the tables, the Python types, the SDKs of
other languages and the stack keys cannot drift apart. ``python -m plano_tools component-reference``
prints them; a test keeps docs/components.md equal to the output.
"""

import json
from typing import Any

from plano_pulumi.core.settings.arguments import field_name
from plano_pulumi.core.settings.keys import KEYS_BY_NAME, PROFILES, Profile

COMPONENTS = ("PlanoOnAws", "PlanoOnDocker")


def _type(prop: dict[str, Any]) -> str:
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object":
        return f"map of {_type(prop.get('additionalProperties', {}))}"
    return kind


def _shown(value: Any) -> str:
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _default(name: str) -> str:
    key = KEYS_BY_NAME.get(name)
    if key is None:
        return ""
    if key.per_profile:
        return f"dev {_shown(PROFILES[Profile.DEV][name])}, prod {_shown(PROFILES[Profile.PROD][name])}"
    return _shown(key.default)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def component_reference_markdown(schema: dict[str, Any] | None = None) -> str:
    """The args table (both components) and one outputs table per component."""
    if schema is None:
        from plano_pulumi.provider import schema as package_schema

        schema = package_schema()
    resources = {token.rsplit(":", 1)[-1]: resource for token, resource in schema["resources"].items()}
    inputs = {c: resources[c]["inputProperties"] for c in COMPONENTS}
    names = list(inputs["PlanoOnAws"]) + [n for n in inputs["PlanoOnDocker"] if n not in inputs["PlanoOnAws"]]
    lines = [
        "### Args",
        "",
        "| Python | other languages | type | AWS | Docker | default | what it does |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        prop = inputs["PlanoOnAws"].get(name) or inputs["PlanoOnDocker"][name]
        kind = _type(prop) + (", secret" if prop.get("secret") else "")
        where = ["yes" if name in inputs[c] else "" for c in COMPONENTS]
        description = _cell(str(prop.get("description", "")))
        lines.append(
            f"| `{field_name(name)}` | `{name}` | {kind} | {where[0]} | {where[1]} | {_default(name)} | {description} |"
        )
    for component in COMPONENTS:
        resource = resources[component]
        required = set(resource.get("required", []))
        lines += [
            "",
            f"### Outputs of `{component}`",
            "",
            "| Python | other languages | type | what it holds |",
            "|---|---|---|---|",
        ]
        for name, prop in resource["properties"].items():
            notes = [] if name in required else ["only in some configurations"]
            if prop.get("secret"):
                notes.append("secret")
            kind = _type(prop) + "".join(f", {n}" for n in notes)
            description = _cell(str(prop.get("description", "")))
            lines.append(f"| `{field_name(name)}` | `{name}` | {kind} | {description} |")
    return "\n".join(lines) + "\n"
