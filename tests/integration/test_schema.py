"""The project's schema.sql on a real server: idempotent, safe concurrently, and the retention job."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from plano_pulumi.core.task_files import RETENTION_JOB, RETENTION_SCHEDULE, TABLE, render_schema_sql

from tests.integration.servers import ConversationState, PlanoStore, Sidecar, StatePath

pytestmark = pytest.mark.integration

# Plano's table (DESIGN.md 2.2) as information_schema describes it.
COLUMNS = [
    ("response_id", "text", "NO"),
    ("input_items", "jsonb", "NO"),
    ("created_at", "bigint", "NO"),
    ("model", "text", "NO"),
    ("provider", "text", "NO"),
    ("updated_at", "timestamp without time zone", "YES"),
]
INDEXES = {
    "conversation_states_pkey",
    "idx_conversation_states_created_at",
    "idx_conversation_states_provider",
    "idx_conversation_states_updated_at",
}


def apply_schema(servers: StatePath, retention_days: int) -> None:
    """As init.sh applies it: psql -v ON_ERROR_STOP=1, as the application user, over TLS."""
    result = servers.psql_apply(render_schema_sql(retention_days, servers.app_user, servers.db_name))
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr, result.stderr


def retention_jobs(servers: StatePath) -> list[tuple[Any, ...]]:
    """Every job of that name, whoever owns it (seen by the superuser: cron.job has row security)."""
    with servers.pg.admin(servers.db_name) as admin:
        return admin.execute(
            "SELECT schedule, command, database, username, active FROM cron.job WHERE jobname = %s",
            (RETENTION_JOB,),
        ).fetchall()


def retention_command(days: int) -> str:
    return f"DELETE FROM {TABLE} WHERE updated_at < LOCALTIMESTAMP - INTERVAL '{days} days'"


def assert_table(servers: StatePath) -> None:
    with servers.pg.admin(servers.db_name) as admin:
        columns = admin.execute(
            """SELECT column_name, data_type, is_nullable FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'conversation_states' ORDER BY ordinal_position"""
        ).fetchall()
        indexes = {
            row[0]
            for row in admin.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'conversation_states'"
            )
        }
        owner = admin.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'conversation_states'").fetchone()
    assert columns == COLUMNS
    assert indexes == INDEXES
    assert owner == (servers.user,)


@pytest.mark.parametrize("retention_days", [30, 0])
def test_schema_applies_twice(servers: StatePath, retention_days: int) -> None:
    apply_schema(servers, retention_days)
    apply_schema(servers, retention_days)
    assert_table(servers)
    jobs = retention_jobs(servers)
    if retention_days:
        assert [(j[0], j[1]) for j in jobs] == [(RETENTION_SCHEDULE, retention_command(retention_days))]
    else:
        assert jobs == []


def test_schema_applies_concurrently_on_an_empty_database(servers: StatePath) -> None:
    """Several tasks start at once on a new database: the advisory lock serialises them."""
    with servers.pg.admin(servers.db_name) as admin:
        admin.execute(f"DROP TABLE IF EXISTS {TABLE}")
        admin.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s", (RETENTION_JOB,))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda _: servers.psql_apply(render_schema_sql(30, servers.app_user, servers.db_name)), range(4))
        )
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert_table(servers)
    assert len(retention_jobs(servers)) == 1


def test_retention_job_is_scheduled_hourly_in_the_application_database(servers: StatePath) -> None:
    apply_schema(servers, 30)
    apply_schema(servers, 7)  # a changed setting replaces the job; it does not add one
    assert retention_jobs(servers) == [(RETENTION_SCHEDULE, retention_command(7), servers.db_name, servers.user, True)]
    # The scheduler runs in that database (cron.database_name), so the job will fire.
    deadline = time.monotonic() + 10
    with servers.pg.admin(servers.db_name) as admin:
        while True:
            launcher = admin.execute(
                "SELECT datname FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'"
            ).fetchall()
            if launcher or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert launcher == [(servers.db_name,)]


def test_retention_deletes_old_rows_and_keeps_new_ones(servers: StatePath, sidecar: Sidecar, ids: str) -> None:
    apply_schema(servers, 7)
    rows = {
        "old": "8 days",
        "older": "400 days",
        "almost": "6 days 23 hours",
        "resumed": "30 days",  # idle for long, then the conversation continued
        "new": None,
    }
    with sidecar.connect() as conn:
        store = PlanoStore(conn)
        for name in rows:
            store.put(ConversationState(f"{ids}_{name}", [{"role": "user", "content": name}], 1, "m", "p"))
    with servers.pg.connect() as owner:
        for name, age in rows.items():
            if age is not None:
                owner.execute(
                    "UPDATE conversation_states SET updated_at = LOCALTIMESTAMP - %s::interval WHERE response_id = %s",
                    (age, f"{ids}_{name}"),
                )
    with sidecar.connect() as conn:
        PlanoStore(conn).put(ConversationState(f"{ids}_resumed", [{"role": "user", "content": "again"}], 1, "m", "p"))

    # Run the job's command as pg_cron would: in its database, as its user.
    ((_, command, database, username, _),) = retention_jobs(servers)
    assert username == servers.user
    with servers.pg.connect(dbname=database) as job:
        deleted = job.execute(command).rowcount
    assert deleted == 2

    with sidecar.connect() as conn:
        store = PlanoStore(conn)
        kept = {name for name in rows if store.get(f"{ids}_{name}") is not None}
    assert kept == {"almost", "resumed", "new"}


def test_retention_zero_removes_the_job(servers: StatePath) -> None:
    apply_schema(servers, 7)
    assert len(retention_jobs(servers)) == 1
    apply_schema(servers, 0)
    assert retention_jobs(servers) == []
    apply_schema(servers, 0)
    assert retention_jobs(servers) == []
