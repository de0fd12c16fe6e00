"""The structured log: one event per check and a summary, as JSON lines or a readable console view.

JSON fields follow what Cloud Logging reads from a container's stderr: ``severity``, ``message``,
``logging.googleapis.com/sourceLocation``; the whole traceback travels in one ``stack_trace`` field
so that a failure stays one log entry (and Error Reporting picks it up).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, TextIO

from preflight import report as r


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


def add_time(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """``time``: ISO 8601 in UTC with microseconds, ``2026-11-23T22:45:42.126885Z``."""
    now = time.time()
    event_dict["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    return event_dict


def rename_event(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The headline travels as ``message``, the field Cloud Logging shows."""
    event_dict["message"] = event_dict.pop("event")
    return event_dict


def render_json(logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
    return json.dumps(event_dict, default=str)


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


def processors(fmt: str, stream: TextIO, verbose: bool = False) -> list[Callable[..., Any]]:
    """The pipeline for ``fmt`` (json | console), the renderer last."""
    if fmt == "json":
        return [add_severity, add_time, rename_event, add_source_location, drop_empty, render_json]
    colour = stream.isatty() and "NO_COLOR" not in os.environ or "FORCE_COLOR" in os.environ
    return [add_severity, add_time, rename_event, drop_empty, ConsoleView(colour, verbose)]


def make_logger(fmt: str, stream: TextIO = sys.stderr, verbose: bool = False, lean: bool = False) -> Any:
    """A logger writing ``fmt`` to ``stream`` through ``processors``; no global configuration.

    structlog drives it, except with ``lean`` (a start where every check passed, which a server
    waits on): then ``LineLogger`` runs the same processors without importing structlog (~50 ms:
    its package imports asyncio and logging)."""
    chain = processors(fmt, stream, verbose)
    if lean:
        return LineLogger(stream, chain)
    structlog = _import_structlog()
    return structlog.wrap_logger(structlog.PrintLogger(stream), processors=chain, logger_name=LOGGER_NAME)


LOGGER_NAME = "preflight"


class LineLogger:
    """What ``structlog.wrap_logger(PrintLogger(stream), processors, logger_name=...)`` does for the
    methods preflight calls: build the event dict, run the processors, print the line."""

    def __init__(self, stream: TextIO, chain: list[Callable[..., Any]]) -> None:
        self.stream = stream
        self.chain = chain

    def _log(self, method_name: str, event: str, fields: dict[str, Any]) -> None:
        event_dict: Any = {"logger_name": LOGGER_NAME, **fields, "event": event}
        for processor in self.chain:
            event_dict = processor(None, method_name, event_dict)
        print(event_dict, file=self.stream, flush=True)

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, fields)


def say(requested_format: str | None, severity: str, message: str, console: str, stream: TextIO | None = None,
        **fields: Any) -> None:
    """One line of preflight's own (an error, an interruption, a banner): ``console`` as it stands in the
    console view, else one JSON event through the processors of every check event. Needs no structlog."""
    stream = stream or sys.stderr
    if choose_format(requested_format, stream) == "console":
        print(console, file=stream, flush=True)
    else:
        LineLogger(stream, processors("json", stream))._log(severity.lower(), message, fields)


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
        skipped = sum(c.status == r.SKIPPED for c in report.checks)  # a command whose own imports were not checked
        ran = f"all {total - skipped} checks passed ({skipped} skipped)" if skipped else f"all {total} checks passed"
        return f"preflight: {ran} in {report.duration_ms:.0f} ms{then}"
    failures = report.failures
    first = failures[0]
    outcome = "; the server was not started" if starting else ""
    return (f"preflight: {len(failures)} of {total} checks failed, first {first.cause} in {first.kind} "
            f"{first.target}{outcome}")
