"""The end-to-end test's psql check, run against the integration servers (TLS only, like the stack)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.psql import Database, PsqlError, conversation_rows
from tests.integration.servers import LOOPBACK, PSQL, ConversationState, PlanoStore, Sidecar, StatePath

pytestmark = pytest.mark.integration


def _database(servers: StatePath, **changes: object) -> Database:
    values: dict[str, object] = {
        "host": LOOPBACK,
        "port": servers.pg.port,
        "dbname": servers.db_name,
        "user": servers.user,
        "password": servers.password,
        "ca_file": servers.ca_file,
    }
    values.update(changes)
    return Database(**values)  # type: ignore[arg-type]


def test_psql_over_tls_finds_the_row_plano_wrote(
    servers: StatePath, sidecar: Sidecar, ids: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANO_PSQL", PSQL)
    response_id = f"{ids}_e2e"
    with sidecar.connect() as conn:
        PlanoStore(conn).put(ConversationState(response_id, [{"role": "user"}], int(time.time()), "m", "p"))
    assert conversation_rows(_database(servers), response_id) == 1
    assert conversation_rows(_database(servers), f"{response_id}_absent") == 0
    # A quote in the id is data, not SQL.
    assert conversation_rows(_database(servers), "x' OR '1'='1") == 0


def test_psql_refuses_plain_text_and_a_server_it_cannot_verify(
    servers: StatePath, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANO_PSQL", PSQL)
    with pytest.raises(PsqlError) as plain_text:
        conversation_rows(_database(servers, sslmode="disable"), "any")
    assert "no encryption" in str(plain_text.value) or "pg_hba.conf" in str(plain_text.value)
    assert servers.password not in str(plain_text.value)
    wrong = servers.pki / "wrong-ca.pem"
    wrong.write_bytes(servers.wrong_ca.pem)
    with pytest.raises(PsqlError, match="certificate verify failed"):
        conversation_rows(_database(servers, ca_file=wrong), "any")
