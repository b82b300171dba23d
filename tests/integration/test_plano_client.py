"""Plano's own statements through the sidecar, and one client connection across server restarts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg
import pytest

from tests.integration.servers import (
    PLANO_SELECT,
    PLANO_UPSERT,
    ConversationState,
    PlanoStore,
    Sidecar,
    StatePath,
)

pytestmark = pytest.mark.integration


def turn(user: str, answer: str | None = None) -> list[dict[str, Any]]:
    """Responses API input items, as Plano stores them."""
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]}
    ]
    if answer is not None:
        items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]})
    return items


def test_plano_statements_round_trip_through_the_sidecar(sidecar: Sidecar, ids: str) -> None:
    with sidecar.connect() as conn:
        store = PlanoStore(conn)
        assert store.table_exists()

        first = ConversationState(f"{ids}_a", turn("Bonjour ✓", "Salut !"), 1_764_000_000, "gpt-4o", "openai")
        assert store.put(first) == 1
        assert store.get(first.response_id) == first

        # The same response id again: the upsert's conflict branch (created_at is kept).
        second = ConversationState(first.response_id, first.input_items + turn("and?"), 1_764_000_999, "c", "anthropic")
        assert store.put(second) == 1
        assert store.get(first.response_id) == replace(second, created_at=first.created_at)
        assert store.get(f"{ids}_missing") is None

        # On the server they are named prepared statements (PgBouncer's names), Plano's text
        # verbatim, with the types tokio-postgres binds. One transaction: one server connection.
        with conn.transaction():
            store.put(second)
            store.get(second.response_id)
            prepared = dict(
                conn.execute("SELECT statement, parameter_types::text[] FROM pg_prepared_statements").fetchall()
            )
    assert prepared[PLANO_UPSERT] == ["text", "jsonb", "bigint", "text", "text"]
    assert prepared[PLANO_SELECT] == ["text"]


def test_one_client_connection_survives_three_server_restarts(servers: StatePath, sidecar: Sidecar, ids: str) -> None:
    """Plano never reconnects: its single connection must outlive database restarts."""
    failed: list[str] = []
    operations = 0
    start_times = set()

    def round_trips(store: PlanoStore, phase: int) -> None:
        nonlocal operations
        for i in range(5):
            state = ConversationState(f"{ids}_{phase}_{i}", turn(f"phase {phase} turn {i}"), phase, "m", "p")
            for name in ("put", "get"):
                operations += 1
                try:
                    ok = store.put(state) == 1 if name == "put" else store.get(state.response_id) == state
                except psycopg.Error as error:
                    failed.append(f"phase {phase}: {name} {state.response_id}: {error}")
                    continue
                if not ok:
                    failed.append(f"phase {phase}: {name} {state.response_id} returned a wrong result")

    direct = servers.pg.connect()  # what Plano would hold without the sidecar
    with sidecar.connect() as conn:
        store = PlanoStore(conn)
        client_pid = conn.info.backend_pid
        for phase in range(4):
            if phase:
                servers.pg.restart()
                servers.pg.wait_accepting()  # as an orchestrator's health check would
            round_trips(store, phase)
            start_times.add(conn.execute("SELECT pg_postmaster_start_time()").fetchone())
        assert not conn.closed and conn.info.backend_pid == client_pid
    assert failed == [], f"{len(failed)} of {operations} operations failed"
    assert operations == 40
    assert len(start_times) == 4, "the server was not restarted three times"
    # Without the sidecar the same single connection is dead after the first restart.
    with pytest.raises(psycopg.OperationalError):
        direct.execute("SELECT 1")
    direct.close()
