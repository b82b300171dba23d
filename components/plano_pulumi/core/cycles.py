"""Holding Python's cyclic garbage collector off around work that must not be interrupted by it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collection_held() -> Iterator[None]:
    """Hold the cyclic collector off for the block, then give it back as it was.

    Refcounting still frees what it can; whatever cycles the block leaves are collected afterwards,
    at once. Used where a collection in the middle costs or breaks something: a mocked run of the
    program (``plano_tools.simulate``) and the schema analysis (``plano_pulumi.provider``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
