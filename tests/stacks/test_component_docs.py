"""docs/components.md and the README's component section match the package.

The args and outputs tables are generated from the schema the plugin serves; the Python programs
the docs show run under mocks; the child attributes they list exist.
"""

import os
import re
from pathlib import Path

import pytest
from plano_pulumi.core.settings import RawConfig
from plano_tools.component_reference import component_reference_markdown
from plano_tools.simulate import run_program

from tests.conftest import PROJECT

COMPONENTS_MD = (PROJECT / "docs" / "components.md").read_text(encoding="utf-8")
README = (PROJECT / "README.md").read_text(encoding="utf-8")


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


def test_the_args_and_outputs_tables_are_current() -> None:
    start = COMPONENTS_MD.index("<!-- component-reference:start")
    start = COMPONENTS_MD.index("\n", start) + 1
    end = COMPONENTS_MD.index("<!-- component-reference:end -->")
    assert COMPONENTS_MD[start:end] == component_reference_markdown(), (
        "docs/components.md is stale: .venv/bin/python -m plano_tools component-reference"
    )


def test_the_readme_shows_the_component_before_this_repositorys_stacks() -> None:
    assert README.index("## Use it as a component") < README.index("## Quick start")
    section = README[README.index("## Use it as a component") : README.index("## Quick start")]
    assert "requirements.txt" in section and "pulumi package add" in section and "(docs/components.md)" in section
    assert len(_python_blocks(section)) == 1


def test_components_md_puts_install_and_a_program_before_the_tables() -> None:
    order = ["## Install", "## A minimal program", "## Args and outputs", "## Escape hatches", "## This repository"]
    positions = [COMPONENTS_MD.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "pulumi package add github.com/" in COMPONENTS_MD and "/components/plugin@" in COMPONENTS_MD


@pytest.mark.parametrize(
    ("source", "program"),
    [("README.md", _python_blocks(README)[0]), ("docs/components.md", _python_blocks(COMPONENTS_MD)[0])],
)
def test_the_programs_the_docs_show_run(source: str, program: str, tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: platform\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(program, encoding="utf-8")
    # A config with one provider key ($OPENAI_API_KEY), as the programs declare.
    example_config = PROJECT / "examples" / "aws-existing-vpc" / "plano_config.yaml"
    (tmp_path / "plano_config.yaml").write_text(example_config.read_text(encoding="utf-8"))
    config = RawConfig(
        values={"aws:region": "eu-west-1", "platform:openaiApiKey": "test-" + os.urandom(8).hex()},
        secret_keys=frozenset({"platform:openaiApiKey"}),
    )
    cwd = Path.cwd()
    os.chdir(tmp_path)  # config_file is relative to the program's folder, as under `pulumi up`
    try:
        run = run_program(tmp_path, "dev", config=config)
    finally:
        os.chdir(cwd)
    assert run.error is None, f"{source}: {run.error}"
    assert run.of_type("plano:index:PlanoOnAws") and run.of_type("aws:ecs/service:Service")
    assert run.outputs.get("endpoint_url"), (run.outputs, run.warnings, [r.type for r in run.resources][-5:])


def test_the_child_attributes_listed_exist() -> None:
    table = COMPONENTS_MD[COMPONENTS_MD.index("| attribute | what it is |") :].split("\n\n")[0]
    listed = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert set(listed) >= {"network", "firewall", "database", "provider_keys", "load_balancer", "service", "schedule"}
    # The component's own module, and the base both components share (component.py: settings).
    source = "\n".join(
        (PROJECT / "components/plano_pulumi" / path).read_text(encoding="utf-8")
        for path in ("aws/plano.py", "component.py")
    )
    for name in listed:
        assert re.search(rf"^\s+self\.{name} = ", source, re.M), f"PlanoOnAws has no attribute {name}"
    local = (PROJECT / "components/plano_pulumi/local/plano.py").read_text(encoding="utf-8")
    for name in ("network", "certificates", "database", "service"):
        assert re.search(rf"^\s+self\.{name} = ", local, re.M), f"PlanoOnDocker has no attribute {name}"


def test_the_typescript_snippet_uses_the_schemas_names() -> None:
    from plano_pulumi.provider import schema

    aws = schema()["resources"]["plano:index:PlanoOnAws"]
    [snippet] = re.findall(r"^```typescript\n(.*?)^```", COMPONENTS_MD, re.M | re.S)
    args = set(re.findall(r"^\s{4}(\w+):", snippet, re.M))
    assert args and args <= set(aws["inputProperties"]), args - set(aws["inputProperties"])
    outputs = set(re.findall(r"gateway\.(\w+)", snippet))
    assert outputs and outputs <= set(aws["properties"])
