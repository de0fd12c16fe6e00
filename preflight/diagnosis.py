"""Turn what a check interpreter left behind into checks: cause code, app file:line, and a hint.

Causes are read from exception attributes (``name``, ``path``, ``obj``, ``filename``, ``lineno``)
and from the traceback's frames, never from message text.
"""

from __future__ import annotations

import ast
import difflib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from preflight import report as r
from preflight import search
from preflight.runner import CHILD_DIR, Outcome
from preflight.spec import ImportTarget

# Import names whose distribution is named otherwise (``pip install`` name).
PIP_NAMES = {
    "yaml": "PyYAML", "cv2": "opencv-python", "PIL": "Pillow", "sklearn": "scikit-learn",
    "skimage": "scikit-image", "bs4": "beautifulsoup4", "dateutil": "python-dateutil",
    "jwt": "PyJWT", "dotenv": "python-dotenv", "magic": "python-magic", "Crypto": "pycryptodome",
    "attr": "attrs", "OpenSSL": "pyOpenSSL", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient",
    "multipart": "python-multipart", "jose": "python-jose", "socketio": "python-socketio",
    "engineio": "python-engineio", "serial": "pyserial", "usb": "pyusb", "zmq": "pyzmq",
    "git": "GitPython", "docx": "python-docx", "pptx": "python-pptx", "slugify": "python-slugify",
    "fitz": "PyMuPDF", "telegram": "python-telegram-bot", "dns": "dnspython", "grpc": "grpcio",
    "ldap": "python-ldap", "kafka": "kafka-python", "jinja2": "Jinja2", "markdown": "Markdown",
    "google.protobuf": "protobuf", "pkg_resources": "setuptools", "websocket": "websocket-client",
    "Levenshtein": "python-Levenshtein", "memcache": "python-memcached", "nacl": "PyNaCl",
    "mpl_toolkits": "matplotlib", "win32api": "pywin32", "ruamel": "ruamel.yaml",
}


@dataclass
class Context:
    """What diagnosis needs to know about the place the checks ran."""

    workdir: str
    manifest_dir: str
    sys_path: list[str]
    prefixes: tuple[str, ...]
    uid: int | None = None
    app_tops: set[str] = field(default_factory=set)

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

    def search_roots(self) -> list[str]:
        roots = [self.workdir, self.manifest_dir]
        for entry in self.sys_path:
            if entry and os.path.isabs(entry) and self.is_app_file(os.path.join(entry, "x")):
                roots += [entry, os.path.dirname(entry)]
        return list(dict.fromkeys(os.path.realpath(p) for p in roots))

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
    if entry.get("error"):  # resolving it raised (a lazy module __getattr__ failing)
        check.status, check.stack_trace = r.FAILED, entry.get("traceback") or None
        root = _root_cause(entry["error"], ctx)
        check.error_type, check.message = root["type"], root["message"]
        _classify(check, target, root, ctx)
        return check
    name = entry["name"].split(".")[-1]
    facts = {"type": "AttributeError", "name": name, "obj_module": target.module,
             "obj_file": entry.get("owner_file"), "candidates": entry.get("candidates", []),
             "modules": entry.get("modules", {}), "frames": []}
    check.status = r.FAILED
    if not _unreadable(check, target.module, facts, ctx) and not _shadowed(check, target.module, name, facts, ctx):
        _symbol_missing(check, target.module, name, facts, ctx)
    check.error_type = check.error_type or "AttributeError"
    if not check.file and entry.get("owner_file"):
        check.file = entry["owner_file"]
    return check


def _failed_import(check: r.Check, target: ImportTarget, result: dict[str, Any], ctx: Context) -> None:
    outer = result["error"]
    root = _root_cause(outer, ctx)
    check.status = r.FAILED
    check.stack_trace = result.get("traceback") or None
    check.error_type = root["type"]
    check.message = root["message"]
    _classify(check, target, root, ctx)
    if root is not outer:
        frame = _innermost_app_frame(outer["frames"], ctx)
        check.details["wrapped_by"] = {
            "error_type": outer["type"], "message": outer["message"],
            "file": frame["file"] if frame else None, "line": frame["line"] if frame else None,
        }


def _root_cause(outer: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The deepest exception of the chain that names a specific cause; else the outermost."""
    for facts in reversed([outer, *outer.get("chain", [])]):
        if _specific(facts):
            return facts
    return outer


def _specific(facts: dict[str, Any]) -> bool:
    bases = facts["bases"]
    return any(b in bases for b in ("SyntaxError", "ImportError", "NameError", "PermissionError", "SystemExit")) or (
        "AttributeError" in bases and facts.get("obj_module") is not None
    ) or ("KeyError" in bases and _reads_environ(facts["frames"]))


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
    elif "ModuleNotFoundError" in bases:
        _module_not_found(check, target, facts, ctx)
    elif "ImportError" in bases and facts.get("name") and facts.get("name_from"):
        name = facts["name_from"]
        _missing_name(check, facts["name"], name, facts, ctx)
    elif "AttributeError" in bases and facts.get("obj_module"):
        _missing_name(check, facts["obj_module"], facts.get("name") or "?", facts, ctx)
    elif "KeyError" in bases and _reads_environ(facts["frames"]):
        name = facts.get("key") or "?"
        check.cause = "env_missing"
        check.details["name"] = name
        check.hint = (f"{name} is read with os.environ[...] at {check.file}:{check.line} but is not set: "
                      f"set it for the container (docker run -e {name}=..., Kubernetes env, Cloud Run "
                      f"--set-env-vars/--set-secrets), and list it under env.required in the manifest")
    elif "NameError" in bases:
        _name_error(check, facts)
    elif "PermissionError" in bases:
        _permission_denied(check, facts.get("filename") or check.file, ctx)
    elif "SystemExit" in bases:
        check.cause = "exited"
        check.details["exit_code"] = facts.get("code")
        check.hint = (f"importing {target.module} called sys.exit({facts.get('code')!r}); "
                      "move that call under `if __name__ == \"__main__\":` or into a function")
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


def _missing_name(check: r.Check, module: str, name: str, facts: dict[str, Any], ctx: Context) -> None:
    """``module`` lacks ``name``: a cycle, a twin, an unreadable directory, or just not defined."""
    for explain in (_circular, _shadowed):
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
    defined_at = _definition_line(module_file, name)
    check.details.update(cycle=[{"module": ctx.module_name(f["file"]), "file": f["file"], "line": f["line"]}
                                for f in cycle], missing_name=name, partial_module=module)
    later = f" (defined at line {defined_at}, after its import at line {cycle[0]['line']})" if defined_at else ""
    check.message = (f"cannot import name {name!r} from partially initialized module {module!r}: "
                     + " -> ".join(steps) + f" -> back to {module}")
    check.hint = (f"{module} is still running its top level when {ctx.module_name(cycle[-1]['file'])} asks it for "
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
    check.file = loaded
    check.line = None
    why = _why_loaded(loaded, hidden[0] if hidden else None, ctx)
    defines = {h: _defines(h, name) for h in hidden} if name else {}
    check.details.update(loaded=loaded, hidden=hidden, why=why, hidden_defines=defines, stdlib=bool(stdlib))
    what = f"the standard library's {module}" if stdlib and not hidden else " and ".join(hidden)
    check.message = (f"{module} resolved to {loaded}, which hides {what}"
                     + (f"; {name!r} is missing from the one Python loaded" if name else ""))
    importer = _innermost_app_frame(facts.get("frames") or [], ctx)
    if importer:
        check.details["imported_at"] = f"{importer['file']}:{importer['line']}"
    has = next((h for h, ok in defines.items() if ok), None)
    if stdlib or (hidden and not ctx.is_app_file(hidden[0])):
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


def _why_loaded(loaded: str, hidden: str | None, ctx: Context) -> str:
    if hidden and os.path.dirname(os.path.dirname(loaded)) == os.path.dirname(hidden) and loaded.endswith(
        "__init__.py"
    ):
        return "a package directory wins over a module file of the same name in one directory"
    if hidden:
        return "Python takes the first match on sys.path, and the loaded one's directory comes first"
    return "the working directory comes first on sys.path, ahead of the standard library"


def _symbol_missing(check: r.Check, module: str, name: str, facts: dict[str, Any], ctx: Context) -> None:
    state = facts.get("modules", {}).get(module, {})
    candidates = facts.get("candidates") or state.get("candidates") or []
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    where = state.get("file") or facts.get("obj_file") or facts.get("path")
    check.cause = "symbol_missing"
    check.details.update(module=module, name=name, module_file=where, did_you_mean=close)
    check.message = check.message or f"{module} has no attribute {name!r}"
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    if state.get("stdlib") and not ctx.is_app_file(where):
        check.hint = (f"the standard library's {module} in this Python has no {name!r}.{suggestion} It was removed or "
                      f"renamed in this version: update the code, or use the Python version it was written for")
    elif where and not ctx.is_app_file(where):  # a library: the installed version is not the one the code expects
        check.hint = (f"{module} ({where}) is not your code and this installed version has no {name!r}.{suggestion} "
                      f"Pin the version your code was written for (pip show {module.split('.')[0]}), or "
                      f"update the code")
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
    where = f"{importer['file']}:{importer['line']}" if importer else f"the manifest's imports ({target.module})"
    check.details.update(missing=missing, imported_from=where)
    states = facts.get("modules", {})
    parent = ".".join(missing.split(".")[:-1])
    if parent and parent in states and _shadowed(check, parent, None, {"modules": states}, ctx):
        check.hint += f". {missing!r} was imported at {where}"
        return
    found = search.find_module_files(missing, ctx.search_roots())
    top = missing.split(".")[0]
    if found.denied:
        _permission_denied(check, found.denied, ctx)
        return
    unreachable = [f for f in found.sources if not ctx.on_sys_path(f.root)]
    if found.sources and len(unreachable) == len(found.sources):
        place = unreachable[0]
        check.cause = "not_on_sys_path"
        check.details.update(found_at=place.path, root=place.root)
        check.hint = (f"{missing} exists at {place.path}, but {place.root} is not on sys.path "
                      f"(imported at {where}). Set PYTHONPATH={place.root} (Dockerfile: ENV PYTHONPATH={place.root}) "
                      f"or start in that directory (WORKDIR {place.root})")
        return
    check.cause = "module_not_found"
    if found.bytecode:
        check.details["bytecode_only"] = found.bytecode
        check.hint = (f"only bytecode of {missing} is left ({found.bytecode}); its source is missing. "
                      f"Check .dockerignore and the COPY steps (imported at {where})")
        return
    if top not in ctx.app_tops and not search.exists_in_app(top, ctx.search_roots()):
        pip = search.pip_name(missing, PIP_NAMES)
        check.cause = "distribution_missing"
        check.details["install"] = pip
        check.hint = f"no installed distribution provides {top!r} (imported at {where}): pip install {pip}"
        return
    check.hint = (f"{missing} is not in the image or tree (imported at {where}). Check that it was not left "
                  f"out by .dockerignore or a COPY step, and the spelling of the import")


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
    check.hint = (f"the import hung{where}: move network calls, locks and waits out of module level "
                  f"(into startup hooks), or raise its timeout in the manifest if it is just slow")


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


def _definition_line(path: str, name: str) -> int | None:
    """The line where ``path`` binds ``name`` at top level, from its source (never executed)."""
    for node, bound in _top_level_bindings(path):
        if bound == name:
            return node.lineno
    return None


def _defines(path: str, name: str | None) -> bool:
    return any(bound == name for _, bound in _top_level_bindings(path))


def _top_level_bindings(path: str) -> list[tuple[ast.stmt, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return []
    found: list[tuple[ast.stmt, str]] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node, node.name))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [(node, t.id) for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [(node, (a.asname or a.name).split(".")[0]) for a in node.names]
    return found
