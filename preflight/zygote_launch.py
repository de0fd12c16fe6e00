"""Boot the zygote's interpreter (``_child/zygote.py``) first thing, before the gate loads the rest.

Only ``os`` and ``subprocess`` are needed here, so ``check`` and ``run`` start the interpreter that
forks the checks a few milliseconds into their own start; ``runner`` drives it from then on.
"""

from __future__ import annotations

import os
import signal
import subprocess

from preflight.signal_state import interrupts_held

CHILD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_child")


class Booting:
    """A zygote started but not yet driven: its process, the control pipe to it, its events pipe."""

    def __init__(self, proc: subprocess.Popen, control: int, events: int) -> None:
        self.proc = proc
        self.control = control
        self.events = events

    def discard(self) -> None:
        """Stop it unused: kill its process group, reap it, close the pipes."""
        kill_group(self.proc.pid)
        self.proc.wait()
        for fd in (self.control, self.events):
            try:
                os.close(fd)
            except OSError:
                pass


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads, if it still exists."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def fork_unsupported() -> str | None:
    """Why this platform cannot run a zygote, or ``None``."""
    if not hasattr(os, "fork") or not hasattr(os, "pidfd_open"):
        return "this platform has no fork() with pidfds; every check ran in a fresh interpreter"
    return None


def boot(interpreter: str, workdir: str, env: dict[str, str] | None, options: tuple[str, ...] = ()) -> Booting | None:
    """Start ``interpreter`` (with the server's ``options``) on the zygote script in ``workdir`` with
    ``env``, in a session of its own; ``None`` where forking is unsupported. What it prints while
    preloading goes nowhere."""
    if fork_unsupported():
        return None
    control_r, control_w = os.pipe()
    events_r, events_w = os.pipe()
    booting = None
    try:
        with interrupts_held():  # an interrupt raised inside Popen would orphan it: raised here after
            proc = subprocess.Popen(
                [interpreter, *options, os.path.join(CHILD_DIR, "zygote.py"), str(control_r), str(events_w)],
                cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(control_r, events_w), start_new_session=True,
            )
            booting = Booting(proc, control_w, events_r)
    except BaseException:
        if booting is not None:
            booting.discard()
        else:
            for fd in (control_w, events_r):
                os.close(fd)
        raise
    finally:
        os.close(control_r)
        os.close(events_w)
    return booting
