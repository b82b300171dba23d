"""Issue 20 on real servers: the state probe, the sidecar's log lines through the state-path
patterns, and PgBouncer's verbose logging printing the password (why the pack refuses it).

The probe (``task_env.state_probe_script``) runs as the task runs it: its shell, as PgBouncer's
user, reading the password from the sidecar's userlist. The probe is green before Plano connects
and while the sidecar rides an outage out, and red once Plano's one connection is gone; a probe
that queried the database instead would break Plano's connection during an outage (shown here).

One PostgreSQL cluster of its own (it is stopped and started here, so the shared ``servers``
cluster is left alone) with Plano's schema, and PgBouncer sidecars running the rendered
``pgbouncer.ini``: as rendered (the probe, the ride-out), with ``query_wait_timeout`` shortened
to 3 s (to see the line of a query given up without waiting 240 s), and with ``verbose = 1``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from plano_pulumi.core.monitoring import STATE_PATH_PATTERNS, filter_matches
from plano_pulumi.core.task_env import STATE_PROBE_TIMEOUT_S, state_probe_script
from plano_pulumi.core.task_files import PGBOUNCER_INI_NAME, USERLIST_NAME

from tests.integration.outages import _Scenario
from tests.integration.servers import (
    LOOPBACK,
    ConversationState,
    PlanoStore,
    Postgres,
    StatePath,
    free_port,
    generate_password,
    plano_connect,
)

pytestmark = pytest.mark.integration

ADDR = "127.0.0.8"
PGBOUNCER_PATTERN = next(p.pattern for p in STATE_PATH_PATTERNS if p.container == "pgbouncer")


@dataclass
class Sidecar:
    scenario: _Scenario
    port: int
    config_dir: Path

    @property
    def log(self) -> str:
        return self.scenario.log_file.read_text(errors="replace")

    def params(self, **overrides: Any) -> dict[str, Any]:
        return {**self.scenario.client_params(self.port), **overrides}

    def probe(self, marker: Path) -> tuple[int, float]:
        """The task's state probe (its shell, as PgBouncer's user), its exit status and duration."""
        script = state_probe_script(
            host=LOOPBACK,
            port=self.port,
            db_user=self.scenario.app_user,
            db_name=self.scenario.db_name,
            userlist=str(self.config_dir / USERLIST_NAME),
            marker=str(marker),
        )
        return self.run(script)

    def run(self, script: str) -> tuple[int, float]:
        started = time.monotonic()
        proc = subprocess.run(
            self.scenario.tools.as_db_user(["sh", "-c", script]),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            cwd=self.config_dir,
            capture_output=True,
            text=True,
            timeout=STATE_PROBE_TIMEOUT_S + 20,
            check=False,
        )
        return proc.returncode, time.monotonic() - started


@dataclass
class World:
    pg: Postgres
    rendered: Sidecar
    impatient: Sidecar
    base: Path

    def marker(self, tmp_path: Path) -> Path:
        """Where this test's probe remembers Plano was connected (the task's /tmp, here a directory
        PgBouncer's user may write)."""
        directory = self.base / f"probe-{tmp_path.name}"
        directory.mkdir(mode=0o777, exist_ok=True)
        directory.chmod(0o777)
        return directory / "plano-state-connected"


def _sidecar(servers: StatePath, name: str, pg: Postgres, owner: _Scenario, edit: tuple[str, str] | None) -> Sidecar:
    scenario = _Scenario(servers, name)
    # The same database and Plano's role as the cluster's owner scenario.
    scenario.app_user, scenario.app_password = owner.app_user, owner.app_password
    owner.cleanup.enter_context(scenario.cleanup)
    port = free_port()
    config_dir = scenario.sidecar_files(ADDR, pg.port, port)
    if edit is not None:
        ini = config_dir / PGBOUNCER_INI_NAME
        ini.chmod(0o600)
        text = ini.read_text()
        assert edit[0] in text
        ini.write_text(text.replace(edit[0], edit[1]))
        ini.chmod(0o400)
    scenario.start_pgbouncer(config_dir, port, None)
    return Sidecar(scenario, port, config_dir)


@pytest.fixture(scope="module")
def world(servers: StatePath) -> Iterator[World]:
    owner = _Scenario(servers, f"monitoring-{generate_password(6).lower()}")
    with owner.cleanup:
        pg = owner.cluster("db", host=ADDR, listen=ADDR, cert_ips=(ADDR,))
        pg.init()
        owner.cleanup.callback(pg.stop)
        pg.start()
        pg.bootstrap()
        owner.apply_schema(pg)
        rendered = _sidecar(servers, f"{owner.name}-rendered", pg, owner, None)
        impatient = _sidecar(
            servers, f"{owner.name}-impatient", pg, owner, ("query_wait_timeout = 240", "query_wait_timeout = 3")
        )
        yield World(pg, rendered, impatient, owner.base)


@contextlib.contextmanager
def database_down(pg: Postgres) -> Iterator[None]:
    pg.stop()
    try:
        yield
    finally:
        pg.start()


def _until(condition: Any, timeout_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def test_a_probe_that_queries_the_database_would_break_plano_during_an_outage(world: World) -> None:
    """Why the probe reads the console: a client that makes PgBouncer try a server login during an
    outage makes it fail, for server_login_retry, every query that arrives, and close that client.
    Here a second client's query stands for such a probe; Plano's next statement dies with it."""
    sidecar = world.impatient
    wait_ready(sidecar)
    plano = plano_connect(sidecar.params())
    store = PlanoStore(plano)
    store.put(ConversationState("resp_db_probe_0", [], 0, "m", "p"))
    with database_down(world.pg):
        with contextlib.suppress(psycopg.Error), plano_connect(sidecar.params(connect_timeout=3)) as probe:
            probe.execute("SELECT 1")  # a server login is tried, and fails
        with pytest.raises(psycopg.Error, match="server login has been failing"):
            store.put(ConversationState("resp_db_probe_1", [], 1, "m", "p"))
    assert plano.closed or plano.broken or _dead(store)


def _dead(store: PlanoStore) -> bool:
    try:
        store.get("resp_db_probe_0")
        return False
    except psycopg.Error:
        return True


def test_the_probe_passes_before_plano_connects_and_while_the_sidecar_rides_an_outage_out(
    world: World, tmp_path: Path
) -> None:
    sidecar = world.rendered
    marker = world.marker(tmp_path)
    wait_ready(sidecar)
    assert sidecar.probe(marker)[0] == 0  # Plano not connected yet: the task is starting
    assert not marker_exists(sidecar, marker)
    plano = plano_connect(sidecar.params())  # Plano's one connection, never reopened
    store = PlanoStore(plano)
    store.put(ConversationState("resp_probe_0", [], 0, "m", "p"))
    assert sidecar.probe(marker)[0] == 0 and marker_exists(sidecar, marker)
    outcome: dict[str, Any] = {}

    def write_during_outage() -> None:
        try:
            outcome["rows"] = store.put(ConversationState("resp_probe_1", [], 1, "m", "p"))
        except psycopg.Error as error:
            outcome["error"] = error

    with database_down(world.pg):
        writer = threading.Thread(target=write_during_outage)
        writer.start()
        for _ in range(4):  # the probe every few seconds, as ECS runs it, while Plano's write waits
            status, took_s = sidecar.probe(marker)
            assert status == 0 and took_s < STATE_PROBE_TIMEOUT_S, sidecar.log
            time.sleep(1)
        assert writer.is_alive(), (outcome, sidecar.log)  # Plano's write waits in the sidecar
    writer.join(timeout=60)
    assert outcome.get("rows") == 1, (outcome, sidecar.log)  # the sidecar rode the outage out for Plano
    assert not plano.closed and not plano.broken
    assert sidecar.probe(marker)[0] == 0
    assert store.get("resp_probe_1") is not None
    # Plano's connection gone (what query_wait_timeout or a failed login does, and Plano never
    # reconnects): the probe fails from now on, and ECS replaces the task.
    plano.close()
    assert _until(lambda: sidecar.probe(marker)[0] != 0, 10) is not None, sidecar.log
    assert sidecar.probe(marker)[0] != 0


def test_the_probe_fails_when_the_sidecar_gave_up_on_plano(world: World, tmp_path: Path) -> None:
    """The real way Plano loses its state: a query that waited longer than query_wait_timeout."""
    sidecar = world.impatient
    marker = world.marker(tmp_path)
    wait_ready(sidecar)
    store = PlanoStore(plano_connect(sidecar.params()))
    store.put(ConversationState("resp_gone_0", [], 0, "m", "p"))
    assert sidecar.probe(marker)[0] == 0
    with database_down(world.pg), pytest.raises(psycopg.Error, match="query_wait_timeout"):
        store.put(ConversationState("resp_gone_1", [], 1, "m", "p"))
    assert sidecar.probe(marker)[0] != 0, sidecar.log


def test_the_probe_fails_when_pgbouncer_is_gone(world: World, tmp_path: Path) -> None:
    sidecar = world.rendered
    script = state_probe_script(
        host=LOOPBACK,
        port=free_port(),  # nothing listens there
        db_user=sidecar.scenario.app_user,
        db_name=sidecar.scenario.db_name,
        userlist=str(sidecar.config_dir / USERLIST_NAME),
        marker=str(world.marker(tmp_path)),
    )
    assert sidecar.run(script)[0] != 0


def wait_ready(sidecar: Sidecar) -> None:
    """Until a new client's query goes through (after another test's outage, the sidecar's failed
    login is cached for server_login_retry)."""

    def ok() -> bool:
        try:
            with plano_connect(sidecar.params()) as conn:
                return PlanoStore(conn).table_exists()
        except psycopg.Error:
            return False

    assert _until(ok, 30) is not None, sidecar.log


def marker_exists(sidecar: Sidecar, marker: Path) -> bool:
    return sidecar.run(f"test -e {marker}")[0] == 0


def _lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.strip()]


def test_real_pgbouncer_lines_through_the_state_path_pattern(world: World) -> None:
    """Which of the sidecar's real lines count as state-path errors (printed on failure)."""
    sidecar = world.impatient
    wait_ready(sidecar)
    earlier = len(_lines(sidecar.log))  # other tests' lines (the sidecar is shared)
    store = PlanoStore(plano_connect(sidecar.params()))
    store.put(ConversationState("resp_lines_0", [], 0, "m", "p"))
    quiet = _lines(sidecar.log)[earlier:]
    # 1. The database restarts and the sidecar rides it out: not a state-path error.
    world.pg.stop()
    world.pg.start()
    assert _until(lambda: _ok(store), 20) is not None, sidecar.log
    ridden_out = _lines(sidecar.log)[earlier + len(quiet) :]
    # 2. The database stays away longer than query_wait_timeout: the sidecar gives up Plano's
    # query and closes its connection; a new client meanwhile is refused at once.
    with database_down(world.pg):
        with pytest.raises(psycopg.Error):
            store.put(ConversationState("resp_lines_1", [], 1, "m", "p"))
        with contextlib.suppress(psycopg.Error), plano_connect(sidecar.params()) as other:
            PlanoStore(other).get("resp_lines_0")
    gave_up = _lines(sidecar.log)[earlier + len(quiet) + len(ridden_out) :]
    # 3. A client with the wrong password (Plano's DB_PASS out of step with the sidecar's userlist).
    assert _until(lambda: _ok(PlanoStore(plano_connect(sidecar.params()))), 30) is not None, sidecar.log
    with pytest.raises(psycopg.Error):
        plano_connect(sidecar.params(password=generate_password()))
    # 4. The database no longer takes the role's password (rotated behind the task's back).
    with world.pg.admin(sidecar.scenario.db_name) as admin:
        admin.execute(f"ALTER ROLE \"{sidecar.scenario.app_user}\" PASSWORD '{generate_password()}'")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            (sidecar.scenario.app_user,),
        )
        before = len(_lines(sidecar.log))
        try:
            with contextlib.suppress(psycopg.Error), plano_connect(sidecar.params()) as other:
                PlanoStore(other).get("resp_lines_0")
            # Wait for PgBouncer to log the refused server login (a fixed pause missed it under load).
            _until(lambda: any("server login failed" in line for line in _lines(sidecar.log)[before:]), 15)
        finally:
            admin.execute(f"ALTER ROLE \"{sidecar.scenario.app_user}\" PASSWORD '{sidecar.scenario.app_password}'")
    everything = _lines(sidecar.log)[earlier:]
    report = "\n".join(
        f"{'MATCH' if filter_matches(PGBOUNCER_PATTERN, line) else '     '} {line}" for line in everything
    )
    print(f"PgBouncer's lines through {PGBOUNCER_PATTERN}:\n{report}")

    def matching(lines: list[str]) -> list[str]:
        return [line for line in lines if filter_matches(PGBOUNCER_PATTERN, line)]

    assert matching(quiet) == [], report
    assert ridden_out and matching(ridden_out) == [], report  # the restart logged lines; none counts
    assert any("server login has been failing" in line for line in gave_up), report
    assert not any("server login has been failing" in line for line in matching(gave_up)), report
    assert any("pooler error: query_wait_timeout" in line for line in matching(gave_up)), report
    after = everything[len(quiet) + len(ridden_out) + len(gave_up) :]
    assert any("password authentication failed" in line for line in matching(after)), report
    assert any("server login failed" in line for line in matching(after)), report


def _ok(store: PlanoStore) -> bool:
    try:
        store.get("resp_lines_0")
        return True
    except psycopg.Error:
        return False


def test_verbose_pgbouncer_logs_the_password_it_read(servers: StatePath, world: World) -> None:
    """Why the pack refuses `verbose` (no-credential-logging): at 1, PgBouncer prints the secret."""
    owner = world.rendered.scenario
    scenario_owner = _Scenario(servers, f"{owner.name}-verbose-owner")
    scenario_owner.app_user, scenario_owner.app_password = owner.app_user, owner.app_password
    with scenario_owner.cleanup:
        verbose = _sidecar(
            servers, f"{owner.name}-verbose", world.pg, scenario_owner, ("log_connections = 0", "verbose = 1")
        )
        with plano_connect(verbose.params()) as conn:
            assert PlanoStore(conn).table_exists()
        time.sleep(0.3)
        log = verbose.log
    assert owner.app_password in log
    assert "stored secret" in log
