"""Shared fixtures: copy a fixture tree, run the real CLI in a real subprocess, read its report."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockerfixtures import case_image, containers, docker_engine, runtime_image, wheelhouse  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    report: dict | None

    def check(self, target: str, kind: str = "import") -> dict:
        assert self.report is not None, self.stderr
        for check in self.report["checks"]:
            if check["target"] == target and check["kind"] == kind:
                return check
        raise AssertionError(f"no {kind} check for {target}: {[c['target'] for c in self.report['checks']]}")

    def events(self) -> list[dict]:
        return events(self.stderr)


def events(stderr: str) -> list[dict]:
    """The JSON log events in ``stderr``; every line of it must be one (tests never run on a terminal)."""
    return [json.loads(line) for line in stderr.splitlines()]


def error_event(stderr: str) -> dict:
    """The one ERROR event a command that failed before checking logs."""
    errors = [e for e in events(stderr) if e["severity"] == "ERROR"]
    assert len(errors) == 1, stderr
    return errors[0]


def cli_env(**extra: str) -> dict[str, str]:
    # pytest's own bookkeeping (the test's name) is no variable of the environment under test
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFLIGHT_") and k != "PYTEST_CURRENT_TEST"}
    env.update(extra)
    return env


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
            report: bool = True, prefix: list[str] | None = None) -> Result:
    """``python -m preflight ARGS`` in ``cwd``; with ``report`` the report-v1 file is read back."""
    report_path = cwd / ".test-report.json"
    if report_path.exists():
        report_path.unlink()
    command = [*(prefix or []), sys.executable, "-m", "preflight", *args]
    if report and args and args[0] in ("check", "run"):
        command[len(prefix or []) + 4:len(prefix or []) + 4] = ["--report", str(report_path)]
    proc = subprocess.run(command, cwd=cwd, env=env or cli_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    data = json.loads(report_path.read_text()) if report_path.exists() else None
    return Result(proc.returncode, proc.stdout, proc.stderr, data)


@pytest.fixture
def fixture_tree(tmp_path: Path):
    """Copy ``tests/fixtures/NAME`` into a fresh directory and return its path."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / name, target)
        return target

    return copy


def service_tree(root: Path, files: dict[str, str], modules: list[str]) -> Path:
    """Write ``files`` (dedented) under ``root`` with a manifest importing ``modules``."""
    for rel, text in {**files, "preflight.yaml": f"version: 1\nimports: [{', '.join(modules)}]\n"}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def inheriting(ignored: list[int], blocked: list[int]) -> list[str]:
    """A command prefix that starts the rest with ``ignored`` signals ignored (``nohup``, ``trap ''``)
    and ``blocked`` ones blocked, every other disposition the default (this launcher's Python's undone)."""
    code = ("import os, signal, sys\n"
            "for s in (signal.SIGPIPE, signal.SIGXFSZ): signal.signal(s, signal.SIG_DFL)\n"
            f"for s in {[int(s) for s in ignored]}: signal.signal(s, signal.SIG_IGN)\n"
            f"signal.pthread_sigmask(signal.SIG_BLOCK, {[int(s) for s in blocked]})\n"
            "os.execvp(sys.argv[1], sys.argv[1:])\n")
    return [sys.executable, "-c", code]


def signal_masks(status: str) -> dict[str, int]:
    """``{"SigBlk": mask, "SigIgn": mask}`` from the text of a /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in status.splitlines() if line.startswith(("SigBlk:", "SigIgn:")))
    return {name: int(value, 16) for name, value in fields.items()}
