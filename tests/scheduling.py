"""How ``make test`` shares the cores between tests that wait and tests that compute.

The integration tests (``tests/integration/``) mostly wait: on servers' timeouts, on the Docker
engine's health checks, on outages. pytest-xdist's load scheduling hands tests out in the order
of the collection, where they come first (``tests/integration/conftest.py``: started early, their
waits overlap the rest instead of ending the run). With that alone every worker took integration
tests at the start, and both cores idled for about a dozen seconds of each run.

This scheduler is pytest-xdist's own ``LoadScheduling``; it only chooses which pending tests a
worker is sent: at most ``WAITING_WORKERS`` workers (and never all of them) hold integration tests
while other tests are pending, so the others compute during the waits. ``make test`` starts
``nproc + WAITING_WORKERS`` workers. A worker that holds an integration test may take more; when
only integration tests are left, any worker takes them.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScheduling

WAITING_PREFIX = "tests/integration/"
# The Docker test and two workers for the other integration tests (each of those has about half a
# minute of waiting in all).
WAITING_WORKERS = 3


def waits(nodeid: str) -> bool:
    return nodeid.startswith(WAITING_PREFIX)


def waiting_limit(workers: int) -> int:
    """How many workers may hold integration tests at once: WAITING_WORKERS, one less than all."""
    return max(1, min(WAITING_WORKERS, workers - 1))


class WaitAwareScheduling(LoadScheduling):
    """``LoadScheduling`` that sends a worker the first pending tests it may take (see above)."""

    def _send_tests(self, node: Any, num: int) -> None:
        if self.collection is None or self._may_wait(node):
            super()._send_tests(node, num)
            return
        collection = self.collection
        chosen = [index for index in self.pending if not waits(collection[index])][:num]
        if not chosen:  # only integration tests are left: no worker stays idle for the rule
            super()._send_tests(node, num)
            return
        taken = set(chosen)
        self.pending[:] = [index for index in self.pending if index not in taken]
        self.node2pending[node].extend(chosen)
        node.send_runtest_some(chosen)

    def _may_wait(self, node: Any) -> bool:
        assert self.collection is not None
        collection = self.collection

        def holds_waiting(pending: list[int]) -> bool:
            return any(waits(collection[index]) for index in pending)

        if holds_waiting(self.node2pending[node]):
            return True
        holders = sum(1 for pending in self.node2pending.values() if holds_waiting(pending))
        return holders < waiting_limit(len(self.node2pending))
