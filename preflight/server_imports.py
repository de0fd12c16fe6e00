"""What the server command imports itself: gunicorn's worker class (``-k uvicorn_worker.UvicornWorker``,
``-k gevent``), the function a console script's launcher imports (``from mysvc.cli import main``), the
module ``python -m mysvc`` runs (as runpy finds it, with its own imports: never its code) and the
application object an ASGI/WSGI server loads (``uvicorn app.main:app``). A start that would crash
on them at once fails the gate instead: they are checked with the manifest's imports, each failure
saying which part of the command named it (``details.named_by``)."""

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


# ``module:attribute`` as these servers take their application (gunicorn's ``create_app()`` too); a
# host:port (``localhost:8000``, ``unix:/run/app.sock``) never matches: its part after ':' is no name
_APP_TARGET = re.compile(r"([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)(\(.*\))?")
APP_SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "daphne", "granian"})


class Named(NamedTuple):
    """A module (and attribute) the server command names, how it names it, and whether it is the
    application's own code (else a library's: not one of the application's modules)."""

    module: str
    symbol: str
    named_by: str
    application: bool = False
    as_main: bool = False  # run by ``python -m``: checked as runpy finds it (``ImportTarget.as_main``)
    call: str = ""  # the app factory's call as the command writes it (``("prod")`` of ``app:create_app("prod")``)


def app_target(server: str, args: list[str]) -> Named | None:
    """The application object ``server`` (one of ``APP_SERVERS``) loads: its first argument written
    ``module:attribute`` (``uvicorn app.main:app``, ``gunicorn 'app:create_app()'``); None without one
    (gunicorn's ``wsgi_app`` in a config file, a module without ``:attribute``)."""
    for word in args:
        if word == "--":
            continue
        found = _APP_TARGET.fullmatch(word)
        if found and not word.startswith("-"):
            return Named(found[1], found[2], f"{server}'s application ({word})", application=True,
                         call=found[3] or "")
    return None


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
    return Named(found[1], found[3], f"the console script {path} (from {found[1]} import {found[2]})",
                 application=True)


def main_module(name: str) -> Named:
    """The module ``python -m name`` runs."""
    return Named(name, "", f"python -m {name}", as_main=True)


def main_label(module: str) -> str:
    """The target of the check of the module ``python -m`` runs."""
    return f"{module} (python -m)"


def merge(manifest: Manifest, named: tuple[Named, ...]) -> Manifest:
    """``manifest`` with the modules and attributes ``named`` among its imports. The module ``python -m``
    runs is a check of its own; the application's when the manifest lists a module of its package,
    else a library's (``python -m waitress``)."""
    imports = list(manifest.imports)
    app_tops = {m.partition(".")[0] for m in manifest.app_modules()}
    for entry in named:
        if entry.as_main:
            library = None if entry.module.partition(".")[0] in app_tops else entry.named_by
            imports.append(ImportTarget(entry.module, (), manifest.timeout, named_by=library, as_main=True))
            continue
        index = next((i for i, t in enumerate(imports) if t.module == entry.module), None)
        if index is None:
            library = None if entry.application else entry.named_by  # a library's: not the application's
            imports.append(ImportTarget(entry.module, (entry.symbol,), manifest.timeout, named_by=library))
        elif entry.symbol not in imports[index].symbols:
            imports[index] = dataclasses.replace(imports[index], symbols=(*imports[index].symbols, entry.symbol))
    return dataclasses.replace(manifest, imports=tuple(imports))


def annotate(checks: list, named: tuple[Named, ...]) -> None:
    """Say on each failing check of a module ``named`` which part of the server command names it."""
    by_target = {t: entry for entry in named for t in ((main_label(entry.module),) if entry.as_main else
                                                        (entry.module, f"{entry.module}:{entry.symbol}"))}
    for check in checks:
        entry = by_target.get(check.target)
        if entry is None or not check.failing or check.kind not in ("import", "symbol"):
            continue
        check.details["named_by"] = entry.named_by
        check.hint = f"{check.hint or check.message}. The server command imports it: {entry.named_by}"
