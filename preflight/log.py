"""The structured log: one event per check and a summary, as JSON lines or a readable console view.

JSON fields follow what Cloud Logging reads from a container's stderr: ``severity``, ``message``,
``logging.googleapis.com/sourceLocation``; the whole traceback travels in one ``stack_trace`` field
so that a failure stays one log entry (and Error Reporting picks it up).
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO



def _import_structlog() -> Any:
    """``import structlog`` without its optional pretty-printers: its ``dev`` module imports rich
    (and better_exceptions, colorama) when installed, ~80 ms on every start for renderers preflight
    never uses (it renders with ``ConsoleView`` and ``JSONRenderer``)."""
    import importlib

    blocked = [name for name in ("rich", "better_exceptions", "colorama") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        return importlib.import_module("structlog")
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


structlog = _import_structlog()

from preflight import report as r

_SEVERITY = {r.PASSED: "INFO", r.SKIPPED: "INFO", r.WARNED: "WARNING", r.FAILED: "ERROR", r.TIMED_OUT: "ERROR"}
_COLOURS = {"INFO": "\033[32m", "WARNING": "\033[33m", "ERROR": "\033[31m", "NOTICE": "\033[36m"}
_MARKS = {r.PASSED: "ok", r.SKIPPED: "--", r.WARNED: "!!", r.FAILED: "XX", r.TIMED_OUT: "XX"}


def choose_format(requested: str | None, stream: TextIO) -> str:
    """``json`` unless the stream is a terminal, where people read it; ``requested`` wins."""
    if requested:
        return requested
    return "console" if stream.isatty() else "json"


def add_severity(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("severity", method_name.upper())
    return event_dict


def drop_empty(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event_dict.items() if v is not None and v != {} and v != []}


def add_source_location(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    if event_dict.get("file"):
        location = {"file": event_dict["file"]}
        if event_dict.get("line"):
            location["line"] = str(event_dict["line"])
        event_dict["logging.googleapis.com/sourceLocation"] = location
    return event_dict


class ConsoleView:
    """The last processor for people: a mark, the headline, then cause, place and hint indented."""

    def __init__(self, colour: bool, verbose: bool = False) -> None:
        self.colour = colour
        self.verbose = verbose

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
        status = event_dict.get("status")
        mark = _MARKS.get(status, "==")
        line = f"{mark} {event_dict.get('message', '')}"
        if self.colour:
            line = f"{_COLOURS.get(event_dict.get('severity', ''), '')}{line}\033[0m"
        extra = []
        if event_dict.get("file"):
            where = f"{event_dict['file']}:{event_dict['line']}" if event_dict.get("line") else event_dict["file"]
            extra.append(f"   at   {where}")
        if event_dict.get("hint"):
            extra.append(f"   fix  {event_dict['hint']}")
        if event_dict.get("output"):
            extra.append("   output (tail):\n" + _indent(event_dict["output"], 6))
        if event_dict.get("stack_trace") and self.verbose:
            extra.append(_indent(event_dict["stack_trace"], 6))
        return "\n".join([line, *extra])


def _indent(text: str, width: int) -> str:
    return "\n".join(" " * width + l for l in text.rstrip().splitlines())


def make_logger(fmt: str, stream: TextIO = sys.stderr, verbose: bool = False) -> Any:
    """A structlog logger writing ``fmt`` (json | console) to ``stream``; no global configuration."""
    if fmt == "json":
        renderer: Any = structlog.processors.JSONRenderer(default=str)
        shaping = [add_source_location]
    else:
        colour = stream.isatty() and "NO_COLOR" not in os.environ or "FORCE_COLOR" in os.environ
        renderer, shaping = ConsoleView(colour, verbose), []
    processors = [
        add_severity,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        structlog.processors.EventRenamer("message"),
        *shaping,
        drop_empty,
        renderer,
    ]
    return structlog.wrap_logger(structlog.PrintLogger(stream), processors=processors, logger_name="preflight")


def log_report(logger: Any, report: r.Report, starting: bool = False) -> None:
    """One event per check, then a summary; ``starting`` when a server waits on the verdict."""
    for check in report.checks:
        fields = check.to_json()
        fields.pop("kind"), fields.pop("target")
        method = {"ERROR": logger.error, "WARNING": logger.warning}.get(_SEVERITY[check.status], logger.info)
        method(headline(check), kind=check.kind, target=check.target, **fields)
    summary = summarize(report, starting)
    (logger.info if report.ok else logger.error)(
        summary, event_type="summary", ok=report.ok, duration_ms=report.duration_ms,
        counts=report.counts(), mode=report.mode, mode_reason=report.mode_reason, interpreter=report.interpreter,
    )


def headline(check: r.Check) -> str:
    label = f"{check.kind} {check.target}"
    if check.status == r.PASSED:
        took = f" ({check.duration_ms:.0f} ms)" if check.duration_ms is not None else ""
        return f"{label} passed{took}"
    if check.status == r.SKIPPED:
        return f"{label} skipped: {check.message}"
    where = f" at {check.file}:{check.line}" if check.file and check.line else ""
    return f"{label} {check.status}: {check.cause}{where}: {check.message}"


def summarize(report: r.Report, starting: bool = False) -> str:
    total = len(report.checks)
    if report.ok:
        then = "; starting the server" if starting else ""
        return f"preflight: all {total} checks passed in {report.duration_ms:.0f} ms{then}"
    failures = report.failures
    first = failures[0]
    outcome = "; the server was not started" if starting else ""
    return (f"preflight: {len(failures)} of {total} checks failed, first {first.cause} in {first.kind} "
            f"{first.target}{outcome}")
