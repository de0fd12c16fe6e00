"""The application's own modules reachable from the manifest's imports, with their imports resolved.

Only source files outside the standard library and site-packages count as the application's.
Every import is followed (module level, inside functions, ``import_module("literal")``), so code
the checks do not import at start-up is analysed too.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Any

from preflight.static.cache import Cache, digest
from preflight.static.facts import file_facts
from preflight.static.resolve import Resolver


@dataclass
class Module:
    name: str
    path: str
    root: str
    sha: str
    source: bytes
    facts: dict[str, Any] | None
    imports: list[dict[str, Any]] = field(default_factory=list)  # facts' records plus "target"

    @property
    def is_package(self) -> bool:
        return os.path.basename(self.path) == "__init__.py"


@dataclass
class App:
    modules: dict[str, Module]
    order: list[str]  # first-visit order of a depth-first import from the manifest's entries
    eager: set[str]  # modules that run when the manifest's imports do (module-level, unguarded)
    entries: list[str]


PARALLEL_OVER = 64  # uncached files in one wave before parsing is spread over processes


def reach(entries: list[str], resolver: Resolver, cache: Cache) -> App:
    """Follow imports from ``entries`` through application files, wave by wave; resolve each record."""
    modules: dict[str, Module] = {}
    elsewhere: set[str] = set()  # not application source: stdlib, installed, missing
    wave = _with_parents(entries)
    gc_was_on = gc.isenabled()
    gc.disable()  # parsing thousands of files: collections would only walk the growing cache again
    try:
        while wave:
            loaded = _load_wave([n for n in dict.fromkeys(wave) if n not in modules and n not in elsewhere],
                                resolver, cache, elsewhere)
            wave = []
            for module in loaded:
                modules[module.name] = module
                for record in module.facts["imports"]:
                    target = absolute(module, record)
                    module.imports.append(dict(record, target=target))
                    if target:
                        wave += [n for n in _candidates(target, record, resolver)
                                 if n not in modules and n not in elsewhere]
    finally:
        if gc_was_on:
            gc.enable()
    order = _closure(entries, modules, resolver)
    return App(modules, order, set(order), list(entries))


def _load_wave(names: list[str], resolver: Resolver, cache: Cache, elsewhere: set[str]) -> list[Module]:
    """Read, hash and (from the cache, or by parsing) describe each application module in ``names``."""
    loaded: list[Module] = []
    todo: list[Module] = []
    for name in names:
        found = resolver.find(name)
        if found is None or found.namespace or not found.path.endswith(".py") or resolver.is_library(found.path):
            elsewhere.add(name)
            continue
        try:
            with open(found.path, "rb") as handle:
                source = handle.read()
        except OSError:
            elsewhere.add(name)
            continue
        sha = digest(source)
        module = Module(name, found.path, found.root, sha, source, cache.get(sha, "facts"))
        loaded.append(module)
        if module.facts is None:
            todo.append(module)
    for module, facts in zip(todo, _parse_all([(m.source, m.path) for m in todo])):
        module.facts = facts
        cache.put(module.sha, "facts", facts)
    return loaded


def _parse_all(items: list[tuple[bytes, str]]) -> list[dict[str, Any]]:
    """``file_facts`` for each item; in two or more forked processes when there are many."""
    workers = min(os.cpu_count() or 1, 4)
    if len(items) < PARALLEL_OVER or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [file_facts(source, path) for source, path in items]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_facts_of, items, chunksize=max(1, len(items) // (workers * 4))))


def _facts_of(item: tuple[bytes, str]) -> dict[str, Any]:
    return file_facts(*item)


def absolute(module: Module, record: dict[str, Any]) -> str | None:
    """The absolute module name an import record means, or None for a relative import out of bounds."""
    level = record["level"]
    if not level:
        return record["module"]
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    if level - 1 > len(package) or (level - 1 == len(package) and not record["module"]):
        return None
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([record["module"]] if record["module"] else [])) or None


def targets(record: dict[str, Any], resolver: Resolver) -> list[str]:
    """The modules an import record runs: the module itself, and for ``from M import n`` any submodule ``M.n``."""
    target = record.get("target")
    if not target:
        return []
    found = [target]
    if record["kind"] == "from":
        found += [f"{target}.{n}" for n in record["names"] if n != "*" and resolver.find(f"{target}.{n}")]
    return found


def _candidates(target: str, record: dict[str, Any], resolver: Resolver) -> list[str]:
    return _with_parents(targets(dict(record, target=target), resolver))


def _with_parents(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        parts = name.split(".")
        out += [".".join(parts[: i + 1]) for i in range(len(parts))]
    return list(dict.fromkeys(out))


def runs_at_import(record: dict[str, Any]) -> bool:
    return record["scope"] != "function" and not record["type_checking"]


def _closure(entries: list[str], modules: dict[str, Module], resolver: Resolver) -> list[str]:
    """Modules run by importing ``entries`` in order, depth first, as Python would import them."""
    seen: dict[str, None] = {}

    def visit(name: str) -> None:
        stack = [iter([name])]
        while stack:
            current = next(stack[-1], None)
            if current is None:
                stack.pop()
                continue
            if current in seen or current not in modules:
                continue
            seen[current] = None
            records = [r for r in modules[current].imports if runs_at_import(r) and not r["guarded"]]
            following = [n for r in sorted(records, key=lambda r: r["line"]) for n in
                         _with_parents(targets(r, resolver))]
            stack.append(iter(following))

    for entry in entries:
        for name in _with_parents([entry]):
            visit(name)
    return list(seen)
