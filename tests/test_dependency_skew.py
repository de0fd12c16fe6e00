"""Installed versions that do not fit together, built as tiny distributions on disk (a package and its
``NAME-VERSION.dist-info/METADATA`` in a ``site-packages`` directory on PYTHONPATH): the check must name
both parties with their versions, the library's line and the application line, and the pin to change."""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

import pytest

from conftest import cli_env, run_cli

MANIFEST = "version: 1\nimports: [app.main]\n"
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


def distribution(site: Path, name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = (),
                 requires_python: str | None = None) -> None:
    """Install ``files`` in ``site`` as the distribution ``name`` ``version``, as pip leaves it."""
    for path, text in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(text)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             *(f"Requires-Dist: {r}" for r in requires), *([f"Requires-Python: {requires_python}"] if requires_python else [])]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in files))


def service(tmp_path: Path, main: str) -> tuple[Path, Path]:
    """The application tree and its site-packages (a library directory, not application code)."""
    site = tmp_path / "venv/lib/site-packages"
    site.mkdir(parents=True)
    app = tmp_path / "svc"
    (app / "app").mkdir(parents=True)
    (app / "app/__init__.py").write_text("")
    (app / "app/main.py").write_text(main)
    (app / "preflight.yaml").write_text(MANIFEST)
    return app, site


def check(app: Path, site: Path, mode: str = "zygote") -> dict:
    return run_cli(["check", "--mode", mode], app, env=cli_env(PYTHONPATH=str(site))).check("app.main")


WSGIKIT_3 = {"wsgikit/__init__.py": "", "wsgikit/urls.py": "def quote(s): return s\n\ndef unquote(s): return s\n"}


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
@pytest.mark.parametrize("requires,met", [("wsgikit>=2.2", True), ("wsgikit<2.3,>=2.2", False)])
def test_a_library_importing_a_name_the_installed_other_library_dropped_names_both(tmp_path, mode, requires, met):
    """Flask 2.2 under Werkzeug 3: ``cannot import name 'url_quote'`` raised in flask/, not the app's to fix."""
    app, site = service(tmp_path, "import os\n\nfrom webfw import App\n")
    distribution(site, "webfw", "2.2.2", {"webfw/__init__.py": "from webfw.app import App\n",
                                         "webfw/app.py": "import sys\nfrom wsgikit.urls import url_quote\n\nclass App: pass\n"},
                 requires=(requires, 'pytest-never; python_version < "3"'))
    distribution(site, "wsgikit", "3.0.1", WSGIKIT_3)
    found = check(app, site, mode)
    assert found["cause"] == "dependency_incompatible"
    assert (found["file"], found["line"]) == (str(app / "app/main.py"), 3)
    assert found["details"]["importer"] == {"distribution": "webfw", "version": "2.2.2",
                                            "file": str(site / "webfw/app.py"), "line": 2}
    assert found["details"]["provider"] == {"distribution": "wsgikit", "version": "3.0.1"}
    assert found["details"]["requirement_met"] is met
    assert "webfw 2.2.2" in found["hint"] and "wsgikit 3.0.1" in found["hint"] and "'url_quote'" in found["hint"]
    assert f"'{'wsgikit<3' if met else requires}'" in found["hint"] and "upgrade webfw" in found["hint"]
    assert ("pip check" in found["hint"]) is not met
    assert "fix the code" not in found["hint"] and "Did you mean" not in found["hint"]


def test_a_library_importing_a_submodule_the_other_library_dropped_names_both(tmp_path):
    """``from werkzeug.contrib.fixers import ProxyFix`` in an old extension under Werkzeug 1.0+."""
    app, site = service(tmp_path, "from proxyext import fix\n")
    distribution(site, "proxyext", "0.9", {"proxyext/__init__.py": "from wsgikit.contrib.fixers import ProxyFix\nfix = 1\n"})
    distribution(site, "wsgikit", "3.0.1", WSGIKIT_3)
    found = check(app, site)
    assert found["cause"] == "dependency_incompatible"
    assert found["details"]["missing"] == "wsgikit.contrib"
    assert found["details"]["importer"]["distribution"] == "proxyext"
    assert "wsgikit 3.0.1" in found["hint"] and ".dockerignore" not in found["hint"]


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
@pytest.mark.parametrize("code,what", [("from collections import Mapping\n", "'Mapping' of the standard library's collections"),
                                       ("import asyncio\n\n@asyncio.coroutine\ndef f(): yield\n", "'coroutine' of the standard library's asyncio")])
def test_a_library_too_old_for_this_python_names_the_distribution(tmp_path, mode, code, what):
    app, site = service(tmp_path, "from attrmap import AttrMap\n")
    distribution(site, "attrmap", "2.0.1", {"attrmap/__init__.py": "from attrmap.mapping import *\nAttrMap = dict\n",
                                           "attrmap/mapping.py": code})
    found = check(app, site, mode)
    assert found["cause"] == "dependency_incompatible"
    assert (found["file"], found["line"]) == (str(app / "app/main.py"), 1)
    assert found["details"]["importer"]["distribution"] == "attrmap"
    assert found["details"]["python"] == RUNNING
    assert what in found["hint"] and f"attrmap 2.0.1 does not support Python {RUNNING}" in found["hint"]
    assert "Upgrade attrmap" in found["hint"]


@pytest.mark.parametrize("declared", [True, False])
def test_a_module_a_library_imports_names_the_library_and_whether_it_declares_it(tmp_path, declared):
    """``No module named 'pkg_resources'`` from an old library in a venv without setuptools."""
    app, site = service(tmp_path, "import os\nimport fsx\n")
    distribution(site, "fsx", "2.4.16", {"fsx/__init__.py": "import sys\nimport zmq\n"},
                 requires=("pyzmq>=22",) if declared else ())
    found = check(app, site)
    assert found["cause"] == "distribution_missing"
    assert found["details"]["install"] == "pyzmq"
    assert found["details"]["required_by"] == {"distribution": "fsx", "version": "2.4.16",
                                               "file": str(site / "fsx/__init__.py"), "line": 2, "declared": declared}
    assert "fsx 2.4.16 imports 'zmq'" in found["hint"]
    assert ("--no-deps" in found["hint"]) is declared


def test_the_application_using_a_name_the_installed_version_dropped_names_that_version(tmp_path):
    app, site = service(tmp_path, "from wsgikit.urls import url_quote\n")
    distribution(site, "wsgikit", "3.0.1", WSGIKIT_3)
    found = check(app, site)
    assert found["cause"] == "symbol_missing"
    assert (found["file"], found["line"]) == (str(app / "app/main.py"), 1)
    assert found["details"]["distribution"] == {"name": "wsgikit", "version": "3.0.1"}
    assert "the installed wsgikit 3.0.1 has no 'url_quote'" in found["hint"]


MOVED = '''def __getattr__(name):
    if name == "BaseSettings":
        raise ImportError("`BaseSettings` has been moved to the `modelkit-settings` package.\\n\\nSee the docs")
    if name == "float_":
        raise AttributeError("`float_` was removed in the 2.0 release. Use `float64` instead.")
    raise AttributeError(name)
'''


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
@pytest.mark.parametrize("main,name,line", [("import os\nfrom modelkit import BaseSettings\n", "BaseSettings", 2),
                                            ("import modelkit\n\nX = modelkit.float_\n", "float_", 3)])
def test_a_name_a_library_refuses_keeps_its_message_and_names_its_version(tmp_path, mode, main, name, line):
    """pydantic 2's ``BaseSettings`` (moved to pydantic-settings), NumPy 2's ``np.float_``: the library's
    ``__getattr__`` says what to do; that and the installed version are the hint."""
    app, site = service(tmp_path, main)
    distribution(site, "modelkit", "2.7.1", {"modelkit/__init__.py": MOVED})
    found = check(app, site, mode)
    assert found["cause"] == "symbol_missing"
    assert (found["file"], found["line"]) == (str(app / "app/main.py"), line)
    assert found["details"]["name"] == name and found["details"]["module"] == "modelkit"
    assert found["details"]["distribution"] == {"name": "modelkit", "version": "2.7.1"}
    assert "the installed modelkit 2.7.1" in found["hint"]
    assert ("`modelkit-settings` package" if name == "BaseSettings" else "Use `float64` instead") in found["hint"]


def test_a_name_a_library_refuses_another_library_names_both(tmp_path):
    app, site = service(tmp_path, "import plugin\n")
    distribution(site, "modelkit", "2.7.1", {"modelkit/__init__.py": MOVED})
    distribution(site, "plugin", "0.3", {"plugin/__init__.py": "from modelkit import BaseSettings\n"})
    found = check(app, site)
    assert found["cause"] == "dependency_incompatible"
    assert found["details"]["importer"]["distribution"] == "plugin"
    assert found["details"]["provider"] == {"distribution": "modelkit", "version": "2.7.1"}
    assert "`modelkit-settings` package" in found["hint"]


CYTHON_INIT = '''import sys


def _init():
    raise ValueError("arraykit.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject")


# a Cython module's init frame, as a compiled extension's traceback shows it
_init.__code__ = _init.__code__.replace(co_name="init framekit._libs", co_filename="framekit/_libs.pyx")
_init()
'''


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_an_extension_built_against_another_version_of_a_library_names_both(tmp_path, mode):
    """pandas 1.5 under NumPy 2: ``numpy.dtype size changed`` raised by a Cython module's init frame."""
    app, site = service(tmp_path, "import framekit\n")
    extension = f"framekit/_libs{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    distribution(site, "framekit", "1.5.3", {"framekit/__init__.py": CYTHON_INIT, extension: ""},
                 requires=("arraykit>=1.21",))
    distribution(site, "arraykit", "2.1.3", {"arraykit/__init__.py": ""})
    found = check(app, site, mode)
    assert found["cause"] == "extension_incompatible"
    assert found["details"]["path"] == str(site / extension)
    assert found["details"]["distribution"] == {"name": "framekit", "version": "1.5.3"}
    assert found["details"]["built_against"] == {"distribution": "arraykit", "version": "2.1.3",
                                                 "requirement": "arraykit>=1.21"}
    assert "'arraykit<2'" in found["hint"] and "upgrade framekit" in found["hint"]


def test_a_library_newer_than_this_python_says_which_python_it_requires(tmp_path):
    """Copied from a newer Python's site-packages: ``typing.Nope`` is not in this one, not yet."""
    app, site = service(tmp_path, "import newlib\n")
    distribution(site, "newlib", "4.0", {"newlib/__init__.py": "from typing import Nope\n"}, requires_python=">=3.99")
    found = check(app, site)
    assert found["cause"] == "dependency_incompatible"
    assert found["details"]["requires_python"] == ">=3.99"
    assert "newlib 4.0 requires Python >=3.99" in found["hint"] and "no longer" not in found["hint"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="binhex was removed in 3.11")
def test_a_standard_library_module_this_python_removed_is_no_distribution_to_install(tmp_path):
    """``import imp`` or ``distutils`` on 3.12 says "No module named"; pip install imp is no fix."""
    app, site = service(tmp_path, "import os\nimport binhex\nimport oldtool\n")
    found = check(app, site)
    assert found["cause"] == "module_not_found" and found["line"] == 2
    assert found["details"]["removed_in"] == "3.11" and "pip install" not in found["hint"]
    assert "removed from the standard library in Python 3.11" in found["hint"]
    (app / "app/main.py").write_text("import oldtool\n")
    distribution(site, "oldtool", "0.4", {"oldtool/__init__.py": "import binhex\n"})
    found = check(app, site)
    assert found["cause"] == "dependency_incompatible"
    assert found["details"]["importer"]["distribution"] == "oldtool" and found["details"]["missing"] == "binhex"
    assert f"oldtool 0.4 does not support Python {RUNNING}" in found["hint"]


def test_a_namespace_package_s_portion_is_owned_by_the_distribution_that_installed_it(tmp_path):
    """google.protobuf and google.api come from two distributions: the provider is the one whose
    RECORD lists the file (protobuf too old for generated code: ``cannot import name 'builder'``)."""
    app, site = service(tmp_path, "import nsx.api.client\n")
    distribution(site, "nsx-api-protos", "1.60", {"nsx/api/__init__.py": "", "nsx/api/client.py":
                                                  "from nsx.proto.internal import builder\n"}, requires=("nsx-proto>=3",))
    distribution(site, "nsx-proto", "3.19.6", {"nsx/proto/__init__.py": "", "nsx/proto/internal/__init__.py": ""})
    found = check(app, site)
    assert found["cause"] == "dependency_incompatible"
    assert found["details"]["importer"]["distribution"] == "nsx-api-protos"
    assert found["details"]["provider"] == {"distribution": "nsx-proto", "version": "3.19.6"}


@pytest.mark.parametrize("installed_version,cause", [("2.2.3", "dependency_incompatible"), ("1.26.18", "import_error")])
def test_a_library_failing_under_versions_its_requirements_exclude_says_so(tmp_path, installed_version, cause):
    """requests 2.25 under urllib3 2 (a RequestsDependencyWarning that ``-W error`` makes the failure):
    what pip check reports is named; a library whose requirements are met keeps import_error."""
    app, site = service(tmp_path, "import os\nimport reqlib\n")
    distribution(site, "reqlib", "2.25.1", {"reqlib/__init__.py": "import urlkit\n\nraise RuntimeError('unsupported urlkit')\n"},
                 requires=("urlkit<1.27,>=1.21.1", "nothere>=1"))
    distribution(site, "urlkit", installed_version, {"urlkit/__init__.py": ""})
    found = check(app, site)
    assert found["cause"] == cause and (found["file"], found["line"]) == (str(app / "app/main.py"), 2)
    if cause == "dependency_incompatible":
        assert found["details"]["unmet"] == [{"requirement": "urlkit<1.27,>=1.21.1", "installed": "2.2.3"}]
        assert "reqlib 2.25.1 raised RuntimeError" in found["hint"] and "pip install 'urlkit<1.27,>=1.21.1'" in found["hint"]


def test_libraries_the_manifest_lists_are_still_libraries(tmp_path):
    """``imports: [webfw]`` makes webfw's frames the manifest's own, not the service's code to fix; a
    symbol the manifest asks a library for is answered with that library's installed version."""
    app, site = service(tmp_path, "")
    (app / "preflight.yaml").write_text("version: 1\nimports:\n  - webfw\n  - module: modelkit\n    symbols: [BaseSettings]\n"
                                        "  - module: wsgikit.urls\n    symbols: [url_quote]\n")
    distribution(site, "webfw", "2.2.2", {"webfw/__init__.py": "from wsgikit.urls import url_quote\n"})
    distribution(site, "wsgikit", "3.0.1", WSGIKIT_3)
    distribution(site, "modelkit", "2.7.1", {"modelkit/__init__.py": MOVED})
    result = run_cli(["check"], app, env=cli_env(PYTHONPATH=str(site)))
    skew = result.check("webfw")
    assert skew["cause"] == "dependency_incompatible" and "imported from" not in skew["hint"]
    assert skew["details"]["provider"] == {"distribution": "wsgikit", "version": "3.0.1"}
    moved = result.check("modelkit:BaseSettings", kind="symbol")
    assert moved["cause"] == "symbol_missing" and moved.get("file") is None
    assert "the manifest's symbols" in moved["hint"] and "`modelkit-settings` package" in moved["hint"]
    gone = result.check("wsgikit.urls:url_quote", kind="symbol")
    assert gone["cause"] == "symbol_missing" and "the installed wsgikit 3.0.1 has no 'url_quote'" in gone["hint"]


def test_the_service_s_own_installed_project_is_not_a_library(tmp_path):
    """``pip install .`` put the service in site-packages: its import of a dropped name is its code to update."""
    app, site = service(tmp_path, "")
    (app / "app").rename(app / "unused")
    (app / "pyproject.toml").write_text('[project]\nname = "orders-svc"\nversion = "0.1"\n')
    distribution(site, "orders-svc", "0.1", {"app/__init__.py": "", "app/main.py": "from wsgikit.urls import url_quote\n"})
    distribution(site, "wsgikit", "3.0.1", WSGIKIT_3)
    found = check(app, site)
    assert found["cause"] == "symbol_missing"
    assert (found["file"], found["line"]) == (str(site / "app/main.py"), 1)


def test_the_application_s_own_failure_called_back_by_a_library_is_not_blamed_on_versions(tmp_path):
    app, site = service(tmp_path, "import reqlib\n\nreqlib.call(lambda: int('x'))\n")
    distribution(site, "reqlib", "2.25.1", {"reqlib/__init__.py": "def call(f):\n    return f()\n"},
                 requires=("urlkit<1.27",))
    distribution(site, "urlkit", "2.2.3", {"urlkit/__init__.py": ""})
    found = check(app, site)
    assert found["cause"] == "import_error" and found["line"] == 3


@pytest.mark.skipif(sys.version_info < (3, 11), reason="inspect.getargspec was removed in 3.11")
def test_the_application_using_a_name_this_python_removed_names_the_python(tmp_path):
    app, site = service(tmp_path, "import inspect\n\nSPEC = inspect.getargspec\n")
    found = check(app, site)
    assert found["cause"] == "symbol_missing" and found["line"] == 3
    assert f"the standard library's inspect in Python {RUNNING} has no 'getargspec'" in found["hint"]
    assert "getfullargspec" in found["details"]["did_you_mean"]
