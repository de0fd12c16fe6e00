"""Failures an adversarial review found explained wrongly: each tree is built on disk, checked through
the real CLI in a real subprocess, and the cause, file:line and hint must lead to a fix that works."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import sys
from pathlib import Path

import pytest

from conftest import cli_env, run_cli


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


MANIFEST = "version: 1\nimports: [app.main]\n"


def test_copy_of_the_project_nearby_is_no_sys_path_fix_for_a_regular_package(tmp_path):
    """``app`` is a regular package loaded from svc: svc-old/app/billing.py can never be ``app.billing``."""
    svc = write(tmp_path / "svc", {"app/__init__.py": "", "app/main.py": "import app.billing\n",
                                   "preflight.yaml": MANIFEST})
    write(tmp_path / "svc-old", {"app/__init__.py": "", "app/billing.py": "X = 1\n"})
    check = run_cli(["check"], svc).check("app.main")
    assert check["cause"] == "module_not_found"
    assert (check["file"], check["line"]) == (str(svc / "app/main.py"), 1)
    assert ".dockerignore" in check["hint"] and "PYTHONPATH" not in check["hint"]
    assert check["details"]["found_elsewhere"] == [str(tmp_path / "svc-old/app/billing.py")]

    source = svc / "app/billing.py"  # only its bytecode made it into the image
    source.write_text("X = 1\n")
    py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)))
    source.unlink()
    check = run_cli(["check"], svc).check("app.main")
    assert check["cause"] == "module_not_found"
    assert check["details"]["bytecode_only"].startswith(str(svc / "app/__pycache__/billing."))


def test_a_top_level_package_in_another_checkout_beside_the_service_is_no_sys_path_fix(tmp_path):
    """A Django project's app left out of this tree (svc/polls), and another checkout of the project beside
    it (svc-old, with its own mysite): its polls is not what the server lacks a path to. Putting svc-old
    on sys.path would mix the two copies; a library directory beside the service still is a fix."""
    manifest = "version: 1\nimports: [mysite.wsgi, polls]\n"
    svc = write(tmp_path / "svc", {"mysite/__init__.py": "", "mysite/wsgi.py": "import polls.models\n",
                                   "preflight.yaml": manifest})
    write(tmp_path / "svc-old", {"mysite/__init__.py": "", "mysite/wsgi.py": "import polls.models\n",
                                 "polls/__init__.py": "", "polls/models.py": "X = 1\n"})
    result = run_cli(["check"], svc)
    for target in ("mysite.wsgi", "polls"):
        check = result.check(target)
        assert check["cause"] == "module_not_found", check["hint"]
        assert ".dockerignore" in check["hint"] and "PYTHONPATH" not in check["hint"], check["hint"]
        assert f"{tmp_path / 'svc-old'} also holds mysite, imported here from {svc / 'mysite'}" in check["hint"]
        assert check["details"]["found_elsewhere"] == [str(tmp_path / "svc-old/polls")]
    assert (result.check("mysite.wsgi")["file"], result.check("mysite.wsgi")["line"]) == (str(svc / "mysite/wsgi.py"), 1)
    write(tmp_path / "shared", {"polls/__init__.py": "", "polls/models.py": "X = 1\n"})  # no copy of the project
    (tmp_path / "svc-old" / "polls" / "__init__.py").unlink()
    (tmp_path / "svc-old" / "polls" / "models.py").unlink()
    (tmp_path / "svc-old" / "polls").rmdir()
    check = run_cli(["check"], svc).check("polls")
    assert (check["cause"], check["details"]["root"]) == ("not_on_sys_path", str(tmp_path / "shared"))


def test_namespace_package_merges_a_portion_put_on_sys_path(tmp_path):
    svc = write(tmp_path / "svc", {"app/main.py": "import app.billing\n", "preflight.yaml": MANIFEST})
    write(tmp_path / "plugins", {"app/billing.py": "X = 1\n"})
    check = run_cli(["check"], svc).check("app.main")
    assert check["cause"] == "not_on_sys_path"
    assert check["details"]["root"] == str(tmp_path / "plugins")
    fixed = run_cli(["check"], svc, env=cli_env(PYTHONPATH=str(tmp_path / "plugins")))
    assert fixed.returncode == 0, fixed.report


def test_the_parent_of_a_sys_path_entry_is_searched_one_level_down_only(tmp_path):
    """A container's WORKDIR /app has / for a parent: its siblings are looked at, not the whole disk."""
    svc = write(tmp_path / "srv/svc", {"app/__init__.py": "", "app/main.py": "import legacy_billing\n",
                                       "preflight.yaml": MANIFEST})
    write(tmp_path / "srv/old/src", {"legacy_billing.py": "X = 1\n"})
    check = run_cli(["check"], svc).check("app.main")
    assert check["cause"] == "distribution_missing", check["hint"]
    write(tmp_path / "srv/lib", {"legacy_billing.py": "X = 1\n"})  # a sibling of the working directory
    check = run_cli(["check"], svc).check("app.main")
    assert check["cause"] == "not_on_sys_path"
    assert check["details"]["root"] == str(tmp_path / "srv/lib")


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_a_wrapped_generic_failure_is_reported_where_it_arose(tmp_path, mode):
    write(tmp_path, {
        "w/__init__.py": "",
        "w/helpers.py": 'def registry(): return {"a": 1}["b"]\n\ndef fallback(): return int("x")\n',
        "w/wrapped.py": ("try:\n    from w.helpers import registry\n    R = registry()\nexcept Exception as e:\n"
                         "    raise ImportError(\"CRITICAL: plugin system failed to load\") from e\n"),
        "w/implicit.py": ("try:\n    from w.helpers import registry\n    R = registry()\nexcept KeyError:\n"
                          "    raise RuntimeError(\"registry broken\")\n"),
        "w/handler.py": ("from w.helpers import fallback, registry\ntry:\n    R = registry()\nexcept KeyError:\n"
                         "    R = fallback()\n"),
        "preflight.yaml": "version: 1\nimports: [w.wrapped, w.implicit, w.handler]\n",
    })
    result = run_cli(["check", "--mode", mode], tmp_path)
    wrappers = (("w.wrapped", "ImportError", "CRITICAL"), ("w.implicit", "RuntimeError", "registry"))
    for target, wrapper, message in wrappers:
        check = result.check(target)
        assert (check["error_type"], check["cause"]) == ("KeyError", "import_error"), check
        assert (check["file"], check["line"]) == (str(tmp_path / "w/helpers.py"), 1)
        wrapped_by = check["details"]["wrapped_by"]
        assert wrapped_by["error_type"] == wrapper and wrapped_by["message"].startswith(message)
        assert (wrapped_by["file"], wrapped_by["line"]) == (str(tmp_path / target.replace(".", "/")) + ".py", 5)
        assert "_Child" not in check["stack_trace"]  # the zygote's fork leaves no exception context behind
    own = result.check("w.handler")  # the handler's own code failed, deeper: that failure is the finding
    assert own["error_type"] == "ValueError" and "wrapped_by" not in own.get("details", {})
    assert (own["file"], own["line"]) == (str(tmp_path / "w/helpers.py"), 3)


def test_regular_package_beats_a_directory_without_init(tmp_path):
    """./fakesdk/ (no __init__.py) comes first on sys.path, yet the installed regular package wins."""
    site = tmp_path / "lib/site-packages"
    write(tmp_path, {"lib/site-packages/fakesdk/__init__.py": "VERSION = 1\n",
                     "fakesdk/healthcheck.py": "def check(): pass\n",
                     "svc/__init__.py": "", "svc/main.py": "import os\nfrom fakesdk.healthcheck import check\n",
                     "preflight.yaml": "version: 1\nimports: [svc.main]\n"})
    check = run_cli(["check"], tmp_path, env=cli_env(PYTHONPATH=str(site))).check("svc.main")
    assert check["cause"] == "shadowed"
    assert (check["file"], check["line"]) == (str(tmp_path / "svc/main.py"), 2)
    assert check["details"]["loaded"] == str(site / "fakesdk/__init__.py")
    assert check["details"]["hidden"] == [str(tmp_path / "fakesdk")]
    assert "has no __init__.py" in check["hint"] and "namespace package portion" in check["hint"]
    assert str(tmp_path / "fakesdk/__init__.py") in check["hint"]
    assert "comes first" not in check["details"]["why"]


@pytest.mark.parametrize("statement,install", [
    ("import google.cloud.storage", "google-cloud-storage"),
    ("from google.cloud import secretmanager", "google-cloud-secret-manager"),
    ("from google.cloud.pubsub_v1 import PublisherClient", "google-cloud-pubsub"),
    ("from azure.storage.blob import BlobClient", "azure-storage-blob"),
    ("import azure.identity", "azure-identity"),
    ("from rest_framework import serializers", "djangorestframework"),  # Django apps' import names
    ("import corsheaders", "django-cors-headers"),
])
def test_namespace_distributions_are_named_from_the_full_import(tmp_path, statement, install):
    write(tmp_path, {"app/__init__.py": "", "app/main.py": f"import os\n{statement}\n", "preflight.yaml": MANIFEST})
    check = run_cli(["check"], tmp_path).check("app.main")
    assert check["cause"] == "distribution_missing"
    assert check["details"]["install"] == install
    assert check["hint"].endswith(f"pip install {install}")
    assert check["line"] == 2


def test_pythonpath_already_set_is_extended_not_replaced(tmp_path):
    write(tmp_path, {"src/core/__init__.py": "", "src/core/main.py": "import app.plugin\n",
                     "plugins/app/__init__.py": "", "plugins/app/plugin.py": "X = 1\n",
                     "preflight.yaml": "version: 1\nsys_path: [plugins]\nimports: [core.main]\n"})
    src, plugins = tmp_path / "src", tmp_path / "plugins"
    result = run_cli(["check"], tmp_path, env=cli_env(PYTHONPATH=str(src)))
    for check in (result.check("core.main"), result.check(str(plugins), kind="path")):
        assert check["cause"] in ("not_on_sys_path", "path_missing")
        assert f"PYTHONPATH={src}{os.pathsep}{plugins}" in check["hint"]
        assert f"PYTHONPATH={plugins} " not in check["hint"]
    fixed = run_cli(["check"], tmp_path, env=cli_env(PYTHONPATH=f"{src}{os.pathsep}{plugins}"))
    assert fixed.returncode == 0, fixed.report


def test_dotted_symbol_names_the_object_that_lacks_the_attribute(tmp_path):
    write(tmp_path, {"app/__init__.py": "",
                     "app/main.py": "class Settings:\n    app_name = 'x'\n\n\nsettings = Settings()\n",
                     "preflight.yaml": ("version: 1\nimports:\n  - module: app.main\n"
                                        "    symbols: [settings.app_nam, setings.app_name]\n")})
    result = run_cli(["check"], tmp_path)
    on_object = result.check("app.main:settings.app_nam", kind="symbol")
    assert on_object["cause"] == "symbol_missing"
    assert on_object["message"] == "app.main.settings has no attribute 'app_nam'"
    assert on_object["details"]["object"] == "app.main.settings"
    assert on_object["details"]["did_you_mean"] == ["app_name"]
    assert (on_object["file"], on_object["line"]) == (str(tmp_path / "app/main.py"), 5)
    assert "Define or re-export" not in on_object["hint"] and "Settings object" in on_object["hint"]
    on_module = result.check("app.main:setings.app_name", kind="symbol")  # the first part is what is missing
    assert on_module["message"] == "app.main has no attribute 'setings'"
    assert on_module["details"]["did_you_mean"][0] == "settings"


def test_script_whose_directory_is_first_on_sys_path(tmp_path):
    """``python3 app/server.py``: sys.path[0] is app/, not the working directory the workdir check passed."""
    write(tmp_path, {"app/__init__.py": "", "app/main.py": "app = object()\n",
                     "app/server.py": ("import os, sys\nsys.path.insert(0, os.path.dirname(os.path.dirname("
                                       "os.path.abspath(__file__))))\nfrom app.main import app\n"),
                     "preflight.yaml": f"version: 1\nworkdir: {tmp_path}\nimports: [app.main]\n"})
    result = run_cli(["run", "--", sys.executable, "app/server.py"], tmp_path)
    assert result.returncode == 1
    assert result.check(str(tmp_path), kind="workdir")["status"] == "passed"
    check = result.check("app.main")
    assert check["cause"] == "not_on_sys_path"
    assert "python -m app." in check["hint"] and f"PYTHONPATH={tmp_path}" in check["hint"]
    assert "WORKDIR" not in check["hint"]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the code must be newer than the checking Python")
@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_code_written_for_a_newer_python_says_which_python_it_needs(tmp_path, mode):
    """An image built FROM an older Python than the developer's: "invalid syntax" alone sends people to
    the line, not to the Dockerfile."""
    files = {"app/__init__.py": "", "preflight.yaml": "version: 1\nimports: [app.alias, app.generic]\n",
             "app/alias.py": "from typing import Any\n\ntype UserId = int\n",
             "app/generic.py": "def first[T](items: list[T]) -> T:\n    return items[0]\n"}
    result = run_cli(["check", "--mode", mode], write(tmp_path, files))
    assert result.returncode == 1
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for module, line, what in (("app.alias", 3, "a `type` alias statement (PEP 695) needs Python 3.12+"),
                               ("app.generic", 1, "type parameters (PEP 695) needs Python 3.12+")):
        check = result.check(module)
        assert (check["cause"], check["file"], check["line"]) == ("syntax_error", str(tmp_path / module.replace(".", "/")) + ".py", line)
        assert what in check["details"]["needs"] and f"the checked interpreter is Python {running}" in check["hint"]


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_a_name_that_differs_only_in_case_is_named(tmp_path, mode):
    """Written on macOS: ``app/Services/`` imported as ``app.services`` works there, not in the image."""
    root = write(tmp_path, {"app/__init__.py": "", "app/Services/__init__.py": "", "app/Services/Billing.py": "X = 1\n",
                            "app/main.py": "from app.services.billing import X\n",
                            "app/jobs.py": "from app.Services.billing import X\n",
                            "preflight.yaml": "version: 1\nimports: [app.main, app.jobs]\n"})
    result = run_cli(["check", "--mode", mode], root)
    assert result.returncode == 1
    for module, twin in (("app.main", "app/Services"), ("app.jobs", "app/Services/Billing.py")):
        check = result.check(module)
        assert check["cause"] == "module_not_found" and check["details"]["case_differs"] == str(root / twin)
        assert "only in letter case" in check["hint"] and "git mv" in check["hint"]


def test_a_misspelt_submodule_is_named_with_the_modules_that_are_there(tmp_path):
    """`from app.servics import payments` with app/services/: the package's own modules close to the name."""
    svc = write(tmp_path, {"app/__init__.py": "", "app/services/__init__.py": "", "app/settings.py": "",
                           "app/main.py": "import os\nfrom app.servics import payments\n", "preflight.yaml": MANIFEST})
    check = run_cli(["check"], svc).check("app.main")
    assert (check["cause"], check["line"]) == ("module_not_found", 2), check
    assert check["details"]["did_you_mean"] == ["app.services"]
    assert "Did you mean app.services?" in check["hint"]
    (svc / "app/main.py").write_text("import app.billing\n")  # nothing close: no guess
    check = run_cli(["check"], svc).check("app.main")
    assert check["cause"] == "module_not_found" and "did_you_mean" not in check["details"], check


LOGGING_SETUP = """import logging.config

logging.config.dictConfig({{
    "version": 1,
    "handlers": {{"out": {handler}}},
    "root": {{"handlers": ["out"], "level": "INFO"}},
}})
"""


@pytest.mark.parametrize("handler, cause, hint", [
    ('{"class": "pythonjsonlogger.jsonlogger.JsonHandler"}', "distribution_missing", "pip install python-json-logger"),
    ('{"class": "logging.handlers.RotatingFileHandlr", "filename": "app.log"}', "symbol_missing",
     "Did you mean 'RotatingFileHandler'"),
    ('{"class": "logging.FileHandler", "filename": "missing-dir/app.log"}', "file_missing", "missing-dir"),
    ('{"class": "logging.StreamHandler", "formatter": "json"}', "import_error", "(KeyError: 'json')"),
])
def test_a_logging_configuration_names_what_failed_not_logging_s_wrapper(tmp_path, handler, cause, hint):
    """dictConfig wraps what its configuration names in ValueError('Unable to configure handler ...'):
    a handler class whose distribution is not installed, a misspelt class, a log file in a directory the
    image lacks. The failure beneath is the cause, at the line that applied the configuration."""
    root = write(tmp_path, {"app/__init__.py": "", "app/main.py": "from app import logs\n",
                            "app/logs.py": LOGGING_SETUP.format(handler=handler), "preflight.yaml": MANIFEST})
    check = run_cli(["check"], root).check("app.main")
    assert check["cause"] == cause, check
    assert (check["file"], check["line"]) == (str(root / "app/logs.py"), 3)
    assert hint in check["hint"] and "Unable to configure handler 'out'" in check["hint"], check["hint"]
