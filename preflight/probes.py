"""Startup and health probes: ``probe`` reads the gate's verdict, ``serve`` answers it over HTTP.

``probe`` never imports the application: it reads the report ``preflight run`` wrote before it
handed over to the server and, when a port is given, checks the server accepts TCP connections.
``serve`` runs the checks itself and answers ``GET /startup`` and ``GET /healthz`` with 200 when
they all passed, 503 (and the report) while they run or when one failed: for HTTP startup probes,
e.g. a Cloud Run sidecar that the ingress container depends on.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping

from preflight.report import SCHEMA

PROBE_PATHS = ("/startup", "/healthz")
CONNECT_TIMEOUT_SECONDS = 2.0
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@dataclass
class Verdict:
    """What ``probe`` found: healthy or not, and one line saying why."""

    ok: bool
    message: str


def probe(report_path: str, port: int | None = None, host: str = "127.0.0.1") -> Verdict:
    """Healthy when the report at ``report_path`` says ok and, with ``port``, ``host:port`` accepts TCP."""
    try:
        with open(report_path, encoding="utf-8") as handle:
            report = json.load(handle)
    except FileNotFoundError:
        return Verdict(False, f"no report at {report_path}: the gate has not finished its checks, "
                              "or it writes its report elsewhere (set PREFLIGHT_REPORT for both)")
    except (OSError, ValueError) as exc:
        return Verdict(False, f"cannot read the report at {report_path}: {exc}")
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        return Verdict(False, f"{report_path} is not a {SCHEMA} document: point --report or PREFLIGHT_REPORT "
                              "at the report the gate writes")
    if report.get("ok") is not True:
        return Verdict(False, f"the gate's checks failed ({report_path}): {_first_failure(report)}")
    if port is None:
        return Verdict(True, f"checks passed ({report_path})")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        return Verdict(False, f"checks passed, but nothing accepts connections on {host}:{port} "
                              f"({exc.strerror or exc})")
    return Verdict(True, f"checks passed and {host}:{port} accepts connections")


def _first_failure(report: Any) -> str:
    checks = report.get("checks") if isinstance(report, dict) else None
    for check in checks or []:
        if isinstance(check, dict) and check.get("status") in ("failed", "timed_out"):
            where = f" at {check['file']}:{check['line']}" if check.get("file") and check.get("line") else ""
            return f"{check.get('cause')} in {check.get('kind')} {check.get('target')}{where}"
    return "the report is not ok"


class StatusServer:
    """An HTTP server on a thread: 503 ``checking`` until ``publish(report)``, then 200 or 503."""

    def __init__(self, host: str, port: int) -> None:
        self._body = json.dumps({"ok": False, "status": "checking"}).encode()
        self._code = 503
        status = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = self.path.split("?", 1)[0]
                if path in PROBE_PATHS:
                    self._answer(status._code, status._body)
                else:
                    self._answer(404, json.dumps({"error": "not found", "paths": PROBE_PATHS}).encode())

            def _answer(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: stay quiet
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, name="preflight-serve", daemon=True)

    def _serve(self) -> None:
        # Signals go to the main thread only: it kills the checks or shuts this server down.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        self.httpd.serve_forever()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def publish(self, report: Any) -> None:
        """Answer with ``report`` (a ``report.Report``) from now on."""
        self._body = json.dumps(report.to_json()).encode()
        self._code = 200 if report.ok else 503

    def __enter__(self) -> "StatusServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for_stop() -> int:
    """Block until SIGTERM or SIGINT arrives; return its number."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        return signal.sigwait(STOP_SIGNALS)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def port_from(value: int | None, environ: Mapping[str, str] = os.environ) -> int | None:
    """``--port`` when given, else ``$PORT`` when set (0 or empty: no TCP check)."""
    given = value is not None
    if value is None:
        raw = environ.get("PORT", "").strip()
        if not raw:
            return None
        value = int(raw) if raw.isdigit() else -1
    if not 0 <= value <= 65535:
        from preflight.errors import UsageError

        raise UsageError(f"{'--port' if given else 'PORT'} is not a port number from 1 to 65535 (0: no TCP check)",
                         tip="--port 8000, or set PORT to the server's port")
    return value or None
