"""How a configuration error reads: the one place that formats them.

Every bad input (stack config, the user's Plano config, a stack name) stops the program with a
``ConfigError`` before any resource is registered. The message always names where the problem is
(a config key or a file), the offending value (masked when secret), what is allowed and how to fix
it. ``ConfigError`` derives from ``pulumi.RunError`` so that ``pulumi preview``/``up`` print the
message alone, without a Python traceback.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

SECRET_MASK = "[secret]"


def one_line(text: str) -> str:
    """``text`` with every character that could start a new line or hide text (line and paragraph
    separators, control and format characters) written as an escape, so a message stays one line
    and no value can begin a line of its own (a CI workflow command such as ``::error::``)."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def escaped(text: str) -> str:
    """A string as ``show_value`` writes it between its quotes (backslash and quote escaped, then
    ``one_line``); settings/masking.py masks this form of a secret too."""
    return one_line(text.replace("\\", "\\\\").replace('"', '\\"'))


def show_value(value: object, *, secret: bool = False) -> str:
    """Render a value for an error message: quoted, escaped (one line), shortened, never a secret."""
    if secret:
        return SECRET_MASK
    text = f'"{escaped(value)}"' if isinstance(value, str) else one_line(repr(value))
    return text if len(text) <= 120 else text[:117] + "..."


class ConfigError(pulumi.RunError):
    """A bad input, reported as ``<where>: <value> <problem>. Allowed: ... Fix: ...``."""

    def __init__(
        self,
        where: str,
        problem: str,
        *,
        value: object = None,
        allowed: str | None = None,
        fix: str,
        secret: bool = False,
    ) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        parts = [f"{where}: "]
        if value is not None:
            parts.append(f"{show_value(value, secret=secret)} ")
        parts.append(problem.rstrip("."))
        parts.append(".")
        if allowed:
            parts.append(f" Allowed: {allowed.rstrip('.')}.")
        parts.append(f" Fix: {fix.rstrip('.')}.")
        message = one_line("".join(parts))
        if message.startswith("::"):  # a file or key named like a workflow command
            message = "config " + message
        super().__init__(message)


def config_key(key: str) -> str:
    """The fully qualified name users type in ``pulumi config set``."""
    return key if ":" in key else f"plano:{key}"


def shown_path(path: Path | str) -> str:
    """A file as messages name it: relative to the working directory (the project, for pulumi and
    the tools) when it is inside it, so every message names files the same way."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
