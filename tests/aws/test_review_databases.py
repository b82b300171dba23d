"""Review databases under mocks and as pure functions: a review stack has no database server and no
provider-key secret of its own; its init logs in as dev's provisioning role; dev provides that role,
its secret (readable by review stacks' execution roles only) and the janitor; bad settings stop
before any resource. The SQL runs on the real servers in tests/integration/test_review_databases.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.review_database import (
    AURORA_MAX_CONNECTIONS,
    aurora_max_connections,
    connections_per_stack,
    provisioner_secret_policy,
    render_janitor_sql,
    review_database_names,
    review_stacks_that_fit,
    secret_name_from_arn,
)
from plano_tools.plan import plan_document

from tests.conftest import containers, env_of, plain, run_with, stack_run
from tests.stacks.test_review_environments import (
    DEV_DB_ADDRESS,
    DEV_DB_GROUP,
    DEV_KEY_ARNS,
    PROVISIONER_ARN,
    SHARED_DATABASE,
    review_stack,
)

SERVER_TYPES = {"aws:rds/cluster:Cluster", "aws:rds/clusterInstance:ClusterInstance", "aws:rds/instance:Instance"}
NO_SERVER_PARTS = {
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup",
}
SECRET = "aws:secretsmanager/secret:Secret"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


# --- A review stack -----------------------------------------------------------------------------------


def test_a_review_stack_registers_no_database_server_and_no_provider_key_secret() -> None:
    run = review_stack()
    types = {r.type for r in run.resources}
    assert types & (SERVER_TYPES | NO_SERVER_PARTS) == set()
    secrets = [plain(s.inputs)["name"] for s in run.of_type(SECRET)]
    assert secrets == ["plano-pr-123/db-app"]  # its own role's secret, nothing else
    assert run.one("plano:database:ReviewDatabase")
    assert stack_run("dev").of_type("aws:rds/cluster:Cluster")  # dev itself keeps its server


def test_its_init_reads_the_provisioning_secret_not_devs_master_secret() -> None:
    run = review_stack()
    init = containers(run)["init"]
    secrets = {s["name"]: s["valueFrom"] for s in init["secrets"]}
    assert secrets["PGPASSWORD"] == f"{PROVISIONER_ARN}:password::"
    app_arn = secrets["APP_DB_PASSWORD"].removesuffix(":password::")
    assert ":secret:plano-pr-123/db-app-" in app_arn
    assert set(secrets) == {"PGPASSWORD", "APP_DB_PASSWORD"}
    env = env_of(init)
    assert env["PGUSER"] == "plano_provisioner" and env["PGDATABASE"] == "postgres"
    assert env["PGHOST"] == DEV_DB_ADDRESS and env["APP_DB_USER"] == "plano_rv_pr_123_app"
    schema = env["SCHEMA_SQL"]
    assert 'CREATE DATABASE "plano_rv_pr_123" OWNER "plano_rv_pr_123"' in schema
    assert 'REVOKE ALL ON DATABASE "plano_rv_pr_123" FROM PUBLIC' in schema
    assert "pg_cron" not in schema and "plano_app" not in schema  # nothing of dev's, no retention job
    # Plano and the sidecar reach its own database on dev's server, as its own role.
    assert "plano_rv_pr_123_app:$DB_PASS@127.0.0.1:6432/plano_rv_pr_123" in env["PLANO_CONFIG_YAML"]
    assert f"plano_rv_pr_123 = host={DEV_DB_ADDRESS} port=5432 dbname=plano_rv_pr_123" in env["PGBOUNCER_INI"]


def test_its_tasks_read_devs_provider_keys_and_its_execution_role_exactly_its_secrets() -> None:
    run = review_stack()
    plano = {s["name"]: s["valueFrom"] for s in containers(run)["plano"]["secrets"]}
    assert {name: plano[name] for name in DEV_KEY_ARNS} == DEV_KEY_ARNS
    policy = json.loads(plain(run.one("aws:iam/rolePolicy:RolePolicy", "execution-policy").inputs["policy"]))
    readable = next(s for s in policy["Statement"] if s["Sid"] == "ReadThisTasksSecrets")["Resource"]
    app_arn = plano["DB_PASS"].removesuffix(":password::")
    assert sorted(readable) == sorted([PROVISIONER_ARN, app_arn, *DEV_KEY_ARNS.values()])
    assert run.outputs["provider_key_secret_arns"] == DEV_KEY_ARNS
    assert "review_database" not in run.outputs and "review_janitor" not in run.outputs


def test_it_admits_its_own_service_group_into_devs_database_group() -> None:
    run = review_stack()
    service_group = next(
        g for g in run.of_type("aws:ec2/securityGroup:SecurityGroup") if plain(g.inputs)["name"].endswith("-service")
    )
    rules = [plain(r.inputs) for r in run.of_type(RULE) if plain(r.inputs)["securityGroupId"] == DEV_DB_GROUP]
    assert len(rules) == 1
    assert rules[0]["referencedSecurityGroupId"] == service_group.id
    assert rules[0]["fromPort"] == rules[0]["toPort"] == 5432 and "cidrIpv4" not in rules[0]


def test_its_plan_shows_no_database_server_and_an_idle_day_below_15_cents() -> None:
    cost = plan_document(review_stack())["cost"]
    assert cost["idle_day_usd"] < 0.15
    whats = " ".join(item["what"] for item in cost["items"])
    assert "Aurora" not in whats and "RDS" not in whats and "ACU" not in whats
    assert {"Fargate", "Public IPv4", "Secrets Manager", "CloudWatch Logs"} <= {
        word
        for item in cost["items"]
        for word in ("Fargate", "Public IPv4", "Secrets Manager", "CloudWatch Logs")
        if word in item["what"]
    }
    assert cost["monthly_usd"] < plan_document(stack_run("dev"))["cost"]["monthly_usd"] / 2


def test_review_stacks_get_distinct_databases_and_roles() -> None:
    first, second = review_stack(123), review_stack(124)
    names = [env_of(containers(run)["init"])["APP_DB_USER"] for run in (first, second)]
    assert names == ["plano_rv_pr_123_app", "plano_rv_pr_124_app"]


def test_its_passwords_leak_nowhere() -> None:
    run = review_stack()
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion", "db-app-secret-value")
    password = json.loads(plain(version.inputs["secretString"]))["password"]
    carriers = {
        (r.type, key)
        for r in run.resources
        for key, value in r.inputs.items()
        if password in json.dumps(plain(value), default=str)
    }
    assert carriers == {("aws:secretsmanager/secretVersion:SecretVersion", "secretString")}
    assert password not in json.dumps(plain(run.outputs), default=str)


# --- Dev provides ----------------------------------------------------------------------------------------


def test_dev_exports_what_review_stacks_need() -> None:
    run = stack_run("dev")
    shared = run.outputs["review_database"]
    assert shared["address"] == run.outputs["db_address"] and shared["port"] == 5432
    assert shared["provisionerSecretArn"].split(":secret:")[1].startswith("plano-dev/db-provisioner-")
    db_group = next(
        g for g in run.of_type("aws:ec2/securityGroup:SecurityGroup") if plain(g.inputs)["name"].endswith("-db")
    )
    assert shared["securityGroupId"] == db_group.id
    assert shared["maxReviewStacks"] == 20
    # The keys review-stack.sh copies into plano:sharedDatabase are the ones the settings take.
    assert set(shared) - {"maxReviewStacks"} == set(SHARED_DATABASE["sharedDatabase"])
    janitor = run.outputs["review_janitor"]
    assert janitor["cluster"] == run.outputs["cluster_name"] and janitor["container"] == "janitor"
    assert janitor["database_prefix"] == "plano" and janitor["assign_public_ip"] is True


def test_devs_init_creates_the_provisioning_role_from_a_verifier() -> None:
    run = stack_run("dev")
    init = containers(run)["init"]
    schema = env_of(init)["SCHEMA_SQL"]
    assert 'ALTER ROLE "plano_provisioner" WITH LOGIN CREATEDB CREATEROLE' in schema
    assert 'REVOKE CONNECT, TEMPORARY ON DATABASE "plano" FROM PUBLIC' in schema
    verifier = next(s for s in init["secrets"] if s["name"] == "PROVISIONER_DB_VERIFIER")["valueFrom"]
    assert ":secret:plano-dev/db-provisioner-verifier-" in verifier
    # Dev's execution role reads the verifier's secret, never the provisioning password's.
    policy = json.loads(plain(run.one("aws:iam/rolePolicy:RolePolicy", "execution-policy").inputs["policy"]))
    readable = next(s for s in policy["Statement"] if s["Sid"] == "ReadThisTasksSecrets")["Resource"]
    assert verifier in readable and run.outputs["review_database"]["provisionerSecretArn"] not in readable


def test_the_provisioning_secret_is_denied_to_every_role_of_the_project_but_review_execution_roles() -> None:
    run = stack_run("dev")
    policy = json.loads(plain(run.one("aws:secretsmanager/secretPolicy:SecretPolicy").inputs["policy"]))
    assert policy == provisioner_secret_policy(project_slug="plano", account_id="123456789012", partition="aws")
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "secretsmanager:GetSecretValue"
    assert deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == "arn:aws:iam::123456789012:role/plano-pr-*-execution"
    assert set(deny["Condition"]["ArnLike"]["aws:PrincipalArn"]) == {
        "arn:aws:iam::123456789012:role/plano-*-execution",
        "arn:aws:iam::123456789012:role/plano-*-task",
    }
    roles = {plain(r.inputs)["name"] for r in run.of_type("aws:iam/role:Role")}
    assert roles == {"plano-dev-execution", "plano-dev-task", "plano-dev-review-janitor"}


def test_the_janitor_reads_only_the_provisioning_secret_and_runs_as_the_provisioning_role() -> None:
    run = stack_run("dev")
    policy = json.loads(plain(run.one("aws:iam/rolePolicy:RolePolicy", "janitor-execution-policy").inputs["policy"]))
    readable = next(s for s in policy["Statement"] if s["Sid"] == "ReadThisTasksSecrets")["Resource"]
    assert readable == [run.outputs["review_database"]["provisionerSecretArn"]]
    task = run.one("aws:ecs/taskDefinition:TaskDefinition", "janitor-task")
    (container,) = json.loads(plain(task.inputs["containerDefinitions"]))
    env = env_of(container)
    assert env["PGUSER"] == "plano_provisioner" and env["PGDATABASE"] == "postgres"
    assert "KEEP_DATABASES" not in env  # every run must say what to keep
    assert container["secrets"] == [
        {"name": "PGPASSWORD", "valueFrom": f"{run.outputs['review_database']['provisionerSecretArn']}:password::"}
    ]
    assert "taskRoleArn" not in plain(task.inputs)  # the janitor's code may call no AWS API


def test_prod_carries_no_review_stacks() -> None:
    run = stack_run("prod")
    assert "review_database" not in run.outputs and run.of_type("aws:secretsmanager/secretPolicy:SecretPolicy") == []
    assert "plano_provisioner" not in env_of(containers(run)["init"])["SCHEMA_SQL"]


# --- Bad settings stop before any resource -----------------------------------------------------------------


def _shared(**changes: Any) -> dict[str, Any]:
    return {**SHARED_DATABASE["sharedDatabase"], **changes}


@pytest.mark.parametrize(
    ("stack", "values", "key"),
    [
        ("prod", {"sharedDatabase": _shared()}, "plano:sharedDatabase"),
        ("dev", {"sharedDatabase": {"address": DEV_DB_ADDRESS}}, "plano:sharedDatabase.securityGroupId"),
        ("dev", {"sharedDatabase": _shared(extra="x")}, "plano:sharedDatabase.extra"),
        ("dev", {"sharedDatabase": _shared(address="not a host")}, "plano:sharedDatabase.address"),
        ("dev", {"sharedDatabase": _shared(port=70000)}, "plano:sharedDatabase.port"),
        ("dev", {"sharedDatabase": _shared(securityGroupId="sg-xyz")}, "plano:sharedDatabase.securityGroupId"),
        (
            "dev",
            {"sharedDatabase": _shared(provisionerSecretArn=PROVISIONER_ARN.replace("us-east-1", "eu-west-1"))},
            "plano:sharedDatabase.provisionerSecretArn",
        ),
        ("dev", {"sharedDatabase": _shared(), "dbEngineVersion": "15.7"}, "plano:dbEngineVersion"),
        ("dev", {"dbReviewStacks": 5, "dbEngineVersion": "15.7"}, "plano:dbReviewStacks"),
        ("dev", {"dbReviewStacks": 30}, "plano:dbReviewStacks"),  # 29 fit at 0-2 ACU
        ("dev", {"dbReviewStacks": 6, "dbEngine": "rds"}, "plano:dbReviewStacks"),  # db.t4g.micro: 5
        (
            "dev",
            {"sharedProviderKeySecretArns": {"OPENAI_API_KEY": DEV_KEY_ARNS["OPENAI_API_KEY"]}},
            "plano:sharedProviderKeySecretArns.ANTHROPIC_API_KEY",
        ),
        (
            "dev",
            {"sharedProviderKeySecretArns": {**DEV_KEY_ARNS, "OTHER_KEY": DEV_KEY_ARNS["OPENAI_API_KEY"]}},
            "plano:sharedProviderKeySecretArns.OTHER_KEY",
        ),
        (
            "dev",
            {"sharedProviderKeySecretArns": {**DEV_KEY_ARNS, "OPENAI_API_KEY": "arn:aws:s3:::bucket"}},
            "plano:sharedProviderKeySecretArns.OPENAI_API_KEY",
        ),
    ],
)
def test_bad_review_settings_stop_before_any_resource(stack: str, values: dict[str, Any], key: str) -> None:
    run = run_with(stack, values=values)
    assert isinstance(run.error, ConfigError), run.error
    message = str(run.error)
    assert message.startswith(key) and "Fix:" in message and "\n" not in message
    if values.get("dbEngineVersion"):  # refused for the version's CREATEROLE, not for its form
        assert "16" in message and ("CREATEROLE" in message or "provisioning role" in message)
    assert run.resources == []


def test_a_config_that_fits_is_accepted_and_more_acu_carries_more() -> None:
    assert run_with("dev", values={"dbReviewStacks": 29}).error is None
    assert run_with("dev", values={"dbReviewStacks": 61, "dbMaxCapacityAcu": 4}).error is None
    error = run_with("dev", values={"dbReviewStacks": 30}).error
    assert "pulumi config set plano:dbMaxCapacityAcu 3" in str(error)


def test_left_unset_the_profiles_value_is_lowered_to_what_fits() -> None:
    rds = run_with("dev", values={"dbEngine": "rds"})  # db.t4g.micro carries 5, not the profile's 20
    assert rds.error is None and rds.outputs["review_database"]["maxReviewStacks"] == 5
    none = run_with("dev", values={"dbReviewStacks": 0})
    assert "review_database" not in none.outputs and none.of_type("aws:secretsmanager/secretPolicy:SecretPolicy") == []


# --- Pure parts ---------------------------------------------------------------------------------------------


def test_names_are_readable_for_pull_requests_unique_otherwise_and_fit_postgres() -> None:
    assert review_database_names("plano", "pr-123").database == "plano_rv_pr_123"
    seen = {review_database_names("plano", s).database for s in ("pr-1", "pr_1", "PR-1", "pr--1", "pr.1", "x" * 100)}
    assert len(seen) == 6
    for stack in ("pr-1", "x" * 100, "a.b_c-D"):
        names = review_database_names("p" * 40, stack)
        assert len(names.app_user) <= 63 and names.app_user == f"{names.database}_app"
        assert names.database.startswith("p" * 40 + "_rv_")


def test_connection_arithmetic_follows_awss_table() -> None:
    for acu, connections in AURORA_MAX_CONNECTIONS.items():
        assert aurora_max_connections(acu, 1) == connections
    assert aurora_max_connections(16, 0) == 2000  # capped with a minimum of 0 or 0.5 ACU
    assert 189 < aurora_max_connections(2, 0) < 823
    assert connections_per_stack(1) == 13 and connections_per_stack(2) == 25
    assert review_stacks_that_fit(400, 1, 1) == 29
    assert review_stacks_that_fit(20, 1, 1) == 0


def test_the_janitor_sql_only_matches_review_names() -> None:
    janitor = render_janitor_sql("plano")
    assert "LIKE 'plano\\_rv\\_%'" in janitor
    assert "o.rolname = d.datname" in janitor  # a database is dropped only when its own role owns it


def test_secret_names_come_from_arns() -> None:
    assert secret_name_from_arn(PROVISIONER_ARN) == "plano-dev/db-provisioner"
    assert secret_name_from_arn(DEV_KEY_ARNS["OPENAI_API_KEY"]) == "plano-dev/provider-keys/OPENAI_API_KEY"


def test_a_review_stack_rewrites_a_state_store_written_for_devs_database() -> None:
    from plano_pulumi.core.plano_config import connection_string
    from plano_pulumi.core.settings.review import without_store_of

    devs = {"type": "postgres", "connection_string": connection_string(db_user="plano_app", db_name="plano")}
    assert "state_storage" not in without_store_of({"version": "v0.1", "state_storage": devs}, "plano_app", "plano")
    foreign = {"type": "postgres", "connection_string": "postgresql://u:$DB_PASS@db.example.com:5432/x"}
    kept = without_store_of({"state_storage": foreign}, "plano_app", "plano")
    assert kept["state_storage"] == foreign  # still refused later, as for any stack
