"""Processes an import started that left its check's process group (``setsid``, ``start_new_session``,
a double fork): killing the group does not reach them, so the gate adopts them (Linux's child
subreaper) and kills them when the checks are done, before the server starts.

A subreaper gets the orphans of all its descendants instead of PID 1. The attribute survives
``execve``, so it is given up again before the server takes this process over.
"""

from __future__ import annotations

import os
import signal

_PR_SET_CHILD_SUBREAPER = 36
_CHECK_GROUPS: set[int] = set()  # process groups of the checks (and the zygote): the group kill reached those


def note_group(pgid: int) -> None:
    """``pgid`` is a check's process group, killed whole when the check ends: what comes from it was
    not detached, only orphaned by that kill."""
    _CHECK_GROUPS.add(pgid)


def adopt() -> bool:
    """Become the reaper of orphaned descendants; False where the platform cannot."""
    return _subreaper(1)


def release() -> None:
    """Stop adopting: the server must not inherit the role."""
    _subreaper(0)


def kill_adopted() -> list[str]:
    """SIGKILL and reap every child of this process (the checks are all reaped by now, so what is
    left was adopted), then the children those leave behind; the program names of those that had
    left their check's process group."""
    names: list[str] = []
    for _ in range(64):  # each round kills one generation; their own orphans come next
        pids = _children()
        if not pids:
            break
        for pid in pids:
            if _group(pid) not in _CHECK_GROUPS:
                names.append(_program(pid))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return names


def _subreaper(value: int) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux, or no prctl
        return False


def _children() -> list[int]:
    """This process's children, from /proc (each thread's ``children``, else every process's ppid)."""
    found: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return []
    listed = False
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children") as handle:
                found.update(int(pid) for pid in handle.read().split())
            listed = True
        except (OSError, ValueError):
            continue
    if not listed:  # a kernel without CONFIG_PROC_CHILDREN
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _parent(int(entry)) == me:
                found.add(int(entry))
    return sorted(found)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _program(pid: int) -> str:
    """The program's name only: a command line may hold a secret."""
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip() or str(pid)
    except OSError:
        return str(pid)
