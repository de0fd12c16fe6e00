"""Import one module as the first application import of a clean interpreter; report facts as JSON.

Protocol (this file is started by path, standard library only, never imports preflight):

    python run_import.py REQUEST_JSON RESULT_PATH STACK_PATH

REQUEST_JSON: {"module": "app.main", "symbols": ["ServiceError", "api.router"], "timeout": 10.0}, plus
    "as_main": true for the module ``python -m`` runs: imported as runpy would up to its own code (see
    ``import_as_main``), never run.
STACK_PATH:   where faulthandler dumps every thread's stack, then exits, if the timeout passes.
RESULT_PATH:  where the outcome is written (atomically) as JSON:
    {"ok": bool, "module_file": str|None, "sys_path": [...], "uid": int, "gid": int,
     "symbols": [{"name", "found", "candidates", "owner", "missing", "owner_file", "owner_type"}],
     "error": {...}|None, "traceback": str,
     "changed": [process state the import changed that a library imported after it would see],
     "environ_set": {variables the import set (load_dotenv): the parent redacts their values too}}
    A symbol not found names the attribute ``missing`` and the dotted path of the ``owner`` it is
    missing on ("" for the module itself); each exception of an error's ``chain`` says how it is
    linked to the one before it: ``"via": "cause"`` (``raise ... from``) or ``"context"``.

Manifest values arrive here as data only. Interpretation (cause codes, hints) is the parent's job:
this side gathers the facts only a live interpreter has. ``check_module`` is reused by the zygote.
"""

from __future__ import annotations

import sys

_STARTUP = frozenset(sys.modules)  # before any import of ours: what the server's interpreter has too

import dis
import faulthandler
import importlib
import importlib.machinery
import importlib.util
import json
import os
import traceback

_MAX_CANDIDATES = 400
_MAX_CHAIN = 8


def main(argv: list[str]) -> int:
    request = json.loads(argv[1])
    result_path = argv[2]
    _make_cwd_first(request.get("sys_path_head"))
    for name in shadowing_app_files():  # our own imports must not hide the app's ``json.py``
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[loaded]
    stack_file = open(argv[3], "w", encoding="utf-8")
    faulthandler.enable(file=stack_file)  # a crash at import leaves its stack too
    if request.get("timeout"):
        faulthandler.dump_traceback_later(float(request["timeout"]), exit=True, file=stack_file)
    before = process_state()
    result = check_module(request["module"], request.get("symbols", []), bool(request.get("as_main")))
    result["changed"] = changes_since(before)
    result["environ_set"] = {name: value for name, value in os.environ.items()  # to be redacted too
                             if before["environ"].get(name) != value}  # type: ignore[union-attr]
    faulthandler.cancel_dump_traceback_later()
    write_result(result_path, result)
    leave(0)


def process_state() -> dict[str, object]:
    """What an import may change that a library imported after it sees at its own import: the
    environment, the warning filters, the import path and hooks, the working directory."""
    import warnings

    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    return {"environ": dict(os.environ), "the warning filters": list(warnings.filters),
            "sys.path": list(sys.path), "the import hooks": [*sys.meta_path, *sys.path_hooks], "the working directory": cwd}


def changes_since(before: dict[str, object]) -> list[str]:
    """What of ``process_state`` changed since ``before``: variable names, never values."""
    after = process_state()
    old, new = before["environ"], after["environ"]
    assert isinstance(old, dict) and isinstance(new, dict)
    changed = [f"os.environ[{name!r}]" for name in sorted({*old, *new}) if old.get(name) != new.get(name)]
    return changed + [what for what in after if what != "environ" and before[what] != after[what]]


def leave(status: int) -> None:
    """Exit (never returns) as a fresh interpreter does, observably (atexit handlers run, streams flushed), but
    without waiting for the non-daemon threads the import started: the verdict is written, and in
    the server such a thread would run beside it. Nothing is torn down (in a zygote's fork that
    would be slow, and would copy each shared page)."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)


put_first: list[str] = []  # what ``_make_cwd_first`` put first on sys.path in this process (a zygote's)


def _make_cwd_first(head: list[str] | None = None) -> None:
    """Start ``sys.path`` as the server's does, in place of this script's directory: with the working
    directory, as under ``python -m``, uvicorn and gunicorn, or with ``head`` (a script's directory,
    uvicorn's ``--app-dir``, gunicorn's ``--pythonpath``). Called again (the zygote, once it knows
    ``head``), it replaces what it put there, never an entry of ``PYTHONPATH`` that names the same."""
    global put_first
    entries = list(head if head is not None else [os.getcwd()])  # [] under -P: nothing first
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:  # started as a script (or a zygote's fork)
        del sys.path[0]
    elif put_first and sys.path[:len(put_first)] == put_first:
        del sys.path[:len(put_first)]
    sys.path[0:0] = entries
    put_first = entries


def shadowing_app_files(among: set[str] | None = None) -> list[str]:
    """Standard-library modules preflight loaded itself (``among`` these, default: all) whose name a
    file or package in ``sys.path[0]`` takes: the server would load the application's one instead.
    Goes over the standard library's names, never over ``sys.modules`` (see ``ModuleMark``)."""
    first = sys.path[0] if sys.path else os.getcwd()
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    names = []
    for name in sorted(stdlib if among is None else among):
        if name in sys.modules and name not in _STARTUP and "." not in name and name in stdlib:
            if os.path.exists(os.path.join(first, name + ".py")) or os.path.isdir(os.path.join(first, name)):
                names.append(name)
    return names


class ModuleMark:
    """Where ``sys.modules`` ends now, to name the modules imported after it without going over the
    others. In a zygote's fork that matters: going over a name (building a set of them, iterating)
    writes its reference count, and each page so written is copied; over every loaded module's
    name, that was a third of what a check copied."""

    def __init__(self) -> None:
        self.count = len(sys.modules)
        self.last = next(reversed(sys.modules), None)
        self.module = sys.modules.get(self.last) if self.last is not None else None

    def since(self) -> list[str] | None:
        """The modules imported since, oldest first; ``None`` when a module loaded before was removed
        (or imported again) since, so that those after the mark are not exactly the new ones, or
        when a thread of the application imported one during the walk. The last one imported again
        would stop the walk early, and as many older ones removed would hide that from the count:
        its module object tells (only putting that very object back goes unseen)."""
        if self.last is not None and sys.modules.get(self.last, _ABSENT) is not self.module:
            return None
        names: list[str] = []
        try:
            for name in reversed(sys.modules):
                if name == self.last:
                    break
                names.append(name)
            else:
                if self.last is not None:
                    return None
        except RuntimeError:  # dictionary changed size during iteration
            return None
        if len(sys.modules) - len(names) != self.count:
            return None
        names.reverse()
        return names


def write_result(path: str, result: dict) -> None:
    """Write ``result`` atomically, so a crash mid-write never leaves half a document."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=repr)
    os.replace(tmp, path)


def check_module(module: str, symbols: list[str], as_main: bool = False) -> dict:
    """Import ``module`` (``as_main``: as ``python -m`` would, see ``import_as_main``), then resolve
    each dotted symbol path on it; never raises."""
    result: dict = {"ok": False, "module": module, "module_file": None, "symbols": [], "error": None,
                    "traceback": "", "uid": _getid("getuid"), "gid": _getid("getgid")}
    mark = ModuleMark()
    try:
        imported = import_as_main(module) if as_main else importlib.import_module(module)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt at import are findings too
        result["error"] = describe_exception(exc)
        result["traceback"] = "".join(traceback.format_exception(exc))
        result["sys_path"] = list(sys.path)
        return result
    result["module_file"] = getattr(imported, "__file__", None)
    result["ok"] = True
    for path in symbols:
        try:
            found, owner, walked = _resolve(imported, path)
        except BaseException as exc:  # a module-level __getattr__ failing for its own reasons
            result["ok"] = False
            result["symbols"].append({"name": path, "found": False, "error": describe_exception(exc),
                                      "traceback": "".join(traceback.format_exception(exc))})
            continue
        entry: dict = {"name": path, "found": found}
        if not found:
            result["ok"] = False
            entry["candidates"] = _public_names(owner)
            entry["owner"], entry["missing"] = ".".join(walked), path.split(".")[len(walked)]
            entry["owner_file"] = getattr(owner, "__file__", None)
            entry["owner_type"] = type(owner).__name__
            entry["modules"] = {module: _module_state(module)}
        result["symbols"].append(entry)
    result["sys_path"] = list(sys.path)
    loaded = mark.since()  # None: some were removed; then all of them, a superset (the stamp wants every file)
    result["loaded"] = _files(list(sys.modules) if loaded is None else loaded)  # list(): at once, whatever threads do
    if as_main and result["module_file"]:  # run, not imported: in no sys.modules, its file counts all the same
        result["loaded"].append([imported.__spec__.name, result["module_file"]])
    return result


def import_as_main(name: str) -> object:
    """What ``python -m name`` does before its own code runs, and nothing of that code: find it as
    runpy does (importing its parent packages; for a package, the package, then its ``__main__``),
    then execute only the file's top-level ``import`` statements (and those of a top-level
    ``if __name__ == "__main__":`` block), compiled from the file itself so that a failure names
    its own ``file:line``. The namespace they ran in is returned as a module."""
    import ast
    import types

    spec = importlib.util.find_spec(name)
    if spec is not None and spec.submodule_search_locations is not None:
        importlib.import_module(name)
        spec = importlib.util.find_spec(name + ".__main__")
        if spec is None:
            raise ModuleNotFoundError(f"No module named '{name}.__main__'; '{name}' is a package and cannot be "
                                      f"directly executed", name=name + ".__main__")
    if spec is None:
        raise ModuleNotFoundError(f"No module named '{name}'", name=name)
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=spec.origin, __package__=spec.parent, __spec__=spec, __loader__=spec.loader)
    get_source = getattr(spec.loader, "get_source", None)
    source = get_source(spec.name) if get_source is not None else None
    if source is None:  # bytecode only, or a loader without source: nothing to read, nothing more to check
        return module
    tree = ast.parse(source, spec.origin or name)
    body = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            body += [inner for inner in node.body if isinstance(inner, (ast.Import, ast.ImportFrom))]
    body.sort(key=lambda node: node.lineno)
    exec(compile(ast.Module(body=body, type_ignores=[]), spec.origin or name, "exec"), module.__dict__)
    return module


def _is_main_guard(test: object) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    import ast

    if not isinstance(test, ast.Compare) or len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def _files(names: list[str]) -> list[list]:
    """``[name, __file__]`` of each of ``names`` still loaded (a thread may drop one meanwhile)."""
    files = []
    for name in names:
        module = sys.modules.get(name, _ABSENT)
        if module is not _ABSENT:
            files.append([name, attribute(module, "__file__")])
    return files


_ABSENT = object()


def attribute(obj: object, name: str, default: object = None) -> object:
    """``getattr(obj, name, default)``, also ``default`` when a module's ``__getattr__`` raises something
    else than AttributeError (pydantic 2: an ImportError subclass for a name it moved, ``BaseSettings``)."""
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def has_attribute(obj: object, name: str) -> bool:
    """``hasattr`` that such a ``__getattr__`` cannot make raise."""
    return attribute(obj, name, _ABSENT) is not _ABSENT


def _getid(name: str) -> int | None:
    getter = getattr(os, name, None)
    return getter() if getter else None


def _resolve(obj: object, dotted: str) -> tuple[bool, object, list[str]]:
    """Walk ``dotted`` from ``obj``: found, the last object reached and the parts that reached it.
    A lazy ``__getattr__`` that raises something else than AttributeError propagates."""
    walked: list[str] = []
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return False, obj, walked
        walked.append(part)
    return True, obj, walked


def _public_names(obj: object) -> list[str]:
    try:
        names = [n for n in dir(obj) if not n.startswith("__")]
    except Exception:
        return []
    return names[:_MAX_CANDIDATES]


def describe_exception(exc: BaseException) -> dict:
    """The exception and its ``__cause__``/``__context__`` chain (or the exception it was made from, its
    ``args[0]``), outermost first, as plain facts."""
    chain: list[dict] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    via = ""
    while current is not None and id(current) not in seen and len(chain) < _MAX_CHAIN:
        seen.add(id(current))
        chain.append({**_facts(current), "via": via} if chain else _facts(current))
        nxt, via = current.__cause__, "cause"
        if nxt is None and not current.__suppress_context__:
            nxt, via = current.__context__, "context"
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt, via = current.args[0], "args"  # httpcore's ConnectError(OSError), its context suppressed
        current = nxt
    outer = chain[0]
    outer["chain"] = chain[1:]
    return outer


def _facts(exc: BaseException) -> dict:
    kind = type(exc)
    facts: dict = {
        "type": kind.__name__,
        "type_module": kind.__module__,
        "bases": [c.__name__ for c in kind.__mro__],
        "message": _safe_str(exc),
        "frames": _frames(exc.__traceback__),
    }
    if isinstance(exc, ImportError):
        facts["name"] = exc.name
        facts["path"] = exc.path
        facts["name_from"] = getattr(exc, "name_from", None) or _imported_name(exc.__traceback__)
        if exc.name:
            parts = exc.name.split(".")
            facts["modules"] = {p: _module_state(p) for p in (".".join(parts[:i + 1]) for i in range(len(parts)))}
        missing = exc.name if isinstance(exc, ModuleNotFoundError) else (
            f"{exc.name}.{facts['name_from']}" if exc.name and facts["name_from"] else None)
        foreign = _foreign_extensions(missing) if missing else []
        if foreign or (exc.path and exc.path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))):
            facts.update(foreign_extensions=foreign, extension_suffixes=importlib.machinery.EXTENSION_SUFFIXES)
    if isinstance(exc, SyntaxError):
        facts.update(filename=exc.filename, lineno=exc.lineno, offset=exc.offset,
                     text=(exc.text or "").rstrip("\n"), msg=exc.msg)
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None)
        facts["name"] = name
        if name:
            facts["name_is_module"] = _importable(name)
    if isinstance(exc, AttributeError):
        facts["name"] = getattr(exc, "name", None)
        obj = getattr(exc, "obj", None)
        if type(obj).__name__ == "module":
            facts["obj_module"] = getattr(obj, "__name__", None)
            facts["obj_file"] = getattr(obj, "__file__", None)
            facts["candidates"] = _public_names(obj)
            if facts["obj_module"]:
                facts["modules"] = {facts["obj_module"]: _module_state(facts["obj_module"])}
    if isinstance(exc, OSError):
        facts.update(errno=exc.errno, strerror=exc.strerror, filename=exc.filename)
        address = _address(exc.__traceback__)
        if address:
            facts["address"] = address
        bundle = _ca_bundle(exc.__traceback__)
        if bundle:
            facts["ca_bundle"] = bundle
        tried = _temp_dirs_tried(exc.__traceback__)
        if tried:
            facts["temp_dirs"] = tried
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        facts["key"] = exc.args[0]
    if kind.__name__ in ("PackageNotFoundError", "DistributionNotFound"):  # importlib.metadata, pkg_resources
        req = getattr(exc, "req", None)
        facts["distribution"] = str(getattr(req, "project_name", None) or getattr(req, "name", None)
                                    or (exc.args[0] if exc.args else ""))
    if isinstance(exc, SystemExit):
        facts["code"] = exc.code if isinstance(exc.code, (int, type(None))) else str(exc.code)
    refused = _module_getattr(exc.__traceback__)
    if refused:
        facts["module_getattr"] = refused
    validation = _validation_facts(exc)
    if validation:
        facts["validation"] = validation
    django = _django_settings()
    if django:
        facts["django_settings"] = django
    system = _system_facts(exc)
    if system:
        facts["system"] = system
    if not (isinstance(exc, ImportError) and exc.path):
        extension = _extension_being_imported(exc.__traceback__)
        if extension:
            facts["extension_init"] = extension
    return facts


def _levels(tb) -> list:
    """Each level of traceback ``tb``, outermost first (its frame, line and instruction)."""
    levels = []
    while tb is not None:
        levels.append(tb)
        tb = tb.tb_next
    return levels


def _innermost(tb):
    """The innermost level of traceback ``tb``, where the exception was raised; None for none."""
    levels = _levels(tb)
    return levels[-1] if levels else None


def _extension_being_imported(tb) -> str | None:
    """The compiled extension whose init function raised: the module a Cython init frame names
    (``init pandas._libs.interval``), or the one the innermost frame's import statement was loading
    (the import system's own frames are left out of the traceback)."""
    levels = _levels(tb)
    if not levels:
        return None
    tb = levels[-1]
    try:
        name = tb.tb_frame.f_code.co_name
        if name.startswith("init ") and "." in name:  # Cython names its module init frame so
            return _extension_origin(name[len("init "):], levels)
        instructions = list(dis.get_instructions(tb.tb_frame.f_code))
        at = next(i for i, ins in enumerate(instructions) if ins.offset == tb.tb_lasti)
        if instructions[at].opname != "IMPORT_NAME" or at < 2:
            return None
        level, fromlist = instructions[at - 2].argval, instructions[at - 1].argval
        name = instructions[at].argval
        if isinstance(level, int) and level > 0:
            package = tb.tb_frame.f_globals.get("__package__") or ""
            name = importlib.util.resolve_name("." * level + name, package)
        candidates = [name] + [f"{name}.{x}" for x in (fromlist if isinstance(fromlist, tuple) else ())]
        for candidate in candidates:
            origin = None if candidate in sys.modules else _extension_origin(candidate, levels)
            if origin:
                return origin
    except Exception:
        return None
    return None


def _extension_origin(name: str, levels: list) -> str | None:
    """The compiled extension file module ``name`` would load from, found without importing anything:
    its parent package's ``__path__`` from ``sys.modules`` or, when a failed import already removed the
    parent from there, from the parent's own frame in the traceback."""
    parent, _, last = name.rpartition(".")
    search = None
    if parent in sys.modules:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
    else:
        for level in levels:
            names = level.tb_frame.f_globals
            if parent and names.get("__name__") == parent and isinstance(names.get("__path__"), list):
                search = list(names["__path__"])
        if parent and search is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(last if parent else name, search)
        origin = spec.origin if spec else None
    return origin if origin and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) else None


def _module_getattr(tb) -> dict | None:
    """The module-level ``__getattr__(name)`` the failure arose in (pydantic 2 refusing ``BaseSettings``,
    NumPy 2 ``np.float_``): the module and the name asked of it."""
    for level in _levels(tb):
        code, names = level.tb_frame.f_code, level.tb_frame.f_globals
        if code.co_name != "__getattr__" or code.co_argcount != 1:
            continue
        asked, module = level.tb_frame.f_locals.get(code.co_varnames[0]), names.get("__name__")
        if isinstance(asked, str) and isinstance(module, str) and names.get("__getattr__") is not None \
                and getattr(names["__getattr__"], "__code__", None) is code:
            return {"module": module, "name": asked, "file": names.get("__file__")}
    return None


def _system_facts(exc: BaseException) -> dict | None:
    """What the image's operating system lacked, when the failure was a lookup in it: a time zone
    (zoneinfo), a locale (``locale.Error``), or this uid's passwd entry (``getpwuid``, ``getuser``)."""
    try:
        if type(exc).__name__ == "ZoneInfoNotFoundError":
            return {"timezone": _timezone_facts(exc.__traceback__)}
        if type(exc).__name__ == "Error" and type(exc).__module__ == "locale":
            return {"locale": _locale_facts(exc.__traceback__)}
        if isinstance(exc, KeyError):
            lookup = _passwd_lookup(exc.__traceback__)
            if lookup and not _has_passwd_entry(os.getuid()):
                return {"passwd": {"uid": os.getuid(), "lookup": lookup}}
    except Exception:
        return None
    return None


def _timezone_facts(tb) -> dict:
    """The key asked for, where zoneinfo looked, and whether any time zone database is there at all."""
    key = None
    for level in _levels(tb):
        local = level.tb_frame.f_locals.get("key")
        if isinstance(local, str) and "zoneinfo" in level.tb_frame.f_code.co_filename:
            key = local
    module = sys.modules.get("zoneinfo") or sys.modules.get("backports.zoneinfo")
    tzpath = [p for p in attribute(module, "TZPATH", ()) or () if isinstance(p, str)]
    tzdata = importlib.util.find_spec("tzdata") is not None
    found = [p for p in tzpath if os.path.isfile(os.path.join(p, "UTC"))]
    available: list = []
    if found or tzdata:
        available = sorted(attribute(module, "available_timezones", lambda: set())())
    return {"key": key, "tzpath": tzpath, "tzdata": tzdata, "database": found[0] if found else None,
            "available": available[:2000]}


def _locale_facts(tb) -> dict:
    """The locale name ``setlocale`` was asked for (from the environment when asked for ""), and
    whether this system has ``C.UTF-8``."""
    import locale

    requested, category = None, None
    for level in _levels(tb):
        code, names = level.tb_frame.f_code, level.tb_frame.f_locals
        if code.co_name == "setlocale" and code.co_filename.endswith("locale.py"):
            requested, category = names.get("locale"), names.get("category")
    categories = {getattr(locale, n): n for n in dir(locale) if n.startswith("LC_") and isinstance(getattr(locale, n), int)}
    category_name = categories.get(category)
    variable = None
    if requested == "":  # the environment names it: LC_ALL, then the category's variable, then LANG
        variable = next((n for n in ("LC_ALL", category_name, "LANG") if n and os.environ.get(n)), None)
        requested = os.environ.get(variable) if variable else None
    try:
        locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
        c_utf8 = True
    except locale.Error:
        c_utf8 = False
    return {"requested": requested if isinstance(requested, str) else None, "category": category_name,
            "variable": variable, "c_utf8": c_utf8}


def _passwd_lookup(tb) -> str | None:
    """``getpass.getuser`` in the failing frames, or the passwd call the innermost frame's failing line
    made (``pwd.getpwuid``, ``pwd.getpwnam``), read from its bytecode."""
    levels = _levels(tb)
    for level in levels:
        code = level.tb_frame.f_code
        if code.co_name == "getuser" and code.co_filename.endswith("getpass.py"):
            return "getpass.getuser"
    innermost = levels[-1] if levels else None
    if innermost is None:
        return None
    try:
        line, at = innermost.tb_lineno, None
        for instruction in dis.get_instructions(innermost.tb_frame.f_code):
            positions = getattr(instruction, "positions", None)  # 3.11+; before, the line an instruction starts
            at = positions.lineno if positions else (instruction.starts_line or at)
            if instruction.offset > innermost.tb_lasti:
                break
            if at == line and instruction.argval in ("getpwuid", "getpwnam"):
                return f"pwd.{instruction.argval}"
    except Exception:
        return None
    return None


def _has_passwd_entry(uid: int) -> bool:
    try:
        import pwd

        pwd.getpwuid(uid)
        return True
    except (ImportError, KeyError):
        return False


def _django_settings() -> dict | None:
    """Django's settings module, its name and file, when this process configured Django."""
    settings = attribute(sys.modules.get("django.conf"), "settings")
    if settings is None or not attribute(settings, "configured", False):
        return None
    name = attribute(settings, "SETTINGS_MODULE")
    if not isinstance(name, str):
        return None
    return {"module": name, "file": attribute(sys.modules.get(name), "__file__")}


def _validation_facts(exc: BaseException) -> dict | None:
    """A pydantic ``ValidationError``'s model and errors, never the input values; for settings
    (pydantic-settings), how its fields are named in the environment."""
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ != "ValidationError" or not type(exc).__module__.startswith("pydantic") or not callable(errors):
        return None
    try:
        found = errors(include_url=False, include_input=False, include_context=False)
    except Exception:
        return None
    facts: dict = {"title": getattr(exc, "title", None),
                   "errors": [{"type": e.get("type"), "loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg")}
                              for e in found[:20]]}
    settings = _settings_instance(exc.__traceback__, facts["title"])
    if settings is not None:
        config = type(settings).model_config
        facts["settings"] = {"case_sensitive": bool(config.get("case_sensitive")),
                             "nested_delimiter": config.get("env_nested_delimiter") or None,
                             "env_files": _env_files(config.get("env_file")),
                             "variables": _settings_variables(type(settings), config)}
    return facts


def _env_files(env_file: object) -> list[str]:
    """A settings class's ``env_file``: none, one path, or several."""
    if env_file is None:
        return []
    return [str(p) for p in (env_file if isinstance(env_file, (list, tuple)) else [env_file])]


def _settings_variables(cls: type, config: dict) -> dict[str, dict]:
    """Per key an error's ``loc`` may start with (a field's name, or an alias of it), the field and the
    variables that set it, as pydantic-settings' own environment source names them (an alias takes
    no ``env_prefix``; each of an ``AliasChoices``' choices is one)."""
    fields = getattr(cls, "model_fields", None) or {}
    keys: dict[str, dict] = {}
    try:
        from pydantic_settings import EnvSettingsSource
        source = EnvSettingsSource(cls)
        found = {name: source._extract_field_info(field, name) for name, field in fields.items()}
    except Exception:  # another pydantic-settings: its documented rules
        found = {name: _documented_variables(name, field, config.get("env_prefix") or "")
                 for name, field in fields.items()}
    for name, info in found.items():
        entry = {"field": name, "variables": list(dict.fromkeys(variable for _, variable, _ in info))}
        for key, _, _ in info:
            keys.setdefault(key, entry)
    return keys


def _documented_variables(name: str, field: object, prefix: str) -> list[tuple[str, str, bool]]:
    alias = getattr(field, "validation_alias", None)
    choices = alias.convert_to_aliases() if hasattr(alias, "convert_to_aliases") else alias
    if isinstance(choices, str):
        return [(choices, choices, False)]
    if choices and isinstance(choices[0], list):  # AliasChoices
        return [(c[0], c[0], False) for c in choices if c and isinstance(c[0], str)]
    if choices and isinstance(choices[0], str):  # AliasPath
        return [(choices[0], choices[0], False)]
    return [(name, prefix + name, False)]


def _settings_instance(tb, title: str | None) -> object | None:
    """The pydantic-settings object whose validation failed, from the frames' locals (its __init__)."""
    for level in _levels(tb):
        for value in list(level.tb_frame.f_locals.values()):
            config = getattr(type(value), "model_config", None)
            if type(value).__name__ == title and isinstance(config, dict) and "env_prefix" in config:
                return value
    return None


def _address(tb) -> list | None:
    """The ``[host, port]`` a failing connection was for: the innermost frame that holds both
    (``socket.create_connection``, ``socket.getaddrinfo``, urllib3's and redis' connects do)."""
    found = None
    for level in _levels(tb):
        names = level.tb_frame.f_locals
        host, port = names.get("host"), names.get("port")
        if isinstance(host, str) and isinstance(port, (int, str)) and not isinstance(port, bool):
            found = [host, port]
    return found


def _temp_dirs_tried(tb) -> list | None:
    """The directories tempfile tried when it found none usable (``dirlist`` of its
    ``_get_default_tempdir``), each as this user sees it: there, on a read-only filesystem, writable."""
    for level in _levels(tb):
        code = level.tb_frame.f_code
        if code.co_name == "_get_default_tempdir" and code.co_filename.endswith("tempfile.py"):
            dirs = level.tb_frame.f_locals.get("dirlist")
            return [_directory_state(d) for d in dirs if isinstance(d, str)] if isinstance(dirs, list) else None
    return None


def _directory_state(path: str) -> dict:
    exists = os.path.isdir(path)
    read_only = False
    if exists:
        try:
            read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
        except OSError:
            pass
    return {"path": path, "exists": exists, "read_only": read_only,
            "writable": exists and not read_only and os.access(path, os.W_OK | os.X_OK),
            "variable": next((n for n in ("TMPDIR", "TEMP", "TMP") if os.environ.get(n) == path), None)}


_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _ca_bundle(tb) -> dict | None:
    """The CA bundle file or directory that did not exist when loading it failed: ``cafile``/``capath``
    of ssl's ``create_default_context``, requests' ``cert_loc``, or the arguments of a
    ``load_verify_locations`` call on the innermost frame's failing line; with the variable naming it."""
    paths: list = []
    via = None
    levels = _levels(tb)
    for level in levels:
        code, names = level.tb_frame.f_code, level.tb_frame.f_locals
        if code.co_name in ("create_default_context", "_create_unverified_context") and code.co_filename.endswith("ssl.py"):
            paths, via = [names.get("cafile"), names.get("capath")], f"ssl.{code.co_name}"
        elif code.co_name == "cert_verify" and code.co_filename.replace(os.sep, "/").endswith("requests/adapters.py"):
            paths, via = [names.get("cert_loc")], "requests (verify=)"
    if via is None and levels:
        paths, via = _verify_locations_arguments(levels[-1]), "load_verify_locations"
    missing = [p for p in paths if isinstance(p, (str, os.PathLike)) and not os.path.exists(p)]
    if not missing or not via:
        return None
    path = os.fspath(missing[0])
    variable = next((n for n in _BUNDLE_VARIABLES if os.environ.get(n) == path), None)
    return {"path": path, "via": via, "variable": variable}


def _verify_locations_arguments(tb) -> list:
    """The ``cafile``/``capath`` values of the ``load_verify_locations(...)`` call on the failing line:
    constants, or names read from the frame (no other expression is evaluated)."""
    import ast
    import linecache

    frame = tb.tb_frame
    try:
        tree = ast.parse(linecache.getline(frame.f_code.co_filename, tb.tb_lineno).strip())
    except (SyntaxError, ValueError):  # a call spread over lines: its arguments stay unknown
        return []
    values: list = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or getattr(call.func, "attr", None) != "load_verify_locations":
            continue
        nodes = call.args[:2] + [k.value for k in call.keywords if k.arg in ("cafile", "capath")]
        for node in nodes:
            if isinstance(node, ast.Constant):
                values.append(node.value)
            elif isinstance(node, ast.Name):
                values.append(frame.f_locals.get(node.id, frame.f_globals.get(node.id)))
    return values


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__}>"


def _frames(tb) -> list[dict]:
    return [{"file": level.tb_frame.f_code.co_filename, "line": level.tb_lineno, "function": level.tb_frame.f_code.co_name,
             "module": level.tb_frame.f_globals.get("__name__")} for level in _levels(tb)]


def _imported_name(tb) -> str | None:
    """The name a failing ``from M import NAME`` asked for, read from the bytecode (Python < 3.12)."""
    tb = _innermost(tb)
    if tb is None:
        return None
    try:
        for instruction in dis.get_instructions(tb.tb_frame.f_code):
            if instruction.offset == tb.tb_lasti and instruction.opname == "IMPORT_FROM":
                return instruction.argval
    except Exception:
        return None
    return None


def _module_state(name: str) -> dict:
    """Where ``name`` resolves now, and what else of that name the search path would hide."""
    state: dict = {"loaded": name in sys.modules}
    module = sys.modules.get(name)
    if module is not None:
        state["file"] = getattr(module, "__file__", None)
        state["candidates"] = _public_names(module)
    top = name.partition(".")[0]
    state["stdlib"] = top in getattr(sys, "stdlib_module_names", ())
    state["builtin"] = top in sys.builtin_module_names
    state["locations"] = _all_locations(name)
    return state


def _search_path(name: str) -> tuple[str, list[str]]:
    """Module ``name``'s last part and the directories Python looks for it in: its parent package's
    ``__path__``, else ``sys.path``."""
    parent, _, last = name.rpartition(".")
    if parent:
        return last, list(getattr(sys.modules.get(parent), "__path__", None) or [])
    return last, [entry or os.getcwd() for entry in sys.path]


def _all_locations(name: str) -> list[str]:
    """Every file or package directory that could be module ``name``, in the order Python searches.

    Within one directory a package wins over a module of the same name; across directories the
    first wins. Listing them all is what exposes twins that hide each other.
    """
    last, search = _search_path(name)
    found: list[str] = []
    for directory in dict.fromkeys(os.path.realpath(d) for d in search):
        if not os.path.isdir(directory):
            continue
        package_dir = os.path.join(directory, last)
        if os.path.isdir(package_dir):
            init = os.path.join(package_dir, "__init__.py")
            found.append(init if os.path.exists(init) else package_dir)
        for suffix in importlib.machinery.all_suffixes():
            candidate = os.path.join(directory, last + suffix)
            if os.path.isfile(candidate) and "__pycache__" not in candidate:
                found.append(candidate)
    return found


def _foreign_extensions(name: str) -> list[str]:
    """Compiled extension files for module ``name`` that this interpreter will not load: built for
    another Python or platform (``_x.cpython-312-x86_64-linux-gnu.so`` under 3.11, ``_x.cpython-311-darwin.so``)."""
    last, search = _search_path(name)
    found = []
    for directory in dict.fromkeys(search):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for entry in sorted(names):
            if (entry.startswith(last + ".") and entry.endswith((".so", ".pyd", ".dylib"))
                    and entry[len(last):] not in importlib.machinery.EXTENSION_SUFFIXES):
                found.append(os.path.join(directory, entry))
    return found[:10]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False


if __name__ == "__main__":
    if sys.flags.safe_path:  # -P put nothing first: take the slot a script's directory takes, as forks do
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv))
