"""A relative import (``from .core import X``) in a module imported without its package: the server
(or the manifest) names it ``main`` from inside the package directory, where its package makes it
``app.main``. Python says only "attempted relative import with no known parent package" or "beyond
top-level package"; the facts are the statement's dots (read with ``ast``), the name the module was
imported as (its ``__name__``) and the ``__init__.py`` files around it."""

from __future__ import annotations

import os
from typing import Any

from preflight import report as r
from preflight import source


def diagnose(check: r.Check, facts: dict[str, Any], frame: dict[str, Any] | None, ctx: Any) -> bool:
    """Fill in ``check`` when ``frame`` (the innermost app frame) is a relative import that climbs above
    the package its module was imported in; False otherwise."""
    bases = facts.get("bases") or ()
    if "ImportError" not in bases or "ModuleNotFoundError" in bases or facts.get("name") or not frame:
        return False
    name = frame.get("module")
    level, target = source.relative_import(frame["file"], frame["line"])
    if not level or not isinstance(name, str):
        return False
    is_package = os.path.basename(frame["file"]) == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    depth = len(package.split(".")) if package else 0
    if level <= depth:
        return False
    full, root = _package_name(frame["file"])
    check.cause = "relative_import"
    check.details.update(imported_as=name, level=level, package_name=full, package_root=root)
    asked = (f"the relative import at {frame['file']}:{frame['line']} (`from {'.' * level}{target} import ...`) "
             f"climbs {level} package level{'s' if level > 1 else ''}")
    placed = f"{name} was imported as a top-level module" if not package else f"{name} was imported in package {package!r}"
    if len(full.split(".")) - (0 if is_package else 1) >= level and full != name:
        fix = (f"{root} is on sys.path already" if ctx.on_sys_path(root)
               else f"with {root} on sys.path: {ctx.how_to_reach(root)}")
        check.hint = (f"{asked}, but {placed}: the server (or the manifest) names it from inside its package "
                      f"directory. Its __init__.py files make it {full!r}: import it by that name (uvicorn "
                      f"{full}:app, `{full}` in the manifest); {fix}")
    else:
        check.hint = (f"{asked}, above its top-level package {full.split('.')[0]!r}: use fewer dots, or an "
                      f"absolute import (`from {full.split('.')[0]}.... import ...`)")
    return True


def _package_name(path: str) -> tuple[str, str]:
    """The dotted name ``path`` has as part of the packages (directories with ``__init__.py``) around it,
    and the directory that holds the top one."""
    directory = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parts.insert(0, os.path.basename(directory))
        directory = os.path.dirname(directory)
    return ".".join(parts), directory
