"""The manifest's YAML: parsed safely, strictly, and with the line of every key.

Refused before anything is built from it (exit 2): anchors and aliases (a manifest is a short list;
aliases of aliases expand to billions of nodes, an alias of itself never ends), nesting deeper than
``MAX_DEPTH`` (libyaml's composer recurses in C), and a key given twice in one mapping (YAML keeps
the last silently, so an earlier ``imports:`` would never be checked).
"""

from __future__ import annotations

from typing import Any

import yaml

from preflight.errors import ManifestError

MAX_DEPTH = 32  # a manifest needs 4: imports -> entry -> symbols -> name
_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
         yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def parse(text: str, path: str) -> tuple[Any, dict[tuple, int]]:
    """The document, and each key path (a tuple) mapped to its 1-based line; ``ManifestError`` if refused."""
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _screen(loader_cls(text), path)
        loader = loader_cls(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if mark and _tab_indented(text, mark.line, mark.column):
            problem = "a tab indents this line; YAML indents with spaces only (replace the tab with spaces)"
        raise ManifestError(path, [f"{where}malformed YAML: {problem}"]) from None
    lines: dict[tuple, int] = {}
    problems: list[str] = []
    if node is not None:
        _record_lines(node, (), lines, problems)
    if problems:
        raise ManifestError(path, problems)
    return data, lines


def _tab_indented(text: str, line: int, column: int) -> bool:
    """Whether a tab is in the indentation of ``line`` up to ``column`` (0-based): libyaml then says only
    "found character that cannot start any token"."""
    lines = text.splitlines()
    if line >= len(lines):
        return False
    indent = lines[line][:column + 1]
    indent = indent[:len(indent) - len(indent.lstrip(" \t"))]
    return "\t" in indent


def _screen(loader: Any, path: str) -> None:
    """Read the tokens (libyaml's scanner does not recurse): refuse aliases, anchors and deep nesting."""
    depth = 0
    try:
        while (token := loader.get_token()) is not None:
            line = token.start_mark.line + 1
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                sign = "&" if isinstance(token, yaml.AnchorToken) else "*"
                raise ManifestError(path, [f"line {line}: YAML anchors and aliases ({sign}{token.value}) are not "
                                           f"allowed in a manifest: write the value out where it is used"])
            depth += isinstance(token, _OPEN) - isinstance(token, _CLOSE)
            if depth > MAX_DEPTH:
                raise ManifestError(path, [f"line {line}: nested more than {MAX_DEPTH} levels deep; a manifest "
                                           f"needs four (imports, an entry, its symbols, a name)"])
    finally:
        loader.dispose()


def _record_lines(node: yaml.Node, key_path: tuple, lines: dict[tuple, int], problems: list[str]) -> None:
    lines[key_path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, Any] | None, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = (key_node.tag, key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            if key in seen:
                where = ".".join(str(p) for p in key_path) or "(top level)"
                problems.append(f"line {line}: {where}: duplicate key {key_node.value!r} (first at line {seen[key]}); "
                                f"YAML would silently keep only the last")
            elif key is not None:
                seen[key] = line
            child = key_path + (key_node.value,)
            _record_lines(value_node, child, lines, problems)
            lines[child] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, key_path + (index,), lines, problems)
