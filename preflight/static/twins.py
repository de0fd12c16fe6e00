"""Twins: two files that can be one module, of which Python loads one and silently hides the other.

- a package directory next to a module file of the same name (the package wins), or a plain
  directory without ``__init__.py`` next to one (the module wins, the directory's files are lost);
- a top-level application name that another ``sys.path`` entry also provides: the standard
  library, an installed distribution, or another application directory (the first entry wins).
"""

from __future__ import annotations

import ast
import os
import sys

from preflight import report as r
from preflight.static.reach import App
from preflight.static.resolve import Resolver

MAX_DIRS = 5000
_SKIP = {"__pycache__", "node_modules", "site-packages", "dist-packages", ".git", ".venv", "venv"}


def twin_checks(app: App, resolver: Resolver, status: str) -> list[r.Check]:
    roots = list(dict.fromkeys(m.root for m in app.modules.values()))
    checks = []
    for root in roots:
        for directory, package in _package_dirs(root, app):
            checks += _twins_in(directory, package, status)
    checks += _top_level(roots, resolver, status)
    return checks


def _package_dirs(root: str, app: App) -> list[tuple[str, str]]:
    """(directory, dotted package) for the root and every package below it, plus dirs of app modules."""
    wanted: set[str] = set()
    for module in app.modules.values():
        directory = os.path.dirname(module.path)
        while directory not in wanted and len(directory) > len(root):
            wanted.add(directory)
            directory = os.path.dirname(directory)
    found: list[tuple[str, str]] = []
    queue = [(root, "")]
    while queue and len(found) < MAX_DIRS:
        directory, package = queue.pop()
        found.append((directory, package))
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) or entry.name in _SKIP or not entry.name.isidentifier():
                continue
            if entry.path in wanted or os.path.exists(os.path.join(entry.path, "__init__.py")):
                queue.append((entry.path, f"{package}.{entry.name}" if package else entry.name))
    return found


def _twins_in(directory: str, package: str, status: str) -> list[r.Check]:
    try:
        names = set(os.listdir(directory))
    except OSError:
        return []
    checks = []
    for name in sorted(names):
        stem, ext = os.path.splitext(name)
        if ext != ".py" or stem not in names or not os.path.isdir(os.path.join(directory, stem)):
            continue
        module_file = os.path.join(directory, name)
        package_dir = os.path.join(directory, stem)
        init = os.path.join(package_dir, "__init__.py")
        dotted = f"{package}.{stem}" if package else stem
        if os.path.exists(init):
            loaded, hidden = init, module_file
            why = "a package directory wins over a module file of the same name in one directory"
            lost = sorted(_defines(hidden) - _defines(loaded))
            fix = (f"{hidden} is dead code: move what the package lacks into {loaded} (or re-export it there) "
                   f"and delete {hidden}")
        else:
            loaded, hidden = module_file, package_dir
            why = "a module file wins over a directory without __init__.py of the same name"
            lost = []
            fix = f"nothing in {package_dir}/ can be imported as {dotted}.*: add __init__.py there and merge, or rename one"
        check = _twin(dotted, loaded, [hidden], why, status, kind="in-tree")
        if lost:
            check.details["only_in_hidden"] = lost[:50]
            check.message += f"; names only the hidden one defines: {', '.join(lost[:8])}" + (
                f" (+{len(lost) - 8})" if len(lost) > 8 else "")
        check.hint = f"{why}. {fix}"
        checks.append(check)
    return checks


def _top_level(roots: list[str], resolver: Resolver, status: str) -> list[r.Check]:
    stdlib = set(getattr(sys, "stdlib_module_names", ())) - set(sys.builtin_module_names)
    checks = []
    done: set[str] = set()
    for root in roots:
        for name, kind in sorted(resolver.listing(root).items()):
            if kind == "namespace" or name in done:
                continue
            places = [(e, resolver.locate(e, name)) for e in resolver.sys_path]
            places = [(e, hit[0]) for e, hit in places if hit and not hit[1]]
            if len(places) < 2 and not (name in stdlib and len(places) == 1):
                continue
            done.add(name)
            loaded = places[0][1]
            hidden = [p for _, p in places[1:]]
            kinds = [_kind(p, resolver) for p in hidden] or ["the standard library"]
            what = ", ".join(f"{k} ({p})" for k, p in zip(kinds, hidden)) or f"the standard library's {name}"
            why = "Python takes the first match on sys.path"
            check = _twin(name, loaded, hidden, why, status, kind="sys.path")
            check.message = f"{name} resolves to {loaded}, which hides {what}"
            app_wins = not resolver.is_library(loaded)
            check.hint = (f"{why}, and {os.path.dirname(loaded)} comes first: "
                          + (f"rename the application's {name} (and its imports) so it no longer takes the name"
                             if app_wins and kinds[0] != "another application directory" else
                             "keep one of them: delete or rename the other"))
            checks.append(check)
    return checks


def _kind(path: str, resolver: Resolver) -> str:
    real = os.path.realpath(path)
    if "/site-packages/" in real or "/dist-packages/" in real:
        return "an installed distribution"
    if resolver.is_library(path):
        return "the standard library"
    return "another application directory"


def _twin(dotted: str, loaded: str, hidden: list[str], why: str, status: str, kind: str) -> r.Check:
    check = r.Check(kind="static", target=dotted, status=status, cause="shadowed", file=loaded)
    check.message = f"{dotted} resolves to {loaded}, which hides {' and '.join(hidden)}"
    check.details = {"loaded": loaded, "hidden": hidden, "why": why, "twin": kind}
    return check


def _defines(path: str) -> set[str]:
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError):
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    names.add(target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names if a.name != "*")
    return {n for n in names if not n.startswith("_")}
