"""The local stack's database settings and init step on real PostgreSQL 15 (no Docker needed).

A second cluster runs with exactly the local stack's ``pg_hba.conf`` and server settings
(``components/plano_pulumi/local/layout.py``; only the file paths are moved into a temporary directory), with a
certificate for the names the stack's certificate carries. The init step runs with the CA handed
over as PEM, as the local stack's ``init`` container gets it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_files import CA_BUNDLE_NAME
from plano_pulumi.local.layout import (
    DB_HOSTNAME,
    PG_CONF_DIR,
    postgres_command,
    render_pg_hba,
    render_postgres_start_script,
)

from tests.integration.servers import ADMIN_USER, LOOPBACK, PG_BIN, Postgres, StatePath, free_port

pytestmark = pytest.mark.integration


def _server_settings(conf_dir: str) -> dict[str, str]:
    command = postgres_command()
    settings = dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-c")
    return {name: value.replace(PG_CONF_DIR, conf_dir) for name, value in settings.items()}


@pytest.fixture(scope="module")
def local_pg(servers: StatePath) -> Iterator[Postgres]:
    pg = Postgres(
        tools=servers.tools,
        root=servers.base / "local-pg",
        ca=servers.ca,
        ca_file=servers.ca_file,
        db_name=servers.db_name,
        user=servers.user,
        password=servers.password,
    )
    pg.init()
    conf_dir = pg.root / "conf"
    conf_dir.mkdir()
    settings = _server_settings(str(conf_dir))
    cert, key = servers.ca.issue_server_cert([DB_HOSTNAME, "localhost"], [LOOPBACK])
    files = {
        settings["ssl_cert_file"]: cert,
        settings["ssl_key_file"]: key,
        settings["hba_file"]: render_pg_hba().encode(),
    }
    for path, content in files.items():
        with open(path, "wb") as out:
            out.write(content)
        os.chmod(path, 0o600)
    with (pg.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# The local stack's server settings (postgres -c ... in its container)\n")
        conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())
    if servers.tools.system_user is not None:
        for path in [conf_dir, *map(type(conf_dir), files)]:
            os.chown(path, servers.tools.uid, servers.tools.gid)
    try:
        pg.start()
        pg.bootstrap()
        yield pg
    finally:
        pg.stop()


def test_the_local_database_accepts_tls_verified_against_its_ca(local_pg: Postgres) -> None:
    with local_pg.connect() as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True,)
    # The server runs on the stack's own files and settings, not initdb's.
    expected = _server_settings(str(local_pg.root / "conf"))
    with local_pg.admin("postgres") as admin:
        for name in ("hba_file", "ssl_cert_file", "ssl_key_file", "ssl_min_protocol_version", "ssl"):
            assert admin.execute(f"SHOW {name}").fetchone() == (expected[name],), name


def test_the_local_database_refuses_plain_text(local_pg: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        local_pg.connect(sslmode="disable")


def test_init_takes_the_ca_as_pem_and_verifies_the_server(servers: StatePath) -> None:
    init = servers.run_init("local-ca", TlsMode.VERIFY_FULL, listen_port=free_port(), ca_in_env=True)
    assert init.returncode == 0, init.stderr
    assert "RDS_CA_BUNDLE_URL" not in init.env
    assert (init.pgbouncer_dir / CA_BUNDLE_NAME).read_bytes() == servers.ca.pem


def test_init_with_the_wrong_ca_fails_without_showing_the_password(servers: StatePath) -> None:
    init = servers.run_init(
        "local-wrong-ca",
        TlsMode.VERIFY_FULL,
        listen_port=free_port(),
        ca_pem=servers.wrong_ca.pem,
        ca_in_env=True,
        timeout_s=2,  # the first attempt fails within milliseconds; the step retries until stopped
    )
    assert init.returncode != 0
    assert "certificate verify failed" in init.stderr  # psql refused the server, then retried until stopped
    assert servers.password not in init.stdout + init.stderr


def _entrypoint_shim(shims: Path, reached: Path) -> None:
    """The image's docker-entrypoint.sh, to its documented contract: with ``postgres`` first, as
    root, it runs the command as the postgres user (on an existing data directory, as it is);
    the server's own start is only recorded."""
    shims.mkdir()
    (shims / "docker-entrypoint.sh").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = postgres ] && [ "${2:-}" = --single ]; then exec runuser -u postgres -- "$@"; fi\n'
        f'echo "$@" > {reached}\n'
    )
    (shims / "docker-entrypoint.sh").chmod(0o755)


def _root_owned_key(tmp_path: Path) -> Path:
    """The key as the Docker provider uploads it: root's, whatever owner it was given."""
    key = tmp_path / "server.key"
    key.write_text("not a real key")
    key.chmod(0o644)
    return key


def test_a_kept_data_directory_gets_the_new_stacks_password(servers: StatePath, tmp_path: Path) -> None:
    """The PostgreSQL container's start script on a data directory made with another password.

    Only the image's documented entry point is used (stood in for by ``_entrypoint_shim``): no
    su-exec, which postgres:17-alpine no longer ships, nor gosu.
    """
    if servers.tools.system_user is None:
        pytest.skip("needs root, to act as the container's entry point does")
    pg = Postgres(
        tools=servers.tools,
        root=servers.base / "kept-volume-pg",
        ca=servers.ca,
        ca_file=servers.ca_file,
        db_name=servers.db_name,
        user=servers.user,
        password=servers.password,
    )
    pg.init()  # the "old stack's" data directory: its superuser has pg.admin_password
    shims, reached = tmp_path / "bin", tmp_path / "entrypoint-reached"
    _entrypoint_shim(shims, reached)
    key = _root_owned_key(tmp_path)
    script = tmp_path / "start.sh"
    script.write_text(render_postgres_start_script(server_key=str(key)))
    assert "su-exec" not in script.read_text() and "gosu" not in script.read_text()
    new_password = "NewStackPassw0rd" + servers.password[:8]
    result = subprocess.run(
        ["sh", str(script), *postgres_command()],
        env={
            "PATH": f"{shims}:{PG_BIN}:/usr/bin:/bin:/usr/sbin:/sbin",
            "PGDATA": str(pg.data_dir),
            "POSTGRES_USER": ADMIN_USER,
            "POSTGRES_PASSWORD": new_password,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert new_password not in result.stdout + result.stderr
    assert reached.read_text().split()[0] == "postgres"  # the image's entry point gets the server's arguments
    # What PostgreSQL requires of its key: the server's user owns it, nobody else can read it.
    assert (key.stat().st_uid, key.stat().st_mode & 0o777) == (servers.tools.uid, 0o600)
    try:
        pg.start()
        with pg.connect(dbname="postgres", user=ADMIN_USER, password=new_password) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (ADMIN_USER,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            pg.connect(dbname="postgres", user=ADMIN_USER, password=pg.admin_password)
    finally:
        pg.stop()


def test_a_new_data_directory_is_left_to_the_image(servers: StatePath, tmp_path: Path) -> None:
    if servers.tools.system_user is None:
        pytest.skip("needs root, to act as the container's entry point does")
    shims, reached = tmp_path / "bin", tmp_path / "entrypoint-reached"
    _entrypoint_shim(shims, reached)
    script = tmp_path / "start.sh"
    script.write_text(render_postgres_start_script(server_key=str(_root_owned_key(tmp_path))))
    result = subprocess.run(
        ["sh", str(script), "postgres"],
        env={
            "PATH": f"{shims}:/usr/bin:/bin:/usr/sbin:/sbin",
            "PGDATA": str(tmp_path / "empty"),
            "POSTGRES_USER": "plano",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert reached.read_text().strip() == "postgres"
