"""What the server command imports itself: gunicorn's worker class (``-k uvicorn_worker.UvicornWorker``,
``-k gevent``), the function a console script's launcher imports (``from mysvc.cli import main``), the
module ``python -m mysvc`` runs (as runpy finds it, with its own imports: never its code), the
application object or worker module a server, framework CLI or task worker loads (``uvicorn
app.main:app``, ``fastapi run app/main.py``, ``celery -A proj``: ``SERVERS`` says how each names it),
and the settings module of Django's ``manage.py``. A start that would crash on them at once fails the
gate instead: they are checked with the manifest's imports, each failure saying which part of the
command named it (``details.named_by``). The server a ``sh -c`` script or a tracing wrapper ends with
is found here too; what is not followed says why (``not_followed``)."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Mapping, NamedTuple

from preflight.spec import ImportTarget, Manifest

# gunicorn's own worker names whose module needs a distribution of its own (gunicorn/workers/__init__.py)
_GUNICORN_WORKERS = {
    "eventlet": ("gunicorn.workers.geventlet", "EventletWorker"),
    "gevent": ("gunicorn.workers.ggevent", "GeventWorker"),
    "gevent_wsgi": ("gunicorn.workers.ggevent", "GeventPyWSGIWorker"),
    "gevent_pywsgi": ("gunicorn.workers.ggevent", "GeventPyWSGIWorker"),
    "tornado": ("gunicorn.workers.gtornado", "TornadoWorker"),
}
# pip's launcher: ``from mysvc.cli import main`` ... ``sys.exit(main())`` (``App.run()`` for ``mysvc.cli:App.run``)
_LAUNCHER = re.compile(r"^from ([A-Za-z_][\w.]*) import (\w+)\s*$.*^\s+sys\.exit\((\2(?:\.\w+)*)\(\)\)", re.M | re.S)


# ``module:attribute`` as these servers take their application (gunicorn's ``create_app()`` too); a
# host:port (``localhost:8000``, ``unix:/run/app.sock``) never matches: its part after ':' is no name
_APP_TARGET = re.compile(r"([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)(\(.*\))?")
_PATH_TARGET = re.compile(r"(.+?)(?::([A-Za-z_][\w.]*)(\(.*\))?)?")  # ``app/main.py:create_app()``, as flask splits it
_MODULE = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*")


class Syntax(NamedTuple):
    """How a server or worker names what it imports first on its command line."""

    role: str = "application"  # what the target is, for ``named_by``
    options: tuple[str, ...] = ()  # options whose value names it (``flask --app``, ``celery -A``)
    env: str = ""  # else the variable that names it (``FLASK_APP``)
    positional: bool = False  # else its first argument that is no option's value (``uvicorn app.main:app``)
    attribute: str | None = None  # what a target without ``:attribute`` means: None, an error; "", the tool finds it
    dotted: bool = False  # ``module.Attribute``, no ``:`` (arq's settings class)
    parent_first: bool = False  # ``proj.app`` is ``proj``'s attribute ``app`` if it has one, else a module: check ``proj``
    paths: bool = False  # a file or directory path is taken too, as its module (``flask --app app/main.py``)
    flags: frozenset[str] = frozenset()  # its options that take no value (every other one takes one)


_GUNICORN_FLAGS = frozenset({
    "--capture-output", "--casefold-http-method", "--check-config", "--daemon", "--disable-redirect-access-to-syslog",
    "--do-handshake-on-connect", "--enable-backlog-metric", "--enable-stdio-inheritance", "--initgroups",
    "--log-syslog", "--no-control-socket", "--no-sendfile", "--permit-obsolete-folding",
    "--permit-unconventional-http-method", "--permit-unconventional-http-version", "--preload", "--print-config",
    "--reload", "--reuse-port", "--spew", "--strip-header-spaces", "--suppress-ragged-eofs", "-D", "-R"})
# How each server and worker names its target (read from their CLIs); ``--no-...`` options are flags too
SERVERS = {
    "uvicorn": Syntax(positional=True, env="UVICORN_APP"),
    "gunicorn": Syntax(positional=True, attribute="application", flags=_GUNICORN_FLAGS),
    "hypercorn": Syntax(positional=True, attribute="app", flags=frozenset({"-D", "--debug", "--reload"})),
    "daphne": Syntax(positional=True, flags=frozenset({"--proxy-headers"})),
    "granian": Syntax(positional=True, attribute="app", paths=True, flags=frozenset({
        "--access-log", "--factory", "--http1-keep-alive", "--http1-pipeline-flush", "--http2-adaptive-window",
        "--log", "--metrics", "--reload", "--reload-ignore-worker-failure", "--respawn-failed-workers",
        "--ssl-client-verify", "--version", "--ws"})),
    "waitress-serve": Syntax(positional=True),
    "flask": Syntax(options=("--app", "-A"), env="FLASK_APP", attribute="", paths=True),
    "celery": Syntax(options=("--app", "-A"), env="CELERY_APP", attribute="", parent_first=True),
    "litestar": Syntax(options=("--app",), env="LITESTAR_APP"),
    "dramatiq": Syntax("broker module", positional=True, attribute="",
                       flags=frozenset({"--skip-logging", "--use-spawn", "--verbose", "-v", "--watch-use-polling"})),
    "arq": Syntax("worker settings", positional=True, dotted=True,
                  flags=frozenset({"--burst", "--check", "--verbose", "-v"})),
}
APP_SERVERS = frozenset({*SERVERS, "fastapi"})  # fastapi's CLI takes a path: ``_fastapi_target``
_FASTAPI_FLAGS = frozenset({"--reload", "--proxy-headers", "--verbose", "-v"})
_FASTAPI_DEFAULT_PATHS = ("main.py", "app.py", "api.py", "app/main.py", "app/app.py", "app/api.py")
# why these commands' own imports are not followed (the gate says so rather than pass in silence)
_NOT_FOLLOWED = {
    "rq": "rq imports each job's function by name when it runs the job: list those modules in the manifest",
}
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})


class Named(NamedTuple):
    """A module (and attribute) the server command names, how it names it, and whether it is the
    application's own code (else a library's: not one of the application's modules)."""

    module: str
    symbol: str
    named_by: str
    application: bool = False
    as_main: bool = False  # run by ``python -m``: checked as runpy finds it (``ImportTarget.as_main``)
    call: str = ""  # the app factory's call as the command writes it (``("prod")`` of ``app:create_app("prod")``)
    sys_path: str = ""  # the directory the tool puts first to import it (a file path's top package's parent)


def app_target(server: str, args: list[str], environ: Mapping[str, str] | None = None) -> Named | None:
    """What ``server`` (one of ``SERVERS``, or ``fastapi``) loads first, as its command line or
    environment names it (``uvicorn app.main:app``, ``gunicorn 'app:create_app()'``, ``celery -A proj``,
    ``FLASK_APP=app:create_app``); None when neither names one (gunicorn's ``wsgi_app`` in a config file)."""
    environ = environ or {}
    if server == "fastapi":
        return _fastapi_target(args)
    syntax = SERVERS[server]
    given = _option_values(args, syntax.options)
    if given:  # the last one wins
        option, word = given[-1]
        return _target(server, syntax, word, f"{option} {word}")
    if syntax.positional:
        for word in args:  # a ``module:attribute`` word wherever it stands (whatever options take values)
            if word != "--" and not word.startswith("-") and _APP_TARGET.fullmatch(word):
                return _target(server, syntax, word, word)
        word = _positional(args, syntax.flags)
        if word is not None and (syntax.attribute is not None or syntax.dotted):
            return _target(server, syntax, word, word)
    if syntax.env and environ.get(syntax.env):
        return _target(server, syntax, environ[syntax.env], f"{syntax.env}={environ[syntax.env]}")
    return None


def _target(server: str, syntax: Syntax, word: str, given: str) -> Named | None:
    """The module and attribute ``word`` names, as ``server`` reads it; None for one it would not take."""
    named_by = f"{server}'s {syntax.role} ({given})"
    if server == "hypercorn" and word.count(":") == 2:  # ``asgi:app.main:app``: its mode first
        word = word.partition(":")[2]
    path, found = _PATH_TARGET.fullmatch(word), _APP_TARGET.fullmatch(word)
    if found and not (syntax.paths and found[1].endswith(".py")):
        return Named(found[1], found[2], named_by, application=True, call=found[3] or "")
    if syntax.paths and (path[1].endswith(".py") or os.sep in path[1] or os.path.isdir(path[1])):
        module, directory = module_of_path(path[1])
        return Named(module, path[2] or syntax.attribute or "", named_by, application=True, call=path[3] or "",
                     sys_path=directory)
    if not _MODULE.fullmatch(word):
        return None
    if syntax.dotted:
        module, _, symbol = word.rpartition(".")
        return Named(module, symbol, named_by, application=True) if module else None
    if syntax.parent_first:  # both readings import the parent first
        return Named(word.partition(".")[0], "", named_by, application=True)
    return Named(word, syntax.attribute or "", named_by, application=True)


def _fastapi_target(args: list[str]) -> Named | None:
    """What ``fastapi run``/``fastapi dev`` imports: ``-e module:app``, else a PATH (and ``--app NAME``),
    else ``[tool.fastapi] entrypoint`` in ./pyproject.toml, else the first of its default paths there."""
    if not args or args[0] not in ("run", "dev"):
        return None
    args = args[1:]
    entry = _option_values(args, ("--entrypoint", "-e"))
    syntax = Syntax(paths=True, attribute="")
    if entry:
        return _target("fastapi", syntax, entry[-1][1], f"{entry[-1][0]} {entry[-1][1]}")
    app = [value for _, value in _option_values(args, ("--app",))]
    path = _positional(args, _FASTAPI_FLAGS)
    if path is None and not app:
        configured = _pyproject_entrypoint()
        if configured:
            return _target("fastapi", syntax, configured, f"entrypoint = {configured!r} in pyproject.toml")
    given = path
    path = path or next((p for p in _FASTAPI_DEFAULT_PATHS if os.path.isfile(p)), None)
    if path is None:
        return None
    module, directory = module_of_path(path)
    how = " ".join(filter(None, [given or f"{path}, found by default", app and f"--app {app[-1]}"]))
    return Named(module, app[-1] if app else "", f"fastapi's application ({how})", application=True,
                 sys_path=directory)


def _pyproject_entrypoint() -> str | None:
    """``[tool.fastapi] entrypoint`` in ./pyproject.toml, if there is one."""
    import tomllib

    try:
        with open("pyproject.toml", "rb") as handle:
            value = tomllib.load(handle).get("tool", {}).get("fastapi", {}).get("entrypoint")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, str) else None


def module_of_path(path: str) -> tuple[str, str]:
    """The module a file or package directory ``path`` is, and the directory it is imported from: up
    through every parent with an ``__init__.py`` (as ``flask --app`` and ``fastapi run`` read a path)."""
    path = os.path.realpath(path)
    path = path[:-3] if path.endswith(".py") else path
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    names = []
    while True:
        path, name = os.path.split(path)
        names.append(name)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            return ".".join(reversed(names)), path


def _option_values(args: list[str], names: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each ``NAME VALUE``, ``NAME=VALUE`` and ``-AVALUE`` of ``names`` in ``args``, in order: (NAME, VALUE)."""
    values = []
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                values.append((name, args[index + 1]))
            elif arg.startswith(name + "=") or (len(name) == 2 and arg.startswith(name) and len(arg) > 2):
                values.append((name, arg[len(name) + (arg[len(name)] == "="):]))
    return values


def _positional(args: list[str], flags: frozenset[str]) -> str | None:
    """The first word of ``args`` that is neither an option nor an option's value (``flags`` take none;
    nor do ``--no-...`` options; an option unknown here is taken to take one, so no value is ever
    taken for the target)."""
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return args[index + 1] if index + 1 < len(args) else None
        if not word.startswith("-") or word == "-":
            return word
        takes_value = "=" not in word and word not in flags and not word.startswith("--no-") and \
            not (len(word) > 2 and word[1] != "-")  # ``-w4``: a short option with its value attached
        index += 2 if takes_value else 1
    return None


_SHELL_WORDS = frozenset({"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
                          "{", "}", "!", "function", "export", "cd", "source", ".", "eval"})


def shell_server(args: list[str]) -> list[str] | None:
    """The command ``sh -c SCRIPT`` ends with, when SCRIPT is only simple commands run one after the
    other (``&&``, ``;``, lines: ``python manage.py migrate && exec gunicorn mysite.wsgi``) and that last one
    is a plain command line (``exec`` dropped); None for anything else (pipes, subshells, redirections,
    substitutions, control flow, a program or working directory the script sets itself)."""
    import shlex

    if len(args) < 2 or not args[0].startswith("-") or args[0].startswith("--") or "c" not in args[0]:
        return None
    commands: list[list[str]] = [[]]
    for line in args[1].replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        try:
            tokens = list(lexer)
        except ValueError:
            return None
        for token in [*tokens, ";"]:
            if token in ("&&", ";"):
                if commands[-1]:
                    commands.append([])
            elif set(token) <= set("|&;<>()") or "$(" in token or "`" in token:
                return None
            else:
                commands[-1].append(token)
    last = [c for c in commands if c]
    if not last or any(c[0] in _SHELL_WORDS or "=" in c[0] for c in last):
        return None
    command = last[-1][1:] if last[-1][0] == "exec" else last[-1]
    return command if command and not command[0].startswith(("$", "-")) else None


# Wrappers that run the server command after their own options (tracing agents): whether their options
# take a value, and the subcommand before the command (``newrelic-admin run-program``)
_WRAPPERS = {"ddtrace-run": (False, ""), "opentelemetry-instrument": (True, ""), "newrelic-admin": (False, "run-program")}


def wrapped_command(program: str, args: list[str]) -> list[str] | None:
    """The command a tracing wrapper (``ddtrace-run``, ``opentelemetry-instrument``, ``newrelic-admin
    run-program``) runs, after its own options; None for any other program, or no command."""
    if program not in _WRAPPERS:
        return None
    options_take_value, subcommand = _WRAPPERS[program]
    if subcommand:
        if not args or args[0] != subcommand:
            return None
        args = args[1:]
    index = 0
    while index < len(args) and args[index].startswith("-"):
        if args[index] == "--":
            index += 1
            break
        index += 2 if options_take_value and "=" not in args[index] else 1
    return args[index:] or None


def not_followed(program: str) -> str | None:
    """Why the imports of a command run by ``program`` are not checked, where preflight knows it."""
    if program in SHELLS:
        return (f"{program} runs a shell script preflight does not follow (only `sh -c` with plain commands joined by "
                f"&& or ; is, up to the last): the server it starts is checked only as far as the manifest lists its "
                f"modules. Gate the server itself, last in the script: exec preflight run -- gunicorn app.wsgi "
                f"(exec: the server gets the signals)")
    return _NOT_FOLLOWED.get(program)


def gunicorn_worker(worker_class: str) -> Named | None:
    """gunicorn's worker class as ``-k``/``--worker-class``/``worker_class`` gives it; None for the
    workers that need nothing beyond gunicorn (``sync``, ``gthread``) and ``egg:`` entry points."""
    named_by = f"gunicorn's worker class (-k {worker_class})"
    if worker_class in _GUNICORN_WORKERS:
        return Named(*_GUNICORN_WORKERS[worker_class], named_by)
    module, _, symbol = worker_class.rpartition(".")
    if not module or worker_class.startswith("egg:"):
        return None
    return Named(module, symbol, named_by)


def console_script(path: str) -> Named | None:
    """The entry point pip's launcher at ``path`` imports and calls; None for any other script."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(4096)
    except OSError:
        return None
    found = _LAUNCHER.search(text)
    if found is None:
        return None
    return Named(found[1], found[3], f"the console script {path} (from {found[1]} import {found[2]})",
                 application=True)


def django_settings(script: str, environ: Mapping[str, str]) -> Named | None:
    """The settings module Django's ``manage.py`` (``script``) loads before any command runs:
    ``DJANGO_SETTINGS_MODULE``, else the default its ``os.environ.setdefault(...)`` gives."""
    if os.path.basename(script) != "manage.py":
        return None
    if environ.get("DJANGO_SETTINGS_MODULE"):
        value = environ["DJANGO_SETTINGS_MODULE"]
        return Named(value, "", f"manage.py's settings (DJANGO_SETTINGS_MODULE={value})", application=True)
    import ast

    try:
        with open(script, "rb") as handle:
            tree = ast.parse(handle.read(), script)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault" \
                and len(node.args) == 2 and all(isinstance(a, ast.Constant) for a in node.args) \
                and node.args[0].value == "DJANGO_SETTINGS_MODULE" and isinstance(node.args[1].value, str):
            value = node.args[1].value
            return Named(value, "", f"manage.py's settings ({script}:{node.lineno}: DJANGO_SETTINGS_MODULE "
                                    f"defaults to {value})", application=True)
    return None


def main_module(name: str) -> Named:
    """The module ``python -m name`` runs."""
    return Named(name, "", f"python -m {name}", as_main=True)


def main_label(module: str) -> str:
    """The target of the check of the module ``python -m`` runs."""
    return f"{module} (python -m)"


def merge(manifest: Manifest, named: tuple[Named, ...]) -> Manifest:
    """``manifest`` with the modules and attributes ``named`` among its imports. The module ``python -m``
    runs is a check of its own; the application's when the manifest lists a module of its package,
    else a library's (``python -m waitress``)."""
    imports = list(manifest.imports)
    app_tops = {m.partition(".")[0] for m in manifest.app_modules()}
    for entry in named:
        if entry.as_main:
            library = None if entry.module.partition(".")[0] in app_tops else entry.named_by
            imports.append(ImportTarget(entry.module, (), manifest.timeout, named_by=library, as_main=True))
            continue
        index = next((i for i, t in enumerate(imports) if t.module == entry.module), None)
        if index is None:
            library = None if entry.application else entry.named_by  # a library's: not the application's
            symbols = (entry.symbol,) if entry.symbol else ()  # none: the tool finds the attribute itself
            imports.append(ImportTarget(entry.module, symbols, manifest.timeout, named_by=library))
        elif entry.symbol and entry.symbol not in imports[index].symbols:
            imports[index] = dataclasses.replace(imports[index], symbols=(*imports[index].symbols, entry.symbol))
    return dataclasses.replace(manifest, imports=tuple(imports))


def annotate(checks: list, named: tuple[Named, ...]) -> None:
    """Say on each failing check of a module ``named`` which part of the server command names it."""
    by_target = {t: entry for entry in named for t in ((main_label(entry.module),) if entry.as_main else
                                                        (entry.module, f"{entry.module}:{entry.symbol}"))}
    for check in checks:
        entry = by_target.get(check.target)
        if entry is None or not check.failing or check.kind not in ("import", "symbol"):
            continue
        check.details["named_by"] = entry.named_by
        check.hint = f"{check.hint or check.message}. The server command imports it: {entry.named_by}"
