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


def how_to_reach(root: str, workdir: str, path0: str | None, pythonpath: str | None,
                 flags: dict[str, Any] | None = None) -> str:
    """How to put ``root`` on the server's sys.path: PYTHONPATH (kept, when it is set), WORKDIR, or
    ``python -m`` when ``root`` is the working directory and only a script's directory is first.
    ``flags``: the interpreter's (``-E``/``-I`` ignore PYTHONPATH, ``-P`` puts nothing first)."""
    flags = flags or {}
    same = os.path.realpath(root) == os.path.realpath(workdir)
    if flags.get("ignore_environment"):
        where = "" if same or flags.get("safe_path") else f", or start in that directory (WORKDIR {root})"
        return (f"the server's Python ignores PYTHONPATH (-E or -I in its command): install the code into the "
                f"interpreter's site-packages (pip install . from the project){where}, or drop -E/-I")
    value = f"{pythonpath}{os.pathsep}{root}" if pythonpath else root
    env = f"PYTHONPATH={value} (Dockerfile: ENV PYTHONPATH={value})"
    env = f"add {root} to PYTHONPATH, which is set already: {env}" if pythonpath else f"set {env}"
    if flags.get("safe_path"):
        why = (f"{root} is the working directory, but " if same else "") + \
            "-P or PYTHONSAFEPATH keeps the working directory and the script's off sys.path"
        return f"{why}: {env}"
    if not same:
        return f"{env}, or start in that directory (WORKDIR {root})"
    if not path0 or os.path.realpath(path0) == os.path.realpath(workdir):
        return env
    relative = os.path.relpath(os.path.realpath(path0), os.path.realpath(root))
    module = "" if relative.startswith("..") else f" (`python -m {relative.replace(os.sep, '.')}.SCRIPT`)"
    return (f"{root} is the working directory, but the server runs a script, so Python puts the script's "
            f"directory ({path0}) first on sys.path instead (the checks do not run the script's own sys.path "
            f"edits): start it as a module from {root}{module}, or {env}")


def other_copy(root: str, missing_top: str, app_tops: set[str], sys_path: list[str], workdir: str) -> tuple[str, str] | None:
    """``root`` holds another copy of the application (a second checkout beside it, an old release):
    it also holds one of the application's own top-level names (``name``, ``where``) that this
    ``sys_path`` imports from another directory. Putting ``root`` on sys.path would mix the two copies,
    so a module missing here is missing, not off the path."""
    real_root = os.path.realpath(root)
    for top in sorted(app_tops - {missing_top}):
        if not _holds(real_root, top):
            continue
        here = next((os.path.realpath(e or workdir) for e in sys_path if _holds(os.path.realpath(e or workdir), top)),
                    None)
        if here and here != real_root:
            return top, os.path.join(here, top)
    return None


def _holds(directory: str, top: str) -> bool:
    return os.path.isdir(os.path.join(directory, top)) or os.path.isfile(os.path.join(directory, top + ".py"))
