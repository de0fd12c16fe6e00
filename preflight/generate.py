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


def init(entry: str, out: str, interpreter: str, workdir: str, force: bool = False) -> InitResult:
    """Draft, verify and write the manifest ``entry`` needs; ``InitFailed`` (nothing written) when the
    entry point does not import or the draft does not pass here, ``UsageError`` for bad input."""
    module, attr, call = parse_entry(entry)
    if os.path.isdir(out):
        raise UsageError(f"{out} is a directory", tip="--out names the manifest file to write")
    if os.path.exists(out) and not force:
        raise UsageError(f"{out} already exists", tip="pass --force to overwrite it, or --out another path")
    outcome = _trace(module, [attr] if attr else [], interpreter, workdir, call)
    if outcome.result is None or outcome.result.get("error") or not outcome.result.get("ok"):
        raise _failed_import(entry, module, attr, outcome, interpreter, workdir)
    traced = _digest(module, [attr] if attr else [], outcome.result, workdir)
    traced.entry = entry
    out_dir = os.path.dirname(os.path.abspath(out))
    left_out: dict[str, str] = {}
    text = render(traced, out_dir, workdir, left_out, static=True, interpreter=interpreter)
    report = _verify(text, out, interpreter, workdir)
    for check in report.failures:
        if check.kind == "import" and check.target != module:
            left_out[check.target] = (f"{check.cause} at {_where({'file': check.file, 'line': check.line}, workdir)}"
                                      if check.file else str(check.cause))
    static_failures = [c for c in report.failures if c.kind == "static"]
    if left_out or static_failures:
        text = render(traced, out_dir, workdir, left_out, static=not static_failures, interpreter=interpreter,
                      static_note=len(static_failures))
        report = _verify(text, out, interpreter, workdir)
    if not report.ok:
        first = report.failures[0]
        raise InitFailed(f"the manifest drafted for {entry} does not pass here, nothing written: {first.kind} "
                         f"{first.target}: {first.cause}: {first.message}", tip=first.hint)
    _write(out, text)
    notes = [f"wrote {out}: {len(traced.app_modules) - len(left_out)} application modules, "
             f"{len(traced.distributions)} distributions, {len(traced.required_env)} required variables; "
             f"`preflight check {out}` passes here ({report.duration_ms:.0f} ms)"]
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
    if entry.endswith(".py") or "/" in entry:
        name = entry.removeprefix("./").removesuffix(".py").removesuffix("/__init__").replace("/", ".")
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


def _trace(module: str, symbols: list[str], interpreter: str, workdir: str, call: dict[str, Any] | None = None):
    from preflight.runner import RESULT, STACK, Job, Runner

    request = {"module": module, "symbols": symbols, "timeout": TRACE_TIMEOUT}
    if call is not None:
        request["call"] = call
    job = Job("trace", "trace_init.py", [json.dumps(request), RESULT, STACK], TRACE_TIMEOUT)
    return Runner(interpreter, workdir, env=dict(os.environ)).run([job])["trace"]


def _failed_import(entry: str, module: str, attr: str, outcome, interpreter: str, workdir: str) -> InitFailed:
    from preflight.diagnosis import Context, diagnose_import
    from preflight.spec import ImportTarget

    result = outcome.result or {}
    ctx = Context(workdir=workdir, manifest_dir=workdir, sys_path=result.get("sys_path") or [workdir],
                  prefixes=tuple(result.get("library_dirs") or ()), app_tops={module.split(".")[0]},
                  pythonpath=os.environ.get("PYTHONPATH"))
    from preflight.redact import redact_checks

    checks = diagnose_import(ImportTarget(module, (attr,) if attr else (), TRACE_TIMEOUT), outcome, ctx)
    redact_checks(checks, os.environ)
    failed = next((c for c in checks if c.failing), checks[0])
    where = f" at {failed.file}:{failed.line}" if failed.file else ""
    doing = f"calling {entry}" if result.get("called") else f"importing {module}"
    return InitFailed(f"{doing} failed, nothing written: {failed.cause}{where}: {failed.message}", tip=failed.hint)


def _digest(module: str, symbols: list[str], result: dict[str, Any], workdir: str) -> Traced:
    from preflight.diagnosis import Context

    ctx = Context(workdir=workdir, manifest_dir=workdir, sys_path=result.get("sys_path") or [workdir],
                  prefixes=tuple(result.get("library_dirs") or ()), app_tops={module.split(".")[0]})
    app = [(name, file) for name, file in result.get("loaded") or [] if file and ctx.is_app_file(file)]
    app.sort(key=lambda item: item[0] != module)  # the entry first, the rest in load order
    roots: list[str] = []
    for name, file in app:
        root = _root(name, file)
        if root and root not in roots:
            roots.append(root)
    app_tops = {name.partition(".")[0] for name, _ in app}
    dists: dict[str, str] = {}
    for top, found in sorted((result.get("distributions") or {}).items()):
        if top in app_tops:
            continue
        for dist, version in found:
            dists.setdefault(canonical(dist), f"{canonical(dist)}=={version}")
    reads = [e for e in result.get("env_reads") or [] if e.get("file") and ctx.is_app_file(e["file"])]
    required = [e for e in reads if e["how"] == "item" and e["present"]]
    optional = [e for e in reads if e not in required]
    return Traced(module, symbols, app, roots, sorted(dists.values()), required, optional)


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
    lines = [
        f"# Written by `preflight init {entry}` on {stamp}, importing it with {interpreter}",
        f"# (Python {sys.version.split()[0] if interpreter == sys.executable else 'of that interpreter'}).",
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
    loaded = "importing it and calling the factory, as the server does" if entry.endswith(")") else "it"
    lines += ["", f"# The entry point first, then each application module loaded by {loaded}, in load order.",
              "imports:",
              f"  - module: {traced.module}"]
    if traced.symbols:
        lines.append(f"    symbols: [{', '.join(traced.symbols)}]")
    lines += [f"  - {name}" for name, _ in traced.app_modules if name != traced.module and name not in left_out]
    if left_out:
        lines += ["# Left out: these fail when imported first, on their own (the entry point imports them):"]
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


def _path(path: str, base: str) -> str:
    rel = os.path.relpath(path, base)
    return json.dumps(rel if not rel.startswith("..") else os.path.abspath(path))


def _where(read: dict[str, Any], workdir: str) -> str:
    file = read["file"]
    rel = os.path.relpath(file, workdir)
    return f"{rel if not rel.startswith('..') else file}:{read['line']}"


def _verify(text: str, out: str, interpreter: str, workdir: str) -> r.Report:
    from preflight import gate
    from preflight.manifest import parse_manifest

    manifest = parse_manifest(text, os.path.abspath(out))
    return gate.check(manifest, interpreter=interpreter, workdir=workdir)


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
