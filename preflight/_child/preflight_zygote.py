"""A zygote: import the application's third-party dependencies once, then fork one check per module.

Protocol (started as ``python zygote.py`` by path, which imports this module; standard library
only, never imports preflight):

    python zygote.py CONTROL_FD EVENTS_FD

The parent writes JSON lines to CONTROL_FD:
    {"op": "run", "key": K, "script": "run_import.py", "args": [...], "output": PATH}
        fork, and run that ``_child`` script in the fork as ``python SCRIPT ARGS...`` would, its
        stdout and stderr going to PATH. Before "preload" the fork is as clean as a fresh
        interpreter (the environment probe runs so); after it, it has the preloaded modules.
    {"op": "preload", "modules": ["app.main", ...], "workers": N, "spill_dir": DIR,
     "remembered": [library modules learned by an earlier run],
     "scan_cache": PATH | null (where what was read from the application's files is kept),
     "sys_path_head": [what the server's sys.path starts with] | null (the working directory)}   once
    {"op": "kill", "key": K}                              SIGKILL that fork's process group
    {"op": "exit"}                                        kill every fork, reap them, exit
End of file on CONTROL_FD means the same as "exit". SIGTERM, at any time: kill every fork, exit.
The zygote writes JSON lines to EVENTS_FD:
    {"event": "started", "key": K, "pid": N}
    {"event": "ready", "preloaded": [...], "failed": [{"module", "error"}], "preload_ms": F,
     "remembered": [those of "remembered" it imported], "files": [every loaded module's file],
     "fallback": null | "why forking is unsafe now"}
        after a fallback the zygote forks nothing more: it reaps what runs, then exits
    {"event": "exited", "key": K, "returncode": N}       negative: killed by that signal
    {"event": "learned", "modules": [...]}                 preloaded later, see below
    {"event": E, "spilled": PATH}   event E, too long for one atomic write, is in the file PATH
A status of 70 means a helper fork failed: the parent runs whatever is unfinished afresh.

What is preloaded is found without running application code (``preflight_preload_scan``): the
import statements of the listed modules' files (and of the application modules they import,
transitively) are read with ``ast``; each imported module whose top level resolves outside the
application's directories (stdlib, site-packages) is imported here. What that misses, libraries' own lazy imports (a SQLAlchemy
dialect, ``pydantic.v1`` under FastAPI), is learned from the checks: the library modules a passing
check loaded are imported by a trial fork first and, when that leaves the process safe to fork
(no thread, no application module), here too, so later forks start with them. The parent remembers
them for the next run, whose preload imports them after the rest (no trial: they were safe when
learned, and a preload that makes forking unsafe falls back to fresh interpreters as always; a
remembered module that fails to import is skipped without a word).

A fork starts as ``python SCRIPT`` does (``sys.argv``, ``sys.path[0]`` the script's directory)
and runs ``run_import.main`` itself: its own process group,
output file, faulthandler deadline and result file, its module the first application import of
its process, no exception in flight. It leaves as a fresh check does (``run_import.leave``): atexit
handlers run, streams flushed, threads the import started not waited for, nothing torn down.
"""

from __future__ import annotations

import run_import  # first of all (this script's directory, still sys.path[0]): it notes the startup modules
from preflight_preload_scan import ImportCache, Scanner, library_dirs  # also from this directory, before it leaves sys.path

import gc
import importlib
import importlib.util
import json
import os
import runpy
import select
import selectors
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# As this interpreter was started, like a fresh one: each fork gets them back (``_as_started``).
_STARTED_TERM, _STARTED_MASK = signal.getsignal(signal.SIGTERM), signal.pthread_sigmask(signal.SIG_BLOCK, ())
run_import._make_cwd_first()  # as in a fresh check: the working directory first, this directory gone

_OWN_MODULES = ("run_import", "preflight_preload_scan", "preflight_zygote", "inspect_env")


class _Child(Exception):
    """Raised in a freshly forked child to unwind the zygote's loop and run one script in ``main``."""

    def __init__(self, message: dict) -> None:
        super().__init__()
        self.message = message


def main(argv: list[str]) -> int:
    """Serve until told to exit, then leave at once (no teardown of every preloaded module)."""
    control, events = int(argv[1]), int(argv[2])
    try:
        status = _serve(control, events)
    except _Child as child:
        message = child.message
    else:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    # A fork runs its check here, out of the ``except`` block: no exception is being handled, as in
    # a fresh interpreter (``sys.exc_info()``, and no "During handling of..." in its tracebacks).
    run_import.leave(_run(message))


_server = None  # the zygote's state, kept by each fork: freeing it there would write (so copy) every page it is on


def _serve(control: int, events: int) -> int:
    global _server
    server = _server = _Server(_Lines(control), events)
    signal.signal(signal.SIGTERM, server.terminate)  # the parent's way to stop it while it preloads
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # even if it came blocked
    while True:  # forks asked for before the preload are as clean as fresh interpreters
        message = server.reader.next_blocking()
        if message is None or message["op"] == "exit":
            server.kill_all()
            return 0
        if message["op"] == "preload":
            break
        server.handle(message)
    return server.preload_and_serve(message)


class _Server:
    """The zygote's state: its forks, the runs waiting for their dependencies, what is preloaded.

    Preloading and forking interleave: what the run closest to ready lacks is preloaded next, and
    each run is forked, the longest first, as soon as all of its own dependencies are in (by a
    helper fork while this process still preloads, as it could not reap them in time).
    """

    def __init__(self, reader: _Lines, events: int) -> None:
        self.reader = reader
        self.events = events
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, tuple[str, int]] = {}  # pidfd -> (key, pid)
        self.waiting: list[dict] = []  # runs to fork once their dependencies are preloaded
        self.needs: dict[str, list[str]] = {}  # run key -> modules to preload first
        self.satisfied: set[str] = set()  # keys of the runs whose modules to preload first are all in
        self.done: set[str] = set()
        self.preloaded: list[str] = []
        self.remembered: list[str] = []  # of the modules an earlier run learned, those imported here
        self.failed: list[dict] = []
        self.tokens: _Tokens | None = None  # made when the preload begins
        self.holding: set[int] = set()  # pidfds of the forks that took a token
        self.helpers: dict[int, tuple[int, int]] = {}  # live helper pid -> (release write end, answer read end)
        self.workers = 1
        self.handed: dict[str, dict] = {}  # runs handed to helpers, by key
        self.extra_fds: list[int] = []
        self.preloading = False
        self.scanner: Scanner | None = None
        self.unsafe: str | None = None
        self.safe_mark = run_import.ModuleMark()  # where sys.modules ended when last found safe to fork
        self.shadow_checked = False  # whether every module was looked at for an application file taking its name
        self.realpaths: dict[str, str] = {}  # directory -> its real path, for ``unsafe_to_fork``
        self.weights: dict[str, int] = {}  # run key -> how much of the application its module imports
        self.is_helper = False
        self.helper_forked = 0.0  # time.monotonic() of the last helper's fork
        self.steps_left = 0  # preload steps read from the application's imports, not run yet
        self.results: dict[int, str] = {}  # pidfd of a fork run here -> its result file
        self.unread: list[str] = []  # result files of finished (or handed out) runs, to learn from
        self.tried: set[str] = set()  # modules learned or ruled out
        self.trial: list[str] | None = None  # modules a trial fork is importing now
        self.ready: dict = {}  # the "ready" event, once sent

    def handle(self, message: dict) -> bool:
        """Act on one control message; False when the zygote must stop."""
        if message is None or message["op"] == "exit":
            self.kill_all()
            return False
        if message["op"] == "run":
            if message.get("after_preload"):
                if self.scanner is not None:
                    self.needs[message["key"]] = self._needs(message)
                self._wait([message])
            else:
                self._fork(message)
        elif message["op"] == "kill":
            for key, pid in self.children.values():
                if key == message["key"]:
                    _kill_group(pid)
        return True

    def preload_and_serve(self, message: dict) -> int:
        global _spill_dir
        _spill_dir = message.get("spill_dir")
        run_import._make_cwd_first(message.get("sys_path_head"))  # found and preloaded as the server would
        started = time.monotonic()
        self.workers = max(1, int(message.get("workers") or 1))
        self.tokens = _Tokens(self.workers - 1)  # this one, preloading, takes a core
        self.scanner = Scanner(message["modules"], ImportCache(message.get("scan_cache")))
        for run in self.waiting:
            self.needs[run["key"]] = self._needs(run)
        self.preloading = True
        steps = [*self.scanner.order([self.needs[run["key"]] for run in self.waiting]),
                 *((name, None) for name in message.get("remembered") or ())]
        self._wait([])
        later = {name: names for name, names in steps if names is not None}  # steps not done yet
        self.steps_left = len(later)
        for name, names in steps:
            if names is None:  # remembered: after everything the checks are known to need
                if name in sys.modules or not _attempt(name, self.remembered, []):
                    continue
                self.done.add(name)
            else:
                later.pop(name, None)
                self.steps_left -= 1
                self._preload(name, names)
                self._done_already(later)
            if not self.service(block=False):
                return 0
            if self.unsafe:
                break
        self.preloading = False
        self._release_helpers()  # before "ready", fallback or not: no helper forks after it
        self.tokens.put()  # its core is free for forks now
        self.unsafe = self.unsafe or self._unsafe()
        files = sorted({f for f in (run_import.attribute(m, "__file__") for m in list(sys.modules.values()))
                        if isinstance(f, str)})
        self.ready = {"event": "ready", "preloaded": self.preloaded, "failed": self.failed,
                      "remembered": self.remembered,
                      "fallback": self.unsafe, "files": files,
                      "preload_ms": round((time.monotonic() - started) * 1000, 1)}
        _send(self.events, self.ready)
        self.scanner.cache.save()  # after "ready": the checks wait for that, not for this
        if self.unsafe:  # the parent runs what was not forked in fresh interpreters
            self.drain()
            return 0
        self.selector.register(self.reader.fd, selectors.EVENT_READ, None)
        while self.service(block=True):
            pass
        return 0

    def service(self, block: bool) -> bool:
        """Reap finished forks, act on control messages, fork what may run; False: stop."""
        self._learn()
        self._fork_ready()
        if not block:
            ready = [(key, None) for key, _ in self.selector.select(0)]
            while _readable(self.reader.fd) or self.reader.queue:
                for message in self.reader.available():
                    if not self.handle(message):
                        return False
        else:
            ready = self.selector.select(0 if self.reader.queue else None)
        for key, _ in ready:
            if isinstance(key.data, int):
                self._reap(key.fd)
        if self.unsafe and not self.preloading and not self.is_helper and not self.ready.get("fallback"):
            _send(self.events, {**self.ready, "fallback": self.unsafe})  # learning made forking unsafe
            self.ready["fallback"] = self.unsafe
            self.drain()
            return False
        self._learn()
        if block and (self.reader.queue or any(key.data is None for key, _ in ready)):
            for message in self.reader.available():
                if not self.handle(message):
                    return False
        self._fork_ready()
        return True

    def _fork_ready(self) -> None:
        eligible = [run for run in self.waiting if self._satisfied(run)]  # the longest first (``_wait``)
        self._watch_tokens(bool(eligible) and not self.preloading and not self.unsafe)
        if not eligible or self.unsafe:
            return
        if self.preloading:  # a helper forks them: this one, busy importing, could not reap them
            self._hand_to_helper(eligible)
            return
        self.unsafe = self._unsafe()
        if self.unsafe:
            return
        assert self.tokens is not None
        for run in eligible:
            if not self.tokens.take():
                return  # the selector watches for one coming back
            self.waiting.remove(run)
            self._fork(run, token=True)

    def _hand_to_helper(self, eligible: list[dict]) -> None:
        """While preloading: fork a helper for the runs that may start. When a core is free now, the
        helper takes that token along; else it waits for one, but only where another core exists, a
        step read from the imports is left (the learned ones after them are short) and no helper was
        forked in the last ``_HELPER_GAP`` seconds; till then they wait for the next step. A fork of this
        process is not free for it: each of its imports after a fork pays copy-on-write faults. Yet a
        run left for this zygote waits for the whole preload, and a core may idle all that time."""
        assert self.tokens is not None
        if len(self.helpers) >= _MAX_HELPERS:
            return  # these wait for a later helper, or for this zygote
        in_hand = self.tokens.take()
        waited = time.monotonic() - self.helper_forked
        if not in_hand and (self.workers < 2 or not self.steps_left or waited < _HELPER_GAP):
            return  # one core: no token comes back before the preload ends; no step left: it ends soon
        self.unsafe = self._unsafe()
        if self.unsafe:
            if in_hand:
                self.tokens.put()
            return
        for run in eligible:
            self.waiting.remove(run)
            self.handed[run["key"]] = run
            if run["script"] == "run_import.py":
                self.unread.append(run["args"][1])  # read once this zygote may learn again
        self._helper(eligible, in_hand)
        self.helper_forked = time.monotonic()

    def _release_helpers(self) -> None:
        """The preload is over: tell each helper, and take back the runs it has not begun (see
        ``_helper``). A helper that cannot answer (it failed to fork) ends this zygote: the parent
        then runs afresh whatever is unfinished."""
        for release, _ in self.helpers.values():
            os.close(release)
        for pid in list(self.helpers):
            self._take_answer(pid, released=True)
        self.handed = {}

    def _take_answer(self, pid: int, released: bool = False) -> None:
        """Read a helper's answer (it blocks until the helper gives it) and wait for its runs again."""
        release, answer = self.helpers.pop(pid)
        if not released:
            os.close(release)
        data = b""
        while chunk := os.read(answer, 65536):
            data += chunk
        os.close(answer)
        try:
            keys = json.loads(data)
        except ValueError:
            self.kill_all()
            os._exit(_HELPER_FAILED)
        returned = [self.handed.pop(key) for key in keys]
        not_begun = {run["args"][1] for run in returned if run["script"] == "run_import.py"}
        self.unread = [path for path in self.unread if path not in not_begun]  # none will ever appear
        self._wait(returned)

    def _watch_tokens(self, wanted: bool) -> None:
        """Wake on a token put back (by a fork of this process or of a helper) only while a run waits
        for one: the pipe is readable whenever a token is free."""
        if self.tokens is None:
            return
        watched = self.tokens.read in self.selector.get_map()
        if wanted and not watched:
            self.selector.register(self.tokens.read, selectors.EVENT_READ, _TOKENS)
        elif watched and not wanted:
            self.selector.unregister(self.tokens.read)

    def _helper(self, runs: list[dict], in_hand: bool) -> None:
        """Fork a copy of this zygote that forks ``runs``, each when it gets a token (the first with the
        one this zygote took for it, if ``in_hand``), while this one preloads on.

        When this one is done preloading (end of file on ``release``), the helper starts no more and
        answers with the keys of the runs it has not begun, which this zygote forks itself, with
        everything preloaded and learned since. A helper answers once: then, or when it has begun
        every run. This zygote reads every answer before it sends "ready", so each "started" a
        helper sends comes before it.
        """
        release_r, release_w = os.pipe()
        answer_r, answer_w = os.pipe()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # its handler: terminate()
            try:
                self._help(runs, in_hand, release_r, answer_w, [release_w, answer_r])
            except OSError:  # a fork or a pipe failed: no answer, and the zygote gives up
                os._exit(_HELPER_FAILED)
            os._exit(0)
        os.close(release_r)
        os.close(answer_w)
        self.helpers[pid] = (release_w, answer_r)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (None, pid)  # reaped without an event
        self.selector.register(pidfd, selectors.EVENT_READ, pid)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def _help(self, runs: list[dict], in_hand: bool, release: int, answer: int, others: list[int]) -> None:
        """In a helper: fork ``runs`` as tokens come until released; answer; reap the forks.
        ``in_hand``: whether it holds a token the zygote took for it, its first fork's."""
        self.is_helper = True
        self.reader.close()  # the helper takes no orders: the parent kills its forks itself
        self.selector.close()
        for fd in [*others, *self.children, *(fd for pair in self.helpers.values() for fd in pair)]:
            os.close(fd)
        self.children, self.holding, self.helpers, self.waiting = {}, set(), {}, []
        self.selector, self.preloading = selectors.DefaultSelector(), False
        self.selector.register(release, selectors.EVENT_READ, None)
        self.extra_fds = [release, answer]
        assert self.tokens is not None
        answered = False
        while True:
            if not answered and (not runs or _readable(release)):
                if in_hand:
                    self.tokens.put()
                    in_hand = False
                _write_all(answer, json.dumps([run["key"] for run in runs]).encode())
                os.close(answer)
                self.selector.unregister(release)
                self.extra_fds, runs, answered = [release], [], True
            elif runs and (in_hand or self.tokens.take()):
                in_hand = False
                self._fork(runs.pop(0), token=True)  # in the fork itself this raises _Child, out of here
                continue
            if answered and not self.children:
                return
            self._watch_tokens(bool(runs))
            for key, _ in self.selector.select():
                if isinstance(key.data, int):
                    self._reap(key.fd)

    def _unsafe(self) -> str | None:
        """``unsafe_to_fork`` for the modules imported since it last ran (all of them for a standard-library
        name the application's directory takes, the first time: the preload put that directory first;
        all of them too when one was removed since)."""
        since = self.safe_mark.since()
        new = None if since is None else set(since)
        reason = unsafe_to_fork(new, self.scanner.app_tops if self.scanner else (),
                                new if self.shadow_checked else None, self.realpaths)
        self.safe_mark = run_import.ModuleMark()
        self.shadow_checked = True
        return reason

    def _wait(self, runs: list[dict]) -> None:
        """Add ``runs`` to those waiting, which are kept the longest first once the scan is there, so
        that no long run starts last."""
        self.waiting += runs
        if self.scanner is not None:
            self.waiting.sort(key=lambda run: -self._weight(run))

    def _satisfied(self, run: dict) -> bool:
        """Whether every module ``run`` needs preloaded is in (once so, always so)."""
        key = run["key"]
        if key not in self.satisfied:
            if not all(n in self.done for n in self.needs.get(key, ())):
                return False
            self.satisfied.add(key)
        return True

    def _needs(self, run: dict) -> list[str]:
        assert self.scanner is not None
        module = _module_of(run)
        return [name for name, _ in self.scanner.closure([module] if module else self.scanner.modules)]

    def _weight(self, run: dict) -> int:
        assert self.scanner is not None
        if run["key"] not in self.weights:
            module = _module_of(run)
            self.weights[run["key"]] = self.scanner.weight(module) if module else 0
        return self.weights[run["key"]]

    def _preload(self, name: str, names: list[str]) -> None:
        if _attempt(name, self.preloaded, self.failed):
            for attr in names:
                module = sys.modules.get(name)
                if module is not None and not run_import.has_attribute(module, attr) and _is_submodule(f"{name}.{attr}"):
                    _attempt(f"{name}.{attr}", self.preloaded, self.failed)
        self.done.add(name)

    def _done_already(self, later: dict[str, list[str]]) -> None:
        """Mark (and drop from ``later``) the steps an earlier one has imported with everything they
        name (``sqlalchemy`` with ``sqlalchemy.orm``), so that the runs needing them need not wait
        for their turn. Only imported modules are looked at, each until it is done."""
        for name, names in list(later.items()):
            module = sys.modules.get(name)
            if module is not None and all(run_import.has_attribute(module, attr) for attr in names):
                self.done.add(name)
                del later[name]

    def terminate(self, signum: int, frame: object) -> None:
        """SIGTERM: kill every fork this process made (helpers get the same signal) and leave."""
        for key, pid in self.children.values():
            _kill_group(pid) if key is not None else _kill(pid)
        os._exit(0)

    def _fork(self, message: dict, token: bool = False) -> None:
        """Fork ``message``'s run (``token``: it holds one, put back when it is reaped)."""
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # keep the collector from touching (and so copying) every preloaded page in each fork
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # no SIGTERM before it is recorded
        try:
            self._fork_unmasked(message, token)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def _fork_unmasked(self, message: dict, token: bool) -> None:
        pid = os.fork()
        if pid == 0:
            _as_started()
            os.setpgid(0, 0)
            self.selector.close()  # only this process's descriptor: the zygote's registrations stay
            self.reader.close()
            for fd in [self.events, *self.children, *(fd for pair in self.helpers.values() for fd in pair),
                       *self.extra_fds, *(self.tokens.fds() if self.tokens else ())]:
                os.close(fd)
            raise _Child(message)
        try:
            os.setpgid(pid, pid)  # also here, so that its group exists before anyone may kill it
        except OSError:
            pass
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # out of descriptors: a fork nobody could watch must not run
            _kill_group(pid)
            os.waitpid(pid, 0)
            raise
        if token:
            self.holding.add(pidfd)
        self.children[pidfd] = (message["key"], pid)
        self.selector.register(pidfd, selectors.EVENT_READ, pid)
        if message["script"] == "run_import.py":
            self.results[pidfd] = message["args"][1]
        _send(self.events, {"event": "started", "key": message["key"], "pid": pid})

    def _reap(self, pidfd: int) -> None:
        key, pid = self.children.pop(pidfd)
        if pidfd in self.holding:
            self.holding.discard(pidfd)
            self.tokens.put()  # type: ignore[union-attr]
        self.selector.unregister(pidfd)
        os.close(pidfd)
        if key is None:  # a helper: its forks were reported by it
            _, status = os.waitpid(pid, 0)
            if status:  # it failed: the runs it held may be lost, so leave them all to the parent
                self.kill_all()
                os._exit(_HELPER_FAILED)
            if pid in self.helpers:  # done before the preload was: it answered that it began them all
                self._take_answer(pid)
            return
        _kill_group(pid)  # whatever the check left running; the zombie still holds the group id
        _, status = os.waitpid(pid, 0)
        if key == _TRIAL:
            self._trial_done(os.waitstatus_to_exitcode(status) == 0)
            return
        if pidfd in self.results:
            self.unread.append(self.results.pop(pidfd))
        _send(self.events, {"event": "exited", "key": key, "returncode": os.waitstatus_to_exitcode(status)})

    def _learn(self) -> None:
        """Try the library modules finished checks loaded that this process lacks (see the module's
        docstring): in a trial fork first, one batch at a time."""
        if self.is_helper or self.preloading or self.unsafe or self.trial is not None or not self.unread:
            return
        assert self.scanner is not None  # set when the preload began
        pending, self.unread = self.unread, []
        wanted: dict[str, None] = {}
        for path in pending:
            if not os.path.exists(path):
                self.unread.append(path)  # handed to a helper, not finished yet
                continue
            wanted.update(dict.fromkeys(self._library_modules(path)))
        names = [name for name in wanted if name not in self.tried and name not in sys.modules]
        if not names:
            return
        self.tried.update(names)
        self.trial = names
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            pid = os.fork()
            if pid == 0:
                _trial(names, self.scanner.app_tops)  # exits
            try:
                os.setpgid(pid, pid)
            except OSError:
                pass
            pidfd = os.pidfd_open(pid)
            self.children[pidfd] = (_TRIAL, pid)
            self.selector.register(pidfd, selectors.EVENT_READ, pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def _library_modules(self, result_path: str) -> list[str]:
        """Library modules (not the application's, not a monkey-patcher) a passing check loaded."""
        try:
            with open(result_path, encoding="utf-8") as handle:
                loaded = json.load(handle).get("loaded") or []
        except (OSError, ValueError, AttributeError):
            return []
        assert self.scanner is not None
        names = []
        for name, path in loaded:
            top = name.partition(".")[0]
            if top in _PATCHERS or top == "__main__" or top in self.scanner.app_tops:
                continue
            if path is not None:
                real = os.path.realpath(path)
                if real.startswith(HERE + os.sep) or not any(real.startswith(lib + os.sep)
                                                              for lib in self.scanner.libraries):
                    continue
            names.append(name)
        return names

    def _trial_done(self, safe: bool) -> None:
        names, self.trial = self.trial or [], None
        if not safe:
            return
        learned = []
        for name in names:
            if _attempt(name, learned, []):
                self.done.add(name)
        self.unsafe = self._unsafe()  # what the trial said; checked again, this process is the one forked
        if learned:
            _send(self.events, {"event": "learned", "modules": learned})

    def drain(self) -> None:
        """After a fallback: fork nothing more, report each running fork's exit."""
        for pidfd, (_, pid) in list(self.children.items()):
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
            self._reap(pidfd)

    def kill_all(self) -> None:
        for key, pid in self.children.values():
            _kill_group(pid) if key is not None else _kill(pid)
        for pidfd, (_, pid) in self.children.items():
            os.waitpid(pid, 0)
            os.close(pidfd)
        self.children.clear()


_TRIAL = "\x00trial"  # the key of a trial fork: no check, no events
_PATCHERS = ("gevent", "eventlet")
_TOKENS = "tokens"  # the selector's mark for the token pipe
_HELPER_GAP = 0.025  # seconds: a helper that must wait for a core is forked at most this often
_MAX_HELPERS = 16  # alive at once, three descriptors each: enough to keep every core busy while preloading
_HELPER_FAILED = 70  # this zygote's status when a helper failed: the parent runs the rest afresh
_spill_dir: str | None = None  # where events too long for one atomic write go (see ``_send``)


class _Tokens:
    """A jobserver: a pipe holding one byte per core free for a fork. This zygote and its helpers
    take one before forking a check and put it back when they reap it, so that the checks never
    outnumber the cores, whoever forked them (a preloading zygote counts as one)."""

    def __init__(self, count: int) -> None:
        self.read, self.write = os.pipe()
        os.set_blocking(self.read, False)
        self.put(count)

    def take(self) -> bool:
        try:
            return bool(os.read(self.read, 1))
        except BlockingIOError:
            return False

    def put(self, count: int = 1) -> None:
        if count > 0:
            os.write(self.write, b"+" * count)

    def fds(self) -> list[int]:
        return [self.read, self.write]


def _module_of(run: dict) -> str | None:
    """The module a run checks (``None``: not an import check)."""
    return json.loads(run["args"][0])["module"] if run["script"] == "run_import.py" else None


def _trial(names: list[str], app_tops) -> None:
    """In a fork: import ``names``; exit 0 if the process is still safe to fork from, else 3."""
    _as_started()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    mark = run_import.ModuleMark()
    try:
        for name in names:
            _attempt(name, [], [])
        since = mark.since()
        safe = unsafe_to_fork(None if since is None else set(since), app_tops) is None
    except BaseException:
        safe = False
    os._exit(0 if safe else 3)


def _as_started() -> None:
    """In a fork: SIGTERM's disposition and the signal mask as this interpreter started with, as in a fresh one."""
    signal.signal(signal.SIGTERM, _STARTED_TERM)
    signal.pthread_sigmask(signal.SIG_SETMASK, _STARTED_MASK)


def _readable(fd: int) -> bool:
    """Whether a read would not block (data or end of file); poll, as select() stops at fd 1024."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


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
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _send(fd: int, message: dict) -> None:
    """Write one event line. The zygote, its helpers and their forks share the pipe, and only a
    write of at most PIPE_BUF bytes is never interleaved with another: a longer event goes to a
    file in the parent's directory, and the line names it (``{"event": E, "spilled": PATH}``)."""
    data = (json.dumps(message) + "\n").encode()
    if len(data) > select.PIPE_BUF and _spill_dir is not None:
        path = os.path.join(_spill_dir, f"event-{os.getpid()}-{time.monotonic_ns()}.json")
        with open(path, "wb") as handle:
            handle.write(data)
        data = (json.dumps({"event": message["event"], "spilled": path}) + "\n").encode()
    _write_all(fd, data)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _kill(pid: int) -> None:
    """Stop a helper: on SIGTERM it kills the forks it made, then exits."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


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
    # As ``python SCRIPT`` starts (under -P the scripts put their directory there themselves): what the
    # zygote put first gives way to this directory, and the script puts the server's entries there.
    first = run_import.put_first
    sys.path[:len(first) if sys.path[:len(first)] == first else 0] = [HERE]
    run_import.put_first = []
    try:
        if message["script"] == "run_import.py":
            for name in _OWN_MODULES:  # an application module may take one of these names
                sys.modules.pop(name, None)
            return run_import.main(sys.argv)
        if message["script"] == "inspect_env.py":  # imported, from its bytecode
            import inspect_env

            return inspect_env.main(sys.argv)
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _attempt(name: str, preloaded: list[str], failed: list[dict]) -> bool:
    """Import ``name``; a failure is recorded and skipped (the check that needs it meets it again)."""
    try:
        importlib.import_module(name)
    except BaseException as exc:  # SystemExit too: the zygote carries on without it
        failed.append({"module": name, "error": f"{type(exc).__name__}: {exc}"})
        return False
    preloaded.append(name)
    return True


def preload(closure: list[tuple[str, list[str]]]) -> tuple[list[str], list[dict]]:
    """Import each module and the submodules named in ``from M import N``; failures are recorded."""
    preloaded: list[str] = []
    failed: list[dict] = []
    for name, names in closure:
        if _attempt(name, preloaded, failed):
            for attr in names:
                module = sys.modules.get(name)
                if module is not None and not run_import.has_attribute(module, attr) and _is_submodule(f"{name}.{attr}"):
                    _attempt(f"{name}.{attr}", preloaded, failed)
    return preloaded, failed


def _is_submodule(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False


def unsafe_to_fork(new_modules: set[str] | None = None, app_tops=(), shadow_names: set[str] | None = None,
                   realpaths: dict[str, str] | None = None) -> str | None:
    """Why forking this process would not give clean checks, or ``None``. ``new_modules``: the
    modules to look at for application code (default: all); ``app_tops``: the manifest's packages;
    ``shadow_names``: the modules to look at for an application file taking their name (default:
    all); ``realpaths``: real paths of directories, kept between calls."""
    patchers = [m for m in _PATCHERS if m in sys.modules]
    if patchers:
        return (f"{patchers[0]} is preloaded: its monkey-patching must run before other imports, "
                f"as the application's first module does it; checking in fresh interpreters")
    shadow = run_import.shadowing_app_files(shadow_names)
    if shadow:
        return (f"the application's {shadow[0]} takes the name of a standard-library module the zygote has "
                f"loaded; only a fresh interpreter loads the application's one as the server would")
    threads = _thread_count()
    if threads > 1:
        names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        return (f"a preloaded module left {threads - 1} thread(s) running ({', '.join(names) or 'native'}); "
                f"forking would copy their locks mid-use")
    key = tuple(sys.path)
    if key not in _LIBRARIES:
        _LIBRARIES.clear()
        _LIBRARIES[key] = tuple(lib + os.sep for lib in library_dirs())
    libraries = _LIBRARIES[key]
    realpaths = {} if realpaths is None else realpaths
    for name in sorted(sys.modules if new_modules is None else new_modules):
        if name.partition(".")[0] in app_tops:
            return f"preloading imported application module {name}; it would not be imported first"
        path = run_import.attribute(sys.modules.get(name), "__file__")
        if path and os.path.isabs(path) and name != "__main__" and not path.startswith(HERE):
            if not _real_path(path, realpaths).startswith(libraries):
                return f"preloading imported application module {name} ({path}); it would not be imported first"
    return None


_LIBRARIES: dict[tuple, tuple[str, ...]] = {}  # sys.path -> its library directories, each ending in a separator


def _real_path(path: str, realpaths: dict[str, str]) -> str:
    """``os.path.realpath(path)``, its directory's resolved once (a library's hundreds of modules share few)."""
    if os.path.islink(path):
        return os.path.realpath(path)
    directory, name = os.path.split(path)
    if directory not in realpaths:
        realpaths[directory] = os.path.realpath(directory)
    return os.path.join(realpaths[directory], name)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))  # native threads too
    except OSError:
        return threading.active_count()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
