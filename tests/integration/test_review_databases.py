"""Review databases on the real servers: dev's provisioning role, two review stacks' databases made
by the same init.sh, isolation, idempotence, and the janitor's drop.

The session's PostgreSQL plays dev's server: its init step (dev's settings carry review stacks)
has created the provisioning role from its verifier. Each review stack here is the program's own
settings for ``pr-<n>`` with ``plano:sharedDatabase`` set, and its init container is the task
definition's, run with busybox sh like every init in these tests.

The servers run PostgreSQL 15, where CREATEROLE reaches every non-superuser role: the program
refuses review databases on a server older than 16 (tests/aws/test_review_databases.py), and
``test_on_15_createrole_reaches_devs_roles`` shows why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from plano_pulumi.aws.review_database import ReviewJanitorArgs, janitor_container_definitions
from plano_pulumi.core.review_database import KEEP_DATABASES_VAR, review_database_names
from plano_pulumi.core.settings import Settings, TlsMode, load_settings
from plano_pulumi.core.task_files import APP_PASSWORD_VAR
from plano_tools.simulate import project_name, read_stack_config
from psycopg import sql

from tests.conftest import config_for
from tests.integration.servers import (
    LOOPBACK,
    PROJECT,
    ConversationState,
    PlanoStore,
    Sidecar,
    StatePath,
    free_port,
    generate_password,
    plano_connect,
)

pytestmark = pytest.mark.integration

PROVISIONER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/db-provisioner-AbC123"
DEV_KEYS = {
    name: f"arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/provider-keys/{name}-XyZ789"
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
}


def review_settings(servers: StatePath, stack: str) -> Settings:
    """The program's settings for review stack ``stack`` on the session's server."""
    raw = config_for(
        "dev",
        values={
            "sharedDatabase": {
                "address": "plano-dev.cluster-test.us-east-1.rds.amazonaws.com",
                "port": servers.pg.port,
                "securityGroupId": "sg-0a1b2c3d4e5f60799",
                "provisionerSecretArn": PROVISIONER_ARN,
            },
            "sharedProviderKeySecretArns": DEV_KEYS,
        },
    )
    assert read_stack_config(PROJECT, "dev").values  # the committed dev file is what review stacks copy
    return load_settings(raw, project=project_name(PROJECT), stack=stack, base_dir=PROJECT, region="us-east-1")


@dataclass
class Review:
    stack: str
    settings: Settings
    app_password: str
    sidecar: Sidecar

    @property
    def db_name(self) -> str:
        return self.settings.database.name

    @property
    def app_user(self) -> str:
        return self.settings.database.app_user


def run_review_init(servers: StatePath, stack: str, settings: Settings, app_password: str, name: str) -> Any:
    init = servers.run_init(
        name,
        TlsMode.VERIFY_FULL,
        listen_port=free_port(),
        settings=settings,
        # The review task's ECS secrets: dev's provisioning password (never dev's master) and its own.
        secrets={"PGPASSWORD": servers.provisioner_password, APP_PASSWORD_VAR: app_password},
    )
    assert init.returncode == 0, init.stdout + init.stderr
    assert servers.password not in init.stdout + init.stderr
    return init


def start_review(servers: StatePath, stack: str) -> Review:
    settings = review_settings(servers, stack)
    password = generate_password()
    port = free_port()
    init = servers.run_init(
        stack,
        TlsMode.VERIFY_FULL,
        listen_port=port,
        settings=settings,
        secrets={"PGPASSWORD": servers.provisioner_password, APP_PASSWORD_VAR: password},
    )
    assert init.returncode == 0, init.stdout + init.stderr
    assert init.env["PGUSER"] == servers.provisioner and init.env["PGDATABASE"] == "postgres"
    bouncer = servers.start_pgbouncer(stack, init.pgbouncer_dir, port)
    db = settings.database
    sidecar = Sidecar(TlsMode.VERIFY_FULL, init, bouncer, db.app_user, password, db.name)
    return Review(stack, settings, password, sidecar)


@pytest.fixture(scope="module")
def reviews(servers: StatePath, sidecar: Sidecar) -> Iterator[tuple[Review, Review]]:
    """Dev's init has run (the ``sidecar`` fixture); then two review stacks start on its server."""
    first, second = start_review(servers, "pr-101"), start_review(servers, "pr-102")
    yield first, second


def direct(servers: StatePath, *, user: str, password: str, dbname: str) -> psycopg.Connection[Any]:
    return servers.pg.connect(user=user, password=password, dbname=dbname)


def refused(servers: StatePath, *, user: str, password: str, dbname: str) -> str:
    with pytest.raises(psycopg.OperationalError) as caught:
        direct(servers, user=user, password=password, dbname=dbname).close()
    return str(caught.value)


# --- Dev's provisioning role -------------------------------------------------------------------------


def test_devs_init_creates_a_provisioning_role_that_may_create_databases_and_roles_only(
    servers: StatePath, sidecar: Sidecar
) -> None:
    with servers.pg.admin("postgres") as admin:
        row = admin.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin "
            "FROM pg_roles WHERE rolname = %s",
            (servers.provisioner,),
        ).fetchone()
        assert row == (False, True, True, False, False, True)
        owned = admin.execute(
            "SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
            (servers.provisioner,),
        ).fetchone()
        assert owned == (0,)
    # The password came as a SCRAM verifier; the password itself logs in (dev's task never had it).
    assert servers.provisioner_password not in sidecar.init.env.values()
    with direct(servers, user=servers.provisioner, password=servers.provisioner_password, dbname="postgres") as conn:
        assert conn.execute("SELECT current_user").fetchone() == (servers.provisioner,)
    # dev's database is closed to it: CONNECT was revoked from PUBLIC by dev's init.
    message = refused(servers, user=servers.provisioner, password=servers.provisioner_password, dbname=servers.db_name)
    assert "permission denied for database" in message


def test_on_15_createrole_reaches_devs_roles(servers: StatePath, sidecar: Sidecar) -> None:
    """Why review databases need PostgreSQL 16+: on 15 the provisioning role may alter dev's app role."""
    with servers.pg.admin("postgres") as admin:
        version = admin.execute("SHOW server_version_num").fetchone()
    if version is not None and int(version[0]) >= 160000:
        pytest.skip("PostgreSQL 16+ limits CREATEROLE to the roles the creator administers")
    login = {"user": servers.provisioner, "password": servers.provisioner_password, "dbname": "postgres"}
    # Proven, then undone: dev's sidecar keeps working.
    with direct(servers, **login) as conn, conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("ALTER ROLE {} VALID UNTIL 'epoch'").format(sql.Identifier(servers.app_user)))


# --- Two review stacks -------------------------------------------------------------------------------------


def test_each_review_stack_gets_its_own_database_and_roles(servers: StatePath, reviews: tuple[Review, Review]) -> None:
    first, second = reviews
    assert first.db_name == review_database_names(servers.db_name, "pr-101").database == "plano_rv_pr_101"
    assert second.app_user == "plano_rv_pr_102_app"
    with servers.pg.admin("postgres") as admin:
        for review in reviews:
            owner = admin.execute(
                "SELECT r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = %s",
                (review.db_name,),
            ).fetchone()
            assert owner == (review.db_name,)  # its own owner role, per database
            grantees = admin.execute(
                "SELECT coalesce(g.rolname, 'PUBLIC'), a.privilege_type FROM pg_database d, "
                "aclexplode(d.datacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee WHERE d.datname = %s",
                (review.db_name,),
            ).fetchall()
            # Nothing for PUBLIC; Plano's role may only connect; the owner has the owner's rights.
            assert {g for g, _ in grantees} == {review.db_name, review.app_user}
            assert {p for g, p in grantees if g == review.app_user} == {"CONNECT"}
            login = admin.execute(
                "SELECT rolcanlogin, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles WHERE rolname = %s",
                (review.db_name,),
            ).fetchone()
            assert login is not None and login[:3] == (False, False, False)  # the owner cannot log in


def test_a_review_role_works_through_its_sidecar(reviews: tuple[Review, Review], ids: str) -> None:
    for review in reviews:
        with review.sidecar.connect() as conn:
            store = PlanoStore(conn)
            assert store.table_exists()
            state = ConversationState(f"{ids}_{review.stack}", [{"role": "user", "content": "hi"}], 1, "m", "p")
            assert store.put(state) == 1
            assert store.get(state.response_id) == state
            user = conn.execute("SELECT current_user, current_database()").fetchone()
        assert user == (review.app_user, review.db_name)


def test_every_role_is_refused_on_every_other_database(
    servers: StatePath, sidecar: Sidecar, reviews: tuple[Review, Review]
) -> None:
    roles = {
        "dev": (servers.app_user, servers.app_password, servers.db_name),
        **{r.stack: (r.app_user, r.app_password, r.db_name) for r in reviews},
    }
    for name, (user, password, own_db) in roles.items():
        with direct(servers, user=user, password=password, dbname=own_db) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        for other, (_, _, other_db) in roles.items():
            if other != name:
                message = refused(servers, user=user, password=password, dbname=other_db)
                assert "permission denied for database" in message, (name, other, message)


def test_a_review_role_may_not_change_its_schema_or_make_roles(reviews: tuple[Review, Review]) -> None:
    first, _ = reviews
    with first.sidecar.connect() as conn:
        for statement in (
            "DROP TABLE conversation_states",
            "CREATE TABLE plano_extra (id int)",
            "TRUNCATE conversation_states",
            "CREATE ROLE plano_sneaky LOGIN",
            "CREATE DATABASE plano_sneaky",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def catalog_state(servers: StatePath, review: Review) -> dict[str, Any]:
    """What the init step decides: databases, roles (not the password hash), memberships, tables, grants."""
    names = (review.db_name, review.app_user, servers.provisioner)
    with servers.pg.admin("postgres") as admin:
        state: dict[str, Any] = {
            "databases": admin.execute(
                "SELECT datname, datdba::regrole::text, datacl::text FROM pg_database ORDER BY datname"
            ).fetchall(),
            "roles": admin.execute(
                "SELECT rolname, rolcanlogin, rolcreatedb, rolcreaterole, rolinherit, rolconnlimit "
                "FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
                (list(names),),
            ).fetchall(),
            "members": admin.execute(
                "SELECT roleid::regrole::text, member::regrole::text, admin_option FROM pg_auth_members ORDER BY 1, 2"
            ).fetchall(),
        }
    with servers.pg.admin(review.db_name) as admin:
        state["tables"] = admin.execute(
            "SELECT c.relname, c.relkind, c.relowner::regrole::text, c.relacl::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1"
        ).fetchall()
        state["schema"] = admin.execute("SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'").fetchall()
        state["rows"] = admin.execute("SELECT count(*) FROM conversation_states").fetchall()
    return state


def test_running_a_review_init_twice_changes_nothing(
    servers: StatePath, reviews: tuple[Review, Review], ids: str
) -> None:
    first, _ = reviews
    with first.sidecar.connect() as conn:
        PlanoStore(conn).put(ConversationState(f"{ids}_kept", [], 1, "m", "p"))
    before = catalog_state(servers, first)
    run_review_init(servers, first.stack, first.settings, first.app_password, f"{first.stack}-again")
    assert catalog_state(servers, first) == before
    with first.sidecar.connect() as conn:  # the sidecar's password still works, the row is still there
        assert PlanoStore(conn).get(f"{ids}_kept") is not None


def janitor(servers: StatePath, keep: list[str], name: str) -> subprocess.CompletedProcess[str]:
    """The dev stack's janitor container, run as the task runs it (busybox sh, its environment)."""
    args = ReviewJanitorArgs(
        names=servers.settings.names,
        region="us-east-1",
        image="init",
        architecture="ARM64",
        base_db_name=servers.db_name,
        provisioner_user=servers.provisioner,
        provisioner_secret_arn="arn:aws:secretsmanager:test-provisioner",
        db_host=LOOPBACK,
        db_port=servers.pg.port,
        tls_mode=TlsMode.VERIFY_FULL,
        cluster_name="plano-dev",
        log_group_name="test",
        subnet_ids=[],
        security_group_id="sg-test",
        assign_public_ip=False,
        kms_key_arn="",
    )
    (container,) = janitor_container_definitions(
        args, log_group="test", host=LOOPBACK, port=servers.pg.port, secret_arn="arn"
    )
    env = {e["name"]: e["value"] for e in container["environment"]}
    home = servers.base / f"janitor-{name}"
    home.mkdir()
    env.update(
        {
            "RDS_CA_BUNDLE_URL": servers.files.url(f"/janitor-{name}/bundle.pem", servers.ca.pem),
            "PGPASSWORD": servers.provisioner_password,  # its one ECS secret
            KEEP_DATABASES_VAR: ",".join(keep),  # the run's container override
            "CA_DIR": str(home),
            "HOME": str(home),
            "PATH": f"{servers.base / 'busybox-bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
    )
    assert shutil.which("sh", path=env["PATH"]) is not None
    return subprocess.run(
        [*container["entryPoint"], *container["command"]], env=env, capture_output=True, text=True, timeout=60
    )


def names_present(servers: StatePath) -> tuple[set[str], set[str]]:
    with servers.pg.admin("postgres") as admin:
        databases = {r[0] for r in admin.execute("SELECT datname FROM pg_database").fetchall()}
        roles = {r[0] for r in admin.execute("SELECT rolname FROM pg_roles").fetchall()}
    return databases, roles


def test_the_janitor_drops_gone_stacks_databases_and_roles_and_nothing_else(
    servers: StatePath, sidecar: Sidecar, reviews: tuple[Review, Review], ids: str
) -> None:
    _, second = reviews
    gone = start_review(servers, "pr-103")  # its stack was destroyed: not in the keep list
    # Dev's data, and what a destroy that died halfway leaves: a role without its database, and a
    # database with the review mark that a review stack did not make (owned by dev's master).
    with sidecar.connect() as conn:
        PlanoStore(conn).put(ConversationState(f"{ids}_dev", [], 1, "m", "p"))
    leftover = review_database_names(servers.db_name, "pr-109")
    with direct(servers, user=servers.provisioner, password=servers.provisioner_password, dbname="postgres") as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(leftover.app_user)))
    with servers.pg.admin("postgres") as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier("plano_rv_not_a_review"), sql.Identifier(servers.user)
            )
        )
    before_db, before_roles = names_present(servers)
    live = sorted(d for d in before_db if d.startswith("plano_rv_pr_") and d != gone.db_name)
    assert second.db_name in live

    result = janitor(servers, live, "first")
    assert result.returncode == 0, result.stdout + result.stderr
    assert servers.provisioner_password not in result.stdout + result.stderr

    after_db, after_roles = names_present(servers)
    assert before_db - after_db == {gone.db_name}
    assert before_roles - after_roles == {gone.db_name, gone.app_user, leftover.app_user}
    assert {servers.db_name, second.db_name, "plano_rv_not_a_review"} <= after_db
    assert {servers.user, servers.app_user, servers.provisioner, second.app_user} <= after_roles
    # Dev and the live review stacks go on as before.
    with sidecar.connect() as conn:
        assert PlanoStore(conn).get(f"{ids}_dev") is not None
    with second.sidecar.connect() as conn:
        assert PlanoStore(conn).table_exists()

    # Run again with nothing to do: nothing changes.
    again = janitor(servers, live, "again")
    assert again.returncode == 0, again.stdout + again.stderr
    assert names_present(servers) == (after_db, after_roles)


def test_the_janitor_refuses_to_run_without_a_keep_list(servers: StatePath, reviews: tuple[Review, Review]) -> None:
    _, second = reviews
    result = janitor_without_keep(servers)
    assert result.returncode != 0 and "KEEP_DATABASES" in result.stderr
    assert second.db_name in names_present(servers)[0]


def janitor_without_keep(servers: StatePath) -> subprocess.CompletedProcess[str]:
    from plano_pulumi.core.review_database import render_janitor_script

    env = {"PATH": f"{servers.base / 'busybox-bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}", "PGSSLMODE": "require"}
    return subprocess.run(["sh", "-c", render_janitor_script()], env=env, capture_output=True, text=True, timeout=30)


def test_psql_reads_the_review_databases_password_only_from_the_environment(reviews: tuple[Review, Review]) -> None:
    first, _ = reviews
    assert first.app_password not in first.settings.plano.text
    assert all(
        first.app_password not in value for key, value in first.sidecar.init.env.items() if key != APP_PASSWORD_VAR
    )


def test_a_review_app_role_cannot_log_in_with_another_password(
    servers: StatePath, reviews: tuple[Review, Review]
) -> None:
    first, second = reviews
    with pytest.raises(psycopg.OperationalError):
        plano_connect(
            second.sidecar.pgbouncer.conninfo(user=second.app_user, password=first.app_password, dbname=second.db_name)
        ).close()
