"""``preflight image IMAGE``: the manifest run inside a container from a real image, reported here."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import cli_env, run_cli
from dockerfixtures import docker, wait_until

pytestmark = pytest.mark.docker

def image_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    result = run_cli(["image", *args, "--report", str(tmp_path / "report.json"), "--format", "json"],
                     cwd=tmp_path, env=env, timeout=300)
    report = tmp_path / "report.json"
    result.report = json.loads(report.read_text()) if report.exists() else None
    return result


def checks(result, kind: str = "image") -> dict[str, dict]:
    return {c["target"]: c for c in result.report["checks"] if c["kind"] == kind}


def leftovers(result) -> list[str]:
    """The containers this run created (named in its image checks) that still exist."""
    created = {c["details"]["container"] for c in result.report["checks"] if "container" in c.get("details", {})}
    assert created, "the report names no container"
    return [c for c in created if docker("inspect", c, check=False).returncode == 0]


def test_healthy_image_passes_with_its_own_workdir_env_and_user(case_image, tmp_path):
    result = image_cli(tmp_path, case_image("healthy"))
    assert result.returncode == 0, result.stderr
    image = checks(result)
    assert {t: c["status"] for t, c in image.items()} == {
        "ENTRYPOINT": "passed", "manifest": "passed", "WORKDIR": "passed", "preflight": "passed"}
    imports = checks(result, "import")
    assert imports["app.main"]["status"] == "passed"
    assert imports["app.main"]["details"]["resolved"] == "/app/app/main.py"  # resolved inside the image
    assert checks(result, "workdir")["/app"]["status"] == "passed"
    assert result.report["interpreter"] == "/venv/bin/python3"
    assert leftovers(result) == []


def test_broken_image_fails_with_the_cause_from_inside(case_image, tmp_path):
    result = image_cli(tmp_path, case_image("circular"))
    assert result.returncode == 1
    failed = checks(result, "import")["app.core.errors_service"]
    assert failed["cause"] == "circular_import" and failed["file"] == "/app/app/core/errors_agent.py"
    event = next(e for e in result.events() if e.get("cause") == "circular_import")
    assert event["severity"] == "ERROR"  # rendered here, as `check` renders it
    assert leftovers(result) == []


def test_checks_run_as_the_images_own_user(case_image, tmp_path):
    result = image_cli(tmp_path, case_image("permission_denied"))
    assert result.returncode == 1
    denied = checks(result, "import")["app.main"]
    assert denied["cause"] == "permission_denied" and "uid 10001" in denied["hint"]  # USER 10001, not root


def test_sigterm_while_the_container_checks_removes_it(case_image, tmp_path):
    image = case_image("hang")  # app.main hangs at import; the manifest allows it 300 s
    proc = subprocess.Popen([sys.executable, "-m", "preflight", "image", image, "--format", "json"], cwd=tmp_path,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ours = ["ps", "-a", "-q", "--filter", "label=dev.preflight.image-check", "--filter", f"ancestor={image}"]
    try:
        created = wait_until(lambda: docker(*ours).stdout.split(), 120, "the check container")
        wait_until(lambda: docker("top", created[0], check=False).stdout.count("\n") > 2, 120,
                   "the checks inside it")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in err
    assert [c for c in created if docker("inspect", c, check=False).returncode == 0] == []


def test_image_config_mistakes_are_reported(case_image, tmp_path):
    result = image_cli(tmp_path, case_image("shell_form"))
    image = checks(result)
    assert image["ENTRYPOINT"]["status"] == "warned"
    assert image["ENTRYPOINT"]["cause"] == "shell_form_entrypoint"
    assert "SIGTERM never reaches the server" in image["ENTRYPOINT"]["message"]
    assert image["WORKDIR"]["cause"] == "workdir_mismatch" and "/srv" in image["WORKDIR"]["message"]
    assert "WORKDIR /app" in image["WORKDIR"]["hint"]
    assert checks(result, "workdir")["/app"]["cause"] == "workdir_mismatch"  # and the gate inside agrees
    assert result.returncode == 1


def test_the_images_server_command_is_what_the_checks_follow(case_image, tmp_path):
    """CMD runs python with -W error: the import that only warns elsewhere fails inside, as the start
    would; a CMD that is not in the image is named, as `run` would exit 127 on it."""
    result = image_cli(tmp_path, case_image("cmd_options"))
    assert result.returncode == 1
    failed = checks(result, "import")["app.main"]
    assert failed["cause"] == "import_error" and failed["file"] == "/app/app/legacy.py"
    assert result.report["interpreter_options"] == ["-W", "error::DeprecationWarning"]
    assert result.report["interpreter"] == "/venv/bin/python3"
    assert leftovers(result) == []

    missing = image_cli(tmp_path, case_image("cmd_missing"))
    assert missing.returncode == 1
    cmd = checks(missing)["CMD"]
    assert cmd["cause"] == "cmd_not_runnable" and "hypercorn" in cmd["message"] and "127" in cmd["message"]
    assert leftovers(missing) == []


def test_manifest_missing_from_the_image(case_image, tmp_path):
    result = image_cli(tmp_path, case_image("healthy"), "-e", "PREFLIGHT_MANIFEST=/etc/none.yaml")
    assert result.returncode == 1
    missing = checks(result)["manifest"]
    assert missing["cause"] == "manifest_missing" and "/etc/none.yaml" in missing["message"]
    assert leftovers(result) == []


def test_preflight_not_installed_in_the_image(case_image, tmp_path):
    result = image_cli(tmp_path, case_image("no_gate"))
    assert result.returncode == 1
    image = checks(result)
    assert image["preflight"]["cause"] == "preflight_missing" and "pip install" in image["preflight"]["hint"]
    assert image["gate"]["cause"] == "gate_not_in_entrypoint"
    assert leftovers(result) == []


def test_local_manifest_and_env_overrides(case_image, tmp_path):
    manifest = tmp_path / "strict.yaml"
    manifest.write_text("version: 1\nenv:\n  required: [DATABASE_URL]\nimports:\n  - app.main\n")
    without = image_cli(tmp_path, case_image("healthy"), "--manifest", str(manifest))
    assert without.returncode == 1
    assert checks(without, "env")["DATABASE_URL"]["cause"] == "env_missing"

    secret = "canary-value-never-printed"
    env = cli_env(DATABASE_URL=secret)
    passed = image_cli(tmp_path, case_image("healthy"), "--manifest", str(manifest), "-e", "DATABASE_URL", env=env)
    assert passed.returncode == 0, passed.stderr
    assert checks(passed, "env")["DATABASE_URL"]["status"] == "passed"
    assert secret not in passed.stderr + passed.stdout + (tmp_path / "report.json").read_text()
    assert leftovers(without) == [] and leftovers(passed) == []


def test_bad_local_manifest_exits_2_naming_the_file(case_image, tmp_path):
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("version: 1\nimports: []\n")
    result = image_cli(tmp_path, case_image("healthy"), "--manifest", str(manifest))
    assert result.returncode == 2
    assert str(manifest) in result.stderr and "imports" in result.stderr


def test_unknown_image_exits_2(docker_engine, tmp_path):
    result = image_cli(tmp_path, "preflight-test/no-such-image:never")
    assert result.returncode == 2
    assert "no image 'preflight-test/no-such-image:never'" in result.stderr and "docker build" in result.stderr


@pytest.mark.skipif(not os.path.exists("/var/run/docker.sock") or "DOCKER_HOST" in os.environ,
                    reason="needs the local engine's socket to forward to")
def test_docker_host_is_honoured(case_image, tmp_path):
    """A TCP endpoint that forwards to the local engine, as a remote engine would be reached."""
    image = case_image("healthy")
    with _forwarder("/var/run/docker.sock") as port:
        result = image_cli(tmp_path, image, env=cli_env(DOCKER_HOST=f"tcp://127.0.0.1:{port}"))
    assert result.returncode == 0, result.stderr
    assert checks(result)["preflight"]["status"] == "passed"


class _forwarder:
    """127.0.0.1:PORT -> a unix socket, one thread per direction; closed on exit."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()

    def __enter__(self) -> int:
        threading.Thread(target=self._accept, daemon=True).start()
        return self.server.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:  # both directions end: each socket is shut down and closed (by both pipes; twice is harmless)
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
