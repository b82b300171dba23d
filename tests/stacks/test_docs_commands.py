"""The commands in the README and docs/ work as written.

Every command line of every fenced ``bash`` block is classified: the ones that can run here
(offline tools, make targets that need no cloud) run, as written, in a copy of the project; the
others must be covered elsewhere (``make test`` by CI, ``pulumi``/``aws`` need an account), and a
new command that fits no class fails the test until someone decides which it is.
"""

from __future__ import annotations

import json
import os
import re
import secrets as secrets_module
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from plano_pulumi.core.settings.model import RawConfig
from plano_tools.plan import plan_document
from plano_tools.simulate import read_stack_config

from tests.conftest import PREPARED_STACKS, PROJECT, cached_run, python_shim, stack_run

DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]

# Commands that run here, in a copy of the project (first words of the command).
RUNNABLE = (
    "make render ",
    "make plan ",
    "make help",
    ".venv/bin/python -m plano_tools ",
    ".venv/bin/python policy/validators.py ",
)
# Commands that cannot run here, and where they are covered instead.
ELSEWHERE = {
    "make test": "CI runs it (.ci/run), and it runs this test",
    "make test-fast": "a subset of make test",
    "make lint": "part of make test",
    "make format": "rewrites files; ruff's own command",
    "make bench": "needs the servers; prints figures, not a test",
    "make bench-tests": "runs the whole suite twice; prints figures, not a test",
    "make setup": "make test runs it first",
    "make servers": "make test runs it (tests/scripts/test_test_servers.py checks its failure paths)",
    "make refresh-prices": "needs network to AWS (tests/tools/test_refresh_prices.py runs the script on a recording)",
    ".venv/bin/python scripts/refresh_prices.py": "needs network to AWS (tests/tools/test_refresh_prices.py)",
    "pulumi ": "needs the Pulumi CLI and a state backend",
    "aws ": "needs AWS credentials",
    "scripts/destroy-stack.sh ": "needs the Pulumi CLI (tests/scripts/test_destroy_stack.py: a stand-in pulumi)",
    "$(pulumi stack output port_forward_command": "needs AWS (tests/scripts/test_port_forward.py runs the output)",
    "curl ": "needs a deployed stack",
    "docker ": "needs a Docker engine and registry access",
    "export ": "sets variables for the commands after it",
    "make e2e": "needs Docker and the Pulumi CLI: the pull-request workflow's e2e job runs it",
    "make pin-images": "needs the registries (tests/integration/test_pin_images.py pins against a real one)",
    "git diff ": "reviews what the command before it changed",
    'PGPASSWORD="$(pulumi stack output': "needs the local stack up (tests/e2e runs the same psql check)",
    "first=$(curl ": "needs the local stack up (tests/e2e makes the same two requests)",
}


def bash_commands(text: str) -> list[str]:
    """Command lines of the fenced bash blocks, comments and line continuations handled."""
    commands: list[str] = []
    for block in re.findall(r"^ *```bash\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL):
        pending = ""
        for raw in block.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            line = re.sub(r"\s+#\s.*$", "", line)  # a trailing comment
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            commands.append(pending + line)
            pending = ""
    return commands


ALL_COMMANDS = sorted({command for path in DOCS for command in bash_commands(path.read_text())})


def test_the_docs_have_commands() -> None:
    assert "make test" in ALL_COMMANDS and "make plan STACK=dev" in ALL_COMMANDS


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_is_run_here_or_covered_elsewhere(command: str) -> None:
    runnable = command.startswith(RUNNABLE)
    elsewhere = [prefix for prefix in ELSEWHERE if command == prefix or command.startswith(prefix)]
    assert runnable or elsewhere, f"unclassified command in the docs: {command!r} (add it to RUNNABLE or ELSEWHERE)"


def test_no_doc_tells_users_to_run_python_outside_the_virtualenv() -> None:
    for path in DOCS:
        for command in bash_commands(path.read_text()):
            assert not re.match(r"(python3?|pip) ", command), f"{path.name}: {command} (use .venv/bin/python or make)"
        for inline in re.findall(r"`((?:python3?) -m [^`]+)`", path.read_text()):
            pytest.fail(f"{path.name}: `{inline}` (use .venv/bin/python or a make target)")


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project in a temporary directory, with a .venv/bin/python that runs this interpreter and
    that make considers installed (so nothing is installed), plus the plan files the docs' examples read."""
    copy = tmp_path_factory.mktemp("docs") / "project"
    # Compiled modules come along (the sources keep their times, so they stay valid): the commands
    # below compile nothing.
    ignored = (".venv", ".cache", ".git", "out", ".pytest_cache", ".mypy_cache", ".ruff_cache")
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns(*ignored))
    python_shim(copy)  # .venv/bin/python is the interpreter running the tests, wherever it lives
    # The prod guide sets the two placeholders (pulumi config set) before `make plan STACK=prod`:
    # the copy holds prod as those commands leave it (prod refuses the shipped placeholders).
    shutil.copy(PREPARED_STACKS / "Pulumi.prod.yaml", copy / "Pulumi.prod.yaml")
    plan = json.dumps(plan_document(stack_run("dev")))
    for name in ("base.json", "head.json"):
        (copy / name).write_text(plan)
    # The docs write prod.json in one command and read it in the next; tests may run in any order
    # (pytest-xdist), so the file is there from the start.
    (copy / "prod.json").write_text(json.dumps(plan_document(stack_run("prod"))))
    return copy


# One run per command; commands that differ only in the stack (make plan STACK=dev/prod) run once.
RUNS = list({re.sub(r"STACK=\S+", "STACK=", c): c for c in ALL_COMMANDS if c.startswith(RUNNABLE)}.values())


@pytest.mark.parametrize("command", RUNS)
@pytest.mark.processes
def test_runnable_commands_work_as_written(command: str, project_copy: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        ["bash", "-c", command], cwd=project_copy, env=env, capture_output=True, text=True, timeout=120
    )
    if "policy/validators.py" in command:  # exits 1 when a policy fails: prod's unpinned images
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    else:
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert "pip install" not in result.stdout  # make did not (re)install anything
    if "--json" in command and ">" in command:
        target = project_copy / command.split(">")[-1].strip()
        assert json.loads(target.read_text())["stack"]


def make_help_targets() -> set[str]:
    result = subprocess.run(["make", "--no-print-directory", "help"], cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"^make ([a-z0-9-]+)", result.stdout, re.MULTILINE))


@pytest.mark.processes
def test_make_help_lists_every_target_the_docs_use_and_every_phony_target() -> None:
    listed = make_help_targets()
    used = {m for path in DOCS for m in re.findall(r"\bmake ([a-z][a-z0-9-]*)", path.read_text())}
    assert used - listed == set()
    phony = set(re.search(r"^\.PHONY: (.*)$", (PROJECT / "Makefile").read_text(), re.MULTILINE)[1].split())  # type: ignore[index]
    assert phony - listed - {"help"} == set()


def test_readme_quickstart_fits_the_first_screen() -> None:
    first_screen = "\n".join((PROJECT / "README.md").read_text().splitlines()[:40])
    assert "## Quick start" in first_screen
    assert "make test" in first_screen and "pulumi up --stack dev" in first_screen
    assert "Prerequisites" in first_screen
    for what in ("sudo", "apt-get", "postgresql-15", "Pulumi CLI", "AWS credentials"):
        assert what in first_screen, what
    # The deployer's path first (no root), the contributor's (root, servers) after it.
    quick_start = first_screen[first_screen.index("## Quick start") :]
    deploy = [quick_start.index(c) for c in ("make setup", "make plan STACK=dev", "pulumi up --stack dev")]
    assert deploy == sorted(deploy) and deploy[-1] < quick_start.index("make test") < quick_start.index("sudo")
    assert "To deploy (no root" in quick_start
    # The intro, before the first section (the component API, then this repository's quick start).
    intro = (PROJECT / "README.md").read_text().split("\n## ")[0].strip().splitlines()[1:]
    assert 1 <= len([line for line in intro if line.strip()]) <= 3  # what it deploys, in three lines


# --- `pulumi config` commands, run under mocks against the committed stack files (issue 17, 16) --------

CONFIG_COMMAND = re.compile(r"^pulumi config (set|rm)\b")
FILL_IN = "FILL-IN"
# Values of the shape a user types where a guide's command says `<your ...>` (none is a placeholder
# prod refuses: core/settings/placeholders.py).
FILLED_IN = {
    "certificateArn": "arn:aws:acm:us-east-1:491085411627:certificate/4f1c2a9e-7b3d-4e8a-9c21-5d6e7f8a9b0c",
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "allowedCidrs": "10.20.0.0/16",
    "alarmEmails": "platform-oncall@plano.dev",
}


def _config_steps(text: str) -> list[list[str]]:
    """The `pulumi config set/rm` commands of a doc: each bash block's in order (one sequence per
    block, applied one after another), and each inline one on its own. Inline ones with `<...>`
    placeholders are patterns, not commands."""
    steps: list[list[str]] = []
    for block in re.findall(r"^ *```bash\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL):
        block = re.sub(r"\S*<[^<>\n]*>\S*", FILL_IN, block)  # a value the user fills in: see _apply
        parts = [p.strip() for c in bash_commands(f"```bash\n{block}```\n") for p in c.split("&&")]
        found = [p for p in parts if CONFIG_COMMAND.match(p)]
        if found:
            steps.append(found)
    for inline in re.findall(r"`(pulumi config (?:set|rm)[^`]*)`", text):
        command = " ".join(inline.split())
        if "<" not in command:
            steps.append([command])
    return steps


CONFIG_STEPS = sorted(
    {(path.name, tuple(seq)) for path in DOCS for seq in _config_steps(path.read_text())},
)


def _apply(values: dict[str, Any], secret_keys: set[str], command: str, value_of: dict[str, str]) -> None:
    """What the Pulumi CLI does to a stack's config for one `pulumi config set/rm` (--path, --secret)."""
    words = shlex.split(command)[2:]
    verb, words = words[0], words[1:]
    flags = {w for w in words if w in ("--path", "--secret", "--plaintext")}
    words = [w for w in words if w not in flags]
    if "--stack" in words:
        at = words.index("--stack")
        del words[at : at + 2]
    key = words[0]
    value: Any = words[1] if len(words) > 1 else None
    if value == FILL_IN:  # what a user would type where the guide says <your ...>
        value = FILLED_IN[re.sub(r"[.\[].*", "", key.split(":")[-1])]
    if isinstance(value, str) and (value.startswith("$") or value in ("...", "sk-...")):
        value = value_of.setdefault(value, "test-" + secrets_module.token_hex(12))  # generated, never committed
    if "--path" not in flags:
        if verb == "rm":
            values.pop(key, None)
        else:
            values[key] = value
        if "--secret" in flags:
            secret_keys.add(key)
        return
    # key[.field|[index]]...: walk the structured value, creating maps on the way (as the CLI does).
    top, rest = re.match(r"([^.\[]+:[^.\[]+)(.*)", key).groups()  # type: ignore[union-attr]
    parts = [int(i) if i else f for f, i in re.findall(r"\.([^.\[]+)|\[(\d+)\]", rest)]
    root = values.setdefault(top, {} if isinstance(parts[0], str) else [])
    if isinstance(root, str):
        root = values[top] = json.loads(root)
    node = root
    for part in parts[:-1]:
        node = node[part] if not isinstance(part, str) else node.setdefault(part, {})
    last = parts[-1]
    if verb == "rm":
        del node[last]  # an array element is removed and the rest move up
    elif isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    if "--secret" in flags:
        secret_keys.add(top)


def _committed_as_prepared(stack: str) -> RawConfig:
    """The committed stack file; prod as docs/deploying.md prepares it first (its documentation
    placeholders replaced), since prod refuses them before anything else is read."""
    if stack != "prod":
        return read_stack_config(PROJECT, stack)
    from tests.stacks.test_prod_preparation import prepare_prod

    with tempfile.TemporaryDirectory() as folder:
        text = (PROJECT / "Pulumi.prod.yaml").read_text(encoding="utf-8")
        (Path(folder) / "Pulumi.prod.yaml").write_text(prepare_prod(text, pins=False), encoding="utf-8")
        return read_stack_config(Path(folder), stack)


@pytest.mark.parametrize(("doc", "sequence"), CONFIG_STEPS, ids=[f"{d}: {' ; '.join(s)}" for d, s in CONFIG_STEPS])
def test_config_commands_work_on_the_committed_stack_files(doc: str, sequence: tuple[str, ...]) -> None:
    """Each `pulumi config set/rm` of the README and docs, applied as the CLI would to the committed
    stack file it names (without --stack: dev and prod), leaves a config the program accepts; a
    block's commands are applied in order and checked after its last one (what `pulumi up` reads)."""
    named = {m for c in sequence for m in re.findall(r"--stack (\S+)", c)}
    for stack in sorted(named) or ["dev", "prod"]:
        base = _committed_as_prepared(stack)
        values: dict[str, Any] = {k: (json.loads(v) if v[:1] in "[{" else v) for k, v in base.values.items()}
        secret_keys = set(base.secret_keys)
        value_of: dict[str, str] = {}
        for command in sequence:  # the config `pulumi up` then reads: after the block's last command
            _apply(values, secret_keys, command, value_of)
        raw = RawConfig(
            values={k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()},
            secret_keys=frozenset(secret_keys),
        )
        run = cached_run(stack, raw)
        assert run.error is None, f"{doc}: `{' ; '.join(sequence)}` on Pulumi.{stack}.yaml: {run.error}"
        if any("providerKeys." in c for c in sequence):
            assert set(value_of.values()) & set(raw.values.get("plano:providerKeys", "").split('"'))
            assert "plano:providerKeys" in raw.secret_keys


def test_the_readme_day_two_commands_are_among_those_run() -> None:
    """The finding: the README's day-two provider-key command was refused on the committed stacks."""
    readme = (PROJECT / "README.md").read_text()
    day_two = readme.split("## Day two")[1].split("\n## ")[0]
    assert [seq for seq in _config_steps(day_two)]  # it has config commands, and the test above runs them
    assert all(("README.md", tuple(seq)) in CONFIG_STEPS for seq in _config_steps(day_two))


def test_the_prod_guide_is_complete_step_by_step() -> None:
    """Every step from nothing to an HTTPS endpoint on the user's domain is a command in the guide."""
    guide = (PROJECT / "docs" / "deploying.md").read_text()
    prod = bash_commands(guide[guide.index("## Prod") :])
    steps = [
        "pulumi stack init prod --secrets-provider",
        "aws acm request-certificate",
        "pulumi config set plano:certificateArn",
        "pulumi config set plano:domainName",
        "pulumi config set plano:hostedZoneId",
        "pulumi config set --path 'plano:allowedCidrs[0]'",
        "make pin-images STACK=prod",
        "make plan STACK=prod",
        "pulumi up --stack prod --policy-pack policy --policy-pack-config policy/config/prod.json",
        "pulumi stack output provider_key_fill_commands --stack prod | bash",
        "pulumi stack output redeploy_command --stack prod | bash",
        'curl "$(pulumi stack output endpoint_url --stack prod)',
    ]
    at = [next((i for i, c in enumerate(prod) if c.startswith(step)), -1) for step in steps]
    assert -1 not in at, [s for s, i in zip(steps, at, strict=True) if i == -1]
    assert at == sorted(at), "the steps are in order"
    assert "pulumi stack output alb_dns_name --stack prod" in prod  # the CNAME target without Route 53
    dev = guide[: guide.index("## Prod")]
    assert "08:00 to 20:00 UTC" in dev and "wake_command" in dev and "plano:scheduleTimezone" in dev


@pytest.mark.processes
def test_make_plan_of_the_committed_prod_file_names_what_to_prepare(project_copy: Path, tmp_path: Path) -> None:
    """Before the guide's steps, the committed Pulumi.prod.yaml is refused in one line naming the key
    and the command (the same message pulumi preview prints)."""
    shutil.copy(PROJECT / "Pulumi.prod.yaml", tmp_path / "Pulumi.prod.yaml")
    committed = (tmp_path / "Pulumi.prod.yaml").read_text()
    if "203.0.113.0/24" not in committed:
        pytest.skip("Pulumi.prod.yaml was prepared (its placeholders replaced): nothing to refuse")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    shipped = tmp_path / "project"
    shutil.copytree(project_copy, shipped, symlinks=True)
    shutil.copy(PROJECT / "Pulumi.prod.yaml", shipped / "Pulumi.prod.yaml")
    result = subprocess.run(
        ["make", "--no-print-directory", "plan", "STACK=prod"], cwd=shipped, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "plano:allowedCidrs" in errors[0] and "pulumi config set --path 'plano:allowedCidrs[0]'" in errors[0]
