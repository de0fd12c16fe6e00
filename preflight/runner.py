"""Start clean interpreters, enforce deadlines, cap their output, and kill them with all they spawned.

Single-threaded: children are watched through pidfds and a selector, so a SIGTERM handler that
raises in the main thread interrupts the wait at once, and ``kill_all`` leaves nothing running.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

CHILD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_child")
OUTPUT_TAIL_BYTES = 4096
KILL_GRACE_SECONDS = 2.0  # beyond the child's own faulthandler deadline, before SIGKILL
RESULT, STACK = "{result}", "{stack}"  # placeholders in Job.args for the child's own files
_PLACEHOLDERS = (RESULT, STACK)


@dataclass
class Job:
    """One child interpreter to run: ``script`` from ``_child/`` with ``args``, within ``timeout``.

    An argument equal to ``RESULT`` or ``STACK`` is replaced by the path of that child's file.
    """

    key: str
    script: str
    args: list[str]
    timeout: float | None = None


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

    @property
    def signal_name(self) -> str | None:
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None


@dataclass
class _Running:
    job: Job
    proc: subprocess.Popen
    files: dict[str, str]
    started: float
    deadline: float | None
    pidfd: int | None = None
    timed_out: bool = False


@dataclass
class Runner:
    """Runs jobs under ``interpreter`` in ``workdir`` with ``env``, at most ``workers`` at a time."""

    interpreter: str
    workdir: str
    env: dict[str, str] | None = None
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    _running: list[_Running] = field(default_factory=list)
    _scratch: tempfile.TemporaryDirectory | None = None

    def run(self, jobs: list[Job]) -> dict[str, Outcome]:
        """Run every job; return outcomes by key. Interrupts propagate after ``kill_all``."""
        self._scratch = tempfile.TemporaryDirectory(prefix="preflight-")
        pending = list(jobs)
        outcomes: dict[str, Outcome] = {}
        selector = selectors.DefaultSelector()
        try:
            while pending or self._running:
                while pending and len(self._running) < self.workers:
                    self._start(pending.pop(0), selector)
                for done in self._wait(selector):
                    outcomes[done.job.key] = self._finish(done, selector)
        except BaseException:
            self.kill_all()
            raise
        finally:
            selector.close()
            self._scratch.cleanup()
        return outcomes

    def kill_all(self) -> None:
        """SIGKILL every running child's process group and reap the children."""
        for running in self._running:
            _kill_group(running.proc.pid)
            running.proc.wait()
            if running.pidfd is not None:
                os.close(running.pidfd)
        self._running.clear()

    def _start(self, job: Job, selector: selectors.BaseSelector) -> None:
        assert self._scratch is not None
        base = os.path.join(self._scratch.name, f"{len(os.listdir(self._scratch.name))}")
        files = {"result": base + ".json", "output": base + ".out", "stack": base + ".stack"}
        args = [files.get(arg[1:-1], arg) if arg in _PLACEHOLDERS else arg for arg in job.args]
        argv = [self.interpreter, os.path.join(CHILD_DIR, job.script), *args]
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
        started = time.monotonic()
        deadline = started + job.timeout + KILL_GRACE_SECONDS if job.timeout else None
        running = _Running(job, proc, files, started, deadline)
        if hasattr(os, "pidfd_open"):
            running.pidfd = os.pidfd_open(proc.pid)
            selector.register(running.pidfd, selectors.EVENT_READ, running)
        self._running.append(running)

    def _wait(self, selector: selectors.BaseSelector) -> list[_Running]:
        """Block until a child exits or a deadline passes; return the children that are done."""
        now = time.monotonic()
        deadlines = [r.deadline for r in self._running if r.deadline is not None]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        done: list[_Running] = []
        if selector.get_map():
            for key, _ in selector.select(timeout):
                done.append(key.data)
        else:  # no pidfds on this platform: wait on the oldest child
            oldest = self._running[0]
            try:
                oldest.proc.wait(timeout)
                done.append(oldest)
            except subprocess.TimeoutExpired:
                pass
        now = time.monotonic()
        for running in self._running:
            if running not in done and running.deadline is not None and now >= running.deadline:
                running.timed_out = True
                _kill_group(running.proc.pid)
                done.append(running)
        return done

    def _finish(self, running: _Running, selector: selectors.BaseSelector) -> Outcome:
        if hasattr(os, "waitid"):  # wait without reaping, so the group id cannot be reused yet
            os.waitid(os.P_PID, running.proc.pid, os.WEXITED | os.WNOWAIT)
        _kill_group(running.proc.pid)  # whatever the check left running
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
            timed_out=running.timed_out or stack.lstrip().startswith("Timeout ("),  # faulthandler's deadline dump
            duration_ms=round((time.monotonic() - running.started) * 1000, 1),
        )
        outcome.output_tail, outcome.output_bytes = _tail(running.files["output"])
        return outcome


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
