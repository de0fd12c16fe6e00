"""Start clean interpreters, enforce deadlines, cap their output, and kill them with all they spawned.

Single-threaded: children are watched through pidfds and a selector, so a SIGTERM handler that
raises in the main thread interrupts the wait at once, and ``kill_all`` leaves nothing running.

Two modes. ``fresh``: every job is a new interpreter. ``zygote``: forkable jobs (import checks) are
forked from one interpreter that preloaded the application's third-party dependencies
(``_child/zygote.py``); each fork still imports its module as its first application import. When
forking is unsafe there, the runner falls back to fresh interpreters and says why (``mode_reason``).
A fork whose import changed what a library sees at its import (the environment, warning filters,
the import path) is run again in a fresh interpreter: its preloaded libraries were imported before
the change, where a fresh interpreter imports them after it (``Outcome.fresh_because``).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from typing import Any

from preflight import orphans
from preflight.errors import PreflightError
from preflight.signal_state import interrupts_held
from preflight.zygote_launch import CHILD_DIR, Booting, boot, fork_unsupported, kill_group

OUTPUT_TAIL_BYTES = 4096
KILL_GRACE_SECONDS = 2.0  # beyond the child's own faulthandler deadline, before SIGKILL
RESULT, STACK = "{result}", "{stack}"  # placeholders in Job.args for the child's own files
_PLACEHOLDERS = (RESULT, STACK)

# A tmpfs in Docker and Kubernetes containers, writable under a read-only root filesystem too.
FALLBACK_SCRATCH = "/dev/shm"


def _scratch_directory() -> tempfile.TemporaryDirectory:
    """Where the checks' results and stacks go: the temporary directory, else ``FALLBACK_SCRATCH``. A
    read-only root without a writable /tmp leaves tempfile none, and the application's own use of
    it at import is then a finding of the checks, not the end of the gate."""
    try:
        return tempfile.TemporaryDirectory(prefix="preflight-")
    except FileNotFoundError:  # tempfile: "No usable temporary directory"
        pass
    try:
        return tempfile.TemporaryDirectory(prefix="preflight-", dir=FALLBACK_SCRATCH)
    except OSError as exc:
        raise PreflightError(
            f"no writable directory for the checks' results: neither a temporary directory (TMPDIR, /tmp, "
            f"/var/tmp, the working directory) nor {FALLBACK_SCRATCH} ({exc.strerror}). Mount a writable "
            f"emptyDir or tmpfs at /tmp, or set TMPDIR to a writable directory") from exc


@dataclass(eq=False)  # compared by identity: removing one from a long list compared every field of each
class Job:
    """One child interpreter to run: ``script`` from ``_child/`` with ``args``, within ``timeout``.

    An argument equal to ``RESULT`` or ``STACK`` is replaced by the path of that child's file.
    ``fork``: whether a zygote may run it as a fork: ``"clean"`` before it preloads anything (as
    clean as a fresh interpreter), ``"preloaded"`` after; ``None``: always a fresh interpreter.
    """

    key: str
    script: str
    args: list[str]
    timeout: float | None = None
    fork: str | None = None


@dataclass
class Outcome:
    """What a child left behind: its exit, its JSON result, the tail of its output, its stack."""

    key: str
    returncode: int | None = None
    result: dict[str, Any] | None = None
    output_tail: str = ""
    output_bytes: int = 0
    stack_dump: str = ""
    timed_out: bool = False
    duration_ms: float = 0.0
    fresh_because: list[str] | None = None  # run again afresh: what its fork's import changed

    @property
    def signal_name(self) -> str | None:
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None


@dataclass(eq=False)  # as Job
class _Running:
    job: Job
    files: dict[str, str]
    started: float
    deadline: float | None
    proc: subprocess.Popen | None = None  # a fresh interpreter
    pidfd: int | None = None
    forked: bool = False  # a fork of the zygote: ``pid`` once it said so, ``returncode`` when reaped
    pid: int | None = None
    returncode: int | None = None
    timed_out: bool = False


@dataclass
class Runner:
    """Runs jobs under ``interpreter`` in ``workdir`` with ``env``, at most ``workers`` at a time.

    ``preload``: application modules whose third-party dependencies a zygote imports once, to fork
    the jobs that allow it; ``None`` runs everything in fresh interpreters. After ``run``, ``mode``
    says how the forkable jobs ran and ``mode_reason`` why a zygote was not used, if it was asked for.
    """

    interpreter: str
    workdir: str
    env: dict[str, str] | None = None
    workers: int = field(default_factory=lambda: available_cpus())
    preload: list[str] | None = None
    remembered: list[str] = field(default_factory=list)  # library modules to preload after the rest
    scan_cache: str | None = None  # where the zygote keeps what it read from the application's files
    sys_path_head: list[str] | None = None  # the server's first sys.path entries, if not the workdir
    python_options: tuple[str, ...] = ()  # the server's interpreter options (-O, -W error, -I): every child's too
    preload_timeout: float = 60.0
    mode: str = "fresh"
    mode_reason: str | None = None
    zygote_report: dict[str, Any] | None = None
    _running: list[_Running] = field(default_factory=list)
    _scratch: tempfile.TemporaryDirectory | None = None
    prestarted: Booting | None = None  # from ``zygote_launch.boot``: booted while the gate was loading
    _zygote: _Zygote | None = None  # the one forks go to
    _zygotes: list[_Zygote] = field(default_factory=list)  # every one alive, draining ones too
    _count: int = 0

    def run(self, jobs: list[Job]) -> dict[str, Outcome]:
        """Run every job; return outcomes by key. Interrupts propagate after ``kill_all``."""
        self._scratch = _scratch_directory()
        pending = list(jobs)
        outcomes: dict[str, Outcome] = {}
        selector = selectors.DefaultSelector()
        try:
            if self.preload is not None and any(j.fork == "preloaded" for j in jobs):
                self._start_zygote(selector)
            elif self.prestarted is not None:
                self.prestarted, zygote = None, self.prestarted
                zygote.discard()
            reruns: dict[str, list[str]] = {}
            while pending or self._running:
                self._start_pending(pending, selector)
                for done in self._wait(selector, pending):
                    outcome = self._finish(done, selector)
                    changed = (outcome.result or {}).get("changed") if done.job.fork == "preloaded" and done.forked else None
                    if changed:  # the libraries it imports after the change were preloaded before it
                        reruns[done.job.key] = changed
                        pending.insert(0, replace(done.job, fork=None))
                        continue
                    outcome.fresh_because = reruns.get(done.job.key)
                    outcomes[done.job.key] = outcome
            self._stop_zygote(selector)
        except BaseException:
            self.kill_all()
            raise
        finally:
            selector.close()
            self._scratch.cleanup()
        return outcomes

    def kill_all(self) -> None:
        """SIGKILL every running child's process group (forks of the zygote too) and reap them all."""
        self._zygote = None
        if self.prestarted is not None:
            self.prestarted, prestarted = None, self.prestarted
            prestarted.discard()
        for zygote in self._zygotes:
            zygote.kill_all()
        self._zygotes.clear()
        for running in self._running:
            if running.proc is not None:
                kill_group(running.proc.pid)
                running.proc.wait()
            if running.pidfd is not None:
                os.close(running.pidfd)
        self._running.clear()

    def _start_pending(self, pending: list[Job], selector: selectors.BaseSelector) -> None:
        zygote = self._zygote
        if zygote is not None:  # it bounds its forks by the cores itself, and starts each when it can
            for job in [j for j in pending if j.fork == "preloaded" or (j.fork == "clean" and not zygote.preloading)]:
                pending.remove(job)
                self._fork(job, zygote)
            if not zygote.preloading:
                zygote.preloading = True
                zygote.send({"op": "preload", "modules": self.preload, "workers": self.workers,
                             "spill_dir": self._scratch.name if self._scratch else None,
                             "remembered": self.remembered, "scan_cache": self.scan_cache,
                             "sys_path_head": self.sys_path_head})
        busy = len([r for r in self._running if not r.forked or r.pid])  # a fresh rerun waits for a core too
        for job in list(pending):
            if busy >= self.workers:
                return
            pending.remove(job)
            self._start(job, selector)
            busy += 1

    def _files(self) -> dict[str, str]:
        assert self._scratch is not None
        self._count += 1
        base = os.path.join(self._scratch.name, str(self._count))
        return {"result": base + ".json", "output": base + ".out", "stack": base + ".stack"}

    def _start(self, job: Job, selector: selectors.BaseSelector) -> None:
        files = self._files()
        args = [files.get(arg[1:-1], arg) if arg in _PLACEHOLDERS else arg for arg in job.args]
        argv = [self.interpreter, *self.python_options, os.path.join(CHILD_DIR, job.script), *args]
        with interrupts_held():  # an interrupt now would orphan the new child
            self._spawn(job, files, argv, selector)

    def _spawn(self, job: Job, files: dict[str, str], argv: list[str], selector: selectors.BaseSelector) -> None:
        with open(files["output"], "wb") as output:
            proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole, grandchildren too
            )
        orphans.note_group(proc.pid)  # a session of its own: its group is its pid
        running = _Running(job, files, time.monotonic(), None, proc=proc)
        running.deadline = _deadline(running.started, job.timeout)
        if hasattr(os, "pidfd_open"):
            running.pidfd = os.pidfd_open(proc.pid)
            selector.register(running.pidfd, selectors.EVENT_READ, running)
        self._running.append(running)

    def _fork(self, job: Job, zygote: _Zygote) -> None:
        files = self._files()
        running = _Running(job, files, time.monotonic(), None, forked=True)  # the deadline runs once started
        zygote.submit(running, [files.get(arg[1:-1], arg) if arg in _PLACEHOLDERS else arg for arg in job.args])
        self._running.append(running)

    def _wait(self, selector: selectors.BaseSelector, pending: list[Job]) -> list[_Running]:
        """Block until a child exits or a deadline passes; return the children that are done."""
        now = time.monotonic()
        deadlines = [r.deadline for r in self._running if r.deadline is not None]
        if self._zygote is not None and not self._zygote.ready:
            deadlines.append(self._zygote.ready_deadline)
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        done: list[_Running] = []
        if selector.get_map():
            for key, _ in selector.select(timeout):
                if isinstance(key.data, _Zygote):
                    done += self._zygote_events(key.data, selector, pending)
                else:
                    done.append(key.data)
        else:  # no pidfds on this platform: wait on the oldest child
            oldest = self._running[0]
            try:
                assert oldest.proc is not None
                oldest.proc.wait(timeout)
                done.append(oldest)
            except subprocess.TimeoutExpired:
                pass
        now = time.monotonic()
        zygote = self._zygote
        if zygote is not None and not zygote.ready and now >= zygote.ready_deadline:
            self._fall_back(f"preloading did not finish within {self.preload_timeout:g}s", selector, pending)
            zygote = None
        for running in self._running:
            if running in done or running.deadline is None or now < running.deadline:
                continue
            if running.timed_out or not running.forked or zygote is None:  # the backstop: kill it here
                running.timed_out = True
                kill_group(running.pid if running.forked else running.proc.pid)  # type: ignore[union-attr]
                if running.forked:
                    running.returncode = -signal.SIGKILL
                    for owner in self._zygotes:
                        owner.running.pop(running.job.key, None)
                done.append(running)
            else:  # the zygote kills and reaps it, then reports; the backstop fires after the grace
                running.timed_out = True
                running.deadline = now + KILL_GRACE_SECONDS
                zygote.kill(running)
        return done

    def _zygote_events(self, zygote: _Zygote, selector: selectors.BaseSelector, pending: list[Job]) -> list[_Running]:
        done: list[_Running] = []
        for event in zygote.events():
            if event is None:  # the zygote is gone
                self._zygote_died(zygote, selector, pending)
                break
            if event["event"] == "ready":
                self.zygote_report = {k: v for k, v in event.items() if k != "event"}
                if event.get("fallback"):  # it reaps what it runs, then exits: read on until then
                    self.mode, self.mode_reason = "fresh", event["fallback"]
                    zygote.draining = True
                    self._zygote = None
                    for running in [r for r in zygote.running.values() if not r.pid]:  # never forked
                        del zygote.running[running.job.key]
                        self._running.remove(running)
                        pending.insert(0, running.job)
                    continue
                if zygote is not self._zygote:  # ready too late: it was given up on
                    continue
                zygote.ready = True
                self.mode = "zygote"
            elif event["event"] == "started":
                zygote.started(event)
                if zygote is self._zygote:  # forks may all be done before "ready" arrives
                    self.mode = "zygote"
            elif event["event"] == "learned" and self.zygote_report is not None:
                self.zygote_report.setdefault("learned", []).extend(event["modules"])
            elif event["event"] == "exited":
                running = zygote.running.pop(event["key"], None)
                if running is not None:  # else: killed from here after its grace, already done
                    running.returncode = event["returncode"]
                    done.append(running)
        return done

    def _fall_back(self, reason: str, selector: selectors.BaseSelector, pending: list[Job]) -> None:
        """Stop the zygote (its forks too) and run in fresh interpreters what it had not finished."""
        self.mode, self.mode_reason = "fresh", reason
        zygote, self._zygote = self._zygote, None
        if zygote is not None:
            selector.unregister(zygote.events_fd)
            zygote.kill_all()
            self._zygotes.remove(zygote)
            self._requeue(zygote, pending)

    def _zygote_died(self, zygote: _Zygote, selector: selectors.BaseSelector, pending: list[Job]) -> None:
        status = zygote.close(selector)
        self._zygotes.remove(zygote)
        if zygote.draining:
            self._requeue(zygote, pending)
            return
        self._zygote = None
        self.mode = "fresh"
        if zygote.ready:
            self.mode_reason = f"the zygote exited with status {status}; the rest ran in fresh interpreters"
        else:
            self.mode_reason = f"the zygote exited with status {status} while preloading"
        self._requeue(zygote, pending)

    def _requeue(self, zygote: _Zygote, pending: list[Job]) -> None:
        for running in list(zygote.running.values()):  # kill what it left, run those jobs afresh
            if running.pid:
                kill_group(running.pid)
            self._running.remove(running)
            pending.insert(0, running.job)
        zygote.running.clear()

    def _stop_zygote(self, selector: selectors.BaseSelector) -> None:
        self._zygote = None
        for zygote in self._zygotes:
            zygote.close(selector)
        self._zygotes.clear()

    def _finish(self, running: _Running, selector: selectors.BaseSelector) -> Outcome:
        if running.forked:  # the zygote killed what the check left running and reaped it
            returncode = running.returncode
        else:
            assert running.proc is not None
            if hasattr(os, "waitid"):  # wait without reaping, so the group id cannot be reused yet
                os.waitid(os.P_PID, running.proc.pid, os.WEXITED | os.WNOWAIT)
            kill_group(running.proc.pid)  # whatever the check left running
            returncode = running.proc.wait()
        if running.pidfd is not None:
            selector.unregister(running.pidfd)
            os.close(running.pidfd)
        self._running.remove(running)
        stack = _read_text(running.files["stack"])
        outcome = Outcome(
            key=running.job.key,
            returncode=returncode,
            result=_read_json(running.files["result"]),
            stack_dump=stack,
            timed_out=running.timed_out or (stack.startswith("Timeout (") and returncode == 1),  # faulthandler's
            duration_ms=round((time.monotonic() - running.started) * 1000, 1),
        )
        outcome.output_tail, outcome.output_bytes = _tail(running.files["output"])
        return outcome

    def _start_zygote(self, selector: selectors.BaseSelector) -> None:
        reason = fork_unsupported()
        if reason:
            self.mode_reason = reason
            return
        assert self._scratch is not None and self.preload is not None
        booting, self.prestarted = self.prestarted, None
        booting = booting or boot(self.interpreter, self.workdir, self.env, self.python_options)
        assert booting is not None
        self._zygote = _Zygote(booting)
        selector.register(self._zygote.events_fd, selectors.EVENT_READ, self._zygote)
        self._zygotes.append(self._zygote)
        self._zygote.ready_deadline = time.monotonic() + self.preload_timeout


class _Zygote:
    """The parent's end of ``_child/zygote.py``: JSON lines out on one pipe, events back on another."""

    def __init__(self, booting: Booting) -> None:
        orphans.note_group(booting.proc.pid)
        self.proc = booting.proc
        self.control = booting.control
        self.events_fd = booting.events
        self.ready = False
        self.preloading = False  # the preload was asked for: forks from now on carry it
        self.draining = False  # it fell back: it forks nothing more and exits when its forks are done
        self.ready_deadline = 0.0
        self.running: dict[str, _Running] = {}
        self._partial = b""

    def send(self, message: dict[str, Any]) -> bool:
        data = (json.dumps(message) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.control, data):]
        except OSError:  # it is gone; its end of file is on the events pipe
            return False
        return True

    def submit(self, running: _Running, args: list[str]) -> None:
        self.running[running.job.key] = running
        self.send({"op": "run", "key": running.job.key, "script": running.job.script, "args": args,
                   "output": running.files["output"], "after_preload": running.job.fork == "preloaded"})

    def kill(self, running: _Running) -> None:
        self.send({"op": "kill", "key": running.job.key})

    def events(self) -> list[dict[str, Any] | None]:
        chunk = os.read(self.events_fd, 65536)
        if not chunk:
            return [None]
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        return [_unspilled(json.loads(line)) for line in complete if line]

    def started(self, event: dict[str, Any]) -> None:
        running = self.running.get(event["key"])
        orphans.note_group(event["pid"])  # each fork leads a group of its own
        if running is not None:
            running.pid = event["pid"]
            running.started = time.monotonic()
            running.deadline = _deadline(running.started, running.job.timeout)

    def close(self, selector: selectors.BaseSelector) -> int:
        """Ask it to exit (it kills and reaps its forks); SIGKILL its group if it does not. Its status."""
        if self.ready and not self.draining and self.send({"op": "exit"}):
            try:
                self.proc.wait(KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        status = self._kill()
        selector.unregister(self.events_fd)
        self._close_fds()
        return status

    def kill_all(self) -> None:
        """Nothing it started may outlive this: it kills its forks when it can take the order; every
        fork it announced (the pipe keeps announcements after its death) is killed from here too."""
        try:  # SIGTERM: the zygote and its helpers kill the forks they made, even mid-fork, and exit
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(KILL_GRACE_SECONDS)
        except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
            pass
        self._kill()
        while True:  # its end is closed now: read to the end of what it said
            events = self.events()
            for event in events:
                if event is not None and event["event"] == "started":
                    self.started(event)
                elif event is not None and event["event"] == "exited":  # reaped: its pid may be reused
                    self.running.pop(event["key"], None)
            if None in events:
                break
        for running in self.running.values():
            if running.pid:
                kill_group(running.pid)
        self._close_fds()

    def _kill(self) -> int:
        kill_group(self.proc.pid)
        return self.proc.wait()

    def _close_fds(self) -> None:
        for fd in (self.control, self.events_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def _deadline(started: float, timeout: float | None) -> float | None:
    return started + timeout + KILL_GRACE_SECONDS if timeout else None


def _unspilled(event: dict[str, Any]) -> dict[str, Any]:
    """An event the zygote wrote to a file, being longer than one atomic pipe write, read back."""
    if "spilled" not in event:
        return event
    with open(event["spilled"], "rb") as handle:
        return json.loads(handle.read())


def available_cpus() -> int:
    """CPUs this process may really use: its affinity, capped by a cgroup v2 quota (a pod's CPU limit)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(256 * 1024)
    except FileNotFoundError:
        return ""


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
        return None


def _tail(path: str) -> tuple[str, int]:
    """The last ``OUTPUT_TAIL_BYTES`` of a file, decoded leniently, and the file's full size."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - OUTPUT_TAIL_BYTES))
            return handle.read().decode("utf-8", errors="replace"), size
    except FileNotFoundError:
        return "", 0
