"""The end-to-end test's database check: psql over TLS (verify-full), as an operator would run it.

Used against the local stack's PostgreSQL (published on 127.0.0.1) and, in ``make test``, against
the integration servers, so the check itself is tested without Docker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROW_COUNT_SQL = "SELECT count(*) FROM public.conversation_states WHERE response_id = :'response_id';\n"


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    dbname: str
    user: str
    password: str
    ca_file: Path
    sslmode: str = "verify-full"


class PsqlError(Exception):
    pass


def psql_binary() -> str | None:
    return os.environ.get("PLANO_PSQL") or shutil.which("psql")


def conversation_rows(db: Database, response_id: str, *, timeout_s: float = 30) -> int:
    """How many rows of Plano's table hold ``response_id`` (0 or 1), read with psql over TLS."""
    psql = psql_binary()
    if psql is None:
        raise PsqlError("psql is not installed (postgresql-client)")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(db.ca_file.parent),  # no ~/.pgpass or ~/.postgresql of the caller
        "PGHOST": db.host,
        "PGPORT": str(db.port),
        "PGDATABASE": db.dbname,
        "PGUSER": db.user,
        "PGPASSWORD": db.password,
        "PGSSLMODE": db.sslmode,
        "PGSSLROOTCERT": str(db.ca_file),
        "PGCONNECT_TIMEOUT": "10",
    }
    result = subprocess.run(
        [psql, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"response_id={response_id}", "-f", "-"],
        input=ROW_COUNT_SQL,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.replace(db.password, "[secret]").strip()
        raise PsqlError(f"psql exited {result.returncode}: {message}")
    return int(result.stdout.strip())
