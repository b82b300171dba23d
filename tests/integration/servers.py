"""Real servers for the state path: PostgreSQL 15 with TLS only, and the project's PgBouncer sidecar.

Used by the integration tests (``tests/integration/conftest.py``) and by ``scripts/bench.py``.
Everything lives in one temporary directory, on free ports of 127.0.0.1, and is stopped by
``StatePath.close()`` (also registered with ``atexit``), so nothing outlives the process.

What runs is what the task runs; only paths and ports differ:
- the init step is the project's ``init.sh`` with the environment of the task definition's
  ``init`` container (``plano_pulumi.aws.containers``), the password as its ``PGPASSWORD`` secret, and
  the RDS CA bundle URL pointing at a local HTTP server that serves the test's CA;
- PgBouncer runs the ``pgbouncer.ini`` that ``init.sh`` wrote, rendered by
  ``plano_pulumi.core.task_files.render_pgbouncer_ini`` with only the listen port, the database address
  and the config directory changed; it runs as the user ``init.sh`` hands its files to, as in the
  task (uid 998 there, ``postgres`` here when run as root: PgBouncer refuses to run as root);
- PostgreSQL stands in for RDS: ``ssl = on`` with a certificate from a CA generated here, a
  pg_hba.conf that has only ``hostssl`` lines (like ``rds.force_ssl = 1``), SCRAM passwords, and
  pg_cron preloaded with ``cron.database_name`` set to the application database.

The application role is not a superuser. It owns its database (like RDS's master user owns the
database RDS creates), and the superuser creates pg_cron and grants the role usage of it: on RDS
the master user is ``rds_superuser``, which may do both itself; vanilla PostgreSQL only lets a
superuser create pg_cron, so ``CREATE EXTENSION IF NOT EXISTS`` in schema.sql finds it present.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import http.server
import ipaddress
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from plano_pulumi.aws.containers import TaskInputs, container_definitions
from plano_pulumi.core.review_database import (
    MAINTENANCE_DB,
    PROVISIONER_VERIFIER_VAR,
    provisioner_role_name,
    scram_sha256_verifier,
)
from plano_pulumi.core.settings import Settings, TlsMode, load_settings
from plano_pulumi.core.task_files import (
    APP_PASSWORD_VAR,
    PGBOUNCER_INI_NAME,
    PgBouncerOptions,
    render_pgbouncer_ini,
    task_files,
)
from plano_tools.simulate import project_name, read_stack_config
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int8

PROJECT = Path(__file__).resolve().parents[2]
# Debian's postgresql-15; PLANO_PG_BIN points elsewhere (another layout, or a missing one to try the skip).
PG_BIN = Path(os.environ.get("PLANO_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_CRON_LIB = PG_BIN.parent / "lib" / "pg_cron.so"
PSQL = "/usr/bin/psql"
MIN_PGBOUNCER = (1, 21)
# The unprivileged system user that runs PostgreSQL (and PgBouncer) when we are root.
DB_SYSTEM_USER = "postgres"
LOOPBACK = "127.0.0.1"
OTHER_LOOPBACK = "127.0.0.2"
ADMIN_USER = "postgres"

# Plano 0.4.36's statements, verbatim from crates/brightstaff/src/state/postgresql.rs (DESIGN.md
# 2.2); tokio-postgres sends them as named prepared statements.
PLANO_TABLE_CHECK = """SELECT EXISTS (
                            SELECT FROM pg_tables
                            WHERE tablename = 'conversation_states'
                        )"""
PLANO_UPSERT = """
                INSERT INTO conversation_states
                    (response_id, input_items, created_at, model, provider, updated_at)
                VALUES ($1, $2, $3, $4, $5, NOW())
                ON CONFLICT (response_id)
                DO UPDATE SET
                    input_items = EXCLUDED.input_items,
                    model = EXCLUDED.model,
                    provider = EXCLUDED.provider,
                    updated_at = NOW()
                """
PLANO_SELECT = """
                SELECT response_id, input_items, created_at, model, provider
                FROM conversation_states
                WHERE response_id = $1
                """


@dataclass(frozen=True)
class ConversationState:
    """A row as Plano's OpenAIConversationState sees it."""

    response_id: str
    input_items: list[Any]
    created_at: int
    model: str
    provider: str


def plano_connect(params: Mapping[str, Any]) -> psycopg.Connection[Any]:
    """A connection used the way Plano uses its tokio-postgres client.

    Autocommit (each statement its own transaction), native ``$n`` placeholders (RawCursor) and
    every statement sent as a named prepared statement (prepare_threshold=0).
    """
    return psycopg.connect(**params, autocommit=True, prepare_threshold=0, cursor_factory=psycopg.RawCursor)


class PlanoStore:
    """Plano 0.4.36's PostgreSQLConversationStorage (put/get/table check), statements verbatim."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def table_exists(self) -> bool:
        row = self.conn.execute(PLANO_TABLE_CHECK).fetchone()
        return bool(row and row[0])

    def put(self, state: ConversationState) -> int:
        cur = self.conn.execute(
            PLANO_UPSERT,
            # Plano binds a serde_json::Value (jsonb) and an i64 (bigint).
            (state.response_id, Jsonb(state.input_items), Int8(state.created_at), state.model, state.provider),
        )
        return cur.rowcount

    def get(self, response_id: str) -> ConversationState | None:
        row = self.conn.execute(PLANO_SELECT, (response_id,)).fetchone()
        return None if row is None else ConversationState(*row)


class ServersUnavailableError(Exception):
    """A binary the servers need is missing on this machine (tests skip with this reason)."""


def generate_password(length: int = 32) -> str:
    """Alphanumeric, like the stack's generated password (DESIGN.md 2.4)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex((LOOPBACK, port)) == 0:
                return True
        time.sleep(0.02)
    return False


def _remove_tree(root: Path) -> None:
    """rmtree that also works without root: init.sh leaves PgBouncer's directory read-only (0500)."""
    for directory, _, _ in os.walk(root):
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)
    shutil.rmtree(root, ignore_errors=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------
# Binaries


def _pgbouncer_version(binary: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "PgBouncer":
            try:
                return tuple(int(p) for p in parts[1].split(".")[:2])
            except ValueError:
                return None
    return None


def find_pgbouncer() -> str:
    """PLANO_PGBOUNCER (set by `make test`), else the project's cached build, else PATH."""
    wanted = f">= {'.'.join(map(str, MIN_PGBOUNCER))}"
    explicit = os.environ.get("PLANO_PGBOUNCER")
    if explicit:
        version = _pgbouncer_version(explicit)
        if version is None or version < MIN_PGBOUNCER:
            # The caller promised a suitable binary: that is a broken setup, not a missing tool.
            raise RuntimeError(f"PLANO_PGBOUNCER={explicit} is not a runnable PgBouncer {wanted}")
        return explicit
    candidates = [str(PROJECT / ".cache" / "pgbouncer" / "pgbouncer")]
    on_path = shutil.which("pgbouncer")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        version = _pgbouncer_version(candidate)
        if version is not None and version >= MIN_PGBOUNCER:
            return candidate
    raise ServersUnavailableError(
        f"no PgBouncer {wanted} (set PLANO_PGBOUNCER, or run scripts/ensure-test-servers.sh, "
        "which builds one into .cache/pgbouncer; Debian bookworm's 1.18 lacks prepared statements "
        "in transaction pooling)"
    )


@dataclass(frozen=True)
class Tools:
    pgbouncer: str
    # Set when we are root: initdb/postgres/pg_ctl and PgBouncer refuse to run as root.
    system_user: pwd.struct_passwd | None

    def as_db_user(self, argv: Sequence[str]) -> list[str]:
        if self.system_user is None:
            return list(argv)
        return ["runuser", "-u", self.system_user.pw_name, "--", *argv]

    @property
    def uid(self) -> int:
        return os.getuid() if self.system_user is None else self.system_user.pw_uid

    @property
    def gid(self) -> int:
        return os.getgid() if self.system_user is None else self.system_user.pw_gid


def find_tools() -> Tools:
    """The binaries, or ServersUnavailableError naming what is missing."""
    missing = [str(PG_BIN / b) for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).is_file()]
    if missing:
        raise ServersUnavailableError(
            f"PostgreSQL 15 server binaries missing ({', '.join(missing)}): install postgresql-15"
        )
    if not PG_CRON_LIB.is_file():
        raise ServersUnavailableError(f"pg_cron missing ({PG_CRON_LIB}): install postgresql-15-cron")
    for tool, package in ((PSQL, "postgresql-client-15"), ("busybox", "busybox")):
        if shutil.which(tool) is None:
            raise ServersUnavailableError(f"{tool} missing (init.sh needs it): install {package}")
    system_user = None
    if os.geteuid() == 0:
        try:
            system_user = pwd.getpwnam(DB_SYSTEM_USER)
        except KeyError:
            raise ServersUnavailableError(
                f"running as root and there is no `{DB_SYSTEM_USER}` system user to run PostgreSQL"
            ) from None
        if shutil.which("runuser") is None:
            raise ServersUnavailableError("running as root and runuser (util-linux) is missing")
    return Tools(pgbouncer=find_pgbouncer(), system_user=system_user)


# --------------------------------------------------------------------------------------------
# Certificates


@dataclass(frozen=True)
class CertificateAuthority:
    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def generate(cls, name: str) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(name, key, cert)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue_server_cert(self, dns_names: Sequence[str], ips: Sequence[str]) -> tuple[bytes, bytes]:
        """(certificate PEM, private key PEM) for a TLS server with these names."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem


# --------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass
class Postgres:
    """One PostgreSQL 15 cluster that accepts only TLS (hostssl + SCRAM), with pg_cron."""

    tools: Tools
    root: Path  # owned by the database system user
    ca: CertificateAuthority
    ca_file: Path
    db_name: str
    user: str
    password: str
    port: int = field(default_factory=free_port)
    admin_password: str = field(default_factory=generate_password)
    # Where it listens and what its certificate names (the failover pair differs from the default).
    host: str = LOOPBACK
    listen: str = f"{LOOPBACK},{OTHER_LOOPBACK}"
    cert_names: tuple[str, ...] = ("localhost",)
    cert_ips: tuple[str, ...] = (LOOPBACK,)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def _run(self, argv: Sequence[str], *, timeout_s: float = 60) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        proc = subprocess.run(
            self.tools.as_db_user(argv),
            cwd=self.root,  # the caller's directory may be closed to the system user
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}\n"
                f"postgres.log:\n{_tail(self.log_file)}"
            )

    def init(self) -> None:
        self.root.mkdir(mode=0o700)
        pwfile = self.root / "admin.pw"
        pwfile.write_text(self.admin_password + "\n")
        cert_pem, key_pem = self.ca.issue_server_cert(list(self.cert_names), list(self.cert_ips))
        if self.tools.system_user is not None:
            os.chown(self.root, self.tools.uid, self.tools.gid)
            os.chown(pwfile, self.tools.uid, self.tools.gid)
        self._run(
            [
                str(PG_BIN / "initdb"),
                "--no-sync",
                "--pgdata",
                str(self.data_dir),
                "--username",
                ADMIN_USER,
                "--pwfile",
                str(pwfile),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
            ]
        )
        pwfile.unlink()
        (self.data_dir / "server.crt").write_bytes(cert_pem)
        key_file = self.data_dir / "server.key"
        key_file.write_bytes(key_pem)
        key_file.chmod(0o600)
        # Like rds.force_ssl = 1: no `host` or `local` line, so plain text matches no entry.
        (self.data_dir / "pg_hba.conf").write_text(
            "# TYPE   DATABASE USER ADDRESS        METHOD\nhostssl  all      all  127.0.0.0/8    scram-sha-256\n"
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"""
# Written by tests/integration/servers.py
# OTHER_LOOPBACK reaches the server under an address its certificate does not name.
listen_addresses = '{self.listen}'
port = {self.port}
unix_socket_directories = ''
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'pg_cron'
cron.database_name = '{self.db_name}'
max_connections = 40
shared_buffers = 32MB
# A test cluster: durability is not under test, speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
"""
            )
        for path in (self.data_dir / "server.crt", key_file, self.data_dir / "pg_hba.conf"):
            if self.tools.system_user is not None:
                os.chown(path, self.tools.uid, self.tools.gid)

    def _pg_ctl(self, action: str, *args: str) -> None:
        argv = [str(PG_BIN / "pg_ctl"), action, *args, "-w", "-t", "60", "-D", str(self.data_dir)]
        if action != "stop":
            # The postmaster logs to a file; without -l it would hold our stdout pipe open.
            argv += ["-l", str(self.log_file)]
        self._run(argv)

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every client's server connection is terminated."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            self._pg_ctl("stop", "-m", "fast")
        except (RuntimeError, subprocess.TimeoutExpired):
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGQUIT)  # immediate shutdown

    def bootstrap(self) -> None:
        """The application role and database, as RDS creates them, and pg_cron (see module doc)."""
        with self.admin("postgres") as conn:
            conn.execute(
                # Like RDS's master user: CREATEROLE (init.sh creates Plano's role) and CREATEDB (it
                # gives review stacks' provisioning role CREATEDB), no superuser.
                sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(self.db_name), sql.Identifier(self.user))
            )
        with self.admin(self.db_name) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA cron TO {}").format(sql.Identifier(self.user)))

    def conninfo(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for a direct TLS connection (verify-full against the test CA)."""
        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.db_name,
            "user": self.user,
            "password": self.password,
            "sslmode": "verify-full",
            "sslrootcert": str(self.ca_file),
            "connect_timeout": 10,
        }
        params.update(overrides)
        return params

    def connect(self, **overrides: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.conninfo(**overrides), autocommit=True)

    def admin(self, dbname: str) -> psycopg.Connection[Any]:
        return self.connect(dbname=dbname, user=ADMIN_USER, password=self.admin_password)

    def wait_accepting(self, timeout_s: float = 30) -> None:
        """Until a TLS login succeeds (what an orchestrator's health check waits for)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with self.connect(connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# The RDS CA bundle URL, served locally


class FileServer:
    """A tiny HTTP server on 127.0.0.1 serving fixed files (stands in for truststore.pki.rds)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="ca-bundle-server", daemon=True
        )
        self.thread.start()

    def url(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return f"http://{LOOPBACK}:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------------
# The task's init step and PgBouncer


def stack_settings(stack: str = "dev") -> Settings:
    """A committed stack's validated settings, read the way `python -m plano_tools render` does."""
    raw = read_stack_config(PROJECT, stack)
    return load_settings(
        raw, project=project_name(PROJECT), stack=stack, base_dir=PROJECT, region=raw.values.get("aws:region")
    )


def task_init_container(
    settings: Settings, *, db_host: str, db_port: int, tls_mode: TlsMode, pgbouncer_ini: str
) -> dict[str, Any]:
    """The task definition's `init` container for these settings, pointed at the test database.

    A stack whose server carries review databases (dev) also gets the provisioning role's verifier;
    a review stack's init logs in to ``postgres`` as dev's provisioning role (its PGPASSWORD)."""
    files = {**task_files(settings.plano.text, settings.database, db_host, db_port), PGBOUNCER_INI_NAME: pgbouncer_ini}
    plano = settings.plano
    inputs = TaskInputs(
        region=settings.region,
        log_group="test",
        plano_image="plano",
        pgbouncer_image="pgbouncer",
        init_image="init",
        db_host=db_host,
        db_port=db_port,
        db_name=settings.database.name,
        db_user=settings.database.user,
        tls_mode=tls_mode,
        db_password_arn="arn:aws:secretsmanager:test",
        app_user=settings.database.app_user,
        app_password_arn="arn:aws:secretsmanager:test-app",
        files=files,
        listeners=plano.listeners,
        health_port=plano.health_listener.port,
        init_db_name=MAINTENANCE_DB if settings.database.shared is not None else "",
        init_secret_arns=(
            {PROVISIONER_VERIFIER_VAR: "arn:aws:secretsmanager:test-verifier"}
            if settings.database.review_stacks > 0
            else {}
        ),
    )
    init = next(c for c in container_definitions(inputs) if c["name"] == "init")
    verifier = [PROVISIONER_VERIFIER_VAR] if settings.database.review_stacks > 0 else []
    assert [s["name"] for s in init["secrets"]] == ["PGPASSWORD", APP_PASSWORD_VAR, *verifier], init["secrets"]
    return init


@dataclass
class InitRun:
    argv: list[str]
    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str
    plano_dir: Path
    pgbouncer_dir: Path


@dataclass
class PgBouncer:
    """The sidecar process on the files an init run wrote."""

    tools: Tools
    config_dir: Path
    port: int
    log_file: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10) -> None:
        ini = self.config_dir / PGBOUNCER_INI_NAME
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.tools.pgbouncer, str(ini)],
                cwd=self.config_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                start_new_session=True,
                # As the task: PgBouncer runs as the user init.sh handed its files to.
                user=self.tools.uid if self.tools.system_user else None,
                group=self.tools.gid if self.tools.system_user else None,
                extra_groups=[] if self.tools.system_user else None,
            )
        proc = self.proc
        if not wait_for_port(self.port, timeout_s=timeout_s, alive=lambda: proc.poll() is None):
            self.stop()
            raise RuntimeError(f"PgBouncer did not start on port {self.port}:\n{_tail(self.log_file)}")

    def request_stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # SIGINT: "safe shutdown"; since 1.23 SIGTERM waits for every client to disconnect.
            self.proc.send_signal(signal.SIGINT)

    def stop(self) -> None:
        self.request_stop()
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def conninfo(self, *, user: str, password: str, dbname: str, **overrides: Any) -> dict[str, Any]:
        """What Plano's connection string says: plain text to the sidecar on the loopback."""
        params: dict[str, Any] = {
            "host": LOOPBACK,
            "port": self.port,
            "dbname": dbname,
            "user": user,
            "password": password,
            "sslmode": "disable",
            "connect_timeout": 10,
        }
        params.update(overrides)
        return params

    def log(self) -> str:
        return _tail(self.log_file, 50)


@dataclass
class Sidecar:
    """One init run and the PgBouncer started on its output."""

    tls_mode: TlsMode
    init: InitRun
    pgbouncer: PgBouncer
    user: str
    password: str
    db_name: str

    def connect(self, *, password: str | None = None, **overrides: Any) -> psycopg.Connection[Any]:
        """Like Plano: one connection, autocommit, every statement named and prepared."""
        params = self.pgbouncer.conninfo(
            user=self.user, password=self.password if password is None else password, dbname=self.db_name
        )
        params.update(overrides)
        return plano_connect(params)


class StatePath:
    """PostgreSQL + the CA server + sidecars, all under one temporary directory.

    Use as a context manager, or call close(); close() is idempotent and runs at exit.
    """

    def __init__(
        self,
        *,
        stack: str = "dev",
        tools: Tools | None = None,
    ) -> None:
        self.tools = tools or find_tools()
        self.settings = stack_settings(stack)
        self.db_name = self.settings.database.name
        self.user = self.settings.database.user  # the master user (RDS's), owner of the database
        self.password = generate_password()
        self.app_user = self.settings.database.app_user  # Plano's role, created by init.sh
        self.app_password = generate_password()
        # Review stacks' provisioning role, which dev's init step creates from the password's verifier.
        self.provisioner = provisioner_role_name(self.user)
        self.provisioner_password = generate_password()
        self.provisioner_verifier = scram_sha256_verifier(self.provisioner_password, secrets.token_bytes(16))
        self._cleanup = contextlib.ExitStack()
        self._bouncers: list[PgBouncer] = []
        self._closed = False
        atexit.register(self.close)
        self.base = Path(tempfile.mkdtemp(prefix="plano-state-path-"))
        self._cleanup.callback(_remove_tree, self.base)
        # The database system user must reach its own directories below this one.
        self.base.chmod(0o755)
        try:
            if self.tools.system_user is not None:
                # The system user may not reach the checkout (e.g. under /root): run a copy.
                binary = self.base / "pgbouncer"
                shutil.copy2(self.tools.pgbouncer, binary)
                self.tools = replace(self.tools, pgbouncer=str(binary))
            self.ca = CertificateAuthority.generate("plano test RDS CA")
            self.wrong_ca = CertificateAuthority.generate("plano test wrong CA")
            self.pki = self.base / "pki"
            self.pki.mkdir()
            self.ca_file = self.pki / "ca.pem"
            self.ca_file.write_bytes(self.ca.pem)
            self.files = FileServer()
            self._cleanup.callback(self.files.close)
            self.pg = Postgres(
                tools=self.tools,
                root=self.base / "pg",
                ca=self.ca,
                ca_file=self.ca_file,
                db_name=self.db_name,
                user=self.user,
                password=self.password,
            )
            self.pg.init()
            self._cleanup.callback(self.pg.stop)
            self.pg.start()
            self.pg.bootstrap()
            self._cleanup.callback(self._stop_pgbouncers)  # runs before pg.stop
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> StatePath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cleanup.close()
        atexit.unregister(self.close)

    # -- the task's init step ------------------------------------------------------------------

    def pgbouncer_ini(
        self, tls_mode: TlsMode, *, listen_port: int, config_dir: Path, db_host: str = LOOPBACK, db_name: str = ""
    ) -> str:
        """The task's pgbouncer.ini; only the database address, listen port and paths differ."""
        return render_pgbouncer_ini(
            PgBouncerOptions(
                db_host=db_host,
                db_port=self.pg.port,
                db_name=db_name or self.db_name,
                tls_mode=tls_mode,
                listen_port=listen_port,
                config_dir=str(config_dir),
                stats_user=self.app_user,
            )
        )

    def run_init(
        self,
        name: str,
        tls_mode: TlsMode,
        *,
        listen_port: int,
        ca_pem: bytes | None = None,
        ca_in_env: bool = False,
        timeout_s: float = 60,
        settings: Settings | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> InitRun:
        """Run the project's init.sh as the task does (sh -c SCRIPT, the init container's env).

        ``settings`` another stack's (a review stack's), with ``secrets`` its ECS secrets
        (PGPASSWORD, APP_DB_PASSWORD); by default the session's dev stack with its own."""
        settings = settings or self.settings
        out = self.base / f"init-{name}"
        out.mkdir(mode=0o755)
        plano_dir, pgbouncer_dir = out / "plano", out / "pgbouncer"
        ini = self.pgbouncer_ini(
            tls_mode, listen_port=listen_port, config_dir=pgbouncer_dir, db_name=settings.database.name
        )
        init = task_init_container(
            settings, db_host=LOOPBACK, db_port=self.pg.port, tls_mode=tls_mode, pgbouncer_ini=ini
        )
        env = {e["name"]: e["value"] for e in init["environment"]}
        if "RDS_CA_BUNDLE_URL" in env and ca_in_env:
            # As the local stack (Docker) hands init.sh its own CA: the PEM itself, no download.
            del env["RDS_CA_BUNDLE_URL"]
            env["DB_CA_BUNDLE_PEM"] = (self.ca.pem if ca_pem is None else ca_pem).decode()
        if "RDS_CA_BUNDLE_URL" in env:
            env["RDS_CA_BUNDLE_URL"] = self.files.url(f"/{name}/bundle.pem", self.ca.pem if ca_pem is None else ca_pem)
        home = out / "home"
        home.mkdir()
        env.update(
            {
                # The ECS secrets.
                **(
                    secrets
                    or {
                        "PGPASSWORD": self.password,
                        APP_PASSWORD_VAR: self.app_password,
                        PROVISIONER_VERIFIER_VAR: self.provisioner_verifier,
                    }
                ),
                "PLANO_DIR": str(plano_dir),
                "PGBOUNCER_DIR": str(pgbouncer_dir),
                "PGBOUNCER_UID": str(self.tools.uid),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(home),  # no ~/.postgresql/root.crt or ~/.pgpass can interfere
            }
        )
        # The init image is Alpine: its sh and wget are BusyBox applets. Run the script with those,
        # not the host's dash and GNU wget, so their dialect and flags are what is tested.
        applets = self.base / "busybox-bin"
        if not applets.is_dir():
            applets.mkdir()
            busybox = shutil.which("busybox")
            assert busybox is not None
            for applet in ("sh", "wget", "timeout"):
                (applets / applet).symlink_to(busybox)
        env["PATH"] = f"{applets}:{env['PATH']}"
        argv = [*init["entryPoint"], *init["command"]]
        with subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        ) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the script and its psql/sleep children
                stdout, stderr = proc.communicate()
        return InitRun(argv, env, proc.returncode, stdout, stderr, plano_dir, pgbouncer_dir)

    def start_pgbouncer(self, name: str, config_dir: Path, port: int) -> PgBouncer:
        bouncer = PgBouncer(self.tools, config_dir, port, self.base / f"pgbouncer-{name}.log")
        self._bouncers.append(bouncer)
        bouncer.start()
        return bouncer

    def _stop_pgbouncers(self) -> None:
        for bouncer in self._bouncers:  # all at once: each takes a few hundred ms to wind down
            bouncer.request_stop()
        for bouncer in self._bouncers:
            bouncer.stop()

    def sidecar(self, name: str, tls_mode: TlsMode) -> Sidecar:
        """init.sh writes the files and applies the schema; then PgBouncer runs on them."""
        port = free_port()
        init = self.run_init(name, tls_mode, listen_port=port)
        if init.returncode != 0:
            raise RuntimeError(f"init.sh exited {init.returncode}:\n{init.stdout}{init.stderr}")
        bouncer = self.start_pgbouncer(name, init.pgbouncer_dir, port)
        # Plano logs in as its own role; the sidecar has no other credentials.
        return Sidecar(tls_mode, init, bouncer, self.app_user, self.app_password, self.db_name)

    def psql_apply(self, script: str) -> subprocess.CompletedProcess[str]:
        """Apply SQL the way init.sh does: psql -X -q -v ON_ERROR_STOP=1 -f -, over verify-full TLS."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.base),
            "PGHOST": LOOPBACK,
            "PGPORT": str(self.pg.port),
            "PGDATABASE": self.db_name,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            APP_PASSWORD_VAR: self.app_password,
            PROVISIONER_VERIFIER_VAR: self.provisioner_verifier,
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": str(self.ca_file),
            "PGCONNECT_TIMEOUT": "10",
        }
        return subprocess.run(
            [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            input=script,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
