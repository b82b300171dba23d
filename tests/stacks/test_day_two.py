"""The second and later deploys (issue 9): what a changed secret, a rotation or a listener change does.

Under mocks: prod protects every Secret and no SecretVersion (a new value replaces the version);
a changed value of any secret the task reads changes what the service deploys; Plano and
PgBouncer never get the master secret; the service depends on the load balancer's listeners;
the deregistration delay covers the longest listener timeout; zones are standard AZs only; the
key reminder survives a caller without ListSecretVersionIds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from plano_pulumi.aws.credentials import password_keepers, secret_value_fingerprint
from plano_pulumi.aws.ingress import deregistration_delay_s
from plano_pulumi.core.plano_config import Listener
from plano_tools.simulate import MOCK_PASSWORD, OfflineMocks, Run
from pulumi.runtime import rpc

from tests.conftest import PROJECT, containers, plain, run_with, stack_run

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"
SERVICE = "aws:ecs/service:Service"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
RDS = "aws:rds/instance:Instance"
KEY = {"OPENAI_API_KEY": "sk-test-not-a-real-key-1"}


def triggers(run: Run) -> dict[str, str]:
    assert run.error is None, run.error
    return dict(plain(run.one(SERVICE).inputs["triggers"]))


def secret_named(run: Run, name: str) -> Any:
    return next(s for s in run.of_type(SECRET) if s.name == name)


# --- 1. Protect the secrets, not their versions --------------------------------------------------


def test_prod_protects_every_secret_and_no_secret_version() -> None:
    run = run_with("prod", secrets={"providerKeys": KEY}, values={"providerKeysExternal": ["ANTHROPIC_API_KEY"]})
    assert run.error is None, run.error
    secrets, versions = run.of_type(SECRET), run.of_type(SECRET_VERSION)
    assert {s.name for s in secrets} == {"db-secret", "db-app-secret", "key-OPENAI_API_KEY", "key-ANTHROPIC_API_KEY"}
    assert all(s.protect for s in secrets)
    assert all(s.inputs["recoveryWindowInDays"] == 30 for s in secrets)  # a stray destroy can be undone
    assert {v.name for v in versions} == {"db-secret-value", "db-app-secret-value", "key-OPENAI_API_KEY-value"}
    assert not any(v.protect for v in versions)


def test_dev_secrets_go_at_once() -> None:
    run = stack_run("dev")
    assert all(not s.protect and s.inputs["recoveryWindowInDays"] == 0 for s in run.of_type(SECRET))


def test_moved_master_password_and_secret_keep_their_identity() -> None:
    """Existing stacks must not get a new master password or a re-created secret from the refactor."""
    run = stack_run("prod")
    database = run.one("plano:database:Database")
    for resource in (
        run.one(PASSWORD, "password"),
        secret_named(run, "db-secret"),
        run.one(SECRET_VERSION, "db-secret-value"),
    ):
        assert resource.parent != database.urn  # now under plano:database:Credentials ...
        assert run.one(PASSWORD, "password").inputs.get("keepers") in (None, {})  # ... and version 1 keeps no keepers


# --- 2. Rotated values reach the tasks ---------------------------------------------------------------


def test_a_new_provider_key_value_changes_what_the_service_deploys() -> None:
    external = {"providerKeysExternal": ["ANTHROPIC_API_KEY"]}
    before = run_with("prod", values=external, secrets={"providerKeys": KEY})
    after = run_with("prod", values=external, secrets={"providerKeys": {"OPENAI_API_KEY": "sk-test-not-a-real-key-2"}})
    same = run_with("prod", values=external, secrets={"providerKeys": KEY})
    assert triggers(before) != triggers(after)
    assert triggers(before) == triggers(same)  # no change, no redeploy
    assert plain(before.one(SERVICE).inputs["forceNewDeployment"]) is True  # `triggers` needs it
    # The trigger is a digest of version ids, never of the values.
    assert "sk-test" not in json.dumps(triggers(after))


def test_a_new_database_endpoint_changes_what_the_service_deploys() -> None:
    """The DB secret's JSON holds the host; a new identifier moves it (and its secret value)."""
    assert triggers(stack_run("dev")) != triggers(run_with("dev", values={"dbName": "plano2"}))


def test_fingerprint_follows_the_version_ids_only() -> None:
    assert secret_value_fingerprint(["a", "b"]) == secret_value_fingerprint(["b", "a"])
    assert secret_value_fingerprint(["a", "b"]) != secret_value_fingerprint(["a", "c"])


def test_redeploy_command_for_external_keys_names_the_region_and_waits() -> None:
    run = stack_run("prod")
    command = run.outputs["redeploy_command"]
    assert command.startswith("aws ecs update-service --region us-east-1 --cluster ")
    assert f"--service {run.outputs['service_name']} --force-new-deployment" in command
    assert "aws ecs wait services-stable --region us-east-1" in command


# --- 3. Database password rotation ----------------------------------------------------------------


def test_bumping_db_password_version_rotates_both_passwords_and_rolls_the_service() -> None:
    v1, v2 = stack_run("prod"), run_with("prod", values={"dbPasswordVersion": 2})
    assert v2.error is None, v2.error
    assert v2.one(PASSWORD, "password").inputs["keepers"] == {"dbPasswordVersion": "2"}
    assert v2.one(PASSWORD, "app-password").inputs["keepers"] == {"dbPasswordVersion": "2"}
    master = [plain(r.one(RDS).inputs["password"]) for r in (v1, v2)]
    assert master[0] != master[1]  # a new master password in RDS ...
    for name in ("db-secret-value", "db-app-secret-value"):  # ... and in both secrets
        values = [json.loads(plain(r.one(SECRET_VERSION, name).inputs["secretString"]))["password"] for r in (v1, v2)]
        assert values[0] != values[1]
    assert json.loads(plain(v2.one(SECRET_VERSION, "db-secret-value").inputs["secretString"]))["password"] == master[1]
    assert triggers(v1) != triggers(v2)


def test_password_keepers_leave_version_1_alone() -> None:
    assert password_keepers(1) is None
    assert password_keepers(3) == {"dbPasswordVersion": "3"}


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_db_password_version_must_be_a_positive_integer(bad: str) -> None:
    run = run_with("dev", values={"dbPasswordVersion": bad})
    assert run.error is not None and "plano:dbPasswordVersion" in str(run.error)
    assert run.resources == []


# --- 4. Least privilege ------------------------------------------------------------------------------


def test_plano_and_pgbouncer_never_get_the_master_secret(any_stack: Run) -> None:
    defs = containers(any_stack)
    master_arn = any_stack.outputs["db_secret_arn"]
    plano_db = next(s["valueFrom"] for s in defs["plano"]["secrets"] if s["name"] == "DB_PASS")
    assert not plano_db.startswith(master_arn)
    assert f":secret:{any_stack.outputs['db_app_secret_name']}-" in plano_db
    assert "secrets" not in defs["pgbouncer"]
    assert not any(s["valueFrom"].startswith(master_arn) for s in defs["plano"]["secrets"])
    init = {s["name"]: s["valueFrom"] for s in defs["init"]["secrets"]}
    assert init["PGPASSWORD"].startswith(master_arn)  # DDL and grants
    assert init["APP_DB_PASSWORD"] == plano_db  # the userlist and the role's password


def test_app_secret_holds_plano_roles_json(any_stack: Run) -> None:
    value = json.loads(plain(any_stack.one(SECRET_VERSION, "db-app-secret-value").inputs["secretString"]))
    assert value["username"] == "plano_app" and value["dbname"] == "plano"
    assert value["password"] != MOCK_PASSWORD  # its own password, not the master's
    assert secret_named(any_stack, "db-app-secret").inputs["name"] == f"plano-{any_stack.stack}/db-app"


def test_app_password_is_only_in_its_secret(any_stack: Run) -> None:
    value = json.loads(plain(any_stack.one(SECRET_VERSION, "db-app-secret-value").inputs["secretString"]))
    app_password = value["password"]
    carriers = []
    for resource in any_stack.resources:
        for key, item in resource.inputs.items():
            if app_password in json.dumps(plain(item), default=str):
                carriers.append((resource.name, key))
                assert rpc.is_rpc_secret(item), (resource.name, key)
    assert carriers == [("db-app-secret-value", "secretString")]
    assert app_password not in json.dumps(any_stack.outputs, default=str)


# --- 5. and 6. Listeners and streams ---------------------------------------------------------------


def test_service_waits_for_every_listener() -> None:
    run = stack_run("prod")
    listeners = run.of_type(LISTENER)
    assert listeners
    assert {lst.urn for lst in listeners} <= set(run.one(SERVICE).depends_on)


def test_prod_deregistration_delay_covers_the_longest_listener_timeout(tmp_path: Path) -> None:
    config = yaml.safe_load((PROJECT / "plano_config.yaml").read_text())
    timeouts = [int(str(lst.get("timeout", "0s")).rstrip("s")) for lst in config["listeners"]]
    groups = stack_run("prod").of_type(TARGET_GROUP)
    assert groups and all(g.inputs["deregistrationDelay"] >= max(timeouts) for g in groups)
    assert all(g.inputs["deregistrationDelay"] == 10 for g in stack_run("dev").of_type(TARGET_GROUP))
    # A longer stream in the user's config lengthens the delay.
    for listener in config["listeners"]:
        if listener.get("timeout"):
            listener["timeout"] = "900s"
    longer = tmp_path / "plano_config.yaml"
    longer.write_text(yaml.safe_dump(config))
    run = run_with("prod", values={"configFile": str(longer)})
    assert run.error is None, run.error
    assert {g.inputs["deregistrationDelay"] for g in run.of_type(TARGET_GROUP)} == {900}


def test_deregistration_delay_rule() -> None:
    model = Listener(name="m", type="model", port=12000, timeout_s=900)
    agent = Listener(name="a", type="agent", port=8001, timeout_s=None)
    assert deregistration_delay_s((model, agent), keep_streams=True) == 900
    assert deregistration_delay_s((agent,), keep_streams=True) == 300  # Plano's default stream length
    assert deregistration_delay_s((Listener("m", "model", 1, 7200),), keep_streams=True) == 3600  # AWS's maximum
    assert deregistration_delay_s((model,), keep_streams=False) == 10  # dev stays quick


def test_the_plan_shows_the_deregistration_delay() -> None:
    from plano_tools.plan import plan_document, plan_text

    text = plan_text(plan_document(stack_run("prod")))
    assert "deregistrationDelay" in text and "300" in text


# --- 8. and 9. Preview permissions, zones ------------------------------------------------------------


class EngineInvokeError(grpc.RpcError):
    """How the engine answers an invoke whose provider failed: a gRPC error status.

    The engine's ResourceMonitor.Invoke returns ``invocation of <tok> returned an error: ...`` as
    a gRPC error, which the Python SDK raises in the program as an ordinary, catchable exception.
    (A mock's ``call`` that raises would instead count as a failed RPC and end the program.)
    """

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


def _calls(monkeypatch: pytest.MonkeyPatch, deny: str = "") -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    original = OfflineMocks.call

    def call(self: OfflineMocks, args: Any) -> Any:
        seen.append((args.token, dict(args.args)))
        if deny and args.token == deny:
            raise EngineInvokeError(f"invocation of {deny} returned an error: AccessDeniedException: not authorized")
        if args.token == "aws:secretsmanager/getSecrets:getSecrets":
            names = ["plano-dev/provider-keys/OPENAI_API_KEY"]
            return {"names": names, "arns": [f"arn:{n}" for n in names]}, []
        if args.token == "aws:secretsmanager/getSecretVersions:getSecretVersions":
            return {"versions": []}, []
        return original(self, args)

    monkeypatch.setattr(OfflineMocks, "call", call)
    return seen


def test_preview_without_list_secret_version_ids_still_runs_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    _calls(monkeypatch, deny="aws:secretsmanager/getSecretVersions:getSecretVersions")
    run = run_with("dev")
    assert run.error is None, run.error
    assert any("could not check" in w and "ListSecretVersionIds" in w for w in run.warnings), run.warnings
    assert len(run.resources) > 30


def test_preview_with_the_permission_names_the_empty_key(monkeypatch: pytest.MonkeyPatch) -> None:
    _calls(monkeypatch)
    run = run_with("dev")
    assert any(w.startswith("OPENAI_API_KEY has no value") for w in run.warnings), run.warnings


def test_zones_are_standard_availability_zones_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _calls(monkeypatch)
    assert run_with("dev").error is None
    zone_args = [a for token, a in seen if token == "aws:index/getAvailabilityZones:getAvailabilityZones"]
    assert zone_args, seen
    filters = {f["name"]: f["values"] for f in zone_args[0]["filters"]}
    assert filters == {"opt-in-status": ["opt-in-not-required"], "zone-type": ["availability-zone"]}
    assert zone_args[0]["state"] == "available"
