"""The scheduler of ``make test`` (tests/scheduling.py), driven the way pytest-xdist's controller
drives it, with stand-in workers that record what they are sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from tests.scheduling import WAITING_WORKERS, WaitAwareScheduling, waiting_limit, waits


@dataclass
class Worker:
    name: str
    sent: list[int] = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.name)

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True

    def __hash__(self) -> int:
        return hash(self.name)


class Options:
    def __init__(self, workers: int) -> None:
        self.values: dict[str, Any] = {"tx": [f"{workers}*popen"], "maxschedchunk": 2}

    def getvalue(self, name: str) -> Any:
        return self.values[name]

    getoption = getvalue


WAITING = [f"tests/integration/test_local_containers.py::t{i}" for i in range(1)] + [
    f"tests/integration/test_app_role.py::t{i}" for i in range(40)
]
COMPUTING = [f"tests/stacks/test_stacks.py::t{i}" for i in range(300)]


def _scheduled(workers: int, collection: list[str]) -> tuple[WaitAwareScheduling, list[Worker]]:
    scheduler = WaitAwareScheduling(Options(workers))  # type: ignore[arg-type]
    nodes = [Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)  # type: ignore[arg-type]
    for node in nodes:
        scheduler.add_node_collection(node, collection)  # type: ignore[arg-type]
    scheduler.schedule()
    return scheduler, nodes


def _holding_waiting(scheduler: WaitAwareScheduling, collection: list[str]) -> int:
    return sum(1 for pending in scheduler.node2pending.values() if any(waits(collection[i]) for i in pending))


def _run_to_the_end(scheduler: WaitAwareScheduling, nodes: list[Worker], collection: list[str]) -> int:
    """Complete tests worker by worker, as they would finish; the most workers ever holding
    integration tests while other tests were still pending."""
    most = 0
    for _ in range(10 * len(collection)):
        if scheduler.tests_finished:
            return most
        for node in nodes:
            pending = scheduler.node2pending[node]  # type: ignore[index]
            if pending:
                if any(not waits(collection[i]) for i in scheduler.pending):
                    most = max(most, _holding_waiting(scheduler, collection))
                # an integration test takes long, the others don't (xdist sends less to a slow worker)
                scheduler.mark_test_complete(node, pending[0], 2.0 if waits(collection[pending[0]]) else 0.01)  # type: ignore[arg-type]
    raise AssertionError("the run never finished")


@pytest.mark.parametrize("workers", [2, 3, 5, 6, 10])
def test_integration_tests_never_hold_more_workers_than_the_limit(workers: int) -> None:
    collection = WAITING + COMPUTING  # as tests/integration/conftest.py orders them: waiting first
    scheduler, nodes = _scheduled(workers, collection)
    most = _run_to_the_end(scheduler, nodes, collection)
    assert most == waiting_limit(workers)
    assert sorted(i for node in nodes for i in node.sent) == list(range(len(collection)))  # each test once


def test_the_limit_leaves_a_worker_per_core_on_make_tests_worker_count() -> None:
    assert waiting_limit(2 + WAITING_WORKERS) == WAITING_WORKERS  # make test on two cores: 5 workers
    assert waiting_limit(2) == 1
    assert waiting_limit(1) == 1


def test_the_first_workers_start_the_waiting_tests_and_the_rest_compute() -> None:
    collection = WAITING + COMPUTING
    _, nodes = _scheduled(5, collection)
    first = [[collection[i] for i in node.sent] for node in nodes]
    assert all(all(waits(t) for t in sent) for sent in first[:WAITING_WORKERS]), first
    assert all(not any(waits(t) for t in sent) for sent in first[WAITING_WORKERS:]), first
    assert first[0][0] == WAITING[0]  # the Docker test first, as collected


def test_a_worker_takes_integration_tests_when_nothing_else_is_left() -> None:
    """The workers kept computing take integration tests once nothing else is left (the outage
    tests, scheduled last, never wait on the rule)."""
    collection = WAITING + COMPUTING[:4]
    scheduler, nodes = _scheduled(5, collection)
    computing = nodes[WAITING_WORKERS:]
    assert all(node.sent and not any(waits(collection[i]) for i in node.sent) for node in computing)
    _run_to_the_end(scheduler, nodes, collection)
    assert sorted(i for node in nodes for i in node.sent) == list(range(len(collection)))
    assert all(any(waits(collection[i]) for i in node.sent) for node in computing)


def test_without_a_collection_the_scheduler_is_pytest_xdists() -> None:
    scheduler = WaitAwareScheduling(Options(3))  # type: ignore[arg-type]
    node = Worker("gw0")
    scheduler.add_node(node)  # type: ignore[arg-type]
    scheduler.pending[:] = [0, 1, 2]
    scheduler._send_tests(node, 2)  # type: ignore[arg-type]
    assert node.sent == [0, 1]
