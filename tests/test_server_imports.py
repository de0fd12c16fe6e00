"""What the server command imports itself (gunicorn's worker class, a console script's entry point) is
checked with the manifest's imports: a start that would crash on it fails the gate instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli, service_tree

APP = {"app/__init__.py": "", "app/main.py": "def app(environ, start_response):\n    return []\n"}


def gunicorn_or_skip() -> str:
    found = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("gunicorn is not installed (the test extra provides it)")
    return found


@pytest.mark.parametrize("how", ["-k", "--worker-class=", "config file"])
def test_a_gunicorn_worker_class_that_is_not_installed_fails_the_gate(tmp_path, how):
    gunicorn = gunicorn_or_skip()
    root = service_tree(tmp_path, APP, ["app.main"])
    worker = "uvicorn_worker.UvicornWorker"
    options = {"-k": ["-k", worker], "--worker-class=": [f"--worker-class={worker}"],
               "config file": ["-c", "gunicorn.conf.py"]}[how]
    (root / "gunicorn.conf.py").write_text(f'worker_class = "{worker}"\n')
    command = [gunicorn, *options, "--bind", "127.0.0.1:0", "app.main:app"]
    direct = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=60)
    assert direct.returncode != 0 and "uvicorn_worker" in direct.stderr  # gunicorn's own failure, at once
    result = run_cli(["run", "--", *command], root)
    assert result.returncode == 1 and result.stdout == "", result.stderr
    check = result.check("uvicorn_worker")
    assert check["cause"] == "distribution_missing", check
    assert check["details"]["install"] == "uvicorn-worker" and "pip install uvicorn-worker" in check["hint"]
    assert check["details"]["named_by"] == f"gunicorn's worker class (-k {worker})"
    assert result.check("app.main")["status"] == "passed"


def test_an_installed_gunicorn_worker_class_passes_and_the_server_starts(tmp_path):
    gunicorn = gunicorn_or_skip()
    root = service_tree(tmp_path, APP, ["app.main"])
    result = run_cli(["run", "--", gunicorn, "-k", "gthread", "--check-config", "app.main:app"], root)
    assert result.returncode == 0, result.stderr
    assert [c["target"] for c in result.report["checks"]] == ["app.main", "app.main:app"]  # gthread: nothing more
    result = run_cli(["check", "--", gunicorn, "-k", "gunicorn.workers.sync.SyncWorker", "app.main:app"], root)
    assert result.returncode == 0, result.stderr
    assert result.check("gunicorn.workers.sync:SyncWorker", kind="symbol")["status"] == "passed"


def test_a_console_script_whose_entry_point_is_gone_fails_the_gate(tmp_path):
    """pip's launcher imports ``main`` from the package it was installed for; a release that renamed the
    function leaves a launcher that crashes at once."""
    root = service_tree(tmp_path, {"svc/__init__.py": "", "svc/cli.py": "def run_main():\n    print('served')\n"},
                        ["svc.cli"])
    launcher = root / "svc-server"
    launcher.write_text(f"#!{sys.executable}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
                        "from svc.cli import main\nif __name__ == '__main__':\n"
                        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                        "    sys.exit(main())\n")
    launcher.chmod(0o755)
    direct = subprocess.run([str(launcher)], cwd=root, capture_output=True, text=True)
    assert direct.returncode == 1 and "cannot import name 'main'" in direct.stderr
    result = run_cli(["run", "--", str(launcher)], root)
    assert result.returncode == 1 and result.stdout == "", result.stderr
    check = result.check("svc.cli:main", kind="symbol")
    assert check["cause"] == "symbol_missing" and check["details"]["did_you_mean"] == ["run_main"]
    assert check["details"]["named_by"].startswith(f"the console script {launcher}")

    (root / "svc" / "cli.py").write_text("def main():\n    print('served')\n")
    served = run_cli(["run", "--", str(launcher)], root)
    assert served.returncode == 0 and served.stdout == "served\n", served.stderr


def test_a_library_the_command_names_is_not_taken_for_application_code(tmp_path):
    """``-k uvicorn.workers.UvicornWorker`` names a library module: checked, but not one of the
    application's, so the zygote may still preload uvicorn for an application that imports it
    (it fell back to fresh interpreters, "preloading imported application module uvicorn")."""
    gunicorn = gunicorn_or_skip()
    app = {"app/__init__.py": "", "app/main.py": "import uvicorn\n\n\nasync def app(scope, receive, send):\n    pass\n"}
    root = service_tree(tmp_path, app, ["app.main"])
    result = run_cli(["check", "--", gunicorn, "-k", "uvicorn.workers.UvicornWorker", "app.main:app"], root)
    assert result.returncode == 0, result.stderr
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    assert result.check("uvicorn.workers:UvicornWorker", kind="symbol")["status"] == "passed"
    assert result.report["zygote"]["preloaded"] >= 1  # uvicorn, as without -k (it was taken for the app's)


ASGI = {"app/__init__.py": "", "app/main.py": "async def app(scope, receive, send):\n    pass\n"}


@pytest.mark.parametrize("target, cause", [("app.mian:app", "module_not_found"), ("app.main:ap", "symbol_missing")])
def test_the_application_the_server_loads_is_checked_though_the_manifest_lists_another(tmp_path, target, cause):
    """A typo in CMD's target crashed uvicorn at once behind a passing gate."""
    root = service_tree(tmp_path, ASGI, ["app.main"])
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    command = [uvicorn, target, "--host", "127.0.0.1", "--port", "0"]
    result = run_cli(["run", "--", *command], root)
    assert result.returncode == 1 and result.stdout == "", result.stderr
    failing = [c for c in result.report["checks"] if c["status"] == "failed"]
    assert [c["cause"] for c in failing] == [cause], failing
    assert failing[0]["details"]["named_by"] == f"uvicorn's application ({target})"
    if cause == "symbol_missing":
        assert failing[0]["details"]["did_you_mean"] == ["app"]


def test_a_host_and_port_is_not_taken_for_the_application(tmp_path):
    gunicorn = gunicorn_or_skip()
    root = service_tree(tmp_path, APP, ["app.main"])
    result = run_cli(["check", "--", gunicorn, "--bind", "localhost:8000", "--statsd-host", "unix:/run/s.sock",
                      "app.main:app"], root)
    assert result.returncode == 0, result.stderr
    assert [c["target"] for c in result.report["checks"] if c["kind"] in ("import", "symbol")] == ["app.main", "app.main:app"]


def test_a_stamp_trusts_no_import_it_did_not_check(tmp_path):
    """Stamped without the server command, a start with one must check what the command names: the
    stamp's manifest is the same, its checks are not."""
    root = service_tree(tmp_path, ASGI, ["app.main"])
    assert run_cli(["check", "--stamp"], root).returncode == 0
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    result = run_cli(["run", "--trust-stamp", "--", uvicorn, "app.main:ap", "--port", "0"], root)
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.report["mode"] != "stamp" and "server command names" in result.report["mode_reason"]
    assert result.check("app.main:ap", kind="symbol")["cause"] == "symbol_missing"


def test_a_stamp_written_with_the_server_command_is_trusted_for_it(tmp_path):
    """The README's pattern: `check --stamp -- CMD` at build, `run --trust-stamp -- CMD` at start, with a
    manifest that lists the module but not the object the server loads."""
    gunicorn = gunicorn_or_skip()
    root = service_tree(tmp_path, APP, ["app.main"])
    command = [gunicorn, "--check-config", "app.main:app"]
    assert run_cli(["check", "--stamp", "--", *command], root).returncode == 0
    result = run_cli(["run", "--trust-stamp", "--", *command], root)
    assert result.returncode == 0, result.stderr
    assert result.report["mode"] == "stamp", result.report.get("mode_reason")


SERVE_MAIN = {"svc/__init__.py": "", "svc/cli.py": "def main():\n    print('served')\n",
              "svc/__main__.py": "import sys\nfrom svc.cli import main\n\nopen('STARTED', 'w').close()\nmain()\n"}


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_the_module_python_m_runs_is_checked_as_runpy_finds_it_and_never_run(tmp_path, mode):
    """``python -m svc`` runs ``svc/__main__.py``: its imports are the server's first, though the
    manifest lists only ``svc.cli``; its own code (``main()`` at top level here) is never run by the gate."""
    root = service_tree(tmp_path, {**SERVE_MAIN, "svc/__main__.py": SERVE_MAIN["svc/__main__.py"].replace(
        "import main", "import serve")}, ["svc.cli"])
    result = run_cli(["check", "--mode", mode, "--", sys.executable, "-m", "svc"], root)
    assert result.returncode == 1, result.stderr
    check = result.check("svc (python -m)")
    assert check["cause"] == "symbol_missing" and check["file"] == str(root / "svc" / "__main__.py"), check
    assert check["line"] == 2 and check["details"]["named_by"] == "python -m svc"
    assert result.check("svc.cli")["status"] == "passed"
    assert not (root / "STARTED").exists()

    (root / "svc" / "__main__.py").write_text(SERVE_MAIN["svc/__main__.py"])
    served = run_cli(["run", "--mode", mode, "--", sys.executable, "-m", "svc"], root)
    assert served.returncode == 0 and served.stdout == "served\n", served.stderr
    assert served.check("svc (python -m)")["status"] == "passed"


@pytest.mark.parametrize("module, cause, line", [
    ("svc.server", "module_not_found", 2),  # its guarded import, under `if __name__ == "__main__":`
    ("svc", "module_not_found", None),  # a package without __main__.py: python -m cannot run it
    ("nosuch", "distribution_missing", None),
])
def test_a_module_python_m_cannot_run_fails_the_gate(tmp_path, module, cause, line):
    files = {"svc/__init__.py": "", "svc/server.py": "if __name__ == '__main__':\n    from svc.gone import run\n"
                                                      "    run()\n"}
    root = service_tree(tmp_path, files, ["svc"])
    result = run_cli(["check", "--", sys.executable, "-m", module], root)
    assert result.returncode == 1, result.stderr
    check = result.check(f"{module} (python -m)")
    assert check["cause"] == cause and check.get("line") == line, check


# The tools below are not installed for the tests: preflight never runs them to check, it reads their
# command lines, so a console script of that name (a Python shebang and nothing else) stands in for each.
TOOLS_APP = {"app/__init__.py": "", "app/main.py": """
    def app(environ, start_response):
        return []


    def create_app():
        return app


    class WorkerSettings:
        functions = []
    """}


def fake_tool(root: Path, name: str) -> str:
    """A console script called ``name`` in ``root/bin``: what a real tool's launcher looks like to preflight."""
    script = root / "bin" / name
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!{sys.executable}\nraise SystemExit('{name} must not run while the gate fails')\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("command, environ, target, cause, named_by", [
    (["fastapi", "run", "app/mian.py"], {}, "app.mian", "module_not_found", "fastapi's application (app/mian.py)"),
    (["fastapi", "dev", "--port", "80", "--app", "ap", "app/main.py"], {}, "app.main:ap", "symbol_missing",
     "fastapi's application (app/main.py --app ap)"),
    (["fastapi", "run", "-e", "app.main:create_ap"], {}, "app.main:create_ap", "symbol_missing",
     "fastapi's application (-e app.main:create_ap)"),
    (["flask", "--app", "ap", "run"], {}, "ap", "module_not_found", "flask's application (--app ap)"),
    (["flask", "run", "--host", "0.0.0.0"], {"FLASK_APP": "app.main:create_ap()"}, "app.main:create_ap",
     "symbol_missing", "flask's application (FLASK_APP=app.main:create_ap())"),
    (["celery", "-A", "prj", "worker", "-l", "info"], {}, "prj", "module_not_found", "celery's application (-A prj)"),
    (["uvicorn", "--port", "80"], {"UVICORN_APP": "app.main:ap"}, "app.main:ap", "symbol_missing",
     "uvicorn's application (UVICORN_APP=app.main:ap)"),
    (["celery", "--app=app.main:ap", "worker"], {}, "app.main:ap", "symbol_missing",
     "celery's application (--app app.main:ap)"),
    (["litestar", "--app", "app.main:ap", "run"], {}, "app.main:ap", "symbol_missing",
     "litestar's application (--app app.main:ap)"),
    (["dramatiq", "-p", "2", "app.taks"], {}, "app.taks", "module_not_found", "dramatiq's broker module (app.taks)"),
    (["arq", "app.main.WorkerSetings"], {}, "app.main:WorkerSetings", "symbol_missing",
     "arq's worker settings (app.main.WorkerSetings)"),
    (["gunicorn", "-w", "4", "--preload", "-b", "0.0.0.0:8000", "app.main"], {}, "app.main:application",
     "symbol_missing", "gunicorn's application (app.main)"),  # gunicorn's default attribute
    (["hypercorn", "--reload", "app.mian"], {}, "app.mian", "module_not_found", "hypercorn's application (app.mian)"),
    (["hypercorn", "asgi:app.main:ap"], {}, "app.main:ap", "symbol_missing", "hypercorn's application (asgi:app.main:ap)"),
    (["granian", "--interface", "asgi", "--no-ws", "app.mian"], {}, "app.mian", "module_not_found",
     "granian's application (app.mian)"),
    (["granian", "--interface", "wsgi", "app/main.py:ap"], {}, "app.main:ap", "symbol_missing",
     "granian's application (app/main.py:ap)"),
    (["granian", "--interface", "wsgi", "--reload", "tool.py:ap"], {}, "tool", "module_not_found",
     "granian's application (tool.py:ap)"),
    (["flask", "--app", "app/main.py:create_ap()", "run"], {}, "app.main:create_ap", "symbol_missing",
     "flask's application (--app app/main.py:create_ap())"),
    (["waitress-serve", "--listen=*:8080", "--call", "app.main:create_ap"], {}, "app.main:create_ap",
     "symbol_missing", "waitress-serve's application (app.main:create_ap)"),
])
def test_a_typo_in_the_target_of_a_server_or_worker_fails_the_gate(tmp_path, command, environ, target, cause, named_by):
    """Each of these passed the gate with the typo, and the tool crashed at once behind it."""
    root = service_tree(tmp_path, TOOLS_APP, ["json"])
    tool = fake_tool(root, command[0])
    result = run_cli(["run", "--", tool, *command[1:]], root, env={**os.environ, **environ})
    assert result.returncode == 1 and result.stdout == "", result.stderr
    failing = [c for c in result.report["checks"] if c["status"] == "failed"]
    assert [(c["target"], c["cause"]) for c in failing] == [(target, cause)], failing
    assert failing[0]["details"]["named_by"] == named_by


def test_the_module_of_a_path_is_imported_from_the_directory_the_tool_puts_first(tmp_path):
    """``fastapi run svc/server.py`` with no ``svc/__init__.py`` imports ``server`` from ``svc/``, as
    ``flask --app svc/server.py`` does; found by default there is ``app/main.py``."""
    root = service_tree(tmp_path, {**TOOLS_APP, "svc/server.py": "api = object()\n"}, ["json"])
    fastapi, flask = fake_tool(root, "fastapi"), fake_tool(root, "flask")
    for command, target in [([fastapi, "run", "svc/server.py"], "server"), ([flask, "--app", "svc/server.py", "run"],
                                                                            "server"), ([fastapi, "run"], "app.main")]:
        result = run_cli(["check", "--", *command], root)
        assert result.returncode == 0, result.stderr
        assert result.check(target)["status"] == "passed"
    (root / "pyproject.toml").write_text('[tool.fastapi]\nentrypoint = "app.main:ap"\n')
    result = run_cli(["check", "--", fastapi, "run"], root)
    assert result.returncode == 1, result.stderr
    check = result.check("app.main:ap", kind="symbol")
    assert check["cause"] == "symbol_missing"
    assert check["details"]["named_by"] == "fastapi's application (entrypoint = 'app.main:ap' in pyproject.toml)"


@pytest.mark.parametrize("command, reason", [
    (["sh", "-c", "python manage.py migrate | tee log && gunicorn mysite.wsgi"], "sh runs a shell script"),
    (["python", "manage.py", "runserver", "0.0.0.0:8000"], "the script manage.py's own imports are not followed"),
    (["rq", "worker"], "rq imports each job's function by name"),
    (["uvicorn", "app.main"], "uvicorn's application was not found on its command line"),
    (["litestar", "run"], "litestar's application was not found on its command line"),
])
def test_a_command_whose_own_imports_are_not_checked_says_so(tmp_path, command, reason):
    """These passed in silence, as if what they start had been checked."""
    root = service_tree(tmp_path, {**TOOLS_APP, "manage.py": ""}, ["json"])
    program = shutil.which(command[0]) if command[0] in ("sh", "python") else fake_tool(root, command[0])
    result = run_cli(["check", "--", program, *command[1:]], root)
    assert result.returncode == 0, result.stderr
    check = result.check(command[0], kind="command")
    assert check["status"] == "skipped" and check["details"]["reason"].startswith(reason), check
    assert "not checked" in check["message"]
    summary = next(e for e in result.events() if e.get("event_type") == "summary")
    assert summary["message"].startswith("preflight: all 1 checks passed (1 skipped)"), summary


MANAGE = """
    import os
    import sys


    def main():
        os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.setings')
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)


    if __name__ == '__main__':
        main()
    """


def test_the_settings_module_django_s_manage_py_loads_is_checked(tmp_path):
    """``python manage.py runserver`` (or ``migrate``) loads DJANGO_SETTINGS_MODULE, else the default
    manage.py sets, before any command: a typo there passed the gate and crashed behind it."""
    root = service_tree(tmp_path, {"manage.py": MANAGE, "mysite/__init__.py": "", "mysite/settings.py": "DEBUG = False\n"},
                        ["json"])
    python = sys.executable
    result = run_cli(["check", "--", python, "manage.py", "runserver", "0.0.0.0:8000"], root)
    assert result.returncode == 1, result.stderr
    check = result.check("mysite.setings")
    assert check["cause"] == "module_not_found" and "mysite.settings" in check["hint"]
    assert check["details"]["named_by"] == "manage.py's settings (manage.py:6: DJANGO_SETTINGS_MODULE defaults to mysite.setings)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mysite.settings"}  # the variable wins, as in Django
    result = run_cli(["check", "--", python, "manage.py", "migrate"], root, env=env)
    assert result.returncode == 0, result.stderr
    assert result.check("mysite.settings")["status"] == "passed"


@pytest.mark.parametrize("script", ["python manage.py migrate && gunicorn app.main", "set -e\npython manage.py migrate\n"
                                    "exec gunicorn \\\n  --bind 0.0.0.0:$PORT app.main  # the server"])
def test_the_server_a_shell_command_ends_with_is_followed(tmp_path, script):
    """``sh -c 'python manage.py migrate && gunicorn mysite.wsgi'``, the usual Django start, passed the
    gate with a typo in the server's target."""
    root = service_tree(tmp_path, {**TOOLS_APP, "manage.py": ""}, ["json"])
    fake_tool(root, "gunicorn")
    env = {**os.environ, "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli(["check", "--", "sh", "-ec", script], root, env=env)
    assert result.returncode == 1, result.stderr
    check = result.check("app.main:application", kind="symbol")  # gunicorn's default attribute: not there
    assert check["cause"] == "symbol_missing" and check["details"]["named_by"] == "gunicorn's application (app.main)"


@pytest.mark.parametrize("wrapper", [["ddtrace-run"], ["opentelemetry-instrument", "--traces_exporter", "otlp",
                                                        "--service_name=api"], ["newrelic-admin", "run-program"]])
def test_the_server_a_tracing_wrapper_runs_is_followed(tmp_path, wrapper):
    """``ddtrace-run gunicorn app:ap`` passed the gate: the wrapper was taken for the server."""
    root = service_tree(tmp_path, TOOLS_APP, ["json"])
    tool, gunicorn = fake_tool(root, wrapper[0]), fake_tool(root, "gunicorn")
    result = run_cli(["check", "--", tool, *wrapper[1:], gunicorn, "-w", "2", "app.main:ap"], root)
    assert result.returncode == 1, result.stderr
    check = result.check("app.main:ap", kind="symbol")
    assert check["cause"] == "symbol_missing" and check["details"]["named_by"] == "gunicorn's application (app.main:ap)"


def test_celery_s_dotted_app_may_be_an_attribute_of_its_package(tmp_path):
    """``celery -A proj.app`` is ``proj``'s attribute ``app`` when it has one (celery tries that first),
    so no module ``proj.app`` is required: the gate must not fail a start celery makes."""
    root = service_tree(tmp_path, {"proj/__init__.py": "app = object()\n"}, ["json"])
    celery = fake_tool(root, "celery")
    result = run_cli(["check", "--", celery, "-A", "proj.app", "worker"], root)
    assert result.returncode == 0, result.stderr
    assert result.check("proj")["details"].get("resolved", "").endswith("proj/__init__.py")
    result = run_cli(["check", "--", celery, "-A", "prj.app", "worker"], root)
    assert result.returncode == 1 and result.check("prj")["details"]["named_by"] == "celery's application (-A prj.app)"
