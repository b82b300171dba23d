"""End to end: `pulumi up` of the local profile on a Docker engine, then multi-turn state through Plano.

The stack is its own (``e2e-<random>``, the committed local stack's settings): it never shares a
Docker name with the user's ``local`` stack, and it stops before `pulumi up` if one of its names
is taken. Only ``make e2e`` (and the workflow's e2e job) select it; ``make test`` deselects it.

Runs the real images with the rendered files: a Responses API request through Plano's listener, a
follow-up with ``previous_response_id`` whose upstream request must carry the first turn (Plano
read it back from PostgreSQL), the row checked with psql over TLS, then ``docker restart`` of
PostgreSQL and of Plano with a follow-up after each; finally `pulumi destroy`.

Skips, saying why, where there is no Docker engine, Pulumi CLI or psql; fails instead where
PLANO_E2E_REQUIRED is set (``make e2e``, the pull-request workflow's job).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.exchange import chat_requests, check_authorization, check_response, check_upstream_carries, response_text
from tests.e2e.harness import (
    MODEL,
    PROJECT,
    REQUIRED_ENV,
    Project,
    docker,
    existing_docker_names,
    free_port,
    missing_tools,
    mock_address,
    post_json,
    precondition_message,
    render_test_config,
    wait_healthy,
)
from tests.e2e.mock_provider import MockProvider
from tests.e2e.psql import Database, conversation_rows

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def preconditions() -> None:
    missing = missing_tools()
    if missing:
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(precondition_message(missing, required=True))
        pytest.skip(precondition_message(missing, required=False))


class Stack:
    def __init__(self, project: Project, mock: MockProvider, key: str) -> None:
        self.project, self.mock, self.key = project, mock, key
        self.outputs: dict[str, Any] = {}
        self.turns: list[tuple[str, str]] = []  # (user input, assistant text) so far
        self.last_id = ""

    @property
    def url(self) -> str:
        return f"{self.outputs['endpoint_url']}/v1/responses"

    def ask(self, text: str, *, previous: str | None = None, attempts: int = 1) -> dict[str, Any]:
        body: dict[str, Any] = {"model": MODEL, "input": text}
        if previous:
            body["previous_response_id"] = previous
        status, answer = 0, {}
        for attempt in range(attempts):
            status, answer = post_json(self.url, body)
            if status == 200:
                break
            time.sleep(2 * (attempt + 1))
        assert check_response(answer, status=status) == []
        return answer


@pytest.fixture(scope="module")
def stack(preconditions: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("e2e")
    bind, seen_as = mock_address()
    key = f"mock-{secrets.token_hex(8)}"
    with MockProvider(bind) as mock:
        config = render_test_config(free_port(), f"http://{seen_as}:{mock.port}")
        project = Project.create(base, config_text=config, db_port=free_port(), key=key)
        project.refuse_foreign_objects(existing_docker_names())
        project.pulumi("stack", "init", project.stack)
        stack = Stack(project, mock, key)
        try:
            project.pulumi("up", "--stack", project.stack, "--yes", "--skip-preview")
            stack.outputs = project.outputs()
            yield stack
        finally:
            record = PROJECT / "out" / "e2e"
            record.mkdir(parents=True, exist_ok=True)
            (record / "provider-requests.json").write_text(json.dumps(mock.log.as_json(), indent=2, default=str))
            # Its own state, its own stack: destroy deletes only what this `up` created.
            project.pulumi("destroy", "--stack", project.stack, "--yes", "--skip-preview")
            project.pulumi("stack", "rm", project.stack, "--yes")


def _follow_up_keeps_history(stack: Stack, question: str, *, attempts: int = 3) -> None:
    answer = stack.ask(question, previous=stack.last_id, attempts=attempts)
    upstream = chat_requests(stack.mock.log.as_json())[-1]
    earlier = [item for user, reply in stack.turns for item in (("user", user), ("assistant", reply))]
    assert check_upstream_carries(upstream, earlier=earlier, new_input=question) == []
    assert check_authorization(upstream, stack.key) == []
    stack.turns.append((question, response_text(answer)))
    stack.last_id = str(answer["id"])


def _rows_eventually(db: Database, response_id: str, timeout_s: float = 15) -> int:
    """Plano may write the state just after it answered: poll briefly before concluding."""
    deadline = time.monotonic() + timeout_s
    rows = conversation_rows(db, response_id)
    while rows == 0 and time.monotonic() < deadline:
        time.sleep(1)
        rows = conversation_rows(db, response_id)
    return rows


def test_multi_turn_state_survives_database_and_plano_restarts(stack: Stack, tmp_path: Path) -> None:
    names = stack.outputs["container_names"]
    first = stack.ask("My name is Ada. Please remember it.", attempts=5)
    stack.turns.append(("My name is Ada. Please remember it.", response_text(first)))
    stack.last_id = str(first["id"])

    _follow_up_keeps_history(stack, "What is my name?")
    db = stack.project.database(stack.outputs, tmp_path / "db-ca.pem")
    assert _rows_eventually(db, str(first["id"])) == 1
    assert _rows_eventually(db, stack.last_id) == 1

    docker("restart", names["postgres"])
    wait_healthy(names["postgres"])
    # PgBouncer keeps Plano's one connection; the first query after the restart may need a retry.
    _follow_up_keeps_history(stack, "And after the database restarted?")
    assert _rows_eventually(db, stack.last_id) == 1

    docker("restart", names["plano"])
    wait_healthy(names["plano"])
    _follow_up_keeps_history(stack, "And after Plano restarted?")
    assert _rows_eventually(db, stack.last_id) == 1
