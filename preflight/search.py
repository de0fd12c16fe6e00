"""Look for a module's files near the application, bounded, without importing anything."""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field

from preflight import suggest

MAX_DEPTH = 4
MAX_DIRS = 4000
_SKIP = {"__pycache__", "node_modules", "site-packages", "dist-packages", ".git", ".hg", ".tox", ".venv", "venv"}
_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+) in (?P<function>.+)$')


@dataclass(frozen=True)
class Place:
    """Module source at ``path``; ``root`` is the directory that must be on sys.path to import it."""

    path: str
    root: str


@dataclass
class Found:
    sources: list[Place] = field(default_factory=list)
    bytecode: str | None = None
    denied: str | None = None


def candidate_dirs(roots: list[tuple[str, int]]) -> list[str]:
    """Directories below each ``(root, depth)``, breadth first, at most ``depth`` levels down and
    ``MAX_DIRS`` in all."""
    seen: dict[str, None] = {}
    queue = deque((root, 0, limit) for root, limit in roots if os.path.isdir(root))
    while queue and len(seen) < MAX_DIRS:
        directory, depth, limit = queue.popleft()
        real = os.path.realpath(directory)
        if real in seen:
            continue
        seen[real] = None
        if depth >= limit or os.path.exists(os.path.join(real, "pyvenv.cfg")):
            continue
        try:
            entries = sorted(os.scandir(real), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and entry.name not in _SKIP and not entry.name.startswith("."):
                queue.append((entry.path, depth + 1, limit))
    return list(seen)


def find_module_files(dotted: str, roots: list[tuple[str, int]]) -> Found:
    """Where the source of module ``dotted`` lies below ``roots``, or what is left of it."""
    parts = dotted.split(".")
    found = Found()
    for base in _import_roots(roots):
        package = os.path.join(base, *parts)
        module = package + ".py"
        for path in (package, module):
            if os.path.exists(path) and not _empty_dir(path):  # an empty dir (a bare WORKDIR) holds no code
                blocked = _first_unreadable(base, path)
                if blocked:
                    found.denied = found.denied or blocked
                else:
                    found.sources.append(Place(path, base))
        if not found.bytecode:
            found.bytecode = _bytecode_only(package)
    return found


def exists_in_app(top: str, roots: list[tuple[str, int]]) -> bool:
    """True when a package or module named ``top`` lies anywhere below ``roots``."""
    return any(
        os.path.exists(os.path.join(base, top)) or os.path.exists(os.path.join(base, top + ".py"))
        for base in _import_roots(roots)
    )


def _import_roots(roots: list[tuple[str, int]]) -> list[str]:
    """Directories that could be a sys.path entry: inside a package, a file is a submodule
    (``app/cache/redis.py`` is ``app.cache.redis``, never the top-level ``redis``)."""
    given = {os.path.realpath(r) for r, _ in roots}
    return [d for d in candidate_dirs(roots) if d in given or not os.path.exists(os.path.join(d, "__init__.py"))]


def _empty_dir(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except NotADirectoryError:
        return False
    except OSError:  # unreadable: _first_unreadable reports it
        return False


def _first_unreadable(base: str, path: str) -> str | None:
    """The first directory or file from ``base`` down to ``path`` this user cannot read."""
    current = base
    for part in os.path.relpath(path, base).split(os.sep):
        current = os.path.join(current, part)
        mode = os.R_OK | os.X_OK if os.path.isdir(current) else os.R_OK
        if not os.access(current, mode):
            return current
    if os.path.isdir(path):
        init = os.path.join(path, "__init__.py")
        if os.path.exists(init) and not os.access(init, os.R_OK):
            return init
    return None


def _bytecode_only(package: str) -> str | None:
    parent, name = os.path.split(package)
    for cache, stem in ((os.path.join(parent, "__pycache__"), name), (os.path.join(package, "__pycache__"), "__init__")):
        try:
            hits = [n for n in os.listdir(cache) if n.startswith(stem + ".") and n.endswith(".pyc")]
        except OSError:
            continue
        if hits and not os.path.exists(package + ".py") and not os.path.exists(os.path.join(package, "__init__.py")):
            return os.path.join(cache, hits[0])
    return None


def faulthandler_threads(dump: str) -> list[list[dict]]:
    """Each thread's frames in a faulthandler dump, innermost first (as it prints them)."""
    blocks: list[list[dict]] = []
    for line in dump.splitlines():
        if not line.startswith(" "):
            blocks.append([])
            continue
        match = _FRAME.match(line)
        if match and blocks:
            blocks[-1].append({"file": match["file"], "line": int(match["line"]), "function": match["function"]})
    return blocks


def faulthandler_frames(dump: str) -> list[dict]:
    """Frames of the import thread from a faulthandler dump, outermost first."""
    blocks = faulthandler_threads(dump)
    chosen = next((b for b in blocks if any(f["file"].endswith("run_import.py") for f in b)), None)
    chosen = chosen or next((b for b in blocks if b), [])
    return list(reversed(chosen))


def case_twin(name: str, directories: list[str]) -> str | None:
    """A file or package in ``directories`` named as the last part of ``name`` but for letter case
    (``Services/`` for ``services``, ``Billing.py`` for ``billing``): what a case-insensitive file
    system (macOS, Windows) imports, and a Linux one does not."""
    last = name.rpartition(".")[2]
    for directory in directories:
        try:
            entries = os.listdir(directory or ".")
        except OSError:
            continue
        for entry in sorted(entries):
            stem = entry[:-3] if entry.endswith(".py") else entry
            if stem != last and stem.lower() == last.lower() and (
                    entry.endswith(".py") or os.path.isdir(os.path.join(directory, entry))):
                return os.path.join(directory, entry)
    return None


def close_names(name: str, directories: list[str]) -> list[str]:
    """Modules and packages in ``directories`` named close to the last part of ``name`` (a typo:
    ``servics`` for ``services``), closest first."""
    last = name.rpartition(".")[2]
    stems = set()
    for directory in directories:
        try:
            entries = os.listdir(directory or ".")
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".py"):
                stems.add(entry[:-3])
            elif entry.isidentifier() and os.path.isdir(os.path.join(directory, entry)) and entry != "__pycache__":
                stems.add(entry)
    return suggest.close_names(last, sorted(stems - {last, "__init__"}), cutoff=0.75)
