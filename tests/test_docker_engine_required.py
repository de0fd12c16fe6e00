"""Without a reachable engine the Docker tests skip with the reason; under CI=true they fail instead."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, cli_env


def pytest_without_engine(**extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in cli_env().items() if k != "CI"}
    env.update(DOCKER_HOST="unix:///nonexistent/docker.sock", **extra)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_docker_image.py", "-k", "unknown_image", "-p", "no:cacheprovider",
         "-q", "-rs"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_no_engine_skips_with_the_reason():
    proc = pytest_without_engine()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIPPED" in proc.stdout and "no Docker engine reachable" in proc.stdout


def test_no_engine_under_ci_is_a_failure():
    proc = pytest_without_engine(CI="true")
    assert proc.returncode == 1, proc.stdout
    assert "under CI=true the Docker tests must run, not skip" in proc.stdout
    assert "SKIPPED" not in proc.stdout
