"""``preflight image`` without a usable engine or SDK: clear errors, exit 2 (no Docker needed)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, cli_env, error_event, free_port, run_cli


def test_unreachable_daemon_exits_2_without_printing_docker_host(tmp_path):
    socket_path = tmp_path / "no-engine.sock"
    result = run_cli(["image", "anything"], cwd=tmp_path, env=cli_env(DOCKER_HOST=f"unix://{socket_path}"))
    assert result.returncode == 2
    assert "cannot reach the engine $DOCKER_HOST names: No such file or directory" in result.stderr
    assert error_event(result.stderr)["hint"].startswith("start the engine")
    assert str(socket_path) not in result.stderr  # variables are named, their values never printed


def test_refused_tcp_daemon_exits_2(tmp_path):
    result = run_cli(["image", "anything"], cwd=tmp_path,
                     env=cli_env(DOCKER_HOST=f"tcp://127.0.0.1:{free_port()}"))
    assert result.returncode == 2
    assert "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_docker_sdk_prints_the_install_command(tmp_path):
    # The SDK made unimportable, as in an environment without it; the real CLI otherwise.
    code = "import sys; sys.modules['docker'] = None; from preflight.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "image", "anything"], cwd=REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "needs the Docker SDK for Python" in proc.stderr
    assert "pip install 'docker>=7'" in proc.stderr


def test_bad_env_override_is_a_usage_error(tmp_path):
    result = run_cli(["image", "anything", "-e", "1BAD=x"], cwd=tmp_path)
    assert result.returncode == 2 and "not a variable name" in result.stderr
    result = run_cli(["image", "anything", "-e", "PREFLIGHT_TEST_UNSET_VAR"], cwd=tmp_path)
    assert result.returncode == 2 and "PREFLIGHT_TEST_UNSET_VAR: not set here" in result.stderr
