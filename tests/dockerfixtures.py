"""Session fixtures for the Docker tests: an engine, one wheelhouse, the shared runtime layer, case images.

Loaded from ``conftest.py`` (``pytest_plugins``). Every image is built once per session: the runtime
layer (preflight + FastAPI + uvicorn + gunicorn, installed offline from the wheelhouse) once, then
each case under ``tests/docker/<case>/`` is a cheap ``COPY`` on top of it.
Without an engine the tests skip with the reason; under ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import dockerutil

TREES = Path(__file__).parent / "docker"
RUNTIME_TAG = "preflight-test/runtime"  # the tests/docker/*/Dockerfile ARG RUNTIME default
EXTRA_WHEELS = ("fastapi", "uvicorn", "gunicorn")
LABEL = "dev.preflight.test"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A reachable Docker engine: skip without one, fail without one under CI=true."""
    if dockerutil.engine_available():
        return
    reason = "no Docker engine reachable (start one: sudo docker/engine.sh; or set DOCKER_HOST)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI=true the Docker tests must run, not skip", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def wheelhouse(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """preflight's wheel, its dependencies' and the servers', for ``pip install --no-index``."""
    return dockerutil.build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"), *EXTRA_WHEELS)


@pytest.fixture(scope="session")
def runtime_image(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The layer under every case image; dependency wheels and preflight's in separate layers."""
    dockerutil.ensure_base_image()
    context = tmp_path_factory.mktemp("runtime-context")
    shutil.copy(TREES / "runtime" / "Dockerfile", context / "Dockerfile")
    for sub in ("deps", "gate"):
        (context / sub).mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        sub = "gate" if wheel.name.startswith("preflight_gate-") else "deps"
        shutil.copy(wheel, context / sub / wheel.name)
    dockerutil.build_image(context, RUNTIME_TAG)
    return RUNTIME_TAG


@pytest.fixture(scope="session")
def case_image(runtime_image: str):
    """``case_image("healthy")`` -> the tag of ``tests/docker/healthy`` built on the runtime layer."""
    built: dict[str, str] = {}

    def build(case: str) -> str:
        if case not in built:
            tag = f"preflight-test/{case}"
            dockerutil.build_image(TREES / case, tag)
            built[case] = tag
        return built[case]

    return build


@dataclass
class Containers:
    """Containers started by one test, by name; all removed when the test ends."""

    names: list[str] = field(default_factory=list)

    def name(self) -> str:
        name = f"preflight-test-{uuid.uuid4().hex[:10]}"
        self.names.append(name)
        return name

    def cleanup(self) -> None:
        if self.names:
            subprocess.run(["docker", "rm", "-f", *self.names], capture_output=True, timeout=120)


@pytest.fixture
def containers(docker_engine: None):
    tracked = Containers()
    yield tracked
    tracked.cleanup()


def docker(*args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
    """``docker ARGS`` as a user types it; output captured as text."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def inspect(name: str, template: str) -> str:
    return docker("inspect", "-f", template, name).stdout.strip()


def logs(name: str) -> tuple[str, str]:
    proc = docker("logs", name)
    return proc.stdout, proc.stderr


def json_events(text: str) -> list[dict]:
    """Every log line that is a JSON object (the gate's structured events)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def wait_until(condition, deadline_seconds: float, what: str):
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {deadline_seconds:.0f} s")
        time.sleep(0.2)


def http_get(url: str) -> tuple[int, bytes] | None:
    """(status, body) or None when nothing answers yet."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None


def running(name: str) -> bool:
    return inspect(name, "{{.State.Running}}") == "true"
