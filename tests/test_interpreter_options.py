"""The server's interpreter options (``python -O``, ``-W error``, ``-I``, ``-P``) are the checks' too:
what they make the server's imports do, the checks' imports do, in each mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env, error_event, run_cli
from preflight.python_args import PythonArgs, parse_python_args

MODES = ("fresh", "zygote")


def _service(root: Path, files: dict[str, str]) -> Path:
    """A package ``app`` whose ``app.serve`` imports ``app.main`` and prints "served"."""
    for rel, text in {"app/__init__.py": "", "app/serve.py": "import app.main\nprint('served')\n", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "preflight.yaml").write_text("version: 1\nimports: [app.main]\n")
    return root


WARNS = {"app/main.py": "import app.legacy\n",
         "app/legacy.py": "import warnings\nwarnings.warn('app.legacy is deprecated', DeprecationWarning)\n"}
NEEDS_ASSERTS = {"app/main.py": "if not __debug__:\n    raise RuntimeError('this service needs assert statements')\n"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("options, files", [(["-W", "error::DeprecationWarning"], WARNS), (["-Werror"], WARNS),
                                            (["-O"], NEEDS_ASSERTS), (["-OO"], NEEDS_ASSERTS)])
def test_an_option_that_breaks_the_servers_imports_fails_the_gate(tmp_path, mode, options, files):
    root = _service(tmp_path, files)
    server = [sys.executable, *options, "-m", "app.serve"]
    alone = subprocess.run(server, cwd=root, capture_output=True, text=True)
    assert alone.returncode == 1 and "served" not in alone.stdout  # how the server fails by itself

    gated = run_cli(["run", "--mode", mode, "--", *server], root)
    assert gated.returncode == 1 and gated.stdout == "", gated.stderr
    check = gated.check("app.main")
    assert check["cause"] == "import_error"
    assert check["file"] == str(root / ("app/legacy.py" if files is WARNS else "app/main.py"))
    assert gated.report["interpreter_options"] == list(parse_python_args(options).options)
    if files is WARNS:
        assert "-W" in check["hint"] and "DeprecationWarning" in check["hint"]

    plain = run_cli(["run", "--mode", mode, "--", sys.executable, "-m", "app.serve"], root)
    assert plain.returncode == 0 and plain.stdout.strip() == "served", plain.stderr  # passes without it
    assert "interpreter_options" not in plain.report


@pytest.mark.parametrize("mode", MODES)
def test_isolated_mode_ignores_pythonpath_for_the_checks_too(tmp_path, mode):
    """``python -I`` ignores PYTHONPATH and keeps the working directory off sys.path: code found only
    through them is missing for the server, so for the checks; the hint does not say "set PYTHONPATH"."""
    root = _service(tmp_path / "svc", {"app/main.py": "VALUE = 1\n"})
    (root / "src").mkdir()
    (root / "app").rename(root / "src" / "app")
    env = cli_env(PYTHONPATH=str(root / "src"))
    server = [sys.executable, "-I", "-m", "app.serve"]
    alone = subprocess.run(server, cwd=root, env=env, capture_output=True, text=True)
    assert alone.returncode == 1 and "No module named 'app'" in alone.stderr

    gated = run_cli(["run", "--mode", mode, "--", *server], root, env=env)
    assert gated.returncode == 1 and gated.stdout == ""
    check = gated.check("app.main")
    assert check["cause"] == "not_on_sys_path", check
    assert "ignores PYTHONPATH" in check["hint"] and "set PYTHONPATH" not in check["hint"]
    assert gated.report["environment"]["python"]["flags"]["isolated"] == 1

    served = run_cli(["run", "--mode", mode, "--", sys.executable, "-m", "app.serve"], root, env=env)
    assert served.returncode == 0 and served.stdout.strip() == "served", served.stderr


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["-P", "PYTHONSAFEPATH"])
def test_safe_path_keeps_the_scripts_directory_off_sys_path_for_the_checks(tmp_path, mode, how):
    """``python -P app/server.py`` (or PYTHONSAFEPATH): the script's sibling modules are not
    importable by the server, so not by the checks either."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app/routes.py").write_text("ROUTES = ['/']\n")
    (tmp_path / "app/server.py").write_text("from routes import ROUTES\nprint('serving', ROUTES)\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [routes]\n")
    env = cli_env(PYTHONSAFEPATH="1") if how == "PYTHONSAFEPATH" else cli_env()
    server = [sys.executable, *(["-P"] if how == "-P" else []), "app/server.py"]
    alone = subprocess.run(server, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert alone.returncode == 1 and "No module named 'routes'" in alone.stderr

    gated = run_cli(["run", "--mode", mode, "--", *server], tmp_path, env=env)
    assert gated.returncode == 1 and gated.stdout == "", gated.stderr
    check = gated.check("routes")
    assert check["cause"] == "not_on_sys_path", check
    assert "PYTHONSAFEPATH" in check["hint"] and str(tmp_path / "app") in check["hint"]


def test_check_takes_the_options_with_python(tmp_path):
    root = _service(tmp_path, NEEDS_ASSERTS)
    assert run_cli(["check", "--python", sys.executable], root).returncode == 0
    optimized = run_cli(["check", "--python", f"{sys.executable} -O"], root)
    assert optimized.returncode == 1 and optimized.check("app.main")["cause"] == "import_error"
    assert optimized.report["interpreter_options"] == ["-O"]


@pytest.mark.parametrize("value", ["{python} app/serve.py", "{python} -c pass", "{python} -m app.serve", "{python} 'unclosed",
                                   "{python} -W"])
def test_python_with_anything_but_options_is_bad_input(tmp_path, value):
    root = _service(tmp_path, {"app/main.py": "VALUE = 1\n"})
    result = run_cli(["check", "--python", value.format(python=sys.executable)], root, report=False)
    assert result.returncode == 2 and "--python" in error_event(result.stderr)["message"]


def test_a_stamp_written_without_the_servers_options_is_not_trusted(tmp_path):
    root = _service(tmp_path, NEEDS_ASSERTS)
    assert run_cli(["check", "--stamp", "--", sys.executable, "-m", "app.serve"], root).returncode == 0
    trusted = run_cli(["run", "--trust-stamp", "--", sys.executable, "-m", "app.serve"], root)
    assert trusted.returncode == 0 and trusted.report["mode"] == "stamp", trusted.stderr
    optimized = run_cli(["run", "--trust-stamp", "--", sys.executable, "-O", "-m", "app.serve"], root)
    assert optimized.returncode == 1 and optimized.stdout == ""
    assert "the interpreter options differ" in optimized.report["mode_reason"]
    assert optimized.check("app.main")["cause"] == "import_error"
    assert run_cli(["check", "--stamp", "--python", f"{sys.executable} -O"], root).returncode == 1  # no stamp


@pytest.mark.parametrize("argv, parsed", [
    (["-OO", "-m", "uvicorn", "app:app"], PythonArgs(("-O", "-O"), "module", "uvicorn", ("app:app",))),
    (["-uWerror", "-X", "dev", "srv.py", "-x"], PythonArgs(("-u", "-W", "error", "-X", "dev"), "script", "srv.py", ("-x",))),
    (["-sSmgunicorn", "-w", "2"], PythonArgs(("-s", "-S"), "module", "gunicorn", ("-w", "2"))),
    (["--check-hash-based-pycs", "always", "-I", "--", "-weird.py"],
     PythonArgs(("--check-hash-based-pycs", "always", "-I"), "script", "-weird.py")),
    (["-i", "-x", "-c", "pass"], PythonArgs((), "command", "pass")),  # -i, -x: not for the checks
    (["-E", "--version"], PythonArgs(("-E",))),
    (["-B", "-"], PythonArgs(("-B",), "stdin")),
])
def test_python_command_lines_are_read_as_cpython_reads_them(argv, parsed):
    assert parse_python_args(argv) == parsed


@pytest.mark.parametrize("shebang", ["#!{python} -O", "#!/usr/bin/env -S {python} -O"])
def test_options_on_a_scripts_shebang_line_are_the_checks_too(tmp_path, shebang):
    root = _service(tmp_path, NEEDS_ASSERTS)
    script = root / "serve"
    script.write_text(shebang.format(python=sys.executable) + "\nimport app.serve\n")
    script.chmod(0o755)
    alone = subprocess.run([str(script)], cwd=root, capture_output=True, text=True)
    assert alone.returncode == 1 and "needs assert statements" in alone.stderr
    gated = run_cli(["run", "--", str(script)], root)
    assert gated.returncode == 1 and gated.stdout == "", gated.stderr
    assert gated.report["interpreter_options"] == ["-O"]
    assert gated.check("app.main")["cause"] == "import_error"


def test_check_follows_a_server_command_without_starting_it(tmp_path):
    """``check -- CMD``: what ``run -- CMD`` checks (CMD's interpreter options here), nothing started."""
    root = _service(tmp_path, WARNS)
    marker = root / "started"
    (root / "app/serve.py").write_text(f"import app.main\nopen({str(marker)!r}, 'w').close()\n")
    result = run_cli(["check", "--", sys.executable, "-W", "error::DeprecationWarning", "-m", "app.serve"], root)
    assert result.returncode == 1 and result.check("app.main")["cause"] == "import_error"
    assert result.report["interpreter_options"] == ["-W", "error::DeprecationWarning"]
    passed = run_cli(["check", "preflight.yaml", "--", sys.executable, "-m", "app.serve"], root)
    assert passed.returncode == 0 and "interpreter_options" not in passed.report
    assert not marker.exists()  # checked, never started


@pytest.mark.parametrize("args, code, says", [
    (["--"], 2, "no server command"),
    (["--python", sys.executable, "--", sys.executable, "-m", "app.serve"], 2, "--python and a server command"),
    (["--", "no-such-server-here"], 127, "command not found"),
])
def test_check_with_a_server_command_that_cannot_be_followed(tmp_path, args, code, says):
    root = _service(tmp_path, {"app/main.py": "VALUE = 1\n"})
    result = run_cli(["check", *args], root, report=False)
    assert result.returncode == code and says in error_event(result.stderr)["message"]


@pytest.mark.parametrize("mode", MODES)
def test_safe_path_keeps_a_pythonpath_entry_that_names_the_working_directory(tmp_path, mode):
    """``PYTHONPATH=/app python -P -m app.serve`` in /app: -P drops the working directory Python would put
    first, not the same directory named by PYTHONPATH, which the server imports from."""
    root = _service(tmp_path, {"app/main.py": "import settings\n", "settings.py": "DEBUG = False\n"})
    env = cli_env(PYTHONPATH=str(root))
    server = [sys.executable, "-P", "-m", "app.serve"]
    alone = subprocess.run(server, cwd=root, env=env, capture_output=True, text=True)
    assert alone.returncode == 0 and alone.stdout.strip() == "served", alone.stderr

    gated = run_cli(["run", "--mode", mode, "--", *server], root, env=env)
    assert gated.returncode == 0 and gated.stdout.strip() == "served", gated.stderr
    assert gated.report["environment"]["sys_path"][0]["path"] == str(root)



@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("options", [["-W", "error"], ["-X", "warn_default_encoding", "-W", "error"],
                                     ["-X", "dev", "-W", "error"], ["-bb"]])
def test_the_servers_warning_options_do_not_break_preflights_own_check_code(tmp_path, mode, options):
    """The checks' harness runs under the server's options too: a warning of its own (a file opened
    without an encoding, under -X warn_default_encoding) must not fail a service that starts."""
    root = _service(tmp_path, {"app/main.py": "VALUE = 1\n"})
    server = [sys.executable, *options, "-m", "app.serve"]
    alone = subprocess.run(server, cwd=root, capture_output=True, text=True)
    assert alone.returncode == 0 and alone.stdout.strip() == "served", alone.stderr
    gated = run_cli(["run", "--mode", mode, "--", *server], root)
    assert gated.returncode == 0 and gated.stdout.strip() == "served", gated.stderr



def test_a_shebang_gives_its_interpreter_one_argument_as_the_kernel_does(tmp_path):
    """The kernel passes everything after a shebang's interpreter as one word: to Python, ``-O -W error``
    is an unknown option ``- `` (it exits 2 before any import), so the gate fails and starts nothing;
    to env (without -S), ``python3 -O`` is one program name that is not there, so the checks get no -O
    (this service fails only under -O) and the server's own start fails as it would (127)."""
    root = _service(tmp_path, NEEDS_ASSERTS)
    script = root / "serve"
    script.write_text(f"#!{sys.executable} -O -W error\nimport app.serve\n")
    script.chmod(0o755)
    alone = subprocess.run([str(script)], cwd=root, capture_output=True, text=True)
    assert alone.returncode == 2 and "Unknown option" in alone.stderr
    gated = run_cli(["run", "--", str(script)], root)
    assert gated.returncode == 1 and gated.stdout == "", gated.stderr
    assert "Unknown option" in gated.check(sys.executable, kind="python")["output"]

    script.write_text(f"#!/usr/bin/env {sys.executable} -O\nimport app.serve\n")
    alone = subprocess.run([str(script)], cwd=root, capture_output=True, text=True)
    assert alone.returncode == 127
    gated = run_cli(["run", "--", str(script)], root)
    assert gated.returncode == 127 and "interpreter_options" not in gated.report, gated.stderr
    assert gated.check("app.main")["status"] == "passed"


ENV_AWARE = {"app/main.py": "import os\n"
                            "if os.environ.get('APP_MODE') != 'prod':\n    raise RuntimeError('APP_MODE is not prod')\n"
                            "if 'OUTSIDE' in os.environ:\n    raise RuntimeError('OUTSIDE reached the server')\n"
                            "if __debug__:\n    raise RuntimeError('this service runs under -O')\n"}


@pytest.mark.parametrize("shebang, outside, passes", [
    ("#!/usr/bin/env -S APP_MODE=prod {python} -O", False, True),
    ("#!/usr/bin/env -S -i APP_MODE=prod {python} -O", True, True),
    ("#!/usr/bin/env -S -u OUTSIDE APP_MODE=prod {python} -O", True, True),
    ("#!/usr/bin/env -S APP_MODE=\"${{MODE}}\" {python} -O # a comment", False, True),
    ("#!/usr/bin/env -S APP_MODE=dev {python} -O", False, False),
    ("#!/usr/bin/env -S APP_MODE=prod {python} -O", True, False),
])
def test_an_env_shebang_gives_the_checks_its_interpreter_options_and_environment(tmp_path, shebang, outside, passes):
    """``#!/usr/bin/env -S [-i] [-u NAME] NAME=VALUE python3 -O``: env runs the interpreter with that
    environment, so the checks do too, with the interpreter and options it names."""
    root = _service(tmp_path, ENV_AWARE)
    script = root / "serve"
    script.write_text(shebang.format(python=sys.executable) + "\nimport app.serve\n")
    script.chmod(0o755)
    env = cli_env(MODE="prod", **({"OUTSIDE": "1"} if outside else {}))
    alone = subprocess.run([str(script)], cwd=root, env=env, capture_output=True, text=True)
    assert (alone.returncode == 0) is passes, alone.stderr
    for command in ("check", "run"):
        gated = run_cli([command, "--", str(script)], root, env=env)
        assert gated.returncode == (0 if passes else 1), gated.stderr
        assert gated.stdout == ("served\n" if passes and command == "run" else "")
        assert gated.report["interpreter"] == sys.executable and gated.report["interpreter_options"] == ["-O"]
        assert gated.check("app.main")["status"] == ("passed" if passes else "failed")
        assert ("OUTSIDE" in gated.report["environment"]["env_names"]) is ("-S APP" in shebang and outside)


def test_a_command_run_through_env_is_checked_in_the_environment_env_gives_it(tmp_path):
    root = _service(tmp_path, ENV_AWARE)
    server = ["env", "-u", "OUTSIDE", "APP_MODE=prod", sys.executable, "-O", "-m", "app.serve"]
    gated = run_cli(["run", "--", *server], root, env=cli_env(OUTSIDE="1"))
    assert gated.returncode == 0 and gated.stdout == "served\n", gated.stderr
    assert gated.report["interpreter_options"] == ["-O"]
    gated = run_cli(["run", "--", *server[:3], "APP_MODE=dev", *server[4:]], root, env=cli_env(OUTSIDE="1"))
    assert gated.returncode == 1 and gated.stdout == "", gated.stderr
    assert "APP_MODE is not prod" in gated.check("app.main")["message"]


@pytest.mark.parametrize("text", ["A=1 B='x y' C=\"${HOME}/z\" prog -O", "prog\\_a\\_b 'it''s' \"q\\\"t\" # gone",
                                  "a\\tb \"c\\_d\" '\\'' \"\" e\\cf g", "'unterminated", "$HOME", "x\\q"])
def test_env_split_strings_are_split_as_env_splits_them(text):
    """``env -S``'s own splitting, quoting, escapes and ``${NAME}``, against the real env (errors: None)."""
    from preflight.env_command import split_string, _Invalid

    probe = "import json, sys; print(json.dumps(sys.argv[1:]))"
    real = subprocess.run(["/usr/bin/env", "-S", f"{sys.executable} -c '{probe}' {text}"], capture_output=True,
                          text=True, env={"HOME": "/home/someone", "PATH": os.defpath})
    try:
        ours = split_string(text, {"HOME": "/home/someone"})
    except _Invalid:
        ours = None
    assert ours == (json.loads(real.stdout) if real.returncode == 0 else None), real.stderr
