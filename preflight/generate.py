"""``preflight init``: import an entry point in a clean interpreter and write the manifest it needs.

The draft is checked with the gate before it is written: modules that fail when imported on their
own are left out (commented, with the reason), and the static pass is enabled only when it finds
nothing to fail on, so the file passes ``preflight check`` here and fails when something it names
is taken away.
"""

from __future__ import annotations

import ast
import datetime
import json
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

from preflight import report as r
from preflight.errors import InitFailed, UsageError
from preflight.pip_names import canonical

TRACE_TIMEOUT = 60.0
_ENTRY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?")


@dataclass
class InitResult:
    """The manifest written, and what to tell about it."""

    path: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Start:
    """How the server starts, as far as ``init`` follows it: ``init ENTRY`` is this interpreter in the
    working directory; ``init -- CMD`` is what ``interpreter.follow`` reads from CMD."""

    interpreter: str
    workdir: str
    environ: dict[str, str] | None = None  # None: ours
    sys_path_head: list[str] | None = None
    options: tuple[str, ...] = ()
    command: list[str] | None = None
    imports: tuple = ()  # ``server_imports.Named``: what the command imports itself, checked with the draft
    as_main: bool = False  # the entry is the module ``python -m`` runs: its imports traced, never its code


@dataclass
class Traced:
    """What importing the entry point relied on."""

    module: str
    symbols: list[str]
    app_modules: list[tuple[str, str]]  # (name, file) in load order
    roots: list[str]
    distributions: list[str]
    required_env: list[dict[str, Any]]
    optional_env: list[dict[str, Any]]
    entry: str = ""  # as given: module:attribute, or an app factory's call
    optional_dists: dict[str, str] = field(default_factory=dict)  # distribution pin -> where a try/except ImportError imports it
    command: list[str] | None = None  # the server command it was found in (``init -- CMD``)
    as_main: bool = False  # ``module`` is what ``python -m`` runs: never listed, its file never imported


def init(entry: str, out: str, start: Start, force: bool = False) -> InitResult:
    """Draft, verify and write the manifest ``entry`` needs, started as ``start`` says; ``InitFailed``
    (nothing written) when the entry point does not import or the draft does not pass here,
    ``UsageError`` for bad input."""
    module, attr, call = parse_entry(entry)
    if os.path.isdir(out):
        raise UsageError(f"{out} is a directory", tip="--out names the manifest file to write")
    if os.path.exists(out) and not force:
        raise UsageError(f"{out} already exists", tip="pass --force to overwrite it, or --out another path")
    workdir = start.workdir
    outcome = _trace(module, [attr] if attr else [], start, call)
    if outcome.result is None or outcome.result.get("error") or not outcome.result.get("ok"):
        raise _failed_import(entry, module, attr, outcome, start)
    traced = _digest(module, [attr] if attr else [], outcome.result, workdir, start.as_main)
    traced.entry, traced.command = entry, start.command
    if start.as_main and not traced.app_modules:
        raise InitFailed(f"`python -m {module}` imports none of the application's modules at start (only its own "
                         f"file, which is never imported), nothing written",
                         tip="give the module it imports when it runs (inside main()): preflight init "
                             "MODULE:ATTR; `preflight run -- python -m` checks the file's own imports with it")
    out_dir = os.path.dirname(os.path.abspath(out))
    left_out: dict[str, str] = {}
    text = render(traced, out_dir, workdir, left_out, static=True, interpreter=start.interpreter)
    report = _verify(text, out, start)
    listed = {name for name, _ in traced.app_modules if name != module}
    for check in report.failures:
        if check.kind == "import" and check.target in listed:
            left_out[check.target] = _left_out_reason(check, workdir)
    static_failures = [c for c in report.failures if c.kind == "static"]
    if left_out or static_failures:
        text = render(traced, out_dir, workdir, left_out, static=not static_failures, interpreter=start.interpreter,
                      static_note=len(static_failures))
        report = _verify(text, out, start)
    if not report.ok:
        first = report.failures[0]
        raise InitFailed(f"the manifest drafted for {entry} does not pass here, nothing written: {first.kind} "
                         f"{first.target}: {first.cause}: {first.message}", tip=first.hint)
    _write(out, text)
    verify = f"preflight check {out}" + (f" -- {shlex.join(start.command)}" if start.command else "")
    notes = [f"wrote {out}: {len(traced.app_modules) - len(left_out)} application modules, "
             f"{len(traced.distributions)} distributions, {len(traced.required_env)} required variables; "
             f"`{verify}` passes here ({report.duration_ms:.0f} ms)"]
    if left_out:
        notes.append(f"left out {len(left_out)} modules that fail when imported first: {', '.join(left_out)}")
    if static_failures:
        notes.append(f"static checks left off: `preflight scan {out}` reports {len(static_failures)} findings to fix")
    return InitResult(out, notes)


def parse_entry(entry: str) -> tuple[str, str, dict[str, Any] | None]:
    """``module``, ``attribute`` and, for an app factory as gunicorn and flask name it
    (``app:create_app()``, ``app:create_app("prod")``), the literal arguments to call it with."""
    if not entry.isprintable():  # it is quoted in the manifest's first comment line
        raise UsageError(f"{entry!r} is not an entry point", tip="give module:attribute, like app.main:app")
    if entry.endswith(".py") or "/" in entry or ".py:" in entry:
        path, colon, attr = entry.rpartition(":") if ".py:" in entry else (entry, "", "")
        name = path.removeprefix("./").removesuffix(".py").removesuffix("/__init__").replace("/", ".") + colon + attr
        raise UsageError(f"{entry!r} is a file: init takes the module the server imports",
                         tip=f"preflight init {name if _ENTRY.fullmatch(name) else 'app.main:app'}, "
                             f"from the directory the server starts in")
    module, colon, attr = entry.partition(":")
    call = None
    if colon and attr.endswith(")") and "(" in attr:
        attr, call = _factory_call(entry, attr)
    if not _ENTRY.fullmatch(module + colon + attr) or (colon and not attr):
        raise UsageError(f"{entry!r} is not an entry point",
                         tip="give module:attribute, like app.main:app, or an app factory, like 'app:create_app()'")
    return module, attr, call


def from_command(command: list[str], environ: dict[str, str] | os._Environ) -> tuple[str, Start]:
    """The entry point ``command`` (a server command, as in CMD) loads first and how it starts it
    (``interpreter.follow``): the application object an ASGI/WSGI server loads (``gunicorn``'s from
    its config file's ``wsgi_app`` too), the module ``python -m`` runs, the function a console
    script's launcher imports, what a worker or framework CLI names (``celery -A``, ``flask --app``:
    ``server_imports.SERVERS``); a ``UsageError`` for any other command."""
    from preflight import interpreter

    start = interpreter.follow(command, environ)
    common = dict(interpreter=start.python, workdir=start.workdir or os.getcwd(), environ=start.environ,
                  sys_path_head=start.sys_path_head, options=start.options, command=list(command),
                  imports=start.imports)
    for named in start.imports:
        if named.as_main:
            return named.module, Start(**common, as_main=True)
        if named.application:  # a module alone where the tool finds the attribute itself (celery -A proj)
            return named.module + (f":{named.symbol}{named.call}" if named.symbol else ""), Start(**common)
    if start.script:
        parse_entry(os.path.relpath(start.script))  # a file: raises, naming the module to give instead
    raise UsageError(f"cannot tell which module `{shlex.join(command)}` imports first",
                     tip="give it: preflight init app.main:app (module:attribute, or an app factory: "
                         "'app:create_app()'); init -- CMD follows uvicorn, gunicorn, hypercorn, daphne, granian "
                         "and celery -A, python -m MODULE and a console script of your package")


def _factory_call(entry: str, text: str) -> tuple[str, dict[str, Any]]:
    name = text.partition("(")[0].strip()
    try:
        node = ast.parse(text.strip(), mode="eval").body
        if not isinstance(node, ast.Call) or ast.unparse(node.func) != name or any(
                isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise ValueError
        call = {"args": [ast.literal_eval(a) for a in node.args],
                "kwargs": {k.arg: ast.literal_eval(k.value) for k in node.keywords}}
        json.dumps(call, allow_nan=False)
    except (SyntaxError, ValueError, TypeError, RecursionError):
        raise UsageError(f"{entry!r} is not an entry point: an app factory's arguments must be literals "
                         f"(strings, numbers, lists, dicts)", tip="like 'app:create_app()' or "
                                                                  "'app:create_app(\"production\")'") from None
    return name, call


def _trace(module: str, symbols: list[str], start: Start, call: dict[str, Any] | None = None):
    from preflight.runner import RESULT, STACK, Job, Runner

    request: dict[str, Any] = {"module": module, "symbols": symbols, "timeout": TRACE_TIMEOUT,
                               "sys_path_head": start.sys_path_head}
    if call is not None:
        request["call"] = call
    if start.as_main:
        request["as_main"] = True
    job = Job("trace", "trace_init.py", [json.dumps(request), RESULT, STACK], TRACE_TIMEOUT)
    runner = Runner(start.interpreter, start.workdir, env=dict(os.environ if start.environ is None else start.environ))
    runner.python_options = start.options
    return runner.run([job])["trace"]


def _failed_import(entry: str, module: str, attr: str, outcome, start: Start) -> InitFailed:
    from preflight.diagnosis import Context, diagnose_import
    from preflight.spec import ImportTarget

    result = outcome.result or {}
    workdir = start.workdir
    ctx = Context(workdir=workdir, manifest_dir=workdir, sys_path=result.get("sys_path") or [workdir],
                  prefixes=tuple(result.get("library_dirs") or ()), app_tops={module.split(".")[0]},
                  pythonpath=os.environ.get("PYTHONPATH"))
    from preflight.redact import redact_checks

    target = ImportTarget(module, (attr,) if attr else (), TRACE_TIMEOUT, as_main=start.as_main,
                          named_by="the entry point given to init")
    checks = diagnose_import(target, outcome, ctx)
    redact_checks(checks, os.environ if start.environ is None else start.environ)
    failed = next((c for c in checks if c.failing), checks[0])
    where = f" at {failed.file}:{failed.line}" if failed.file else ""
    doing = (f"calling {entry}" if result.get("called") else
             f"importing what `python -m {module}` imports" if start.as_main else f"importing {module}")
    return InitFailed(f"{doing} failed, nothing written: {failed.cause}{where}: {failed.message}", tip=failed.hint)


def _digest(module: str, symbols: list[str], result: dict[str, Any], workdir: str, as_main: bool = False) -> Traced:
    from preflight.diagnosis import Context

    ctx = Context(workdir=workdir, manifest_dir=workdir, sys_path=result.get("sys_path") or [workdir],
                  prefixes=tuple(result.get("library_dirs") or ()), app_tops={module.split(".")[0]})
    app = [(name, file) for name, file in result.get("loaded") or [] if file and ctx.is_app_file(file)]
    if as_main:  # the file python -m runs: importing it would run the server
        app = [(name, file) for name, file in app if file != result.get("module_file")]
    else:
        app.sort(key=lambda item: item[0] != module)  # the entry first, the rest in load order
    roots: list[str] = []
    installed = {os.path.realpath(d) for d in ctx.prefixes}  # site-packages: on the interpreter's sys.path anyway
    for name, file in app:
        root = _root(name, file)
        if root and root not in roots and os.path.realpath(root) not in installed:
            roots.append(root)
    app_tops = {name.partition(".")[0] for name, _ in app}
    dists: dict[str, str] = {}
    guarded: dict[str, str] = {}  # distribution -> where: every top of it loaded was first imported under a guard
    for top, found in sorted((result.get("distributions") or {}).items()):
        if top in app_tops:
            continue
        where = _guarded_import(top, result.get("importers") or {}, workdir, ctx.prefixes)
        for dist, version in found:
            name = canonical(dist)
            if name not in dists or name in guarded:  # one unguarded top of it makes it required
                guarded.pop(name, None)
                if where:
                    guarded[name] = where
            dists.setdefault(name, f"{name}=={version}")
    reads = [e for e in result.get("env_reads") or [] if e.get("file") and ctx.is_app_file(e["file"])]
    required = [e for e in reads if e["how"] == "item" and e["present"]]
    optional = [e for e in reads if e not in required]
    pins = sorted(pin for name, pin in dists.items() if name not in guarded)
    traced = Traced(module, symbols, app, roots, pins, required, optional, as_main=as_main)
    traced.optional_dists = {dists[name]: where for name, where in sorted(guarded.items())}
    return traced


def _guarded_import(top: str, importers: dict[str, list], workdir: str, libraries: tuple[str, ...]) -> str | None:
    """``file:line`` of the ``try: import top`` / ``except ImportError`` that first imported ``top``
    (a library's file relative to its site-packages); None when it was imported unguarded (or where
    is not known)."""
    from preflight.source import import_guarded

    file, line = (importers.get(top) or [None, None])[:2]
    if not file or not line or not import_guarded(file, line):
        return None
    library = max((d for d in libraries if file.startswith(d.rstrip(os.sep) + os.sep)), key=len, default=None)
    return f"{os.path.relpath(file, library)}:{line}" if library else _where({"file": file, "line": line}, workdir)


def _root(name: str, file: str) -> str | None:
    """The sys.path entry that makes ``file`` importable as ``name``."""
    path = os.path.dirname(file) if os.path.basename(file).startswith("__init__.") else os.path.splitext(file)[0]
    for _ in name.split("."):
        path = os.path.dirname(path)
    return path or None



def render(traced: Traced, out_dir: str, workdir: str, left_out: dict[str, str], static: bool,
           interpreter: str, static_note: int = 0) -> str:
    """The commented manifest, as YAML text (strings quoted as JSON, which YAML reads)."""
    entry = traced.entry or traced.module + (f":{traced.symbols[0]}" if traced.symbols else "")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    command = shlex.join(traced.command) if traced.command else None
    lines = [
        f"# Written by `preflight init {f'-- {command}' if command else entry}` on {stamp}, importing "
        f"{entry} with {interpreter}",
        f"# (Python {sys.version.split()[0] if os.path.realpath(interpreter) == os.path.realpath(sys.executable) else 'of that interpreter'}).",
        f"# `preflight check -- {command}` verifies it; `preflight run -- {command}` gates the server on it."
        if command else
        "# `preflight check` verifies it; `preflight run -- <server command>` gates the server on it.",
        "version: 1",
        "",
        "# Where the server starts; imports resolve from here (relative to this file).",
        f"workdir: {_path(workdir, out_dir)}",
    ]
    extra = [root for root in traced.roots if os.path.realpath(root) != os.path.realpath(workdir)]
    if extra:
        lines += ["", "# sys.path entries the application's modules were found in, besides the working directory.",
                  "sys_path:"] + [f"  - {_path(root, out_dir)}" for root in extra]
    if traced.required_env or traced.optional_env:
        lines += ["", "# Environment variables the application read at import time (names only, never values)."]
        if traced.required_env:
            lines += ["env:", "  required:"] + [f"    - {e['name']}  # os.environ[...] at {_where(e, workdir)}"
                                                 for e in traced.required_env]
        if traced.optional_env:
            lines += ["# Read with a default or tested; add them to env.required if they must be set:"]
            lines += [f"#   - {e['name']}  # at {_where(e, workdir)}" for e in traced.optional_env]
    if traced.distributions:
        lines += ["", "# Third-party distributions the import pulled in, at the versions installed here.",
                  "distributions:"] + [f"  - {json.dumps(d)}" for d in traced.distributions]
    if traced.optional_dists:
        lines += ["", "# Imported under try/except ImportError, so optional where the server runs; add them to",
                  "# distributions if they must be there:"]
        lines += [f"#   - {json.dumps(pin)}  # at {where}" for pin, where in traced.optional_dists.items()]
    loaded = "importing it and calling the factory, as the server does" if entry.endswith(")") else "it"
    if traced.as_main:
        lines += ["", f"# `python -m {traced.module}` runs a file that is not listed: imported, it would start the server.",
                  f"# `preflight check -- python -m {traced.module}` checks it as Python finds it, running only its",
                  "# imports. Each application module those loaded, in load order:",
                  "imports:"]
    else:
        lines += ["", f"# The entry point first, then each application module loaded by {loaded}, in load order.",
                  "imports:",
                  f"  - module: {traced.module}"]
        if traced.symbols:
            lines.append(f"    symbols: [{', '.join(traced.symbols)}]")
    lines += [f"  - {name}" for name, _ in traced.app_modules
              if (traced.as_main or name != traced.module) and name not in left_out]
    if left_out:
        lines += ["# Left out: these fail when imported first, on their own; the entry point imports them after",
                  "# what they need (an import cycle's other half, django.setup()), so its check covers them:"]
        lines += [f"#   - {name}  # {why}" for name, why in left_out.items()]
    lines.append("")
    if static:
        lines += ["# Static checks of the application's code: undefined names, lazy imports, cycles, twins.",
                  "static: true"]
    else:
        lines += [f"# Static checks are off: `preflight scan` reports {static_note} findings to fix first",
                  "# (or record them with `preflight scan --write-baseline FILE` and set static.baseline).",
                  "# static: true"]
    return "\n".join(lines) + "\n"


def _left_out_reason(check: r.Check, workdir: str) -> str:
    """``cause at file:line: what Python said`` (its first sentence, shortened), for one comment line."""
    where = f" at {_where({'file': check.file, 'line': check.line}, workdir)}" if check.file else ""
    said = " ".join(str(check.message or "").split()).split(". ")[0]
    said = said if len(said) <= 90 else said[:87] + "..."
    return f"{check.cause}{where}" + (f": {said}" if said else "")


def _path(path: str, base: str) -> str:
    """``path`` relative to the manifest's directory ``base`` when both lie in one tree below ``/``
    (``../services/api`` from a monorepo's ``deploy/``: the same in every checkout), else absolute."""
    path, base = os.path.abspath(path), os.path.abspath(base)
    within = os.path.commonpath([path, base]) != os.sep
    return json.dumps(os.path.relpath(path, base) if within else path)


def _where(read: dict[str, Any], workdir: str) -> str:
    file = read["file"]
    rel = os.path.relpath(file, workdir)
    return f"{rel if not rel.startswith('..') else file}:{read['line']}"


def _verify(text: str, out: str, start: Start) -> r.Report:
    """The gate's report on the draft, as ``check`` (``check -- CMD``) would give it here."""
    from preflight import gate, server_imports
    from preflight.manifest import parse_manifest

    manifest = server_imports.merge(parse_manifest(text, os.path.abspath(out)), start.imports)
    return gate.check(manifest, interpreter=start.interpreter, workdir=start.workdir, environ=start.environ,
                      sys_path_head=start.sys_path_head, python_options=start.options)


def _write(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".preflight-init-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp and os.path.isfile(tmp):
            os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}",
                         tip="pass --out a writable file path") from None
