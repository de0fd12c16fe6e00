"""Become the server: give back the signal state preflight was started with, then ``os.execvp`` in place.

After the exec the server has this PID, the untouched argv, the environment, stdin and fds 0-2.
Every fd preflight opened itself is close-on-exec (PEP 446), so none leaks into the server.
"""

from __future__ import annotations

import os
import sys

from preflight import signal_state
from preflight.errors import PreflightError


class ExecFailed(PreflightError):
    def __init__(self, message: str, exit_code: int, tip: str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.tip = tip


def reap_orphans() -> None:
    """As PID 1, collect zombies left by killed checks before the server (often no reaper) takes over."""
    if os.getpid() != 1:
        return
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def exec_server(command: list[str]) -> None:
    """Replace this process with ``command``; returns only by raising ``ExecFailed``."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal_state.restore()
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        raise ExecFailed(f"command not found: {command[0]!r}", 127) from None
    except PermissionError:
        raise ExecFailed(f"command not executable: {command[0]!r}", 126,
                         tip=f"chmod +x {command[0]}, or start it through its interpreter") from None
    except OSError as exc:
        raise ExecFailed(f"cannot exec {command[0]!r}: {exc.strerror}", 126) from None
