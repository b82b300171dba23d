"""Fixtures for the integration tests: one PostgreSQL and the task's sidecars per session.

The servers start once per session (well under a second each) and are stopped at the end of
the session, whatever happens. When a binary is missing the tests skip with the reason, and the
run ends with a banner saying so (tests/conftest.py). Under CI (``CI=true``), or when
PLANO_PGBOUNCER is set (``make test`` after a successful server install), a missing server is a
failure instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NoReturn

import pytest
from plano_pulumi.core.settings import TlsMode

from tests.conftest import SKIP_PREFIX
from tests.integration.outage_host import HostedResult, hosted, results_directory
from tests.integration.outages import Result, run_failover, run_outage
from tests.integration.servers import ServersUnavailableError, Sidecar, StatePath


@pytest.fixture(scope="session")
def servers() -> Iterator[StatePath]:
    try:
        state_path = StatePath()
    except ServersUnavailableError as missing:
        servers_unavailable(str(missing), os.environ)
    with state_path:
        yield state_path


def servers_unavailable(missing: str, environ: Mapping[str, str]) -> NoReturn:
    """Fail under CI or when make promised servers (PLANO_PGBOUNCER), else skip with the reason."""
    if environ.get("CI") == "true":
        pytest.fail(f"CI=true, so the integration tests must run, not skip, but: {missing}")
    if environ.get("PLANO_PGBOUNCER"):
        pytest.fail(f"PLANO_PGBOUNCER is set, so the test servers must run, but: {missing}")
    pytest.skip(f"{SKIP_PREFIX}{missing}")


@pytest.fixture(scope="session")
def sidecar(servers: StatePath) -> Sidecar:
    """The task's default: init.sh with verify-full (CA bundle over HTTP), then PgBouncer."""
    return servers.sidecar("verify-full", TlsMode.VERIFY_FULL)


@pytest.fixture(scope="session")
def require_sidecar(servers: StatePath) -> Sidecar:
    """The same with dbTlsMode = require (no CA bundle)."""
    return servers.sidecar("require", TlsMode.REQUIRE)


@pytest.fixture(params=[TlsMode.VERIFY_FULL, TlsMode.REQUIRE], ids=lambda m: str(m))
def any_sidecar(request: pytest.FixtureRequest) -> Sidecar:
    name = "sidecar" if request.param is TlsMode.VERIFY_FULL else "require_sidecar"
    sidecar: Sidecar = request.getfixturevalue(name)
    return sidecar


@pytest.fixture
def ids() -> str:
    """A prefix that keeps one test's rows apart from the others'."""
    return f"resp_{uuid.uuid4().hex[:12]}"


# --- Outages: slow (most of a minute of waiting, little CPU), so they overlap with the rest of the suite.
# In one process they run in the background from the first integration test on and their
# assertions (test_outages.py) run last. Under pytest-xdist (make test) the controller, which runs
# no test, runs them (outage_host.py) and the worker that runs test_outages.py, scheduled last,
# reads their results; the Docker engine test (half a minute of waiting on health checks) and then
# the other integration tests are scheduled first, so their waiting overlaps with the rest too.

OUTAGE_TESTS = "test_outages.py"
DOCKER_TESTS = "test_local_containers.py"
UNDER_XDIST = "PYTEST_XDIST_WORKER" in os.environ


OUTAGES_SELECTED = pytest.StashKey[bool]()


def _place(item: pytest.Item) -> int:
    """Under xdist: the Docker test first, then the other integration tests (many wait on servers'
    timeouts with little CPU: started early, they overlap with the CPU-bound rest instead of being
    the end of the run), then the tests that run processes (seconds each: last, they would be the
    run's tail), then the rest; the outage tests last (stable otherwise)."""
    if item.path.name == OUTAGE_TESTS:
        return 4
    if not UNDER_XDIST:
        return 3
    if item.path.name == DOCKER_TESTS:
        return 0
    if item.get_closest_marker("integration"):
        return 1
    return 2 if item.get_closest_marker("processes") else 3


@pytest.hookimpl(trylast=True)  # after -m/-k deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_place)  # stable: only the tests named above move
    config.stash[OUTAGES_SELECTED] = any(item.path.name == OUTAGE_TESTS for item in items)


class _Outages(dict[str, "Future[Result] | HostedResult"]):
    """Both scenarios' results: the controller's (under xdist), else run here, both together, each
    in its own thread with its own servers, the first time one is asked for (at once when ``eager``)."""

    def __init__(self, request: pytest.FixtureRequest, pool: ThreadPoolExecutor, *, eager: bool) -> None:
        super().__init__()
        self._request, self._pool = request, pool
        if eager:
            self._start()

    def _start(self) -> None:
        servers: StatePath = self._request.getfixturevalue("servers")
        self.update(failover=self._pool.submit(run_failover, servers), outage=self._pool.submit(run_outage, servers))

    def __missing__(self, name: str) -> Future[Result] | HostedResult:
        directory = results_directory() if UNDER_XDIST else None
        found = hosted(directory) if directory is not None else None
        if found is not None:
            self.update(found)
        else:
            self._start()
        return dict.__getitem__(self, name)


@pytest.fixture(scope="session", autouse=True)
def outage_runs(request: pytest.FixtureRequest) -> Iterator[Mapping[str, Future[Result] | HostedResult]]:
    """The outage scenarios' results (see above for when they start)."""
    if not request.config.stash.get(OUTAGES_SELECTED, False):
        yield {}
        return
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="outage")
    yield _Outages(request, pool, eager=not UNDER_XDIST)
    pool.shutdown(wait=True)
