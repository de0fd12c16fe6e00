"""Find modules on the checked interpreter's sys.path from directory listings: nothing is imported.

Resolution follows the path finder: within one directory a regular package beats a module file,
which beats a namespace portion; across entries the first regular match wins.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass

_SOURCE = (".py", ".pyc", ".pyw")
_EXTENSION = (".so", ".pyd")


@dataclass(frozen=True)
class Found:
    """Module ``name`` at ``path`` (a file, or a package's ``__init__.py``, or a namespace directory)."""

    name: str
    path: str
    root: str  # the sys.path entry that holds the top-level package
    namespace: bool = False


class Resolver:
    """Resolve dotted names against ``sys_path`` as the checked interpreter would, memoized."""

    def __init__(self, sys_path: list[str], workdir: str, library_dirs: tuple[str, ...] = ()) -> None:
        self.sys_path = list(dict.fromkeys(os.path.realpath(p or workdir) for p in sys_path))
        self.library_dirs = tuple(os.path.realpath(d) for d in library_dirs)
        self._listings: dict[str, dict[str, str]] = {}
        self._found: dict[str, Found | None] = {}
        self._library: dict[str, bool] = {}
        self._editable = _editable_mappings(self.sys_path)
        self.always = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))

    def listing(self, directory: str) -> dict[str, str]:
        """Entries of ``directory`` that can be modules: {module name: kind}, kind package|module|namespace."""
        cached = self._listings.get(directory)
        if cached is not None:
            return cached
        found: dict[str, str] = {}
        try:
            entries = list(os.scandir(directory))
        except OSError:
            entries = []
        for entry in entries:
            name = entry.name
            if entry.is_dir():
                if name.isidentifier():
                    init = os.path.exists(os.path.join(entry.path, "__init__.py"))
                    _put(found, name, "package" if init else "namespace")
            else:
                stem, _ = _split(name)
                if stem.isidentifier():
                    _put(found, stem, "module")
        self._listings[directory] = found
        return found

    def locate(self, directory: str, name: str) -> tuple[str, bool] | None:
        """Where module ``name`` lies in ``directory`` (path, is_namespace), or None."""
        kind = self.listing(directory).get(name)
        if kind is None:
            return None
        if kind == "package":
            return os.path.join(directory, name, "__init__.py"), False
        if kind == "namespace":
            return os.path.join(directory, name), True
        for ext in (".py", ".pyw", ".pyc", *_EXTENSION):
            path = os.path.join(directory, name + ext)
            if os.path.exists(path):
                return path, False
        for entry in os.listdir(directory):  # extension modules: name.cpython-311-x86_64-linux-gnu.so
            if entry.startswith(name + ".") and entry.endswith(_EXTENSION):
                return os.path.join(directory, entry), False
        return None

    def find(self, dotted: str) -> Found | None:
        """The module ``dotted`` resolves to, or None when nothing on sys.path provides it."""
        if dotted in self._found:
            return self._found[dotted]
        parent, _, last = dotted.rpartition(".")
        result: Found | None = None
        if not parent:
            result = self._find_top(last)
        else:
            owner = self.find(parent)
            if owner is not None:
                for directory in self.search_dirs(owner):
                    hit = self.locate(directory, last)
                    if hit and not hit[1]:
                        result = Found(dotted, hit[0], owner.root)
                        break
                    if hit and result is None:
                        result = Found(dotted, hit[0], owner.root, namespace=True)
        self._found[dotted] = result
        return result

    def search_dirs(self, package: Found) -> list[str]:
        """The directories a package's submodules come from (all portions for a namespace package)."""
        if not package.namespace:
            return [os.path.dirname(package.path)] if package.path.endswith("__init__.py") else []
        parts = package.name.split(".")
        return [d for d in (os.path.join(e, *parts) for e in self.sys_path) if os.path.isdir(d)]

    def _find_top(self, name: str) -> Found | None:
        namespace: Found | None = None
        for entry in self.sys_path:
            hit = self.locate(entry, name)
            if hit and not hit[1]:
                return Found(name, hit[0], entry)
            if hit and namespace is None:
                namespace = Found(name, hit[0], entry, namespace=True)
        if namespace is None and name in self._editable:
            path = self._editable[name]
            init = os.path.join(path, "__init__.py")
            return Found(name, init if os.path.exists(init) else path, os.path.dirname(path))
        return namespace

    def nearest(self, dotted: str) -> Found | None:
        """The innermost parent package of ``dotted`` that resolves, or None (not even its top does)."""
        parts = dotted.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            found = self.find(".".join(parts[:depth]))
            if found is not None:
                return found
        return None

    def resolvable(self, dotted: str) -> bool:
        """True when ``dotted`` can be imported: found on the path, built in, or the standard library's."""
        top = dotted.partition(".")[0]
        if top in self.always and (top == dotted or self.find(top) is None):
            return True  # built-in or frozen module whose submodules we cannot list
        return self.find(dotted) is not None

    def is_library(self, path: str) -> bool:
        """True for the standard library's and installed distributions' files (memoized per directory)."""
        directory = os.path.dirname(path)
        known = self._library.get(directory)
        if known is None:
            real = os.path.realpath(directory) + "/"
            known = "/site-packages/" in real or "/dist-packages/" in real or any(
                real.startswith(d.rstrip("/") + "/") for d in self.library_dirs)
            self._library[directory] = known
        return known


_RANK = {"package": 3, "module": 2, "namespace": 1}


def _put(found: dict[str, str], name: str, kind: str) -> None:
    if _RANK[kind] > _RANK.get(found.get(name, ""), 0):
        found[name] = kind


def _split(filename: str) -> tuple[str, str]:
    for ext in _SOURCE:
        if filename.endswith(ext):
            return filename[: -len(ext)], ext
    if filename.endswith(_EXTENSION):
        return filename.split(".")[0], filename[filename.index(".") :]
    return "", ""


def _editable_mappings(sys_path: list[str]) -> dict[str, str]:
    """Top-level names served by setuptools' editable-install finders (``__editable___*_finder.py``)."""
    mapping: dict[str, str] = {}
    for entry in sys_path:
        try:
            names = [n for n in os.listdir(entry) if n.startswith("__editable__") and n.endswith("_finder.py")]
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(entry, name), encoding="utf-8") as handle:
                    tree = ast.parse(handle.read())
            except (OSError, SyntaxError, ValueError):
                continue
            for node in tree.body:
                target = node.target if isinstance(node, ast.AnnAssign) else (
                    node.targets[0] if isinstance(node, ast.Assign) else None)
                if isinstance(target, ast.Name) and target.id == "MAPPING" and node.value is not None:
                    try:
                        value = ast.literal_eval(node.value)
                    except ValueError:
                        continue
                    if isinstance(value, dict):
                        mapping.update({k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)})
    return mapping
