"""A zygote: import the application's third-party dependencies once, then fork one check per module.

Protocol (started by path, standard library only, never imports preflight):

    python zygote.py CONTROL_FD EVENTS_FD

The parent writes JSON lines to CONTROL_FD:
    {"op": "run", "key": K, "script": "run_import.py", "args": [...], "output": PATH}
        fork, and run that ``_child`` script in the fork as ``python SCRIPT ARGS...`` would, its
        stdout and stderr going to PATH. Before "preload" the fork is as clean as a fresh
        interpreter (the environment probe runs so); after it, it has the preloaded modules.
    {"op": "preload", "modules": ["app.main", ...]}      once
    {"op": "kill", "key": K}                              SIGKILL that fork's process group
    {"op": "exit"}                                        kill every fork, reap them, exit
End of file on CONTROL_FD means the same as "exit". The zygote writes JSON lines to EVENTS_FD:
    {"event": "started", "key": K, "pid": N}
    {"event": "ready", "preloaded": [...], "failed": [{"module", "error"}], "preload_ms": F,
     "files": [every loaded module's file], "fallback": null | "why forking is unsafe now"}
        after a fallback the zygote forks nothing more: it reaps what runs, then exits
    {"event": "exited", "key": K, "returncode": N}       negative: killed by that signal

What is preloaded is found without running application code: the import statements of the listed
modules' files (and of the application modules they import, transitively) are read with ``ast``;
each imported module whose top level resolves outside the application's directories (stdlib,
site-packages) is imported here. A fork then starts as ``python SCRIPT`` does (``sys.argv``,
``sys.path[0]`` the script's directory) and runs ``run_import.main`` itself: its own process group,
output file, faulthandler deadline and result file, its module the first application import of
its process. On leaving, the fork does what a fresh interpreter's exit does observably (non-daemon
threads joined, atexit handlers run, streams flushed) without tearing every preloaded module down.
"""

from __future__ import annotations

import ast
import gc
import importlib
import importlib.machinery
import importlib.util
import json
import os
import runpy
import selectors
import signal
import sys
import sysconfig
import threading
import time

import run_import  # this script's directory, still sys.path[0]

HERE = os.path.dirname(os.path.abspath(__file__))
run_import._make_cwd_first()  # as in a fresh check: the working directory first, this directory gone

_MAX_APP_FILES = 5000


class _Child(Exception):
    """Raised in a freshly forked child to unwind the zygote's loop and run one script in ``main``."""

    def __init__(self, message: dict) -> None:
        super().__init__()
        self.message = message


def main(argv: list[str]) -> int:
    control, events = int(argv[1]), int(argv[2])
    try:
        return _serve(control, events)
    except _Child as child:
        status = _run(child.message)
    _finalize_quickly()
    os._exit(status)


def _serve(control: int, events: int) -> int:
    reader = _Lines(control)
    selector = selectors.DefaultSelector()
    children: dict[int, tuple[str, int]] = {}  # pidfd -> (key, pid)
    while True:  # forks asked for before the preload are as clean as fresh interpreters
        message = reader.next_blocking()
        if message is None or message["op"] == "exit":
            _kill_all(children)
            return 0
        if message["op"] == "run":
            _fork(message, selector, children, events, reader)
        elif message["op"] == "preload":
            break
    started = time.monotonic()
    preloaded, failed = preload(dependency_closure(message["modules"]))
    fallback = unsafe_to_fork()
    files = sorted({f for f in (getattr(m, "__file__", None) for m in list(sys.modules.values())) if isinstance(f, str)})
    _send(events, {"event": "ready", "preloaded": preloaded, "failed": failed, "fallback": fallback,
                   "preload_ms": round((time.monotonic() - started) * 1000, 1), "files": files})
    if fallback:
        for pidfd in list(children):
            _reap(selector, pidfd, children, events)
        return 0
    gc.freeze()  # keep the collector from touching (and so copying) every preloaded page in each fork
    selector.register(control, selectors.EVENT_READ, None)
    while True:
        ready = selector.select(0 if reader.queue else None)
        for key, _ in ready:
            if key.data is not None:
                _reap(selector, key.fd, children, events)
        if not reader.queue and not any(key.data is None for key, _ in ready):
            continue
        for message in reader.available():
            if message is None or message["op"] == "exit":
                _kill_all(children)
                return 0
            if message["op"] == "run":
                _fork(message, selector, children, events, reader)
            elif message["op"] == "kill":
                for key_, pid in children.values():
                    if key_ == message["key"]:
                        _kill_group(pid)


class _Lines:
    """JSON lines read from a pipe; ``None`` stands for end of file."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.queue: list = []
        self.partial = b""

    def next_blocking(self) -> dict | None:
        while not self.queue:
            self.queue += self.available()
        return self.queue.pop(0)

    def available(self) -> list:
        """What one read gives (it blocks only if nothing is there yet), queued lines first."""
        if self.queue:
            queued, self.queue = self.queue, []
            return queued
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return [None]
        *complete, self.partial = (self.partial + chunk).split(b"\n")
        return [json.loads(line) for line in complete if line]

    def close(self) -> None:
        os.close(self.fd)


def _send(fd: int, message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _fork(message: dict, selector, children: dict, events: int, reader: _Lines) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        selector.close()  # only this process's descriptor: the zygote's registrations stay
        reader.close()
        for fd in [events, *children]:
            os.close(fd)
        raise _Child(message)
    try:
        os.setpgid(pid, pid)  # also here, so that its group exists before anyone may kill it
    except OSError:
        pass
    pidfd = os.pidfd_open(pid)
    children[pidfd] = (message["key"], pid)
    selector.register(pidfd, selectors.EVENT_READ, pid)
    _send(events, {"event": "started", "key": message["key"], "pid": pid})


def _reap(selector, pidfd: int, children: dict, events: int) -> None:
    key, pid = children.pop(pidfd)
    selector.unregister(pidfd)
    os.close(pidfd)
    _kill_group(pid)  # whatever the check left running; the zombie still holds the group id
    _, status = os.waitpid(pid, 0)
    _send(events, {"event": "exited", "key": key, "returncode": os.waitstatus_to_exitcode(status)})


def _kill_all(children: dict) -> None:
    for _, pid in children.values():
        _kill_group(pid)
    for pidfd, (_, pid) in children.items():
        os.waitpid(pid, 0)
        os.close(pidfd)
    children.clear()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run(message: dict) -> int:
    """In the fork: become ``python SCRIPT ARGS...`` with output to the given file, and run it."""
    output = os.open(message["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    script = os.path.join(HERE, message["script"])
    sys.argv = [script, *message["args"]]
    sys.path[0] = HERE  # as ``python SCRIPT`` starts; the script puts the working directory there
    try:
        if message["script"] == "run_import.py":
            return run_import.main(sys.argv)
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _finalize_quickly() -> None:
    """What a fresh interpreter's exit does that a check can observe, without tearing down every
    preloaded module (slow, and it copies each shared page): join non-daemon threads, run atexit."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


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


def dependency_closure(modules: list[str]) -> list[tuple[str, list[str]]]:
    """Non-application modules imported at module level by ``modules`` and the app code they import,
    each with the names taken from it (``from M import N`` may name a submodule)."""
    roots = _app_roots()
    libraries = library_dirs()
    queue = list(modules)
    seen_app: set[str] = set()
    external: dict[str, None] = {}
    taken: dict[str, list[str]] = {}
    top_is_app: dict[str, bool] = {}
    while queue and len(seen_app) < _MAX_APP_FILES:
        name = queue.pop(0)
        if name in seen_app:
            continue
        parts = name.split(".")
        top = parts[0]
        if top not in top_is_app:
            top_is_app[top] = _is_app_top(top, libraries)
        if not top_is_app[top]:
            external.setdefault(name)
            continue
        seen_app.add(name)
        queue += [".".join(parts[:i]) for i in range(1, len(parts))]  # parents' __init__ run first
        source = _app_source(name, roots)
        if source is None:
            continue
        for module, names in _imports(source, name):
            queue.append(module)
            queue += [f"{module}.{n}" for n in names if _app_source(f"{module}.{n}", roots)]
            taken.setdefault(module, []).extend(names)
    return [(name, list(dict.fromkeys(taken.get(name, ())))) for name in external]


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


def preload(closure: list[tuple[str, list[str]]]) -> tuple[list[str], list[dict]]:
    """Import each module; a failure is recorded and skipped (the check that needs it meets it again)."""
    preloaded: list[str] = []
    failed: list[dict] = []

    def attempt(name: str) -> object | None:
        try:
            module = importlib.import_module(name)
        except BaseException as exc:  # SystemExit too: the zygote carries on without it
            failed.append({"module": name, "error": f"{type(exc).__name__}: {exc}"})
            return None
        preloaded.append(name)
        return module

    for name, names in closure:
        module = attempt(name)
        for attr in names if module is not None else ():
            if not hasattr(module, attr) and _is_submodule(f"{name}.{attr}"):
                attempt(f"{name}.{attr}")
    return preloaded, failed


def _is_submodule(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False


def unsafe_to_fork() -> str | None:
    """Why forking this process would not give clean checks, or ``None``."""
    threads = _thread_count()
    if threads > 1:
        names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        return (f"a preloaded module left {threads - 1} thread(s) running ({', '.join(names) or 'native'}); "
                f"forking would copy their locks mid-use")
    libraries = library_dirs()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.isabs(path) and name != "__main__" and not path.startswith(os.path.dirname(__file__)):
            real = os.path.realpath(path)
            if not any(real.startswith(lib + os.sep) for lib in libraries):
                return f"preloading imported application module {name} ({path}); it would not be imported first"
    return None


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))  # native threads too
    except OSError:
        return threading.active_count()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
