"""What the zygote preloads, found without running application code.

The import statements of the listed modules' files (and of the application modules they import,
transitively) are read with ``ast``; each imported module whose top level resolves outside the
application's directories (the standard library, site-packages) is a dependency to preload.
Standard library only, never imports preflight (it runs inside the zygote). What was read from each
file is kept between runs (``ImportCache``): a start reads again only the files that changed.
"""

from __future__ import annotations

import ast
import importlib.machinery
import json
import os
import sys
import sysconfig

_MAX_APP_FILES = 5000


def library_dirs() -> set[str]:
    """Directories of the standard library and installed distributions: never application code."""
    dirs = set()
    for base in {sys.prefix, sys.base_prefix}:
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base, "installed_base": base})
        dirs.update(os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    for entry in sys.path:
        if entry.endswith((".zip", "lib-dynload", "site-packages", "dist-packages")):
            dirs.add(os.path.realpath(entry))
    return dirs


def _app_roots() -> list[str]:
    libraries = library_dirs()
    roots = []
    for entry in sys.path:
        real = os.path.realpath(entry or os.getcwd())
        if os.path.isdir(real) and real not in libraries:
            roots.append(real)
    return list(dict.fromkeys(roots))


def _app_source(name: str, roots: list[str]) -> str | None:
    """The application file that is module ``name`` (first on sys.path), found without importing."""
    parts = name.split(".")
    for root in roots:
        base = os.path.join(root, *parts)
        for candidate in (os.path.join(base, "__init__.py"), base + ".py"):
            if os.path.isfile(candidate):
                return candidate
        if os.path.isdir(base) and len(parts) > 1:
            return None  # a namespace package directory: no code of its own
    return None


def _imports(path: str, name: str) -> list[tuple[str, list[str]]]:
    """Modules ``path`` imports at module level as (absolute name, names taken from it)."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError):
        return []
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names if alias.name != "*"]
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    continue
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                module = f"{base}.{node.module}" if node.module else base
                if module:
                    found.append((module, names))
            elif node.module:
                found.append((node.module, names))
        else:
            stack.extend(ast.iter_child_nodes(node))
    return found


class ImportCache:
    """What ``_imports`` read from each application file, kept in a JSON file between runs and used
    while the file's size, modification time and module name are the same: parsing is most of
    the scan, which every start waits for (~0.2 ms a file). Unreadable: empty; unwritable: not kept."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.entries: dict = {}
        self.used: dict[str, list] = {}
        self.changed = False
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    loaded = json.load(handle)
                self.entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                pass

    def imports(self, path: str, name: str) -> list[tuple[str, list[str]]]:
        try:
            status = os.stat(path)
        except OSError:
            return []
        key = [status.st_size, status.st_mtime_ns, name]
        entry = self.entries.get(path)
        if _well_formed(entry) and entry[0] == key:
            found = [(module, list(names)) for module, names in entry[1]]
        else:
            found = _imports(path, name)
            self.changed = True
        self.used[path] = [key, found]
        return found

    def save(self) -> None:
        """Write what this run read (only that: gone files drop out), if anything was read afresh."""
        if not self.path or not (self.changed or len(self.used) != len(self.entries)):
            return
        temporary = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(self.used, handle)
            os.replace(temporary, self.path)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        self.entries, self.changed = dict(self.used), False


def _well_formed(entry: object) -> bool:
    return (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)
            and all(isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], list) and all(isinstance(n, str) for n in item[1]) for item in entry[1]))


class Scanner:
    """Finds, without running application code, the non-application modules that application
    modules import at module level (following the application modules they import)."""

    def __init__(self, modules: list[str], cache: ImportCache | None = None) -> None:
        self.modules = list(modules)
        self.cache = cache or ImportCache()
        self.app_tops = {m.split(".")[0] for m in modules}  # the manifest's: app code wherever installed
        self.roots = _app_roots()
        self.libraries = library_dirs()
        self._top_is_app: dict[str, bool] = {}
        self._parsed: dict[str, list[tuple[str, list[str]]]] = {}
        self._sources: dict[str, str | None] = {}
        self._edges: dict[str, tuple[list[str], list[tuple[str, list[str]]]]] = {}
        self._reached: dict[str, tuple[int, list[tuple[str, list[str]]]]] = {}

    def closure(self, modules: list[str]) -> list[tuple[str, list[str]]]:
        """``(module, names taken from it)`` for each non-application module, first seen first."""
        if len(modules) == 1:
            return self._reach(modules[0])[1]
        return self._walk(modules)[1]

    def weight(self, module: str) -> int:
        """How much application code importing ``module`` runs: the application files it reaches."""
        return self._reach(module)[0]

    def _reach(self, module: str) -> tuple[int, list[tuple[str, list[str]]]]:
        """``weight`` and ``closure`` of one module, from one walk (each run asks for both)."""
        if module not in self._reached:
            seen_app, closure = self._walk([module])
            self._reached[module] = (len(seen_app), closure)
        return self._reached[module]

    def _walk(self, modules: list[str]) -> tuple[set[str], list[tuple[str, list[str]]]]:
        """The application modules ``modules`` reach, and what ``closure`` returns."""
        queue = list(modules)
        seen_app: set[str] = set()
        external: dict[str, None] = {}
        taken: dict[str, list[str]] = {}
        position = 0
        while position < len(queue) and len(seen_app) < _MAX_APP_FILES:
            name = queue[position]
            position += 1
            if name in seen_app or name in external:
                continue
            if not self._is_app(name.partition(".")[0]):
                external[name] = None
                continue
            seen_app.add(name)
            following, imported = self._edges_of(name)
            queue += following
            for module, names in imported:
                taken.setdefault(module, []).extend(names)
        return seen_app, [(name, list(dict.fromkeys(taken.get(name, ())))) for name in external]

    def _edges_of(self, name: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
        """For application module ``name``: the modules importing it runs next (its parents' ``__init__``
        first, then what it imports, with the submodules ``from M import N`` names) and what it
        takes from each. Read once per module, however many walks pass through it."""
        if name not in self._edges:
            parts = name.split(".")
            following = [".".join(parts[:i]) for i in range(1, len(parts))]
            imported = []
            source = self._source(name)
            if source is not None:
                imported = self._imports(source, name)
                for module, names in imported:
                    following.append(module)
                    following += [f"{module}.{n}" for n in names if self._source(f"{module}.{n}")]
            self._edges[name] = (following, imported)
        return self._edges[name]

    def order(self, needs: list[list[str]]) -> list[tuple[str, list[str]]]:
        """Everything to preload, each once: what is loaded already (instant) first, then, again and
        again, what the run closest to ready still lacks, so that runs become ready early."""
        names = dict(self.closure(self.modules))
        ordered = dict.fromkeys(n for n in [*names, *(n for need in needs for n in need)] if n in sys.modules)
        pending = [[n for n in need if n not in ordered] for need in needs]
        while pending:
            pending.sort(key=len)
            ordered.update(dict.fromkeys(pending.pop(0)))
            pending = [[n for n in need if n not in ordered] for need in pending]
        ordered.update(dict.fromkeys(names))
        return [(name, names.get(name, [])) for name in ordered]

    def _is_app(self, top: str) -> bool:
        if top in self.app_tops:
            return True
        if top not in self._top_is_app:
            self._top_is_app[top] = _is_app_top(top, self.libraries)
        return self._top_is_app[top]

    def _source(self, name: str) -> str | None:
        if name not in self._sources:
            self._sources[name] = _app_source(name, self.roots)
        return self._sources[name]

    def _imports(self, path: str, name: str) -> list[tuple[str, list[str]]]:
        if path not in self._parsed:
            self._parsed[path] = self.cache.imports(path, name)
        return self._parsed[path]


def dependency_closure(modules: list[str]) -> list[tuple[str, list[str]]]:
    """Non-application modules imported at module level by ``modules`` and the app code they import,
    each with the names taken from it (``from M import N`` may name a submodule)."""
    return Scanner(modules).closure(modules)


def _is_app_top(top: str, libraries: set[str]) -> bool:
    """Whether top-level module ``top`` resolves to application code (or nowhere), not a library."""
    if top in sys.builtin_module_names:
        return False
    try:
        spec = importlib.machinery.PathFinder.find_spec(top)
    except Exception:
        return True
    if spec is None:
        return top not in sys.modules  # frozen modules and missing ones: leave missing ones to checks
    locations = list(spec.submodule_search_locations or [])
    if spec.origin and spec.has_location:
        locations.append(os.path.dirname(spec.origin))
    for location in locations:
        real = os.path.realpath(location)
        if not any(real == lib or real.startswith(lib + os.sep) for lib in libraries):
            return True
    return False
