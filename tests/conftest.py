"""Shared helpers: the project paths, and running the real program offline for a stack."""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from plano_pulumi.core.settings import RawConfig
from plano_tools.simulate import Registered, Run, read_stack_config, run_program, unwrap_secrets

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
UPSTREAM = SHARED / "upstream"
STACKS = ("dev", "prod")
# Stack files with the shipped example values (tests about those values run these, not the
# committed files, which users edit before deploying).
FIXTURE_STACKS = PROJECT / "tests" / "fixtures" / "stacks"
# Prod refuses the shipped documentation placeholders at preview, so tests plan prod from this
# prepared copy (the README's first prod step done), never from the committed file users edit.
PREPARED_STACKS = FIXTURE_STACKS / "prepared"


def stack_dir(stack: str) -> Path:
    """Where the tests read ``Pulumi.<stack>.yaml``: the prepared fixture for prod, else the project."""
    return PREPARED_STACKS if (PREPARED_STACKS / f"Pulumi.{stack}.yaml").is_file() else PROJECT


# The reason an integration test skips starts with this; the summary below counts them.
SKIP_PREFIX = "integration servers unavailable: "
GET_SERVERS = (
    "Get them with `make servers` (scripts/ensure-test-servers.sh: Debian or Ubuntu, apt-get as root or "
    "through sudo), then run `make test` again. Under CI=true these tests fail instead of skipping."
)
# The RDS path with the dev profile (dev itself defaults to Aurora Serverless:
# tests/stacks/test_review_environments.py).
DEV_RDS = "dev-rds"
DB_STACKS = (DEV_RDS, "prod")


# The outage scenarios under pytest-xdist: the controller runs them (tests/integration/outage_host.py).
OUTAGE_HOST = pytest.StashKey[Any]()


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


RUNS_ENV = "PLANO_TEST_RUNS"
RUNS_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if _is_xdist_controller(config):
        runs = Path(tempfile.mkdtemp(prefix="plano-test-runs-"))
        os.environ[RUNS_ENV] = str(runs)  # the workers' shared runs (cached_run)
        config.stash[RUNS_DIR] = runs
        from tests.integration.outage_host import RESULTS_ENV, Host, new_results_directory

        host = Host(new_results_directory())
        os.environ[RESULTS_ENV] = str(host.directory)  # the workers, started after this, inherit it
        config.stash[OUTAGE_HOST] = host


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """The controller starts the outage scenarios once a worker has collected their tests."""
    host = node.config.stash.get(OUTAGE_HOST, None)
    if host is not None and any(i.startswith("tests/integration/test_outages.py::") for i in ids):
        host.start()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist load`` (make test): integration tests never hold every worker (tests/scheduling.py)."""
    if config.getvalue("dist") != "load":
        return None
    from tests.scheduling import WaitAwareScheduling

    return WaitAwareScheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """A banner, last thing on the screen, when integration tests skipped: a green run that
    skipped them checked much less than it seems.

    Then the garbage collector is switched off: the interpreter's exit would otherwise collect
    everything the session made (hundreds of thousands of objects), and a pytest-xdist run waited
    about a second and a half for its workers to finish doing that."""
    _banner(config)
    runs = config.stash.get(RUNS_DIR, None)
    if runs is not None:
        shutil.rmtree(runs, ignore_errors=True)
    host = config.stash.get(OUTAGE_HOST, None)
    if host is not None:
        host.close()  # waits for scenarios still running, then stops their servers
        shutil.rmtree(host.directory, ignore_errors=True)
    gc.disable()
    gc.freeze()


def _banner(config: pytest.Config) -> None:
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and SKIP_PREFIX in str(report.longrepr[2])
    ]
    if not skipped:
        return
    reason = str(skipped[0].longrepr[2]).split(SKIP_PREFIX, 1)[1]
    write = terminalreporter.write_line
    terminalreporter.write_sep("!", f"{len(skipped)} INTEGRATION TESTS SKIPPED: NO TEST SERVERS", red=True, bold=True)
    write(f"Reason: {reason}")
    install = os.environ.get("PLANO_TEST_SERVERS_SKIP_REASON")
    if install:
        write(f"Install: {install}")
    write("The database path (TLS, the PgBouncer sidecar, the schema, retention) was NOT tested on real servers.")
    write(GET_SERVERS)
    terminalreporter.write_sep("!", red=True, bold=True)


COPY_IGNORED = (".venv", ".cache", ".git", "out", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__")


@pytest.fixture(scope="session")
def prepared_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project whose Pulumi.prod.yaml is the prepared fixture: for the tools that read
    a project directory (``plano_tools plan --project-dir``, the CI scripts)."""
    root = tmp_path_factory.mktemp("prepared") / "project"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns(*COPY_IGNORED))
    shutil.copy(PREPARED_STACKS / "Pulumi.prod.yaml", root / "Pulumi.prod.yaml")
    return root


def python_shim(root: Path) -> Path:
    """``root/.venv/bin/python`` that runs this interpreter, whatever environment runs the tests
    (the project's .venv, a venv elsewhere, a system Python with the requirements): the docs and
    scripts call ``.venv/bin/python``, the tests must not need one in the checkout. Marked
    installed, so make installs nothing."""
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        shim.chmod(0o755)
    (root / ".venv" / ".installed").touch()
    return bin_dir / "python"


def shared_across_workers(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A directory that ``build`` fills once per test run, whichever pytest-xdist workers ask for it
    (the others wait for it under a lock, then read it): for module fixtures that start processes
    for seconds (a wheel built and installed, a CI script's whole run), which every worker running
    one of their tests used to repeat. A build that fails leaves nothing, and the next asker tries again."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the run's directory, above each worker's own
    directory = root / f"shared-{name}"
    with (root / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / ".built").exists():
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir()
            build(directory)
            (directory / ".built").touch()
    return directory


def stack_run(stack: str) -> Run:
    """The stack file (prod: the prepared fixture) run through the real program (cached: the runs are pure)."""
    if stack == DEV_RDS:
        return cached_run("dev", config_for("dev", values={"dbEngine": "rds"}))
    return cached_run(stack, read_stack_config(stack_dir(stack), stack))


def example_run(stack: str) -> Run:
    """``tests/fixtures/stacks/Pulumi.<stack>.yaml`` run through the real program as stack ``stack``."""
    return cached_run(stack, read_stack_config(FIXTURE_STACKS, stack))


def config_for(
    stack: str,
    *,
    values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    remove: Iterable[str] = (),
) -> RawConfig:
    """The stack file's config (prod: the prepared fixture) with keys set (plain or secret) or
    removed, as the CLI passes it.

    Strings are passed as they are; other values (lists, maps, numbers, booleans) as JSON, like
    the CLI does for structured config.
    """
    base = read_stack_config(stack_dir(stack), stack)
    merged = dict(base.values)
    secret_keys = set(base.secret_keys)
    for key in remove:
        merged.pop(_full(key), None)
        secret_keys.discard(_full(key))
    for key, value in {**(values or {}), **(secrets or {})}.items():
        merged[_full(key)] = value if isinstance(value, str) else json.dumps(value)
    secret_keys |= {_full(k) for k in (secrets or {})}
    return RawConfig(values=merged, secret_keys=frozenset(secret_keys))


def _full(key: str) -> str:
    return key if ":" in key else f"plano:{key}"


# The whole program under mocks is the suite's main cost, and many tests run the same variant
# (the committed dev, prod with pinned images, dev on RDS, ...): runs are pure functions of the
# project's files and the config, so each distinct one runs once per test run (shared by the
# pytest-xdist workers, below). The key holds the config and the content of every file a config
# value names (a config file a test rewrites is a new run). A test that patches anything
# (`monkeypatch`: mocks, the environment) neither reads nor fills the cache. Callers read a cached
# Run; none may change it.
_runs: dict[str, Run] = {}
_cache_runs = True


@pytest.fixture(autouse=True)
def _fresh_runs_under_monkeypatch(request: pytest.FixtureRequest) -> Any:
    global _cache_runs
    _cache_runs = "monkeypatch" not in request.fixturenames
    yield
    _cache_runs = True


def cached_run(stack: str, config: RawConfig) -> Run:
    """``run_program(PROJECT, stack, config=config)``, once per worker for each distinct input."""
    if not _cache_runs:
        return run_program(PROJECT, stack, config=config)
    key = json.dumps(
        [
            stack,
            sorted(config.values.items()),
            sorted(config.secret_keys),
            sorted((k, list(v)) for k, v in config.plaintext_leaves.items()),
            _named_files(config.values.values()),
        ]
    )
    if key not in _runs:
        _runs[key] = _shared_run(key) or run_program(PROJECT, stack, config=config)
        _share_run(key, _runs[key])
    return _runs[key]


# Under pytest-xdist the workers share their runs too: the controller names a directory for this
# test run (RUNS_ENV, inherited by the workers), where each successful run is left, pickled, under
# the digest of its key and the project's path. Two workers may still compute one run at once;
# neither waits.


def _shared_path(key: str) -> Path | None:
    directory = os.environ.get(RUNS_ENV)
    digest = hashlib.sha256(f"{PROJECT}\n{key}".encode()).hexdigest()
    return Path(directory) / f"{digest}.pickle" if directory else None


def _shared_run(key: str) -> Run | None:
    path = _shared_path(key)
    if path is None or not path.is_file():
        return None
    run: Run = pickle.loads(path.read_bytes())  # written by another worker of this test run
    return run


def _share_run(key: str, run: Run) -> None:
    path = _shared_path(key)
    if path is None or run.error is not None or path.exists():  # errors are cheap, and not all pickle
        return
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(pickle.dumps(run, protocol=pickle.HIGHEST_PROTOCOL))
    partial.replace(path)  # readers see the whole file or none


def _named_files(values: Iterable[str]) -> list[tuple[str, str]]:
    """The files config values name (relative to the project, as the program reads them), by content."""
    named = []
    for value in values:
        if not value or len(value) > 1024 or "\n" in value or value[:1] in "[{":
            continue
        path = PROJECT / value
        try:
            if path.is_file():
                named.append((value, hashlib.sha256(path.read_bytes()).hexdigest()))
        except OSError:  # not a path this system can name
            continue
    return named


def run_with(stack: str, **changes: Any) -> Run:
    """The stack file's config with ``changes`` (see config_for) run through the real program."""
    return cached_run(stack, config_for(stack, **changes))


def plain(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers removed (to inspect values)."""
    return unwrap_secrets(value)


def containers(run: Run) -> dict[str, dict[str, Any]]:
    task = run.one("aws:ecs/taskDefinition:TaskDefinition", "task")  # Plano's (dev also has the review janitor's)
    return {c["name"]: c for c in json.loads(plain(task.inputs["containerDefinitions"]))}


def env_of(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def children_of(run: Run, parent: Registered) -> list[Registered]:
    return [r for r in run.resources if r.parent == parent.urn]


@pytest.fixture(params=("dev", *DB_STACKS))
def any_stack(request: pytest.FixtureRequest) -> Run:
    return stack_run(request.param)


@pytest.fixture(params=DB_STACKS)
def rds_stack(request: pytest.FixtureRequest) -> Run:
    """Stacks on the RDS engine (dev's Aurora engine: tests/stacks/test_review_environments.py)."""
    return stack_run(request.param)
