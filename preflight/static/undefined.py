"""Checks for undefined names: latent ``NameError``s, with the import that is most likely missing."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from typing import Any

from preflight import report as r
from preflight.static.contexts import DEFERRED, EVALUATED
from preflight.static.reach import App
from preflight.static.resolve import Resolver

_LOGGERS = {"logger", "log", "LOGGER", "_logger", "_log"}


def undefined_checks(app: App, findings: dict[str, list[dict[str, Any]]], resolver: Resolver,
                     status: str, analyser: str) -> list[r.Check]:
    imports = _how_the_app_imports(app)
    by_path = {m.path: m for m in app.modules.values()}
    checks = []
    for path, items in findings.items():
        module = by_path[path]
        for item in items:
            checks.append(_check(module.name, path, item, imports, resolver, status, analyser))
    return checks


def _check(module: str, path: str, item: dict[str, Any], imports: dict[str, Counter], resolver: Resolver,
           status: str, analyser: str) -> r.Check:
    name, line, context = item["name"], item["line"], item["context"]
    where = f"in {item['function']}" if item.get("function") else "at module level"
    check = r.Check(kind="static", target=f"{module}:{name}", status=status, cause="undefined_name",
                    error_type="NameError", file=path, line=line)
    check.details = {"name": name, "module": module, "function": item.get("function"), "context": context,
                     "rule": item["code"], "analyser": analyser}
    if item.get("why"):
        check.details["why"] = item["why"]
    if item["code"] == "TC004":
        check.details["bound_line"] = item.get("bound_line")
        fails = f", where {item['why']}" if context == EVALUATED else ": NameError when that line runs"
        check.message = (f"`{name}` is imported only under `if TYPE_CHECKING:` (line {item.get('bound_line')}) "
                         f"but is needed at run time {where} (line {line}){fails}")
        check.hint = f"move the import of `{name}` out of the `if TYPE_CHECKING:` block" + (
            " (quoting the annotation does not help: it is still evaluated)" if context == EVALUATED
            else ", or quote the annotation if that is its only use")
        return check
    missing = _suggest(name, imports, resolver)
    if context == DEFERRED:
        check.status = r.WARNED if status != r.PASSED else status
        check.message = (f"`{name}` is not defined; it appears only in {item.get('why', 'an annotation')} "
                         f"{where}: no NameError at run time, but typing.get_type_hints() would fail")
        check.hint = f"{missing} (under `if TYPE_CHECKING:` is enough for annotations)"
        return check
    if context == EVALUATED:
        check.message = f"`{name}` is not defined: it is used {where} in an annotation ({item.get('why')})"
    else:
        check.message = f"`{name}` is not defined: NameError when the code {where} runs"
    check.hint = missing
    return check


def _suggest(name: str, imports: dict[str, Counter], resolver: Resolver) -> str:
    """The import the name most likely lacks: as other modules of the app import it, else a module."""
    if name in imports:
        statement, _ = imports[name].most_common(1)[0]
        return f"missing `{statement}`? (that is how the rest of the application imports it)"
    if resolver.resolvable(name):
        return f"missing `import {name}`?"
    if name in _LOGGERS:
        return f"define it: `import logging` and `{name} = logging.getLogger(__name__)`"
    return f"define or import `{name}` in that module, or fix its spelling"


def _how_the_app_imports(app: App) -> dict[str, Counter]:
    table: dict[str, Counter] = defaultdict(Counter)
    for module in app.modules.values():
        for record in module.imports:
            target = record.get("target")
            if not target or record["kind"] == "dynamic":
                continue
            if record["kind"] == "import":
                statement = f"import {record['module']}"
                if record["bound"][0] != record["module"].split(".")[0]:
                    statement += f" as {record['bound'][0]}"
                table[record["bound"][0]][statement] += 1
                continue
            for original, bound in zip(record["names"], record["bound"]):
                if original != "*":
                    alias = f" as {bound}" if bound != original else ""
                    table[bound][f"from {target} import {original}{alias}"] += 1
    return table


def relative(path: str, roots: list[str]) -> str:
    for root in sorted(roots, key=len, reverse=True):
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.relpath(path, root)
    return path
