"""The task's files (pure): pgbouncer.ini per TLS mode, schema.sql per retention, init.sh."""

from __future__ import annotations

import configparser
import re
import subprocess

from plano_pulumi.core.settings import TlsMode
from plano_pulumi.core.task_files import PgBouncerOptions, render_init_script, render_pgbouncer_ini, render_schema_sql


def ini(mode: TlsMode) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(render_pgbouncer_ini(PgBouncerOptions(db_host="db.example", db_name="plano", tls_mode=mode)))
    return parser["pgbouncer"]


def test_verify_full_trusts_the_downloaded_bundle_and_require_needs_none() -> None:
    assert ini(TlsMode.VERIFY_FULL)["server_tls_ca_file"] == "/pgbouncer-config/rds-ca.pem"
    assert "server_tls_ca_file" not in ini(TlsMode.REQUIRE)
    assert ini(TlsMode.REQUIRE)["server_tls_sslmode"] == "require"


def test_no_unix_socket_and_no_admin_console() -> None:
    settings = ini(TlsMode.VERIFY_FULL)
    assert settings["unix_socket_dir"] == ""
    assert "admin_users" not in settings and "stats_users" not in settings


def test_retention_job_is_scheduled_or_removed() -> None:
    on = render_schema_sql(30, "plano_app", "plano")
    assert "cron.schedule(" in on and "INTERVAL '30 days'" in on and "cron.unschedule" not in on
    off = render_schema_sql(0, "plano_app", "plano")
    assert "cron.unschedule" in off and "cron.schedule(" not in off
    assert off.count("CREATE TABLE IF NOT EXISTS") == on.count("CREATE TABLE IF NOT EXISTS") == 1


def test_init_script_is_valid_sh_and_never_traces() -> None:
    script = render_init_script()
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0
    assert not re.search(r"^\s*set\s+-\w*x", script, re.MULTILINE) and "set -eu" in script
    # The userlist format, with Plano's role: the sidecar never gets the master password.
    assert 'printf \'"%s" "%s"\\n\' "$APP_DB_USER" "$APP_DB_PASSWORD"' in script
    assert "$PGPASSWORD" not in script


def test_the_rendered_files_name_the_plano_release_the_stack_runs() -> None:
    from plano_pulumi.core.images import PLANO_VERSION

    from tests.conftest import containers, env_of, stack_run

    env = env_of(containers(stack_run("dev"))["init"])
    for name in ("PGBOUNCER_INI", "SCHEMA_SQL"):
        assert f"Plano {PLANO_VERSION}" in env[name], name
        assert not re.search(r"Plano 0\.\d+\.\d+", env[name].replace(f"Plano {PLANO_VERSION}", "")), name
