"""The outage scenarios hosted by pytest-xdist's controller, so that no worker waits on them.

The scenarios (``outages.py``) take most of a minute and little CPU. In one process they run in
background threads of the test process (``conftest.py``). Under pytest-xdist (``make test``) the
controller runs no test, so it runs them: ``tests/conftest.py`` gives it a results directory
(``PLANO_OUTAGE_RESULTS``, inherited by the workers it starts) and starts both scenarios as soon
as a worker reports a collection that holds ``test_outages.py``. Each scenario's outcome is
written there, pickled, when it ends; the worker that runs ``test_outages.py`` (scheduled last)
reads it, waiting if it is not there yet. A worker that finds no sign of the controller having
started them within ``START_GRACE_S`` runs them itself, in its own background threads.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.integration.outages import Result, run_failover, run_outage
from tests.integration.servers import ServersUnavailableError, StatePath

RESULTS_ENV = "PLANO_OUTAGE_RESULTS"
SCENARIOS = {"failover": run_failover, "outage": run_outage}
STARTED = "started"
# How long a worker waits for the controller's "started" mark before running the scenarios itself.
START_GRACE_S = 20.0
POLL_S = 0.05


class Host:
    """The controller's side: servers of its own, both scenarios in threads, outcomes to files.
    Everything runs in a background thread: the controller goes on scheduling tests meanwhile."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._thread: threading.Thread | None = None
        self._servers: StatePath | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            (self.directory / STARTED).touch()
            self._thread = threading.Thread(target=self._run_all, name="outage-host")
            self._thread.start()

    def _run_all(self) -> None:
        try:
            self._servers = StatePath()
        except ServersUnavailableError as missing:
            self._write_all(("unavailable", str(missing)))
            return
        except BaseException:  # reported by the tests that read it
            self._write_all(("error", traceback.format_exc()))
            return
        with ThreadPoolExecutor(max_workers=len(SCENARIOS), thread_name_prefix="outage-host") as pool:
            for name, scenario in SCENARIOS.items():
                pool.submit(self._run, name, scenario, self._servers)

    def _write_all(self, outcome: tuple[str, Any]) -> None:
        for name in SCENARIOS:
            _write(self.directory / name, outcome)

    def _run(self, name: str, scenario: Any, servers: StatePath) -> None:
        try:
            outcome: tuple[str, Any] = ("result", scenario(servers))
        except ServersUnavailableError as missing:
            outcome = ("unavailable", str(missing))
        except BaseException:  # reported by the test that reads it
            outcome = ("error", traceback.format_exc())
        _write(self.directory / name, outcome)

    def close(self) -> None:
        """Wait for the scenarios (they stop their own servers), then stop the host's servers."""
        if self._thread is not None:
            self._thread.join()
        if self._servers is not None:
            self._servers.close()


def _write(path: Path, outcome: tuple[str, Any]) -> None:
    temporary = path.with_suffix(".part")
    temporary.write_bytes(pickle.dumps(outcome))
    temporary.replace(path)  # readers see the whole file or none


def new_results_directory() -> Path:
    return Path(tempfile.mkdtemp(prefix="plano-outages-"))


class HostedResult:
    """A worker's view of one hosted scenario, read like a ``Future``: ``result(timeout)``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / name

    def result(self, timeout: float) -> Result:
        deadline = time.monotonic() + timeout
        while not self.path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {self.path.name} scenario wrote no result within {timeout:.0f}s")
            time.sleep(POLL_S)
        kind, value = pickle.loads(self.path.read_bytes())  # written by this run's controller
        if kind == "unavailable":
            raise ServersUnavailableError(value)
        if kind == "error":
            raise RuntimeError(f"the {self.path.name} scenario failed in the pytest-xdist controller:\n{value}")
        assert isinstance(value, Result)
        return value


def hosted(directory: Path) -> dict[str, HostedResult] | None:
    """The controller's scenarios, once it has started them (within START_GRACE_S), else None."""
    deadline = time.monotonic() + START_GRACE_S
    while not (directory / STARTED).exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL_S)
    return {name: HostedResult(directory, name) for name in SCENARIOS}


def results_directory() -> Path | None:
    value = os.environ.get(RESULTS_ENV)
    return Path(value) if value else None


__all__ = ["RESULTS_ENV", "Host", "HostedResult", "hosted", "new_results_directory", "results_directory"]
