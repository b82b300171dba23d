"""The real __main__.py with the real stack files, under mocks: what each stack registers.

One test per property the stacks promise (network, database, DB_PASS secret, service, ingress,
provider keys, outputs), asserted on the inputs of the registered resources.
"""

from __future__ import annotations

import configparser
import ipaddress
import json
from typing import Any

import pytest
import yaml
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.images import PLANO_IMAGE
from plano_pulumi.core.plano_config import PLANO_INTERNAL_PORTS
from plano_tools.simulate import MOCK_PASSWORD, Run
from pulumi.runtime import rpc

from tests.conftest import DEV_RDS, children_of, containers, env_of, plain, run_with, stack_dir, stack_run

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
RDS = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"
SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"


def sg_by_role(run: Run, role: str) -> Any:
    return next(r for r in run.of_type(SG) if r.name == role)


def rules_of(run: Run, kind: str, group: Any) -> list[dict[str, Any]]:
    return [r.inputs for r in run.of_type(kind) if r.inputs["securityGroupId"] == group.id]


def test_both_stacks_run_without_error(any_stack: Run) -> None:
    assert any_stack.error is None, any_stack.error
    assert len(any_stack.resources) > 30


# --- 3. Network ---------------------------------------------------------------------------------


def test_new_vpc_spans_two_zones_with_public_and_private_subnets(any_stack: Run) -> None:
    any_stack.one(VPC)
    subnets = any_stack.of_type(SUBNET)
    public = [s for s in subnets if s.name.startswith("public")]
    private = [s for s in subnets if s.name.startswith("private")]
    assert len(public) == len(private) == 2
    assert len({s.inputs["availabilityZone"] for s in public}) == 2
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
    vpc = ipaddress.ip_network(any_stack.one(VPC).inputs["cidrBlock"])
    assert all(ipaddress.ip_network(s.inputs["cidrBlock"]).subnet_of(vpc) for s in subnets)


def test_dev_has_no_nat_and_tasks_use_public_ips_without_inbound() -> None:
    run = stack_run("dev")
    assert run.of_type(NAT) == []
    network = plain(run.one(SERVICE).inputs["networkConfiguration"])
    assert network["assignPublicIp"] is True
    private_routes = [r for r in run.of_type(ROUTE_TABLE) if r.name.startswith("private")]
    assert all(not r.inputs.get("routes") for r in private_routes)
    assert rules_of(run, INGRESS_RULE, sg_by_role(run, "service")) == []


def test_prod_has_a_nat_per_zone_and_private_tasks() -> None:
    run = stack_run("prod")
    assert len(run.of_type(NAT)) == 2
    private_routes = [r for r in run.of_type(ROUTE_TABLE) if r.name.startswith("private")]
    assert all(r.inputs["routes"][0]["natGatewayId"] for r in private_routes)
    nat_ids = {r.inputs["routes"][0]["natGatewayId"] for r in private_routes}
    assert len(nat_ids) == 2  # one per zone
    assert plain(run.one(SERVICE).inputs["networkConfiguration"])["assignPublicIp"] is False


def test_existing_vpc_is_used_as_is() -> None:
    private = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    public = ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"]
    run = run_with(
        "prod", values={"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": private, "publicSubnetIds": public}
    )
    assert run.error is None, run.error
    assert run.of_type(VPC) == [] and run.of_type(SUBNET) == [] and run.of_type(NAT) == []
    assert run.one(SUBNET_GROUP).inputs["subnetIds"] == private
    assert plain(run.one(SERVICE).inputs["networkConfiguration"])["subnets"] == private
    assert run.one(ALB).inputs["subnets"] == public
    assert {sg.inputs["vpcId"] for sg in run.of_type(SG)} == {"vpc-0123456789abcdef0"}


# --- 4. Database ----------------------------------------------------------------------------------


def test_database_only_accepts_tls(rds_stack: Run) -> None:
    instance = rds_stack.one(RDS).inputs
    params = rds_stack.one(PARAMS).inputs
    assert instance["parameterGroupName"] == params["name"]
    assert params["family"] == "postgres17"
    assert {p["name"]: p["value"] for p in params["parameters"]}["rds.force_ssl"] == "1"
    assert instance["caCertIdentifier"] == "rds-ca-rsa2048-g1"


def test_database_engine_defaults_to_the_pinned_17_minor_and_family_follows_the_version() -> None:
    assert stack_run(DEV_RDS).one(RDS).inputs["engineVersion"] == "17.6"  # a full version (issue 17, 13)
    run = run_with("dev", values={"dbEngineVersion": "16.4", "dbEngine": "rds"})
    assert run.one(RDS).inputs["engineVersion"] == "16.4"
    assert run.one(PARAMS).inputs["family"] == "postgres16"
    assert run.one(PARAMS).inputs["name"].endswith("postgres16")


def test_database_storage_is_encrypted_gp3_with_autoscaling_and_private(rds_stack: Run) -> None:
    db = rds_stack.one(RDS).inputs
    assert db["storageEncrypted"] is True
    assert db["storageType"] == "gp3"
    assert db["maxAllocatedStorage"] > db["allocatedStorage"] >= 20
    assert db["publiclyAccessible"] is False
    private_ids = {s.name for s in rds_stack.of_type(SUBNET) if s.name.startswith("private")}
    assert len(rds_stack.one(SUBNET_GROUP).inputs["subnetIds"]) == len(private_ids) == 2


def test_database_admits_5432_only_from_the_service(rds_stack: Run) -> None:
    db_sg, service_sg = sg_by_role(rds_stack, "db"), sg_by_role(rds_stack, "service")
    assert rds_stack.one(RDS).inputs["vpcSecurityGroupIds"] == [db_sg.id]
    rules = rules_of(rds_stack, INGRESS_RULE, db_sg)
    assert len(rules) == 1
    assert rules[0]["fromPort"] == rules[0]["toPort"] == 5432
    assert rules[0]["referencedSecurityGroupId"] == service_sg.id
    assert "cidrIpv4" not in rules[0] and "cidrIpv6" not in rules[0]
    assert rules_of(rds_stack, EGRESS_RULE, db_sg) == []


def test_dev_database_is_disposable() -> None:
    run = stack_run(DEV_RDS)
    instance = run.one(RDS)
    db = instance.inputs
    assert db["deletionProtection"] is False
    assert db["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db
    assert db["backupRetentionPeriod"] == 1
    assert db["applyImmediately"] is True
    assert db["multiAz"] is False
    assert instance.protect is False


def test_prod_database_is_protected() -> None:
    run = stack_run("prod")
    instance = run.one(RDS)
    db = instance.inputs
    assert instance.protect is True
    assert db["multiAz"] is True
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["backupRetentionPeriod"] >= 7
    assert db["performanceInsightsEnabled"] is True
    assert set(db["enabledCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert db["applyImmediately"] is False
    # The final snapshot name carries a random suffix, so a second destroy cannot collide.
    suffix = run.one("random:index/randomId:RandomId")
    assert db["finalSnapshotIdentifier"].startswith("plano-prod-final-")
    assert len(db["finalSnapshotIdentifier"]) > len("plano-prod-final-")
    assert suffix.parent == run.one("plano:database:Database").urn
    # Exported logs go to log groups the stack owns, so they have a retention.
    log_groups = {g.inputs["name"]: g.inputs for g in run.of_type(LOG_GROUP)}
    for log in ("postgresql", "upgrade"):
        assert log_groups[f"/aws/rds/instance/plano-prod/{log}"]["retentionInDays"] > 0


# --- 5. The DB_PASS secret ------------------------------------------------------------------------


def test_password_is_generated_alphanumeric_and_long(rds_stack: Run) -> None:
    passwords = rds_stack.of_type(PASSWORD)
    # Master and Plano's role; dev's server also carries review stacks (their provisioning role).
    review_side = ["provisioner-password"] if rds_stack.stack == "dev" else []
    assert sorted(p.name for p in passwords) == ["app-password", "password", *review_side]
    for password in passwords:
        assert password.inputs["special"] is False
        assert password.inputs["length"] >= 32
    assert rpc.is_rpc_secret(rds_stack.one(RDS).inputs["password"])


def test_db_secret_holds_rds_style_json_as_a_secret(any_stack: Run) -> None:
    secret = next(s for s in any_stack.of_type(SECRET) if s.name == "db-secret")
    version = next(v for v in any_stack.of_type(SECRET_VERSION) if v.name == "db-secret-value")
    assert rpc.is_rpc_secret(version.inputs["secretString"])
    value = json.loads(plain(version.inputs["secretString"]))
    assert set(value) == {"username", "password", "host", "port", "dbname", "engine"}
    assert value["password"] == MOCK_PASSWORD
    assert value["engine"] == "postgres" and value["port"] == 5432
    assert secret.inputs["name"] == f"plano-{any_stack.stack}/db"


def test_secret_recovery_window_follows_the_profile() -> None:
    dev = next(s for s in stack_run("dev").of_type(SECRET) if s.name == "db-secret")
    prod = next(s for s in stack_run("prod").of_type(SECRET) if s.name == "db-secret")
    assert dev.inputs["recoveryWindowInDays"] == 0 and dev.protect is False
    assert prod.inputs["recoveryWindowInDays"] == 30 and prod.protect is True


def test_password_appears_nowhere_in_plain_text(rds_stack: Run) -> None:
    """Only the RDS instance and the secret's value carry it, and both as Pulumi secrets."""
    carriers = []
    for resource in rds_stack.resources:
        for key, value in resource.inputs.items():
            if MOCK_PASSWORD in json.dumps(plain(value), default=str):
                carriers.append((resource.type, key))
                assert rpc.is_rpc_secret(value), f"{resource.type}.{key} holds the password in plain text"
    assert sorted(carriers) == sorted([(RDS, "password"), (SECRET_VERSION, "secretString")])
    assert MOCK_PASSWORD not in json.dumps(rds_stack.outputs, default=str)
    assert MOCK_PASSWORD not in " ".join(rds_stack.warnings)


# --- 6. Service -------------------------------------------------------------------------------------


def test_task_runs_init_pgbouncer_and_plano_in_order(any_stack: Run) -> None:
    defs = containers(any_stack)
    # prod adds the collector sidecar (plano:metricsCollector; tests/aws/test_monitoring.py).
    assert set(defs) - {"collector"} == {"init", "pgbouncer", "plano"}
    assert defs["init"]["essential"] is False
    assert {"containerName": "init", "condition": "SUCCESS"} in defs["pgbouncer"]["dependsOn"]
    assert {"containerName": "pgbouncer", "condition": "HEALTHY"} in defs["plano"]["dependsOn"]
    probe = defs["pgbouncer"]["healthCheck"]["command"]
    # The state probe: Plano's connection is still in the sidecar (tests/aws/test_monitoring.py); it
    # logs in as Plano's role, a known user, so probes do not log failed logins.
    assert probe[0] == "CMD-SHELL" and "-U plano_app -d pgbouncer" in probe[1] and "-p 6432" in probe[1]


def test_task_is_fargate_arm64_by_default(any_stack: Run) -> None:
    task = any_stack.one(TASK, "task").inputs
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert run_with("dev", values={"cpuArchitecture": "X86_64"}).one(TASK, "task").inputs["runtimePlatform"][
        "cpuArchitecture"
    ] == ("X86_64")


def _pgbouncer_ini(run: Run) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(env_of(containers(run)["init"])["PGBOUNCER_INI"])
    return parser


def test_pgbouncer_listens_on_loopback_pools_transactions_and_speaks_tls(rds_stack: Run) -> None:
    ini = _pgbouncer_ini(rds_stack)["pgbouncer"]
    assert ini["listen_addr"] == "127.0.0.1"
    assert ini["pool_mode"] == "transaction"
    assert int(ini["max_prepared_statements"]) > 0
    assert ini["server_tls_sslmode"] == "verify-full"  # the default plano:dbTlsMode
    assert ini["server_tls_ca_file"].endswith("rds-ca.pem")
    db = rds_stack.one(RDS).inputs["identifier"]
    assert db in _pgbouncer_ini(rds_stack)["databases"]["plano"]


def test_tls_mode_require_reaches_the_sidecar_and_the_init_step() -> None:
    run = run_with("dev", values={"dbTlsMode": "require"})
    ini = _pgbouncer_ini(run)["pgbouncer"]
    assert ini["server_tls_sslmode"] == "require"
    assert "server_tls_ca_file" not in ini
    init_env = env_of(containers(run)["init"])
    assert init_env["PGSSLMODE"] == "require"
    assert "RDS_CA_BUNDLE_URL" not in init_env
    assert env_of(containers(stack_run("dev"))["init"])["PGSSLMODE"] == "verify-full"


def test_pgbouncer_image_is_1_21_or_newer(any_stack: Run) -> None:
    image = containers(any_stack)["pgbouncer"]["image"]
    version = tuple(int(p) for p in image.split(":")[1].split("@")[0].split(".")[:2])
    assert version >= (1, 21)


def test_init_writes_the_files_and_applies_the_schema_over_tls(any_stack: Run) -> None:
    init = containers(any_stack)["init"]
    env = env_of(init)
    assert "state_storage" in env["PLANO_CONFIG_YAML"]
    assert "CREATE TABLE IF NOT EXISTS public.conversation_states" in env["SCHEMA_SQL"]
    assert env["PGSSLMODE"] in ("require", "verify-full")
    assert "psql" in init["command"][0] and "ON_ERROR_STOP=1" in init["command"][0]
    # Dev also sets review stacks' provisioning role, from its password's SCRAM verifier.
    verifier = ["PROVISIONER_DB_VERIFIER"] if "review_database" in any_stack.outputs else []
    assert [s["name"] for s in init["secrets"]] == ["PGPASSWORD", "APP_DB_PASSWORD", *verifier]


def test_plano_gets_its_config_and_every_secret_through_ecs_secrets(any_stack: Run) -> None:
    plano = containers(any_stack)["plano"]
    env = env_of(plano)
    assert env["PLANO_CONFIG_FILE"] == "/plano-config/plano_config.yaml"
    secrets = {s["name"]: s["valueFrom"] for s in plano["secrets"]}
    assert set(secrets) == {"DB_PASS", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"}
    assert secrets["DB_PASS"].endswith(":password::")
    arns = any_stack.outputs["provider_key_secret_arns"]
    assert secrets["OPENAI_API_KEY"] == arns["OPENAI_API_KEY"]
    for container in containers(any_stack).values():
        for name, value in env_of(container).items():
            assert not any(word in name.upper() for word in ("PASS", "SECRET", "TOKEN", "KEY")), name
            assert MOCK_PASSWORD not in value


def test_plano_health_check_probes_healthz_with_python(any_stack: Run) -> None:
    check = containers(any_stack)["plano"]["healthCheck"]["command"]
    assert check[:2] == ["CMD", "python3"]
    assert "urllib.request" in check[3] and "http://127.0.0.1:12000/healthz" in check[3]


def test_only_listener_ports_are_mapped(any_stack: Run) -> None:
    defs = containers(any_stack)
    mapped = [p["containerPort"] for c in defs.values() for p in c.get("portMappings", [])]
    assert mapped == [12000]
    assert not set(mapped) & set(PLANO_INTERNAL_PORTS)


def test_listener_ports_follow_the_plano_config(tmp_path: Any) -> None:
    config = tmp_path / "plano.yaml"
    config.write_text(
        "version: v0.4.0\nlisteners:\n  - {type: model, name: llm, port: 12500}\n"
        "  - {type: agent, name: agents, port: 8001, timeout: 600s}\n"
    )
    run = run_with("prod", values={"configFile": str(config)})
    assert run.error is None, run.error
    mapped = sorted(p["containerPort"] for p in containers(run)["plano"]["portMappings"])
    assert mapped == [8001, 12500]
    assert run.one(ALB).inputs["idleTimeout"] >= 600


def test_images_come_from_config_and_prod_warns_unless_pinned() -> None:
    assert containers(stack_run("dev"))["plano"]["image"] == PLANO_IMAGE
    assert not any("digest" in w for w in stack_run("dev").warnings)
    # prod as shipped and prepared (tests/fixtures/stacks/prepared): the images are not pinned yet.
    assert any("plano:image" in w and "digest" in w for w in stack_run("prod").warnings)
    digest = "sha256:" + "a" * 64
    pinned = {
        "image": f"katanemo/plano:0.4.36@{digest}",
        "pgbouncerImage": f"ghcr.io/cloudnative-pg/pgbouncer:1.24.1@{digest}",
        "initImage": f"postgres:17-alpine@{digest}",
        "collectorImage": f"public.ecr.aws/aws-observability/aws-otel-collector:v0.45.1@{digest}",
    }
    run = run_with("prod", values=pinned)
    assert containers(run)["plano"]["image"] == pinned["image"]
    assert not any("digest" in w for w in run.warnings)


def test_logs_have_a_retention(any_stack: Run) -> None:
    groups = any_stack.of_type(LOG_GROUP)
    assert groups and all(g.inputs["retentionInDays"] > 0 for g in groups)
    task_group = any_stack.outputs["log_group_names"][0]
    for container in containers(any_stack).values():
        assert container["logConfiguration"]["options"]["awslogs-group"] == task_group


def _policy(run: Run, name: str) -> dict[str, Any]:
    return json.loads(run.one(ROLE_POLICY, name).inputs["policy"])


def test_execution_role_reads_exactly_this_tasks_secrets(any_stack: Run) -> None:
    statements = {s["Sid"]: s for s in _policy(any_stack, "execution-policy")["Statement"]}
    secret_arns = {s.name: s for s in any_stack.of_type(SECRET)}
    # Dev's server carries review stacks: the provisioning secret and its verifier's (init only).
    carries_reviews = "review_database" in any_stack.outputs
    assert len(secret_arns) == (6 if carries_reviews else 4)
    readable = statements["ReadThisTasksSecrets"]["Resource"]
    app_arn = next(arn for arn in readable if f":secret:{any_stack.outputs['db_app_secret_name']}-" in arn)
    verifier = [arn for arn in readable if ":secret:plano-dev/db-provisioner-verifier-" in arn]
    assert len(verifier) == (1 if carries_reviews else 0)
    assert sorted(readable) == sorted(
        [
            *any_stack.outputs["provider_key_secret_arns"].values(),
            any_stack.outputs["db_secret_arn"],
            app_arn,
            *verifier,
        ]
    )
    if carries_reviews:  # dev's own tasks never read the provisioning password itself
        assert any_stack.outputs["review_database"]["provisionerSecretArn"] not in readable
    assert statements["ReadThisTasksSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert "DecryptThisTasksSecrets" not in statements
    assert not any("*" in json.dumps(s.get("Resource")) for s in statements.values() if s["Sid"] != "WriteTaskLogs")


def test_kms_decrypt_only_with_a_customer_key() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-4333-8444-555555555555"
    run = run_with("dev", values={"kmsKeyArn": key, "dbEngine": "rds"})
    statements = {s["Sid"]: s for s in _policy(run, "execution-policy")["Statement"]}
    assert statements["DecryptThisTasksSecrets"]["Resource"] == key
    assert statements["DecryptThisTasksSecrets"]["Action"] == "kms:Decrypt"
    assert run.one(RDS).inputs["kmsKeyId"] == key
    assert all(s.inputs["kmsKeyId"] == key for s in run.of_type(SECRET))


def test_task_role_has_no_permissions_except_ecs_exec_without_a_load_balancer() -> None:
    prod = stack_run("prod")
    # prod's only task-role policy is the collector's (tests/aws/test_monitoring.py checks its actions).
    assert sorted(p.name for p in prod.of_type(ROLE_POLICY)) == ["execution-policy", "task-collector-policy"]
    assert [p.name for p in run_with("prod", values={"metricsCollector": "off"}).of_type(ROLE_POLICY)] == [
        "execution-policy"
    ]
    assert prod.one(SERVICE).inputs["enableExecuteCommand"] is False
    dev = stack_run("dev")
    exec_policy = _policy(dev, "task-exec-policy")
    assert {a for s in exec_policy["Statement"] for a in s["Action"]} == {
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    }
    assert dev.one(SERVICE).inputs["enableExecuteCommand"] is True


def test_roles_trust_only_ecs_tasks_of_this_account(any_stack: Run) -> None:
    for role in any_stack.of_type(ROLE):
        statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_deployments_roll_back_on_failure(any_stack: Run) -> None:
    breaker = any_stack.one(SERVICE).inputs["deploymentCircuitBreaker"]
    assert breaker == {"enable": True, "rollback": True}
    # Changing plano:capacity updates the capacity provider strategy, which needs a new deployment.
    assert any_stack.one(SERVICE).inputs["forceNewDeployment"] is True


def test_fixed_names_are_replaced_delete_first(rds_stack: Run) -> None:
    """A replacement under a fixed name (new dbName, albInternal) cannot create the new one first."""
    assert rds_stack.one(RDS).delete_before_replace is True
    for alb in rds_stack.of_type(ALB):
        assert alb.delete_before_replace is True
    assert rds_stack.one(RDS).inputs["allowMajorVersionUpgrade"] is True


def test_prod_autoscales_on_cpu_with_at_least_two_tasks() -> None:
    run = stack_run("prod")
    target = run.one(SCALING_TARGET).inputs
    assert target["minCapacity"] >= 2 and target["maxCapacity"] > target["minCapacity"]
    policy = run.one(SCALING_POLICY).inputs["targetTrackingScalingPolicyConfiguration"]
    assert policy["predefinedMetricSpecification"]["predefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    assert run.one(SERVICE).inputs["desiredCount"] >= 2
    assert "desiredCount" in run.one(SERVICE).ignore_changes
    assert stack_run("dev").of_type(SCALING_POLICY) == []  # dev's only scaling is its schedule


# --- 7. Ingress ---------------------------------------------------------------------------------------


def test_prod_alb_serves_https_and_redirects_http() -> None:
    run = stack_run("prod")
    alb = run.one(ALB).inputs
    assert alb["idleTimeout"] >= 300
    assert alb["internal"] is False
    listeners = {lst.inputs["port"]: lst.inputs for lst in run.of_type(LISTENER)}
    assert set(listeners) == {443, 80}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["certificateArn"].startswith("arn:aws:acm:")
    assert listeners[80]["defaultActions"][0]["type"] == "redirect"
    assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
    group = run.one(TARGET_GROUP).inputs
    assert group["healthCheck"]["path"] == "/healthz"
    assert group["port"] == 12000 and group["targetType"] == "ip"
    assert plain(run.one(SERVICE).inputs["loadBalancers"])[0]["containerPort"] == 12000


def test_alb_without_certificate_serves_http_in_dev() -> None:
    run = run_with("dev", values={"ingress": "alb", "allowedCidrs": ["198.51.100.0/24"]})
    assert run.error is None, run.error
    assert {lst.inputs["port"]: lst.inputs["protocol"] for lst in run.of_type(LISTENER)} == {80: "HTTP"}
    assert any("plain HTTP" in w for w in run.warnings)


def test_alb_admits_only_allowed_cidrs() -> None:
    run = stack_run("prod")
    alb_rules = rules_of(run, INGRESS_RULE, sg_by_role(run, "alb"))
    allowed = yaml.safe_load((stack_dir("prod") / "Pulumi.prod.yaml").read_text())["config"]["plano:allowedCidrs"]
    assert {r["cidrIpv4"] for r in alb_rules} == set(allowed) == {"10.40.0.0/16"}
    other = run_with("prod", values={"allowedCidrs": ["10.9.0.0/16", "192.168.7.0/24"]})
    assert {r["cidrIpv4"] for r in rules_of(other, INGRESS_RULE, sg_by_role(other, "alb"))} == {
        "10.9.0.0/16",
        "192.168.7.0/24",
    }
    assert {r["fromPort"] for r in alb_rules} == {80, 443}
    service_rules = rules_of(run, INGRESS_RULE, sg_by_role(run, "service"))
    assert [r["referencedSecurityGroupId"] for r in service_rules] == [sg_by_role(run, "alb").id]
    assert {r["fromPort"] for r in service_rules} == {12000}


def test_ingress_none_has_no_load_balancer_and_no_inbound_rule() -> None:
    run = stack_run("dev")
    assert run.of_type(ALB) == [] and run.of_type(LISTENER) == [] and run.of_type(TARGET_GROUP) == []
    assert run.of_type(INGRESS_RULE) == [rule for rule in run.of_type(INGRESS_RULE) if rule.name == "db-in-service"]
    assert "port_forward_command" in run.outputs


def test_public_ingress_needs_explicit_consent() -> None:
    refused = run_with("prod", values={"allowedCidrs": ["0.0.0.0/0"]})
    assert isinstance(refused.error, ConfigError)
    assert "plano:allowedCidrs" in str(refused.error) and "allowPublicIngress" in str(refused.error)
    assert refused.resources == []
    allowed = run_with("prod", values={"allowedCidrs": ["0.0.0.0/0", "::/0"], "allowPublicIngress": "true"})
    assert allowed.error is None, allowed.error
    rules = rules_of(allowed, INGRESS_RULE, sg_by_role(allowed, "alb"))
    assert {r.get("cidrIpv4") or r.get("cidrIpv6") for r in rules} == {"0.0.0.0/0", "::/0"}


def test_service_egress_is_https_and_the_database_only() -> None:
    run = stack_run("dev")
    rules = rules_of(run, EGRESS_RULE, sg_by_role(run, "service"))
    open_ports = {(r["fromPort"], r.get("cidrIpv4")) for r in rules if "cidrIpv4" in r}
    assert open_ports == {(443, "0.0.0.0/0")}
    to_db = [r for r in rules if "referencedSecurityGroupId" in r]
    assert [(r["fromPort"], r["referencedSecurityGroupId"]) for r in to_db] == [(5432, sg_by_role(run, "db").id)]


# --- 9. Provider keys ---------------------------------------------------------------------------------


def test_external_provider_keys_get_empty_secrets() -> None:
    run = stack_run("dev")
    keys = [s for s in run.of_type(SECRET) if s.name.startswith("key-")]
    assert sorted(k.inputs["name"] for k in keys) == [
        "plano-dev/provider-keys/ANTHROPIC_API_KEY",
        "plano-dev/provider-keys/OPENAI_API_KEY",
    ]
    # No value for external keys; the database's secrets (and review stacks' provisioning role's).
    assert sorted(v.name for v in run.of_type(SECRET_VERSION)) == [
        "db-app-secret-value",
        "db-secret-value",
        "provisioner-secret-value",
        "provisioner-verifier-value",
    ]
    assert run.outputs["provider_keys_external"] == ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]
    # One string for the shell (`pulumi stack output provider_key_fill_commands | bash`), one line per key.
    commands = run.outputs["provider_key_fill_commands"].splitlines()
    assert commands == [
        "aws secretsmanager put-secret-value --region us-east-1 --secret-id "
        f'plano-dev/provider-keys/{name} --secret-string "${name}"'
        for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    ]


def test_secret_provider_keys_are_written_as_secrets() -> None:
    run = run_with(
        "dev",
        values={"providerKeysExternal": ["ANTHROPIC_API_KEY"]},
        secrets={"providerKeys": {"OPENAI_API_KEY": "sk-test-not-a-real-key"}},
    )
    assert run.error is None, run.error
    version = run.one(SECRET_VERSION, "key-OPENAI_API_KEY-value")
    assert rpc.is_rpc_secret(version.inputs["secretString"])
    assert plain(version.inputs["secretString"]) == "sk-test-not-a-real-key"
    secrets = {s["name"] for s in containers(run)["plano"]["secrets"]}
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"} <= secrets
    everywhere = json.dumps([plain(r.inputs) for r in run.resources if r.type != SECRET_VERSION], default=str)
    assert "sk-test-not-a-real-key" not in everywhere
    assert "sk-test-not-a-real-key" not in json.dumps(run.outputs, default=str)


def test_provider_keys_in_plain_text_are_refused() -> None:
    run = run_with("dev", values={"providerKeys": {"OPENAI_API_KEY": "sk-oops"}, "providerKeysExternal": []})
    assert isinstance(run.error, ConfigError)
    assert "plain text" in str(run.error) and "--secret" in str(run.error)
    assert "sk-oops" not in str(run.error)
    assert run.resources == []


def test_a_key_declared_both_ways_is_refused() -> None:
    run = run_with("dev", secrets={"providerKeys": {"OPENAI_API_KEY": "sk-x"}})
    assert isinstance(run.error, ConfigError)
    message = str(run.error)
    assert "OPENAI_API_KEY" in message and "plano:providerKeys" in message and "plano:providerKeysExternal" in message
    assert run.resources == []


def test_a_variable_declared_nowhere_is_refused() -> None:
    run = run_with("dev", values={"providerKeysExternal": ["OPENAI_API_KEY"]})
    assert isinstance(run.error, ConfigError)
    message = str(run.error)
    assert "$ANTHROPIC_API_KEY" in message
    assert "plano:providerKeys." in message and "plano:providerKeysExternal" in message
    assert run.resources == []


def test_environment_values_reach_plano_as_plain_env() -> None:
    run = run_with("dev", values={"environment": {"LOG_LEVEL": "info", "OTEL_SERVICE_NAME": "plano"}})
    assert run.error is None, run.error
    env = env_of(containers(run)["plano"])
    assert env["LOG_LEVEL"] == "info" and env["OTEL_SERVICE_NAME"] == "plano"


@pytest.mark.parametrize("level", ["debug", "trace"])
def test_debug_logging_is_refused_because_it_logs_the_password(level: str) -> None:
    run = run_with("dev", values={"environment": {"LOG_LEVEL": level}})
    assert isinstance(run.error, ConfigError) and "LOG_LEVEL" in str(run.error)


# --- 10. Outputs --------------------------------------------------------------------------------------


def test_outputs_say_where_everything_is(any_stack: Run) -> None:
    outputs = any_stack.outputs
    for key in (
        "endpoint_url",
        "db_address",
        "db_secret_arn",
        "provider_key_secret_arns",
        "cluster_name",
        "service_name",
        "log_group_names",
        "rendered_plano_config",
    ):
        assert outputs.get(key), key
    assert outputs["db_address"].endswith(".rds.amazonaws.com")
    assert "postgresql://plano_app:$DB_PASS@127.0.0.1:6432/plano" in outputs["rendered_plano_config"]
    assert "sslmode" not in outputs["rendered_plano_config"]


def test_prod_endpoint_is_the_https_load_balancer() -> None:
    assert stack_run("prod").outputs["endpoint_url"].startswith("https://")


def test_components_parent_their_resources(rds_stack: Run) -> None:
    database = rds_stack.one("plano:database:Database")
    credentials = rds_stack.one("plano:database:Credentials")
    assert {r.type for r in children_of(rds_stack, database)} >= {RDS, PARAMS, credentials.type}
    assert {r.type for r in children_of(rds_stack, credentials)} == {SECRET, SECRET_VERSION, PASSWORD}
    service = rds_stack.one("plano:service:PlanoService")
    assert {r.type for r in children_of(rds_stack, service)} >= {SERVICE, TASK, LOG_GROUP}
