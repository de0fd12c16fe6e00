"""Command line: parse arguments, call the core, map outcomes to exit codes. Nothing else lives here.

Exit codes: 0 all checks passed, 1 a check failed, 2 bad manifest or usage, 128+N interrupted by
signal N while checking; ``run`` then carries the server's own exit status (126/127 when the
command cannot be executed at all); ``probe`` exits 0 or 1 only. Off a terminal, every line written
to stderr is a JSON event (``log.say``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import contextmanager
from typing import Iterator

from preflight import __version__, signal_state  # signal_state first: it notes the signals as inherited
from preflight.errors import Interrupted, PreflightError, UsageError
from preflight.settings import CHOICES, choice

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_MANIFEST = "preflight.yaml"
DEFAULT_RUN_REPORT = "/tmp/preflight-report.json"  # a file: never an importable /tmp/preflight package


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # reported like every other usage error (and as JSON off a TTY)
        raise UsageError(message, usage=self.format_usage().strip())


class _SubcommandParser(_Parser):
    """A subcommand's parser: words it does not know are its error, reported with its own usage
    (argparse would hand them up to the top-level parser, whose usage says nothing about them)."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            raise UsageError(f"unrecognized arguments: {' '.join(extras)}", tip=self._meant(extras[0]),
                             usage=self.format_usage().strip())
        return parsed, extras

    def _meant(self, word: str) -> str:
        from preflight.suggest import closest

        known = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        meant = closest(word.partition("=")[0].lstrip("-"), [o[2:] for o in known]) if word.startswith("--") else None
        return (f"did you mean --{meant}? " if meant else "") + f"`{self.prog} --help` lists its options"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="preflight", description="A startup gate for Python services.")
    parser.add_argument("--version", action="version", version=f"preflight {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_SubcommandParser)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--report", metavar="PATH", help="write the report-v1 JSON document here")
        p.add_argument("--format", choices=("json", "console"), help="log format (default: json unless a TTY)")
        p.add_argument("--verbose", "-v", action="store_true", help="console view: show tracebacks")
        p.add_argument("--mode", choices=CHOICES["PREFLIGHT_MODE"],
                       help="default: $PREFLIGHT_MODE, else zygote. zygote: fork each check from an interpreter "
                            "that preloaded the third-party dependencies (falls back to fresh where forking is "
                            "unsafe); fresh: a new interpreter per check")

    check = sub.add_parser("check", help="run the manifest's checks and report",
                           usage="preflight check [options] [MANIFEST] [-- CMD ARG...]",
                           description="-- CMD ARG...: check as `preflight run -- CMD` would before starting CMD "
                                       "(its interpreter and options, sys.path, gunicorn's --chdir), without starting it")
    check.add_argument("manifest", nargs="?", help="default: $PREFLIGHT_MANIFEST, then ./preflight.yaml")
    check.add_argument("--python", metavar="PATH", help="check with this interpreter (default: this one), and "
                                                        "its options if given: --python 'python3 -O -W error'")
    check.add_argument("--stamp", nargs="?", const="", metavar="PATH",
                       help="after a passing check, write the fingerprint `run --trust-stamp` verifies "
                            "(default: $PREFLIGHT_STAMP, then .preflight-stamp.json beside the manifest)")
    common(check)

    run = sub.add_parser("run", help="check, then exec the server command in place")
    run.add_argument("--manifest", help="default: $PREFLIGHT_MANIFEST, then ./preflight.yaml")
    common(run)
    run.add_argument("--trust-stamp", nargs="?", const="", metavar="PATH",
                     help="skip re-importing when the fingerprint written by `check --stamp` still matches "
                          "(env vars and workdir are still checked); any change: the full check")
    run.add_argument("server", nargs=argparse.REMAINDER, help="-- CMD ARG...")

    sub.add_parser("schema", help="print the manifest's JSON Schema")

    validate = sub.add_parser("validate", help="check the manifest itself and cache it, so that starts "
                                               "import neither pydantic nor YAML (a build step)")
    validate.add_argument("manifest", nargs="?", help="default: $PREFLIGHT_MANIFEST, then ./preflight.yaml")
    validate.add_argument("--format", choices=("json", "console"), help="log format (default: json unless a TTY)")

    scan = sub.add_parser("scan", help="static checks only: undefined names, unresolved imports, cycles, twins")
    scan.add_argument("manifest", nargs="?", help="default: $PREFLIGHT_MANIFEST, then ./preflight.yaml")
    scan.add_argument("--python", metavar="PATH", help="resolve imports as this interpreter would")
    scan.add_argument("--baseline", metavar="FILE", help="silence the findings FILE knows; fail only on new ones")
    scan.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE, exit 0")
    scan.add_argument("--report", metavar="PATH", help="write the report-v1 JSON document here")
    scan.add_argument("--format", choices=("json", "console"), help="log format (default: json unless a TTY)")
    scan.add_argument("--verbose", "-v", action="store_true", help="console view: every finding, ungrouped")

    init = sub.add_parser("init", help="import an entry point and write the manifest it needs",
                          usage="preflight init [options] (ENTRY | -- CMD ARG...)",
                          description="-- CMD ARG...: the server command (the image's CMD); its application, "
                                      "interpreter, sys.path and working directory are followed as `check -- CMD` does")
    init.add_argument("entry", nargs="?", help="module:attribute, like app.main:app (the attribute is optional)")
    init.add_argument("--out", default=DEFAULT_MANIFEST, help=f"default: ./{DEFAULT_MANIFEST}")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.add_argument("--python", metavar="PATH", help="import with this interpreter (default: this one)")
    init.add_argument("--format", choices=("json", "console"), help="log format (default: json unless a TTY)")

    image = sub.add_parser("image", help="run the manifest inside a container from IMAGE (Docker) and report")
    image.add_argument("image", help="image name, tag or ID on the engine ($DOCKER_HOST or the local socket)")
    image.add_argument("--manifest", help="a local manifest to copy in (default: the image's own)")
    image.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL",
                       help="set a variable in the container (KEY alone: take it from here)")
    common(image)

    diff = sub.add_parser("diff", help="what differs between two places, most relevant first")
    diff.add_argument("a", help="a report-v1 file, `local` (run the manifest here) or `image:NAME`")
    diff.add_argument("b", help="the same kinds as A")
    diff.add_argument("--manifest", help="for `local` (default: $PREFLIGHT_MANIFEST, then ./preflight.yaml) "
                                         "and copied into `image:` containers (default: the image's own)")
    diff.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL",
                      help="set a variable in `image:` containers")
    diff.add_argument("--format", choices=("console", "json"), default="console", help="default: console")

    probe = sub.add_parser("probe", help="startup/health probe: the gate's report says ok (and the port answers)")
    probe.add_argument("--report", metavar="PATH", help=f"default: $PREFLIGHT_REPORT, then {DEFAULT_RUN_REPORT}")
    probe.add_argument("--port", type=int, help="also require TCP on 127.0.0.1:PORT (default: $PORT; 0: no)")
    probe.add_argument("--host", default="127.0.0.1", help="where the server listens (default: 127.0.0.1)")

    serve = sub.add_parser("serve", help="run the checks and answer HTTP probes: GET /startup and /healthz")
    serve.add_argument("--port", type=int, help="default: $PORT")
    serve.add_argument("--host", default="0.0.0.0", help="default: 0.0.0.0 (probes come from outside)")
    serve.add_argument("--manifest", help="default: $PREFLIGHT_MANIFEST, then ./preflight.yaml")
    serve.add_argument("--python", metavar="PATH", help="check with this interpreter (default: this one), and "
                                                        "its options if given: --python 'python3 -O'")
    common(serve)
    return parser


def entry() -> None:
    """The ``preflight`` command: ``main``, then leave without the interpreter's teardown of every
    loaded module (tens of milliseconds; preflight holds nothing that needs it once output is flushed)."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    signal_state.own_children()
    argv = sys.argv[1:] if argv is None else argv
    command = None
    if argv[:1] in (["check"], ["init"]) and "--" in argv:  # ... -- CMD: the server command is not theirs to parse
        argv, command = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _log_error(exc, _format_asked(argv), argv[:1] == ["probe"])
    if args.command in ("check", "init"):
        args.server = command
    if args.command in ("serve", "probe", "schema"):
        return _dispatch(args)
    with _signals_interrupt():  # from the start: as PID 1 an unhandled SIGTERM would be ignored
        return _dispatch(args)


def _format_asked(argv: list[str]) -> str | None:
    """``--format`` from a command line argparse rejected (``diff``'s is its stdout's, not the log's)."""
    if argv[:1] == ["diff"]:
        return None
    for index, arg in enumerate(argv[:argv.index("--")] if "--" in argv else argv):
        value = arg.partition("=")[2] if arg.startswith("--format=") else (
            argv[index + 1] if arg == "--format" and index + 1 < len(argv) else None)
        if value in ("json", "console"):
            return value
    return None


def _log_error(exc: PreflightError, requested_format: str | None, probe: bool = False) -> int:
    """Say what went wrong on stderr (the console lines on a terminal, else one JSON ERROR event); the exit
    status. A probe's is 1: Docker reserves 2 for HEALTHCHECK, and a probe answers healthy (0) or not (1)."""
    from preflight import log

    code = EXIT_FAILED if probe else exc.exit_code
    console = "\n".join(filter(None, [getattr(exc, "usage", None), f"preflight: error: {exc}",
                                      exc.tip and f"preflight: tip: {exc.tip}"]))
    log.say(requested_format, "ERROR", exc.headline(), console, event_type="error", exit_code=code, hint=exc.tip,
            **exc.fields())
    return code


def _say(args: argparse.Namespace, severity: str, message: str, console: str, **fields: object) -> None:
    """A line of preflight's own on stderr, in the command's log format."""
    from preflight import log

    log.say(_requested_format(args), severity, message, console, **fields)


def _requested_format(args: argparse.Namespace) -> str | None:
    return None if args.command == "diff" else getattr(args, "format", None)


_INTERRUPTED = {"run": "checks killed, nothing started", "check": "checks killed", "serve": "checks killed"}


def _dispatch(args: argparse.Namespace) -> int:
    try:
        _settle(args)
        if args.command == "schema":
            return _schema()
        if args.command == "validate":
            return _validate(args)
        if args.command == "check":
            return _check(args)
        if args.command == "diff":
            return _diff(args)
        if args.command in ("scan", "init"):
            return {"scan": _scan, "init": _init}[args.command](args)
        if args.command in ("image", "probe", "serve"):
            return {"image": _image, "probe": _probe, "serve": _serve}[args.command](args)
        return _run(args)
    except PreflightError as exc:
        return _log_error(exc, _requested_format(args), args.command == "probe")
    except Interrupted as exc:
        name = signal.Signals(exc.signum).name
        message = f"interrupted by {name}: {_INTERRUPTED.get(args.command, f'preflight {args.command} stopped')}"
        _say(args, "ERROR", message, f"preflight: {message}", event_type="interrupted", signal=name,
             exit_code=exc.exit_code)
        return exc.exit_code


def _settle(args: argparse.Namespace) -> None:
    """Defaults from the environment, and every output path, checked before anything runs."""
    if hasattr(args, "mode"):
        args.mode = args.mode or choice("PREFLIGHT_MODE") or "zygote"
    if args.command in ("check", "run", "serve", "scan", "init"):
        choice("PREFLIGHT_STATIC_ANALYSER")
    if args.command == "run":
        args.report = args.report or os.environ.get("PREFLIGHT_REPORT")  # given: checked like --report
    if args.command != "probe" and getattr(args, "report", None):
        _check_report_path(args.report)


def _schema() -> int:
    import json

    from preflight.manifest import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from preflight import manifest_cache

    path = _manifest_path(args.manifest)
    manifest, entry = manifest_cache.validate_and_store(path)
    print(f"preflight: {path} is valid ({len(manifest.imports)} import{'' if len(manifest.imports) == 1 else 's'})")
    if entry is None:
        message = (f"not cached: {manifest_cache.cache_dir()} cannot be written; every start will validate it "
                   f"again (set PREFLIGHT_CACHE_DIR to a directory the server's user can read)")
        _say(args, "WARNING", message, f"preflight: warning: {message}", event_type="not_cached")
    else:
        print(f"preflight: cached as {entry}: a start with the same manifest path, $HOME and preflight "
              f"version skips validating it")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    python, args.python_options = sys.executable, ()
    if args.server is not None and not args.server:
        raise UsageError("no server command after --", tip="preflight check -- uvicorn app.main:app")
    if args.server and args.python:
        raise UsageError("--python and a server command both name the interpreter to check with",
                         tip="give one: check -- python3 -O -m uvicorn app.main:app, or check --python 'python3 -O'")
    if args.server:
        python = _follow_server(args, args.server)
    elif args.python:
        from preflight import interpreter

        python, args.python_options = interpreter.validate_command(args.python)
    report = _gate(_manifest_path(args.manifest), python, args, starting=False)
    return EXIT_OK if report.ok else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    from preflight import handoff

    if args.server[:1] != ["--"] and "--" in args.server:
        raise _misplaced_separator(args.server)
    command = args.server[1:] if args.server[:1] == ["--"] else args.server  # `run uvicorn ...` works too
    if not command:
        raise UsageError("no server command given", tip="preflight run -- uvicorn app.main:app --host 0.0.0.0")
    python = _follow_server(args, command)
    args.report = args.report or DEFAULT_RUN_REPORT  # the default is not checked up front: see _publish
    report = _gate(_manifest_path(args.manifest), python, args, starting=True)
    if not report.ok:
        return EXIT_FAILED
    handoff.reap_orphans()
    handoff.exec_server(command)
    return EXIT_FAILED  # not reached: exec_server replaces this process or raises


def _follow_server(args: argparse.Namespace, command: list[str]) -> str:
    """The interpreter ``command`` will run (``ExecFailed``, 127/126, when it cannot run), and on ``args``
    what the checks must share with it: its options, the start of its sys.path, its working directory
    and its environment (an ``env`` in its shebang or in front of it may change it)."""
    from preflight import interpreter

    start = interpreter.follow(command, os.environ)
    args.sys_path_head, args.python_options, args.workdir = start.sys_path_head, start.options, start.workdir
    args.environ, args.server_imports, args.unchecked = start.environ, start.imports, start.unchecked
    args.program = os.path.basename(command[0])
    return start.python


def _server_environ(args: argparse.Namespace):
    """The environment the server will see, and so the checks: preflight's own unless ``env`` changes it."""
    environ = getattr(args, "environ", None)
    return os.environ if environ is None else environ


def _misplaced_separator(words: list[str]) -> Exception:
    """``run WORDS -- CMD``: the words before ``--`` are neither preflight's options nor the server
    (``run preflight.yaml -- uvicorn ...`` would exec the manifest)."""
    before = words[:words.index("--")]
    manifest = len(before) == 1 and before[0].endswith((".yaml", ".yml"))
    return UsageError(f"unexpected {' '.join(before)!r} before `--`",
                      tip=f"give the manifest as --manifest {before[0]}" if manifest else
                      "preflight's options go before `--`, the server command after it")


def _check_report_path(path: str) -> None:
    from preflight.files import check_writable

    try:
        check_writable(path)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {path}: {exc.strerror or exc}",
                         tip="point --report (or PREFLIGHT_REPORT for `run`) at a file in an existing, writable "
                             "directory; /dev/stdout and FIFOs are written through") from None


def _manifest_path(given: str | None) -> str:
    from preflight.errors import UsageError

    path = given or os.environ.get("PREFLIGHT_MANIFEST") or DEFAULT_MANIFEST
    if not os.path.exists(path):
        source = "given" if given else ("$PREFLIGHT_MANIFEST" if os.environ.get("PREFLIGHT_MANIFEST") else "default")
        raise UsageError(f"manifest not found: {path} ({source})",
                         tip="pass MANIFEST, set PREFLIGHT_MANIFEST, or create ./preflight.yaml")
    return path


def _gate(manifest_path: str, python: str, args: argparse.Namespace, starting: bool):
    import time

    started = time.monotonic()
    zygote = None
    workdir = getattr(args, "workdir", None) or os.getcwd()
    if args.mode == "zygote" and getattr(args, "trust_stamp", None) is None and os.path.isdir(workdir):
        from preflight.zygote_launch import boot

        # boots while this one loads the rest
        zygote = boot(python, workdir, dict(_server_environ(args)), args.python_options)
    try:
        return _gate_with(manifest_path, python, args, starting, started, zygote, workdir)
    except BaseException:
        if zygote is not None and zygote.proc.returncode is None:
            zygote.discard()
        raise


def _gate_with(manifest_path: str, python: str, args: argparse.Namespace, starting: bool, started: float,
               zygote, workdir: str):
    from preflight import manifest_cache

    manifest = manifest_cache.load(manifest_path)
    named = getattr(args, "server_imports", ())
    if named:  # the server's application, gunicorn's worker class, a console script's entry point: checked too
        from preflight import server_imports

        manifest = server_imports.merge(manifest, named)
    environ = _server_environ(args)
    trust, stamp_path = getattr(args, "trust_stamp", None), getattr(args, "stamp", None)
    distrust = None
    if trust is not None or stamp_path is not None:
        from preflight import stamp

        if trust is not None:  # before any thread: its hundreds of stat() calls would wait for the GIL
            path = trust or stamp.default_path(manifest_path)
            found, distrust = stamp.verify(path, manifest, python, workdir, environ, args.python_options)
            if found is not None:
                report = stamp.trusted_report(manifest, found, path, python, environ, started, args.python_options)
                return _publish(_note_unchecked(report, args), args, starting)
        if stamp_path is not None:
            stamp_path = stamp_path or stamp.default_path(manifest_path)
    # the diagnosis and the log's processors load on the other core while the checks run
    logging_ready = _import_in_background("preflight.log", "preflight.diagnosis", "preflight.environment")
    from preflight import gate  # not before: a trusted stamp needs none of it

    with _signals_interrupt():  # main() holds these already, except for `serve`
        report = gate.check(manifest, interpreter=python, workdir=workdir, environ=environ, mode=args.mode,
                            stamp_path=stamp_path,
                            zygote=zygote, sys_path_head=getattr(args, "sys_path_head", None),
                            python_options=args.python_options)
    if distrust:
        report.mode_reason = "; ".join(filter(None, [f"stamp not trusted: {distrust}", report.mode_reason]))
    if named:
        server_imports.annotate(report.checks, named)
    logging_ready.join()
    return _publish(_note_unchecked(report, args), args, starting)


def _note_unchecked(report, args: argparse.Namespace):
    """``report`` with a skipped ``command`` check saying why what the server command imports itself was
    not checked (a shell in front, a script, a form of naming the application preflight does not read)."""
    why = getattr(args, "unchecked", "")
    if why:
        from preflight.report import SKIPPED, Check

        report.checks.append(Check("command", args.program, SKIPPED, message=f"the server command's own imports were "
                                   f"not checked: {why}", details={"reason": why}))
    return report


def _import_in_background(*modules: str):
    """Import ``modules`` in a daemon thread; join it before use (a failed import fails again there)."""
    import importlib
    import threading

    def load() -> None:
        for module in modules:
            importlib.import_module(module)

    thread = threading.Thread(target=load, daemon=True, name="preflight-imports")
    thread.start()
    return thread


def _publish(report, args: argparse.Namespace, starting: bool = False):
    """Log ``report`` (json or console) and write it to ``--report`` when asked."""
    from preflight import log
    from preflight.report import write_report

    fmt = log.choose_format(args.format, sys.stderr)
    logger = log.make_logger(fmt, sys.stderr, args.verbose, lean=report.ok)
    shown = report
    if fmt == "console" and not args.verbose and any(c.kind == "static" for c in report.checks):
        from preflight.static.render import console_view

        shown = console_view(report, os.getcwd())
    log.log_report(logger, shown, starting=starting)
    if args.report:
        try:
            write_report(report, args.report)
        except OSError as exc:
            message = f"could not write the report to {args.report}: {exc.strerror}"
            hint = ("`preflight probe` reads this file: point --report or PREFLIGHT_REPORT at a writable path "
                    "(a read-only root filesystem needs an emptyDir or tmpfs there)")
            if not starting:  # a server start goes on without it; anything else fails
                raise UsageError(message, tip=hint) from None
            logger.error(message, path=args.report, hint=hint)
    return report


def _scan(args: argparse.Namespace) -> int:
    from preflight import interpreter, static
    from preflight.manifest import load_manifest

    python = interpreter.validate(args.python) if args.python else sys.executable
    manifest = load_manifest(_manifest_path(args.manifest))
    report = static.scan(manifest, python, os.getcwd(), baseline=args.baseline)
    if args.write_baseline:
        from preflight.static.baseline import write

        count = write(report.checks, args.write_baseline)
        message = f"{count} findings written to {args.write_baseline}"
        _say(args, "INFO", message, f"preflight: {message}", event_type="baseline_written")
        return EXIT_OK
    _publish(report, args)
    return EXIT_OK if report.ok else EXIT_FAILED


def _init(args: argparse.Namespace) -> int:
    from preflight import generate, interpreter

    if args.server is not None and not args.server:
        raise UsageError("no server command after --", tip="preflight init -- uvicorn app.main:app")
    if args.server and (args.entry or args.python):
        raise UsageError(f"{'an entry point' if args.entry else '--python'} and a server command both say what to "
                         f"import", tip="give one: preflight init app.main:app, or preflight init -- uvicorn app.main:app")
    if args.server:
        entry, start = generate.from_command(args.server, os.environ)
    elif args.entry is None:
        raise UsageError("no entry point given", tip="preflight init app.main:app, or the server command: "
                                                     "preflight init -- gunicorn wsgi:app")
    else:
        python = interpreter.validate(args.python) if args.python else sys.executable
        entry, start = args.entry, generate.Start(python, os.getcwd())
    result = generate.init(entry, args.out, start, force=args.force)
    for line in result.notes:
        _say(args, "INFO", line, f"preflight: {line}", event_type="init", path=result.path)
    return EXIT_OK


def _image(args: argparse.Namespace) -> int:
    from preflight import image

    report = image.check_image(args.image, manifest=args.manifest, env=image.parse_env(args.env))
    return EXIT_OK if _publish(report, args).ok else EXIT_FAILED


def _diff(args: argparse.Namespace) -> int:
    from preflight import diff

    live = diff.LOCAL in (args.a, args.b)
    manifest = _manifest_path(args.manifest) if live or args.manifest else None
    sides = [diff.load(source, manifest, args.manifest, args.env) for source in (args.a, args.b)]
    result = diff.compare(*sides)
    print((diff.render_json if args.format == "json" else diff.render_console)(result), end="")
    return EXIT_FAILED if result.matters else EXIT_OK


def _probe(args: argparse.Namespace) -> int:
    from preflight import probes

    path = args.report or os.environ.get("PREFLIGHT_REPORT") or DEFAULT_RUN_REPORT
    verdict = probes.probe(path, probes.port_from(args.port), args.host)
    if verdict.ok:
        print(f"preflight probe: ok: {verdict.message}")
        return EXIT_OK
    _say(args, "WARNING", verdict.message, f"preflight probe: failing: {verdict.message}", event_type="probe")
    return EXIT_FAILED


def _serve(args: argparse.Namespace) -> int:
    from preflight import interpreter, probes
    from preflight.errors import UsageError

    port = probes.port_from(args.port)
    if port is None:
        raise UsageError("no port to serve on", tip="preflight serve --port 8081 (or set PORT)")
    python, args.python_options = interpreter.validate_command(args.python) if args.python else (sys.executable, ())
    manifest_path = _manifest_path(args.manifest)
    try:
        server = probes.StatusServer(args.host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{port}: {exc.strerror}") from None
    with server:
        message = f"answering GET /startup and /healthz on http://{args.host}:{server.port}"
        _say(args, "INFO", message, f"preflight serve: {message}", event_type="listening", port=server.port)
        server.publish(_gate(manifest_path, python, args, starting=False))
        probes.wait_for_stop()
    return EXIT_OK


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While checks run, SIGTERM and SIGINT raise ``Interrupted`` (the runner then kills its children);
    one inherited ignored stays ignored, as it will be in the server."""

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in signal_state.INTERRUPTS if s not in signal_state.IGNORED}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
