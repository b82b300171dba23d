"""Environment names the task, its images or CI own: one list, ``reserved_env_names.txt``.

The settings refuse them in ``plano:environment`` and as provider keys (a name set twice is either
silently dropped or overrides what the image needs to start), and ``scripts/ci/fill-provider-keys.sh``
reads the same file, so CI never copies its own credentials (``AWS_*``, ``PULUMI_*``, ...) into
Secrets Manager.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

LIST_FILE = Path(__file__).with_name("reserved_env_names.txt")


@cache
def reserved_env_entries() -> tuple[str, ...]:
    """The list's entries in order: exact names, and prefixes ending in ``*``."""
    entries = []
    for line in LIST_FILE.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(entry)
    return tuple(entries)


def reserved_by(name: str) -> str | None:
    """The entry that reserves ``name`` (``PATH``, ``AWS_*``), or None. Names are compared as the
    container runtime does, exactly; a lower-case ``path`` is another variable."""
    for entry in reserved_env_entries():
        if (entry.endswith("*") and name.startswith(entry[:-1])) or name == entry:
            return entry
    return None
