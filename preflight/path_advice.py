"""Whether putting a directory on sys.path would let a missing module import from it, and how to do it."""

from __future__ import annotations

import os
from typing import Any


def blocking_package(missing: str, root: str, modules: dict[str, Any]) -> tuple[str, str] | None:
    """The parent of ``missing`` Python already imported from elsewhere than ``root`` (name, file).

    A regular package's ``__path__`` is fixed when it is imported: its submodules come from its own
    directory only, whatever else is on sys.path. A namespace package (no ``__file__``) merges every
    portion on sys.path, so it never blocks.
    """
    parts = missing.split(".")
    for i in range(1, len(parts)):
        name = ".".join(parts[:i])
        state = modules.get(name) or {}
        loaded = state.get("file") if state.get("loaded") else None
        if loaded and os.path.realpath(loaded) != os.path.realpath(os.path.join(root, *parts[:i], "__init__.py")):
            return name, loaded
    return None


def how_to_reach(root: str, workdir: str, path0: str | None, pythonpath: str | None) -> str:
    """How to put ``root`` on the server's sys.path: PYTHONPATH (kept, when it is set), WORKDIR, or
    ``python -m`` when ``root`` is the working directory and only a script's directory is first."""
    value = f"{pythonpath}{os.pathsep}{root}" if pythonpath else root
    env = f"PYTHONPATH={value} (Dockerfile: ENV PYTHONPATH={value})"
    env = f"add {root} to PYTHONPATH, which is set already: {env}" if pythonpath else f"set {env}"
    same = os.path.realpath(root) == os.path.realpath(workdir)
    if not same:
        return f"{env}, or start in that directory (WORKDIR {root})"
    if not path0 or os.path.realpath(path0) == os.path.realpath(workdir):
        return env
    relative = os.path.relpath(os.path.realpath(path0), os.path.realpath(root))
    module = "" if relative.startswith("..") else f" (`python -m {relative.replace(os.sep, '.')}.SCRIPT`)"
    return (f"{root} is the working directory, but the server runs a script, so Python puts the script's "
            f"directory ({path0}) first on sys.path instead (the checks do not run the script's own sys.path "
            f"edits): start it as a module from {root}{module}, or {env}")
