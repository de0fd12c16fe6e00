"""Import cycles among the application's modules, each reported once as its chain of ``file:line`` edges.

A cycle is order-dependent when the module entered first is taken a name from (``from m import
Name`` at module level) by its partner before ``m`` has reached the line that defines ``Name``:
then importing ``m`` first fails, while importing the partner first may work.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from preflight import report as r
from preflight.static.reach import App, runs_at_import, targets
from preflight.static.resolve import Resolver

MAX_PER_GROUP = 20

Edge = tuple[str, str, dict[str, Any]]  # importer, imported, the import record (earliest line)


def cycle_checks(app: App, resolver: Resolver, status: str) -> list[r.Check]:
    graph = _graph(app, resolver)
    checks = []
    for group in _strongly_connected(graph):
        if len(group) < 2:
            continue
        for cycle in _cycles(group, graph):
            checks.append(_check(app, cycle, graph, resolver, status))
    return checks


def _graph(app: App, resolver: Resolver) -> dict[str, dict[str, dict[str, Any]]]:
    """{importer: {imported: earliest record}} over module-level imports between app modules."""
    graph: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in app.modules}
    for name, module in app.modules.items():
        for record in sorted(module.imports, key=lambda rec: rec["line"]):
            if not runs_at_import(record):
                continue
            found = targets(record, resolver)
            if record["kind"] == "from" and len(found) - 1 == len(record["names"]):
                found = found[1:]  # `from pkg import sub, sub2`: only submodules, pkg's own names untouched
            for target in found:
                if target in app.modules and target != name:
                    graph[name].setdefault(target, record)
    return graph


def _strongly_connected(graph: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: deep import chains must not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return sorted(groups)


def _cycles(group: list[str], graph: dict[str, dict[str, Any]]) -> list[list[str]]:
    """One shortest cycle through each edge of the group, without repeats (as rotations)."""
    members = set(group)
    found: dict[tuple[str, ...], list[str]] = {}
    for importer in group:
        for imported in graph[importer]:
            if imported not in members:
                continue
            path = _shortest(imported, importer, graph, members)
            if path is None:
                continue
            cycle = [importer, *path[:-1]] if path[-1] == importer else [importer, *path]
            pivot = cycle.index(min(cycle))
            canonical = tuple(cycle[pivot:] + cycle[:pivot])
            found.setdefault(canonical, list(canonical))
            if len(found) >= MAX_PER_GROUP:
                return list(found.values())
    return list(found.values())


def _shortest(start: str, goal: str, graph: dict[str, dict[str, Any]], members: set[str]) -> list[str] | None:
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])  # type: ignore[arg-type]
            return list(reversed(path))
        for child in graph[node]:
            if child in members and child not in previous:
                previous[child] = node
                queue.append(child)
    return None


def _check(app: App, cycle: list[str], graph: dict[str, dict[str, Any]], resolver: Resolver,
           status: str) -> r.Check:
    edges = [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]
    chain = [{"module": a, "imports": b, "file": app.modules[a].path, "line": graph[a][b]["line"]} for a, b in edges]
    members = set(cycle)
    enterable = [m for m in cycle if not any(m.startswith(p + ".") for p in members)]  # parents run first
    breaks = {entry: _breaks(app, cycle, entry, graph, resolver) for entry in enterable}
    broken = [entry for entry, missing in breaks.items() if missing]
    entered = next((m for m in app.order if m in cycle), None)
    steps = " -> ".join(f"{c['module']} ({c['file']}:{c['line']})" for c in chain) + f" -> {cycle[0]}"
    check = r.Check(kind="static", target=" -> ".join(cycle + [cycle[0]]), status=status, cause="import_cycle",
                    file=chain[0]["file"], line=chain[0]["line"])
    check.details = {"cycle": chain, "order_dependent": bool(broken), "breaks_when_first": broken,
                     "manifest_enters_at": entered,
                     "missing": {e: m for e, m in breaks.items() if m}}
    if not broken:
        check.message = f"import cycle: {steps}. Harmless in any entry order today"
        check.hint = ("no module takes a name from a partner that is still half-run; keep it that way, or break "
                      "the cycle by moving the shared code into a module both import")
        return check
    worst = broken[0]
    first = breaks[worst][0]
    entry_note = ""
    if entered:
        entry_note = (f"; the manifest's imports enter it at {entered}, which "
                      + ("fails" if entered in broken else "works"))
    works = [m for m in enterable if m not in broken]
    check.message = (f"order-dependent import cycle: {steps}. Importing {' or '.join(broken)} first fails: "
                     f"{first['file']}:{first['line']} `from {worst} import {first['name']}` runs while {worst} "
                     f"stopped at line {first['stopped_at']}"
                     + (f" and defines {first['name']} only at line {first['defined_at']}" if first["defined_at"]
                        else f" and {worst} never defines {first['name']} at top level")
                     + (f"; importing {' or '.join(works)} first works" if works else "")
                     + entry_note)
    check.hint = (f"move {first['name']} into a module that imports neither, or replace `from {worst} import "
                  f"{first['name']}` with `import {worst}` and use `{worst}.{first['name']}` at call time, or "
                  f"move that import into the function that needs it")
    return check


def _breaks(app: App, cycle: list[str], entry: str, graph: dict[str, dict[str, Any]],
            resolver: Resolver) -> list[dict[str, Any]]:
    """Names the last module of the cycle takes from ``entry`` while ``entry`` is still half-run."""
    at = cycle.index(entry)
    following, last = cycle[(at + 1) % len(cycle)], cycle[at - 1]
    stopped_at = graph[entry][following]["line"]
    defs = app.modules[entry].facts["defs"]
    missing = []
    for record in app.modules[last].imports:
        if record["kind"] != "from" or record.get("target") != entry or not runs_at_import(record):
            continue
        for name in record["names"]:
            if name == "*" or resolver.find(f"{entry}.{name}"):
                continue  # a submodule is imported on demand, even from a half-run package
            defined = defs.get(name)
            if defined is None or defined >= stopped_at:
                missing.append({"name": name, "file": app.modules[last].path, "line": record["line"],
                                "stopped_at": stopped_at, "defined_at": defined})
    return missing
