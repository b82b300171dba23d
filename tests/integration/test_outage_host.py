"""The outage scenarios' host in pytest-xdist's controller (outage_host.py), with stand-in scenarios
and servers: what a worker reads is what the scenario returned, or why it could not run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration import outage_host
from tests.integration.outage_host import Host, HostedResult, hosted
from tests.integration.outages import Result
from tests.integration.servers import ServersUnavailableError


class _Servers:
    closed = False

    def close(self) -> None:
        self.closed = True


def _host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **scenarios: Any) -> tuple[Host, _Servers]:
    servers = _Servers()
    monkeypatch.setattr(outage_host, "StatePath", lambda: servers)
    monkeypatch.setattr(outage_host, "SCENARIOS", scenarios)
    return Host(tmp_path), servers


def test_a_worker_reads_what_each_scenario_returned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host, servers = _host(
        tmp_path,
        monkeypatch,
        failover=lambda s: Result("failover", 35.0, {"query_wait_timeout": 120}),
        outage=lambda s: Result("outage", 35.0, {}),
    )
    host.start()
    host.start()  # a second worker's collection: still one run
    found = hosted(tmp_path)
    assert found is not None and set(found) == {"failover", "outage"}
    failover = found["failover"].result(timeout=10)
    assert (failover.name, failover.outage_s, failover.timeouts) == ("failover", 35.0, {"query_wait_timeout": 120})
    assert found["outage"].result(timeout=10).name == "outage"
    host.close()
    assert servers.closed


def test_a_scenario_that_raised_fails_the_test_with_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(servers: Any) -> Result:
        raise ValueError("the standby never came up")

    host, _ = _host(tmp_path, monkeypatch, failover=broken)
    host.start()
    host.close()
    with pytest.raises(RuntimeError, match="the standby never came up"):
        HostedResult(tmp_path, "failover").result(timeout=1)


def test_missing_servers_reach_the_test_as_missing_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_servers() -> Any:
        raise ServersUnavailableError("PostgreSQL 15 server binaries missing")

    monkeypatch.setattr(outage_host, "StatePath", no_servers)
    host = Host(tmp_path)
    host.start()
    host.close()
    for name in outage_host.SCENARIOS:
        with pytest.raises(ServersUnavailableError, match="binaries missing"):  # skip, or fail under CI
            HostedResult(tmp_path, name).result(timeout=1)


def test_without_a_host_the_worker_runs_them_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage_host, "START_GRACE_S", 0.1)
    assert hosted(tmp_path) is None


def test_a_result_that_never_comes_is_a_timeout_not_a_hang(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match="no result within"):
        HostedResult(tmp_path, "failover").result(timeout=0.1)
