"""The gate as a container's ENTRYPOINT, with a real engine: docker run, docker stop, docker logs."""

from __future__ import annotations

import subprocess

import pytest

from conftest import free_port
from dockerfixtures import docker, http_get, inspect, json_events, logs, running, wait_until

pytestmark = pytest.mark.docker

STOP_TIMEOUT = "30"  # seconds docker waits after SIGTERM before SIGKILL (exit 137)


def serve(containers, image: str, *command: str) -> tuple[str, str]:
    """``docker run -d -p 127.0.0.1:PORT:8000 IMAGE [CMD]``; wait for HTTP 200; return (name, url)."""
    name, port = containers.name(), free_port()
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", image, *command)
    url = f"http://127.0.0.1:{port}/"

    def answered():
        if not running(name):
            raise AssertionError(f"{name} exited:\n" + "\n".join(logs(name)))
        return http_get(url)

    status, body = wait_until(answered, 120, f"HTTP from {image}")
    assert status == 200, body
    return name, url


def pid1_argv(name: str) -> list[str]:
    return docker("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")[:-1]


def test_healthy_service_answers_runs_as_pid1_and_stops_gracefully(case_image, containers):
    name, url = serve(containers, case_image("healthy"))
    assert http_get(url) == (200, b'{"status":"ok","error_type":"ServiceError"}')

    argv = pid1_argv(name)
    assert argv[0].endswith("python3") and argv[1] == "/venv/bin/uvicorn", argv  # the server, via its shebang
    assert argv[2:] == ["app.main:app", "--host", "0.0.0.0", "--port", "8000"]  # argv untouched
    assert not any("preflight" in a for a in argv)

    out, err = logs(name)
    summary = [e for e in json_events(err) if e.get("event_type") == "summary"]
    assert summary and summary[0]["ok"] is True and "starting the server" in summary[0]["message"]

    docker("stop", "-t", STOP_TIMEOUT, name, timeout=120)
    assert inspect(name, "{{.State.ExitCode}}") == "0"  # SIGTERM handled by uvicorn; 137 would be SIGKILL
    out, err = logs(name)
    assert "Finished server process [1]" in out + err


def test_gunicorn_with_uvicorn_workers_behind_the_gate(case_image, containers):
    command = ("gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2", "-b", "0.0.0.0:8000",
               "--graceful-timeout", "10", "app.main:app")
    name, url = serve(containers, case_image("healthy"), *command)
    argv = pid1_argv(name)
    assert argv[1] == "/venv/bin/gunicorn" and argv[2:] == list(command[1:]), argv

    docker("stop", "-t", STOP_TIMEOUT, name, timeout=120)
    assert inspect(name, "{{.State.ExitCode}}") == "0"
    out, err = logs(name)
    assert "Shutting down: Master" in out + err


def test_the_gate_reaps_what_the_checks_left_before_the_server_takes_pid1(case_image, containers):
    # app.metrics starts `sleep 600` at import: once in each check, once in the server itself.
    name, _ = serve(containers, case_image("spawner"))
    table = docker("exec", name, "python3", "-c", (
        "import os\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    stat = open(f'/proc/{pid}/stat').read()\n"
        "    comm, rest = stat[stat.index('(') + 1:stat.rindex(')')], stat[stat.rindex(')') + 2:].split()\n"
        "    print(pid, comm, rest[0], rest[1])\n"
    )).stdout
    processes = [line.split() for line in table.splitlines()]
    assert not [p for p in processes if p[2] == "Z"], f"zombies left under the server:\n{table}"
    sleeps = [p for p in processes if p[1] == "sleep"]
    assert [(p[2], p[3]) for p in sleeps] == [("S", "1")], f"only the server's own helper may run:\n{table}"


BROKEN = [
    # case, failing import, cause, file, line (None: the cause has no line of its own)
    ("dockerignore", "app.main", "module_not_found", "/app/app/main.py", 4),
    ("circular", "app.core.errors_service", "circular_import", "/app/app/core/errors_agent.py", 5),
    ("name_error", "app.main", "name_error", "/app/app/main.py", 5),
    ("distribution_missing", "app.main", "distribution_missing", "/app/app/cache.py", 1),
    ("permission_denied", "app.main", "permission_denied", "/app/app/settings.py", None),
    ("workdir_drift", "app.main", "not_on_sys_path", None, None),
]


@pytest.mark.parametrize("case,target,cause,file,line", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_image_exits_before_listening_with_one_json_line(case_image, containers, case, target, cause,
                                                                 file, line):
    name, port = containers.name(), free_port()
    proc = subprocess.run(["docker", "run", "--name", name, "-p", f"127.0.0.1:{port}:8000", case_image(case)],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    out, err = logs(name)
    assert out == ""  # nothing from a server: it never started
    lines = err.splitlines()
    assert all(line.startswith("{") and line.endswith("}") for line in lines), err  # JSON lines only

    events = json_events(err)
    failed = [e for e in events if e.get("target") == target and e.get("kind") == "import"]
    assert len(failed) == 1, events
    event = failed[0]
    assert event["severity"] == "ERROR" and event["cause"] == cause
    assert event["message"] and event["hint"]
    assert "Traceback" in event["stack_trace"] or "Error" in event["stack_trace"]
    assert event.get("file") == file and event.get("line") == line
    summary = events[-1]
    assert summary["event_type"] == "summary" and "the server was not started" in summary["message"]
    assert inspect(name, "{{.State.ExitCode}}") == "1"


def test_workdir_drift_names_where_the_code_is(case_image, containers):
    name = containers.name()
    subprocess.run(["docker", "run", "--name", name, case_image("workdir_drift")], capture_output=True,
                   timeout=300, stdin=subprocess.DEVNULL)
    event = next(e for e in json_events(logs(name)[1]) if e.get("cause") == "not_on_sys_path")
    assert "/srv/service/app" in event["hint"] and "PYTHONPATH=/srv/service" in event["hint"], event["hint"]


def test_docker_stop_while_an_import_hangs_exits_143_at_once(case_image, containers):
    # The manifest gives app.main 300 s; docker stop gives the container 30 s before SIGKILL.
    name = containers.name()
    docker("run", "-d", "--name", name, case_image("hang"))

    def checking():
        if not running(name):
            raise AssertionError("the gate exited on its own:\n" + "\n".join(logs(name)))
        return len(docker("top", name).stdout.splitlines()) > 2  # header, the gate, its checks

    wait_until(checking, 120, "the gate's check processes")
    docker("stop", "-t", STOP_TIMEOUT, name, timeout=120)
    assert inspect(name, "{{.State.ExitCode}}") == "143"  # the gate's own SIGTERM exit, not docker's SIGKILL
    out, err = logs(name)
    assert "interrupted by SIGTERM: checks killed, nothing started" in err
    assert "Uvicorn running" not in out + err
    assert inspect(name, "{{.State.Status}}") == "exited"
