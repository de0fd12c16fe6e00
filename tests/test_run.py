"""``preflight run``: the server it execs is exactly what it would be without the gate."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import alive, cli_env, free_port, inheriting, run_cli, signal_masks

GATE = [sys.executable, "-m", "preflight"]


def test_exec_keeps_pid_argv_env_stdin_and_clean_fds_and_signals(fixture_tree):
    tree = fixture_tree("server_probe")
    argv = [sys.executable, "describe_self.py", "--flag", "two words", "--", "x"]
    proc = subprocess.Popen([*GATE, "run", "--", *argv], cwd=tree, env=cli_env(FIXTURE_MARK="m-1"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate("from stdin", timeout=60)
    assert proc.returncode == 0, err
    seen = json.loads(out)
    assert seen["pid"] == proc.pid
    assert seen["argv"] == argv[1:]
    assert seen["env"]["FIXTURE_MARK"] == "m-1" and seen["env"]["PATH"] == os.environ["PATH"]
    assert seen["stdin"] == "from stdin"
    assert seen["fds"][:3] == [0, 1, 2] and len(seen["fds"]) == 4  # the 4th is listdir's own
    bare = subprocess.run(argv, cwd=tree, env=cli_env(FIXTURE_MARK="m-1"), input="", capture_output=True,
                          text=True, check=True)
    without_gate = json.loads(bare.stdout)
    assert (seen["sig_ignored"], seen["sig_blocked"]) == (without_gate["sig_ignored"], without_gate["sig_blocked"])
    shell = subprocess.run([*GATE, "run", "--", "sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"],
                           cwd=tree, env=cli_env(), capture_output=True, text=True, check=True)
    assert shell.stdout.split() == ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16]  # nothing Python set survives
    assert "starting the server" in err


INHERITED_IGNORED = [signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGTERM, signal.SIGCHLD]


@pytest.mark.parametrize("mode", ["fresh", "zygote"])
def test_the_server_gets_the_signal_state_the_gate_was_started_with(fixture_tree, mode):
    """``nohup`` or ``trap ''`` leave signals ignored, a supervisor may leave some blocked: the server
    gets them as it would without the gate, not reset to the default (the checks still run)."""
    tree = fixture_tree("server_probe")
    prefix = inheriting(INHERITED_IGNORED, [signal.SIGUSR2])
    shell = ["cat", "/proc/self/status"]
    gated = subprocess.run([*prefix, *GATE, "run", "--mode", mode, "--", *shell], cwd=tree, env=cli_env(),
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert gated.returncode == 0, gated.stderr
    assert '"status": "passed"' in gated.stderr and '"ok": true' in gated.stderr
    bare = subprocess.run([*prefix, *shell], capture_output=True, text=True, check=True)
    expected = {"SigBlk": 1 << (signal.SIGUSR2 - 1), "SigIgn": sum(1 << (s - 1) for s in INHERITED_IGNORED)}
    assert signal_masks(gated.stdout) == signal_masks(bare.stdout) == expected
    python_server = [sys.executable, "describe_self.py"]
    gated = subprocess.run([*prefix, *GATE, "run", "--mode", mode, "--", *python_server], cwd=tree, env=cli_env(),
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
    bare = subprocess.run([*prefix, *python_server], cwd=tree, capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL)
    seen, without_gate = json.loads(gated.stdout), json.loads(bare.stdout)
    assert (seen["sig_ignored"], seen["sig_blocked"]) == (without_gate["sig_ignored"], without_gate["sig_blocked"])


def test_failing_check_never_starts_the_server(fixture_tree):
    tree = fixture_tree("module_not_found")
    marker = tree / "server-started"
    script = f"open({str(marker)!r}, 'w').close()"
    result = run_cli(["run", "--", sys.executable, "-c", script], tree)
    assert result.returncode == 1
    assert not marker.exists()
    assert result.report["ok"] is False
    assert "the server was not started" in result.events()[-1]["message"]


def test_server_exit_status_is_carried(fixture_tree):
    tree = fixture_tree("server_probe")
    result = run_cli(["run", "--", sys.executable, "-c", "raise SystemExit(7)"], tree)
    assert result.returncode == 7


def test_missing_command_exits_127_without_checking(fixture_tree):
    result = run_cli(["run", "--", "no-such-server-binary"], fixture_tree("server_probe"))
    assert result.returncode == 127
    assert "command not found: 'no-such-server-binary'" in result.stderr
    assert result.report is None


@pytest.mark.parametrize("how", ["./script.sh", "on PATH"])
def test_a_command_that_is_not_executable_exits_126_without_checking(fixture_tree, how):
    """As the shell does: a file without execute permission is 126 and says so, not "not found"."""
    tree = fixture_tree("server_probe")
    bin_dir = tree / "bin"
    bin_dir.mkdir()
    script = (tree if how == "./script.sh" else bin_dir) / "script.sh"
    script.write_text("#!/bin/sh\necho started\n")
    script.chmod(0o644)
    env = cli_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = run_cli(["run", "--", "./script.sh" if how == "./script.sh" else "script.sh"], tree, env=env)
    assert result.returncode == 126
    assert f"command not executable: {'./script.sh' if how == './script.sh' else script} has no execute" \
        in result.stderr
    assert "chmod +x" in result.stderr and "started" not in result.stdout
    assert result.report is None
    bash = subprocess.run(["bash", "-c", "./script.sh" if how == "./script.sh" else "script.sh"], cwd=tree,
                          env=env, capture_output=True)
    assert bash.returncode == 126  # what bash says too (and execvp: EACCES)


def test_manifest_from_environment_then_default_file(fixture_tree, tmp_path):
    tree = fixture_tree("server_probe")
    (tree / "preflight.yaml").rename(tree / "gate.yaml")
    missing = run_cli(["check"], tree)
    assert missing.returncode == 2 and "manifest not found: preflight.yaml" in missing.stderr
    from_env = run_cli(["check"], tree, env=cli_env(PREFLIGHT_MANIFEST=str(tree / "gate.yaml")))
    assert from_env.returncode == 0, from_env.stderr


@pytest.mark.parametrize("launcher", ["shebang", "pip's sh launcher, a space in the path"])
def test_checks_use_the_interpreter_the_script_names(fixture_tree, tmp_path, launcher):
    venv = tmp_path / ("venvs" if launcher == "shebang" else "my venvs") / "svc"  # a shebang cannot hold a space
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    tree = fixture_tree("server_probe")
    script = tree / "my-server"  # beside the code: Python puts a script's directory first on sys.path
    head = f"#!{venv}/bin/python\n" if launcher == "shebang" else (
        f"#!/bin/sh\n'''exec' \"{venv}/bin/python\" \"$0\" \"$@\"\n' '''\n")
    script.write_text(head + "import sys\nprint(sys.prefix)\n")
    script.chmod(0o755)
    result = run_cli(["run", "--", str(script)], tree)
    assert result.returncode == 0, result.stderr
    assert result.report["interpreter"] == f"{venv}/bin/python"
    assert result.stdout.strip() == str(venv)


def _wait_for_line(proc: subprocess.Popen, needle: str, deadline: float) -> str:
    """Read the server's stderr until ``needle`` appears (an event, not a sleep). The pipe is read
    directly: a buffered readline() can pull the awaited line into a buffer select() cannot see."""
    fd = proc.stderr.fileno()
    output = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        output += chunk
        if needle.encode() in output:
            return output.decode()
    seen = output.decode(errors="replace")
    raise AssertionError(f"{needle!r} never appeared; output so far:\n{seen}")


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_real_server_behind_the_gate_serves_and_stops_gracefully(fixture_tree, server):
    tree = fixture_tree("healthy")
    port = free_port()
    command = {
        "uvicorn": ["uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
        "gunicorn": ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "1",
                     "-b", f"127.0.0.1:{port}", "app.main:app"],
    }[server]
    ready = {"uvicorn": "Uvicorn running on", "gunicorn": "Application startup complete"}[server]
    proc = subprocess.Popen([*GATE, "run", "--", *command], cwd=tree, env=cli_env(), text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        log = _wait_for_line(proc, ready, time.monotonic() + 60)
        assert '"event_type": "summary", "ok": true' in log
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read())["status"] == "ok"
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert any(server.encode() in part for part in cmdline)  # the gate's PID is the server now
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    # uvicorn re-raises the SIGTERM it handled once shut down; gunicorn exits 0. Same as without the gate.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Shutting down" in rest or "Handling signal: term" in rest
    assert "Finished server process" in rest or "Shutting down: Master" in rest


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_checking_kills_checks_and_exits(fixture_tree, tmp_path, signum):
    tree = fixture_tree("timeout")
    (tree / "preflight.yaml").write_text("version: 1\nimports:\n  - module: app.slow\n    timeout: 120\n")
    pids = tmp_path / "pids"
    marker = tree / "server-started"
    proc = subprocess.Popen([*GATE, "run", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
                            cwd=tree, env=cli_env(FIXTURE_PIDS=str(pids)), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text().endswith("\n")):  # the hanging import has started
        assert time.monotonic() < deadline and proc.poll() is None, "the check never started"
        select.select([], [], [], 0.02)
    started = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signum
    assert time.monotonic() - started < 10  # far inside the 120 s import timeout
    event = json.loads(err)  # one JSON event, found by `grep '"severity": "ERROR"'`
    assert event["severity"] == "ERROR" and event["exit_code"] == 128 + signum
    assert event["message"] == f"interrupted by {signal.Signals(signum).name}: checks killed, nothing started"
    assert not marker.exists()
    deadline = time.monotonic() + 10  # SIGKILL is asynchronous: give the kernel a moment, no more
    while any(alive(pid) for pid in map(int, pids.read_text().split())) and time.monotonic() < deadline:
        select.select([], [], [], 0.01)
    assert [pid for pid in map(int, pids.read_text().split()) if alive(pid)] == []



def test_script_whose_interpreter_is_gone_exits_127(fixture_tree, tmp_path):
    script = tmp_path / "stale-script"
    script.write_text("#!/nonexistent/venv/bin/python3\nprint('never')\n")
    script.chmod(0o755)
    result = run_cli(["run", "--", str(script)], fixture_tree("server_probe"))
    assert result.returncode == 127
    assert "names an interpreter that does not exist or cannot run: /nonexistent/venv/bin/python3" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_non_python_interpreter_skips_the_imports(fixture_tree):
    result = run_cli(["check", "--python", "/bin/true"], fixture_tree("server_probe"))
    assert result.returncode == 1
    assert result.check("/bin/true", kind="python")["status"] == "failed"
    assert result.check("json")["status"] == "skipped"


@pytest.mark.parametrize("server", ["uvicorn --app-dir", "gunicorn --pythonpath", "UVICORN_APP_DIR"])
def test_a_server_option_that_puts_the_code_on_sys_path_is_honoured(fixture_tree, server):
    """src layout: the server finds the package through its own option, so must the checks; without
    the option the same checks fail (not_on_sys_path), as the server would."""
    tree = fixture_tree("healthy")
    (tree / "src").mkdir()
    (tree / "app").rename(tree / "src" / "app")
    port = free_port()
    env = cli_env()
    command = ["uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    if server == "uvicorn --app-dir":
        command[1:1] = ["--app-dir", "src"]
    elif server == "UVICORN_APP_DIR":
        env["UVICORN_APP_DIR"] = "src"
    else:
        command = ["gunicorn", "--pythonpath", "src", "-k", "uvicorn.workers.UvicornWorker", "-w", "1",
                   "-b", f"127.0.0.1:{port}", "app.main:app"]
    proc = subprocess.Popen([*GATE, "run", "--", *command], cwd=tree, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = "Application startup complete" if command[0] == "gunicorn" else "Uvicorn running on"  # bound
        _wait_for_line(proc, ready, time.monotonic() + 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGTERM)  # gunicorn's master stops its worker (SIGKILL would orphan it)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    env.pop("UVICORN_APP_DIR", None)
    bare = run_cli(["run", "--", "uvicorn", "app.main:app", "--port", str(port)], tree, env=env)
    assert bare.returncode == 1 and bare.check("app.main")["cause"] == "not_on_sys_path"


@pytest.mark.parametrize("how", ["by its shebang", "python through a symlink"])
def test_a_script_servers_sys_path_starts_with_its_real_directory(tmp_path, how):
    """As Python does: an executable script, or one reached through a symlink, has its own (real)
    directory first, not the working directory; the checks see what the server will."""
    real, link = tmp_path / "real", tmp_path / "bin"
    real.mkdir(), link.mkdir(), (tmp_path / "app").mkdir()
    (real / "helper.py").write_text("X = 1\n")
    (tmp_path / "app" / "__init__.py").write_text("")
    for name, module in (("serve.py", "helper"), ("wrong.py", "app")):  # wrong.py: app is only in the cwd
        script = real / name
        script.write_text(f"#!{sys.executable}\nimport {module}\nprint('served')\n")
        script.chmod(0o755)
        (link / name).symlink_to(script)
        (tmp_path / f"{module}.yaml").write_text(f"version: 1\nimports: [{module}]\n")
    prefix = [] if how == "by its shebang" else [sys.executable]
    served = run_cli(["run", "--manifest", "helper.yaml", "--", *prefix, str(link / "serve.py")], tmp_path)
    assert served.returncode == 0 and served.stdout.strip() == "served", served.stderr
    assert served.report["environment"]["sys_path"][0]["path"] == str(real)
    direct = subprocess.run([*prefix, str(link / "wrong.py")], cwd=tmp_path, capture_output=True, text=True)
    assert direct.returncode == 1 and "No module named 'app'" in direct.stderr  # the server's own failure
    gated = run_cli(["run", "--manifest", "app.yaml", "--", *prefix, str(link / "wrong.py")], tmp_path)
    assert gated.returncode == 1 and gated.stdout == "", gated.stdout  # caught before it starts


def test_an_applications_own_console_script_is_checked_as_python_starts_it(tmp_path):
    """pip's launcher for the app's own entry point: Python puts the launcher's directory first, not
    the working directory, so code only in the working directory is not what the server imports."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "cli.py").write_text("def main():\n    print('served')\n")
    (tmp_path / "bin").mkdir()
    launcher = tmp_path / "bin" / "myserver"
    launcher.write_text(f"#!{sys.executable}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
                        "from app.cli import main\nif __name__ == '__main__':\n    sys.exit(main())\n")
    launcher.chmod(0o755)
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [app.cli]\n")
    direct = subprocess.run([str(launcher)], cwd=tmp_path, capture_output=True, text=True)
    assert direct.returncode == 1 and "No module named 'app'" in direct.stderr
    gated = run_cli(["run", "--", str(launcher)], tmp_path)
    assert gated.returncode == 1 and gated.stdout == ""
    assert gated.check("app.cli")["cause"] in ("not_on_sys_path", "module_not_found")


def test_python_script_server_gets_its_own_directory_first(tmp_path):
    """``python app/server.py``: sys.path[0] is app/, not the working directory, as without the gate."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app/routes.py").write_text("ROUTES = ['/']\n")
    (tmp_path / "app/server.py").write_text("from routes import ROUTES\nprint('serving', ROUTES)\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [routes]\n")
    for mode in ("zygote", "fresh"):
        result = run_cli(["run", "--mode", mode, "--", sys.executable, "app/server.py"], tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "serving ['/']"
        assert result.report["environment"]["sys_path"][0]["path"] == str(tmp_path / "app")


@pytest.mark.parametrize("how", ["--chdir", "GUNICORN_CMD_ARGS", "gunicorn.conf.py", "-c CONFIG"])
def test_gunicorn_chdir_is_where_the_checks_run(tmp_path, how):
    """gunicorn --chdir src (or ``chdir = "src"`` in its config file): the server imports (and opens
    relative paths) from src/, so the checks do too; a healthy service is served, and one whose
    directory is missing is stopped before it starts."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "settings.json").write_text('{"greeting": "hello"}')
    (src / "wsgi.py").write_text(
        "import json\nSETTINGS = json.load(open('settings.json'))  # relative: the server's cwd\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [SETTINGS['greeting'].encode()]\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports:\n  - module: wsgi\n    symbols: [application]\n")
    port = free_port()
    env = cli_env()
    options = {"--chdir": ["--chdir", "src"], "-c CONFIG": ["-c", "deploy/gunicorn.py"]}.get(how, [])
    if how == "GUNICORN_CMD_ARGS":
        env["GUNICORN_CMD_ARGS"] = "--chdir src"
    config = {"gunicorn.conf.py": tmp_path / "gunicorn.conf.py", "-c CONFIG": tmp_path / "deploy/gunicorn.py"}.get(how)
    if config is not None:
        config.parent.mkdir(exist_ok=True)
        config.write_text("import multiprocessing\n\nworkers = 1\nchdir = 'src'\n")
    command = ["gunicorn", *options, "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:application"]
    proc = subprocess.Popen([*GATE, "run", "--", *command], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_line(proc, "Booting worker", time.monotonic() + 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200 and response.read() == b"hello"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    missing = [part.replace("src", "gone") for part in command]
    if how == "GUNICORN_CMD_ARGS":
        env["GUNICORN_CMD_ARGS"] = "--chdir gone"
    if config is not None:
        config.write_text("chdir = 'gone'\n")
    result = run_cli(["run", "--", *missing], tmp_path, env=env)
    assert result.returncode == 1 and result.stdout == ""
    workdir = result.check(str(tmp_path / "gone"), kind="workdir")
    assert workdir["cause"] == "path_missing" and "--chdir" in workdir["hint"]
    assert result.check("wsgi")["status"] == "skipped"


SERVER_REAPER_FLAG = ("import ctypes; flag = ctypes.c_int(); "
                      "ctypes.CDLL(None).prctl(37, ctypes.byref(flag), 0, 0, 0); print('subreaper', flag.value)")


def _spawning_module(root: Path, name: str, new_session: bool) -> Path:
    """``app.NAME`` starts a sleeping process at import (in a session of its own, or not) and appends
    its pid to ``NAME.pid``; the manifest imports it."""
    (root / "app").mkdir()
    (root / "app/__init__.py").write_text("")
    (root / f"app/{name}.py").write_text(
        "import subprocess, sys\n"
        f"proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session={new_session})\n"
        f"open('{name}.pid', 'a').write(f'{{proc.pid}}\\n')\n")
    (root / "preflight.yaml").write_text(f"version: 1\nimports: [app.{name}]\n")
    return root / f"{name}.pid"


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_a_process_an_import_detaches_is_killed_before_the_server_starts(tmp_path, mode):
    """An import that starts a process in a session of its own escapes the kill of its check's process
    group: the gate adopts it, kills it, says so, and gives the server no trace of having adopted."""
    pid_file = _spawning_module(tmp_path, "daemon", new_session=True)
    result = run_cli(["run", "--mode", mode, "--", sys.executable, "-c", SERVER_REAPER_FLAG], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "subreaper 0"  # the role is given up before the exec
    pids = [int(p) for p in pid_file.read_text().split()]
    assert pids and not any(alive(pid) for pid in pids)
    detached = result.check(result.report["checks"][-1]["target"], kind="process")
    assert detached["status"] == "warned" and detached["cause"] == "detached_process"
    assert len(detached["details"]["programs"]) == len(pids)


def test_a_process_left_in_the_checks_group_is_killed_without_a_warning(tmp_path):
    """A child the import starts in its own process group dies with the group: no `detached_process`."""
    pid_file = _spawning_module(tmp_path, "child", new_session=False)
    for mode in ("zygote", "fresh"):
        result = run_cli(["check", "--mode", mode], tmp_path)
        assert result.returncode == 0, result.stderr
        assert [c for c in result.report["checks"] if c["kind"] == "process"] == []
    assert not any(alive(int(pid)) for pid in pid_file.read_text().split())


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_gunicorn_chdir_keeps_the_directory_it_started_in_on_sys_path(tmp_path, mode):
    """gunicorn enters its default --chdir (where it started) first and keeps it on sys.path under the
    --chdir it then enters: a module beside the working directory is the server's, so the checks'."""
    (tmp_path / "web").mkdir()
    (tmp_path / "shared.py").write_text("NAME = 'shared'\n")
    (tmp_path / "web" / "wsgi.py").write_text("import shared\ndef application(environ, start_response):\n"
                                              "    return []\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [wsgi]\n")
    command = ["gunicorn", "--chdir", "web", "--check-config", "wsgi:application"]  # loads the app, exits
    alone = subprocess.run(command, cwd=tmp_path, env=cli_env(), capture_output=True, text=True)
    assert alone.returncode == 0, alone.stderr
    gated = run_cli(["run", "--mode", mode, "--", *command], tmp_path)
    assert gated.returncode == 0, gated.stderr
    assert [e["path"] for e in gated.report["environment"]["sys_path"][:2]] == [str(tmp_path / "web"), str(tmp_path)]
