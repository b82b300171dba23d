"""Review stacks on dev's database server: names, SQL and connection arithmetic (pure).

A review stack (``plano:sharedDatabase`` set) creates no database server. Its task's init step runs
the same ``init.sh`` as every stack, logged in as dev's *provisioning role* (a role that may create
databases and roles and nothing more), and applies ``render_review_schema_sql``: its own database,
its own owner role (no login), its own app role with the password from its own secret, Plano's
table and the grants. ``CONNECT`` on every Plano database is revoked from ``PUBLIC``, so a review
stack's app role reaches only its own database; each database is owned by its own role.

Dev creates the provisioning role in its own init step (``render_provisioner_sql``, run as dev's
master user) from a SCRAM verifier, so dev's task never holds the provisioning password; only review
stacks' execution roles (and the janitor's) may read that secret.

PostgreSQL 15 and older let a ``CREATEROLE`` role alter, drop and grant membership in *any*
non-superuser role (dev's master and app roles included): there the provisioning role would be as
strong as dev's master. PostgreSQL 16 limits ``CREATEROLE`` to roles the creator holds ``ADMIN
OPTION`` on (the roles it created). So the program refuses review databases on a server older than
16 (``MIN_PROVISIONER_MAJOR``); the SQL below also runs on 15, which the integration tests use.

The janitor (``render_janitor_sql``) drops every review database, and its two roles, whose stack
is not in a list of live ones: a destroy that died halfway is cleaned up on the next run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import sys
from dataclasses import dataclass

# PostgreSQL 16: CREATEROLE only over the roles the creator administers (see the module docstring).
MIN_PROVISIONER_MAJOR = 16
PROVISIONER_SUFFIX = "_provisioner"
# Review databases and their roles are named <dev dbName>_rv_<stack>: the janitor only ever
# considers names with this mark, and only drops a database owned by the role of the same name.
REVIEW_MARK = "_rv_"
APP_SUFFIX = "_app"
MAX_IDENTIFIER = 63
HASH_LEN = 6
# The init container's env var with the provisioning role's SCRAM verifier (dev's init step only).
PROVISIONER_VERIFIER_VAR = "PROVISIONER_DB_VERIFIER"
# The janitor's env var: comma-separated review databases to keep (those of live stacks).
KEEP_DATABASES_VAR = "KEEP_DATABASES"
JANITOR_CONTAINER = "janitor"
# Creating and dropping review databases serialise on this lock (task_files.SCHEMA_LOCK_ID + 1).
PROVISIONING_LOCK_ID = 7_420_037
# Maintenance database the provisioning role connects to before its database exists.
MAINTENANCE_DB = "postgres"

# PgBouncer's server connections per task at most (task_files.render_pgbouncer_ini:
# default_pool_size + reserve_pool_size), plus the init step's one psql while a task starts.
POOL_CONNECTIONS_PER_TASK = 10 + 2
INIT_CONNECTIONS_PER_STACK = 1
# Reserved on the server: superuser_reserved_connections (3) and RDS's
# rds.rds_superuser_reserved_connections (2), plus room for a human with psql and the janitor.
RESERVED_CONNECTIONS = 3 + 2 + 5

# Aurora PostgreSQL Serverless v2's default max_connections by maximum ACU (AWS, "Maximum
# connections for Aurora Serverless v2"); between these it follows LEAST(memory/9531392, 5000),
# which is linear in ACU (about 211 per ACU). With a minimum capacity of 0 or 0.5 ACU it is
# capped at 2,000.
AURORA_MAX_CONNECTIONS = {1: 189, 4: 823, 8: 1669, 16: 3360, 32: 5000}
AURORA_CONNECTIONS_PER_ACU = 211.4
AURORA_MAX_CONNECTIONS_CAP = 5000
AURORA_LOW_MIN_CAP = 2000
# RDS PostgreSQL: LEAST(DBInstanceClassMemory/9531392, 5000); memory (GiB) of the sizes a dev
# stack uses. Other classes are not checked (the docs say how to work it out).
RDS_MEMORY_GIB = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}


@dataclass(frozen=True)
class ReviewDatabaseNames:
    """A review stack's database, the role that owns it (no login) and Plano's role in it."""

    database: str
    owner: str
    app_user: str


def provisioner_role_name(master_user: str) -> str:
    """Dev's provisioning role: the master user's name with ``_provisioner`` (63 characters at most)."""
    return f"{master_user[: MAX_IDENTIFIER - len(PROVISIONER_SUFFIX)]}{PROVISIONER_SUFFIX}"


def review_prefix(base_db_name: str) -> str:
    return f"{base_db_name}{REVIEW_MARK}"


def review_database_names(base_db_name: str, stack: str) -> ReviewDatabaseNames:
    """``<base>_rv_<stack>``: ``_`` for ``-``; a hash when anything else was altered, or shortened.

    The same stack always gets the same names; two stacks never share them; the app role's name
    (``_app`` added) stays within PostgreSQL's 63 characters.
    """
    prefix = review_prefix(base_db_name)
    slug = re.sub(r"[^a-z0-9]+", "_", stack.lower()).strip("_")
    room = MAX_IDENTIFIER - len(APP_SUFFIX) - len(prefix)
    # Lower-case words joined by single hyphens (pr-123) map one to one; anything else gets a hash.
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", stack) or len(slug) > room:
        digest = hashlib.sha256(stack.encode()).hexdigest()[:HASH_LEN]
        slug = f"{slug[: room - HASH_LEN - 1]}_{digest}".lstrip("_")
    database = f"{prefix}{slug}"
    return ReviewDatabaseNames(database=database, owner=database, app_user=f"{database}{APP_SUFFIX}")


def scram_sha256_verifier(password: str, salt: bytes, iterations: int = 4096) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (what ``pg_authid`` holds).

    ``ALTER ROLE ... PASSWORD '<verifier>'`` sets the password without the server, the statement or
    the caller ever seeing it. The password is alphanumeric, so SASLprep leaves it unchanged.
    """
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def render_provisioner_sql(provisioner: str, connection_limit: int) -> str:
    r"""Dev's init step (as the master user): the provisioning role, created or updated.

    It may log in, create databases and create roles; it is no member of any role and owns nothing
    of dev's. The password arrives as a SCRAM verifier (``PROVISIONER_DB_VERIFIER``, an ECS secret).
    """
    return f"""\
-- Review stacks' provisioning role: CREATEDB and CREATEROLE, nothing else (docs/review-environments.md).
\\getenv provisioner_verifier {PROVISIONER_VERIFIER_VAR}
DO $provisioner$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{provisioner}') THEN
        CREATE ROLE "{provisioner}";
    END IF;
END
$provisioner$;
ALTER ROLE "{provisioner}" WITH LOGIN CREATEDB CREATEROLE
    CONNECTION LIMIT {connection_limit} PASSWORD :'provisioner_verifier';
"""


def render_review_schema_sql(
    names: ReviewDatabaseNames, *, app_connection_limit: int, table: str, table_sql: str
) -> str:
    r"""A review stack's init step, as the provisioning role: its database, roles, table, grants.

    Starts on the maintenance database (``PGDATABASE=postgres``), where it creates, only if
    missing, the owner role (no login), Plano's role and the database owned by the owner; sets
    Plano's role's password from ``APP_DB_PASSWORD`` and revokes ``CONNECT`` from ``PUBLIC``. Then it
    connects to the new database and, as the owner, creates Plano's table and grants. Applying it
    twice changes nothing; concurrent task starts serialise on advisory locks. ``table_sql`` is
    Plano's table with its indexes (``task_files.render_table_sql``: the same DDL as every stack's,
    opening a transaction that takes the schema lock), ``table`` its qualified name.
    """
    db, owner, app = names.database, names.owner, names.app_user
    return f"""\
-- A review stack's own database on dev's server. Rendered by this project; applied by the init
-- step as dev's provisioning role, which never receives dev's master password.
\\getenv app_password APP_DB_PASSWORD
SELECT pg_advisory_lock({PROVISIONING_LOCK_ID});
-- PostgreSQL 16+: the creator of a role gets ADMIN OPTION only; also take SET and INHERIT, so it
-- can create the database owned by that role and act as it. On 15, CREATEROLE grants it directly.
SELECT current_setting('server_version_num')::int >= 160000 AS scoped_createrole \\gset
\\if :scoped_createrole
SET createrole_self_grant = 'set, inherit';
\\endif
SELECT 'CREATE ROLE "{owner}" NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{owner}') \\gexec
SELECT 'CREATE ROLE "{app}" LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app}') \\gexec
\\if :scoped_createrole
\\else
GRANT "{owner}", "{app}" TO CURRENT_USER;
\\endif
ALTER ROLE "{app}" WITH LOGIN NOCREATEDB NOCREATEROLE
    CONNECTION LIMIT {app_connection_limit} PASSWORD :'app_password';
SELECT 'CREATE DATABASE "{db}" OWNER "{owner}"'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{db}') \\gexec
-- Only Plano's role and the owner reach this database; nobody reaches another stack's.
REVOKE ALL ON DATABASE "{db}" FROM PUBLIC;
GRANT CONNECT ON DATABASE "{db}" TO "{app}";
SELECT pg_advisory_unlock({PROVISIONING_LOCK_ID});
\\connect "{db}"
SET ROLE "{owner}";
{table_sql}REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO "{app}";
GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{app}";
COMMIT;
"""


def render_janitor_sql(base_db_name: str) -> str:
    r"""Drop every review database (and its two roles) not listed in ``KEEP_DATABASES``.

    Run as the provisioning role on the maintenance database. Candidates are names with the review
    mark: databases, owner roles and app roles (a destroy that died between the steps leaves any
    of them). A database is dropped only when its owner is the role of the same name, so dev's
    database (owned by dev's master) can never match; on PostgreSQL 16+ the provisioning role
    could not drop dev's roles anyway.
    """
    prefix = review_prefix(base_db_name).replace("_", "\\_")
    return f"""\
-- Review databases whose stacks are gone. Rendered by this project; run by the janitor task.
\\getenv keep {KEEP_DATABASES_VAR}
SELECT pg_advisory_lock({PROVISIONING_LOCK_ID});
WITH names AS (
    SELECT datname AS name FROM pg_database d JOIN pg_roles o ON o.oid = d.datdba
        WHERE datname LIKE '{prefix}%' AND o.rolname = d.datname
    UNION SELECT rolname FROM pg_roles WHERE rolname LIKE '{prefix}%' AND rolname NOT LIKE '%\\{APP_SUFFIX}'
    UNION SELECT left(rolname, -{len(APP_SUFFIX)}) FROM pg_roles WHERE rolname LIKE '{prefix}%\\{APP_SUFFIX}'
)
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', name),
       format('DROP ROLE IF EXISTS %I', name || '{APP_SUFFIX}'),
       format('DROP ROLE IF EXISTS %I', name)
FROM names
WHERE name <> ALL (string_to_array(coalesce(:'keep', ''), ','))
  AND NOT EXISTS (SELECT FROM pg_database d JOIN pg_roles o ON o.oid = d.datdba
                  WHERE d.datname = names.name AND o.rolname <> names.name)
ORDER BY name \\gexec
SELECT pg_advisory_unlock({PROVISIONING_LOCK_ID});
"""


def render_janitor_script() -> str:
    """The janitor container's program (the init image: sh, psql, BusyBox's wget): the server's CA
    as init.sh gets it (verify-full), then ``JANITOR_SQL`` as the provisioning role."""
    return """\
#!/bin/sh
# Drops the review databases of stacks that no longer exist (KEEP_DATABASES lists the live ones).
set -eu
umask 077
# Set by each run (a container override); empty keeps nothing, unset is refused.
: "${KEEP_DATABASES?KEEP_DATABASES must list the live review databases (comma-separated; may be empty)}"
if [ "$PGSSLMODE" = "verify-full" ]; then
    ca="${CA_DIR:-/tmp}/rds-ca.pem"
    attempt=1
    until timeout 30 wget -q -O "$ca" "$RDS_CA_BUNDLE_URL"; do
        if [ "$attempt" -ge 5 ]; then
            echo "janitor: could not download $RDS_CA_BUNDLE_URL" >&2
            exit 1
        fi
        attempt=$((attempt + 1))
        sleep 3
    done
    grep -q 'BEGIN CERTIFICATE' "$ca" || { echo "janitor: no certificate in $RDS_CA_BUNDLE_URL" >&2; exit 1; }
    export PGSSLROOTCERT="$ca"
fi
printf '%s' "$JANITOR_SQL" | psql -X -q -v ON_ERROR_STOP=1 -f -
echo "janitor: review databases of stacks not in KEEP_DATABASES dropped"
"""


# --- Connections: dev's server carries dev and every review stack ------------------------------


def connections_per_stack(max_tasks: int) -> int:
    """Server connections one stack can hold at most: PgBouncer's pool per task, plus its init."""
    return max_tasks * POOL_CONNECTIONS_PER_TASK + INIT_CONNECTIONS_PER_STACK


def aurora_max_connections(max_acu: float, min_acu: float) -> int:
    """Aurora PostgreSQL Serverless v2's default max_connections for a capacity range."""
    if max_acu in AURORA_MAX_CONNECTIONS:
        value = AURORA_MAX_CONNECTIONS[int(max_acu)]
    else:
        value = int(AURORA_CONNECTIONS_PER_ACU * max_acu - 22)
    value = min(value, AURORA_MAX_CONNECTIONS_CAP)
    return min(value, AURORA_LOW_MIN_CAP) if min_acu < 1 else value


def rds_max_connections(instance_class: str) -> int | None:
    """RDS PostgreSQL's default max_connections for the common sizes; None when not known here."""
    size = instance_class.rsplit(".", 1)[-1]
    gib = RDS_MEMORY_GIB.get(size)
    if gib is None:
        return None
    # DBInstanceClassMemory is what is left after the OS and RDS's processes: about 80%.
    return min(int(gib * 1024**3 * 0.8 / 9531392), 5000)


def review_stacks_that_fit(max_connections: int, dev_max_tasks: int, review_max_tasks: int) -> int:
    """How many review stacks (each like dev: same task counts) fit next to dev on one server."""
    free = max_connections - RESERVED_CONNECTIONS - connections_per_stack(dev_max_tasks)
    return max(free // connections_per_stack(review_max_tasks), 0)


# --- AWS documents (plain values in, JSON-ready dicts out) -------------------------------------


def review_execution_role_pattern(project_slug: str) -> str:
    """Execution roles of review stacks (``pr-<n>``), as names.Names builds them."""
    return f"{project_slug}-pr-*-execution"


def provisioner_secret_policy(*, project_slug: str, account_id: str, partition: str) -> dict[str, object]:
    """The provisioning secret's resource policy: of this project's task and execution roles, only
    review stacks' execution roles may read it (their identity policies, and the janitor's, grant it).

    Dev's and prod's roles, and every stack's task role (Plano itself), are refused even if an
    identity policy allowed them. Deploying principals and administrators are not this project's
    roles and keep what IAM gives them (Pulumi reads the value back after writing it).
    """
    role = f"arn:{partition}:iam::{account_id}:role"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyReviewStacksExecutionRoles",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "aws:PrincipalArn": [f"{role}/{project_slug}-*-execution", f"{role}/{project_slug}-*-task"]
                    },
                    "ArnNotLike": {"aws:PrincipalArn": f"{role}/{review_execution_role_pattern(project_slug)}"},
                },
            }
        ],
    }


def secret_name_from_arn(arn: str) -> str:
    """A Secrets Manager ARN's secret name (the ARN ends in ``-`` and six random characters)."""
    name = arn.split(":secret:", 1)[-1]
    return re.sub(r"-[A-Za-z0-9]{6}$", "", name)


def main(argv: list[str]) -> int:
    """``python -m plano_pulumi.core.review_database BASE_DB_NAME [STACK...]``: the review databases
    of these stacks, comma-separated (what the janitor keeps; scripts/ci/drop-review-databases.sh)."""
    if not argv:
        print("usage: python -m plano_pulumi.core.review_database BASE_DB_NAME [STACK...]", file=sys.stderr)
        return 2
    base, stacks = argv[0], argv[1:]
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", base):
        print(f"review_database: {base!r} is not a database name", file=sys.stderr)
        return 2
    print(",".join(review_database_names(base, stack).database for stack in stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
