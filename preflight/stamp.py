"""Stamps: a fingerprint of everything the import checks depended on, so a start can skip them.

``preflight check --stamp [PATH]`` writes one after a passing check (at image build time);
``preflight run --trust-stamp [PATH]`` recomputes it at start-up without starting an interpreter
(file stats, a few directory listings, hashes of the application's own files) and, when nothing
changed, trusts the stamped import checks instead of re-importing. Environment variables and the
working directory are still checked live. Any difference, or no stamp, means the full check.

What the fingerprint covers: the manifest's bytes; the interpreter binary; the working directory;
the ``PYTHON*`` variables that steer imports (hashed, never stored); the listing of each
``sys.path`` entry (installed distributions, new top-level modules, ``.pth`` files) and of each
application package directory (a new file that would shadow another); every file the checks
loaded (size and mtime; the application's own files also by SHA-256).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import time
from typing import Any, Iterable, Mapping

from preflight import __version__
from preflight import report as r
from preflight.errors import UsageError
from preflight.spec import Manifest

FORMAT = 1
DEFAULT_NAME = ".preflight-stamp.json"
_SUFFIXES = tuple(importlib.machinery.all_suffixes())
_IMPORT_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
               "PYTHONPLATLIBDIR", "PYTHONNODEBUGRANGES", "PYTHONOPTIMIZE", "PYTHONWARNINGS", "PYTHONDEVMODE")


def default_path(manifest_path: str) -> str:
    return os.environ.get("PREFLIGHT_STAMP") or os.path.join(os.path.dirname(os.path.abspath(manifest_path)),
                                                            DEFAULT_NAME)


def checked_targets(manifest: Manifest) -> list[list]:
    """What the import checks covered: each module and its symbols, the manifest's and those the server
    command names (``server_imports``), which its bytes do not show."""
    return sorted([t.module, sorted(t.symbols)] for t in manifest.imports)


def collect(manifest: Manifest, interpreter: str, workdir: str, environ: Mapping[str, str],
            probe: dict[str, Any], loaded: Iterable[str], options: Iterable[str] = ()) -> dict[str, Any]:
    """The fingerprint after a passing check of ``manifest``: ``probe`` from ``inspect_env``,
    ``loaded`` files, the interpreter's ``options``."""
    libraries = tuple(d.rstrip(os.sep) + os.sep for d in probe.get("library_dirs") or ())
    files: dict[str, list] = {}
    app_dirs: set[str] = set()
    for path in sorted(set(loaded)):
        if not path or not os.path.isabs(path):
            continue
        app = not path.startswith(libraries) and "/site-packages/" not in path
        entry = _file(path, digest=app)
        if entry is not None:
            files[path] = entry
            if app:
                app_dirs.add(os.path.dirname(path))
    entries = [os.path.realpath(p or workdir) for p in probe.get("sys_path") or [workdir]]
    return {
        "format": FORMAT,
        "preflight": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "inputs": {
            "manifest": _sha256(manifest.path),
            "targets": checked_targets(manifest),
            "interpreter": _interpreter(interpreter),
            "options": list(options),
            "workdir": os.path.realpath(workdir),
            "env": _env_digest(environ),
            "dirs": {d: _listing(d) for d in dict.fromkeys(entries + sorted(app_dirs))},
            "files": files,
        },
    }


def write(path: str, stamp: dict[str, Any]) -> None:
    """Write atomically, so that a reader never sees half a stamp."""
    from preflight.files import write_json

    try:
        write_json(path, stamp)
    except OSError as exc:
        raise UsageError(f"cannot write the stamp {path}: {exc.strerror or exc}",
                         tip="point --stamp (or PREFLIGHT_STAMP) at a writable file path") from None


def verify(path: str, manifest: Manifest, interpreter: str, workdir: str, environ: Mapping[str, str],
           options: Iterable[str] = ()) -> tuple[dict[str, Any] | None, str | None]:
    """``(stamp, None)`` when nothing it covers changed, else ``(None, what changed)``."""
    try:
        with open(path, encoding="utf-8") as handle:
            stamp = json.load(handle)
        inputs = stamp["inputs"]
    except FileNotFoundError:
        return None, f"no stamp at {path}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable stamp {path}: {exc}"
    if stamp.get("format") != FORMAT or stamp.get("preflight") != __version__:
        return None, "the stamp was written by another preflight version"
    if inputs["manifest"] != _sha256(manifest.path):
        return None, "the manifest changed"
    if inputs.get("targets") != checked_targets(manifest):
        return None, "the imports to check differ (the server command names others than at the stamp's check)"
    if inputs["interpreter"] != _interpreter(interpreter):
        return None, f"the interpreter changed ({interpreter})"
    if inputs.get("options") != list(options):
        checked = " ".join(inputs.get("options") or ()) or "none"
        return None, f"the interpreter options differ (checked with: {checked}; now: {' '.join(options) or 'none'})"
    if inputs["workdir"] != os.path.realpath(workdir):
        return None, f"the working directory is not {inputs['workdir']}"
    if inputs["env"] != _env_digest(environ):
        return None, "a variable that steers imports (PYTHONPATH, PYTHONHOME, ...) differs"
    for directory, listing in inputs["dirs"].items():
        if _listing(directory) != listing:
            return None, f"the contents of {directory} changed"
    for path_, entry in inputs["files"].items():
        if _file(path_, digest=entry[2] is not None) != entry:
            return None, f"{path_} changed"
    return stamp, None


def trusted_report(manifest: Manifest, stamp: dict[str, Any], stamp_path: str, interpreter: str,
                   environ: Mapping[str, str], started: float, options: Iterable[str] = ()) -> r.Report:
    """The report of a start that trusted ``stamp``: live env/workdir checks, stamped imports."""
    from preflight.environment import check_environment

    checks = check_environment(manifest, None, environ)
    note = f"unchanged since the check stamped at {stamp.get('created')} ({stamp_path})"
    for target in manifest.imports:
        checks.append(r.Check(kind="import", target=target.module, message=note, details={"stamp": stamp_path}))
        checks += [r.Check(kind="symbol", target=f"{target.module}:{s}") for s in target.symbols]
    return r.Report(checks=checks, duration_ms=round((time.monotonic() - started) * 1000, 1),
                    interpreter=interpreter, interpreter_options=list(options), mode="stamp")


def loaded_files(outcomes: Iterable[Any], preloaded: Iterable[str] = ()) -> list[str]:
    """Every file the import checks loaded: their modules, what they imported, the zygote's preload."""
    files = list(preloaded)
    for outcome in outcomes:
        result = outcome.result or {}
        files += [f for _, f in result.get("loaded") or () if f]
        if result.get("module_file"):
            files.append(result["module_file"])
    return files


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _file(path: str, digest: bool) -> list | None:
    try:
        st = os.stat(path)
    except OSError:
        return [None, None, None]
    return [st.st_size, st.st_mtime_ns, _sha256(path) if digest else None]


def _interpreter(path: str) -> list:
    real = os.path.realpath(path)
    return [real, *(_file(real, digest=False) or [])[:2]]


def _listing(directory: str) -> str | None:
    """A hash of the names in ``directory`` that can change what an import resolves to."""
    try:
        with os.scandir(directory) as entries:
            names = sorted(e.name for e in entries if _importable_name(e.name, e.is_dir()))
    except OSError:
        return None
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def _importable_name(name: str, is_dir: bool) -> bool:
    """Packages, modules, ``.pth`` files, distribution metadata; not reports, logs or bytecode caches."""
    if name.endswith((".pth", ".dist-info", ".egg-info", ".egg-link")):
        return True
    if is_dir:
        return name.isidentifier()
    return name.endswith(_SUFFIXES) and name.partition(".")[0].isidentifier()


def _env_digest(environ: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name in _IMPORT_ENV:
        value = environ.get(name)
        digest.update(f"{name}={'' if value is None else value}\0{value is None}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
