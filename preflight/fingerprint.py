"""The report's ``environment`` object: where the checks ran, as facts two places can be compared by.

Assembled from what ``_child/inspect_env.py`` saw from the server's own interpreter (the probe) and
what each import check left behind. Environment variables appear by name only, never by value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from preflight import report as r
from preflight.runner import Outcome
from preflight.spec import Manifest

_PYTHON_KEYS = ("implementation", "version_string", "executable", "prefix", "base_prefix", "venv", "flags")


def app_tops(manifest: Manifest) -> list[str]:
    """The top-level names the manifest imports: the application packages to digest."""
    return sorted({module.split(".")[0] for module in manifest.app_modules()})


def environment(
    probe: dict[str, Any] | None, manifest: Manifest, outcomes: Mapping[str, Outcome], checks: list[r.Check]
) -> dict[str, Any] | None:
    """The ``environment`` object of report-v1, or None when the interpreter could not describe itself."""
    if probe is None:
        return None
    app = probe.get("app") or {"roots": [], "packages": {}}
    roots = app["roots"]
    pythonpath = probe.get("pythonpath")
    return {
        "python": {key: probe.get(key) for key in _PYTHON_KEYS},
        "platform": {"system": probe.get("platform"), "machine": probe.get("machine")},
        "cwd": probe.get("cwd"),
        "uid": probe.get("uid"),
        "gid": probe.get("gid"),
        "sys_path": [
            {**entry, "app": (entry["path"] or probe.get("cwd")) in roots}
            for entry in probe.get("sys_path_entries") or [{"path": p} for p in probe.get("sys_path", [])]
        ],
        "pythonpath": pythonpath.split(os.pathsep) if pythonpath else None,
        "env_names": probe.get("env_names") or [],
        "distributions": probe.get("distributions") or {},
        "modules": _modules(manifest, outcomes, checks, roots),
        "app": app,
    }


def _modules(
    manifest: Manifest, outcomes: Mapping[str, Outcome], checks: list[r.Check], roots: list[str]
) -> dict[str, dict[str, Any]]:
    """Per checked module: the file it resolved to, or the point where the search for it stopped."""
    by_target = {c.target: c for c in checks if c.kind == "import"}
    modules: dict[str, dict[str, Any]] = {}
    for index, target in enumerate(manifest.imports):
        outcome = outcomes.get(f"import:{index}")
        check = by_target.get(target.module)
        result = (outcome.result if outcome else None) or {}
        entry: dict[str, Any] = {"status": check.status if check else r.SKIPPED}
        if check and check.cause:
            entry["cause"] = check.cause
        module_file = result.get("module_file")
        entry.update(_located(module_file, roots) if module_file else locate(target.module, roots))
        if check and check.details.get("missing"):
            entry["missing"] = check.details["missing"]
            entry["imported_from"] = check.details.get("imported_from")
            entry["missing_search"] = locate(check.details["missing"], roots)
        modules[target.module] = entry
    return modules


def _located(path: str, roots: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": path}
    root = holding_root(path, roots)
    if root:
        entry.update(root=root, rel=os.path.relpath(path, root).replace(os.sep, "/"))
    return entry


def holding_root(path: str, roots: list[str]) -> str | None:
    """The application root (an app ``sys.path`` entry) that holds ``path``, if any."""
    for root in roots:
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return root
    return None


def locate(module: str, roots: list[str]) -> dict[str, Any]:
    """Where ``module``'s source is below the app roots, or where the search for it stopped.

    The first root holding the top-level name wins, as for imports. ``stopped_at`` is the deepest
    directory reached, ``missing`` the name not found in it.
    """
    parts = module.split(".")
    for root in roots:
        if not (os.path.isdir(os.path.join(root, parts[0])) or os.path.isfile(os.path.join(root, parts[0] + ".py"))):
            continue
        directory = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            package = os.path.join(directory, part)
            if os.path.isdir(package):
                if last:
                    init = os.path.join(package, "__init__.py")
                    return _located(init if os.path.exists(init) else package, roots)
                directory = package
            elif os.path.isfile(package + ".py"):
                return _located(package + ".py", roots) if last else _stopped(directory, parts, depth, root)
            else:
                return _stopped(directory, parts, depth, root)
    return {"file": None, "stopped_at": None, "missing_name": parts[0]}


def _stopped(directory: str, parts: list[str], depth: int, root: str) -> dict[str, Any]:
    rel = os.path.relpath(directory, root).replace(os.sep, "/")
    return {"file": None, "stopped_at": directory, "root": root,
            "rel": "" if rel == "." else rel + "/", "missing_name": parts[depth]}
