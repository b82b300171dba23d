"""External provider keys of the local stack: from the shell running `pulumi up`, or ``local.env``.

On AWS an external key lives only in Secrets Manager. On a workstation its natural home is the
environment of the machine running `pulumi up` (``export OPENAI_API_KEY=...``), or a ``local.env``
file next to ``Pulumi.yaml`` that ``.gitignore`` covers. Either way the value enters Pulumi only as
a secret container input (encrypted in state), never a file of the repository or a stack output.
The environment wins over the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from plano_pulumi.core.errors import ConfigError

ENV_FILE_NAME = "local.env"
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def parse_env_file(text: str, *, source: str = ENV_FILE_NAME) -> dict[str, str]:
    """``NAME=value`` lines; ``#`` comments, blank lines, ``export`` and one level of quotes allowed."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if not match:
            # Never echo the line: it may hold a key.
            raise ConfigError(f"{source}:{number}", "is not a NAME=value line", fix="write NAME=value, one per line")
        name, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def external_key_values(
    names: Sequence[str], environ: Mapping[str, str], file_values: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The values found for ``names`` (environment first, then the file), and the names missing."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        value = environ.get(name) or file_values.get(name)
        if value:
            found[name] = value
        else:
            missing.append(name)
    return found, missing


def missing_key_warning(name: str) -> str:
    return (
        f"{name} is not set, so Plano gets an empty value for it and requests to that provider fail: "
        f"`export {name}=...` before `pulumi up`, or add `{name}=...` to {ENV_FILE_NAME} (git ignores it)"
    )


def read_external_keys(base_dir: Path, names: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The edge: this process's environment and ``<base_dir>/local.env``."""
    path = base_dir / ENV_FILE_NAME
    file_values: dict[str, str] = {}
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            # Never echo the bytes: the file holds keys.
            reason = "not UTF-8" if isinstance(error, UnicodeDecodeError) else (error.strerror or type(error).__name__)
            raise ConfigError(
                str(path), f"cannot be read ({reason})", fix=f"save {ENV_FILE_NAME} as UTF-8 text, NAME=value lines"
            ) from None
        file_values = parse_env_file(text)
    return external_key_values(names, os.environ, file_values)
