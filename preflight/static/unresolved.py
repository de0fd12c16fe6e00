"""Checks for imports that will fail later: their target is on no sys.path entry of the checked interpreter.

A target no file provides is put to the checked interpreter (``importable``) when finding it runs
library code only: ``os.path`` and ``six.moves`` are found there. Imports guarded by ``try/except
ImportError`` (or a version/platform test) and those under ``if TYPE_CHECKING:`` are optional by
design and not reported. In the gate, module-level imports of modules the import checks load are
left to those checks; ``preflight scan`` reports every one.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from preflight import report as r
from preflight.pip_names import pip_name
from preflight.static.reach import App, Module
from preflight.static.resolve import Resolver


def unresolved_checks(app: App, resolver: Resolver, status: str, everything: bool,
                      confirm: Callable[[set[str]], set[str]] | None = None) -> list[r.Check]:
    """``confirm``: of the targets no file provides, those the checked interpreter imports anyway."""
    checks = []
    unresolved = []
    for module in app.modules.values():
        error = module.facts.get("syntax_error")
        if error and (everything or module.name not in app.eager):
            checks.append(_syntax(module, error, status))
        for record in module.imports:
            if record["type_checking"] or record["guarded"]:
                continue
            lazy = record["scope"] == "function" or record["kind"] == "dynamic"
            if not (everything or lazy or module.name not in app.eager):
                continue
            target = record.get("target")
            if not (target and resolver.resolvable(target)):
                unresolved.append((module, record))
    targets = {record["target"] for _, record in unresolved if record.get("target")}
    importable = confirm(targets) if confirm and targets else set()
    checks += [_check(module, record, resolver, status) for module, record in unresolved
               if record.get("target") not in importable]
    return checks


def _check(module: Module, record: dict[str, Any], resolver: Resolver, status: str) -> r.Check:
    target = record.get("target")
    written = "." * record["level"] + record["module"]
    statement = {
        "dynamic": f"import_module({written!r})",
        "import": f"import {written}",
        "from": f"from {written} import {', '.join(record['names'])}",
    }[record["kind"]]
    when = (f"inside {record['function']}()" if record["scope"] == "function"
            else "at module level, when this module is first imported")
    check = r.Check(kind="static", target=target or written, status=status, cause="unresolved_import",
                    error_type="ModuleNotFoundError", file=module.path, line=record["line"])
    check.details = {"module": target, "statement": statement, "importer": module.name,
                     "lazy": record["scope"] == "function" or record["kind"] == "dynamic",
                     "function": record.get("function")}
    if target is None:
        check.message = f"`{statement}` {when} goes above the top-level package of {module.name}"
        check.hint = "use an absolute import, or fewer leading dots"
        return check
    check.message = f"`{statement}` {when} will fail: no module named {target!r} on the checked sys.path"
    check.hint = _hint(target, resolver)
    return check


def _hint(target: str, resolver: Resolver) -> str:
    found = resolver.nearest(target)
    if found is None:
        return (f"no installed distribution or application file provides {target.split('.')[0]!r}: "
                f"pip install {pip_name(target)}, or fix the import")
    missing = target[len(found.name) + 1 :].split(".")[0]
    place = os.path.dirname(found.path) if not found.namespace else found.path
    if resolver.is_library(found.path):
        return (f"{found.name} is installed ({place}) but has no {missing!r}: check the version "
                f"that provides {target}, or the spelling")
    return f"{found.name} ({place}) has no module {missing!r}: add {missing}.py there or fix the import"


def _syntax(module: Module, error: dict[str, Any], status: str) -> r.Check:
    check = r.Check(kind="static", target=module.name, status=status, cause="syntax_error",
                    error_type="SyntaxError", file=module.path, line=error["line"])
    check.message = f"{module.name} does not parse: {error['message']}; importing it will fail"
    check.hint = f"fix the syntax at {module.path}:{error['line']}"
    return check
