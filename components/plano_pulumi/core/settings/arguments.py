"""The components' arguments: one field per ``plano:`` key, and their way into the validated settings.

The args of ``PlanoOnAws`` and ``PlanoOnDocker`` are the stack keys under their Pulumi schema
names (``dbEngine`` in TypeScript and YAML, ``db_engine`` in Python): a stack file and a program
in any language say the same things with the same words, and both go through ``load_settings``,
so every consumer gets the same one-line errors before any resource exists.

``components/plano_pulumi/args.py`` is generated from ``KEYS`` by ``args_module_source`` (``python
-m plano_tools sync-args``; tests/core/test_arguments.py keeps it current).
"""

from __future__ import annotations

import difflib
import json
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import KEYS, KEYS_BY_NAME, NAMESPACE, Key, Profile
from plano_pulumi.core.settings.model import RawConfig

# Keys the Docker target reads; the others size or secure AWS resources.
LOCAL_KEYS = frozenset(
    {
        "configFile",
        "image",
        "pgbouncerImage",
        "initImage",
        "dbEngineVersion",
        "dbName",
        "dbUser",
        "dbPasswordVersion",
        "dbTlsMode",
        "providerKeys",
        "providerKeysExternal",
        "environment",
        "stateRetentionDays",
        "localKeepDataVolume",
        "localDbPort",
    }
)
# Keys only the cost model reads (python -m plano_tools plan): stack settings, not component args.
PLAN_ONLY_KEYS = frozenset({"usageActiveHoursPerDay", "usageActiveDaysPerWeek", "usageRequestsPerHour"})

CONFIG_TEXT = "configText"
SECRET_SETTINGS = "secretSettings"
PLACEHOLDER_KEY_VALUE = "provided-as-a-pulumi-input"
"""Stands in, during validation, for a provider key given as an Output (its value is known later)."""

_PY_TYPES = {"string": "str", "integer": "int", "boolean": "bool", "array": "list[str]", "object": "dict[str, str]"}


def field_name(key_name: str) -> str:
    """``dbMaxCapacityAcu`` -> ``db_max_capacity_acu`` (Pulumi's analyzer camel-cases it back)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key_name).lower()


def camel_name(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def component_keys(*, local: bool) -> tuple[Key, ...]:
    """The keys a component takes as args (profile is the target's choice for Docker)."""
    if local:
        return tuple(k for k in KEYS if k.name in LOCAL_KEYS)
    return tuple(k for k in KEYS if k.name not in PLAN_ONLY_KEYS)


@dataclass(frozen=True)
class ArgsConfig:
    """Component args turned into the raw config ``load_settings`` validates."""

    raw: RawConfig
    config_text: str | None
    provider_key_inputs: Mapping[str, Any] = field(default_factory=dict)
    """Provider keys given as Pulumi Outputs: their values are set on the secrets, never read here."""


def raw_config_from_args(args: Mapping[str, Any] | None, *, local: bool) -> ArgsConfig:
    """Flatten a component's args into ``plano:`` strings as the Pulumi CLI would pass them.

    Unknown args are refused with the closest known one; a provider key whose value is an Output
    (known only at deployment) is validated by name and carried through unread.
    """
    args = dict(args or {})
    keys = {k.name: k for k in component_keys(local=local)}
    known = {camel_name(field_name(name)): name for name in keys} | {CONFIG_TEXT: CONFIG_TEXT}
    known[SECRET_SETTINGS] = SECRET_SETTINGS
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    inputs: dict[str, Any] = {}
    config_text: str | None = None
    for given, value in args.items():
        name = _known_name(given, known, local=local)
        if value is None:
            continue
        if name == CONFIG_TEXT:
            config_text = _text(value, CONFIG_TEXT)
            continue
        if name == SECRET_SETTINGS:
            secret_keys |= {f"{NAMESPACE}:{camel_name(field_name(str(s)))}" for s in value}
            continue
        if name == "providerKeys" and isinstance(value, Mapping):
            value = _provider_keys_carried(value, inputs)
            secret_keys.add(f"{NAMESPACE}:providerKeys")  # always secret, however they were given
        if is_output(value):
            raise ConfigError(
                f"args.{field_name(name)}",
                "is a Pulumi Output, but this setting decides which resources exist, so it must be known "
                "before any resource is created",
                fix="pass a plain value (only providerKeys values may be Outputs)",
            )
        values[f"{NAMESPACE}:{name}"] = config_string(value)
    _check_args_together(values, secret_keys, config_text, local=local)
    return ArgsConfig(RawConfig(values=values, secret_keys=frozenset(secret_keys)), config_text, inputs)


def _known_name(given: object, known: Mapping[str, str], *, local: bool) -> str:
    """The ``plano:`` key an arg names (any case style); an unknown one is refused with the closest."""
    name = known.get(camel_name(given)) if isinstance(given, str) else None
    if name is None:
        guess = difflib.get_close_matches(str(given), sorted(map(field_name, known)), n=1, cutoff=0.6)
        raise ConfigError(
            f"args.{given}",
            "is not an argument of " + ("PlanoOnDocker" if local else "PlanoOnAws"),
            fix=(f"did you mean {guess[0]}? " if guess else "")
            + "see the args table in docs/components.md (the same names as the plano: stack keys)",
        )
    return name


def _provider_keys_carried(value: Mapping[Any, Any], inputs: dict[str, Any]) -> dict[Any, Any]:
    """Provider keys with every Output value moved to ``inputs`` and replaced by a placeholder."""
    plain = {}
    for env_name, key_value in value.items():
        if is_output(key_value):
            inputs[str(env_name)] = key_value
            plain[env_name] = PLACEHOLDER_KEY_VALUE
        else:
            plain[env_name] = key_value
    return plain


def _check_args_together(
    values: dict[str, str], secret_keys: set[str], config_text: str | None, *, local: bool
) -> None:
    """The profile fits the component (setting it for PlanoOnDocker), one Plano config, real secret names."""
    if local:
        values[f"{NAMESPACE}:profile"] = Profile.LOCAL.value
    elif values.get(f"{NAMESPACE}:profile", "").strip() == Profile.LOCAL.value:
        raise ConfigError(
            "args.profile",
            "is local, which is the Docker target",
            fix="use PlanoOnDocker for Docker, or profile dev or prod here",
        )
    if config_text is not None and f"{NAMESPACE}:configFile" in values:
        raise ConfigError("args.config_text", "and config_file are both set", fix="pass one of them")
    unknown_secret = sorted(k for k in secret_keys if k.split(":", 1)[1] not in KEYS_BY_NAME)
    if unknown_secret:
        raise ConfigError(f"args.{SECRET_SETTINGS}", "names a setting that does not exist", fix="name args only")


def args_from_raw_config(raw: RawConfig) -> dict[str, Any]:
    """A stack's ``plano:`` config (strings, as the Pulumi CLI passes them) as component args.

    The values stay the strings the CLI passed, so the component validates exactly what the stack
    file says (``yes`` stays text); keys set with --secret are named in ``secret_settings``; the
    cost-model keys are left to ``python -m plano_tools plan``. Unknown keys are refused here with
    the stack file's own wording.
    """
    from plano_pulumi.core.settings.load import check_unknown_keys

    check_unknown_keys(raw)
    local = raw.values.get(f"{NAMESPACE}:profile", "").strip() == Profile.LOCAL.value
    wanted = {k.name for k in component_keys(local=local)}
    args: dict[str, Any] = {}
    for full, value in raw.values.items():
        namespace, _, name = full.partition(":")
        if namespace == NAMESPACE and name in wanted:
            args[field_name(name)] = value
    secret = sorted(f.partition(":")[2] for f in raw.secret_keys if f.partition(":")[2] in wanted)
    if secret:
        args["secret_settings"] = [field_name(n) for n in secret]
    return args


def ignored_keys(raw: RawConfig) -> list[str]:
    """Keys of a local stack's file that the Docker target does not read."""
    if raw.values.get(f"{NAMESPACE}:profile", "").strip() != Profile.LOCAL.value:
        return []
    read = LOCAL_KEYS | PLAN_ONLY_KEYS | {"profile"}
    return sorted(f for f in raw.values if f.startswith(f"{NAMESPACE}:") and f.partition(":")[2] not in read)


def is_output(value: Any) -> bool:
    """Whether a value is a Pulumi Output or awaitable input (duck-typed: no Pulumi import here)."""
    has_apply = callable(getattr(value, "apply", None)) and callable(getattr(value, "future", None))
    return has_apply or hasattr(value, "__await__")


def config_string(value: Any) -> str:
    """A value as the Pulumi CLI hands config to a program: text, JSON for lists and maps."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(_plain(value))
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"args.{field_name(name)}", "must be text (the Plano config as YAML)", fix="pass a string")
    return value


def args_module_source() -> str:
    """The source of ``components/plano_pulumi/args.py``: typed, documented args per component."""
    lines = [
        '"""The components\' arguments, generated from the ``plano:`` key declarations.',
        "",
        "Do not edit: ``python -m plano_tools sync-args`` writes this file from",
        "``core/settings/keys.py`` (a test keeps it current). Every field is optional; an absent field",
        "takes the default the stack key has (per profile where the table in docs/configuration.md says so).",
        '"""',
        "",
        "from typing import TypedDict",
        "",
        "import pulumi",
        "",
    ]
    for class_name, local, doc in (
        ("PlanoOnAwsArgs", False, "Inputs of ``PlanoOnAws``: Plano on ECS Fargate with RDS or Aurora PostgreSQL."),
        ("PlanoOnDockerArgs", True, "Inputs of ``PlanoOnDocker``: the same task on a Docker engine, no AWS."),
    ):
        lines += ["", f"class {class_name}(TypedDict, total=False):", f'    """{doc}"""', ""]
        lines += _field("config_text", "str", "Your Plano config as YAML text, instead of config_file.")
        for key in component_keys(local=local):
            if key.name == "profile" and local:
                continue
            annotation = _PY_TYPES[key.type]
            if key.name == "providerKeys":
                annotation = "dict[str, pulumi.Input[str]]"
            description = key.description
            if key.rule:
                description += f" Valid: {key.rule}."
            lines += _field(field_name(key.name), annotation, description)
        lines += _field(
            "secret_settings",
            "list[str]",
            "Args whose values are secrets: masked in every message, kept secret in every resource input.",
        )
    return "\n".join(lines).rstrip() + "\n"


def _field(name: str, annotation: str, description: str) -> list[str]:
    text = description.replace('"""', "'''").replace("\\", "\\\\")
    wrapped = textwrap.wrap(text, width=108)
    doc = [f'    """{wrapped[0]}'] + [f"    {line}" for line in wrapped[1:]]
    doc[-1] += '"""'
    return [f"    {name}: {annotation}", *doc, ""]
