"""``preflight probe`` (reads the gate's report, checks TCP) and ``preflight serve`` over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env, error_event, free_port, run_cli
from dockerfixtures import http_get, wait_until

MARKER_MODULE = """import os
open(os.environ["FIXTURE_MARKER"], "a").write("imported\\n")
"""


def tree(tmp_path: Path, modules: dict[str, str], imports: list[str]) -> Path:
    root = tmp_path / "svc"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    for name, source in modules.items():
        (root / "app" / f"{name}.py").write_text(source)
    (root / "preflight.yaml").write_text("version: 1\nimports:\n" + "".join(f"  - {i}\n" for i in imports))
    return root


def write_report(root: Path, env: dict[str, str]) -> Path:
    report = root / "report.json"
    proc = subprocess.run([sys.executable, "-m", "preflight", "check", "--report", str(report)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)
    assert report.exists(), proc.stderr
    return report


@pytest.fixture
def listening():
    """A TCP server on 127.0.0.1 that accepts connections, as a started server would."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_probe_passes_on_an_ok_report_and_an_open_port_without_importing(tmp_path, listening):
    marker = tmp_path / "imports.log"
    env = cli_env(FIXTURE_MARKER=str(marker))
    root = tree(tmp_path, {"main": MARKER_MODULE}, ["app.main"])
    report = write_report(root, env)
    marker.unlink()  # the check imported app.main; the probe must not

    result = run_cli(["probe", "--report", str(report), "--port", str(listening)], cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert f"checks passed and 127.0.0.1:{listening} accepts connections" in result.stdout
    assert not marker.exists()

    result = run_cli(["probe"], cwd=root, env=cli_env(PREFLIGHT_REPORT=str(report), PORT=str(listening)))
    assert result.returncode == 0 and f":{listening} accepts" in result.stdout  # $PREFLIGHT_REPORT, $PORT


def test_probe_fails_when_the_port_is_closed(tmp_path):
    root = tree(tmp_path, {"main": ""}, ["app.main"])
    report = write_report(root, cli_env())
    closed = free_port()
    result = run_cli(["probe", "--report", str(report)], cwd=root, env=cli_env(PORT=str(closed)))
    assert result.returncode == 1
    assert f"nothing accepts connections on 127.0.0.1:{closed}" in result.stderr
    result = run_cli(["probe", "--report", str(report), "--port", "0"], cwd=root, env=cli_env(PORT=str(closed)))
    assert result.returncode == 0  # --port 0: the report alone


def test_probe_fails_on_a_failed_report_naming_the_cause(tmp_path, listening):
    root = tree(tmp_path, {"main": "import app.gone\n"}, ["app.main"])
    report = write_report(root, cli_env())
    result = run_cli(["probe", "--report", str(report), "--port", str(listening)], cwd=root)
    assert result.returncode == 1
    assert "module_not_found in import app.main at" in result.stderr and "main.py:1" in result.stderr


def test_probe_fails_without_a_report(tmp_path):
    result = run_cli(["probe", "--report", str(tmp_path / "none.json")], cwd=tmp_path)
    assert result.returncode == 1
    assert "no report at" in result.stderr and "PREFLIGHT_REPORT" in result.stderr


def test_probe_only_ever_exits_0_or_1(tmp_path):
    """Docker reserves HEALTHCHECK status 2: bad input fails the probe (1) and says why."""
    report = ["--report", str(tmp_path / "r.json")]
    cases = [(["probe", *report], cli_env(PORT="http"), "PORT is not a port number"),
             (["probe", *report, "--port", "70000"], cli_env(), "--port is not a port number"),
             (["probe", *report, "--port", "http"], cli_env(), "argument --port: invalid int value"),
             (["probe", "--bogus"], cli_env(), "unrecognized arguments: --bogus")]
    for args, env, words in cases:
        result = run_cli(args, cwd=tmp_path, env=env)
        assert result.returncode == 1, (args, result.stderr)
        event = error_event(result.stderr)
        assert event["message"].startswith(words) and event["exit_code"] == 1, (args, event)
        if "PORT" in words:
            assert "http" not in event["message"]  # a variable's value is never printed


class Serving:
    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "preflight", "serve", "--port", str(self.port), "--host", "127.0.0.1",
             "--format", "json", *args],
            cwd=root, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        first = self.proc.stderr.readline()  # the gate says where it listens, then starts the checks
        banner = json.loads(first)  # --format json: every line on stderr is a JSON event
        assert banner["severity"] == "INFO" and banner["message"].startswith("answering GET /startup and /healthz")

    def get(self, path: str) -> tuple[int, dict]:
        status, body = http_get(f"http://127.0.0.1:{self.port}{path}")
        return status, json.loads(body)

    def verdict(self) -> tuple[int, dict]:
        """Poll /startup until the checks are done."""
        return wait_until(lambda: (lambda r: r if r[1].get("status") != "checking" else None)(self.get("/startup")),
                          120, "the checks to finish")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.proc.stderr.close()
        return code


def test_serve_answers_503_while_checking_then_200(tmp_path):
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    blocking = 'import os\nopen(os.environ["FIXTURE_FIFO"]).read()  # held until the test releases it\n'
    root = tree(tmp_path, {"main": blocking}, ["app.main"])
    server = Serving(root, cli_env(FIXTURE_FIFO=str(fifo)))
    try:
        assert server.get("/startup") == (503, {"ok": False, "status": "checking"})
        with open(fifo, "w"):
            pass  # the import reads EOF and finishes
        status, report = server.verdict()
        assert status == 200 and report["ok"] is True and report["schema"] == "preflight/report-v1"
        assert server.get("/healthz") == (200, report)
        assert server.get("/other")[0] == 404
    finally:
        code = server.stop()
    assert code == 0


def test_serve_answers_503_with_the_report_when_a_check_fails(tmp_path):
    root = tree(tmp_path, {"main": "import app.gone\n"}, ["app.main"])
    server = Serving(root, cli_env(), "--report", str(tmp_path / "serve-report.json"))
    try:
        status, report = server.verdict()
        assert status == 503 and report["ok"] is False
        failed = next(c for c in report["checks"] if c["status"] == "failed")
        assert failed["cause"] == "module_not_found" and failed["target"] == "app.main"
        assert json.loads((tmp_path / "serve-report.json").read_text())["ok"] is False
    finally:
        assert server.stop() == 0


def test_serve_needs_a_port(tmp_path):
    root = tree(tmp_path, {"main": ""}, ["app.main"])
    result = run_cli(["serve"], cwd=root)
    assert result.returncode == 2 and "no port to serve on" in result.stderr
