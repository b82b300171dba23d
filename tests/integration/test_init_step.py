"""The project's init.sh, run as the task runs it: the files it writes, their modes, the schema."""

from __future__ import annotations

import stat

import pytest
from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_files import (
    CA_BUNDLE_NAME,
    PGBOUNCER_INI_NAME,
    PLANO_CONFIG_NAME,
    USERLIST_NAME,
    render_init_script,
    render_userlist,
)

from tests.integration.servers import PlanoStore, Sidecar, StatePath, free_port

pytestmark = pytest.mark.integration


def test_init_writes_the_task_files_readable_only_by_pgbouncer(servers: StatePath, any_sidecar: Sidecar) -> None:
    init = any_sidecar.init
    assert init.argv == ["sh", "-c", render_init_script()]
    assert init.returncode == 0, init.stderr
    assert "init: files written, schema applied" in init.stdout
    assert any_sidecar.password not in init.stdout + init.stderr
    assert init.env["PGSSLMODE"] == any_sidecar.tls_mode.value

    expected = {
        PGBOUNCER_INI_NAME: init.env["PGBOUNCER_INI"].encode(),
        USERLIST_NAME: render_userlist(any_sidecar.user, any_sidecar.password).encode(),
    }
    if any_sidecar.tls_mode is TlsMode.VERIFY_FULL:
        expected[CA_BUNDLE_NAME] = servers.ca.pem
    written = {p.name: p.read_bytes() for p in init.pgbouncer_dir.iterdir()}
    assert written == expected
    uid = servers.tools.uid  # PGBOUNCER_UID: the user PgBouncer runs as (998 in the task)
    for path in [init.pgbouncer_dir / name for name in expected]:
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o400, uid), path
    info = init.pgbouncer_dir.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o500, uid)

    plano_config = init.plano_dir / PLANO_CONFIG_NAME
    assert [p.name for p in init.plano_dir.iterdir()] == [PLANO_CONFIG_NAME]
    assert plano_config.read_text() == init.env["PLANO_CONFIG_YAML"] == servers.settings.plano.text
    assert stat.S_IMODE(plano_config.stat().st_mode) == 0o400

    # The schema is in place: Plano's own start-up check passes through the sidecar.
    with any_sidecar.connect() as conn:
        assert PlanoStore(conn).table_exists()


def test_init_refuses_a_ca_bundle_without_a_certificate(servers: StatePath) -> None:
    init = servers.run_init("not-a-bundle", TlsMode.VERIFY_FULL, listen_port=free_port(), ca_pem=b"<html>oops</html>")
    assert init.returncode == 1
    assert "holds no certificate; cannot verify the database" in init.stderr
