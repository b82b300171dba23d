"""The mocked runs' cost (issue 18, item 6): the whole program under mocks is most of the suite's time."""

from __future__ import annotations

import gc
from typing import Any

from plano_tools.simulate import run_program

from tests.conftest import PROJECT, config_for


def test_a_run_holds_the_cycle_collector_off_and_gives_it_back_as_it_found_it() -> None:
    """The collector scanned a run's 30,000 short-lived objects dozens of times (about 45% of a run in a
    test process); during the run it does not run at all, and afterwards it is on again, or still off."""
    collections: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    config = config_for("dev")  # run_program itself, not the tests' cache of runs
    gc.callbacks.append(count)
    try:
        run = run_program(PROJECT, "dev", config=config)
        during = list(collections)
        assert gc.isenabled()
        gc.disable()
        try:
            run_program(PROJECT, "dev", config=config)
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(count)
    assert run.error is None and len(run.resources) > 20, run.error
    # The run's own garbage is collected once it is over (a young collection or two), not hundreds of
    # times while it runs (315 collections of a dev run before).
    assert len(during) <= 5, during
