"""Describe the interpreter a server will run under, as JSON: version, paths, installed distributions.

Protocol (started by path, standard library only, never imports preflight):

    python inspect_env.py RESULT_PATH [TOPS_JSON [HEAD_JSON]]

TOPS_JSON: the top-level names of the manifest's imports, e.g. ["app"] (data, never code).
HEAD_JSON: what the server's ``sys.path`` starts with, in place of this script's directory.
The result: {"implementation", "version": [major, minor, micro], "version_string", "executable",
"prefix", "base_prefix", "venv", "platform", "machine", "cwd", "uid", "gid", "sys_path": [...],
"sys_path_entries": [{"path", "exists", "readable"}], "pythonpath": str|None, "flags": {name: value},
"env_names": [...],
"library_dirs": [...], "distributions": {normalized_name: version}, "app": {"roots", "packages"}}.
Environment variables are reported by name only: their values never leave this process, except
``PYTHONPATH``, which is a list of directories and decides what imports.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import sysconfig
import zlib

if sys.flags.safe_path and sys.path[:1] != [os.path.dirname(os.path.abspath(__file__))]:  # PYTHONSAFEPATH or
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -P, not a zygote's fork: take the slot
from run_import import write_result  # noqa: E402  (this script's directory, sys.path[0])

sys.path[0] = os.getcwd()  # as the import checks see it (``python -m``, uvicorn, gunicorn); see HEAD_JSON


def installed_distributions(path: list[str]) -> dict[str, str]:
    """Installed distributions as {normalized name: version}, first on ``path`` wins.

    Read from ``*.dist-info``/``*.egg-info`` directory names: listing directories is much faster
    than ``importlib.metadata`` and the gate pays for this on every start.
    """
    found: dict[str, str] = {}
    for entry in path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            stem, dot, kind = name.rpartition(".")
            if dot and kind in ("dist-info", "egg-info") and "-" in stem:
                project, _, version = stem.partition("-")
                version = version.split("-")[0] if kind == "egg-info" else version
                found.setdefault(re.sub(r"[-_.]+", "-", project).lower(), version)
    return found


def _library_dirs() -> list[str]:
    """The standard library's and installed packages' directories: never the application's code."""
    dirs = set()
    for base in {sys.prefix, sys.base_prefix}:
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base, "installed_base": base})
        dirs.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    dirs.update(p for p in sys.path if p.endswith((".zip", "lib-dynload")))
    return sorted(dirs)


# Bounds of the application-tree digest: the gate pays for it on every start.
MAX_FILES = 4000            # per run, over all packages; past it, digests are marked truncated
MAX_HASHED_BYTES = 32 << 20  # per run; past it, files are digested by size only
MAX_FILE_BYTES = 4 << 20    # a bigger file is digested by size only
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def _entries(path: list[str]) -> list[dict]:
    """Each ``sys.path`` entry: does it exist, can this user read it (list a directory, open a zip)."""
    entries = []
    for entry in path:
        real = entry or os.getcwd()
        exists = os.path.exists(real)
        flags = os.R_OK | (os.X_OK if os.path.isdir(real) else 0)
        entries.append({"path": entry, "exists": exists, "readable": exists and os.access(real, flags)})
    return entries


def _is_library(entry: str, library: list[str]) -> bool:
    real = os.path.realpath(entry)
    base = os.path.basename(real)
    if base in ("site-packages", "dist-packages") or base.startswith("lib-dynload"):
        return True
    return any(real == d or real.startswith(d.rstrip(os.sep) + os.sep) for d in library)


def app_roots(path: list[str], library: list[str]) -> list[str]:
    """The ``sys.path`` directories that hold application code: not the stdlib, not installed packages."""
    roots = []
    real_library = [os.path.realpath(d) for d in library]
    for entry in path:
        entry = entry or os.getcwd()
        if os.path.isdir(entry) and not _is_library(entry, real_library) and entry not in roots:
            roots.append(entry)
    return roots


class _Budget:
    def __init__(self) -> None:
        self.files = MAX_FILES
        self.hashed = MAX_HASHED_BYTES


def _walk(directory: str, rel: str, budget: _Budget, out: dict) -> bool:
    """Add {relative path: short digest} for the package files below ``directory``; False if cut short."""
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        out[rel + "/"] = "unreadable"
        return True
    complete = True
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name == "__pycache__" or name.endswith(SKIPPED_SUFFIXES):
            continue
        child = rel + "/" + name
        try:
            if entry.is_dir():
                if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                    continue
                complete = _walk(entry.path, child, budget, out) and complete
            elif entry.is_file():
                if budget.files <= 0:
                    return False
                budget.files -= 1
                out[child] = _file_digest(entry.path, entry.stat().st_size, budget)
        except OSError:
            out[child] = "unreadable"
    return complete


def _file_digest(path: str, size: int, budget: _Budget) -> str:
    """CRC-32 of the contents, or ``size:N`` when the file is too big to hash within the budget.

    CRC-32 detects changes, not tampering, and zlib costs no import time on the start-up path.
    """
    if size > MAX_FILE_BYTES or size > budget.hashed:
        return f"size:{size}"
    budget.hashed -= size
    try:
        with open(path, "rb") as handle:
            return f"{zlib.crc32(handle.read()):08x}"
    except OSError:
        return "unreadable"


def _package(root: str, name: str, budget: _Budget) -> dict:
    files: dict[str, str] = {}
    path = os.path.join(root, name)
    if os.path.isdir(path):
        complete = _walk(path, name, budget, files)
        kind = "package" if os.path.exists(os.path.join(path, "__init__.py")) else "namespace"
    else:
        budget.files -= 1
        try:
            files[name] = _file_digest(path, os.stat(path).st_size, budget)
        except OSError:
            files[name] = "unreadable"
        complete, kind = True, "module"
    listing = "".join(f"{rel}\0{files[rel]}\n" for rel in sorted(files))
    digest = f"crc32:{zlib.crc32(listing.encode('utf-8', 'surrogateescape')):08x}"
    package = {"root": root, "kind": kind, "count": len(files), "digest": digest, "files": files}
    if not complete:
        package["truncated"] = True
    return package


def app_tree(roots: list[str], tops: list[str]) -> dict:
    """A digest per top-level application package (the first on ``sys.path`` wins, as for imports).

    A package is a directory with ``__init__.py``, or any top-level name the manifest imports
    (namespace packages, plain modules). Hidden entries, ``__pycache__``, bytecode and nested
    virtual environments are left out; every other file counts (package data too).
    """
    budget = _Budget()
    packages: dict[str, dict] = {}
    for root in roots:
        try:
            names = sorted(os.listdir(root))
        except OSError:
            continue
        for name in names:
            if name in packages or name.startswith(".") or name == "__pycache__":
                continue
            path = os.path.join(root, name)
            stem, suffix = os.path.splitext(name)
            if suffix == ".py" and stem in tops and stem not in packages and os.path.isfile(path):
                packages[stem] = _package(root, name, budget)
            elif (
                "." not in name
                and (name in tops or os.path.isfile(os.path.join(path, "__init__.py")))
                and os.path.isdir(path)
                and not os.path.exists(os.path.join(path, "pyvenv.cfg"))
            ):
                packages[name] = _package(root, name, budget)
    return {"roots": roots, "packages": packages}


# The interpreter options (sys.flags) that change what an import finds or does.
_FLAGS = ("ignore_environment", "safe_path", "no_site", "no_user_site", "isolated", "optimize", "dev_mode")


def describe(tops: list[str] = ()) -> dict:
    library = _library_dirs()
    return {
        "implementation": sys.implementation.name,
        "version": list(sys.version_info[:3]),
        "version_string": platform.python_version(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "venv": sys.prefix != sys.base_prefix,
        "platform": sys.platform,
        "machine": platform.machine(),
        "cwd": os.getcwd(),
        "uid": os.getuid() if hasattr(os, "getuid") else None,
        "gid": os.getgid() if hasattr(os, "getgid") else None,
        "sys_path": list(sys.path),
        "sys_path_entries": _entries(sys.path),
        "pythonpath": os.environ.get("PYTHONPATH"),
        "flags": {name: getattr(sys.flags, name) for name in _FLAGS},
        "env_names": sorted(os.environ),
        "env_empty": sorted(name for name, value in os.environ.items() if not value),
        "library_dirs": library,
        "distributions": installed_distributions(sys.path),
        "app": app_tree(app_roots(sys.path, library), list(tops)),
    }


def main(argv: list[str]) -> int:
    if len(argv) > 3 and argv[3]:  # what the server's sys.path starts with (``python app/main.py``)
        sys.path[0:1] = json.loads(argv[3])
    write_result(argv[1], describe(json.loads(argv[2]) if len(argv) > 2 else []))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
