"""Which Python interpreter will the server command run under? The checks must use that one."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from typing import Mapping

from preflight.errors import UsageError
from preflight.handoff import ExecFailed

_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?$")
_SH_LAUNCHER = "'''exec' "  # pip's two-line /bin/sh launcher, for paths a shebang cannot hold


def interpreter_for(command: list[str]) -> str:
    """The interpreter ``command`` will run: itself if it is python, else its script's shebang.

    Anything else (a shell script, a binary) gives the gate's own interpreter.
    """
    program = locate(command[0])
    if _PYTHON_NAME.match(os.path.basename(program)):
        return program
    shebang = _shebang_python(program)
    if shebang and not (os.path.isfile(shebang) and os.access(shebang, os.X_OK)):
        raise ExecFailed(f"{program} names an interpreter that does not exist or cannot run: {shebang}", 127,
                         tip="reinstall the package into the image's environment, so its scripts point at it")
    return shebang or sys.executable


def locate(name: str) -> str:
    """The executable ``name`` runs, as ``execvp`` finds it; else ``ExecFailed``: 126 when a file of
    that name exists but cannot be executed (as the shell says), 127 when there is none."""
    program = shutil.which(name)
    if program is not None:
        return program
    if os.sep in name:
        places = [name]
    else:
        places = [os.path.join(d or os.curdir, name) for d in os.environ.get("PATH", os.defpath).split(os.pathsep)]
    for place in places:
        if os.path.isdir(place) and os.sep in name:
            raise ExecFailed(f"command not executable: {name!r} is a directory", 126,
                             tip="give the server's executable after `--`, not its directory")
        if os.path.isfile(place):
            raise ExecFailed(f"command not executable: {place} has no execute permission", 126,
                             tip=f"chmod +x {place} in the image, or start it through its interpreter "
                                 f"(sh {name}, python {name})")
    raise ExecFailed(f"command not found: {name!r}", 127, tip="install it in the image, or give its full path after `--`")


def sys_path_head(command: list[str], environ: Mapping[str, str]) -> list[str] | None:
    """The entries the server's ``sys.path`` starts with, absolute, when they are not just the
    working directory (``-m`` and ``-c`` put it first; so do the servers in ``CWD_FIRST``): the real
    directory of any other script, as Python gives it (``python app/main.py``, ``./bin/serve.py``,
    the application's own console script), uvicorn's ``--app-dir``, gunicorn's ``--pythonpath`` and
    ``--chdir`` (from their command lines or environment variables)."""
    path = shutil.which(command[0]) or command[0]
    server, args = os.path.basename(path), command[1:]
    if _PYTHON_NAME.match(server):
        server, args = _python_target(command[1:])
        if server is None:
            return None
        if server not in CWD_FIRST:  # a script: Python puts its real directory first
            return [os.path.dirname(os.path.realpath(server))]
    elif server not in CWD_FIRST and _shebang_python(path):
        return [os.path.dirname(os.path.realpath(path))]  # a script, console scripts too: its directory first
    if server == "uvicorn":
        app_dir = _last_option(args, "--app-dir") or environ.get("UVICORN_APP_DIR")
        return [os.path.abspath(app_dir)] if app_dir else None
    if server == "gunicorn":
        args = [*shlex.split(environ.get("GUNICORN_CMD_ARGS", "")), *args]  # the command line wins
        chdir = os.path.abspath(_last_option(args, "--chdir") or os.getcwd())  # entered before the paths
        paths = [os.path.join(chdir, p) for p in (_last_option(args, "--pythonpath") or "").split(",") if p]
        head = [*reversed(paths), chdir]  # each inserted first in turn
        head = list(dict.fromkeys(head))
        return None if head == [os.getcwd()] else head
    return None


# Servers (and wrappers that exec a server command) that put the working directory first on
# sys.path themselves, or import the application relative to it; any other script is checked with
# its own directory first, as Python starts it.
CWD_FIRST = frozenset({"uvicorn", "gunicorn", "hypercorn", "daphne", "celery", "flask", "fastapi",
                       "granian", "ddtrace-run", "opentelemetry-instrument", "newrelic-admin"})
_SERVERS = ("uvicorn", "gunicorn")  # whose own sys.path options are followed


def _python_target(args: list[str]) -> tuple[str | None, list[str]]:
    """What ``python ARGS`` runs: a script path or a ``-m`` server with its arguments; ``None`` for
    ``-c``, stdin and other modules."""
    rest = iter(args)
    for arg in rest:
        if arg == "-" or arg.startswith("-c"):
            return None, []
        if arg.startswith("-m"):
            module = arg[2:] or next(rest, "")
            return (module if module in CWD_FIRST else None), list(rest)
        if arg in ("-W", "-X"):
            next(rest, None)
        elif not arg.startswith("-"):
            return arg, []
    return None, []


def _last_option(args: list[str], name: str) -> str | None:
    """The value of the last ``NAME VALUE`` or ``NAME=VALUE`` in ``args``."""
    value = None
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(name + "="):
            value = arg[len(name) + 1:]
    return value


def _shebang_python(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024).decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if not head or not head[0].startswith("#!"):
        return None
    words = head[0][2:].split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env":
        args = [w for w in words[1:] if not w.startswith("-")]
        words = [shutil.which(args[0]) or args[0]] if args else []
    if words and _PYTHON_NAME.match(os.path.basename(words[0])):
        return words[0]
    if words and os.path.basename(words[0]) == "sh" and len(head) > 1 and head[1].startswith(_SH_LAUNCHER):
        try:
            launcher = shlex.split(head[1][len(_SH_LAUNCHER):])
        except ValueError:
            return None
        return launcher[0] if launcher else None
    return None


def validate(path: str) -> str:
    """``path`` if it is an executable file; a usage error naming it otherwise."""
    resolved = shutil.which(path)
    if resolved is None:
        raise UsageError(f"interpreter not found or not executable: {path}")
    return resolved
