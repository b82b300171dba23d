"""Typed access to raw ``plano:`` strings, with errors in the one format."""

from __future__ import annotations

import difflib
import json
import re
from enum import Enum
from typing import Any

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings.keys import KEYS_BY_NAME, NAMESPACE, PROFILES, Profile
from plano_pulumi.core.settings.model import RawConfig

# Keys whose values are secrets even when set without --secret (errors never show them).
ALWAYS_SECRET_KEYS = frozenset({"providerKeys"})


def closest_choice(value: str, allowed: list[str]) -> str:
    """The allowed value the user most likely meant (``production`` -> ``prod``), else the first."""
    text = value.strip().lower().replace("_", "-")
    prefixed = [c for c in allowed if text and (text.startswith(c.lower()) or c.lower().startswith(text))]
    if prefixed:
        return max(prefixed, key=len)
    close = difflib.get_close_matches(text, [c.lower() for c in allowed], n=1, cutoff=0.5)
    return next((c for c in allowed if close and c.lower() == close[0]), allowed[0])


class _Reader:
    """Typed access to raw config strings, with errors in the one format."""

    def __init__(self, raw: RawConfig, profile: Profile | None) -> None:
        self.raw = raw
        self.profile = profile

    def _raw(self, name: str) -> str | None:
        return self.raw.values.get(f"{NAMESPACE}:{name}")

    def is_set(self, name: str) -> bool:
        """Whether the stack sets ``name`` at all (to anything but an empty string)."""
        raw = self._raw(name)
        return raw is not None and raw.strip() != ""

    def _default(self, name: str) -> Any:
        key = KEYS_BY_NAME[name]
        if key.per_profile and self.profile is not None:
            return PROFILES[self.profile][name]
        return key.default

    def _is_unset(self, name: str, value: Any) -> bool:
        key = KEYS_BY_NAME[name]
        return key.per_profile and value == key.default

    def string(self, name: str) -> str:
        raw = self._raw(name)
        if raw is None or self._is_unset(name, raw):
            return str(self._default(name))
        return raw.strip()

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self._raw(name)
        if raw is None:
            return int(self._default(name))
        text = raw.strip()
        if text == "" and KEYS_BY_NAME[name].per_profile:
            return int(self._default(name))  # "" also means "the profile's value"
        if not re.fullmatch(r"-?[0-9]+", text, re.ASCII):
            raise ConfigError(
                f"plano:{name}",
                "is not a whole number",
                value=raw,
                allowed=_range_text(minimum, maximum),
                fix=f"pulumi config set plano:{name} <number>",
            )
        if len(text.lstrip("-")) > 18:  # Python refuses to read thousands of digits; no setting needs 19
            raise ConfigError(
                f"plano:{name}",
                "is out of range",
                value=text[:40] + "...",
                allowed=_range_text(minimum, maximum),
                fix=f"pulumi config set plano:{name} <number in range>",
            )
        value = int(text)
        if self._is_unset(name, value):
            return int(self._default(name))
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ConfigError(
                f"plano:{name}",
                "is out of range",
                value=value,
                allowed=_range_text(minimum, maximum),
                fix=f"pulumi config set plano:{name} <number in range>",
            )
        return value

    def boolean(self, name: str) -> bool:
        raw = self._raw(name)
        if raw is None:
            return bool(self._default(name))
        text = raw.strip().lower()
        if text not in ("true", "false"):
            raise ConfigError(
                f"plano:{name}",
                "is not a boolean",
                value=raw,
                allowed="true, false",
                fix=f"pulumi config set plano:{name} true   (or false)",
            )
        return text == "true"

    def choice(self, name: str, enum: type[Enum]) -> Any:
        value = self.string(name)
        allowed = [member.value for member in enum]  # type: ignore[var-annotated]
        for member in enum:
            if member.value == value or str(member.value).lower() == value.lower():
                return member
        raise ConfigError(
            f"plano:{name}",
            "is not one of the allowed values",
            value=value,
            allowed=", ".join(allowed),
            fix=f"pulumi config set plano:{name} {closest_choice(value, allowed)}",
        )

    def _json(self, name: str, expected: type, example: str) -> Any:
        raw = self._raw(name)
        if raw is None:
            return self._default(name)
        # providerKeys holds keys even when someone forgot --secret: never echo it.
        secret = f"{NAMESPACE}:{name}" in self.raw.secret_keys or name in ALWAYS_SECRET_KEYS
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, a number of thousands of digits, too deep
            value = raw  # a plain string where a list or map belongs
        if not isinstance(value, expected):
            kind = "a list" if expected is list else "a map"
            raise ConfigError(
                f"plano:{name}",
                f"must be {kind}",
                value=value,
                secret=secret,
                fix=example,
            )
        return value

    def string_list(self, name: str, example: str) -> tuple[str, ...]:
        items = self._json(name, list, example)
        secret = f"{NAMESPACE}:{name}" in self.raw.secret_keys or name in ALWAYS_SECRET_KEYS
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(
                    f"plano:{name}[{i}]",
                    "must be a non-empty string",
                    value=item,
                    secret=secret,
                    fix=example,
                )
        return tuple(item.strip() for item in items)

    def string_map(self, name: str, example: str) -> dict[str, Any]:
        return dict(self._json(name, dict, example))


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{minimum} to {maximum}"
    if minimum is not None:
        return f"{minimum} or more"
    return "a whole number"
