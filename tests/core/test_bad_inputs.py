"""The catalogue of bad inputs: each stops the real program with one clear message, before any resource.

Every entry is run through the whole program (``__main__.py`` under mocks), like ``pulumi
preview`` would run it. The message must name the key or file, show the bad value (never a
secret), say how to fix it, and nothing may have been registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from plano_pulumi.core.errors import ConfigError
from plano_tools.simulate import run_program

from tests.conftest import PROJECT, config_for

VALID_PLANO = """\
version: v0.4.0
listeners:
  - {type: model, name: llm, port: 12000}
model_providers:
  - {model: openai/gpt-4o-mini, access_key: $OPENAI_API_KEY}
  - {model: anthropic/claude-sonnet-4-6, access_key: $ANTHROPIC_API_KEY}
"""
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Bad:
    """One bad input: what is changed, and what the message must contain."""

    id: str
    where: str  # the key or file the message names
    value: str | None  # the bad value the message shows (None: must not be shown)
    stack: str = "dev"
    values: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    plano_config: str | None = None  # a Plano config file's content, used as plano:configFile
    stack_name: str | None = None  # run under this stack name (with the dev stack file's config)
    hidden: str | None = None  # a string that must not appear (a secret)


CATALOGUE = [
    # --- stack config: types and choices
    Bad("unknown profile", "plano:profile", "staging", values={"profile": "staging"}),
    Bad("typo in a key", "plano:dbInstanceType", None, values={"dbInstanceType": "db.t4g.micro"}),
    Bad("malformed instance class", "plano:dbInstanceClass", "t4g.micro", values={"dbInstanceClass": "t4g.micro"}),
    Bad("engine version without family", "plano:dbEngineVersion", "9.6", values={"dbEngineVersion": "9.6"}),
    Bad("engine version not a number", "plano:dbEngineVersion", "latest", values={"dbEngineVersion": "latest"}),
    Bad("non-numeric storage", "plano:dbAllocatedStorageGb", "twenty", values={"dbAllocatedStorageGb": "twenty"}),
    Bad("storage below minimum", "plano:dbAllocatedStorageGb", "10", values={"dbAllocatedStorageGb": 10}),
    Bad(
        "max storage below allocated",
        "plano:dbMaxAllocatedStorageGb",
        "100",
        values={"dbAllocatedStorageGb": 100, "dbMaxAllocatedStorageGb": 100},
    ),
    Bad("backups out of range", "plano:dbBackupRetentionDays", "90", values={"dbBackupRetentionDays": 90}),
    Bad("tls mode disable", "plano:dbTlsMode", "disable", values={"dbTlsMode": "disable"}),
    Bad("database name with capitals", "plano:dbName", "Plano-DB", values={"dbName": "Plano-DB"}),
    Bad("reserved database user", "plano:dbUser", "postgres", values={"dbUser": "postgres"}),
    Bad("unknown ingress", "plano:ingress", "nlb", values={"ingress": "nlb"}),
    Bad("open ingress", "plano:allowedCidrs", "0.0.0.0/0", stack="prod", values={"allowedCidrs": ["0.0.0.0/0"]}),
    Bad("open IPv6 ingress", "plano:allowedCidrs", "::/0", stack="prod", values={"allowedCidrs": ["::/0"]}),
    Bad("invalid CIDR", "plano:allowedCidrs", "10.0.0.300/8", stack="prod", values={"allowedCidrs": ["10.0.0.300/8"]}),
    Bad(
        "CIDR with host bits", "plano:allowedCidrs", "10.0.0.1/8", stack="prod", values={"allowedCidrs": ["10.0.0.1/8"]}
    ),
    Bad(
        "CIDRs as a string",
        "plano:allowedCidrs",
        "203.0.113.0/24",
        stack="prod",
        values={"allowedCidrs": "203.0.113.0/24"},
    ),
    Bad("boolean as yes", "plano:allowPublicIngress", "yes", values={"allowPublicIngress": "yes"}),
    Bad(
        "certificate not an ARN", "plano:certificateArn", "my-cert", stack="prod", values={"certificateArn": "my-cert"}
    ),
    Bad("prod without HTTPS", "plano:certificateArn", None, stack="prod", remove=("certificateArn",)),
    Bad("alb with no clients", "plano:allowedCidrs", "[]", values={"ingress": "alb"}),
    Bad("malformed VPC id", "plano:vpcId", "vpc-123", values={"vpcId": "vpc-123"}),
    Bad(
        "one private subnet",
        "plano:privateSubnetIds",
        "subnet-0aaaaaaaaaaaaaaaa",
        values={
            "vpcId": "vpc-0123456789abcdef0",
            "privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaaa"],
            "publicSubnetIds": ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"],
        },
    ),
    Bad(
        "subnets without VPC", "plano:privateSubnetIds", None, values={"privateSubnetIds": ["subnet-0aaaaaaaaaaaaaaaa"]}
    ),
    Bad("VPC block public", "plano:vpcCidr", "8.8.0.0/16", values={"vpcCidr": "8.8.0.0/16"}),
    Bad("NAT count word", "plano:natGateways", "two", values={"natGateways": "two"}),
    Bad("Fargate CPU size", "plano:cpu", "300", values={"cpu": 300}),
    Bad("memory not fitting CPU", "plano:memory", "512", values={"cpu": 1024, "memory": 512}),
    Bad("prod with one task", "plano:desiredCount", "1", stack="prod", values={"desiredCount": 1}),
    Bad("max below desired", "plano:maxCount", "2", stack="prod", values={"desiredCount": 3, "maxCount": 2}),
    Bad("architecture arm", "plano:cpuArchitecture", "arm", values={"cpuArchitecture": "arm"}),
    Bad("capacity word", "plano:capacity", "spot", values={"capacity": "spot"}),
    Bad("log retention CloudWatch refuses", "plano:logRetentionDays", "10", values={"logRetentionDays": 10}),
    Bad("negative state retention", "plano:stateRetentionDays", "-1", values={"stateRetentionDays": -1}),
    Bad("image with no tag", "plano:image", "katanemo/plano:", values={"image": "katanemo/plano:"}),
    Bad("KMS alias instead of ARN", "plano:kmsKeyArn", "alias/plano", values={"kmsKeyArn": "alias/plano"}),
    Bad("region malformed", "aws:region", "us-east", values={"aws:region": "us-east"}),
    Bad(
        "internet in two halves",
        "plano:allowedCidrs",
        "0.0.0.0/1",
        stack="prod",
        values={"allowedCidrs": ["0.0.0.0/1", "128.0.0.0/1"]},
    ),
    Bad(
        "duplicate CIDR",
        "plano:allowedCidrs",
        "2001:db8:0:0::/48",
        stack="prod",
        values={"allowedCidrs": ["2001:db8::/48", "2001:db8:0:0::/48"]},
    ),
    Bad(
        "PgBouncer too old",
        "plano:pgbouncerImage",
        "pgbouncer:1.18.0",
        values={"pgbouncerImage": "docker.io/bitnami/pgbouncer:1.18.0"},
    ),
    # --- environment and provider keys
    Bad(
        "secret in plain environment",
        "plano:environment",
        None,
        secrets={"environment": {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=hidden-123"}},
        hidden="hidden-123",
    ),
    Bad("environment overrides DB_PASS", "plano:environment.DB_PASS", None, values={"environment": {"DB_PASS": "x"}}),
    Bad(
        "secret-looking environment",
        "plano:environment.MY_API_TOKEN",
        None,
        values={"environment": {"MY_API_TOKEN": "t"}},
    ),
    Bad("debug logging", "plano:environment.LOG_LEVEL", "debug", values={"environment": {"LOG_LEVEL": "debug"}}),
    Bad("environment as a string", "plano:environment", "LOG_LEVEL=info", values={"environment": "LOG_LEVEL=info"}),
    Bad(
        "provider key in plain text",
        "plano:providerKeys",
        None,
        values={"providerKeys": {"OPENAI_API_KEY": "sk-plaintext-123"}, "providerKeysExternal": ["ANTHROPIC_API_KEY"]},
        hidden="sk-plaintext-123",
    ),
    Bad(
        "provider key declared twice",
        "plano:providerKeys",
        None,
        secrets={"providerKeys": {"OPENAI_API_KEY": "sk-secret-456"}},
        hidden="sk-secret-456",
    ),
    Bad(
        "external key bad name",
        "plano:providerKeysExternal",
        "openai-key",
        values={"providerKeysExternal": ["openai-key"]},
    ),
    Bad(
        "external key twice",
        "plano:providerKeysExternal",
        "OPENAI_API_KEY",
        values={"providerKeysExternal": ["OPENAI_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"]},
    ),
    # --- the user's Plano config
    Bad("config file missing", "plano:configFile", "does-not-exist.yaml", values={"configFile": "does-not-exist.yaml"}),
    Bad(
        "config YAML syntax",
        "plano.yaml",
        None,
        plano_config="version: v0.4.0\nlisteners:\n  - type: model\n   name: x\n",
    ),
    Bad("config without listeners", "plano.yaml", None, plano_config="version: v0.4.0\nmodel_providers: []\n"),
    Bad(
        "config unsupported version", "plano.yaml: version", "v2.0", plano_config=VALID_PLANO.replace("v0.4.0", "v2.0")
    ),
    Bad(
        "config default-value placeholder",
        "model_providers[0].access_key",
        None,
        plano_config=VALID_PLANO.replace("$OPENAI_API_KEY", '"${OPENAI_API_KEY:-none}"'),
    ),
    Bad(
        "config placeholder in a number",
        "tracing.random_sampling",
        "$SAMPLING",
        plano_config=VALID_PLANO + "tracing:\n  random_sampling: $SAMPLING\n",
    ),
    Bad(
        "config variable nobody provides",
        "plano.yaml",
        "$MISTRAL_API_KEY",
        plano_config=VALID_PLANO + "  - {model: mistral/m, access_key: $MISTRAL_API_KEY}\n",
    ),
    Bad(
        "config postgres elsewhere",
        "state_storage.connection_string",
        None,
        plano_config=VALID_PLANO
        + "state_storage:\n  type: postgres\n  connection_string: postgresql://u:pw-9x@db.example.com/p\n",
        hidden="pw-9x",
    ),
    Bad(
        "config listener on Envoy admin port",
        "listeners[0].port",
        "9901",
        plano_config=VALID_PLANO.replace("12000", "9901"),
    ),
    Bad(
        "config listeners share a name",
        "plano.yaml: listeners",
        None,
        plano_config=VALID_PLANO.replace(
            "  - {type: model, name: llm, port: 12000}",
            "  - {type: model, name: llm, port: 12000}\n  - {type: agent, name: llm, port: 8001}",
        ),
    ),
    # --- stack names
    Bad("stack name with a space", "stack name", "my stack", stack_name="my stack"),
    Bad("stack name too long", "stack name", None, stack_name="x" * 101),
]


# --- second round (issue 10): accepted before, refused by AWS or Plano later; secrets in messages
KMS = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
SUBNETS = {
    "vpcId": "vpc-0123456789abcdef0",
    "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    "privateSubnetIds": ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"],
}
# A literal key with a real key's shape, assembled at run time (no secret-looking literal committed).
LITERAL_KEY = "sk-proj-" + "Lk7" * 16
TOKEN_LIKE = "a1b2c3d4" * 4
ROUND_TWO = [
    # 8. prod backups, engine versions and user names as RDS writes them
    Bad(
        "prod backups under 7 days",
        "plano:dbBackupRetentionDays",
        "3",
        stack="prod",
        values={"dbBackupRetentionDays": 3},
    ),
    Bad("prod backups 6 days", "plano:dbBackupRetentionDays", "6", stack="prod", values={"dbBackupRetentionDays": 6}),
    Bad("engine version with a leading zero", "plano:dbEngineVersion", "017", values={"dbEngineVersion": "017"}),
    Bad("engine version minor zero", "plano:dbEngineVersion", "17.0", values={"dbEngineVersion": "17.0"}),
    Bad(
        "engine version full-width digits",
        "plano:dbEngineVersion",
        "\uff11\uff17",
        values={"dbEngineVersion": "\uff11\uff17"},
    ),
    Bad(
        "engine version minor with leading zero", "plano:dbEngineVersion", "16.04", values={"dbEngineVersion": "16.04"}
    ),
    Bad("user name too long", "plano:dbUser", "u" * 64, values={"dbUser": "u" * 64}),
    Bad("user name with pg_ prefix", "plano:dbUser", "pg_plano", values={"dbUser": "pg_plano"}),
    Bad("user name non-ASCII", "plano:dbUser", "pl\u00e4no", values={"dbUser": "pl\u00e4no"}),
    Bad("number of thousands of digits", "plano:desiredCount", "out of range", values={"desiredCount": "9" * 5000}),
    Bad("number in full-width digits", "plano:desiredCount", "\uff12", values={"desiredCount": "\uff12"}),
    Bad("list nested thousands deep", "plano:allowedCidrs", "must be a list", values={"allowedCidrs": "[" * 5000}),
    Bad(
        "list of a huge number",
        "plano:allowedCidrs",
        "must be a list",
        values={"allowedCidrs": "[" + "9" * 5000 + "]"},
    ),
    # 8. networks AWS refuses for a VPC, subnets repeated
    Bad("VPC block 0.0.0.0/16", "plano:vpcCidr", "0.0.0.0/16", values={"vpcCidr": "0.0.0.0/16"}),
    Bad("VPC block loopback", "plano:vpcCidr", "127.0.0.0/16", values={"vpcCidr": "127.0.0.0/16"}),
    Bad("VPC block link-local", "plano:vpcCidr", "169.254.0.0/16", values={"vpcCidr": "169.254.0.0/16"}),
    Bad("VPC block with host bits", "plano:vpcCidr", "10.40.0.1/16", values={"vpcCidr": "10.40.0.1/16"}),
    Bad("VPC block /8", "plano:vpcCidr", "10.0.0.0/8", values={"vpcCidr": "10.0.0.0/8"}),
    Bad(
        "same private subnet twice",
        "plano:privateSubnetIds",
        "subnet-0cccccccccccccccc",
        values={**SUBNETS, "privateSubnetIds": ["subnet-0cccccccccccccccc", "subnet-0cccccccccccccccc"]},
    ),
    Bad(
        "subnet both public and private",
        "plano:privateSubnetIds",
        "subnet-0bbbbbbbbbbbbbbbb",
        values={**SUBNETS, "privateSubnetIds": ["subnet-0cccccccccccccccc", "subnet-0bbbbbbbbbbbbbbbb"]},
    ),
    # 8. ARNs from another region, quotas
    Bad(
        "certificate in another region",
        "plano:certificateArn",
        "eu-west-1",
        stack="prod",
        values={"certificateArn": CERT.replace("us-east-1", "eu-west-1")},
    ),
    Bad(
        "KMS key in another region",
        "plano:kmsKeyArn",
        "us-west-2",
        values={"kmsKeyArn": KMS.replace("us-east-1", "us-west-2")},
    ),
    Bad(
        "more client networks than rules",
        "plano:allowedCidrs",
        "31 networks",
        stack="prod",
        values={"allowedCidrs": [f"10.{i}.0.0/16" for i in range(31)]},
    ),
    Bad(
        "more listeners than the load balancer takes",
        "plano.yaml",
        "50 listeners",
        stack="prod",
        plano_config=VALID_PLANO.replace(
            "port: 12000}\n",
            "port: 12000}\n" + "".join(f"  - {{type: agent, name: a{i}, port: {13000 + i}}}\n" for i in range(49)),
        ),
    ),
    Bad("config file is a directory", "plano:configFile", "not a regular file", values={"configFile": "components"}),
    Bad("config file is a device", "plano:configFile", "not a regular file", values={"configFile": "/dev/zero"}),
    # 3. the database password only in the connection string; no literal credential in the config
    Bad(
        "DB_PASS as a provider key",
        "model_providers[0].access_key",
        "$DB_PASS",
        plano_config=VALID_PLANO.replace("$OPENAI_API_KEY", "$DB_PASS"),
    ),
    Bad(
        "DB_PASS braced in a base_url",
        "model_providers[2].base_url",
        "$DB_PASS",
        plano_config=VALID_PLANO
        + "  - {model: openai/m, base_url: 'https://x.example/${DB_PASS}', access_key: $OPENAI_API_KEY}\n",
    ),
    Bad(
        "DB_PASS in a header",
        "headers.Authorization",
        "$DB_PASS",
        plano_config=VALID_PLANO
        + "  - model: openai/m\n    access_key: $OPENAI_API_KEY\n    headers: {Authorization: 'Bearer $DB_PASS'}\n",
    ),
    Bad(
        "literal access_key",
        "model_providers[0].access_key",
        None,
        plano_config=VALID_PLANO.replace("$OPENAI_API_KEY", LITERAL_KEY),
        hidden=LITERAL_KEY,
    ),
    Bad(
        "literal token-like access_key",
        "model_providers[1].access_key",
        None,
        plano_config=VALID_PLANO.replace("$ANTHROPIC_API_KEY", TOKEN_LIKE),
        hidden=TOKEN_LIKE,
    ),
    Bad(
        "literal header credential",
        "headers.X-Api-Key",
        None,
        plano_config=VALID_PLANO
        + f"  - model: openai/m\n    access_key: $OPENAI_API_KEY\n    headers: {{X-Api-Key: {TOKEN_LIKE}}}\n",
        hidden=TOKEN_LIKE,
    ),
    Bad(
        "literal bearer header",
        "headers.Authorization",
        None,
        plano_config=VALID_PLANO
        + "  - model: openai/m\n    access_key: $OPENAI_API_KEY\n"
        + f"    headers: {{Authorization: 'Bearer {TOKEN_LIKE}'}}\n",
        hidden=TOKEN_LIKE,
    ),
    Bad(
        "key-shaped value anywhere",
        "routing.note",
        None,
        plano_config=VALID_PLANO + f"routing:\n  note: {LITERAL_KEY}\n",
        hidden=LITERAL_KEY,
    ),
    # 6. a key set with --secret stays secret in the error; keys given in the wrong shape are not echoed
    Bad(
        "secret CIDR list invalid",
        "plano:allowedCidrs",
        None,
        stack="prod",
        secrets={"allowedCidrs": ["10.9.8.300/24"]},
        hidden="10.9.8.300",
    ),
    Bad(
        "secret certificate malformed",
        "plano:certificateArn",
        None,
        stack="prod",
        secrets={"certificateArn": "cert-hidden-77"},
        hidden="cert-hidden-77",
    ),
    Bad(
        "secret instance class malformed",
        "plano:dbInstanceClass",
        None,
        secrets={"dbInstanceClass": "t4g.hidden-88"},
        hidden="hidden-88",
    ),
    Bad("secret KMS alias", "plano:kmsKeyArn", None, secrets={"kmsKeyArn": "alias/hidden-99"}, hidden="hidden-99"),
    Bad("secret image malformed", "plano:image", None, secrets={"image": "Plano:Hidden-11"}, hidden="Hidden-11"),
    Bad(
        "secret engine version",
        "plano:dbEngineVersion",
        None,
        secrets={"dbEngineVersion": "99.hidden"},
        hidden="99.hidden",
    ),
    Bad(
        "secret external key name",
        "plano:providerKeysExternal",
        None,
        secrets={"providerKeysExternal": ["sk-hidden-12"]},
        hidden="sk-hidden-12",
    ),
    Bad(
        "provider keys as a bare string",
        "plano:providerKeys",
        None,
        values={"providerKeys": "sk-bare-string-13"},
        hidden="sk-bare-string-13",
    ),
    Bad(
        "provider keys as a list",
        "plano:providerKeys",
        None,
        values={"providerKeys": ["sk-in-a-list-14"]},
        hidden="sk-in-a-list-14",
    ),
    Bad(
        "secret provider keys as a list",
        "plano:providerKeys",
        None,
        secrets={"providerKeys": ["sk-in-a-list-15"]},
        hidden="sk-in-a-list-15",
    ),
]
CATALOGUE += ROUND_TWO

# Round three (issue 19): names, forms and values that used to pass and break later.
FULL_WIDTH = "".join(chr(0xFF10 + int(d)) for d in "123456789012")
ROUND_THREE = [
    Bad("reserved env PATH", "plano:environment.PATH", None, values={"environment": {"PATH": "/bin"}}),
    Bad("reserved env LD_PRELOAD", "plano:environment.LD_PRELOAD", None, values={"environment": {"LD_PRELOAD": "x"}}),
    Bad("reserved env UV_NO_SYNC", "plano:environment.UV_NO_SYNC", None, values={"environment": {"UV_NO_SYNC": "0"}}),
    Bad("reserved env AWS_REGION", "plano:environment.AWS_REGION", None, values={"environment": {"AWS_REGION": "x"}}),
    Bad(
        "reserved external key",
        "plano:providerKeysExternal",
        None,
        values={"providerKeysExternal": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY"]},
    ),
    Bad(
        "connection string with a password in the environment",
        "plano:environment.STATE_URL",
        None,
        values={"environment": {"STATE_URL": "postgresql://u:pw-hidden-9@db:5432/x"}},
        hidden="pw-hidden-9",
    ),
    Bad(
        "provider key shape in the environment",
        "plano:environment.SOME_SETTING",
        None,
        values={"environment": {"SOME_SETTING": LITERAL_KEY}},
        hidden=LITERAL_KEY,
    ),
    Bad("role name pg_app", "plano:dbUser", "pg", values={"dbUser": "pg"}),
    Bad("master user equals its role", "plano:dbUser", None, values={"dbUser": "u" * 59 + "_app"}),
    Bad("database name pgbouncer", "plano:dbName", "pgbouncer", values={"dbName": "pgbouncer"}),
    Bad("database name a reserved word", "plano:dbName", "select", values={"dbName": "select"}),
    Bad("master user a reserved word", "plano:dbUser", "grant", values={"dbUser": "grant"}),
    Bad(
        "listener timeout in full-width digits",
        "listeners[0].timeout",
        None,
        plano_config=VALID_PLANO.replace("port: 12000}", "port: 12000, timeout: \uff15s}"),
    ),
    Bad(
        "listener port as a float",
        "listeners[0].port",
        "12000.0",
        plano_config=VALID_PLANO.replace("port: 12000}", "port: 12000.0}"),
    ),
    Bad(
        "listener port as a string",
        "listeners[0].port",
        "12000",
        plano_config=VALID_PLANO.replace("port: 12000}", "port: '12000'}"),
    ),
    Bad(
        "full-width account in a certificate",
        "plano:certificateArn",
        None,
        stack="prod",
        values={"certificateArn": CERT.replace("123456789012", FULL_WIDTH)},
    ),
    Bad(
        "certificate id of dashes",
        "plano:certificateArn",
        None,
        stack="prod",
        values={"certificateArn": CERT[:-36] + "-" * 36},
    ),
    Bad(
        "certificate in another partition",
        "plano:certificateArn",
        "aws-cn",
        stack="prod",
        values={"certificateArn": CERT.replace("arn:aws:", "arn:aws-cn:")},
    ),
    Bad("region with non-Latin digits", "aws:region", None, values={"aws:region": "eu-west-\u0663"}),
    Bad(
        "value with a workflow command",
        "plano:dbInstanceClass",
        "::error::",
        values={"dbInstanceClass": "x\n::error::y"},
    ),
    Bad("config file path with a NUL", "plano:configFile", None, values={"configFile": "plano\x00.yaml"}),
    Bad("config file path too long", "plano:configFile", None, values={"configFile": "q" * 5000}),
    Bad("image longer than ECS accepts", "plano:image", None, values={"image": "ghcr.io/" + "r/" * 130 + "p:1"}),
    Bad(
        "environment too big for the task definition",
        "plano:environment",
        None,
        values={"environment": {f"SETTING_{i}": "v" * 1000 for i in range(70)}},
    ),
    Bad("days checked in prod", "plano:activeDays", "WEEKDAYS", stack="prod", values={"activeDays": "WEEKDAYS"}),
    Bad(
        "time zone checked in prod",
        "plano:scheduleTimezone",
        "Moon/Base",
        stack="prod",
        values={"scheduleTimezone": "Moon/Base"},
    ),
    Bad("allowPlainHttp checked in dev", "plano:allowPlainHttp", "maybe", values={"allowPlainHttp": "maybe"}),
    Bad(
        "time zone not in the IANA list",
        "plano:scheduleTimezone",
        "Factory",
        values={"activeHours": "08:00-20:00", "scheduleTimezone": "Factory"},
    ),
    Bad(
        "stripped secret in a message",
        "plano:dbInstanceClass",
        None,
        secrets={"dbInstanceClass": "  m7g.secretclass  "},
        hidden="m7g.secretclass",
    ),
    Bad(
        "shortened secret in a message",
        "plano:image",
        None,
        secrets={"image": "Bad/" + "hiddenimagepath" * 12},
        hidden="Bad/hiddenimage",
    ),
]
CATALOGUE += ROUND_THREE


def _run(bad: Bad, tmp_path: Path) -> Any:
    values = dict(bad.values)
    if bad.plano_config is not None:
        path = tmp_path / "plano.yaml"
        path.write_text(bad.plano_config)
        values["configFile"] = str(path)
    config = config_for(bad.stack, values=values, secrets=bad.secrets, remove=bad.remove)
    return run_program(PROJECT, bad.stack_name or bad.stack, config=config)


def test_the_catalogue_is_large_and_distinct() -> None:
    assert len(CATALOGUE) >= 100
    assert len({bad.id for bad in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("bad", CATALOGUE, ids=[bad.id for bad in CATALOGUE])
def test_bad_input_stops_with_one_clear_message(bad: Bad, tmp_path: Path) -> None:
    run = _run(bad, tmp_path)
    assert isinstance(run.error, ConfigError), f"expected a ConfigError, got {run.error!r}"
    message = str(run.error)
    assert bad.where in message, message
    if bad.value is not None:
        assert bad.value in message, message
    assert "Fix:" in message and len(message.split("Fix:")[1].strip()) > 10, message
    assert "Traceback" not in message and "\n" not in message
    if bad.hidden:
        assert bad.hidden not in message
    assert run.resources == [], "resources were registered before the error"


def test_config_errors_print_without_a_traceback() -> None:
    """The Pulumi language host prints a RunError's message alone; ConfigError is one."""
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)
