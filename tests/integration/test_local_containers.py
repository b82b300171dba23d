"""The local stack's containers on a real Docker engine, from the descriptions pulumi-docker deploys.

The engine is Debian's dockerd, started here as root in a temporary directory (vfs, no iptables)
and stopped by its PID; the images are built from Debian's packages (scripts/ensure-test-images.sh,
cached under .cache/). PostgreSQL, the task's namespace holder, the init step and PgBouncer run
from ``plano_pulumi.local.spec`` with the real rendered files of the committed local stack: TLS
only, PgBouncer in verify-full against the stack's CA, the shared network namespace, ports on
127.0.0.1 only. Plano's image cannot be pulled here, so its own description runs with the init
image and `sleep infinity`, and psql in it stands in for Plano through 127.0.0.1:6432. Then
`docker restart` of PostgreSQL (existing data directory) and of PgBouncer, and a new PostgreSQL
container with a new password on the kept data volume.

Under CI=true an engine that cannot start fails the test; elsewhere it skips with the reason.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from plano_pulumi.core.plano_config import DB_PASSWORD_VAR
from plano_pulumi.core.task_files import PLANO_CONFIG_DIR, PLANO_CONFIG_NAME, task_files
from plano_pulumi.local.layout import DB_HOSTNAME, LOOPBACK, POSTGRES_PORT, SERVER_KEY, LocalNames
from plano_pulumi.local.spec import init_spec, pgbouncer_spec, plano_spec, postgres_spec, task_spec

from tests.conftest import SKIP_PREFIX
from tests.integration.docker_engine import ROOTFS_ENV, SKIP_REASON_ENV, Engine, EngineUnavailableError, engine_root
from tests.integration.servers import CertificateAuthority, free_port, generate_password, stack_settings

pytestmark = pytest.mark.integration


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, so the Docker engine tests must run, not skip, but: {reason}")
    pytest.skip(f"{SKIP_PREFIX}{reason}")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    rootfs = os.environ.get(ROOTFS_ENV)
    if not rootfs or not Path(rootfs).is_file():
        why = (
            os.environ.get(SKIP_REASON_ENV)
            or f"{ROOTFS_ENV} is not set (make test sets it: scripts/with-test-servers.sh)"
        )
        _unavailable(f"no test images for the Docker engine: {why}")
    engine = Engine(engine_root(tmp_path_factory.mktemp("docker")))
    try:
        try:
            engine.start()
        except EngineUnavailableError as error:
            _unavailable(str(error))
        started = time.monotonic()
        engine.import_images(Path(str(rootfs)), tag=Path(str(rootfs)).stem.removeprefix("rootfs-"))
        print(f"docker engine: images imported in {time.monotonic() - started:.1f}s")
        yield engine
    finally:
        left = engine.stop()
    assert not left, f"host interfaces left behind by the test engine: {left}"


def _standin_sql(engine: Engine, container: str, sql: str, *, attempts: int = 1) -> str:
    """psql in Plano's place: its namespace, its DB_PASS, through PgBouncer on 127.0.0.1:6432."""
    script = 'PGPASSWORD="$DB_PASS" psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 6432 -U "$APP_USER" -d "$DB"'
    result: subprocess.CompletedProcess[str] | None = None
    for attempt in range(attempts):
        result = engine.cli("exec", "-i", container, "sh", "-c", script, input_text=sql)
        if result.returncode == 0:
            return result.stdout.strip()
        time.sleep(1 + attempt)
    assert result is not None
    raise AssertionError(f"psql through the sidecar failed: {result.stderr}")


def _non_loopback_address() -> str | None:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    return next((a for a in out if "." in a and not a.startswith("127.")), None)


def test_the_local_stack_serves_a_client_over_tls_and_keeps_its_state_across_restarts(
    engine: Engine, tmp_path: Path
) -> None:
    settings = stack_settings("local")
    db = settings.database
    names = LocalNames(settings.names)
    files = task_files(settings.plano.text, settings.database, DB_HOSTNAME, POSTGRES_PORT)
    ca = CertificateAuthority.generate(f"{settings.names.base} CA")
    cert, key = ca.issue_server_cert([DB_HOSTNAME, "localhost"], [LOOPBACK])
    ca_file = tmp_path / "db-ca.pem"
    ca_file.write_bytes(ca.pem)
    password, app_password = generate_password(), generate_password()
    host_port = free_port()
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    engine.network(names.network)
    for volume in (names.data_volume, names.config_volume("plano"), names.config_volume("pgbouncer")):
        engine.volume(volume)

    def postgres(with_password: str) -> str:
        spec = postgres_spec(
            name=names.container("postgres"),
            data_volume=names.data_volume,
            image=engine.images["postgres"],
            network=names.network,
            db_name=db.name,
            db_user=db.user,
            password=with_password,
            host_port=host_port,
            server_cert_pem=cert.decode(),
            server_key_pem=key.decode(),
        )
        engine.run(spec, image=engine.images["postgres"])
        engine.wait_healthy(spec.name)
        return spec.name

    def connect(with_password: str, **overrides: str) -> psycopg.Connection[tuple[object, ...]]:
        params = {
            "host": LOOPBACK,
            "port": host_port,
            "dbname": db.name,
            "user": db.user,
            "password": with_password,
            "sslmode": "verify-full",
            "sslrootcert": str(ca_file),
            "connect_timeout": 10,
            **overrides,
        }
        return psycopg.connect(**params)  # type: ignore[arg-type]

    def key_owner_and_mode(container: str) -> list[str]:
        return engine.cli("exec", container, "stat", "-c", "%U %a", SERVER_KEY).stdout.split()

    # PostgreSQL: TLS only, the key given to postgres with 0600 at start (uploaded as root).
    pg = postgres(password)
    lap("postgres healthy")
    assert key_owner_and_mode(pg) == ["postgres", "600"]
    with connect(password) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        connect(password, sslmode="disable")

    # The task: the namespace holder, the init step, PgBouncer, and Plano's place.
    task = task_spec(names, image=engine.images["init"], network=names.network, listeners=settings.plano.listeners)
    engine.run(task, image=engine.images["init"])
    init = init_spec(
        names,
        image=engine.images["init"],
        files=files,
        db_host=DB_HOSTNAME,
        db_port=POSTGRES_PORT,
        db_name=db.name,
        db_user=db.user,
        app_user=db.app_user,
        tls_mode=db.tls_mode,
        ca_cert_pem=ca.pem.decode(),
        db_password=password,
        app_password=app_password,
    )
    engine.run(init, image=engine.images["init"])
    exit_code = engine.wait_exit(init.name)
    init_log = engine.logs(init.name)
    assert exit_code == 0, init_log
    assert "files written, schema applied" in init_log
    assert password not in init_log and app_password not in init_log
    lap("init step done")
    bouncer = pgbouncer_spec(
        names,
        image=engine.images["pgbouncer"],
        files=files,
        ca_cert_pem=ca.pem.decode(),
        app_user=db.app_user,
        db_name=db.name,
    )
    engine.run(bouncer, image=engine.images["pgbouncer"])
    engine.wait_healthy(bouncer.name)
    lap("pgbouncer healthy")
    described = plano_spec(
        names,
        image="plano",
        files=files,
        health_port=settings.plano.health_listener.port,
        environment={"APP_USER": db.app_user, "DB": db.name},
        secrets={DB_PASSWORD_VAR: app_password},
    )
    standin = dataclasses.replace(described, command=("sleep", "infinity"), healthcheck=None)
    engine.run(standin, image=engine.images["init"])
    config_file = engine.cli("exec", standin.name, "cat", f"{PLANO_CONFIG_DIR}/{PLANO_CONFIG_NAME}").stdout
    assert config_file == files[PLANO_CONFIG_NAME]  # the rendered config, where Plano reads it

    # Nothing is published beyond 127.0.0.1: only the listener ports and PostgreSQL's.
    published = {}
    for spec in (task, init, bouncer, standin):
        bindings = engine.inspect(spec.name)["HostConfig"]["PortBindings"] or {}
        published[spec.role] = sorted((b["HostIp"], b["HostPort"]) for v in bindings.values() for b in v)
    published["postgres"] = sorted(
        (b["HostIp"], b["HostPort"])
        for v in (engine.inspect(pg)["HostConfig"]["PortBindings"] or {}).values()
        for b in v
    )
    assert published == {
        "task": [(LOOPBACK, str(lsn.port)) for lsn in settings.plano.listeners],
        "init": [],
        "pgbouncer": [],
        "plano": [],
        "postgres": [(LOOPBACK, str(host_port))],
    }
    other = _non_loopback_address()
    if other is not None:
        with pytest.raises(psycopg.OperationalError):
            connect(password, host=other, sslmode="require", connect_timeout="3")

    # Plano's stand-in writes and reads its state through the sidecar, which uses TLS upstream.
    response_id = f"resp_{secrets.token_hex(6)}"
    row = f'{response_id}|[{{"role": "user", "content": "hello"}}]'
    insert = (
        "INSERT INTO conversation_states (response_id, input_items, created_at, model, provider) "
        f"VALUES ('{response_id}', '[{{\"role\": \"user\", \"content\": \"hello\"}}]', 1, 'm', 'p');\n"
    )
    select = f"SELECT response_id, input_items FROM conversation_states WHERE response_id = '{response_id}';\n"
    _standin_sql(engine, standin.name, insert)
    assert _standin_sql(engine, standin.name, select) == row
    with connect(password) as conn:
        upstream = conn.execute(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = %s", (db.app_user,)
        ).fetchall()
    assert upstream and all(ssl for (ssl,) in upstream)  # PgBouncer -> PostgreSQL is TLS
    lap("client through the sidecar")

    # docker restart of PostgreSQL on its existing data directory: same state, key still right.
    engine.restart(pg)
    engine.wait_healthy(pg)
    assert "appears to contain a database" in engine.logs(pg)
    assert key_owner_and_mode(pg) == ["postgres", "600"]
    assert _standin_sql(engine, standin.name, select, attempts=5) == row
    lap("postgres restarted")

    # docker restart of the sidecar: same state.
    engine.restart(bouncer.name)
    engine.wait_healthy(bouncer.name)
    assert _standin_sql(engine, standin.name, select, attempts=5) == row
    lap("pgbouncer restarted")

    # A new container (a new stack's password) on the kept data volume: the new password holds.
    engine.remove(pg)
    new_password = generate_password()
    postgres(new_password)
    with connect(new_password) as conn:
        assert conn.execute(
            f"SELECT count(*) FROM conversation_states WHERE response_id = '{response_id}'"
        ).fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(password)
    assert new_password not in engine.logs(pg)
    lap("new postgres container on the kept volume")
    print(f"docker engine timings (s): {timings}")
