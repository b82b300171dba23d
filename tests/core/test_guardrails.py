"""Guardrails, third round (issue 19): each class of defect an adversarial pass found, closed at its
root, with a table of cases per class (forms the issue lists and others of the same kind).

1. the pack folds container keys the way Go's encoding/json does (long s, Kelvin sign, ...);
2. the service, the database and the load balancer carry only the stack's own security groups;
3. a parameter listed twice in a parameter group is refused;
4. ``--secret`` values stay secret in every derived form (messages, plan, inputs, outputs);
6. environment names the task, its image or CI own are refused (one list, program and CI script);
7. derived database names and physical names stay usable and distinct;
8. nothing user-controlled reaches a rendered file but through the YAML emitter; durations and ports
   are written as Envoy and AWS read them;
9. ASCII where AWS means ASCII; ARNs in the stack's region and partition;
10. errors stay one line and name the key at fault; paths, local.env and sizes never traceback;
11. keys a profile ignores are still checked, with a warning; time zones from the shipped list.

Class 5 (hostile registries and plans) is in tests/tools/test_hostile_tools.py and
tests/integration/test_pin_images.py; the property tests are at the end of this file.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from plano_pulumi.core.errors import SECRET_MASK, ConfigError, show_value
from plano_pulumi.core.naming import LIMITS, Names
from plano_pulumi.core.plano_config import envoy_duration, render_plano_config
from plano_pulumi.core.reserved_env import reserved_by, reserved_env_entries
from plano_pulumi.core.secret_names import go_fold
from plano_pulumi.core.settings.masking import scrub, secret_strings
from plano_pulumi.core.settings.model import RawConfig, app_role_name
from plano_pulumi.local.provider_keys import read_external_keys
from plano_tools.plan import plan_document
from plano_tools.simulate import unwrap_secrets

from policy import validators as v
from policy.validators import Context, check, violated_policies
from tests.conftest import PROJECT, run_with, stack_run
from tests.policy.test_policy import PINNED, Resources, edit_containers, find, report, resources_of

# Fakes with a secret's shape, built at run time (no secret-looking literal in the repository).
KEY_LIKE = "sk-proj-" + "Qw7" * 16
AWS_KEY_LIKE = "AKIA" + "Z7Q2" * 4
LONG_S, KELVIN = "\u017f", "\u212a"
TASK = v.TASK_DEFINITION
# Not the example account: prod refuses documentation placeholders (core/settings/placeholders.py).
PROD_CERT = "arn:aws:acm:us-east-1:491085411627:certificate/00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def prod() -> Resources:
    resources = resources_of(run_with("prod", values=PINNED))
    assert check(resources) == [], report(check(resources))
    return resources


@pytest.fixture(scope="module")
def dev() -> Resources:
    resources = resources_of(run_with("dev", values={"dbEngine": "rds"}))
    assert check(resources) == [], report(check(resources))
    return resources


def broken(base: Resources, mutate: Callable[[Resources], None]) -> list[str]:
    resources = copy.deepcopy(base)
    mutate(resources)
    return check(resources)


# --- 1. keys as Go's encoding/json folds them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "folded"),
    [
        ("portMappings", "portmappings"),
        (f"portMapping{LONG_S}", "portmappings"),  # long s folds to s
        (f"{LONG_S}ecrets", "secrets"),
        (f"healthChec{KELVIN}", "healthcheck"),  # Kelvin sign folds to k
        (f"docker{KELVIN}abels", "dockerkabels"),
        ("\u03a3\u03c2", "\u03a3\u03a3"),  # final sigma folds with sigma
        ("\u0131d", "\u0131d"),  # Turkic dotless i has no simple fold in Go
        ("STRASSE", "strasse"),
    ],
)
def test_keys_fold_as_go_folds_them(key: str, folded: str) -> None:
    assert go_fold(key) == folded


def _rename(container: dict[str, Any], old: str, new: str) -> None:
    container[new] = container.pop(old)


FOLD_CASES: list[tuple[str, Callable[[dict[str, dict[str, Any]]], None], str]] = [
    (
        "portMappings with a long s maps Envoy's admin port",
        lambda d: d["plano"].update({f"portMapping{LONG_S}": [{"containerPort": 9901, "protocol": "tcp"}]}),
        "no-internal-ports",
    ),
    (
        "hostPort with a long s",
        lambda d: d["plano"]["portMappings"].append({"containerPort": 12000, f"ho{LONG_S}tPort": 9901}),
        "no-internal-ports",
    ),
    (
        "secrets with a long s holding a key as valueFrom",
        lambda d: d["plano"].update({f"{LONG_S}ecrets": [{"name": "X_API", "valueFrom": KEY_LIKE}]}),
        "no-secrets-in-container-environment",
    ),
    (
        "dockerLabels with a long s naming a password",
        lambda d: d["plano"].update({f"dockerLabel{LONG_S}": {"DB_PASSWORD": "x"}}),
        "no-secrets-in-container-environment",
    ),
    (
        "linuxParameters with a long s holding a key",
        lambda d: d["plano"].update({f"linuxParameter{LONG_S}": {"capabilities": {"add": [KEY_LIKE]}}}),
        "no-secrets-in-container-environment",
    ),
    (
        "healthCheck with a Kelvin sign holding a key",
        lambda d: d["plano"].update({f"healthChec{KELVIN}": {"command": ["CMD", KEY_LIKE]}}),
        "no-secrets-in-container-environment",
    ),
    (
        "an environment name with a Kelvin sign",
        lambda d: d["plano"]["environment"].append({"name": f"OPENAI_API_{KELVIN}EY", "value": "x"}),
        "no-secrets-in-container-environment",
    ),
    (
        "two spellings of secrets are both read",
        lambda d: d["plano"].update({"SECRETS": [], f"{LONG_S}ECRETS": [{"name": "Y", "valueFrom": KEY_LIKE}]}),
        "no-secrets-in-container-environment",
    ),
]


@pytest.mark.parametrize(("case", "edit", "policy"), FOLD_CASES, ids=[c[0] for c in FOLD_CASES])
def test_the_pack_reads_container_keys_as_aws_does(
    case: str, edit: Callable[[dict[str, dict[str, Any]]], None], policy: str, prod: Resources
) -> None:
    messages = broken(prod, edit_containers(edit))
    assert policy in violated_policies(messages), report(messages)


# --- 2. security groups the stack does not own ------------------------------------------------------------

FOREIGN = "sg-0123456789abcdef0"


def _group(resources: Resources, name: str) -> str:
    return str(find(resources, v.SECURITY_GROUP, name)["id"])


def _add_db_rule(source_key: str, source: Callable[[Resources], str], type_: str = v.INGRESS_RULE) -> Any:
    def mutate(resources: Resources) -> None:
        props: dict[str, Any] = {"securityGroupId": _group(resources, "db"), "fromPort": 5432, "toPort": 5432}
        if type_ == v.SECURITY_GROUP_RULE:
            props.update(type="ingress", protocol="tcp")
        else:
            props["ipProtocol"] = "tcp"
        if source_key == "self":
            props["self"] = True
        else:
            props[source_key] = source(resources)
        resources.append({"type": type_, "name": "db-extra", "props": props})

    return mutate


def _append(type_: str, *path: str) -> Callable[[Resources], None]:
    def mutate(resources: Resources) -> None:
        props = find(resources, type_)["props"]
        for key in path[:-1]:
            props = props[key]
        props[path[-1]] = [*props[path[-1]], FOREIGN]

    return mutate


def _inline_foreign_source(resources: Resources) -> None:
    find(resources, v.SECURITY_GROUP, "db")["props"]["ingress"] = [
        {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": [FOREIGN]}
    ]


GROUP_CASES = [
    (
        "foreign group on the service",
        _append(v.ECS_SERVICE, "networkConfiguration", "securityGroups"),
        "security-groups-owned-by-the-stack",
    ),
    (
        "foreign group on the database",
        _append(v.RDS_INSTANCE, "vpcSecurityGroupIds"),
        "security-groups-owned-by-the-stack",
    ),
    (
        "foreign group on the load balancer",
        _append(v.LOAD_BALANCERS[0], "securityGroups"),
        "security-groups-owned-by-the-stack",
    ),
    (
        "database admits a foreign group",
        _add_db_rule("referencedSecurityGroupId", lambda r: FOREIGN),
        "db-ingress-only-from-security-groups",
    ),
    (
        "database admits the load balancer's group",
        _add_db_rule("referencedSecurityGroupId", lambda r: _group(r, "alb")),
        "db-ingress-only-from-security-groups",
    ),
    (
        "classic rule: database admits a foreign group",
        _add_db_rule("sourceSecurityGroupId", lambda r: FOREIGN, v.SECURITY_GROUP_RULE),
        "db-ingress-only-from-security-groups",
    ),
    (
        "database admits itself",
        _add_db_rule("self", lambda r: "", v.SECURITY_GROUP_RULE),
        "db-ingress-only-from-security-groups",
    ),
    ("inline rule from a foreign group", _inline_foreign_source, "db-ingress-only-from-security-groups"),
]


@pytest.mark.parametrize(("case", "mutate", "policy"), GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_only_the_stacks_own_groups(
    case: str, mutate: Callable[[Resources], None], policy: str, prod: Resources
) -> None:
    messages = broken(prod, mutate)
    assert policy in violated_policies(messages), report(messages)


def test_the_service_group_admitted_into_the_database_passes(prod: Resources) -> None:
    rule = find(prod, v.INGRESS_RULE, "db-in-service")["props"]
    assert rule["referencedSecurityGroupId"] == _group(prod, "service")
    assert check(prod) == []


# --- 3. a parameter listed twice -------------------------------------------------------------------------------


def _params(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": n, "value": value, "applyMethod": "pending-reboot"} for n, value in pairs]


REPEATED = [
    ("force_ssl 1 then 0", v.PARAMETER_GROUP, "postgres17", _params(("rds.force_ssl", "1"), ("rds.force_ssl", "0"))),
    ("force_ssl 0 then 1", v.PARAMETER_GROUP, "postgres17", _params(("rds.force_ssl", "0"), ("rds.force_ssl", "1"))),
    ("force_ssl 1 twice", v.PARAMETER_GROUP, "postgres16", _params(("rds.force_ssl", "1"), ("rds.force_ssl", "1"))),
    ("another case", v.PARAMETER_GROUP, "postgres17", _params(("rds.force_ssl", "1"), ("RDS.FORCE_SSL", "0"))),
    ("surrounding space", v.PARAMETER_GROUP, "postgres17", _params(("rds.force_ssl", "1"), (" rds.force_ssl ", "0"))),
    (
        "another parameter twice",
        v.PARAMETER_GROUP,
        "postgres17",
        _params(("rds.force_ssl", "1"), ("cron.database_name", "plano"), ("cron.database_name", "postgres")),
    ),
    (
        "aurora cluster group",
        v.CLUSTER_PARAMETER_GROUP,
        "aurora-postgresql16",
        _params(("rds.force_ssl", "1"), ("rds.force_ssl", "0")),
    ),
]


@pytest.mark.parametrize(("case", "type_", "family", "parameters"), REPEATED, ids=[c[0] for c in REPEATED])
def test_a_parameter_listed_twice_is_refused(case: str, type_: str, family: str, parameters: Any) -> None:
    messages = v.rds_force_ssl(type_, {"family": family, "parameters": parameters}, Context())
    assert any("more than once" in m for m in messages), messages
    database = {"type": v.RDS_INSTANCE, "name": "db", "props": {"engine": "postgres", "parameterGroupName": "g"}}
    if type_ == v.CLUSTER_PARAMETER_GROUP:
        database = {
            "type": v.RDS_CLUSTER,
            "name": "db",
            "props": {"engine": "aurora-postgresql", "dbClusterParameterGroupName": "g"},
        }
    group = {"type": type_, "name": "g", "props": {"name": "g", "family": family, "parameters": parameters}}
    assert any("more than once" in m for m in v.rds_force_ssl_attached([group, database], Context()))


def test_the_program_lists_each_parameter_once() -> None:
    for run in (stack_run("prod"), run_with("dev", values={"dbEngine": "rds"})):
        for group in [*run.of_type(v.PARAMETER_GROUP), *run.of_type(v.CLUSTER_PARAMETER_GROUP)]:
            names = [p["name"] for p in unwrap_secrets(group.inputs["parameters"])]
            assert len(names) == len(set(names)), names


# --- 4. --secret values in every form ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretCase:
    id: str
    key: str
    value: Any
    forms: tuple[str, ...]  # derived forms of the value that must appear nowhere
    stack: str = "prod"
    fails: bool = False  # the value is refused: check the message


SECRET_CASES = [
    SecretCase("stripped in a message", "dbInstanceClass", "  t4g.hidden9  ", ("t4g.hidden9",), fails=True),
    SecretCase(
        "shortened in a message",
        "image",
        "Registry.Example/" + "verylongsecretpath" * 12,
        ("Registry.Example/verylongsecretpath", "registry.example/verylongsecretpath"),
        fails=True,
    ),
    SecretCase(
        "case-changed in a message", "dbName", "Hidden-DB-Name", ("hidden-db-name", "Hidden-DB-Name"), fails=True
    ),
    SecretCase(
        "quoted in a message", "dbUser", 'bad"user\\hidden', ('bad\\"user\\\\hidden', 'bad"user\\hidden'), fails=True
    ),
    SecretCase("line break in a message", "dbName", "bad\nhiddenname", ("bad\\nhiddenname", "hiddenname"), fails=True),
    SecretCase(
        "certificate with a trailing space",
        "certificateArn",
        PROD_CERT.replace("0000-4000", "0000-4abc") + " ",
        ("00000000-0000-4abc-8000-000000000000",),
    ),
    SecretCase(
        "network written back normalised",
        "allowedCidrs",
        ["2600:1F18:0:0::/64"],
        ("2600:1f18::/64", "2600:1F18:0:0::/64"),
    ),
    SecretCase("database user in the rendered config output", "dbUser", "zqhidden", ("zqhidden",), stack="dev"),
]


def _plain_texts(run: Any) -> str:
    """Every plain (non-secret) resource input and stack output, as one text."""
    inputs = [unwrap_secrets(r.inputs, "[secret]") for r in run.resources]
    return json.dumps([inputs, unwrap_secrets(run.outputs, "[secret]")])


@pytest.mark.parametrize("case", SECRET_CASES, ids=[c.id for c in SECRET_CASES])
def test_a_secret_value_appears_in_no_form(case: SecretCase) -> None:
    run = run_with(case.stack, secrets={case.key: case.value})
    if case.fails:
        assert isinstance(run.error, ConfigError), run.error
        message = str(run.error)
        assert "\n" not in message
        for form in case.forms:
            assert form.lower() not in message.lower(), message
        return
    assert run.error is None, run.error
    texts = [_plain_texts(run), json.dumps(plan_document(run)), " ".join(run.warnings)]
    for form in case.forms:
        for text in texts:
            assert form.lower() not in text.lower(), f"{form} in {text[:300]}"


def test_a_secret_user_makes_the_rendered_config_output_secret() -> None:
    plain = run_with("dev", values={"dbUser": "zqvisible"})
    assert "zqvisible_app" in plain.outputs["rendered_plano_config"]
    secret = run_with("dev", secrets={"dbUser": "zqhidden"})
    assert unwrap_secrets(secret.outputs["rendered_plano_config"], "[secret]") == "[secret]"


# --- 6. environment names the task owns ----------------------------------------------------------------------

RESERVED_NAMES = [
    "PATH",
    "LD_PRELOAD",
    "UV_NO_SYNC",
    "ENVOY_LOG",
    "PGHOST",
    "PYTHONPATH",
    "AWS_REGION",
    "GITHUB_REPOSITORY",
    "ACTIONS_CACHE_URL",
    "PLANO_CONFIG_FILE",
    "DB_PASS",
    "HOME",
]


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_reserved_names_are_refused_in_the_environment(name: str) -> None:
    run = run_with("dev", values={"environment": {name: "1"}})
    assert isinstance(run.error, ConfigError), run.error
    assert f"plano:environment.{name}" in str(run.error) and run.resources == []


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "PULUMI_ACCESS_TOKEN",
        "GITHUB_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "PGPASSWORD",
        "UV_INDEX_URL",
    ],
)
def test_reserved_names_are_refused_as_provider_keys(name: str) -> None:
    external = run_with("dev", values={"providerKeysExternal": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", name]})
    assert isinstance(external.error, ConfigError) and name in str(external.error), external.error
    assert "reserved" in str(external.error)
    inline = run_with("dev", secrets={"providerKeys": {name: "v-" + "x" * 20}})
    assert isinstance(inline.error, ConfigError) and name in str(inline.error), inline.error


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://user:hunter2pw@db.example:5432/x",
        KEY_LIKE,
        AWS_KEY_LIKE,
        "password=hunter2pw",
        "ghp_" + "A1b" * 10,
    ],
    ids=["connection string", "openai", "aws", "pair", "github"],
)
def test_credential_looking_environment_values_are_refused(value: str) -> None:
    run = run_with("dev", values={"environment": {"SOME_SETTING": value}})
    assert isinstance(run.error, ConfigError), run.error
    assert "plano:environment.SOME_SETTING" in str(run.error) and value not in str(run.error)


def test_the_reserved_list_covers_the_task_and_ci() -> None:
    for name in [
        "PLANO_CONFIG_FILE",
        "DB_PASS",
        "APP_DB_USER",
        "PGUSER",
        "UV_PROJECT_ENVIRONMENT",
        "PULUMI_CONFIG_PASSPHRASE",
    ]:
        assert reserved_by(name), name
    for name in ["OPENAI_API_KEY", "LOG_LEVEL", "path", "MY_AWS_THING"]:
        assert reserved_by(name) is None, name
    assert "AWS_*" in reserved_env_entries() and "PATH" in reserved_env_entries()


def test_every_variable_the_task_sets_is_reserved() -> None:
    from plano_pulumi.core.plano_config import DB_PASSWORD_VAR
    from plano_pulumi.core.settings import TlsMode
    from plano_pulumi.core.task_env import init_environment, plano_environment
    from plano_pulumi.core.task_files import PGBOUNCER_INI_NAME, PLANO_CONFIG_NAME, SCHEMA_NAME

    files = {PLANO_CONFIG_NAME: "", PGBOUNCER_INI_NAME: "", SCHEMA_NAME: ""}
    init = init_environment(
        files, db_host="h", db_port=5432, db_name="d", db_user="u", app_user="u_app", tls_mode=TlsMode.REQUIRE
    )
    for name in [*init, *plano_environment({}), DB_PASSWORD_VAR]:
        assert reserved_by(name), name


@pytest.mark.processes
@pytest.mark.parametrize(
    "name",
    ["AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE", "GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "PATH"],
)
def test_ci_never_copies_a_reserved_name_into_secrets_manager(name: str, tmp_path: Path) -> None:
    outputs = {
        "provider_keys_external": ["OPENAI_API_KEY", name],
        "provider_key_secret_arns": {
            n: f"arn:aws:secretsmanager:us-east-1:123456789012:secret:plano-dev/provider-keys/{n}-AbCdEf"
            for n in ("OPENAI_API_KEY", name)
        },
    }
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    (tmp_path / "pulumi").write_text(f'#!/bin/sh\ncat "{tmp_path / "outputs.json"}"\n')
    (tmp_path / "aws").write_text('#!/bin/sh\necho "$@" >> "$CALLS"\necho "{}"\n')
    for tool in ("pulumi", "aws"):
        (tmp_path / tool).chmod(0o755)
    calls = tmp_path / "calls"
    env = {
        "PATH": f"{tmp_path}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "OPENAI_API_KEY": "v1",
        name: "ci-own-value",
    }
    if name == "PATH":
        env[name] = f"{tmp_path}:{os.environ['PATH']}"
    result = subprocess.run(
        ["bash", str(PROJECT / "scripts/ci/fill-provider-keys.sh"), "dev"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1 and not calls.exists(), (result.stdout, result.stderr)
    assert name in result.stderr and "reserved" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --- 7. names that break later ------------------------------------------------------------------------------------

NAME_CASES = [
    ("dbUser pg makes the role pg_app", {"dbUser": "pg"}, "plano:dbUser"),
    ("dbUser 63 characters ending _app equals its role", {"dbUser": "a" * 59 + "_app"}, "plano:dbUser"),
    ("dbUser 60 characters", {"dbUser": "b" * 60}, "plano:dbUser"),
    ("dbUser an SQL reserved word", {"dbUser": "order"}, "plano:dbUser"),
    ("dbName pgbouncer", {"dbName": "pgbouncer"}, "plano:dbName"),
    ("dbName an SQL reserved word", {"dbName": "select"}, "plano:dbName"),
    ("dbName another reserved word", {"dbName": "window"}, "plano:dbName"),
]


@pytest.mark.parametrize(("case", "values", "key"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_database_names_that_break_later_are_refused(case: str, values: dict[str, str], key: str) -> None:
    run = run_with("dev", values=values)
    assert isinstance(run.error, ConfigError) and key in str(run.error), run.error
    assert run.resources == []


def test_the_app_role_never_equals_the_master_user() -> None:
    for user in ("plano", "a" * 59, "pg1", "x_app"):
        assert app_role_name(user) != user and len(app_role_name(user)) <= 63


def _confusable(stack: str) -> str:
    """A stack name that the old naming mapped onto ``stack``'s names: its hashed base, read back."""
    return Names("plano", stack).base.removeprefix("plano-")


CONFUSABLE = [
    ("Dev", None),
    ("pr_12", None),
    ("a.b", None),
    ("Review-Stack", None),
    ("x" * 40, "alb"),  # shortened for the load balancer's 32 characters
    ("feature-" + "y" * 30, "target_group"),
]


@pytest.mark.parametrize(("stack", "kind"), CONFUSABLE)
def test_two_stacks_never_share_a_physical_name(stack: str, kind: str | None) -> None:
    one = Names("plano", stack)
    if kind is None:
        other = Names("plano", _confusable(stack))
        pairs = [(one.base, other.base), (one.alb, other.alb), (one.db_identifier, other.db_identifier)]
    else:
        shortened = one.name(kind, "12000" if kind == "target_group" else "")
        other = Names("plano", shortened.removeprefix("plano-").removesuffix("-12000"))
        pairs = [(shortened, other.name(kind, "12000" if kind == "target_group" else ""))]
    for mine, theirs in pairs:
        assert mine != theirs


def test_readable_names_stay_as_they_were() -> None:
    for stack in ("dev", "prod", "local", "pr-123", "review-abc", "staging-2"):
        assert Names("plano", stack).base == f"plano-{stack}"


# --- 8. input that reaches rendered files -----------------------------------------------------------------------

DOCUMENT = {"version": "v0.4.0", "listeners": [{"type": "model", "name": "llm", "port": 12000}]}
SOURCES = [
    "plano.yaml\nstate_storage: {type: memory}\n#",
    "plano.yaml\rinjected: true",
    "x\u2028listeners: []",
    "name with spaces.yaml",
    "../../etc/passwd",
    "# comment.yaml",
]


@pytest.mark.parametrize("source", SOURCES)
def test_the_config_file_name_never_reaches_the_rendered_file(source: str) -> None:
    rendered = render_plano_config(DOCUMENT, source=source, db_user="plano_app", db_name="plano")
    document = yaml.safe_load(rendered.text)
    assert set(document) == {"version", "listeners", "state_storage"}
    assert document["state_storage"]["type"] == "postgres"
    assert Path(source).name not in rendered.text.splitlines()[0]


@pytest.mark.parametrize(
    ("timeout", "envoy"),
    [("300s", "300s"), ("5m", "300s"), ("1500ms", "1.5s"), ("1h", "3600s"), ("250ms", "0.25s"), ("30s", "30s")],
)
def test_timeouts_reach_envoy_as_durations(timeout: str, envoy: str) -> None:
    assert envoy_duration(timeout) == envoy
    listeners = [{"type": "agent", "name": "a", "port": 8001, "timeout": timeout}, DOCUMENT["listeners"][0]]
    rendered = render_plano_config({**DOCUMENT, "listeners": listeners}, source="p.yaml", db_user="u_app", db_name="d")
    assert yaml.safe_load(rendered.text)["listeners"][0]["timeout"] == envoy


BAD_LISTENERS = [
    ("full-width digits", {"timeout": "\uff11\uff10s"}, "timeout"),
    ("space before the unit", {"timeout": "5 m"}, "timeout"),
    ("zero", {"timeout": "0s"}, "timeout"),
    ("a number without unit", {"timeout": 300}, "timeout"),
    ("fraction", {"timeout": "1.5s"}, "timeout"),
    ("port as a float", {"port": 8001.0}, "port"),
    ("port as a string", {"port": "8001"}, "port"),
    ("port as a boolean", {"port": True}, "port"),
]


@pytest.mark.parametrize(("case", "change", "field_"), BAD_LISTENERS, ids=[c[0] for c in BAD_LISTENERS])
def test_listener_values_aws_or_envoy_would_misread_are_refused(case: str, change: dict[str, Any], field_: str) -> None:
    listener = {"type": "agent", "name": "a", "port": 8001, **change}
    with pytest.raises(ConfigError) as error:
        render_plano_config(
            {**DOCUMENT, "listeners": [listener, DOCUMENT["listeners"][0]]},
            source="p.yaml",
            db_user="u_app",
            db_name="d",
        )
    assert f"listeners[0].{field_}" in str(error.value) and "\n" not in str(error.value)


# --- 9. ASCII where AWS means ASCII -------------------------------------------------------------------------------

FULL_WIDTH_ACCOUNT = "".join(chr(0xFF10 + int(d)) for d in "491085411627")
ASCII_CASES = [
    (
        "full-width account in a certificate",
        "certificateArn",
        PROD_CERT.replace("491085411627", FULL_WIDTH_ACCOUNT),
        "prod",
    ),
    (
        "Arabic-Indic digits in a KMS key",
        "kmsKeyArn",
        "arn:aws:kms:us-east-1:" + "\u0661" * 12 + ":key/00000000-0000-4000-8000-000000000000",
        "dev",
    ),
    ("a certificate id of dashes", "certificateArn", PROD_CERT.rsplit("/", 1)[0] + "/" + "-" * 36, "prod"),
    ("a certificate from another partition", "certificateArn", PROD_CERT.replace("arn:aws:", "arn:aws-cn:"), "prod"),
    (
        "a KMS key from another region",
        "kmsKeyArn",
        "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-4000-8000-000000000000",
        "dev",
    ),
    ("full-width digits in active hours", "activeHours", "\uff10\uff18:00-20:00", "dev"),
    ("a region with non-Latin digits", "aws:region", "us-east-\u0661", "dev"),
]


@pytest.mark.parametrize(("case", "key", "value", "stack"), ASCII_CASES, ids=[c[0] for c in ASCII_CASES])
def test_aws_identifiers_are_ascii_and_in_the_stacks_region(case: str, key: str, value: str, stack: str) -> None:
    run = run_with(stack, values={key: value})
    assert isinstance(run.error, ConfigError), run.error
    assert (key if ":" in key else f"plano:{key}") in str(run.error) and run.resources == []


# --- 10. errors stay one line and stay errors --------------------------------------------------------------------

ONE_LINE = [
    ("line break and a workflow command", {"dbInstanceClass": "db.t4g\n::error::owned"}, "plano:dbInstanceClass"),
    ("carriage return", {"dbName": "x\r::warning::y"}, "plano:dbName"),
    ("unicode line separator", {"profile": "dev\u2028::error::z"}, "plano:profile"),
    ("NUL in the config file path", {"configFile": "plano\x00.yaml"}, "plano:configFile"),
    ("line break in the config file path", {"configFile": "x\n::error::y.yaml"}, "plano:configFile"),
    ("config file path too long", {"configFile": "d/" * 3000 + "p.yaml"}, "plano:configFile"),
    ("config file name part too long", {"configFile": "p" * 300 + ".yaml"}, "plano:configFile"),
    ("image longer than ECS accepts", {"image": "ghcr.io/" + "a/" * 130 + "plano:1"}, "plano:image"),
    (
        "tag longer than registries accept",
        {"pgbouncerImage": "ghcr.io/x/pgbouncer:1.24." + "1" * 130},
        "plano:pgbouncerImage",
    ),
    (
        "environment too big for a task definition",
        {"environment": {f"V{i}": "x" * 1000 for i in range(70)}},
        "plano:environment",
    ),
]


@pytest.mark.parametrize(("case", "values", "key"), ONE_LINE, ids=[c[0] for c in ONE_LINE])
def test_errors_are_one_line_and_name_the_key(case: str, values: dict[str, Any], key: str) -> None:
    run = run_with("dev", values=values)
    assert isinstance(run.error, ConfigError), repr(run.error)
    message = str(run.error)
    assert key in message and run.resources == []
    assert message.isprintable() and not message.startswith("::"), message


@pytest.mark.parametrize("value", ["a\nb", "a\r\nb", "x\u2028y", "x\u0085y", "tab\there", "nul\x00x", "bell\x07"])
def test_shown_values_are_escaped_to_one_line(value: str) -> None:
    shown = show_value(value)
    assert shown.isprintable() and shown.startswith('"')


def test_a_non_utf8_local_env_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "local.env").write_bytes(b"OPENAI_API_KEY=\xff\xfe" + KEY_LIKE.encode())
    with pytest.raises(ConfigError) as error:
        read_external_keys(tmp_path, ["OPENAI_API_KEY"])
    assert "local.env" in str(error.value) and "UTF-8" in str(error.value) and KEY_LIKE not in str(error.value)


# --- 11. keys a profile ignores ------------------------------------------------------------------------------------

IGNORED = [
    ("prod: bad days", "prod", {"activeDays": "FUNDAY"}, "plano:activeDays"),
    ("prod: bad time zone", "prod", {"scheduleTimezone": "Mars/Olympus"}, "plano:scheduleTimezone"),
    (
        "dev, always: bad time zone",
        "dev",
        {"activeHours": "always", "scheduleTimezone": "Europe/Nowhere"},
        "plano:scheduleTimezone",
    ),
    ("dev: bad allowPlainHttp", "dev", {"allowPlainHttp": "yes"}, "plano:allowPlainHttp"),
    ("a tz file that is not a zone", "dev", {"scheduleTimezone": "Factory"}, "plano:scheduleTimezone"),
    ("posixrules", "dev", {"scheduleTimezone": "posixrules"}, "plano:scheduleTimezone"),
    ("wrong case", "dev", {"scheduleTimezone": "europe/berlin"}, "plano:scheduleTimezone"),
]


@pytest.mark.parametrize(("case", "stack", "values", "key"), IGNORED, ids=[c[0] for c in IGNORED])
def test_keys_the_profile_ignores_are_still_checked(case: str, stack: str, values: dict[str, str], key: str) -> None:
    run = run_with(stack, values=values)
    assert isinstance(run.error, ConfigError) and key in str(run.error), run.error


WARNED = [
    ("prod", {"activeDays": "MON-FRI"}, "plano:activeDays has no effect"),
    ("prod", {"scheduleTimezone": "Europe/Berlin"}, "plano:scheduleTimezone has no effect"),
    ("dev", {"activeHours": "always", "activeDays": "MON,WED"}, "plano:activeDays has no effect"),
    ("dev", {"allowPlainHttp": "true"}, "plano:allowPlainHttp has no effect"),
    (
        "prod",
        {"allowPlainHttp": "true", "certificateArn": PROD_CERT.replace("8000", "8111")},
        "plano:allowPlainHttp has no effect",
    ),
]


@pytest.mark.parametrize(("stack", "values", "warning"), WARNED)
def test_an_ignored_key_is_said_to_have_no_effect(stack: str, values: dict[str, str], warning: str) -> None:
    run = run_with(stack, values=values)
    assert run.error is None, run.error
    assert any(warning in w for w in run.warnings), run.warnings


def test_time_zones_do_not_need_the_machines_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoneinfo

    def no_files(*args: Any, **kwargs: Any) -> Any:
        raise zoneinfo.ZoneInfoNotFoundError("no tz files here")

    monkeypatch.setattr(zoneinfo, "ZoneInfo", no_files)
    for zone in ("Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Asia/Kolkata"):
        run = run_with("dev", values={"activeHours": "08:00-20:00", "scheduleTimezone": zone})
        assert run.error is None, run.error


# --- property tests ------------------------------------------------------------------------------------------------

STACK_NAMES = st.text(alphabet="abcdefABCDEF0123456789-_.xyz", min_size=1, max_size=100)
PHYSICAL = {
    "alb": lambda n: n.alb,
    "target group": lambda n: n.target_group(12000),
    "db identifier": lambda n: n.db_identifier,
    "parameter group": lambda n: n.db_parameter_group("postgres17"),
    "cluster": lambda n: n.cluster,
    "execution role": lambda n: n.execution_role,
    "security group": lambda n: n.security_group("service"),
    "db secret": lambda n: n.db_secret,
    "log group": lambda n: n.log_group,
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STACK_NAMES, min_size=2, max_size=60, unique=True))
def test_physical_names_are_injective_over_generated_stack_names(stacks: list[str]) -> None:
    # Every generated stack, and for each the stack names the old rules confused with it.
    names = set(stacks)
    for stack in stacks:
        names.add(_confusable(stack)[:100] or "x")
        names.add(Names("plano", stack).alb.removeprefix("plano-")[:100] or "x")
    names = {n for n in names if n}
    for kind, physical in PHYSICAL.items():
        seen: dict[str, str] = {}
        for stack in names:
            name = physical(Names("plano", stack))
            assert name not in seen, f"{kind}: {stack!r} and {seen[name]!r} share {name}"
            seen[name] = stack


def test_physical_names_are_injective_over_a_large_generated_set() -> None:
    import random

    rng = random.Random(19)
    alphabet = "abcdefABCDEF0123456789-_.qz"
    stacks = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(20_000)}
    stacks |= {_confusable(s) for s in list(stacks)[:5000]}
    for kind in ("alb", "db identifier", "security group"):
        made = [PHYSICAL[kind](Names("plano", s)) for s in stacks]
        assert len(set(made)) == len(made), kind
        assert all(
            len(name) <= LIMITS[{"alb": "alb", "db identifier": "rds"}.get(kind, "security_group")] for name in made
        )


SECRET_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=32, max_codepoint=0x2FFF)
    | st.sampled_from('\n\t "\\'),
    min_size=8,
    max_size=300,
).filter(lambda s: len(s.strip()) >= 8)


def _derived(secret: str) -> list[str]:
    stripped = secret.strip()
    return [
        secret,
        stripped,
        stripped.upper(),
        stripped.lower(),
        json.dumps(stripped)[1:-1],
        repr(stripped)[1:-1],
        show_value(secret),
        show_value(stripped),
        stripped[: len(stripped) // 2 + 4] + "...",
    ]


@settings(max_examples=400, deadline=None)
@given(SECRET_TEXT, st.sampled_from(["plano:dbName", "plano:image", "plano:certificateArn"]))
def test_no_derived_form_of_a_secret_survives_scrubbing(secret: str, key: str) -> None:
    # A secret that is the mask itself ("[secret]") reads the same masked or not: nothing to tell apart.
    assume(SECRET_MASK.lower() not in secret.lower())
    pieces = secret_strings(RawConfig(values={key: secret}, secret_keys=frozenset({key})))
    for form in _derived(secret):
        text = scrub(f"<<{form}>>", pieces)
        assert form.removesuffix("...") not in text, text
        # At most a stray separator of the value may stay visible next to a mask, never 3 characters.
        residue = text.replace(SECRET_MASK, "").removeprefix("<<").removesuffix(">>").replace("...", "")
        assert len(residue.strip('"')) < 3, text


WORD = st.text(alphabet="abcdefghijkmnopqrstuvwxyz", min_size=9, max_size=14)
HEX = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
PAD = st.sampled_from(["", " ", "\t", "  "])
# key -> (a valid value, the part of it that would show were it leaked)
VALID_SECRETS = st.fixed_dictionaries(
    {
        "certificateArn": HEX.map(lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}").map(
            lambda u: (f"arn:aws:acm:us-east-1:491085411627:certificate/{u}", u)
        ),
        "dbInstanceClass": WORD.map(lambda w: (f"db.{w}.large", w)),
        "image": WORD.map(lambda w: (f"ghcr.io/{w}/plano:0.4.39", w)),
        "allowedCidrs": st.tuples(st.integers(16, 31), st.integers(0, 255)).map(
            lambda t: (f"172.{t[0]}.{t[1]}.0/24", f"172.{t[0]}.{t[1]}.0")
        ),
    }
)


@functools.cache
def _baseline_prod_text() -> str:
    """Everything a prod run without secrets shows: plain inputs, outputs, plan and warnings."""
    run = run_with("prod")
    return "\n".join([_plain_texts(run), json.dumps(plan_document(run)), *run.warnings]).lower()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALID_SECRETS, PAD)
def test_no_valid_secret_in_any_form_reaches_a_plan_a_plain_input_or_an_output(
    secrets: dict[str, tuple[str, str]], pad: str
) -> None:
    """Each example sets all four keys as secrets at once, each with its own drawn value (one
    program run checks four values; a run is most of the time)."""
    # A word the stack writes anyway ("environme" of "environment") cannot be told from a leak.
    assume(all(core.lower() not in _baseline_prod_text() for _, core in secrets.values()))
    given_values: dict[str, Any] = {
        key: [pad + value + pad] if key == "allowedCidrs" else pad + value + pad for key, (value, _) in secrets.items()
    }
    run = run_with("prod", secrets=given_values)
    assert run.error is None, run.error
    texts = [_plain_texts(run), json.dumps(plan_document(run)), *run.warnings]
    for key, (value, core) in secrets.items():
        dashed = core.replace(".", "-")
        for form in {value, value.upper(), core, core.upper(), dashed}:
            for text in texts:
                assert form.lower() not in text.lower(), f"{key}: {form!r} in {text[:400]!r}"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["dbInstanceClass", "dbName", "image", "certificateArn", "kmsKeyArn"]),
    st.text(alphabet="qzjQZJ-./:_", min_size=6, max_size=40).map(lambda s: "Qz" + s + "j9"),
    PAD,
)
def test_no_refused_secret_in_any_form_reaches_the_message(key: str, value: str, pad: str) -> None:
    run = run_with("prod", secrets={key: pad + value + pad})
    assert isinstance(run.error, ConfigError), run.error
    message = str(run.error)
    for form in {value, value.lower(), value.upper(), value[:12]}:
        assert form.lower() not in message.lower(), f"{form!r} in {message!r}"
