"""TLS on the network hop: the server refuses plain text, the sidecar speaks TLS and checks the CA."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_files import CA_BUNDLE_NAME, PGBOUNCER_INI_NAME, USERLIST_NAME, render_userlist

from tests.integration.servers import (
    LOOPBACK,
    OTHER_LOOPBACK,
    PgBouncer,
    Sidecar,
    StatePath,
    free_port,
    plano_connect,
)

pytestmark = pytest.mark.integration


def test_server_refuses_plain_text(servers: StatePath) -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        servers.pg.connect(sslmode="disable")
    assert "no pg_hba.conf entry" in str(refused.value)
    assert "no encryption" in str(refused.value)
    # The same login over TLS is accepted: only the transport was refused.
    with servers.pg.connect() as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)


def test_sidecar_server_connection_is_tls(servers: StatePath, any_sidecar: Sidecar) -> None:
    app = f"plano-it-{any_sidecar.tls_mode}"
    with any_sidecar.connect(application_name=app) as conn:
        # Runs on the server connection PgBouncer holds for this client.
        row = conn.execute("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row is not None and row[0] is True, row
        assert row[1] in ("TLSv1.2", "TLSv1.3") and row[2], row
        # Seen from the server: every backend PgBouncer opened for this client is TLS.
        with servers.pg.admin(servers.db_name) as admin:
            backends = admin.execute(
                """SELECT a.pid, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
                   WHERE a.application_name = %s AND a.usename = %s""",
                (app, any_sidecar.user),
            ).fetchall()
    assert backends, "no server backend carries the client's application_name"
    assert all(ssl for _, ssl in backends), backends


def _pgbouncer_with(
    servers: StatePath, name: str, *, userlist: str, ca_pem: bytes, db_host: str = LOOPBACK
) -> PgBouncer:
    """A verify-full sidecar whose userlist, CA bundle or database address differs from the task's.

    The files are the task's (rendered pgbouncer.ini, userlist format), with init.sh's modes and
    owner; only the named input, the ports and the paths change.
    """
    config_dir = servers.base / name
    config_dir.mkdir()
    port = free_port()
    ini = servers.pgbouncer_ini(TlsMode.VERIFY_FULL, listen_port=port, config_dir=config_dir, db_host=db_host)
    files = {PGBOUNCER_INI_NAME: ini.encode(), USERLIST_NAME: userlist.encode(), CA_BUNDLE_NAME: ca_pem}
    for file_name, content in files.items():
        path = config_dir / file_name
        path.write_bytes(content)
        path.chmod(0o400)
        os.chown(path, servers.tools.uid, servers.tools.gid)
    return servers.start_pgbouncer(name, config_dir, port)


def _wait_for_log(bouncer: PgBouncer, text: str, timeout_s: float = 5) -> str:
    deadline = time.monotonic() + timeout_s
    while text not in (log := bouncer.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return log


def test_verify_full_refuses_a_wrong_ca_and_accepts_the_right_one(servers: StatePath, sidecar: Sidecar) -> None:
    userlist = render_userlist(sidecar.user, sidecar.password)
    wrong = _pgbouncer_with(servers, "wrong-ca", userlist=userlist, ca_pem=servers.wrong_ca.pem)
    params = wrong.conninfo(user=sidecar.user, password=sidecar.password, dbname=sidecar.db_name)
    # PgBouncer keeps the client waiting (up to query_wait_timeout = 30 s) while every TLS
    # handshake to the server fails; the client's own timeout ends the login here.
    with pytest.raises(psycopg.OperationalError):
        plano_connect({**params, "connect_timeout": 2})
    log = _wait_for_log(wrong, "certificate verify failed")
    assert "certificate verify failed" in log, log
    wrong.stop()

    right = _pgbouncer_with(servers, "right-ca", userlist=userlist, ca_pem=servers.ca.pem)
    with plano_connect(right.conninfo(user=sidecar.user, password=sidecar.password, dbname=sidecar.db_name)) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    assert "certificate verify failed" not in right.log()


def test_verify_full_refuses_a_certificate_for_another_host(servers: StatePath, sidecar: Sidecar) -> None:
    """The right CA, but the server's certificate does not name the address PgBouncer dialled."""
    userlist = render_userlist(sidecar.user, sidecar.password)
    other = _pgbouncer_with(servers, "other-host", userlist=userlist, ca_pem=servers.ca.pem, db_host=OTHER_LOOPBACK)
    params = other.conninfo(user=sidecar.user, password=sidecar.password, dbname=sidecar.db_name)
    with pytest.raises(psycopg.OperationalError):
        plano_connect({**params, "connect_timeout": 2})
    refusal = f"name `{OTHER_LOOPBACK}' not present in server certificate"
    log = _wait_for_log(other, refusal)
    assert refusal in log, log
    # The same address is fine for a client that checks only the CA: the server is reachable there.
    with servers.pg.connect(host=OTHER_LOOPBACK, sslmode="verify-ca") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_init_sh_verifies_against_the_downloaded_bundle(sidecar: Sidecar, servers: StatePath) -> None:
    """The bundle init.sh fetched is the one PgBouncer checks the server against."""
    assert sidecar.init.env["PGSSLMODE"] == "verify-full"
    assert (sidecar.init.pgbouncer_dir / CA_BUNDLE_NAME).read_bytes() == servers.ca.pem
    ini = (sidecar.init.pgbouncer_dir / PGBOUNCER_INI_NAME).read_text()
    assert "server_tls_sslmode = verify-full" in ini
    assert f"server_tls_ca_file = {sidecar.init.pgbouncer_dir / CA_BUNDLE_NAME}" in ini


def test_wrong_password_to_the_server_fails_clearly(servers: StatePath) -> None:
    with pytest.raises(psycopg.OperationalError) as failed:
        servers.pg.connect(password="not" + servers.password)
    assert f'password authentication failed for user "{servers.user}"' in str(failed.value)


def test_wrong_password_in_the_sidecar_fails_clearly(servers: StatePath) -> None:
    """The secret in userlist.txt differs from the database's password (e.g. a rotated secret).

    PgBouncer accepts the client, fails its SCRAM login to the server and relays the server's
    message at once (no wait for query_wait_timeout).
    """
    stale = "stale" + servers.password
    userlist = render_userlist(servers.user, stale)
    bouncer = _pgbouncer_with(servers, "stale-password", userlist=userlist, ca_pem=servers.ca.pem)
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as failed:
        plano_connect(bouncer.conninfo(user=servers.user, password=stale, dbname=servers.db_name))
    assert f'password authentication failed for user "{servers.user}"' in str(failed.value)
    assert time.monotonic() - started < 5


def test_wrong_password_from_the_client_is_refused_by_the_sidecar(sidecar: Sidecar) -> None:
    """Plano's DB_PASS differs from userlist.txt: PgBouncer's own SCRAM check refuses it."""
    with pytest.raises(psycopg.OperationalError) as failed:
        sidecar.connect(password="not" + sidecar.password)
    # PgBouncer 1.24 words it "SASL authentication failed" (PostgreSQL: "password authentication
    # failed for user ..."); both name the authentication step.
    assert "SASL authentication failed" in str(failed.value)
