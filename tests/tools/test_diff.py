"""components/plano_tools/diff.py: structural differences of plan inputs, and how they read in Markdown."""

from __future__ import annotations

import json

from plano_tools.diff import MISSING, Change, change_markdown, changes


def container(**fields: object) -> dict[str, object]:
    return {"name": "plano", "image": "katanemo/plano:0.4.36", **fields}


def test_container_fields_are_reported_by_container_name() -> None:
    before = json.dumps([container(), {"name": "pgbouncer", "image": "pgb:1"}])
    after = json.dumps([{"name": "pgbouncer", "image": "pgb:1"}, container(image="katanemo/plano:0.4.37")])
    assert changes({"containerDefinitions": before}, {"containerDefinitions": after}) == [
        Change("containerDefinitions[plano].image", "katanemo/plano:0.4.36", "katanemo/plano:0.4.37")
    ]


def test_environment_and_secrets_by_name_ports_and_health_check_by_field() -> None:
    before = container(
        environment=[{"name": "A", "value": "1"}, {"name": "GONE", "value": "x"}],
        secrets=[{"name": "DB_PASS", "valueFrom": "arn:db"}],
        portMappings=[{"containerPort": 12000, "protocol": "tcp"}],
        healthCheck={"command": ["CMD-SHELL", "wget -q localhost:12000/healthz"], "interval": 30},
    )
    after = container(
        environment=[{"name": "A", "value": "2"}],
        secrets=[{"name": "DB_PASS", "valueFrom": "arn:db"}, {"name": "OPENAI_API_KEY", "valueFrom": "arn:key"}],
        portMappings=[{"containerPort": 12500, "protocol": "tcp"}],
        healthCheck={"command": ["CMD-SHELL", "wget -q localhost:12500/healthz"], "interval": 30},
    )
    assert [(c.path, c.before, c.after) for c in changes([before], [after])] == [
        ("[plano].environment[A]", "1", "2"),
        ("[plano].environment[GONE]", "x", MISSING),
        ("[plano].healthCheck.command", "wget -q localhost:12000/healthz", MISSING),
        ("[plano].healthCheck.command", MISSING, "wget -q localhost:12500/healthz"),
        ("[plano].portMappings[0].containerPort", 12000, 12500),
        ("[plano].secrets[OPENAI_API_KEY]", MISSING, "arn:key"),
    ]


def test_iam_statements_by_sid_else_by_position() -> None:
    with_sid = {"Statement": [{"Sid": "Logs", "Action": ["logs:PutLogEvents"]}]}
    changed = {"Statement": [{"Sid": "Logs", "Action": ["logs:PutLogEvents", "logs:CreateLogStream"]}]}
    assert changes({"policy": json.dumps(with_sid)}, {"policy": json.dumps(changed)}) == [
        Change("policy.Statement[Logs].Action", MISSING, "logs:CreateLogStream")
    ]
    anonymous = {"Statement": [{"Effect": "Allow", "Resource": "a"}]}
    assert changes(anonymous, {"Statement": [{"Effect": "Deny", "Resource": "a"}]}) == [
        Change("Statement[0].Effect", "Allow", "Deny")
    ]


def test_a_reordered_list_is_shown_position_by_position() -> None:
    assert changes({"subnets": ["a", "b"]}, {"subnets": ["b", "a"]}) == [
        Change("subnets[0]", "a", "b"),
        Change("subnets[1]", "b", "a"),
    ]


def test_markdown_inline_added_removed_and_backticks() -> None:
    assert change_markdown(Change("x.image", "a", "b")) == ["  - `x.image`: `a` → `b`"]
    assert change_markdown(Change("env[A]", MISSING, "1")) == ["  - `env[A]`: added `1`"]
    assert change_markdown(Change("env[A]", "1", MISSING)) == ["  - `env[A]`: removed `1`"]
    assert change_markdown(Change("cmd", "echo `id`", "id")) == ["  - `cmd`: `` echo `id` `` → `id`"]


def test_markdown_long_values_become_a_complete_line_diff() -> None:
    long_before = "x" * 200
    lines = change_markdown(Change("policy", long_before, long_before + "y"))
    assert lines[0] == "  - `policy`: changed"
    assert f"    -{long_before}" in lines and f"    +{long_before}y" in lines  # nothing cut
