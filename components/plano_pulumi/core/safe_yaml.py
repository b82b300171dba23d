"""The one way this project reads a user's YAML: bounded in size, depth, aliases and numbers.

Plano configs and stack files reach the offline plan from fork pull requests, so a file must not be
able to make the reader hang or eat the machine. Every limit below is checked while the file is
parsed (never after building what it describes), and a file over one gives a single
``ConfigError`` naming the file and the limit, in well under a second:

- size: ``MAX_BYTES``; not a regular file (a directory, a device, a pipe); NUL bytes; not UTF-8;
- anchors and aliases: a "billion laughs" file expands a few aliases into billions of nodes.
  ``max_expanded_nodes`` bounds the document's size with every alias expanded (computed on the
  composed node graph, where an alias is one shared node, so the check itself is linear);
  stack files (written by ``pulumi config set``) may not use anchors at all;
- duplicate keys (YAML says keys are unique; PyYAML silently keeps the last one);
- nesting deeper than ``MAX_DEPTH`` (checked before the recursive composer can recurse);
- integers longer than ``MAX_INT_DIGITS`` digits (Python refuses to convert thousands of digits
  with a ValueError that is not a YAML error).

``stack_config_scalars`` gives top-level config values as the Pulumi CLI passes them: the Go YAML
library Pulumi uses decodes a scalar into a Go string as the text written, so ``yes``, ``on``,
``016`` and ``1e3`` reach the program as those strings (not True, 14 or 1000.0).
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from plano_pulumi.core.errors import ConfigError, shown_path

MAX_BYTES = 512 * 1024
MAX_DEPTH = 64
MAX_INT_DIGITS = 64
# A generous Plano config (dozens of providers, routes and agents) is a few thousand values.
MAX_EXPANDED_NODES = 20_000


class _Refused(yaml.YAMLError):
    """A limit of this reader, raised while parsing (reported like any YAML error)."""

    def __init__(self, problem: str, node_or_mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        self.problem_mark = mark


_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


class _Loader(_BASE):  # type: ignore[valid-type,misc]
    """libyaml's parser (fast) with PyYAML's safe constructor, refusing duplicate keys and huge integers."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode):
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue
                if duplicate:
                    raise _Refused(f"has the key `{str(key)[:60]}` twice (YAML keys must be unique)", key_node)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = sum(ch.isalnum() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _Refused(f"holds an integer of {digits} digits (at most {MAX_INT_DIGITS})", node)
        return super().construct_yaml_int(node)  # type: ignore[no-any-return]


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _prescan(text: str, *, allow_anchors: bool, max_nodes: int) -> None:
    """Walk the parser's events (no recursion, nothing built): depth and anchors within bounds.

    The composer is recursive (deep nesting would crash it), so depth is checked here first.
    """
    loader = _Loader(text)
    depth = nodes = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                nodes += 1
                if nodes > max_nodes:
                    raise _Refused(f"holds more than {max_nodes} values", event.start_mark)
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _Refused(f"nests deeper than {MAX_DEPTH} levels", event.start_mark)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
            if not allow_anchors and (isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None):
                raise _Refused(
                    "uses a YAML anchor or alias (&name, *name); this file may not use them", event.start_mark
                )
    finally:
        loader.dispose()


def _expanded_nodes(root: Node, limit: int) -> int:
    """Nodes in the document with every alias expanded (stops counting past ``limit``)."""
    sizes: dict[int, int] = {}
    # Iterative post-order walk over the node graph; shared (aliased) nodes are sized once.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        if done or not children:
            total = 1 + sum(sizes.get(id(c), 0) for c in children)
            sizes[id(node)] = min(total, limit + 1)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def read_text(path: Path, *, what: str, max_bytes: int = MAX_BYTES) -> str:
    """The text of a user's file, refused if it is not a small regular UTF-8 text file."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(shown_path(path), f"cannot be read ({exc.strerror})", fix=f"point at your {what}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        raise ConfigError(shown_path(path), f"is {kind}", fix=f"point at your {what} (a YAML file)")
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigError(
            shown_path(path), f"is larger than {max_bytes // 1024} KiB", fix=f"a {what} is a few KiB; check the file"
        )
    if b"\0" in data:
        raise ConfigError(shown_path(path), "holds NUL bytes, so it is not a text file", fix=f"point at your {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(shown_path(path), "is not UTF-8 text", fix="save the file as UTF-8") from None


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, _Refused):
        return ConfigError(
            shown_path(path),
            f"{problem}{where}",
            fix=f"keep the file plain: each key once, at most {MAX_DEPTH} levels deep, no alias bombs",
        )
    return ConfigError(
        shown_path(path),
        f"is not valid YAML{where}: {problem}",
        fix="correct the YAML syntax (indentation, quotes, colons) at that line",
    )


def compose(
    text: str, path: Path, *, allow_anchors: bool = True, max_expanded_nodes: int = MAX_EXPANDED_NODES
) -> tuple[Node | None, Any]:
    """Parse ``text`` within the limits: the node graph and the loader that can construct it."""
    try:
        _prescan(text, allow_anchors=allow_anchors, max_nodes=max_expanded_nodes)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_nodes(node, max_expanded_nodes) > max_expanded_nodes:
            raise _Refused(f"expands to more than {max_expanded_nodes} values through its aliases (a YAML bomb)", node)
        return node, loader
    except yaml.YAMLError as exc:
        loader.dispose()
        raise _yaml_error(path, exc) from None


def load(path: Path, *, what: str, allow_anchors: bool = True, max_expanded_nodes: int = MAX_EXPANDED_NODES) -> Any:
    """Read and parse a user's YAML file within the limits; a ``ConfigError`` otherwise."""
    return load_text(
        read_text(path, what=what), path, allow_anchors=allow_anchors, max_expanded_nodes=max_expanded_nodes
    )


def load_text(
    text: str, path: Path, *, allow_anchors: bool = True, max_expanded_nodes: int = MAX_EXPANDED_NODES
) -> Any:
    """Parse YAML text within the limits; errors name ``path`` (a file, or the argument it came from)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ConfigError(str(path), f"is larger than {MAX_BYTES // 1024} KiB", fix="a Plano config is a few KiB")
    if "\0" in text:
        raise ConfigError(str(path), "holds NUL characters, so it is not text", fix="pass the YAML text")
    node, loader = compose(text, path, allow_anchors=allow_anchors, max_expanded_nodes=max_expanded_nodes)
    try:
        return None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    finally:
        loader.dispose()


def load_stack_file(path: Path) -> tuple[Any, dict[str, str]]:
    """A stack file's document, and each top-level ``config:`` scalar as the Pulumi CLI reads it.

    Pulumi decodes a config value first into a Go string; for a scalar that succeeds with the
    text as written (a null gives ""). Only maps and lists are resolved as YAML values.
    """
    text = read_text(path, what="stack file")
    node, loader = compose(text, path, allow_anchors=False)
    try:
        document = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    finally:
        loader.dispose()
    scalars: dict[str, str] = {}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if not (isinstance(key_node, ScalarNode) and key_node.value == "config"):
                continue
            if not isinstance(value_node, MappingNode):
                continue
            for config_key, config_value in value_node.value:
                if isinstance(config_key, ScalarNode) and isinstance(config_value, ScalarNode):
                    null = config_value.tag == "tag:yaml.org,2002:null" and not config_value.style
                    scalars[config_key.value] = "" if null else str(config_value.value)
    return document, scalars
