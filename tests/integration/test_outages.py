"""The sidecar rides out a database outage longer than any of its old timeouts, on one connection.

The scenarios (``outages.py``) run in the background from the first integration test on; these
assertions run last. The outage lasts longer than every timeout of the sidecar before issue 9
(``query_wait_timeout = 30``); the limits asserted here come from the rendered ``pgbouncer.ini``.
"""

from __future__ import annotations

import os
from concurrent.futures import Future

import pytest

from tests.integration.conftest import servers_unavailable
from tests.integration.outage_host import HostedResult
from tests.integration.outages import OLD_TIMEOUTS_S, Result, outage_s
from tests.integration.servers import ServersUnavailableError

pytestmark = pytest.mark.integration

OutageRuns = dict[str, Future[Result] | HostedResult]


def _result(outage_runs: OutageRuns, name: str) -> Result:
    try:
        result = outage_runs[name].result(timeout=outage_s() + 180)
    except ServersUnavailableError as missing:
        servers_unavailable(str(missing), os.environ)  # a failure under CI, else a skip
    assert not result.error, f"{result.error}\npgbouncer.log:\n{result.log}"
    return result


def _assert_rode_it_out(result: Result) -> None:
    assert result.outage_s > max(OLD_TIMEOUTS_S.values())  # the old sidecar closed Plano's connection here
    assert result.outage_s < result.timeouts["query_wait_timeout"]  # the rendered one waits longer
    assert result.failures == [], f"{result.failures[:3]}\npgbouncer.log:\n{result.log}"
    assert not result.connection_closed  # the one connection Plano opened is still the one in use
    assert result.longest_wait_s() >= result.outage_s - 1  # a statement really waited the outage out
    assert set(result.acknowledged) <= result.stored  # no acknowledged write lost
    assert len(result.acknowledged) >= 10  # before, during and after the outage


def test_one_connection_survives_a_failover_whose_name_moves_late(outage_runs: OutageRuns) -> None:
    result = _result(outage_runs, "failover")
    _assert_rode_it_out(result)
    # The moved name is used promptly: one DNS cache period, one login retry, and a connect.
    pickup_s = result.first_ok_after(result.moved_at)
    t = result.timeouts
    assert pickup_s is not None and pickup_s < t["dns_max_ttl"] + t["server_login_retry"] + 3, pickup_s


def test_one_connection_waits_out_a_database_outage(outage_runs: OutageRuns) -> None:
    result = _result(outage_runs, "outage")
    _assert_rode_it_out(result)
    back_s = result.first_ok_after(result.moved_at)
    assert back_s is not None and back_s < result.timeouts["server_login_retry"] + 3, back_s
