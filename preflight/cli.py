"""Command line: parse arguments, call the core, map outcomes to exit codes. Nothing else lives here.

Exit codes: 0 all checks passed, 1 a check failed, 2 bad manifest or usage, 128+N interrupted by
signal N while checking; ``run`` then carries the server's own exit status (126/127 when the
command cannot be executed at all).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from contextlib import contextmanager
from typing import Iterator

from preflight import __version__
from preflight.errors import Interrupted, PreflightError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_MANIFEST = "preflight.yaml"
DEFAULT_RUN_REPORT = "/tmp/preflight/report.json"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code is 2 too; keep the wording ours
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"preflight: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="preflight", description="A startup gate for Python services.")
    parser.add_argument("--version", action="version", version=f"preflight {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--report", metavar="PATH", help="write the report-v1 JSON document here")
        p.add_argument("--format", choices=("json", "console"), help="log format (default: json unless a TTY)")
        p.add_argument("--verbose", "-v", action="store_true", help="console view: show tracebacks")

    check = sub.add_parser("check", help="run the manifest's checks and report")
    check.add_argument("manifest", nargs="?", help="default: $PREFLIGHT_MANIFEST, then ./preflight.yaml")
    check.add_argument("--python", metavar="PATH", help="check with this interpreter (default: this one)")
    common(check)

    run = sub.add_parser("run", help="check, then exec the server command in place")
    run.add_argument("--manifest", help="default: $PREFLIGHT_MANIFEST, then ./preflight.yaml")
    common(run)
    run.add_argument("server", nargs=argparse.REMAINDER, help="-- CMD ARG...")

    sub.add_parser("schema", help="print the manifest's JSON Schema")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "schema":
            return _schema()
        if args.command == "check":
            return _check(args)
        return _run(args)
    except PreflightError as exc:
        print(f"preflight: error: {exc}", file=sys.stderr)
        if exc.tip:
            print(f"preflight: tip: {exc.tip}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        name = signal.Signals(exc.signum).name
        print(f"preflight: interrupted by {name}: checks killed, nothing started", file=sys.stderr)
        return exc.exit_code


def _schema() -> int:
    import json

    from preflight.manifest import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from preflight import interpreter

    python = interpreter.validate(args.python) if args.python else sys.executable
    report = _gate(_manifest_path(args.manifest), python, args, starting=False)
    return EXIT_OK if report.ok else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    from preflight import handoff, interpreter
    from preflight.errors import UsageError

    command = args.server[1:] if args.server[:1] == ["--"] else args.server
    if not command:
        raise UsageError("no server command given", tip="preflight run -- uvicorn app.main:app --host 0.0.0.0")
    if shutil.which(command[0]) is None:
        raise handoff.ExecFailed(f"command not found: {command[0]!r}", 127,
                                 tip="install it in the image, or give its full path after `--`")
    python = interpreter.interpreter_for(command)
    args.report = args.report or os.environ.get("PREFLIGHT_REPORT") or DEFAULT_RUN_REPORT
    report = _gate(_manifest_path(args.manifest), python, args, starting=True)
    if not report.ok:
        return EXIT_FAILED
    handoff.reap_orphans()
    handoff.exec_server(command)
    return EXIT_FAILED  # not reached: exec_server replaces this process or raises


def _manifest_path(given: str | None) -> str:
    from preflight.errors import UsageError

    path = given or os.environ.get("PREFLIGHT_MANIFEST") or DEFAULT_MANIFEST
    if not os.path.exists(path):
        source = "given" if given else ("$PREFLIGHT_MANIFEST" if os.environ.get("PREFLIGHT_MANIFEST") else "default")
        raise UsageError(f"manifest not found: {path} ({source})",
                         tip="pass MANIFEST, set PREFLIGHT_MANIFEST, or create ./preflight.yaml")
    return path


def _gate(manifest_path: str, python: str, args: argparse.Namespace, starting: bool):
    from preflight import gate, log
    from preflight.manifest import load_manifest
    from preflight.report import write_report

    manifest = load_manifest(manifest_path)
    logger = log.make_logger(log.choose_format(args.format, sys.stderr), sys.stderr, args.verbose)
    with _signals_interrupt():
        report = gate.check(manifest, interpreter=python)
    log.log_report(logger, report, starting=starting)
    if args.report:
        try:
            write_report(report, args.report)
        except OSError as exc:
            logger.warning(f"could not write the report to {args.report}: {exc.strerror}", path=args.report)
    return report


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While checks run, SIGTERM and SIGINT raise ``Interrupted`` (the runner then kills its children)."""

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
