"""The package's shape: no import cycle, no Pulumi in the pure core, offline tools outside it."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import PROJECT

SOURCE = PROJECT / "components"


def _modules() -> dict[str, Path]:
    found = {}
    for path in SOURCE.rglob("*.py"):
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported when the module is imported (function-level imports run later)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _top_level_imports(path):
            parts = target.split(".")
            # Importing a.b.c first imports a and a.b (their __init__ modules).
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                    graph[name].add(prefix)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_the_packages_have_no_import_cycle() -> None:
    assert find_cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_pure_core_registers_no_resource() -> None:
    """core/ holds plain functions: only errors.py may import Pulumi (for RunError, which prints
    a message without a traceback)."""
    importers = sorted(
        name
        for name, path in _modules().items()
        if name.startswith("plano_pulumi.core")
        and any(t == "pulumi" or t.startswith("pulumi.") or t.startswith("pulumi_") for t in _top_level_imports(path))
    )
    assert importers == ["plano_pulumi.core.errors"]


def test_the_component_package_does_not_import_the_tools_or_the_policy_pack() -> None:
    """The package is installed on its own: plano_tools and policy/ are not there."""
    offenders = {
        name: sorted(t for t in _top_level_imports(path) if t.startswith(("plano_tools", "policy")))
        for name, path in _modules().items()
        if name.startswith("plano_pulumi")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_pack_and_the_package_ship_the_same_secret_detector() -> None:
    """policy/secret_names.py and core/secret_names.py: each is published on its own, so both
    exist; their code (after the docstring) must be the same."""

    def code(path: Path) -> str:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return ast.unparse([n for n in tree.body if not (isinstance(n, ast.Expr) and n is tree.body[0])])

    assert code(PROJECT / "policy" / "secret_names.py") == code(SOURCE / "plano_pulumi" / "core" / "secret_names.py")


MAX_FUNCTION_LINES = 60


def test_no_function_in_the_packages_is_longer_than_a_reader_holds_in_mind() -> None:
    """Issue 16: no function over about 60 lines in components (a component's __init__ reads as named steps)."""
    long = sorted(
        (node.end_lineno - node.lineno + 1, f"{path.relative_to(SOURCE)}:{node.name}")
        for path in SOURCE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    )
    assert long == []
