"""`make test` with a failing server install: CI fails, a workstation skips loudly.

The install is made to fail the way it does on real machines (apt's lock held by another process)
with stand-ins for dpkg-query, apt-get and sudo first on PATH; ``make`` runs its real ``test``
recipe with the setup and lint prerequisites marked done (``-o``) and a stand-in Python that
reports the environment pytest would get.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

# Runs make test and the server scripts: not a mocked test, so `make test` runs it
# and `make test-fast` does not (the `processes` marker).
pytestmark = pytest.mark.processes

STAND_INS = {
    "dpkg-query": "#!/bin/sh\nexit 1\n",  # nothing installed
    "apt-get": '#!/bin/sh\necho "E: Could not get lock /var/lib/dpkg/lock-frontend" >&2\nexit 100\n',
    "sudo": '#!/bin/sh\nexec "$@"\n',
    "python": '#!/bin/sh\necho "pytest ran: PLANO_PGBOUNCER=${PLANO_PGBOUNCER:-} '
    'SKIP_REASON=${PLANO_TEST_SERVERS_SKIP_REASON:-}"\n',
}


@pytest.fixture
def failing_install(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in STAND_INS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PLANO_PGBOUNCER", "MAKEFLAGS", "MAKELEVEL")}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env["PLANO_TEST_CACHE"] = str(tmp_path / "cache")  # no cached PgBouncer to fall back on
    return env


def make_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    fake_python = env["PATH"].split(":", 1)[0] + "/python"
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "setup", "-o", "lint", "test", f"PY={fake_python}"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ci_make_test_fails_when_the_server_install_fails(failing_install: dict[str, str]) -> None:
    result = make_test({**failing_install, "CI": "true"})
    assert result.returncode != 0
    assert "pytest ran" not in result.stdout
    assert "Could not get lock" in result.stderr  # apt's own message reaches the log
    assert "CI=true: failing instead of skipping" in result.stderr


def test_workstation_make_test_runs_pytest_with_the_reason(failing_install: dict[str, str]) -> None:
    result = make_test(failing_install)
    assert result.returncode == 0, result.stderr
    assert "pytest ran: PLANO_PGBOUNCER= SKIP_REASON=scripts/ensure-test-servers.sh failed (exit 100" in result.stdout
    assert "the integration tests will SKIP" in result.stderr


def test_without_apt_the_script_says_where_it_does_not_work(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "id", "awk", "sort", "head", "grep"):
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        [str(bin_dir / "bash"), "scripts/ensure-test-servers.sh"],
        cwd=PROJECT,
        env={"PATH": str(bin_dir), "PLANO_TEST_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "needs Debian or Ubuntu" in result.stderr and "PLANO_PGBOUNCER" in result.stderr


@pytest.mark.parametrize(
    ("environ", "outcome"),
    [
        ({"CI": "true"}, "CI=true, so the integration tests must run, not skip"),
        ({"PLANO_PGBOUNCER": "/x/pgbouncer"}, "PLANO_PGBOUNCER is set, so the test servers must run"),
        ({"CI": "false"}, "integration servers unavailable: no postgres"),
    ],
    ids=["ci", "make-promised-servers", "workstation"],
)
def test_missing_servers_fail_under_ci_and_skip_elsewhere(environ: dict[str, str], outcome: str) -> None:
    from tests.integration.conftest import servers_unavailable

    expected = pytest.skip.Exception if environ.get("CI") == "false" else pytest.fail.Exception
    with pytest.raises(expected, match=re.escape(outcome)):
        servers_unavailable("no postgres", environ)


def test_a_workstation_run_without_servers_ends_with_the_skip_banner(failing_install: dict[str, str]) -> None:
    env = {k: v for k, v in failing_install.items() if k != "PLANO_TEST_CACHE"}
    env.update(
        PLANO_PG_BIN="/nonexistent/postgresql/15/bin",
        PYTHONDONTWRITEBYTECODE="1",
        PLANO_TEST_SERVERS_SKIP_REASON="scripts/ensure-test-servers.sh failed (exit 100)",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/integration/test_tls.py", "-k", "verify"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-1500:]
    banner = result.stdout[result.stdout.rindex("INTEGRATION TESTS SKIPPED") :]
    assert "Reason: PostgreSQL 15 server binaries missing" in banner
    assert "Install: scripts/ensure-test-servers.sh failed (exit 100)" in banner
    assert "make servers" in banner
    assert result.stdout.rstrip().endswith("!" * 20)  # the last thing on the screen


@pytest.fixture
def failing_docker_install(failing_install: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The servers are there (a PgBouncer >= 1.21 in the cache); docker.io and debootstrap are not,
    and apt-get cannot install them."""
    bin_dir = Path(failing_install["PATH"].split(":", 1)[0])
    (bin_dir / "dpkg-query").write_text(
        '#!/bin/sh\ncase "$3" in docker.io|debootstrap) exit 1 ;; *) printf "install ok installed" ;; esac\n'
    )
    (bin_dir / "python").write_text(
        '#!/bin/sh\necho "pytest ran: ROOTFS=${PLANO_TEST_ROOTFS:-} DOCKER_SKIP=${PLANO_DOCKER_SKIP_REASON:-}"\n'
    )
    pgbouncer = Path(failing_install["PLANO_TEST_CACHE"]) / "pgbouncer" / "pgbouncer"
    pgbouncer.parent.mkdir(parents=True)
    pgbouncer.write_text('#!/bin/sh\necho "PgBouncer 1.24.1"\n')
    pgbouncer.chmod(0o755)
    return failing_install


def test_ci_make_test_fails_when_the_docker_engine_tests_cannot_get_their_images(
    failing_docker_install: dict[str, str],
) -> None:
    result = make_test({**failing_docker_install, "CI": "true"})
    assert result.returncode != 0
    assert "pytest ran" not in result.stdout
    assert "ensure-test-images: installing docker.io debootstrap" in result.stderr
    assert "CI=true: failing instead of skipping the Docker engine tests" in result.stderr


def test_workstation_make_test_skips_the_docker_engine_tests_with_the_reason(
    failing_docker_install: dict[str, str],
) -> None:
    result = make_test(failing_docker_install)
    assert result.returncode == 0, result.stderr
    assert "pytest ran: ROOTFS= DOCKER_SKIP=scripts/ensure-test-images.sh failed (exit 100" in result.stdout
    assert "the Docker engine tests will SKIP" in result.stderr
