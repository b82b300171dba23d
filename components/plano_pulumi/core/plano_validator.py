"""Check the config the task will run with Plano's own config generator, before any resource.

The container runs ``planoai.config_generator`` at every start and exits when it refuses the
config, so a typo (a top-level ``model_provider:``) would only show as a crash-looping task. Here
the same generator, from the ``planoai`` pinned in ``requirements.txt`` (the image's version),
validates and renders the config in a subprocess (one per interpreter, kept for the next config):
with a clean environment (no proxies, no variables, so ``$VAR`` placeholders stay as they are),
sockets disabled, in a temporary directory and with a time limit. A refusal becomes one
``ConfigError`` naming the user's file, the failing path and the fix. Results are cached by content,
in memory and under ``.cache/plano-validator``:
the generator is a pure function of the config and the installed ``planoai``.

``planoai`` missing is an error, not a warning: it is a declared dependency of the program (so
``make setup`` installs it), and skipping the check would let a config Plano refuses reach the
tasks.
"""

from __future__ import annotations

import atexit
import dataclasses
import difflib
import hashlib
import importlib.metadata
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.images import PLANO_VERSION

TIMEOUT_S = 60

# Runs in one long-lived subprocess per interpreter: imports Plano's generator once (0.35 s of the
# 0.4 s a config cost when each had its own process), then, for each request line, runs the whole
# generator (schema, semantic checks, the Envoy template) with stdout captured and prints one JSON
# line as its result.
_DRIVER = r"""
import contextlib, io, json, os, socket, sys

def _no_network(*args, **kwargs):
    raise OSError("network disabled while validating the Plano config")

socket.socket.connect = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network
try:
    import yaml
    import planoai
    from planoai import config_generator
except ImportError as exc:
    for line in sys.stdin:
        print(json.dumps({"status": "missing", "message": str(exc)}), flush=True)
    raise SystemExit(0)
# libyaml parses Plano's 700-line schema ten times faster than the pure-Python parser Plano's
# yaml.safe_load uses; same loader rules, same result. Nothing else of Plano's code is changed.
if hasattr(yaml, "CSafeLoader"):
    yaml.safe_load = lambda stream: yaml.load(stream, Loader=yaml.CSafeLoader)
data = os.path.join(os.path.dirname(planoai.__file__), "data")
os.environ["PLANO_CONFIG_SCHEMA_FILE"] = os.path.join(data, "plano_config_schema.yaml")
os.environ["TEMPLATE_ROOT"] = data
os.environ["ENVOY_CONFIG_TEMPLATE_FILE"] = "envoy.template.yaml"
# Plano reports a schema error with exit(1), and site's exit() closes sys.stdin first: requests come
# on a duplicate of the descriptor, and the generator gets an empty stdin of its own.
requests = os.fdopen(os.dup(0))
sys.stdin = io.StringIO()
for line in requests:  # one request per line: the directory holding plano_config.yaml
    work = json.loads(line)["work"]
    os.chdir(work)
    os.environ["PLANO_CONFIG_FILE"] = os.path.join(work, "plano_config.yaml")
    os.environ["PLANO_CONFIG_FILE_RENDERED"] = os.path.join(work, "plano_config_rendered.yaml")
    os.environ["ENVOY_CONFIG_FILE_RENDERED"] = os.path.join(work, "envoy.yaml")
    out = io.StringIO()
    result = {"status": "ok", "version": planoai.__version__}
    try:
        with contextlib.redirect_stdout(out):
            config_generator.validate_and_render_schema()
    except SystemExit:  # a schema error: Plano prints it and exits 1
        result = {"status": "invalid", "message": out.getvalue().strip(), "version": planoai.__version__}
        with open(os.environ["PLANO_CONFIG_SCHEMA_FILE"]) as schema:
            result["schema"] = yaml.safe_load(schema)
    except Exception as exc:  # the generator's own checks raise
        result = {"status": "invalid", "message": str(exc), "version": planoai.__version__}
    print(json.dumps(result), flush=True)
"""


@dataclasses.dataclass(frozen=True)
class PlanoVerdict:
    """What Plano's generator said about one config."""

    ok: bool
    version: str
    message: str = ""
    path: str = ""  # where in the config, e.g. `listeners[0].port`; empty for the whole file
    allowed: tuple[str, ...] = ()  # the keys Plano's schema allows there, for "unexpected key" errors
    envoy_config: str = ""


_cache: dict[str, PlanoVerdict] = {}
_THIS_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
# Verdicts also persist here, keyed by the config, this module's code and the installed planoai,
# so a second preview, plan or test run of the same config starts no process at all.
# The user's cache folder (XDG), never the installed package's: a package may be read-only.
CACHE_DIR = Path(
    os.environ.get("PLANO_VALIDATOR_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "plano-pulumi" / "plano-validator"
)


def run_plano_generator(
    config_text: str, *, python: str = sys.executable, timeout_s: float = TIMEOUT_S
) -> PlanoVerdict:
    """Run Plano's config generator on ``config_text``; cached by content."""
    key = hashlib.sha256(f"{python}\0{_installed_planoai(python)}\0{_THIS_CODE}\0{config_text}".encode()).hexdigest()
    if key not in _cache:
        _cache[key] = _load(key) or _store(key, _run(config_text, python, timeout_s))
    return _cache[key]


def _installed_planoai(python: str) -> str:
    """The planoai version this interpreter has (read without importing it); '' if unknown."""
    if python != sys.executable:
        return ""
    try:
        return importlib.metadata.version("planoai")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _load(key: str) -> PlanoVerdict | None:
    path = CACHE_DIR / f"{key}.json"
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        return PlanoVerdict(**{**fields, "allowed": tuple(fields["allowed"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _store(key: str, verdict: PlanoVerdict) -> PlanoVerdict:
    if verdict.version:  # only verdicts of an installed planoai are worth keeping
        try:
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            partial = CACHE_DIR / f"{key}.{os.getpid()}.tmp"
            partial.write_text(json.dumps(dataclasses.asdict(verdict)), encoding="utf-8")
            partial.replace(CACHE_DIR / f"{key}.json")
        except OSError:
            pass  # a read-only checkout only loses the cache
    return verdict


class _Worker:
    """The driver running in its own process, clean environment, sockets off; answers a line per request."""

    def __init__(self, python: str) -> None:
        self.home = tempfile.TemporaryDirectory(prefix="plano-validator-")
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process; closed in close())
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home.name,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.process = subprocess.Popen(
            [python, "-I", "-c", _DRIVER],
            cwd=self.home.name,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )

    def ask(self, work: Path, timeout_s: float) -> bytes | None:
        """The answer line for one request; None when the process ended without one."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps({"work": str(work)}).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return None
        deadline = time.monotonic() + timeout_s
        answer = b""
        while not answer.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 1 << 16)
                if not chunk:
                    return None
                answer += chunk
        return answer

    def last_error_line(self) -> str:
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return (lines or ["no output"])[-1]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.stderr.close()
        self.home.cleanup()


_workers: dict[str, _Worker] = {}


@atexit.register
def _close_workers() -> None:
    for worker in _workers.values():
        worker.close()
    _workers.clear()


def _run(config_text: str, python: str, timeout_s: float) -> PlanoVerdict:
    with tempfile.TemporaryDirectory(prefix="plano-validate-") as tmp:
        work = Path(tmp)
        (work / "plano_config.yaml").write_text(config_text, encoding="utf-8")
        worker = _workers.get(python) or _workers.setdefault(python, _Worker(python))
        try:
            answer = worker.ask(work, timeout_s)
        except TimeoutError:
            _workers.pop(python).close()
            raise ConfigError(
                "Plano's config generator",
                f"did not finish within {timeout_s:.0f} s",
                fix="retry; if it persists, run `make setup` to reinstall planoai",
            ) from None
        try:
            result = json.loads(answer or b"")
        except json.JSONDecodeError:
            last = worker.last_error_line()
            _workers.pop(python).close()
            raise ConfigError(
                "Plano's config generator",
                f"failed to run ({last[:200]})",
                fix="run `make setup` to reinstall the pinned planoai",
            ) from None
        if result["status"] == "missing":
            raise ConfigError(
                "Plano's config generator",
                f"is not installed in this Python ({python})",
                fix=f"run `make setup` (requirements.txt pins planoai=={PLANO_VERSION})",
            )
        if result["status"] == "ok":
            envoy = (work / "envoy.yaml").read_text(encoding="utf-8")
            return PlanoVerdict(ok=True, version=result["version"], envoy_config=envoy)
        message, path = _split_message(result["message"])
        allowed: tuple[str, ...] = ()
        if "was unexpected" in message and isinstance(result.get("schema"), dict):
            allowed = _allowed_keys(result["schema"], path)
        return PlanoVerdict(ok=False, version=result["version"], message=message, path=path, allowed=allowed)


def _split_message(text: str) -> tuple[str, str]:
    """Plano's schema errors read `<message>\\n  Location: a → 0 → b\\n  Value: ...`.

    The value is dropped (it may be a whole block of the user's config); the path is rewritten
    as `a[0].b`."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    message = lines[0] if lines else "refused the config"
    path = ""
    for line in lines[1:]:
        if line.startswith("Location:"):
            where = line.removeprefix("Location:").strip()
            if where != "root":
                for part in where.split(" → "):
                    path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    if len(message) > 240:
        message = message[:237] + "..."
    return message, path


def _allowed_keys(schema: dict[str, Any], path: str) -> tuple[str, ...]:
    """The property names Plano's schema allows at ``path`` (best effort, for suggestions)."""
    nodes: list[Any] = [schema]
    for part in path.replace("[", ".[").split(".") if path else []:
        if part:
            nodes = [_child(node, part) for node in _alternatives(nodes)]
    names = {name for node in _alternatives(nodes) for name in node.get("properties", {})}
    return tuple(sorted(names))


def _alternatives(nodes: list[Any]) -> list[dict[str, Any]]:
    """The schema nodes themselves and their oneOf/anyOf/allOf branches."""
    found: list[dict[str, Any]] = []
    for node in nodes:
        if isinstance(node, dict):
            found.append(node)
            for branch in ("oneOf", "anyOf", "allOf"):
                found += _alternatives(node.get(branch, []))
    return found


def _child(node: dict[str, Any], part: str) -> Any:
    if part.startswith("["):
        return node.get("items")
    properties = node.get("properties")
    return properties.get(part) if isinstance(properties, dict) else None


def config_as_run(document: Mapping[str, Any], connection_string: str) -> str:
    """The user's config as the task runs it: ``state_storage`` is the stack's (the YAML body of
    ``plano_config.render_plano_config``'s text, which a test keeps equal)."""
    rendered = {key: value for key, value in document.items() if key != "state_storage"}
    rendered["state_storage"] = {"type": "postgres", "connection_string": connection_string}
    return yaml.safe_dump(rendered, sort_keys=False, allow_unicode=True, width=100)


def check_with_plano(config_text: str, *, source: str) -> PlanoVerdict:
    """Raise a ``ConfigError`` naming ``source`` when Plano's generator refuses ``config_text``."""
    verdict = run_plano_generator(config_text)
    if verdict.version != PLANO_VERSION:
        raise ConfigError(
            "Plano's config generator",
            f"is planoai {verdict.version}, not the pinned {PLANO_VERSION}",
            fix="run `make setup` to install requirements.txt",
        )
    if verdict.ok:
        return verdict
    where = f"{source}: {verdict.path}" if verdict.path else source
    fix = "correct that part of the file; Plano's config reference lists every key"
    allowed = None
    if verdict.allowed:
        allowed = ", ".join(verdict.allowed)
        unexpected = verdict.message.split("'")[1] if verdict.message.count("'") >= 2 else ""
        guess = difflib.get_close_matches(unexpected, verdict.allowed, n=1, cutoff=0.6)
        fix = f"rename `{unexpected}` to `{guess[0]}`" if guess else f"remove `{unexpected}`"
        where = f"{where}.{unexpected}" if verdict.path else f"{source}: {unexpected}"
    raise ConfigError(
        where,
        f"is refused by Plano {verdict.version}'s own config generator (the container would not start): "
        f"{verdict.message}",
        allowed=allowed,
        fix=fix,
    )
