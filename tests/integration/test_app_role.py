"""Plano's own role on real PostgreSQL, through the sidecar: what it may do, and nothing more.

init.sh (as the master user, like RDS's) creates the role with the password from its secret and
grants it SELECT, INSERT, UPDATE, DELETE on Plano's table and USAGE on the schema. The sidecar's
files hold only that role's credentials.
"""

from __future__ import annotations

import psycopg
import pytest
from plano_pulumi.core.settings import TlsMode
from psycopg import errors, sql

from tests.integration.servers import (
    ConversationState,
    PlanoStore,
    Sidecar,
    StatePath,
    free_port,
    generate_password,
    plano_connect,
)

pytestmark = pytest.mark.integration


def test_plano_role_upserts_and_reads_through_the_sidecar(sidecar: Sidecar, ids: str) -> None:
    with sidecar.connect() as conn:
        store = PlanoStore(conn)
        assert store.table_exists()
        first = ConversationState(f"{ids}_a", [{"role": "user", "content": "hi"}], 1, "gpt-4o-mini", "openai")
        assert store.put(first) == 1
        assert store.put(ConversationState(first.response_id, [{"role": "user", "content": "again"}], 1, "m", "p")) == 1
        got = store.get(first.response_id)
        assert got is not None and got.input_items == [{"role": "user", "content": "again"}]
        row = conn.execute("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user").fetchone()
    assert row == (sidecar.user, False)
    assert sidecar.user.endswith("_app")


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE conversation_states",
        "CREATE TABLE plano_extra (id int)",
        "CREATE TABLE public.plano_extra (id int)",
        "ALTER TABLE conversation_states ADD COLUMN extra int",
        "TRUNCATE conversation_states",
        "SELECT * FROM master_only",
        "SELECT * FROM cron.job",
        "CREATE ROLE plano_sneaky LOGIN",
    ],
)
def test_plano_role_is_refused_everything_else(servers: StatePath, sidecar: Sidecar, statement: str) -> None:
    with servers.pg.connect() as master:  # the master user owns another table in the same schema
        master.execute("CREATE TABLE IF NOT EXISTS master_only (secret text)")
    with sidecar.connect() as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)
        # The refusal leaves Plano's one connection usable.
        assert PlanoStore(conn).table_exists()
    with servers.pg.connect() as master:
        assert master.execute("SELECT to_regclass('public.conversation_states')").fetchone() == ("conversation_states",)
        assert master.execute("SELECT to_regclass('public.plano_extra')").fetchone() == (None,)


def test_sidecar_files_never_hold_the_master_password(servers: StatePath, any_sidecar: Sidecar) -> None:
    init = any_sidecar.init
    for path in init.pgbouncer_dir.iterdir():
        content = path.read_bytes()
        assert servers.password.encode() not in content, path
    userlist = (init.pgbouncer_dir / "userlist.txt").read_text()
    assert userlist.startswith(f'"{servers.app_user}" ')
    assert servers.password not in init.stdout + init.stderr and servers.app_password not in init.stdout + init.stderr


def test_a_rotated_app_password_is_set_by_the_next_init(servers: StatePath, sidecar: Sidecar, ids: str) -> None:
    """plano:dbPasswordVersion: the next task's init sets the new password; its sidecar uses it."""
    old = servers.app_password
    servers.app_password = generate_password()
    try:
        port = free_port()
        init = servers.run_init("rotated", TlsMode.VERIFY_FULL, listen_port=port)
        assert init.returncode == 0, init.stderr
        bouncer = servers.start_pgbouncer("rotated", init.pgbouncer_dir, port)
        params = bouncer.conninfo(user=servers.app_user, password=servers.app_password, dbname=servers.db_name)
        with plano_connect(params) as conn:
            state = ConversationState(f"{ids}_r", [], 1, "m", "p")
            PlanoStore(conn).put(state)
            assert PlanoStore(conn).get(state.response_id) == state
        # The old password no longer logs in to the database.
        with pytest.raises(psycopg.OperationalError):
            servers.pg.connect(user=servers.app_user, password=old).close()
    finally:
        # Put the session's password back for the other tests (their sidecars hold it).
        with servers.pg.connect() as master:
            master.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(servers.app_user), sql.Literal(old))
            )
        servers.app_password = old
