"""Which Python interpreter will the server command run under? The checks must use that one."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from typing import Mapping, NamedTuple

from preflight.env_command import EnvCommand, parse_env
from preflight.errors import UsageError
from preflight.handoff import ExecFailed
from preflight.python_args import PythonArgs, parse_python_args
from preflight.server_imports import (APP_SERVERS, SHELLS, Named, app_target, console_script, django_settings,
                                      gunicorn_worker, main_module, not_followed, shell_server,
                                      wrapped_command)

_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?$")
_SH_LAUNCHER = "'''exec' "  # pip's two-line /bin/sh launcher, for paths a shebang cannot hold


class ServerStart(NamedTuple):
    """What the checks must share with the server a command starts."""

    python: str  # the interpreter: the command itself if it is python, else its script's shebang, else ours
    options: tuple[str, ...]  # that interpreter's options (``python -O``, ``#!/usr/bin/python3 -O``)
    sys_path_head: list[str] | None  # see ``_sys_path_head``
    workdir: str | None  # where the server changes to before importing (gunicorn's --chdir); None: here
    environ: dict[str, str] | None = None  # what ``env`` (a shebang's, or CMD's) gives it; None: ours
    imports: tuple[Named, ...] = ()  # what the command itself imports first: see ``server_imports``
    script: str | None = None  # the Python script it runs (``python serve.py``, a console script), if any
    unchecked: str = ""  # why what the command itself imports is not checked, where it is known not to be


def _unchecked(program: str, server: str | None, script: str | None, application: Named | None,
               named: Named | None) -> str:
    """Why the gate checks nothing of what the command imports itself: a shell it does not follow
    (``program``, or a script's ``#!/bin/sh``), a Python script, a server whose command line names no
    application it can read; "" when it checks something, or knows of nothing it misses."""
    if application is not None or named is not None:
        return ""
    name = os.path.basename(program)
    if not_followed(name):
        return not_followed(name)
    if script is not None and script != program:
        return (f"the script {script}'s own imports are not followed (only `python -m` is): list the modules it "
                f"imports in the manifest (for Django's manage.py: its settings module and the apps it loads)")
    if server in APP_SERVERS:
        return (f"{server}'s application was not found on its command line (the form it was written in is not one "
                f"preflight reads, or the server finds it itself): list the module in the manifest")
    return ""


def follow(command: list[str], environ: Mapping[str, str]) -> ServerStart:
    """Read ``command`` once: its program (``ExecFailed``, 127/126, when it cannot run), the Python
    it runs under and how, where its ``sys.path`` starts, where it works and in which environment."""
    program = locate(command[0], environ.get("PATH", os.defpath))
    if os.path.basename(program) == "env":  # env [-i] [-u NAME] [NAME=VALUE]... CMD: CMD as env runs it
        env = parse_env(command[1:], environ)
        if env is None:  # env runs nothing, or refuses its command line
            return ServerStart(sys.executable, (), None, None)
        start = follow(list(env.command), env.environ(environ))
        return _under_env(start, env, environ)
    name = os.path.basename(program)
    if name in SHELLS and (last := shell_server(command[1:])) is not None:
        try:  # sh -c '... && exec gunicorn app.wsgi': the server it ends with, as it would start it
            return follow(last, environ)
        except ExecFailed:
            pass  # it may be found only in a PATH the script sets: the shell is not followed
    if (wrapped := wrapped_command(name, command[1:])) is not None:
        return follow(wrapped, environ)  # ddtrace-run gunicorn app:app: gunicorn as the wrapper execs it
    env, started_in = None, environ
    if _PYTHON_NAME.match(os.path.basename(program)):
        parsed = parse_python_args(command[1:])
        server, args = _python_target(parsed)
        script = server if server is not None and server not in CWD_FIRST else None
        python, options = program, parsed.options
        shell = ""
    else:
        words, env = _shebang(program, environ)
        environ = env.environ(environ) if env is not None else environ  # the script runs in env's environment
        shebang = words[0] if words and _PYTHON_NAME.match(os.path.basename(words[0])) else None
        if shebang and not (os.path.isfile(shebang) and os.access(shebang, os.X_OK)):
            raise ExecFailed(f"{program} names an interpreter that does not exist or cannot run: {shebang}", 127,
                             tip="reinstall the package into the image's environment, so its scripts point at it")
        server, args = os.path.basename(program), command[1:]
        shell = os.path.basename(words[0]) if words and not shebang else ""  # ``#!/bin/sh``: a shell script
        script = program if shebang and server not in CWD_FIRST else None
        python = shebang or sys.executable
        options = parse_python_args([*words[1:], program]).options if shebang else ()
    gunicorn = _gunicorn_settings(args, environ) if server == "gunicorn" else {}
    workdir = os.path.abspath(gunicorn["chdir"]) if gunicorn.get("chdir") else None
    head = _sys_path_head(server, args, script, _safe_path(options, environ), workdir, environ,
                          gunicorn.get("pythonpath"))
    worker = gunicorn.get("worker_class")
    named = gunicorn_worker(worker) if worker else (console_script(script) if script and script == program else None)
    if named is None and server is None and _PYTHON_NAME.match(os.path.basename(program)) and parsed.kind == "module":
        named = main_module(parsed.target) if parsed.target else None
    if named is None and script is not None:
        named = django_settings(script, environ)
    application = app_target(server, args, environ) if server in APP_SERVERS else None
    if application is None and gunicorn.get("wsgi_app"):
        application = app_target(server, [gunicorn["wsgi_app"]])
    if application is not None and application.sys_path not in ("", *(head or [os.getcwd()])):
        head = [application.sys_path, *(head or [os.getcwd()])]  # the tool puts a path target's directory first
    imports = tuple(entry for entry in (named, application) if entry is not None)
    start = ServerStart(python, options, head, workdir, imports=imports, script=script,
                        unchecked=_unchecked(shell or program, server, script, application, named))
    return _under_env(start, env, started_in) if env is not None else start


def _under_env(start: ServerStart, env: EnvCommand, environ: Mapping[str, str]) -> ServerStart:
    """``start`` of the command ``env`` runs, with the environment it gives it (``environ`` taken as
    the one env starts in) and its ``-C`` directory, when the command sets none of its own."""
    if start.environ is None and env.changes_environ:
        start = start._replace(environ=env.environ(environ))
    if env.chdir and start.workdir is None:
        start = start._replace(workdir=os.path.abspath(env.chdir))
    return start


def locate(name: str, path: str | None = None) -> str:
    """The executable ``name`` runs, as ``execvp`` finds it in ``path`` (default: ``$PATH``); else
    ``ExecFailed``: 126 when a file of that name exists but cannot be executed (as the shell says),
    127 when there is none."""
    path = os.environ.get("PATH", os.defpath) if path is None else path
    program = shutil.which(name, path=path)
    if program is not None:
        return program
    if os.sep in name:
        places = [name]
    else:
        places = [os.path.join(d or os.curdir, name) for d in path.split(os.pathsep)]
    for place in places:
        if os.path.isdir(place) and os.sep in name:
            raise ExecFailed(f"command not executable: {name!r} is a directory", 126,
                             tip="give the server's executable after `--`, not its directory")
        if os.path.isfile(place):
            raise ExecFailed(f"command not executable: {place} has no execute permission", 126,
                             tip=f"chmod +x {place} in the image, or start it through its interpreter "
                                 f"(sh {name}, python {name})")
    raise ExecFailed(f"command not found: {name!r}", 127, tip="install it in the image, or give its full path after `--`")


def _sys_path_head(server: str | None, args: list[str], script: str | None, safe: bool, workdir: str | None,
                   environ: Mapping[str, str], pythonpath: str | None = None) -> list[str] | None:
    """The entries the server's ``sys.path`` starts with, absolute, when they are not just the
    working directory (``-m`` and ``-c`` put it first; so do the servers in ``CWD_FIRST``): the real
    directory of any other ``script``, as Python gives it (``python app/main.py``, ``./bin/serve.py``,
    the application's own console script), uvicorn's ``--app-dir``, gunicorn's ``--pythonpath`` and
    ``--chdir`` (``pythonpath``, ``workdir``), then the directory it was started in (from their
    command lines, environment variables or config file). ``[]`` when Python puts nothing first (``-P``, ``-I``,
    ``PYTHONSAFEPATH``: ``safe``) and the server adds nothing itself."""
    if server is None:  # python -c, -m of a module not in CWD_FIRST, stdin
        return [] if safe else None
    if script is not None:  # a script, console scripts too: its real directory first
        return [] if safe else [os.path.dirname(os.path.realpath(script))]
    if server == "uvicorn":
        app_dir = _last_option(args, "--app-dir") or environ.get("UVICORN_APP_DIR")
        return [os.path.abspath(app_dir)] if app_dir else None
    if server == "gunicorn":
        chdir = workdir or os.getcwd()  # entered before the paths are added
        paths = [os.path.join(chdir, p) for p in (pythonpath or "").split(",") if p]
        # each inserted first in turn, after the directory it started in (its default --chdir, entered first)
        head = list(dict.fromkeys([*reversed(paths), chdir, os.getcwd()]))
        return None if head == [os.getcwd()] else head
    return None


# gunicorn's settings the checks follow, and the command-line options that set each
_GUNICORN_OPTIONS = {"chdir": ("--chdir",), "pythonpath": ("--pythonpath",), "worker_class": ("-k", "--worker-class"),
                     "wsgi_app": ()}  # the application, when no argument names it: only in its config file


def _gunicorn_settings(args: list[str], environ: Mapping[str, str]) -> dict[str, str | None]:
    """gunicorn's ``chdir``, ``pythonpath`` and ``worker_class`` as they take effect: each option on its
    command line (which wins over ``GUNICORN_CMD_ARGS``), else a plain ``NAME = "..."`` in its config
    file (``-c``/``--config``, else ``./gunicorn.conf.py``), read once and without running it."""
    args = [*shlex.split(environ.get("GUNICORN_CMD_ARGS", "")), *args]
    settings = {name: _last_option(args, *options) for name, options in _GUNICORN_OPTIONS.items()}
    unset = [name for name, value in settings.items() if value is None]
    config = _last_option(args, "--config", "-c")
    if config is None and os.path.isfile("gunicorn.conf.py"):
        config = "gunicorn.conf.py"
    if unset and config is not None and not config.startswith("python:"):  # a module's would mean importing it
        settings.update(_assigned_strings(config, unset))
    return settings


def _assigned_strings(path: str, names: list[str]) -> dict[str, str]:
    """The string last assigned to each of ``names`` at the top level of the Python file ``path``."""
    import ast

    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in names:
                    found[target.id] = node.value.value
    return found


def _safe_path(options: tuple[str, ...], environ: Mapping[str, str]) -> bool:
    """Whether Python starts without the script's directory or the working directory on sys.path."""
    if "-P" in options or "-I" in options:
        return True
    return bool(environ.get("PYTHONSAFEPATH")) and "-E" not in options


# Servers (and wrappers that exec a server command) that put the working directory first on
# sys.path themselves, or import the application relative to it; any other script is checked with
# its own directory first, as Python starts it.
# (arq, litestar, rq and waitress append it: a module of the tree that shadows an installed one is checked as
# found first)
CWD_FIRST = frozenset({"uvicorn", "gunicorn", "hypercorn", "daphne", "celery", "flask", "fastapi", "granian",
                       "dramatiq", "arq", "litestar", "rq", "waitress-serve", "ddtrace-run", "opentelemetry-instrument",
                       "newrelic-admin"})


def _python_target(parsed: PythonArgs) -> tuple[str | None, list[str]]:
    """What a ``python`` command line runs: a script path or a ``-m`` server with its arguments;
    ``None`` for ``-c``, stdin and other modules."""
    if parsed.kind == "script":
        return parsed.target, []
    if parsed.kind == "module" and parsed.target in CWD_FIRST:
        return parsed.target, list(parsed.rest)
    return None, []


def _last_option(args: list[str], *names: str) -> str | None:
    """The value of the last ``NAME VALUE`` or ``NAME=VALUE`` in ``args``, of any of ``names``."""
    value = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(name + "="):
                value = arg[len(name) + 1:]
    return value


def _shebang(path: str, environ: Mapping[str, str]) -> tuple[list[str], EnvCommand | None]:
    """The command a script's ``#!`` line runs, ``[interpreter, option...]``, and the ``env`` it goes
    through (resolved, its program found in the ``PATH`` it sets); pip's ``/bin/sh`` launcher gives
    the interpreter it execs."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024).decode("utf-8", errors="replace").splitlines()
    except OSError:
        return [], None
    if not head or not head[0].startswith("#!"):
        return [], None
    words = head[0][2:].split(None, 1)  # as the kernel reads it: the interpreter and at most one argument,
    env = None  # blanks and all (``#!/usr/bin/python3 -O -W error``, ``#!/usr/bin/env -S A=1 python3 -O``)
    if words and os.path.basename(words[0]) == "env":
        env = parse_env(words[1:], environ)
        if env is None:  # env would run nothing, or refuse the line
            return [], None
        words = list(env.command)
        words[0] = shutil.which(words[0], path=env.environ(environ).get("PATH", os.defpath)) or words[0]
    if words and os.path.basename(words[0]) == "sh" and len(head) > 1 and head[1].startswith(_SH_LAUNCHER):
        try:
            launcher = shlex.split(head[1][len(_SH_LAUNCHER):])
        except ValueError:
            return [], env
        return launcher[:1], env
    return words, env


def validate_command(text: str) -> tuple[str, tuple[str, ...]]:
    """``--python 'PATH [OPTION...]'``: the interpreter (see ``validate``) and its options; a usage
    error for anything that is not an interpreter option (a script, ``-c``, ``-m``)."""
    if shutil.which(text):  # a path with blanks in it, given whole
        return validate(text), ()
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"--python {text!r}: {exc}") from None
    if not words:
        raise UsageError("--python is empty", tip="--python /usr/local/bin/python3 (options may follow: -O, -W error)")
    parsed = parse_python_args([*words[1:], "--"])
    if parsed.kind != "stdin" or parsed.rest or "--" in parsed.options:  # -W with no value took the end mark
        raise UsageError(f"--python {text!r}: only interpreter options may follow the path, not {' '.join(words[1:])!r}",
                         tip="--python 'python3 -O -W error' (what runs is the manifest's modules)")
    return validate(words[0]), parsed.options


def validate(path: str) -> str:
    """``path`` if it is an executable file; a usage error naming it otherwise."""
    resolved = shutil.which(path)
    if resolved is None:
        raise UsageError(f"interpreter not found or not executable: {path}")
    return resolved
