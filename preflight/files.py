"""Write a JSON document: atomically to a regular file (temp file beside it, then ``os.replace``),
straight through to a character device, a FIFO or an open file named by ``/dev/stdout``-like links."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tempfile
from typing import Any

_FD_DIR = re.compile(r"/proc/[^/]+(/task/[^/]+)?/fd")


def write_json(path: str, data: Any, indent: int | None = None, make_dirs: bool = True) -> None:
    """Readers never see half a document; on failure nothing is left behind. A symlink is followed
    (its target is replaced, not the link); a missing directory is created only with ``make_dirs``.
    Raises ``OSError``."""
    text = json.dumps(data, indent=indent) + "\n"
    if _written_through(path):
        with open(path, "a", encoding="utf-8") as handle:  # append: never truncate what fd 1 already holds
            handle.write(text)
        return
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    if make_dirs:
        os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".preflight-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable(path: str) -> None:
    """Raise ``OSError`` saying why ``write_json(path, ..., make_dirs=False)`` would fail; creates
    nothing that stays (a regular file's directory is tried with a temp file, then it is removed)."""
    if _written_through(path):
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"no such directory: {directory}", path)
    fd, tmp = tempfile.mkstemp(prefix=".preflight-", suffix=".tmp", dir=directory)
    os.close(fd)
    os.unlink(tmp)


def _written_through(path: str) -> bool:
    """True for a target that must be opened, never replaced: a device or FIFO, or a link to an
    open file (``/dev/stdout``, ``/proc/self/fd/N``). A directory, socket or block device raises."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
    if stat.S_ISSOCK(mode) or stat.S_ISBLK(mode):
        kind = "a socket" if stat.S_ISSOCK(mode) else "a block device"
        raise OSError(errno.EINVAL, f"it is {kind}, not a file, FIFO or character device", path)
    return not stat.S_ISREG(mode) or _through_fd_link(path)


def _through_fd_link(path: str) -> bool:
    """Whether resolving ``path`` passes through ``/proc/PID/fd/N``, which names an open file."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        if not os.path.islink(current):
            return False
        parent = os.path.realpath(os.path.dirname(current))
        if _FD_DIR.fullmatch(parent):
            return True
        current = os.path.join(parent, os.readlink(current))
    return False
