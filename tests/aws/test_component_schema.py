"""The component plugin's schema, built in-process the way the plugin serves it.

``plano_pulumi.provider.PlanoProvider`` is what ``components/plugin/__main__.py`` serves to
``pulumi package add`` / ``pulumi package get-schema``: the Pulumi SDK's own analyzer
(``pulumi.provider.experimental``) run over ``PlanoOnAws`` and ``PlanoOnDocker``, with the secrets
marked. Every arg (one per stack key the component takes, plus configText and secretSettings) and
every output must be in it with the type other languages will see.
"""

import asyncio
import gc
import inspect
import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pulumi
import pytest
from plano_pulumi import PlanoOnAws, PlanoOnDocker
from plano_pulumi.core.settings import RawConfig
from plano_pulumi.core.settings.arguments import camel_name, component_keys, field_name
from plano_pulumi.provider import CONDITIONAL_OUTPUTS, PACKAGE, PlanoProvider, provider_keys_by_name, schema
from plano_tools.simulate import run_program, unwrap_secrets
from pulumi.provider.experimental.component import ComponentProvider

from tests.conftest import PROJECT, stack_run

PLUGIN = PROJECT / "components" / "plugin"
SCHEMA = schema()
TOKENS = {"PlanoOnAws": "plano:index:PlanoOnAws", "PlanoOnDocker": "plano:index:PlanoOnDocker"}
KEY_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "array": {"type": "array", "items": {"type": "string"}},
    "object": {"type": "object", "additionalProperties": {"type": "string"}},
}


def _resource(component: str) -> dict[str, Any]:
    return dict(SCHEMA["resources"][TOKENS[component]])


def _shape(prop: dict[str, Any]) -> dict[str, Any]:
    """A property's type, without its text and flags."""
    shape: dict[str, Any] = {"type": prop.get("type")}
    for nested in ("items", "additionalProperties"):
        if nested in prop:
            shape[nested] = _shape(prop[nested])
    return shape


def _expected_args(local: bool) -> dict[str, dict[str, Any]]:
    expected = {camel_name(field_name(k.name)): KEY_TYPES[k.type] for k in component_keys(local=local)}
    if local:
        expected.pop("profile", None)  # the Docker target's profile is always local
    return expected | {"configText": {"type": "string"}, "secretSettings": KEY_TYPES["array"]}


def _annotation_shape(annotation: Any) -> dict[str, Any]:
    inner = typing.get_args(annotation)[0]  # pulumi.Output[X]
    origin = typing.get_origin(inner)
    if origin is dict:
        value = typing.get_args(inner)[1]
        return {"type": "object", "additionalProperties": {"type": None if value is Any else "string"}}
    if origin is list:
        return {"type": "array", "items": {"type": "string"}}
    return {"type": {str: "string", int: "integer", bool: "boolean"}[inner]}


def test_the_plugin_manifest_runs_this_provider_with_python() -> None:
    assert (PLUGIN / "PulumiPlugin.yaml").read_text(encoding="utf-8").count("runtime: python") == 1
    assert "serve()" in (PLUGIN / "__main__.py").read_text(encoding="utf-8")
    # The Python language host pip-installs requirements.txt from the plugin folder: the package itself.
    requirements = [
        line for line in (PLUGIN / "requirements.txt").read_text(encoding="utf-8").splitlines() if line[:1] not in "#"
    ]
    assert [(PLUGIN / line).resolve() for line in requirements if line.strip()] == [PROJECT]
    assert 'name = "plano-pulumi"' in (PROJECT / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.processes
def test_the_plugin_entry_point_serves_this_schema_over_grpc() -> None:
    """What the CLI does with the plugin: the Python language host runs ``python <plugin folder> ENGINE``
    (the folder's __main__.py), then asks for the schema on the port it prints. Only the venv the host
    installs the package into is replaced (by the source tree)."""
    import grpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    env = {**os.environ, "PYTHONPATH": str(PROJECT / "components")}
    plugin = subprocess.Popen(
        [sys.executable, str(PLUGIN), "127.0.0.1:1"], cwd=PLUGIN, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert plugin.stdout is not None
        port = int(plugin.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            served = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60).schema)
    finally:
        plugin.terminate()
        plugin.wait(timeout=30)
    assert served == SCHEMA


def test_every_public_component_is_in_the_plugin() -> None:
    import plano_pulumi
    from plano_pulumi.provider import COMPONENTS

    exported = {
        name
        for name in plano_pulumi.__all__
        if isinstance(getattr(plano_pulumi, name), type)
        and issubclass(getattr(plano_pulumi, name), pulumi.ComponentResource)
    }
    assert exported == {c.__name__ for c in COMPONENTS} == set(TOKENS)


def test_the_package_has_both_components_under_plano_index() -> None:
    assert SCHEMA["name"] == PACKAGE == "plano"
    assert set(SCHEMA["resources"]) == set(TOKENS.values())
    for resource in SCHEMA["resources"].values():
        assert resource["isComponent"] is True
        assert resource["requiredInputs"] == [], "every arg is optional: absent args take the key's default"
    # The type tokens the components register are the schema's, or a construct from another
    # language would not find its class.
    for component, module in ((PlanoOnAws, "aws"), (PlanoOnDocker, "local")):
        source = (PROJECT / f"components/plano_pulumi/{module}/plano.py").read_text(encoding="utf-8")
        assert f'TYPE = "{TOKENS[component.__name__]}"' in source


@pytest.mark.parametrize(("component", "local"), [("PlanoOnAws", False), ("PlanoOnDocker", True)])
def test_every_arg_is_in_the_schema_with_its_type(component: str, local: bool) -> None:
    inputs = _resource(component)["inputProperties"]
    expected = _expected_args(local)
    assert set(inputs) == set(expected)
    for name, shape in expected.items():
        assert _shape(inputs[name]) == shape, name
        assert inputs[name].get("description"), f"{component}.{name} has no description for other languages"


@pytest.mark.parametrize("component", [PlanoOnAws, PlanoOnDocker], ids=lambda c: c.__name__)
def test_every_output_is_in_the_schema_with_its_type(component: type[pulumi.ComponentResource]) -> None:
    resource = _resource(component.__name__)
    annotations = {n: a for n, a in inspect.get_annotations(component, eval_str=True).items() if not n.startswith("_")}
    assert annotations, "outputs are annotated on the class"
    assert set(resource["properties"]) == {camel_name(n) for n in annotations}
    for name, annotation in annotations.items():
        assert _shape(resource["properties"][camel_name(name)]) == _annotation_shape(annotation), name
    required = set(annotations) - {field_name(n) for n in CONDITIONAL_OUTPUTS[component.__name__]}
    assert set(resource["required"]) == {camel_name(n) for n in required}


def test_the_analyzer_reads_the_docstrings_with_the_cycle_collector_held_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CPython before 3.11.8 a collection during the analyzer's ast.parse can break the parse
    (gh-106905) and the analyzer then drops a description without a word (it happened to the first
    output, endpoint_url, in about one test process in six): the provider holds the collector off."""
    from pulumi.provider.experimental.analyzer import Analyzer

    enabled: list[bool] = []
    original = Analyzer.get_docstring

    def recording(self: Analyzer, typ: type, name: str) -> str | None:
        enabled.append(gc.isenabled())
        return original(self, typ, name)

    monkeypatch.setattr(Analyzer, "get_docstring", recording)
    resources = schema()["resources"].values()
    assert enabled and not any(enabled), "the collector ran during the analysis"
    assert gc.isenabled(), "the collector is given back"
    for resource in resources:
        for name, prop in {**resource["inputProperties"], **resource["properties"]}.items():
            assert prop.get("description"), name


def test_provider_keys_are_secret_inputs_and_nothing_else_is() -> None:
    for component in TOKENS:
        inputs = _resource(component)["inputProperties"]
        assert inputs["providerKeys"]["secret"] is True
        assert "plain" not in inputs["providerKeys"], "an SDK passes a secret input as an Output"
        assert {n for n, p in inputs.items() if p.get("secret")} == {"providerKeys"}


def test_the_docker_database_password_is_a_secret_output() -> None:
    secret = {n for c in TOKENS for n, p in _resource(c)["properties"].items() if p.get("secret")}
    assert secret == {"dbPassword"}
    assert _resource("PlanoOnDocker")["properties"]["dbPassword"]["secret"] is True


def test_the_sdk_analyzer_alone_marks_no_secret() -> None:
    """Why PlanoProvider exists: the pinned SDK's analyzer never writes `secret`. When a release
    does, this fails, and the marking can move to the SDK."""
    bare = json.loads(ComponentProvider([PlanoOnAws, PlanoOnDocker], PACKAGE, None, "0.0.0").schema or "{}")
    assert '"secret"' not in json.dumps(bare)
    assert set(bare["resources"]) == set(SCHEMA["resources"])


def test_outputs_left_optional_are_the_ones_a_configuration_can_leave_out() -> None:
    dev, prod = stack_run("dev").outputs, stack_run("prod").outputs
    aws = _resource("PlanoOnAws")
    for outputs in (dev, prod):
        assert {camel_name(n) for n in outputs} >= set(aws["required"])
    for name in CONDITIONAL_OUTPUTS["PlanoOnAws"]:
        present = [field_name(name) in outputs for outputs in (dev, prod)]
        assert any(present) and not all(present), f"{name} is conditional: set by one stack, not the other"


# --- construct: what the plugin does when another language creates a component ---------------------


def _as_the_provider_server_passes(value: Any, *, secret: bool) -> pulumi.Output[Any]:
    """An input as pulumi.provider.server.ProviderServicer._select_value hands it to construct:
    an Output whose data is already resolved."""
    from pulumi.output import _OutputData

    data: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
    data.set_result(_OutputData(resources=set(), value=value, is_known=True, is_secret=secret))
    return pulumi.Output._from_data(data)


_CONSTRUCT = """
import os
import subprocess
import sys
from plano_pulumi.provider import PlanoProvider
from tests.aws.test_component_schema import construct_from_another_language
construct_from_another_language(PlanoProvider())
"""


def construct_from_another_language(provider: PlanoProvider) -> None:
    """The inputs a TypeScript program sends (schema names, providerKeys wrapped in pulumi.secret)."""
    key = os.environ["PLANO_TEST_KEY"]
    inputs = {
        "configText": (PROJECT / "plano_config.yaml").read_text(encoding="utf-8"),
        "profile": "dev",
        "vpcId": "vpc-0abc1234",
        "publicSubnetIds": ["subnet-0aa10000", "subnet-0bb20000"],
        "privateSubnetIds": ["subnet-0cc30000", "subnet-0dd40000"],
        "providerKeys": _as_the_provider_server_passes({"OPENAI_API_KEY": key}, secret=True),
        "providerKeysExternal": ["ANTHROPIC_API_KEY"],
    }
    result = provider.construct("plano", "plano:index:PlanoOnAws", inputs, None)
    pulumi.export("state", sorted(result.state))


def test_construct_takes_a_secret_provider_key_map_from_another_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "test-" + os.urandom(12).hex()
    monkeypatch.setenv("PLANO_TEST_KEY", key)
    (tmp_path / "Pulumi.yaml").write_text("name: plano\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(_CONSTRUCT, encoding="utf-8")
    monkeypatch.syspath_prepend(str(PROJECT))
    run = run_program(tmp_path, "dev", config=RawConfig(values={"aws:region": "us-east-1"}))
    assert run.error is None, run.error
    assert not run.of_type("aws:ec2/vpc:Vpc"), "the existing VPC is used"
    versions = [
        r
        for r in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if key in json.dumps(unwrap_secrets(r.inputs))
    ]
    assert len(versions) == 1, "the key reaches exactly one secret version"
    assert key not in json.dumps(unwrap_secrets(versions[0].inputs, mask="[secret]")), "and only as a secret"
    assert "endpointUrl" in run.outputs["state"] and "clusterName" in run.outputs["state"]


def test_a_provider_key_map_with_unknown_names_is_refused_in_one_line() -> None:
    async def unknown() -> None:
        from pulumi.output import _OutputData

        data: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        data.set_result(_OutputData(resources=set(), value=None, is_known=False, is_secret=True))
        with pytest.raises(Exception, match=r"^args\.provider_keys: .*names are known") as error:
            provider_keys_by_name(pulumi.Output._from_data(data))
        assert "\n" not in str(error.value)

    asyncio.run(unknown())
