"""``pip install`` of the package, then a ten-line program in someone else's VPC, under mocks.

The wheel is built from this checkout (``pip wheel --no-deps``) and installed into a fresh virtual
environment; the program runs there, in a directory outside the checkout, with ``python -I`` (no
PYTHONPATH, no source tree). The dependencies (pulumi, pulumi-aws, ...) come from the project's
.venv through a path file, because a full install of pulumi-aws from the wheel cache takes minutes:
only this package is read from the install, which the test asserts.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT, shared_across_workers

# Builds a wheel and installs it in a new venv: not a mocked test, so `make test` runs it
# and `make test-fast` does not (the `processes` marker).
pytestmark = pytest.mark.processes

VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "public_subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "private_subnet_ids": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}

TEN_LINES = f"""
import pulumi
from plano_pulumi import PlanoOnAws

plano = PlanoOnAws("plano", {{
    "config_text": open("plano_config.yaml").read(),
    "vpc_id": "{VPC["vpc_id"]}",
    "public_subnet_ids": {VPC["public_subnet_ids"]},
    "private_subnet_ids": {VPC["private_subnet_ids"]},
    "provider_keys_external": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"],
}})
pulumi.export("endpoint_url", plano.endpoint_url)
"""

BAD_ARGS = {
    # arg -> what the one-line error must say
    "vpc": "args.vpc: is not an argument of PlanoOnAws",
    "db_engine": 'dbEngine: "postgres" is not one of the allowed values. Allowed: rds, aurora-serverless',
}

_RUN = """
import json, sys
from pathlib import Path
import plano_pulumi
from plano_pulumi.core.settings import RawConfig
from plano_tools.simulate import run_program
run = run_program(Path(sys.argv[1]), "dev", config=RawConfig(values={"aws:region": "us-east-1"}))
print(json.dumps({
    "package": plano_pulumi.__file__,
    "types": sorted({r.type for r in run.resources}),
    "error": None if run.error is None else f"{type(run.error).__name__}: {run.error}",
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the package installed from its wheel (one for all of the
    run's workers); returns its python."""
    return shared_across_workers(tmp_path_factory, "install", _install) / "venv" / "bin" / "python"


def _install(root: Path) -> None:
    source, wheels, venv = root / "source", root / "wheels", root / "venv"
    # Built from a copy: setuptools writes build/ and egg-info next to the sources it builds.
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    shutil.copytree(
        PROJECT / "components",
        source / "components",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "venv"),
    )
    pip = [sys.executable, "-m", "pip"]
    build = subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=300
    )
    assert build.returncode == 0, build.stderr
    [wheel] = wheels.glob("plano_pulumi-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies from the project's environment, after the venv's own site-packages.
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")


def _run(python: Path, project: Path) -> dict[str, Any]:
    script = project.parent / "run.py"
    script.write_text(_RUN, encoding="utf-8")
    result = subprocess.run(
        [str(python), "-I", str(script), str(project)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _project(root: Path, program: str) -> Path:
    root.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: platform\nruntime: python\n", encoding="utf-8")
    (root / "__main__.py").write_text(textwrap.dedent(program), encoding="utf-8")
    (root / "plano_config.yaml").write_text((PROJECT / "plano_config.yaml").read_text(encoding="utf-8"))
    return root


def test_the_ten_line_program_runs_in_an_existing_vpc_from_the_installed_package(
    installed: Path, tmp_path: Path
) -> None:
    assert len([line for line in TEN_LINES.strip().splitlines() if line.strip()]) <= 11
    run = _run(installed, _project(tmp_path / "program", TEN_LINES))
    assert run["error"] is None, run["error"]
    assert run["package"].startswith(str(installed.parent.parent)), f"not the installed package: {run['package']}"
    types = set(run["types"])
    assert "plano:index:PlanoOnAws" in types
    # The database, its secrets and the service, and no network of its own.
    assert {"aws:rds/cluster:Cluster", "aws:ecs/service:Service"} <= types
    assert "aws:secretsmanager/secret:Secret" in types and "aws:secretsmanager/secretVersion:SecretVersion" in types
    assert not {
        t for t in types if t in {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway"}
    }


@pytest.mark.parametrize(("arg", "says"), BAD_ARGS.items())
def test_bad_args_give_one_line_errors_before_any_resource(
    installed: Path, tmp_path: Path, arg: str, says: str
) -> None:
    value = '"postgres"' if arg == "db_engine" else '"vpc-0123456789abcdef0"'
    program = TEN_LINES.replace('    "vpc_id":', f'    "{arg}": {value},\n    "vpc_id":')
    run = _run(installed, _project(tmp_path / "program", program))
    assert run["error"] is not None and run["error"].startswith("ConfigError: "), run["error"]
    assert says in run["error"] and "\n" not in run["error"], run["error"]
    assert run["types"] == [], "nothing is registered before the args are valid"
