"""What the server command imports itself before any code the manifest lists: gunicorn's worker class
(``-k uvicorn_worker.UvicornWorker``, ``-k gevent``) and the function a console script's launcher
imports (``from mysvc.cli import main``). A start that would crash on them at once fails the gate
instead: they are checked with the manifest's imports, each failure saying which part of the command
named it (``details.named_by``)."""

from __future__ import annotations

import dataclasses
import re
from typing import NamedTuple

from preflight.spec import ImportTarget, Manifest

# gunicorn's own worker names whose module needs a distribution of its own (gunicorn/workers/__init__.py)
_GUNICORN_WORKERS = {
    "eventlet": ("gunicorn.workers.geventlet", "EventletWorker"),
    "gevent": ("gunicorn.workers.ggevent", "GeventWorker"),
    "gevent_wsgi": ("gunicorn.workers.ggevent", "GeventPyWSGIWorker"),
    "gevent_pywsgi": ("gunicorn.workers.ggevent", "GeventPyWSGIWorker"),
    "tornado": ("gunicorn.workers.gtornado", "TornadoWorker"),
}
# pip's launcher: ``from mysvc.cli import main`` ... ``sys.exit(main())`` (``App.run()`` for ``mysvc.cli:App.run``)
_LAUNCHER = re.compile(r"^from ([A-Za-z_][\w.]*) import (\w+)\s*$.*^\s+sys\.exit\((\2(?:\.\w+)*)\(\)\)", re.M | re.S)


class Named(NamedTuple):
    """A module (and attribute) the server command names, and how it names it."""

    module: str
    symbol: str
    named_by: str


def gunicorn_worker(worker_class: str) -> Named | None:
    """gunicorn's worker class as ``-k``/``--worker-class``/``worker_class`` gives it; None for the
    workers that need nothing beyond gunicorn (``sync``, ``gthread``) and ``egg:`` entry points."""
    named_by = f"gunicorn's worker class (-k {worker_class})"
    if worker_class in _GUNICORN_WORKERS:
        return Named(*_GUNICORN_WORKERS[worker_class], named_by)
    module, _, symbol = worker_class.rpartition(".")
    if not module or worker_class.startswith("egg:"):
        return None
    return Named(module, symbol, named_by)


def console_script(path: str) -> Named | None:
    """The entry point pip's launcher at ``path`` imports and calls; None for any other script."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(4096)
    except OSError:
        return None
    found = _LAUNCHER.search(text)
    if found is None:
        return None
    return Named(found[1], found[3], f"the console script {path} (from {found[1]} import {found[2]})")


def merge(manifest: Manifest, named: tuple[Named, ...]) -> Manifest:
    """``manifest`` with the modules and attributes ``named`` among its imports."""
    imports = list(manifest.imports)
    for entry in named:
        index = next((i for i, t in enumerate(imports) if t.module == entry.module), None)
        if index is None:
            imports.append(ImportTarget(entry.module, (entry.symbol,), manifest.timeout, named_by=entry.named_by))
        elif entry.symbol not in imports[index].symbols:
            imports[index] = dataclasses.replace(imports[index], symbols=(*imports[index].symbols, entry.symbol))
    return dataclasses.replace(manifest, imports=tuple(imports))


def annotate(checks: list, named: tuple[Named, ...]) -> None:
    """Say on each failing check of a module ``named`` which part of the server command names it."""
    by_target = {t: entry for entry in named for t in (entry.module, f"{entry.module}:{entry.symbol}")}
    for check in checks:
        entry = by_target.get(check.target)
        if entry is None or not check.failing or check.kind not in ("import", "symbol"):
            continue
        check.details["named_by"] = entry.named_by
        check.hint = f"{check.hint or check.message}. The server command imports it: {entry.named_by}"
