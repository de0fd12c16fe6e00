"""Import an entry point the way ``preflight init`` needs it traced; report what it relied on, as JSON.

Protocol (started by path, standard library only, never imports preflight):

    python trace_init.py REQUEST_JSON RESULT_PATH STACK_PATH

REQUEST_JSON: {"module": "app.main", "symbols": ["app"], "timeout": 60.0}; "sys_path_head": [...] when the
server's sys.path starts with other entries than the working directory (``run_import``'s), "as_main": true
for the module ``python -m`` runs (``run_import.import_as_main``: its imports, never its code); "call": {"args": [...],
"kwargs": {...}} for an app factory (``app:create_app()``): the symbol is then called with those values
(JSON data, never code), as the server calls it, and the modules it loads count as loaded; if it
raises, the result is a failure with "called": true.
The result is ``run_import.check_module``'s (``loaded`` lists modules in load order), plus
"env_reads": [{"name", "how": "item"|"get"|"contains", "present", "file", "line"}],
"distributions": {top-level module: [[distribution, version], ...]}, "library_dirs", "cwd",
"importers": {top-level module: [file, line]}: the code that imported it first (its ``import`` statement).
Environment variables are recorded by name only: values never leave this process.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys

if sys.flags.safe_path:  # PYTHONSAFEPATH or -P: this directory is not on sys.path; its modules are
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inspect_env  # noqa: E402  (this script's directory, sys.path[0]; makes the working directory sys.path[0])
from run_import import attribute, check_module, describe_exception, write_result

_MAX_READS = 500
_reads: dict[str, dict] = {}
_provided: set[str] = set()  # names the application set itself: reading them later requires nothing


class _RecordingEnviron(type(os.environ)):  # type: ignore[misc]
    """``os.environ`` that notes which names are read, how, and by which file:line.

    Only a subscript in the application's own code is an ``item`` read (the variable must be set);
    the ``__getitem__`` calls of ``setdefault``, ``pop``, ``items()``, ``copy()`` (mapping code in
    ``os`` and ``_collections_abc``) are not.
    """

    def __getitem__(self, key):
        direct = not _internal(sys._getframe(1).f_code.co_filename)
        try:
            value = super().__getitem__(key)
        except KeyError:
            if direct:
                _record(key, "item", False)
            raise
        if direct:
            _record(key, "item", True)
        return value

    def __setitem__(self, key, value):
        _provided.add(key)
        super().__setitem__(key, value)

    def get(self, key, default=None):
        present = self._has(key)
        _record(key, "get", present)
        return super().__getitem__(key) if present else default

    def __contains__(self, key):
        present = self._has(key)
        _record(key, "contains", present)
        return present

    def setdefault(self, key, default=None):
        _record(key, "get", self._has(key))
        _provided.add(key)
        return super().setdefault(key, default)

    def pop(self, key, *default):
        _record(key, "get" if default else "item", self._has(key))
        return super().pop(key, *default)

    def _has(self, key) -> bool:
        try:
            return self.encodekey(key) in self._data
        except (TypeError, AttributeError):
            return False


def _record(key, how: str, present: bool) -> None:
    if not isinstance(key, str) or (key not in _reads and len(_reads) >= _MAX_READS):
        return
    if how == "item" and key in _provided:
        how = "get"
    entry = _reads.get(key)
    if entry is None:
        file, line = _caller()
        _reads[key] = {"name": key, "how": how, "present": present, "file": file, "line": line}
    elif how == "item" and entry["how"] != "item":
        file, line = _caller()
        entry.update(how=how, present=present, file=file, line=line)


def _caller() -> tuple[str | None, int | None]:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename != __file__ and not _internal(frame.f_code.co_filename):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None, None


def _internal(filename: str) -> bool:
    """Code of the ``os.environ`` mapping itself (``os``, ``_collections_abc``), frozen or not."""
    return filename.startswith("<frozen") or filename.endswith(("/os.py", "_collections_abc.py"))


_importers: dict[str, list] = {}
_IMPORTLIB = os.path.dirname(os.path.abspath(__import__("importlib").__file__))


class _FirstImporter:
    """A finder that finds nothing: it notes, for each top-level module, where it was first imported."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is None and name not in _importers and len(_importers) < _MAX_READS:
            frame = sys._getframe(1)
            while frame is not None and (frame.f_code.co_filename.startswith("<frozen")
                                         or frame.f_code.co_filename.startswith(_IMPORTLIB + os.sep)):
                frame = frame.f_back
            if frame is not None:
                _importers[name] = [frame.f_code.co_filename, frame.f_lineno]
        return None


def _install() -> None:
    sys.meta_path.insert(0, _FirstImporter)
    env = os.environ
    os.environ = _RecordingEnviron(env._data, env.encodekey, env.decodekey, env.encodevalue, env.decodevalue)


def _distributions(loaded: list) -> dict[str, list[list[str]]]:
    import importlib.metadata as metadata

    tops = {name.partition(".")[0] for name, _ in loaded}
    try:
        mapping = metadata.packages_distributions()
    except Exception:
        return {}
    found: dict[str, list[list[str]]] = {}
    for top in sorted(tops):
        for dist in dict.fromkeys(mapping.get(top, [])):
            try:
                version = metadata.version(dist)
            except Exception:
                continue
            found.setdefault(top, []).append([dist, version])
    return found


def _call_entry(result: dict, module: str, symbol: str, call: dict) -> None:
    """Call the app factory the server will call; what it imports is part of the server's start."""
    import traceback

    before = set(sys.modules)
    factory = sys.modules[module]
    for part in symbol.split("."):
        factory = getattr(factory, part)
    try:
        factory(*call.get("args", []), **call.get("kwargs", {}))
    except BaseException as exc:  # SystemExit too: a factory that exits fails the server's start
        result.update(ok=False, called=True, error=describe_exception(exc),
                      traceback="".join(traceback.format_exception(exc)))
    result["loaded"] = (result.get("loaded") or []) + [
        [name, attribute(sys.modules[name], "__file__")] for name in list(sys.modules) if name not in before]


def main(argv: list[str]) -> int:
    request = json.loads(argv[1])
    stack_file = open(argv[3], "w", encoding="utf-8")
    faulthandler.enable(file=stack_file)
    if request.get("timeout"):
        faulthandler.dump_traceback_later(float(request["timeout"]), exit=True, file=stack_file)
    if request.get("sys_path_head") is not None:  # in place of the working directory inspect_env put first
        sys.path[0:1] = request["sys_path_head"]
    _install()
    result = check_module(request["module"], request.get("symbols", []), bool(request.get("as_main")))
    if request.get("call") is not None and result.get("ok"):
        _call_entry(result, request["module"], request["symbols"][0], request["call"])
    faulthandler.cancel_dump_traceback_later()
    result["env_reads"] = list(_reads.values())
    result["distributions"] = _distributions(result.get("loaded") or [])
    result["importers"] = {top: _importers[top] for top in result["distributions"] if top in _importers}
    result["library_dirs"] = inspect_env._library_dirs()
    result["cwd"] = os.getcwd()
    write_result(argv[2], result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
