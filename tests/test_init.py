"""`preflight init` on a small real FastAPI app: the manifest it writes round-trips through `check`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures"
pytest.importorskip("fastapi")


def preflight(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PREFLIGHT_", "INIT_DEMO_"))}
    environ["PREFLIGHT_CACHE_DIR"] = str(cwd.parent / "cache")
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "preflight", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=180)


DB = {"INIT_DEMO_DATABASE_URL": "sqlite://"}


@pytest.fixture
def app(tmp_path: Path) -> Path:
    tree = tmp_path / "svc"
    shutil.copytree(FIXTURES / "init_fastapi", tree)
    return tree


def test_init_writes_a_manifest_that_passes_and_fails_when_things_go(app: Path) -> None:
    done = preflight("init", "app.main:app", cwd=app, env=DB)
    assert done.returncode == 0, done.stderr
    manifest = app / "preflight.yaml"
    text = manifest.read_text()
    data = yaml.safe_load(text)
    assert data["workdir"] == "."
    assert data["imports"][0] == {"module": "app.main", "symbols": ["app"]}
    assert [i for i in data["imports"][1:]] == ["app", "app.config", "app.routes"]  # load order
    assert data["env"]["required"] == ["INIT_DEMO_DATABASE_URL"]
    assert "sqlite://" not in text  # names only, never values
    assert "INIT_DEMO_LOG_LEVEL" in text  # read with a default: recorded as a comment
    assert any(d.startswith("fastapi==") for d in data["distributions"])
    assert data["static"] is True

    assert preflight("check", cwd=app, env=DB).returncode == 0
    assert preflight("check", cwd=app).returncode == 1  # the variable taken away

    (app / "app" / "routes.py").unlink()
    failed = preflight("check", "--format", "json", cwd=app, env=DB)
    assert failed.returncode == 1
    assert "module_not_found" in failed.stderr


def test_init_refuses_to_overwrite_unless_forced(app: Path) -> None:
    (app / "preflight.yaml").write_text("version: 1\nimports: [keep.me]\n")
    refused = preflight("init", "app.main:app", cwd=app, env=DB)
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert "keep.me" in (app / "preflight.yaml").read_text()
    forced = preflight("init", "app.main:app", "--force", "--out", "preflight.yaml", cwd=app, env=DB)
    assert forced.returncode == 0, forced.stderr
    assert "keep.me" not in (app / "preflight.yaml").read_text()


def test_init_reports_a_failing_entry_point_and_writes_nothing(app: Path) -> None:
    done = preflight("init", "app.main:app", cwd=app)  # INIT_DEMO_DATABASE_URL unset: config raises
    assert done.returncode == 1
    assert "nothing written" in done.stderr
    assert not (app / "preflight.yaml").exists()


def test_init_rejects_a_malformed_entry(app: Path) -> None:
    done = preflight("init", "app.main:", cwd=app)
    assert done.returncode == 2
    assert not (app / "preflight.yaml").exists()


def test_init_leaves_out_modules_that_fail_on_their_own_and_static_findings(app: Path) -> None:
    # app.late takes `app` from app.main, which imports EXTRA from it after defining `app`: importing
    # app.main first works, importing app.late first does not.
    (app / "app" / "late.py").write_text("from app.main import app as APP\n\nEXTRA = APP.title\n")
    main = app / "app" / "main.py"
    main.write_text(main.read_text() + "\nfrom app.late import EXTRA  # noqa: E402\n\n\n"
                    "def uptime():\n    return time.monotonic(), EXTRA\n")
    done = preflight("init", "app.main:app", cwd=app, env=DB)
    assert done.returncode == 0, done.stderr
    text = (app / "preflight.yaml").read_text()
    data = yaml.safe_load(text)
    assert "app.late" not in data["imports"]
    assert "#   - app.late  # circular_import at app/main.py:" in text  # the cause, where, and what Python said
    assert "cannot import name 'EXTRA' from partially initialized module" in text
    assert "static" not in data and "# static: true" in text
    assert preflight("check", cwd=app, env=DB).returncode == 0


WSGI = '''import importlib
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
settings = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
os.environ["MYSITE_MODE"] = "web"
MODE = os.environ["MYSITE_MODE"]
STALE = os.environ.pop("MYSITE_STALE", None)
MYSITE = {k: v for k, v in os.environ.items() if k.startswith("MYSITE_")}
SECRET = os.environ["MYSITE_SECRET_KEY"]
application = object()
'''


@pytest.mark.parametrize("preset", [False, True], ids=["unset", "set"])
def test_init_requires_only_variables_read_by_subscript_that_the_app_did_not_set(tmp_path: Path, preset) -> None:
    """A stock Django wsgi.py: ``setdefault`` gives the variable a value, so neither it nor the
    subscript after it requires it; nor do ``pop(k, default)`` and iterating ``items()``."""
    (tmp_path / "site" / "mysite").mkdir(parents=True)
    tree = tmp_path / "site"
    (tree / "mysite" / "__init__.py").write_text("")
    (tree / "mysite" / "settings.py").write_text("DEBUG = False\n")
    (tree / "mysite" / "wsgi.py").write_text(WSGI)
    env = {"MYSITE_SECRET_KEY": "k" * 20, "MYSITE_STALE": "x"}
    if preset:
        env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    done = preflight("init", "mysite.wsgi:application", cwd=tree, env=env)
    assert done.returncode == 0, done.stderr
    text = (tree / "preflight.yaml").read_text()
    assert yaml.safe_load(text)["env"]["required"] == ["MYSITE_SECRET_KEY"]
    assert "#   - DJANGO_SETTINGS_MODULE  # at mysite/wsgi.py:4" in text  # read with a default: a comment
    assert "#   - MYSITE_STALE  # at mysite/wsgi.py:8" in text


def test_init_calls_an_app_factory_as_the_server_does_and_lists_what_it_imports(tmp_path: Path) -> None:
    # gunicorn 'app:create_app()' and flask --app name a factory: the blueprint modules it imports when
    # called are part of the server's start, though importing `app` alone never loads them
    tree = tmp_path / "svc"
    (tree / "app").mkdir(parents=True)
    (tree / "app" / "__init__.py").write_text(
        "def create_app(env='dev', *, debug=False):\n"
        "    from app.views import routes\n"
        "    return {'env': env, 'debug': debug, 'routes': routes}\n")
    (tree / "app" / "views.py").write_text("from app.services import greet\n\nroutes = [greet]\n")
    (tree / "app" / "services.py").write_text("def greet():\n    return 'hi'\n")
    done = preflight("init", 'app:create_app("prod", debug=True)', cwd=tree)
    assert done.returncode == 0, done.stderr
    manifest = (tree / "preflight.yaml").read_text()
    assert manifest.startswith('# Written by `preflight init app:create_app("prod", debug=True)`')
    data = yaml.safe_load(manifest)
    assert data["imports"][0] == {"module": "app", "symbols": ["create_app"]}
    assert set(data["imports"][1:]) == {"app.views", "app.services"}
    assert preflight("check", cwd=tree).returncode == 0
    (tree / "app" / "services.py").unlink()
    assert preflight("check", cwd=tree).returncode == 1
    done = preflight("init", "app:create_app()", "--force", cwd=tree)  # the factory fails: nothing written
    assert done.returncode == 1 and "calling app:create_app() failed, nothing written" in done.stderr
    assert "app.services" in (tree / "preflight.yaml").read_text()


@pytest.mark.parametrize("entry, message, tip", [
    ("server.py", "'server.py' is a file: init takes the module the server imports", "preflight init server,"),
    ("./app/main.py", "'./app/main.py' is a file", "preflight init app.main,"),
    ("app/main.py:app", "'app/main.py:app' is a file", "preflight init app.main:app,"),
    ("app.main:create(__import__('os'))", "an app factory's arguments must be literals", "like 'app:create_app()'"),
    ("app.main:create(", "is not an entry point", "or an app factory"),
])
def test_init_refuses_a_file_path_or_a_factory_call_with_code_and_imports_nothing(
        app: Path, entry: str, message: str, tip: str) -> None:
    marker = app / "app" / "main.py"
    marker.write_text("open(__file__ + '.imported', 'w').close()\n" + marker.read_text())
    done = preflight("init", entry, cwd=app, env=DB)
    assert done.returncode == 2, done.stderr
    event = [json.loads(line) for line in done.stderr.splitlines()][-1]
    assert message in event["message"] and tip in event["hint"], event
    assert not (app / "app" / "main.py.imported").exists() and not (app / "preflight.yaml").exists()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


PYTHON_M = {"svc/__init__.py": "",
            "svc/__main__.py": "from svc.cli import main\n\nopen('STARTED', 'w').close()\nmain()\n",
            "svc/cli.py": "from svc.server import serve\n\n\ndef main():\n    serve()\n",
            "svc/server.py": "def serve():\n    print('serving')\n",
            "scripts/seed.py": "import svc.server\n\nif __name__ == '__main__':\n    print('seeding')\n",
            "tools/ping.py": "import json\n\nprint(json.dumps('pong'))\n",
            "migrations/env.py": "from alembic import context\n\ncontext.configure()\n"}


def test_init_from_python_m_lists_what_main_imports_and_never_runs_it(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "svc", PYTHON_M)
    done = preflight("init", "--", sys.executable, "-m", "svc", cwd=tree)
    assert done.returncode == 0, done.stderr
    text = (tree / "preflight.yaml").read_text()
    assert text.startswith(f"# Written by `preflight init -- {sys.executable} -m svc`")
    assert yaml.safe_load(text)["imports"] == ["svc", "svc.server", "svc.cli"]  # not svc.__main__: it runs main()
    assert not (tree / "STARTED").exists()
    assert preflight("check", "--", sys.executable, "-m", "svc", cwd=tree).returncode == 0
    (tree / "svc" / "__main__.py").write_text(PYTHON_M["svc/__main__.py"].replace("import main", "import run"))
    broken = preflight("check", "--format", "json", "--", sys.executable, "-m", "svc", cwd=tree)
    assert broken.returncode == 1 and "symbol_missing" in broken.stderr and "__main__.py" in broken.stderr
    assert not (tree / "STARTED").exists()


def test_init_from_gunicorn_follows_its_config_file_and_app_dir(tmp_path: Path) -> None:
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable))
    if gunicorn is None:
        pytest.skip("gunicorn is not installed beside this interpreter")
    tree = write_tree(tmp_path / "svc", {"src/web/__init__.py": "", "src/web/wsgi.py": "from web import views\n\napp = views.app\n",
                                         "src/web/views.py": "app = object()\n",
                                         "gunicorn.conf.py": 'pythonpath = "src"\nwsgi_app = "web.wsgi:app"\n'})
    done = preflight("init", "--", gunicorn, "-c", "gunicorn.conf.py", cwd=tree)
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load((tree / "preflight.yaml").read_text())
    assert data["sys_path"] == ["src"] and data["imports"][0] == {"module": "web.wsgi", "symbols": ["app"]}
    assert preflight("check", "--", gunicorn, "-c", "gunicorn.conf.py", cwd=tree).returncode == 0
    (tree / "gunicorn.conf.py").write_text('pythonpath = "src"\nwsgi_app = "web.wsgi:application"\n')
    broken = preflight("check", "--format", "json", "--", gunicorn, "-c", "gunicorn.conf.py", cwd=tree)
    assert broken.returncode == 1 and "symbol_missing" in broken.stderr  # the config file's wsgi_app is checked


@pytest.mark.parametrize("args, code, message", [
    (["--", "sh", "-c", "cd src && exec uvicorn app.main:app"], 2, "cannot tell which module `sh -c 'cd src"),
    (["--", sys.executable, "serve.py"], 2, "'serve.py' is a file"),
    (["--", "no-such-server-here"], 127, "command not found"),
    (["--", sys.executable, "-m", "tools.ping"], 1, "imports none of the application's modules at start"),
    (["--"], 2, "no server command after --"),
    (["app.main:app", "--", "uvicorn", "app.main:app"], 2, "both say what to import"),
    ([], 2, "no entry point given"),
])
def test_init_says_what_it_cannot_follow_and_writes_nothing(tmp_path: Path, args: list[str], code: int,
                                                            message: str) -> None:
    tree = write_tree(tmp_path / "svc", PYTHON_M)
    done = preflight("init", *args, cwd=tree)
    assert done.returncode == code, done.stderr
    event = [json.loads(line) for line in done.stderr.splitlines()][-1]
    assert message in event["message"] and event["hint"], event
    assert not (tree / "preflight.yaml").exists()


def test_init_in_a_directory_without_the_module_names_the_entry_point_not_a_manifest(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = preflight("init", "svc_nowhere.main:app", cwd=empty)
    assert done.returncode == 1, done.stderr
    event = [json.loads(line) for line in done.stderr.splitlines()][-1]
    assert "importing svc_nowhere.main failed, nothing written" in event["message"]
    assert "the entry point given to init (svc_nowhere.main)" in event["hint"] and "manifest" not in event["hint"]
    assert list(empty.iterdir()) == []


def test_init_of_an_installed_package_lists_no_site_packages_path(tmp_path: Path) -> None:
    """``pip install .`` (not editable): the application's modules are in site-packages, which the
    interpreter has on sys.path anyway; a manifest naming the build machine's venv path is not one to keep."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    write_tree(Path(purelib), {"svcpkg/__init__.py": "", "svcpkg/cli.py": "from svcpkg import core\n\n\ndef main():\n    core.run()\n",
                               "svcpkg/core.py": "def run():\n    pass\n"})
    work = tmp_path / "work"
    work.mkdir()
    done = preflight("init", "svcpkg.cli:main", "--python", str(python), cwd=work)
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load((work / "preflight.yaml").read_text())
    assert "sys_path" not in data and data["imports"][1:] == ["svcpkg", "svcpkg.core"], data
    assert preflight("check", "--python", str(python), cwd=work).returncode == 0


def test_init_in_a_monorepo_writes_paths_that_hold_in_another_checkout(tmp_path: Path) -> None:
    """The server runs from services/api (WORKDIR), a shared library comes from PYTHONPATH, the manifest
    lives in deploy/: paths relative to it hold wherever the repository is checked out."""
    repo = write_tree(tmp_path / "repo", {
        "services/api/app/__init__.py": "", "services/api/app/main.py": "from common.util import now\n\napp = now\n",
        "libs/common/common/__init__.py": "", "libs/common/common/util.py": "def now():\n    return 0\n"})
    done = preflight("init", "app.main:app", "--out", "../../deploy/api.yaml", cwd=repo / "services" / "api",
                     env={"PYTHONPATH": str(repo / "libs" / "common")})
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load((repo / "deploy" / "api.yaml").read_text())
    assert data["workdir"] == "../services/api" and data["sys_path"] == ["../libs/common"], data
    moved = shutil.copytree(repo, tmp_path / "elsewhere")
    env = {"PYTHONPATH": str(moved / "libs" / "common")}
    assert preflight("check", "../../deploy/api.yaml", cwd=moved / "services" / "api", env=env).returncode == 0
    (moved / "libs" / "common" / "common" / "util.py").unlink()
    broken = preflight("check", "../../deploy/api.yaml", cwd=moved / "services" / "api", env=env)
    assert broken.returncode == 1 and "module_not_found" in broken.stderr


def fake_distribution(site: Path, name: str, version: str, code: str = "") -> None:
    write_tree(site, {f"{name}/__init__.py": code, f"{name}-{version}.dist-info/METADATA":
                      f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                      f"{name}-{version}.dist-info/top_level.txt": f"{name}\n"})


def test_init_leaves_a_distribution_imported_under_try_except_importerror_optional(tmp_path: Path) -> None:
    """``try: import ujson / except ImportError: import json``: installed where init runs, absent from a
    lean image, and the server starts either way; pinning it would fail a start that works."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    fake_distribution(site, "needlib", "2.0")
    fake_distribution(site, "speedlib", "1.2")
    fake_distribution(site, "sharedlib", "3.1", "import needlib\n")
    tree = write_tree(tmp_path / "svc", {"app/__init__.py": "", "app/main.py":
                                         "import needlib\ntry:\n    import speedlib\nexcept ImportError:\n"
                                         "    speedlib = None\ntry:\n    import sharedlib\nexcept ImportError:\n"
                                         "    sharedlib = None\n\napp = object()\n"})
    done = preflight("init", "app.main:app", "--python", python, cwd=tree)
    assert done.returncode == 0, done.stderr
    text = (tree / "preflight.yaml").read_text()
    assert yaml.safe_load(text)["distributions"] == ["needlib==2.0"]
    assert '#   - "sharedlib==3.1"  # at app/main.py:7' in text and '#   - "speedlib==1.2"  # at app/main.py:3' in text
    shutil.rmtree(site / "speedlib")
    assert preflight("check", "--python", python, cwd=tree).returncode == 0
    shutil.rmtree(site / "needlib")
    assert preflight("check", "--python", python, cwd=tree).returncode == 1
