"""examples/: the Python programs run under mocks, the TypeScript one speaks the schema's names.

Each example is a separate Pulumi project that uses the package the way a user's program does
(``from plano_pulumi import ...``, or the generated SDK in TypeScript).
"""

import json
import os
import re

import pytest
import yaml
from plano_pulumi.core.settings import RawConfig
from plano_pulumi.provider import schema
from plano_tools.simulate import run_program, unwrap_secrets

from tests.conftest import PROJECT, UPSTREAM

EXAMPLES = PROJECT / "examples"
NETWORK_TYPES = {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway"}


def test_the_examples_are_the_three_the_docs_promise() -> None:
    assert {p.name for p in EXAMPLES.iterdir() if p.is_dir()} == {"aws-existing-vpc", "typescript", "docker"}
    for example in ("aws-existing-vpc", "docker"):
        assert (EXAMPLES / example / "requirements.txt").is_file()
        assert (EXAMPLES / example / "Pulumi.yaml").is_file()


def test_the_existing_vpc_example_adopts_the_vpc_and_its_transform_reaches_every_child() -> None:
    key = "test-" + os.urandom(12).hex()
    project = "plano-existing-vpc"
    config = RawConfig(
        values={
            "aws:region": "eu-west-1",
            f"{project}:vpcId": "vpc-0123456789abcdef0",
            f"{project}:publicSubnetIds": json.dumps(["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]),
            f"{project}:privateSubnetIds": json.dumps(["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]),
            f"{project}:openaiApiKey": key,
        },
        secret_keys=frozenset({f"{project}:openaiApiKey"}),
    )
    run = run_program(EXAMPLES / "aws-existing-vpc", "dev", config=config)
    assert run.error is None, run.error
    types = {r.type for r in run.resources}
    assert not types & NETWORK_TYPES, "no network of its own"
    assert {"aws:ecs/service:Service", "aws:rds/cluster:Cluster", "aws:secretsmanager/secret:Secret"} <= types
    tagged = [r for r in run.resources if isinstance(unwrap_secrets(r.inputs).get("tags"), dict)]
    assert len(tagged) > 10
    missing = [r.name for r in tagged if unwrap_secrets(r.inputs)["tags"].get("cost-center") != "ai-platform"]
    assert missing == [], f"the transform did not reach {missing}"
    # The key is in exactly one resource input, as a secret there.
    holders = [r for r in run.resources if key in json.dumps(unwrap_secrets(r.inputs))]
    assert [r.type for r in holders] == ["aws:secretsmanager/secretVersion:SecretVersion"]
    assert key not in json.dumps(unwrap_secrets(holders[0].inputs, mask="[secret]"))
    assert run.outputs["service_security_group_id"], "a child's attribute is reachable"


def test_the_docker_example_runs_the_three_containers() -> None:
    run = run_program(EXAMPLES / "docker", "local", config=RawConfig(values={}))
    assert run.error is None, run.error
    types = {r.type for r in run.resources}
    assert "plano:index:PlanoOnDocker" in types and not any(t.startswith("aws:") for t in types)
    assert len(run.of_type("docker:index/container:Container")) >= 3
    assert run.outputs["endpoint_url"].startswith("http://127.0.0.1:")


def _typescript_args_and_outputs() -> tuple[set[str], set[str]]:
    source = (EXAMPLES / "typescript" / "index.ts").read_text(encoding="utf-8")
    call = re.search(r"new plano\.PlanoOnAws\(\"plano\", \{(.*?)\n\}\);", source, re.S)
    assert call, "index.ts creates a PlanoOnAws"
    args = set(re.findall(r"^\s{4}(\w+):", call.group(1), re.M))
    outputs = set(re.findall(r"gateway\.(\w+)", source))
    return args, outputs


def test_the_typescript_example_uses_the_schemas_names() -> None:
    aws = schema()["resources"]["plano:index:PlanoOnAws"]
    args, outputs = _typescript_args_and_outputs()
    assert {"configText", "providerKeys"} <= args
    assert args <= set(aws["inputProperties"]), args - set(aws["inputProperties"])
    assert outputs and outputs <= set(aws["properties"]), outputs - set(aws["properties"])


def test_the_typescript_example_adds_the_plugin_of_this_repository() -> None:
    folder = EXAMPLES / "typescript"
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text(encoding="utf-8"))
    plugin = (folder / project["packages"]["plano"]).resolve()
    assert plugin == PROJECT / "components" / "plugin" and (plugin / "PulumiPlugin.yaml").is_file()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "pulumi package add ../../components/plugin" in readme
    assert 'import * as plano from "@pulumi/plano"' in (folder / "index.ts").read_text(encoding="utf-8")
    assert json.loads((folder / "package.json").read_text(encoding="utf-8"))["dependencies"]["@pulumi/pulumi"]


@pytest.mark.skipif(not (UPSTREAM / "pulumi" / "project.json").is_file(), reason="../shared/upstream is not present")
@pytest.mark.parametrize("example", ["aws-existing-vpc", "typescript", "docker"])
def test_the_examples_project_files_validate_against_pulumis_project_schema(example: str) -> None:
    import jsonschema

    schema = json.loads((UPSTREAM / "pulumi" / "project.json").read_text(encoding="utf-8"))
    project = yaml.safe_load((EXAMPLES / example / "Pulumi.yaml").read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(project)]
    assert errors == []
