"""Turn what a check interpreter left behind into checks: cause code, app file:line, and a hint.

Causes are read from exception attributes (``name``, ``path``, ``obj``, ``filename``, ``lineno``)
and from the traceback's frames, never from message text (the dynamic loader's error string aside:
see ``native``).
"""

from __future__ import annotations

import linecache
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from preflight import (config_diagnosis, dependency_diagnosis, file_diagnosis, hang_diagnosis, installed, logging_diagnosis, native,
                       network_diagnosis, newer_python, path_advice, relative_import, removed_stdlib, search, source,
                       system_diagnosis)
from preflight import report as r
from preflight.pip_names import pip_name
from preflight.runner import CHILD_DIR, Outcome
from preflight.spec import ImportTarget
from preflight.suggest import close_names


@dataclass
class Context:
    """What diagnosis needs to know about the place the checks ran."""

    workdir: str
    manifest_dir: str
    sys_path: list[str]
    prefixes: tuple[str, ...]
    uid: int | None = None
    app_tops: set[str] = field(default_factory=set)
    pythonpath: str | None = None  # the checked environment's PYTHONPATH
    flags: dict[str, Any] = field(default_factory=dict)  # the checked interpreter's sys.flags that shape sys.path
    env_names: frozenset[str] = frozenset()  # the variables set in the checked environment
    env_empty: frozenset[str] = frozenset()  # those of them set to ""
    python_version: tuple[int, ...] | None = None  # the checked interpreter's

    def is_app_file(self, path: str | None) -> bool:
        """True for the application's own code: not the stdlib, not site-packages, not preflight."""
        if not path or path.startswith("<") or not os.path.isabs(path):
            return False
        if path.startswith(CHILD_DIR):
            return False
        if "/site-packages/" in path or "/dist-packages/" in path:  # the app itself may be pip-installed
            installed = path.split("-packages/", 1)[1]
            return installed.split("/", 1)[0].removesuffix(".py") in self.app_tops
        return not any(path.startswith(p.rstrip("/") + "/") for p in self.prefixes if "-packages" not in p)

    def search_roots(self) -> list[tuple[str, int]]:
        """Where to look for a module's files, and how deep: the working and manifest directories and
        the application's sys.path entries, and only the siblings of those entries (their parent may
        be ``/`` in a container: never walk the whole filesystem)."""
        deep = [self.workdir, self.manifest_dir]
        near = []
        for entry in self.sys_path:
            if entry and os.path.isabs(entry) and self.is_app_file(os.path.join(entry, "x")):
                deep.append(entry)
                near.append(os.path.dirname(entry))
        deep = list(dict.fromkeys(os.path.realpath(p) for p in deep))
        near = [p for p in dict.fromkeys(os.path.realpath(p) for p in near) if p not in deep]
        return [(p, search.MAX_DEPTH) for p in deep] + [(p, 1) for p in near]

    @property
    def path0(self) -> str:
        """The server's ``sys.path[0]``: the working directory, or a script's directory."""
        return (self.sys_path[0] if self.sys_path else "") or self.workdir

    def how_to_reach(self, root: str) -> str:
        return path_advice.how_to_reach(root, self.workdir, self.path0, self.pythonpath, self.flags)

    def on_sys_path(self, directory: str) -> bool:
        real = os.path.realpath(directory)
        return any(os.path.realpath(e or self.workdir) == real for e in self.sys_path)

    def module_name(self, path: str) -> str | None:
        """The dotted module name ``path`` has under the sys.path entry that holds it."""
        best: str | None = None
        for entry in self.sys_path:
            base = os.path.realpath(entry or self.workdir)
            real = os.path.realpath(path)
            if real.startswith(base + os.sep):
                rel = os.path.splitext(os.path.relpath(real, base))[0].split(os.sep)
                if rel[-1] == "__init__":
                    rel = rel[:-1]
                name = ".".join(rel)
                if best is None or len(name) < len(best):
                    best = name
        return best


def diagnose_import(target: ImportTarget, outcome: Outcome, ctx: Context) -> list[r.Check]:
    """The import check for ``target`` and one check per symbol it must define."""
    check = r.Check(kind="import", target=target.module, duration_ms=outcome.duration_ms)
    result = outcome.result
    if outcome.timed_out:
        _timed_out(check, target, outcome, ctx)
    elif result is None:
        _died(check, outcome, ctx)
    elif result.get("error"):
        _failed_import(check, target, result, ctx)
    if check.status != r.PASSED:
        if outcome.output_tail:
            check.output = outcome.output_tail
            if outcome.output_bytes > len(outcome.output_tail.encode()):
                check.details["output_bytes"] = outcome.output_bytes
        return [check] + [
            r.Check(kind="symbol", target=f"{target.module}:{s}", status=r.SKIPPED,
                    message=f"not checked: {target.module} did not import")
            for s in target.symbols
        ]
    if result and result.get("module_file"):
        check.details["resolved"] = result["module_file"]
    return [check] + [_symbol(target, entry, ctx) for entry in (result or {}).get("symbols", [])]


def _symbol(target: ImportTarget, entry: dict[str, Any], ctx: Context) -> r.Check:
    check = r.Check(kind="symbol", target=f"{target.module}:{entry['name']}")
    if entry["found"]:
        return check
    check.status = r.FAILED
    if entry.get("error"):  # resolving it raised (a lazy module __getattr__ failing)
        _diagnose_error(check, target, entry["error"], entry.get("traceback"), ctx)
        return check
    name = entry.get("missing") or entry["name"].split(".")[-1]
    owner = ".".join(filter(None, [target.module, entry.get("owner")]))
    facts = {"type": "AttributeError", "name": name, "obj_module": owner,
             "obj_file": entry.get("owner_file"), "candidates": entry.get("candidates", []),
             "modules": entry.get("modules", {}), "frames": []}
    check.error_type = "AttributeError"
    if owner != target.module and entry.get("owner_type") != "module":
        _attribute_missing(check, target, entry, owner, name)
    elif not _unreadable(check, owner, facts, ctx) and not _shadowed(check, owner, name, facts, ctx):
        _symbol_missing(check, owner, name, facts, ctx)
    if not check.file and entry.get("owner_file"):
        check.file = entry["owner_file"]
    return check


def _attribute_missing(check: r.Check, target: ImportTarget, entry: dict[str, Any], owner: str, name: str) -> None:
    """``module:obj.attr`` where ``obj`` (not a module) lacks ``attr``: name the object, not the module."""
    close = close_names(name, entry.get("candidates") or [])
    module_file = (entry.get("modules", {}).get(target.module) or {}).get("file")
    bound = entry["owner"].split(".")[0]
    check.file = module_file
    check.line = source.definition_line(module_file, bound) if module_file else None
    check.cause = "symbol_missing"
    check.details.update(module=target.module, object=owner, object_type=entry.get("owner_type"), name=name,
                         module_file=module_file, did_you_mean=close)
    check.message = f"{owner} has no attribute {name!r}"
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    where = f", bound at {check.file}:{check.line}" if check.line else ""
    check.hint = (f"{owner} (a {entry.get('owner_type')} object{where}) has no attribute {name!r}.{suggestion} "
                  f"Add it to that object (or its class), or fix the name")


def _failed_import(check: r.Check, target: ImportTarget, result: dict[str, Any], ctx: Context) -> None:
    check.status = r.FAILED
    _diagnose_error(check, target, result["error"], result.get("traceback"), ctx)


def _diagnose_error(check: r.Check, target: ImportTarget, outer: dict[str, Any], trace: str | None,
                    ctx: Context) -> None:
    """Cause, file:line and hint from the root failure; the wrapper the app raised instead, if any,
    in ``details.wrapped_by``."""
    root = _root_cause(outer, ctx)
    check.stack_trace = trace or None
    check.error_type = root["type"]
    check.message = root["message"]
    _classify(check, target, root, ctx)
    if root is not outer:
        frame = _innermost_app_frame(outer["frames"], ctx)
        check.details["wrapped_by"] = {
            "error_type": outer["type"], "message": outer["message"],
            "file": frame["file"] if frame else None, "line": frame["line"] if frame else None,
        }
        if logging_diagnosis.raised_here(outer):
            logging_diagnosis.explain(check, outer)
    elif check.cause == "import_error" and logging_diagnosis.raised_here(outer):
        logging_diagnosis.refused(check, outer, outer.get("chain", []))


def _root_cause(outer: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Where the failure arose: follow the chain inward while each exception wraps the next one.
    The root's frames start where it was caught; the wrapper's frames above that are prepended,
    so the root's stack runs from the import down (and may hold the only app frame)."""
    root = outer
    chain = outer.get("chain", [])
    for i, inner in enumerate(chain):
        if not _wraps(root, inner) or not (_app_wraps(root, inner, ctx) or logging_diagnosis.wraps(root, chain[i:])):
            break
        root = {**inner, "frames": _callers(root["frames"], inner["frames"]) + inner["frames"], "chain": chain[i + 1:]}
    return root


def _callers(outer: list[dict[str, Any]], inner: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The frames of ``outer`` above the one that caught the exception ``inner`` describes."""
    if inner:
        for i in range(len(outer) - 1, -1, -1):
            if (outer[i]["file"], outer[i]["function"]) == (inner[0]["file"], inner[0]["function"]):
                return outer[:i]
    return []


def _app_wraps(outer: dict[str, Any], inner: dict[str, Any], ctx: Context) -> bool:
    """Your code raised the wrapper, or the failure it wraps arose in (or passed through) your code. A
    library translating its own internals (importlib.metadata's ``StopIteration`` into
    ``PackageNotFoundError``) is one failure: the library's exception."""
    raised = outer["frames"][-1]["file"] if outer["frames"] else None
    return ctx.is_app_file(raised) or any(ctx.is_app_file(f["file"]) for f in inner["frames"])


def _wraps(outer: dict[str, Any], inner: dict[str, Any]) -> bool:
    """``outer`` re-raises ``inner``: chained on purpose (``raise ... from e``), or raised by the
    ``except`` block itself, in the frame that caught ``inner`` (``raise RuntimeError(...)``,
    ``sys.exit(...)``). An exception that arose deeper, in a function the handler called, is a
    failure of its own and ``inner`` only its context."""
    if inner.get("via") == "cause":
        return True
    if not outer["frames"] or not inner["frames"]:
        return False
    raised, caught = outer["frames"][-1], inner["frames"][0]
    return (raised["file"], raised["function"]) == (caught["file"], caught["function"])


def _classify(check: r.Check, target: ImportTarget, facts: dict[str, Any], ctx: Context) -> None:
    bases = facts["bases"]
    frame = _innermost_app_frame(facts["frames"], ctx)
    if frame:
        check.file, check.line = frame["file"], frame["line"]
    if "SyntaxError" in bases:
        check.cause = "syntax_error"
        check.file, check.line = facts.get("filename") or check.file, facts.get("lineno") or check.line
        text = (facts.get("text") or "").strip()
        check.hint = f"fix the syntax at {check.file}:{check.line}" + (f": `{text}`" if text else "")
        needs = newer_python.syntax_needs(text, ctx.python_version)
        if needs:
            check.details["needs"] = needs
            check.hint = f"{newer_python.advice(needs, ctx.python_version)} ({check.file}:{check.line}: `{text}`)"
    elif relative_import.diagnose(check, facts, frame, ctx):
        pass
    elif native.diagnose(check, facts, ctx):
        if check.details.get("raised_by") == "init":
            dependency_diagnosis.built_against(check, facts, ctx)
    elif facts.get("distribution"):
        _metadata_missing(check, facts["distribution"], facts["type"], ctx)
    elif logging_diagnosis.missing_attribute(check, facts):
        pass
    elif dependency_diagnosis.refused_name(check, facts, ctx):
        pass
    elif "ModuleNotFoundError" in bases:
        _module_not_found(check, target, facts, ctx)
    elif "ImportError" in bases and facts.get("name") and facts.get("name_from"):
        name = facts["name_from"]
        _missing_name(check, facts["name"], name, facts, ctx)
    elif "AttributeError" in bases and facts.get("obj_module"):
        _missing_name(check, facts["obj_module"], facts.get("name") or "?", facts, ctx)
    elif system_diagnosis.diagnose(check, facts):
        pass
    elif "KeyError" in bases and _reads_environ(facts["frames"]):
        config_diagnosis.environ_key_missing(check, facts.get("key") or "?", ctx.workdir)
    elif "NameError" in bases:
        _name_error(check, facts)
    elif file_diagnosis.diagnose(check, facts, ctx.workdir, ctx.uid):
        pass
    elif "PermissionError" in bases:
        _permission_denied(check, facts.get("filename") or check.file, ctx)
    elif "SystemExit" in bases:
        check.cause = "exited"
        check.details["exit_code"] = facts.get("code")
        check.hint = (f"importing {target.module} called sys.exit({facts.get('code')!r}); "
                      "move that call under `if __name__ == \"__main__\":` or into a function")
    elif network_diagnosis.diagnose(check, facts):
        pass
    elif config_diagnosis.diagnose(check, facts, ctx.env_names - ctx.env_empty, ctx.env_empty, ctx.workdir):
        pass
    elif frame and _stdlib_name(ctx.module_name(frame["file"])):
        name = ctx.module_name(frame["file"])
        check.cause = "shadowed"
        check.details.update(loaded=frame["file"], stdlib=True, hidden=[])
        check.hint = (f"{frame['file']} takes the name of the standard library's {name!r}, so `import {name}` "
                      f"runs it instead (and it raised {facts['type']}). Rename it, and the imports of it")
    else:
        check.cause = "import_error"
        where = f" at {check.file}:{check.line}" if check.file else ""
        check.hint = f"importing {target.module} raised {facts['type']}{where}; fix the code there"
        if "EOFError" in bases and frame and "input(" in linecache.getline(frame["file"], frame["line"]):
            check.details["reads_stdin"] = True
            check.hint = (f"{check.file}:{check.line} calls input() at import, and stdin is not a terminal: a container "
                          f"started without -i has none, so input() raises EOFError (with one, the server would "
                          f"wait for a keyboard forever). Read the value from an environment variable or a "
                          f"mounted secret file instead")
        needs = newer_python.union_needs(facts.get("message") or "", ctx.python_version) if "TypeError" in bases else None
        if needs:
            check.details["needs"] = needs
            check.hint = f"{newer_python.advice(needs, ctx.python_version)} ({check.file}:{check.line})"
        else:
            dependency_diagnosis.violated(check, facts, ctx)
        if "Warning" in bases:
            check.hint += (f", or stop this warning becoming an error: the server's interpreter runs with a "
                           f"warnings filter of `error` (`python -W error`, PYTHONWARNINGS); a narrower one, "
                           f"such as -W 'ignore::{facts['type']}', lets it through")


def _missing_name(check: r.Check, module: str, name: str, facts: dict[str, Any], ctx: Context) -> None:
    """``module`` lacks ``name``: a cycle, a twin, an unreadable directory, a library asking another
    installed version (or Python) for it, or just not defined."""
    for explain in (_circular, _shadowed, dependency_diagnosis.missing_name):
        if explain(check, module, name, facts, ctx):
            return
    if _unreadable(check, module, facts, ctx):
        return
    state = facts.get("modules", {}).get(module) or {}
    if state.get("loaded") and not state.get("file") and "ImportError" in facts.get("bases", ()):
        # ``from namespace_pkg import sub``: a namespace package has nothing but submodules
        _module_not_found(check, ImportTarget(f"{module}.{name}"), {**facts, "name": f"{module}.{name}"}, ctx)
        return
    _symbol_missing(check, module, name, facts, ctx)


def _unreadable(check: r.Check, module: str, facts: dict[str, Any], ctx: Context) -> bool:
    """A package directory this user cannot read: Python loads it as an empty namespace package."""
    state = facts.get("modules", {}).get(module) or {}
    if state.get("file"):
        return False
    for location in state.get("locations") or []:
        if os.path.isdir(location) and not os.access(location, os.R_OK | os.X_OK):
            _permission_denied(check, location, ctx)
            return True
    return False


def _permission_denied(check: r.Check, path: str, ctx: Context) -> None:
    check.cause = "permission_denied"
    check.file, check.line = path, None
    check.details.update(path=path, uid=ctx.uid)
    check.hint = (f"{path} is not readable by uid {ctx.uid}, so Python cannot load it. Fix ownership or "
                  f"mode in the image (COPY --chown=<user>, chmod -R a+rX), or run as a user that can read it")


def _reads_environ(frames: list[dict[str, Any]]) -> bool:
    """The exception came out of ``os.environ[...]`` (the stdlib's ``os._Environ.__getitem__``)."""
    if not frames or frames[-1]["function"] != "__getitem__":
        return False
    return frames[-1]["file"] == "<frozen os>" or frames[-1]["file"].endswith(os.sep + "os.py")


def _stdlib_name(module: str | None) -> bool:
    return bool(module) and "." not in module and module in getattr(sys, "stdlib_module_names", ())


def _innermost_app_frame(frames: list[dict[str, Any]], ctx: Context) -> dict[str, Any] | None:
    for frame in reversed(frames):
        if ctx.is_app_file(frame["file"]):
            return frame
    return None


def _module_frames(frames: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """The module-level frames of app code: the chain of imports in progress, outermost first."""
    return [f for f in frames if f["function"] == "<module>" and ctx.is_app_file(f["file"])]


def _circular(check: r.Check, module: str, name: str, facts: dict[str, Any], ctx: Context) -> bool:
    """A name taken from a module that is itself still running its top level: a cycle."""
    state = facts.get("modules", {}).get(module, {})
    module_file = facts.get("path") or facts.get("obj_file") or state.get("file")
    chain = _module_frames(facts["frames"], ctx)
    files = [os.path.realpath(f["file"]) for f in chain]
    if not module_file or os.path.realpath(module_file) not in files[:-1]:
        return False
    start = files.index(os.path.realpath(module_file))
    cycle = chain[start:]
    steps = [f"{ctx.module_name(f['file']) or f['file']} ({f['file']}:{f['line']})" for f in cycle]
    check.cause = "circular_import"
    check.file, check.line = cycle[-1]["file"], cycle[-1]["line"]
    defined_at = source.definition_line(module_file, name)
    check.details.update(cycle=[{"module": ctx.module_name(f["file"]), "file": f["file"], "line": f["line"]}
                                for f in cycle], missing_name=name, partial_module=module)
    later = f" (defined at line {defined_at}, after its import at line {cycle[0]['line']})" if defined_at else ""
    asker = ctx.module_name(cycle[-1]["file"])
    path = " -> ".join(steps) + f" -> back to {module}"
    if "AttributeError" in facts["bases"]:  # ``import app.x as x`` went through; ``x.Y`` at module level did not
        check.message = f"module {module!r} has no attribute {name!r} yet: it is partially initialized: {path}"
        check.hint = (f"{module} is still running its top level when {asker} reads its attribute {name!r} at "
                      f"module level ({cycle[-1]['file']}:{cycle[-1]['line']}){later}. Importing the module in a "
                      f"cycle is fine, using its names while it loads is not: read {name!r} at call time (inside "
                      f"the function or method that needs it), or move {name!r} into a module both import")
        return True
    check.message = f"cannot import name {name!r} from partially initialized module {module!r}: {path}"
    check.hint = (f"{module} is still running its top level when {asker} asks it for "
                  f"{name!r}{later}. Break the cycle: move the shared name into a module both import, or "
                  f"import the module (`import {module}`) and use `{module}.{name}` at call time, "
                  f"or move the import inside the function that needs it")
    return True


def _shadowed(check: r.Check, module: str, name: str | None, facts: dict[str, Any], ctx: Context) -> bool:
    """A module whose name stands twice on the search path: Python loaded one and hid the other."""
    state = facts.get("modules", {}).get(module) or {}
    locations = state.get("locations") or []
    loaded = state.get("file") or facts.get("obj_file") or facts.get("path")
    if not loaded and locations:
        loaded = locations[0]
    hidden = [p for p in locations if loaded and os.path.realpath(p) != os.path.realpath(loaded)]
    stdlib = state.get("stdlib") and ctx.is_app_file(loaded) and "." not in module
    if not loaded or not (hidden or stdlib) or os.path.isdir(loaded):
        return False  # a namespace package spans several directories by design
    check.cause = "shadowed"
    importer = _innermost_app_frame(facts.get("frames") or [], ctx)
    portion = next((h for h in hidden if os.path.isdir(h)), None)  # a directory without __init__.py
    if importer and (portion or not ctx.is_app_file(loaded)):  # the loaded one is not what to fix
        check.file, check.line = importer["file"], importer["line"]
    else:
        check.file, check.line = loaded, None
    why = _why_loaded(module, loaded, hidden, portion)
    defines = {h: source.defines(h, name) for h in hidden} if name else {}
    check.details.update(loaded=loaded, hidden=hidden, why=why, hidden_defines=defines, stdlib=bool(stdlib))
    what = f"the standard library's {module}" if stdlib and not hidden else " and ".join(hidden)
    check.message = (f"{module} resolved to {loaded}, which hides {what}"
                     + (f"; {name!r} is missing from the one Python loaded" if name else ""))
    if importer:
        check.details["imported_at"] = f"{importer['file']}:{importer['line']}"
    has = next((h for h, ok in defines.items() if ok), None)
    if portion:
        fix = _portion_fix(module, loaded, portion, locations)
    elif stdlib or (hidden and not ctx.is_app_file(hidden[0])):
        fix = f"rename {loaded} (and the imports of it) so it no longer takes the name {module!r}"
    elif has and loaded.endswith("__init__.py"):
        fix = (f"{has} defines {name!r} but Python never loads it: move its code into the package "
               f"(e.g. {os.path.join(os.path.dirname(loaded), 'base.py')}), re-export {name!r} from {loaded}, "
               f"then delete {has}")
    elif has:
        fix = (f"{has} defines {name!r} but {loaded} comes first: remove or rename {loaded}, or put "
               f"{os.path.dirname(has)} earlier on PYTHONPATH")
    else:
        fix = f"keep one of them: delete or rename the other so {module!r} means one file"
    check.hint = f"{why[0].upper()}{why[1:]}. {fix[0].upper()}{fix[1:]}"
    return True


def _why_loaded(module: str, loaded: str, hiding: list[str], portion: str | None) -> str:
    if portion:
        return (f"{portion} has no __init__.py, so it is only a namespace package portion: a regular package "
                f"or module named {module!r} anywhere on sys.path ({loaded}) wins over it, whatever the order")
    hidden = hiding[0] if hiding else None
    if hidden and os.path.dirname(os.path.dirname(loaded)) == os.path.dirname(hidden) and loaded.endswith(
        "__init__.py"
    ):
        return "a package directory wins over a module file of the same name in one directory"
    if hidden:
        return "Python takes the first match on sys.path, and the loaded one's directory comes first"
    return "the working directory comes first on sys.path, ahead of the standard library"


def _portion_fix(module: str, loaded: str, portion: str, locations: list[str]) -> str:
    order = [os.path.realpath(p) for p in locations]
    rename = f"rename {portion} (and the imports of it) so it no longer takes the name {module!r}"
    if order.index(os.path.realpath(portion)) > order.index(os.path.realpath(loaded)):
        return rename
    return (f"{rename}, or add {os.path.join(portion, '__init__.py')} to make it a regular package (it comes "
            f"first on sys.path, so it would then hide {loaded} from every import of {module!r})")


def _symbol_missing(check: r.Check, module: str, name: str, facts: dict[str, Any], ctx: Context) -> None:
    state = facts.get("modules", {}).get(module, {})
    candidates = facts.get("candidates") or state.get("candidates") or []
    close = close_names(name, candidates)
    where = state.get("file") or facts.get("obj_file") or facts.get("path")
    check.cause = "symbol_missing"
    check.details.update(module=module, name=name, module_file=where, did_you_mean=close)
    check.message = check.message or f"{module} has no attribute {name!r}"
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    if state.get("stdlib") and not ctx.is_app_file(where):
        running = f"Python {'.'.join(map(str, ctx.python_version[:2]))}" if ctx.python_version else "this Python"
        check.hint = (f"the standard library's {module} in {running} has no {name!r}.{suggestion} It was removed or "
                      f"renamed in this version: update the code, or use the Python version it was written for")
    elif where and (not ctx.is_app_file(where) or dependency_diagnosis.library(where, ctx)):
        # a library (the manifest may list one): the installed version is not the one the code expects
        owner = installed.owner(where, ctx.sys_path)
        if owner:
            check.details["distribution"] = {"name": owner.name, "version": owner.version}
        version = f"the installed {owner}" if owner else "this installed version"
        pinned = owner.name if owner else f"it (pip show {module.split('.')[0]})"
        check.hint = (f"{module} ({where}) is not your code, and {version} has no {name!r}: it was removed, renamed "
                      f"or moved, or is not there yet.{suggestion} Update the code for {version}, or pin {pinned} "
                      f"to the version your code was written for")
    else:
        check.hint = f"{module} ({where}) defines no {name!r}.{suggestion} Define or re-export it there, or fix the name"


def _name_error(check: r.Check, facts: dict[str, Any]) -> None:
    name = facts.get("name") or "?"
    check.cause = "name_error"
    check.details.update(name=name, importable_module=bool(facts.get("name_is_module")))
    where = f"{check.file}:{check.line}" if check.file else "module level"
    if facts.get("name_is_module"):
        check.hint = f"missing `import {name}`? {name!r} is used at {where} but never imported in that module"
    else:
        check.hint = f"{name!r} is used at {where} before it is defined or imported: define or import it first"


def _module_not_found(check: r.Check, target: ImportTarget, facts: dict[str, Any], ctx: Context) -> None:
    missing = facts.get("name") or target.module
    importer = _innermost_app_frame(facts["frames"], ctx)
    named_by = target.named_by or "the manifest's imports"  # or what else names it: init's entry point, CMD
    where = f"{importer['file']}:{importer['line']}" if importer else f"{named_by} ({target.module})"
    listed = config_diagnosis.installed_app_import(facts) and config_diagnosis.installed_apps_line(facts, missing)
    if listed:  # Django importing an INSTALLED_APPS entry: the settings line lists it, not the wsgi.py that set up
        file, _, line = listed.rpartition(":")
        check.file, check.line = (file, int(line)) if line.isdigit() else (listed, None)
        where = f"{listed}, in INSTALLED_APPS"
    check.details.update(missing=missing, imported_from=where)
    states = facts.get("modules", {})
    parent = ".".join(missing.split(".")[:-1])
    parent_facts = {"modules": states, "frames": facts["frames"]}
    if parent and parent in states and _shadowed(check, parent, None, parent_facts, ctx):
        check.hint += f". {missing!r} was imported at {where}"
        return
    if dependency_diagnosis.missing_module(check, missing, facts, ctx):
        return
    found = search.find_module_files(missing, ctx.search_roots())
    top = missing.split(".")[0]
    if found.denied:
        _permission_denied(check, found.denied, ctx)
        return
    off_path = [f for f in found.sources if not ctx.on_sys_path(f.root)]
    note = ""
    if found.sources and len(off_path) == len(found.sources):
        blockers = [(f, path_advice.blocking_package(missing, f.root, states)) for f in off_path]
        copies = {f.path: path_advice.other_copy(f.root, top, ctx.app_tops, ctx.sys_path, ctx.workdir)
                  for f in off_path}
        fixable = [f for f, blocker in blockers if blocker is None and copies[f.path] is None]
        if fixable:
            place = fixable[0]
            check.cause = "not_on_sys_path"
            check.details.update(found_at=place.path, root=place.root)
            fix = ctx.how_to_reach(place.root)
            check.hint = (f"{missing} exists at {place.path}, but {place.root} is not on sys.path "
                          f"(imported at {where}). {fix[0].upper()}{fix[1:]}")
            return
        check.details["found_elsewhere"] = [f.path for f in off_path]
        copy, blocker = blockers[0]
        if blocker:
            note = (f". A copy at {copy.path} cannot stand in: {blocker[0]!r} is the package imported from "
                    f"{blocker[1]}, and its submodules come from its own directory only")
        else:
            name, here = copies[copy.path]
            note = (f". A copy at {copy.path} belongs to another copy of the application ({copy.root} also holds "
                    f"{name}, imported here from {here}): putting it on sys.path would mix the two")
    check.cause = "module_not_found"
    twin = search.case_twin(missing, _package_dirs(parent, states) if parent else ctx.sys_path)
    if twin:
        check.details["case_differs"] = twin
        check.hint = (f"{missing} is not found, but {twin} differs from it only in letter case (imported at {where}). "
                      f"Linux file systems tell case apart, macOS and Windows ones usually do not, so it imports "
                      + ("there: rename one to match (git mv, as a case-only rename needs), or fix the import"
                         if ctx.is_app_file(twin) or ctx.is_app_file(os.path.join(twin, "__init__.py"))
                         else "there: spell the import as the installed module is named"))
        return
    if found.bytecode:
        check.details["bytecode_only"] = found.bytecode
        check.hint = (f"only bytecode of {missing} is left ({found.bytecode}); its source is missing. "
                      f"Check .dockerignore and the COPY steps (imported at {where}){note}")
        return
    gone = removed_stdlib.removed(top, ctx.python_version)
    if gone and top not in ctx.app_tops and not dependency_diagnosis.removed_module(check, top, gone, facts, ctx):
        check.details.update(removed_in=gone[0], replacement=gone[1])
        check.hint = (f"{top} was removed from the standard library in Python {gone[0]} (imported at {where}); the "
                      f"checked interpreter is Python {'.'.join(map(str, ctx.python_version[:2]))}. Use "
                      f"{gone[1]} instead, or run the Python the code was written for")
    if gone and top not in ctx.app_tops:
        return
    if top not in ctx.app_tops and not search.exists_in_app(top, ctx.search_roots()):
        pip = pip_name(_asked_for(missing, target, importer))
        check.cause = "distribution_missing"
        check.details["install"] = pip
        check.hint = f"no installed distribution provides {top!r} (imported at {where}): pip install {pip}"
        dependency_diagnosis.required_by(check, top, pip, facts, ctx)
        if listed:
            check.hint += (", or remove it from INSTALLED_APPS if the image is not meant to have it (a development "
                           "app such as debug_toolbar or django_extensions left in the production settings)")
        return
    close = [f"{parent}.{c}" for c in search.close_names(missing, _package_dirs(parent, states))] if parent else []
    if close:
        check.details["did_you_mean"] = close
    suggestion = f" Did you mean {', '.join(close)}?" if close else ""
    check.hint = (f"{missing} is not in the image or tree (imported at {where}).{suggestion} Check that it was not "
                  f"left out by .dockerignore or a COPY step, and the spelling of the import{note}")


def _package_dirs(package: str, states: dict[str, Any]) -> list[str]:
    """The directory the imported package ``package`` takes its submodules from, if known."""
    loaded = (states.get(package) or {}).get("file")
    return [os.path.dirname(loaded)] if loaded and os.path.basename(loaded) == "__init__.py" else []


def _metadata_missing(check: r.Check, name: str, error_type: str, ctx: Context) -> None:
    """``importlib.metadata.version("svc")``, ``pkg_resources.get_distribution("svc")``: no such distribution."""
    check.cause = "distribution_missing"
    check.details.update(distribution=name, install=name)
    where = f"{check.file}:{check.line}" if check.file else "the import"
    project = source.project_file(name, [ctx.workdir, ctx.manifest_dir])
    if project or name.replace("-", "_") in ctx.app_tops:
        check.details["own_project"] = project
        fix = (f"{name!r} is this service's own project{f' ({project})' if project else ''}, whose code was copied "
               f"into the image but never installed: install it there (pip install --no-deps .), or fall back to a "
               f"default when it is not installed (catch {error_type})")
    else:
        fix = f"pip install {name}, or fall back when it is not installed"
    check.hint = (f"{where} reads the metadata of the distribution {name!r} (its version, entry points), and no "
                  f"distribution of that name is installed for this interpreter: {fix}")


def _asked_for(missing: str, target: ImportTarget, importer: dict[str, Any] | None) -> str:
    """The full dotted name the failing import asked for (``google.cloud.storage``), of which Python
    names only the first missing part (``google``)."""
    names = source.imported_names(importer["file"], importer["line"]) if importer else []
    return next((n for n in [*names, target.module] if n == missing or n.startswith(missing + ".")), missing)


def _timed_out(check: r.Check, target: ImportTarget, outcome: Outcome, ctx: Context) -> None:
    check.status = r.TIMED_OUT
    check.cause = "timeout"
    frames = search.faulthandler_frames(outcome.stack_dump)
    frame = _innermost_app_frame(frames, ctx)
    if frame:
        check.file, check.line = frame["file"], frame["line"]
    check.stack_trace = outcome.stack_dump or None
    check.message = f"importing {target.module} did not finish within {target.timeout:g}s"
    where = f" at {check.file}:{check.line}" if check.file else ""
    waiting = hang_diagnosis.waiting_on(outcome.stack_dump, frames, frame, ctx.is_app_file)
    if waiting:
        check.details["waiting_on"] = waiting["kind"]
    what = f", waiting on {waiting['what']}" if waiting else ""
    check.hint = (f"the import hung{where}{what}: move network calls, locks and waits out of module level "
                  f"(into startup hooks, with a timeout), or raise its timeout in the manifest if it is just slow")


def _died(check: r.Check, outcome: Outcome, ctx: Context) -> None:
    check.status = r.FAILED
    frames = search.faulthandler_frames(outcome.stack_dump)
    frame = _innermost_app_frame(frames, ctx)
    if frame:
        check.file, check.line = frame["file"], frame["line"]
    where = f" at {check.file}:{check.line}" if check.file else ""
    if outcome.signal_name:
        check.cause = "crashed"
        check.error_type = outcome.signal_name
        check.message = f"the interpreter was killed by {outcome.signal_name} while importing{where}"
        check.hint = ("a C extension crashed or the process was killed (out of memory?); "
                      "the stack at the crash is in stack_trace")
        check.stack_trace = outcome.stack_dump or None
    else:
        check.cause = "exited"
        check.details["exit_code"] = outcome.returncode
        check.message = f"the interpreter exited with status {outcome.returncode} while importing{where}"
        check.hint = ("something at import time ended the process (os._exit, sys.exit in a thread, "
                      "exec): move it under `if __name__ == \"__main__\":`")
