"""The static pass: read the application's code without running it, as the checked interpreter would see it.

``run`` follows the manifest's imports through the application's own files and returns one
``report.Check`` (kind ``static``) per finding: ``undefined_name``, ``unresolved_import``,
``syntax_error``, ``import_cycle`` and ``shadowed`` (twins). Severity per manifest key:
fail -> failed, warn -> warned, off -> not run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from preflight import report as r
from preflight.spec import Manifest

DEFAULTS = {"undefined_names": "fail", "unresolved_imports": "fail", "import_cycles": "warn", "twins": "warn"}
_STATUS = {"fail": r.FAILED, "warn": r.WARNED}

__all__ = ["DEFAULTS", "StaticResult", "run"]


@dataclass
class StaticResult:
    checks: list[r.Check]
    stats: dict[str, Any] = field(default_factory=dict)


def run(manifest: Manifest, probe: dict[str, Any] | None, workdir: str, everything: bool = False,
        severities: dict[str, str] | None = None, baseline: str | None = None,
        interpreter: str | None = None, environ: Mapping[str, str] | None = None) -> StaticResult:
    """Every static finding for ``manifest``'s application. ``everything``: also module-level imports
    that the import checks would verify anyway (``preflight scan`` runs no import checks).
    ``baseline`` (default: the manifest's ``static.baseline``) silences the findings it knows.
    ``interpreter`` (started in ``workdir`` with ``environ``) is asked about imports no file provides."""
    from preflight import __version__
    from preflight.static import analyse
    from preflight.static.cache import Cache
    from preflight.static.reach import reach
    from preflight.static.resolve import Resolver

    started = time.monotonic()
    levels = {**DEFAULTS, **(severities if severities is not None else manifest.static or {})}
    if all(levels[k] == "off" for k in DEFAULTS):
        return StaticResult([])
    probe = probe or {}
    resolver = Resolver(probe.get("sys_path") or [workdir], workdir, tuple(probe.get("library_dirs") or ()))
    analyser, _ = analyse.choose()
    python = analyse.python_version(probe)
    cache = Cache([workdir, *resolver.sys_path], f"{__version__}|{_code_stamp()}|{analyser}|{python[0]}.{python[1]}")
    app = reach([t.module for t in manifest.imports], resolver, cache)
    checks: list[r.Check] = []
    if levels["undefined_names"] != "off":
        from preflight.static.undefined import undefined_checks

        findings = _names(app, cache, python)
        checks += undefined_checks(app, findings, resolver, _STATUS[levels["undefined_names"]], analyser)
    if levels["unresolved_imports"] != "off":
        from preflight.static.unresolved import unresolved_checks

        confirm = None
        if interpreter and probe:  # a working interpreter to ask about imports no file provides
            from functools import partial

            from preflight.static import importable

            confirm = partial(importable.confirm, resolver=resolver, interpreter=interpreter, workdir=workdir,
                              environ=os.environ if environ is None else environ)
        checks += unresolved_checks(app, resolver, _STATUS[levels["unresolved_imports"]], everything, confirm)
    if levels["import_cycles"] != "off":
        from preflight.static.cycles import cycle_checks

        checks += cycle_checks(app, resolver, _STATUS[levels["import_cycles"]])
    if levels["twins"] != "off":
        from preflight.static.twins import twin_checks

        checks += twin_checks(app, resolver, _STATUS[levels["twins"]])
    cache.save()
    checks.sort(key=lambda c: (c.cause or "", c.file or "", c.line or 0, c.target))
    baseline = baseline or levels.get("baseline")
    if baseline:
        from preflight.static.baseline import apply

        apply(checks, baseline)
    stats = {"files": len(app.modules), "analyser": analyser, "cache_hits": cache.hits,
             "cache_misses": cache.misses, "duration_ms": round((time.monotonic() - started) * 1000, 1)}
    checks.insert(0, r.Check(kind="static", target=f"{len(app.modules)} application files", status=r.PASSED,
                             duration_ms=stats["duration_ms"], details=dict(stats)))
    if analyser == "none" and levels["undefined_names"] != "off":
        checks.append(r.Check(kind="static", target="analyser", status=r.WARNED, cause="analyser_missing",
                              message="no analyser for undefined names: neither ruff nor pyflakes is installed",
                              hint="pip install ruff (or pyflakes)"))
    return StaticResult(checks, stats)


def scan(manifest: Manifest, interpreter: str, workdir: str, baseline: str | None = None) -> r.Report:
    """``preflight scan``: the environment probe, then the static pass over everything, as a report."""
    from preflight import gate
    from preflight.errors import UsageError

    started = time.monotonic()
    probe = gate.probe_environment(manifest, interpreter, workdir)
    if probe is None:
        raise UsageError(f"{interpreter} could not describe itself", tip=f"check that it runs: {interpreter} -c pass")
    severities = manifest.static if manifest.static else DEFAULTS
    result = run(manifest, probe, workdir, everything=True, severities=severities, baseline=baseline,
                 interpreter=interpreter)
    return r.Report(checks=result.checks, duration_ms=round((time.monotonic() - started) * 1000, 1),
                    interpreter=interpreter, mode="static")


def _code_stamp() -> str:
    """Changes whenever this package's code does, so a cache never outlives the code that filled it."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamp = []
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            info = os.stat(os.path.join(here, name))
            stamp.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    from preflight.static.cache import digest

    return digest("|".join(stamp).encode())[:12]


def _names(app, cache, python: tuple[int, int]) -> dict[str, list[dict[str, Any]]]:
    """Undefined-name findings per file: from the cache, or from one analyser run over the rest."""
    from preflight.static.analyse import analyse

    findings: dict[str, list[dict[str, Any]]] = {}
    todo = {}
    for module in app.modules.values():
        cached = cache.get(module.sha, "names")
        if cached is None:
            todo[module.path] = module
        else:
            findings[module.path] = cached
    if todo:
        fresh = analyse(sorted(todo), {p: m.source for p, m in todo.items()}, python)
        for path, items in fresh.items():
            cache.put(todo[path].sha, "names", items)
            findings[path] = items
    return {p: items for p, items in findings.items() if items and os.path.exists(p)}
