"""Describe the interpreter a server will run under, as JSON: version, paths, installed distributions.

Protocol (started by path, standard library only, never imports preflight):

    python inspect_env.py RESULT_PATH

The result: {"implementation", "version": [major, minor, micro], "version_string", "executable",
"prefix", "base_prefix", "platform", "cwd", "uid", "gid", "sys_path": [...],
"distributions": {normalized_name: version}}.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import sysconfig

from run_import import write_result  # this script's directory, still sys.path[0]

sys.path[0] = os.getcwd()  # as the import checks and ``python -m`` see it


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
    dirs.update(p for p in sys.path if p.endswith(".zip") or p.endswith("lib-dynload"))
    return sorted(dirs)


def describe() -> dict:
    return {
        "implementation": sys.implementation.name,
        "version": list(sys.version_info[:3]),
        "version_string": platform.python_version(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "platform": sys.platform,
        "cwd": os.getcwd(),
        "uid": os.getuid() if hasattr(os, "getuid") else None,
        "gid": os.getgid() if hasattr(os, "getgid") else None,
        "sys_path": list(sys.path),
        "library_dirs": _library_dirs(),
        "distributions": installed_distributions(sys.path),
    }


if __name__ == "__main__":
    write_result(sys.argv[1], describe())
