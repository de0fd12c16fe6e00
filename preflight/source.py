"""Facts read from the application's source with ``ast``, never by executing it."""

from __future__ import annotations

import ast
import os

from preflight.pip_names import canonical


def definition_line(path: str, name: str) -> int | None:
    """The line where ``path`` binds ``name`` at top level."""
    for node, bound in _top_level_bindings(path):
        if bound == name:
            return node.lineno
    return None


def defines(path: str, name: str | None) -> bool:
    return any(bound == name for _, bound in _top_level_bindings(path))


def imported_names(path: str, line: int) -> list[str]:
    """The dotted names the absolute import statement at ``path:line`` asks for, in order:
    ``from google.cloud import storage`` gives ``google.cloud.storage`` (a submodule, or not)."""
    tree = parse(path)
    names: list[str] = []
    for node in ast.walk(tree) if tree else ():
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or not node.lineno <= line <= (node.end_lineno or 0):
            continue
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif node.module and not node.level:
            names += [f"{node.module}.{a.name}" for a in node.names if a.name != "*"] or [node.module]
    return names


def relative_import(path: str, line: int) -> tuple[int, str]:
    """The dots and the module of the relative ``from .x import`` statement at ``path:line``; (0, "") for none."""
    tree = parse(path)
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.ImportFrom) and node.level and node.lineno <= line <= (node.end_lineno or 0):
            return node.level, node.module or ""
    return 0, ""


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def import_guarded(path: str, line: int) -> bool:
    """Whether the statement at ``path:line`` runs in the body of a ``try`` that catches a failed
    import (``except ImportError``, ``ModuleNotFoundError``, ``Exception``, a bare ``except``)."""
    tree = parse(path)
    for node in ast.walk(tree) if tree else ():
        if not isinstance(node, ast.Try) or not node.body:
            continue
        if not node.body[0].lineno <= line <= (node.body[-1].end_lineno or 0):
            continue
        for handler in node.handlers:
            caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            if handler.type is None or any(isinstance(c, (ast.Name, ast.Attribute)) and
                                           (c.id if isinstance(c, ast.Name) else c.attr) in _IMPORT_ERRORS
                                           for c in caught):
                return True
    return False


def star_import_files(path: str, depth: int = 3) -> list[str]:
    """The files ``path`` takes every name from, found on disk beside it: ``from .base import *``
    (and what those take in turn, ``depth`` levels down), ``from mysite.settings.base import *`` found
    in a directory above ``path``; in the order written."""
    tree = parse(path)
    found: list[str] = []
    for node in tree.body if tree and depth > 0 else ():
        if not isinstance(node, ast.ImportFrom) or not node.module or all(a.name != "*" for a in node.names):
            continue
        if node.level:
            roots = [os.path.dirname(path)]
            for _ in range(node.level - 1):
                roots = [os.path.dirname(roots[0])]
        else:  # absolute: the directory above that holds the package
            roots, directory = [], os.path.dirname(path)
            while directory != os.path.dirname(directory) and len(roots) < 8:
                roots.append(directory)
                directory = os.path.dirname(directory)
        for root in roots:
            base = os.path.join(root, *node.module.split("."))
            file = next((f for f in (base + ".py", os.path.join(base, "__init__.py")) if os.path.isfile(f)), None)
            if file:
                found += [file, *star_import_files(file, depth - 1)]
                break
    return found


def string_line(path: str, wanted: str, prefix: bool = False) -> int | None:
    """The first line of ``path`` holding the string literal ``wanted`` (with ``prefix``: or one starting
    with ``wanted.``, as ``"payments.apps.PaymentsConfig"`` does for ``payments``)."""
    tree = parse(path)
    lines = [node.lineno for node in (ast.walk(tree) if tree else ())
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and (node.value == wanted or prefix and node.value.startswith(wanted + "."))]
    return min(lines, default=None)


def project_file(name: str, directories: list[str]) -> str | None:
    """The ``pyproject.toml`` in one of ``directories`` whose ``[project] name`` is ``name`` (PEP 503
    normalized), if any: the service's own project."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: no reader for it in the standard library
        return None
    wanted = canonical(name)
    for directory in dict.fromkeys(directories):
        path = os.path.join(directory, "pyproject.toml")
        try:
            with open(path, "rb") as handle:
                project = tomllib.load(handle).get("project") or {}
        except (OSError, ValueError):
            continue
        if isinstance(project.get("name"), str) and canonical(project["name"]) == wanted:
            return path
    return None


def parse(path: str) -> ast.Module | None:
    """The module at ``path`` as a syntax tree; None when it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as handle:
            return ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None


def _top_level_bindings(path: str) -> list[tuple[ast.stmt, str]]:
    tree = parse(path)
    found: list[tuple[ast.stmt, str]] = []
    for node in tree.body if tree else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node, node.name))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [(node, t.id) for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [(node, (a.asname or a.name).split(".")[0]) for a in node.names]
    return found


def keyword_string(path: str, keyword: str) -> str | None:
    """The string the first call in ``path`` passing ``keyword=`` gives it ("" for ``False``); None when none does."""
    tree = parse(path)
    for node in ast.walk(tree) if tree else ():
        for given in node.keywords if isinstance(node, ast.Call) else ():
            if given.arg == keyword and isinstance(given.value, ast.Constant):
                value = given.value.value
                if isinstance(value, str) or value is False:
                    return value or ""
    return None


def call_arguments(path: str, line: int) -> list[str]:
    """The string literals the calls starting on ``path:line`` take as their first argument:
    ``config("DEBUG", cast=bool)`` gives ``DEBUG``."""
    tree = parse(path)
    return [node.args[0].value for node in (ast.walk(tree) if tree else ())
            if isinstance(node, ast.Call) and node.lineno == line and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]
