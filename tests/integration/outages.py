"""Database outages on real servers, seen by one Plano connection through the rendered sidecar.

Two scenarios, each on its own PostgreSQL cluster(s) so they can run while the rest of the suite
does (``conftest.py`` starts them in the background; ``test_outages.py`` asserts on the results):

- **failover** (RDS Multi-AZ): a primary on 127.0.0.3 and a synchronous streaming standby on
  127.0.0.4, same port, both with a certificate for ``db.plano.test``. PgBouncer runs the
  rendered ``pgbouncer.ini`` (verify-full against ``db.plano.test``) inside ``unshare -m`` with a
  private ``/etc/hosts`` bind-mounted over the real one. The primary stops (immediate shutdown,
  like a crash), the standby is promoted, and only ``outage_s`` after the stop does the name move
  to the standby's address (RDS updates its DNS record after the promotion).
- **outage** (maintenance reboot, Aurora resume): one cluster stops for ``outage_s`` and starts
  again at the same address.

Meanwhile one client connection, opened once and never reopened, runs Plano's statements
(``PlanoStore``) in a loop. ``outage_s`` defaults to the longest timeout of the sidecar as it was
before issue 9 (``query_wait_timeout = 30``) plus ``OUTAGE_MARGIN_S``, so with the old file a
query issued as the database went away fails (5 s before it is back; statements are issued every
``OP_INTERVAL_S``) and PgBouncer closes Plano's only connection; set ``PLANO_OUTAGE_S`` to try longer outages
(RDS documents failovers of 60-120 s). No statement is in flight at the instant the database
stops (the client's lock is held around each statement); statements issued during the outage are
what is under test.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_files import (
    APP_PASSWORD_VAR,
    CA_BUNDLE_NAME,
    PGBOUNCER_INI_NAME,
    USERLIST_NAME,
    PgBouncerOptions,
    render_pgbouncer_ini,
    render_schema_sql,
    render_userlist,
)

from tests.integration.servers import (
    LOOPBACK,
    PG_BIN,
    PSQL,
    ConversationState,
    PlanoStore,
    Postgres,
    ServersUnavailableError,
    StatePath,
    _tail,
    free_port,
    generate_password,
    plano_connect,
    wait_for_port,
)

DB_NAME_HOST = "db.plano.test"
PRIMARY_ADDR = "127.0.0.3"
STANDBY_ADDR = "127.0.0.4"
OUTAGE_ADDR = "127.0.0.5"
# The sidecar's outage settings before issue 9 (and PgBouncer's own default for dns_max_ttl).
OLD_TIMEOUTS_S = {"query_wait_timeout": 30, "server_connect_timeout": 5, "server_login_retry": 1, "dns_max_ttl": 15}
OP_INTERVAL_S = 0.2
# How much longer than the longest old timeout the database stays away: 25 times the interval
# between statements, so the old query_wait_timeout fires well inside the outage (it was 15 s, which
# only made each scenario, and so `make test`, 10 s longer).
OUTAGE_MARGIN_S = 5


def outage_s() -> float:
    """How long the database is gone: longer than every timeout of the old sidecar."""
    return float(os.environ.get("PLANO_OUTAGE_S") or max(OLD_TIMEOUTS_S.values()) + OUTAGE_MARGIN_S)


def ini_timeouts(ini: str) -> dict[str, int]:
    """The sidecar's timeouts as the rendered file sets them (what the assertions compare with)."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",))
    parser.read_string(ini)
    section = parser["pgbouncer"]
    return {name: int(section[name]) for name in OLD_TIMEOUTS_S}


@dataclass
class Op:
    started: float
    ended: float
    ok: bool
    error: str = ""


@dataclass
class Result:
    """What one scenario saw."""

    name: str
    outage_s: float
    timeouts: dict[str, int]
    ops: list[Op] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    stopped_at: float = 0.0
    moved_at: float = 0.0  # failover: when the name moved; outage: when the database was back
    connection_closed: bool = False
    error: str = ""
    log: str = ""

    @property
    def failures(self) -> list[Op]:
        return [op for op in self.ops if not op.ok]

    def first_ok_after(self, t: float) -> float | None:
        """Seconds from ``t`` until the first statement that succeeded after it."""
        return min((op.ended - t for op in self.ops if op.ok and op.ended > t), default=None)

    def longest_wait_s(self) -> float:
        return max((op.ended - op.started for op in self.ops), default=0.0)


class PlanoClient(threading.Thread):
    """Plano's storage on one connection that is never reopened; ``busy`` is held around each statement."""

    def __init__(self, params: dict[str, Any], prefix: str, result: Result) -> None:
        super().__init__(name=f"plano-client-{result.name}", daemon=True)
        self.params, self.prefix, self.result = params, prefix, result
        self.busy = threading.Lock()
        self.stop_event = threading.Event()
        self.conn: psycopg.Connection[Any] | None = None

    def run(self) -> None:
        self.conn = plano_connect(self.params)
        store, i = PlanoStore(self.conn), 0
        while not self.stop_event.is_set():
            with self.busy:
                state = ConversationState(f"{self.prefix}_{i}", [{"role": "user", "content": str(i)}], i, "m", "p")
                started = time.monotonic()
                try:
                    store.put(state)
                    self.result.acknowledged.append(state.response_id)
                    if store.get(state.response_id) != state:
                        raise AssertionError(f"read back differs for {state.response_id}")
                    self.result.ops.append(Op(started, time.monotonic(), True))
                except Exception as error:
                    self.result.ops.append(Op(started, time.monotonic(), False, f"{type(error).__name__}: {error}"))
                i += 1
            self.stop_event.wait(OP_INTERVAL_S)
        self.result.connection_closed = self.conn.closed or self.conn.broken
        self.conn.close()

    def ops_after(self, t: float) -> int:
        return sum(1 for op in self.result.ops if op.ok and op.started > t)


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


class _Scenario:
    """Shared set-up: a master-owned database with Plano's schema, a sidecar config directory."""

    def __init__(self, servers: StatePath, name: str) -> None:
        self.servers, self.name = servers, name
        self.base = servers.base / f"scenario-{name}"
        self.base.mkdir(mode=0o755)
        self.tools = servers.tools
        self.db_name = servers.db_name
        self.user, self.password = servers.user, generate_password()
        self.app_user, self.app_password = servers.app_user, generate_password()
        self.cleanup = contextlib.ExitStack()

    def cluster(self, name: str, **kwargs: Any) -> Postgres:
        return Postgres(
            tools=self.tools,
            root=self.base / name,
            ca=self.servers.ca,
            ca_file=self.servers.ca_file,
            db_name=self.db_name,
            user=self.user,
            password=self.password,
            **kwargs,
        )

    def apply_schema(self, pg: Postgres) -> None:
        """What init.sh does as the master user: Plano's table, role and grants."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.base),
            "PGHOST": pg.host,
            "PGPORT": str(pg.port),
            "PGDATABASE": self.db_name,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            APP_PASSWORD_VAR: self.app_password,
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": str(self.servers.ca_file),
        }
        script = render_schema_sql(0, self.app_user, self.db_name)
        proc = subprocess.run(
            [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            input=script,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"schema: {proc.stderr}")

    def sidecar_files(self, db_host: str, db_port: int, listen_port: int) -> Path:
        """The task's files as init.sh writes them: rendered ini, the app role's userlist, the CA."""
        config_dir = self.base / "pgbouncer"
        config_dir.mkdir()
        ini = render_pgbouncer_ini(
            PgBouncerOptions(
                db_host=db_host,
                db_port=db_port,
                db_name=self.db_name,
                tls_mode=TlsMode.VERIFY_FULL,
                listen_port=listen_port,
                config_dir=str(config_dir),
                stats_user=self.app_user,  # as the task renders it (the state probe's console access)
            )
        )
        files = {
            PGBOUNCER_INI_NAME: ini.encode(),
            USERLIST_NAME: render_userlist(self.app_user, self.app_password).encode(),
            CA_BUNDLE_NAME: self.servers.ca.pem,
        }
        for file_name, content in files.items():
            path = config_dir / file_name
            path.write_bytes(content)
            path.chmod(0o400)
            os.chown(path, self.tools.uid, self.tools.gid)
        return config_dir

    def start_pgbouncer(self, config_dir: Path, listen_port: int, hosts_file: Path | None) -> subprocess.Popen[bytes]:
        ini = str(config_dir / PGBOUNCER_INI_NAME)
        log_file = self.base / "pgbouncer.log"
        self.log_file = log_file
        if hosts_file is None:
            argv = [self.tools.pgbouncer, ini]
            user: dict[str, Any] = (
                {"user": self.tools.uid, "group": self.tools.gid, "extra_groups": []} if self.tools.system_user else {}
            )
        else:
            # A private /etc/hosts in a mount namespace; then drop to PgBouncer's user, as in the task.
            argv = [
                "unshare",
                "-m",
                "sh",
                "-c",
                'mount --bind "$1" /etc/hosts && exec setpriv --reuid "$2" --regid "$3" --clear-groups "$4" "$5"',
                "sh",
                str(hosts_file),
                str(self.tools.uid),
                str(self.tools.gid),
                self.tools.pgbouncer,
                ini,
            ]
            user = {}
        with log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=config_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                start_new_session=True,
                **user,
            )

        def stop() -> None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)

        self.cleanup.callback(stop)
        if not wait_for_port(listen_port, timeout_s=10, alive=lambda: proc.poll() is None):
            raise RuntimeError(f"PgBouncer did not start:\n{_tail(log_file)}")
        return proc

    def client_params(self, listen_port: int) -> dict[str, Any]:
        return {
            "host": LOOPBACK,
            "port": listen_port,
            "dbname": self.db_name,
            "user": self.app_user,
            "password": self.app_password,
            "sslmode": "disable",
            "connect_timeout": 10,
        }

    def stored_ids(self, pg: Postgres, prefix: str) -> set[str]:
        with pg.connect() as conn:
            rows = conn.execute(
                "SELECT response_id FROM conversation_states WHERE response_id LIKE %s", (f"{prefix}_%",)
            ).fetchall()
        return {row[0] for row in rows}


@contextlib.contextmanager
def _client(scenario: _Scenario, listen_port: int, result: Result) -> Iterator[PlanoClient]:
    client = PlanoClient(scenario.client_params(listen_port), f"resp_{scenario.name}", result)
    client.start()
    try:
        _wait(lambda: client.ops_after(0) >= 5, 20, "the client's first statements")
        yield client
    finally:
        client.stop_event.set()
        client.join(timeout=outage_s() + 300)


def run_failover(servers: StatePath) -> Result:
    """RDS Multi-AZ failover: primary stops, standby promoted, the name moves ``outage_s`` later."""
    if os.geteuid() != 0:
        raise ServersUnavailableError("the failover scenario needs root for `unshare -m` (CI runs as root)")
    scenario = _Scenario(servers, "failover")
    with scenario.cleanup:
        port = free_port()
        pair = {"cert_names": (DB_NAME_HOST,), "cert_ips": (PRIMARY_ADDR, STANDBY_ADDR), "port": port}
        primary = scenario.cluster("primary", host=PRIMARY_ADDR, listen=PRIMARY_ADDR, **pair)
        primary.init()
        with (primary.data_dir / "pg_hba.conf").open("a") as hba:
            hba.write("hostssl  replication all  127.0.0.0/8    scram-sha-256\n")
        scenario.cleanup.callback(primary.stop)
        primary.start()
        primary.bootstrap()
        scenario.apply_schema(primary)

        standby = scenario.cluster("standby", host=STANDBY_ADDR, listen=STANDBY_ADDR, **pair)
        standby.root.mkdir(mode=0o700)
        os.chown(standby.root, scenario.tools.uid, scenario.tools.gid)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGPASSWORD": primary.admin_password,
            "PGSSLMODE": "require",
        }
        base_backup = [
            str(PG_BIN / "pg_basebackup"),
            f"--host={PRIMARY_ADDR}",
            f"--port={port}",
            "--username=postgres",
            f"--pgdata={standby.data_dir}",
            "--wal-method=stream",
            "--write-recovery-conf",
            "--no-sync",
            "--checkpoint=fast",
        ]
        subprocess.run(
            scenario.tools.as_db_user(base_backup),
            env=env,
            cwd=standby.root,
            check=True,
            capture_output=True,
            timeout=60,
        )
        with (standby.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"listen_addresses = '{STANDBY_ADDR}'\n")
        scenario.cleanup.callback(standby.stop)
        standby.start()
        with primary.admin("postgres") as admin:
            # Like Multi-AZ: from now on every commit waits for the standby (set after the base
            # backup, so the standby does not inherit it and wait for a standby of its own).
            admin.execute("ALTER SYSTEM SET synchronous_commit = 'on'")
            admin.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            admin.execute("SELECT pg_reload_conf()")
            _wait(
                lambda: (
                    admin.execute("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'").fetchone() is not None
                ),
                20,
                "a synchronous standby",
            )

        hosts = scenario.base / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n{PRIMARY_ADDR} {DB_NAME_HOST}\n")
        hosts.chmod(0o644)
        listen_port = free_port()
        config_dir = scenario.sidecar_files(DB_NAME_HOST, port, listen_port)
        result = Result("failover", outage_s(), ini_timeouts((config_dir / PGBOUNCER_INI_NAME).read_text()))
        scenario.start_pgbouncer(config_dir, listen_port, hosts)
        try:
            with _client(scenario, listen_port, result) as client:
                with client.busy:  # no statement in flight at the instant of the crash
                    primary._pg_ctl("stop", "-m", "immediate")
                    result.stopped_at = time.monotonic()
                subprocess.run(
                    scenario.tools.as_db_user([str(PG_BIN / "pg_ctl"), "promote", "-w", "-D", str(standby.data_dir)]),
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                time.sleep(max(0.0, result.stopped_at + result.outage_s - time.monotonic()))
                hosts.write_text(
                    f"127.0.0.1 localhost\n{STANDBY_ADDR} {DB_NAME_HOST}\n"
                )  # same inode: the bind mount sees it
                result.moved_at = time.monotonic()
                _wait(lambda: client.ops_after(result.moved_at) >= 5, 60, "statements after the name moved")
            result.stored = scenario.stored_ids(standby, "resp_failover")
        except Exception as error:
            result.error = f"{type(error).__name__}: {error}"
        result.log = _tail(scenario.log_file, 40)
        return result


def run_outage(servers: StatePath) -> Result:
    """A reboot or an Aurora resume: the database is gone for ``outage_s``, then back at the same address."""
    scenario = _Scenario(servers, "outage")
    with scenario.cleanup:
        pg = scenario.cluster("db", host=OUTAGE_ADDR, listen=OUTAGE_ADDR, cert_ips=(OUTAGE_ADDR,))
        pg.init()
        scenario.cleanup.callback(pg.stop)
        pg.start()
        pg.bootstrap()
        scenario.apply_schema(pg)
        listen_port = free_port()
        config_dir = scenario.sidecar_files(OUTAGE_ADDR, pg.port, listen_port)
        result = Result("outage", outage_s(), ini_timeouts((config_dir / PGBOUNCER_INI_NAME).read_text()))
        scenario.start_pgbouncer(config_dir, listen_port, None)
        try:
            with _client(scenario, listen_port, result) as client:
                with client.busy:
                    pg.stop()
                    result.stopped_at = time.monotonic()
                time.sleep(max(0.0, result.stopped_at + result.outage_s - time.monotonic()))
                pg.start()
                result.moved_at = time.monotonic()
                _wait(lambda: client.ops_after(result.moved_at) >= 5, 60, "statements after the restart")
            result.stored = scenario.stored_ids(pg, "resp_outage")
        except Exception as error:
            result.error = f"{type(error).__name__}: {error}"
        result.log = _tail(scenario.log_file, 40)
        return result
