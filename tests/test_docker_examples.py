"""Dockerfile.example built and run for real (offline), and the deploy YAMLs checked against the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, cli_env, free_port
from dockerfixtures import TREES, docker, http_get, inspect, json_events, logs, running, wait_until
from preflight.cli import build_parser
from preflight.probes import PROBE_PATHS

EXAMPLE_TAG = "preflight-test/example"
REQUIREMENTS = "preflight-gate\nfastapi\nuvicorn\n"


def build_example(wheelhouse: Path, tree: Path, context: Path, tag: str) -> str:
    """The user's steps: Dockerfile.example next to requirements.txt, preflight.yaml and app/."""
    context.mkdir()
    shutil.copy(REPO / "Dockerfile.example", context / "Dockerfile")
    (context / "requirements.txt").write_text(REQUIREMENTS)
    shutil.copy(tree / "preflight.yaml", context / "preflight.yaml")
    shutil.copytree(tree / "app", context / "app")
    shutil.copytree(wheelhouse, context / "wheels")
    proc = subprocess.run(
        ["docker", "build", "-t", tag,
         "--build-arg", "PYTHON_IMAGE=preflight-base:bookworm",  # no registry here: the local base
         "--build-arg", "PIP_INSTALL_OPTIONS=--no-index --find-links /build", str(context)],
        capture_output=True, text=True, timeout=900, env={**os.environ, "DOCKER_BUILDKIT": "0"},
        stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return tag


@pytest.fixture(scope="session")
def example_image(wheelhouse, runtime_image, tmp_path_factory) -> str:
    # runtime_image: the base image exists by then (and the wheelhouse is shared).
    return build_example(wheelhouse, TREES / "healthy", tmp_path_factory.mktemp("example") / "ctx", EXAMPLE_TAG)


def parses(argv: list[str]) -> object:
    """``argv`` is a command preflight's own CLI accepts (it exits 2 otherwise)."""
    assert argv[0] == "preflight", argv
    return build_parser().parse_args(argv[1:])


@pytest.mark.docker
def test_dockerfile_example_runs_healthy_as_non_root(example_image, containers):
    config = json.loads(inspect(example_image, "{{json .Config}}"))
    assert config["Entrypoint"] == ["preflight", "run", "--"]
    assert config["Cmd"][0] == "uvicorn"
    assert config["User"] not in ("", "root", "0")
    assert config["User"].split(":")[0].isdigit()  # Kubernetes' runAsNonRoot refuses a user name
    assert config["Healthcheck"]["Test"] == ["CMD", "preflight", "probe"]
    parses(config["Healthcheck"]["Test"][1:])

    name, port = containers.name(), free_port()
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", "--health-interval", "1s", example_image)

    def healthy():
        if not running(name):
            raise AssertionError("\n".join(logs(name)))
        return inspect(name, "{{.State.Health.Status}}") == "healthy"

    wait_until(healthy, 180, "HEALTHCHECK `preflight probe` to pass")
    assert http_get(f"http://127.0.0.1:{port}/")[0] == 200
    uid = docker("exec", name, "python3", "-c", "import os; print(os.getuid())").stdout.strip()
    assert uid == "10001"
    assert docker("exec", name, "preflight", "probe", check=False).returncode == 0
    # `preflight validate` at build cached the manifest for this user: a start skips pydantic and YAML
    profiled = docker("exec", name, "python3", "-X", "importtime", "-m", "preflight", "check", check=False)
    assert profiled.returncode == 0, profiled.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in profiled.stderr.splitlines() if line.startswith("import time:")}
    assert "preflight.cli" in imported and not {"pydantic", "yaml"} & imported
    assert docker("exec", name, "preflight", "probe", "--port", "9", check=False).returncode == 1

    docker("stop", "-t", "30", name, timeout=120)
    assert inspect(name, "{{.State.ExitCode}}") == "0"


@pytest.mark.docker
def test_dockerfile_example_with_a_broken_app_explains_it_in_one_log_line(example_image, wheelhouse, tmp_path,
                                                                           containers):
    tag = build_example(wheelhouse, TREES / "name_error", tmp_path / "ctx", "preflight-test/example-broken")
    name = containers.name()
    proc = subprocess.run(["docker", "run", "--name", name, tag], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    out, err = logs(name)
    errors = [e for e in json_events(err) if e["severity"] == "ERROR" and e.get("event_type") != "summary"]
    assert len(errors) == 1
    assert errors[0]["cause"] == "name_error" and errors[0]["file"] == "/app/app/main.py"
    assert "missing `import logging`?" in errors[0]["hint"]


@pytest.mark.docker
def test_cloud_run_sidecar_command_serves_startup_from_the_same_image(example_image, containers):
    sidecar = _cloudrun()[1]["spec"]["template"]["spec"]["containers"][1]
    name, port = containers.name(), free_port()
    probe_port = sidecar["startupProbe"]["httpGet"]["port"]
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{probe_port}",
           "--entrypoint", sidecar["command"][0], example_image, *sidecar["args"])
    path = sidecar["startupProbe"]["httpGet"]["path"]
    status, body = wait_until(lambda: _answer(f"http://127.0.0.1:{port}{path}"), 120, "the sidecar's verdict")
    assert status == 200 and json.loads(body)["ok"] is True
    docker("stop", "-t", "30", name, timeout=120)
    assert inspect(name, "{{.State.ExitCode}}") == "0"


def _answer(url: str):
    got = http_get(url)
    return got if got and b'"checking"' not in got[1] else None


def _cloudrun() -> list[dict]:
    return list(yaml.safe_load_all((REPO / "deploy" / "cloudrun-service.yaml").read_text()))


def test_kubernetes_startup_probe_is_a_real_probe_command_with_a_timeout():
    (deployment,) = yaml.safe_load_all((REPO / "deploy" / "kubernetes.yaml").read_text())
    assert deployment["kind"] == "Deployment"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    probe = container["startupProbe"]
    assert probe["timeoutSeconds"] >= 2  # explicit: the default 1 s is too short for an interpreter
    args = parses(probe["exec"]["command"])
    assert args.command == "probe"
    assert str(args.port) == str(container["ports"][0]["containerPort"])
    assert {"name": "PREFLIGHT_REPORT", "value": "/tmp/preflight-report.json"} in container["env"]


def test_kubernetes_probe_command_against_a_real_report(tmp_path):
    """The exact command from the YAML, run as the kubelet would, before and after the gate's report."""
    (deployment,) = yaml.safe_load_all((REPO / "deploy" / "kubernetes.yaml").read_text())
    command = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]["exec"]["command"]
    report = tmp_path / "report.json"
    env = cli_env(PREFLIGHT_REPORT=str(report))
    run = lambda: subprocess.run([sys.executable, "-m", *command], env=env, capture_output=True, text=True,
                                 timeout=60, cwd=tmp_path)
    first = run()
    assert first.returncode == 1 and f"no report at {report}" in first.stderr  # still starting
    report.write_text(json.dumps({"schema": "preflight/report-v1", "ok": False, "checks": [
        {"kind": "import", "target": "app.main", "status": "failed", "cause": "name_error"}]}))
    failed = run()
    assert failed.returncode == 1 and "name_error in import app.main" in failed.stderr


def test_cloud_run_both_patterns():
    gate, sidecar = _cloudrun()
    assert gate["kind"] == sidecar["kind"] == "Service"

    (ingress,) = gate["spec"]["template"]["spec"]["containers"]
    assert "command" not in ingress  # the image's ENTRYPOINT: the gate
    assert ingress["startupProbe"]["tcpSocket"]["port"] == ingress["ports"][0]["containerPort"]
    assert ingress["startupProbe"]["timeoutSeconds"] >= 1

    template = sidecar["spec"]["template"]
    app, checks = template["spec"]["containers"]
    dependencies = json.loads(template["metadata"]["annotations"]["run.googleapis.com/container-dependencies"])
    assert dependencies == {app["name"]: [checks["name"]]}
    assert "ports" not in checks and app["ports"][0]["containerPort"] == 8000
    args = parses(checks["command"] + checks["args"])
    assert args.command == "serve"
    assert checks["startupProbe"]["httpGet"]["port"] == args.port
    assert checks["startupProbe"]["httpGet"]["path"] in PROBE_PATHS
    assert checks["env"] == app["env"]  # the checks see what the server will
