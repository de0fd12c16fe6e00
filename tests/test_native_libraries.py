"""Native code that imports on a developer's machine and fails in a slim image: a system library the
image lacks (loaded by an extension, ctypes or cffi, and reported in a library's own words), a build for
another libc or operating system, a build against a newer glibc. Each is a tiny distribution on disk or
a copy of one of this interpreter's own extensions with a library name changed in its header."""

from __future__ import annotations

import importlib.machinery
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import cli_env, run_cli
from test_container_failures import SSL_EXT
from test_dependency_skew import distribution, service

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
INCLUDE = Path(sysconfig.get_paths()["include"])


SSL_BYTES = SSL_EXT.read_bytes() if SSL_EXT else b""
LINUX_SSL = sys.platform == "linux" and b"libssl.so" in SSL_BYTES and b"libc.so.6" in SSL_BYTES

# how psycopg 3, python-magic and cairocffi report a library the loader could not find
LOADERS = {
    "psycopg": ("3.2.1", ("import ctypes\ntry:\n    ctypes.CDLL('libpq.so.99')\nexcept OSError as e:\n"
                "    raise ImportError('no pq wrapper available.\\nAttempts made:\\n- couldn\\'t import psycopg '\n"
                "                      f\"'python' implementation: {e}\") from None\n")),
    "magic": ("0.4.27", ("import ctypes\nfor lib in ('libmagic.so.99',):\n    try:\n        ctypes.CDLL(lib)\n"
              "    except OSError:\n        pass\nelse:\n"
              "    raise ImportError('failed to find libmagic.  Check your installation')\n")),
    "cairocffi": ("1.7.1", ("import ctypes\ntry:\n    ctypes.CDLL('libcairo.so.99')\nexcept OSError as e:\n"
                  "    raise OSError(f\"cannot load library 'libcairo.so.99': {e}.  Additionally, \"\n"
                  "                  \"ctypes.util.find_library() did not manage to locate it\") from None\n")),
}


@pytest.mark.skipif(sys.platform != "linux", reason="the loader's messages are glibc's and musl's")
@pytest.mark.parametrize("top,dist,library,debian,instead", [
    ("psycopg", "psycopg", "libpq.so.99", "libpq5", "psycopg[binary]"),
    ("magic", "python-magic", "libmagic", "libmagic1", None),
    ("cairocffi", "cairocffi", "libcairo.so.99", "libcairo2", None),
])
def test_a_library_loading_a_system_library_names_it_and_its_package(tmp_path, top, dist, library, debian, instead):
    """Was import_error "fix the code there": the loader's words sat inside the library's own message."""
    app, site = service(tmp_path, f"import os\n\nimport {top}\n")
    version, code = LOADERS[top]
    distribution(site, dist, version, {f"{top}/__init__.py": code})
    check = run_cli(["check"], app, env=cli_env(PYTHONPATH=str(site))).check("app.main")
    assert check["cause"] == "library_missing", check
    assert (check["file"], check["line"]) == (str(app / "app/main.py"), 3)
    assert check["details"]["library"] == library and check["details"]["distribution"] == dist
    assert check["details"]["packages"]["debian"] == debian
    assert debian in check["hint"] and f"{dist} {version}" in check["hint"]
    assert check["details"].get("instead") == instead
    if instead:
        assert f"pip install '{instead}'" in check["hint"]


@pytest.mark.skipif(not LINUX_SSL, reason="needs _ssl as an ELF extension linked to libssl and libc.so.6")
@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_an_extension_needing_libgl_names_the_package_and_the_headless_wheel(tmp_path, mode):
    """opencv-python in a slim image: libGL.so.1 is missing, and opencv-python-headless needs none."""
    app, site = service(tmp_path, "import os\n\nimport cv2\n")
    distribution(site, "opencv-python", "4.10.0.84", {"cv2/__init__.py": "from cv2 import _ssl\n"})
    (site / "cv2" / SSL_EXT.name).write_bytes(SSL_BYTES.replace(b"libssl.so", b"libGL.so."))
    check = run_cli(["check", "--mode", mode], app, env=cli_env(PYTHONPATH=str(site))).check("app.main")
    assert check["cause"] == "library_missing", check
    assert (check["file"], check["line"]) == (str(app / "app/main.py"), 3)
    details = check["details"]
    assert details["library"].startswith("libGL.so.") and details["distribution"] == "opencv-python"
    assert details["packages"] == {"debian": "libgl1", "alpine": "mesa-gl"}
    assert details["instead"] == "opencv-python-headless" and "ldd " in check["hint"]


@pytest.mark.skipif(not LINUX_SSL or not sys.platform.startswith("linux") or not shutil.which("ldd"),
                    reason="needs _ssl as an ELF extension linked to libc.so.6, on glibc")
def test_builds_for_another_libc_or_os_are_named(tmp_path):
    """A musllinux build copied from an Alpine stage (was library_missing "install libc.musl"), a macOS
    build from a developer's venv, and a musl tag this interpreter does not load."""
    app, site = service(tmp_path, "from mixed import _ssl\n")
    (app / "app/mac.py").write_text("from mixed import _mac\n")
    (app / "app/tagged.py").write_text("from mixed import _tagged\n")
    (app / "preflight.yaml").write_text("version: 1\nimports: [app.main, app.mac, app.tagged]\n")
    distribution(site, "mixed", "1.0", {"mixed/__init__.py": ""})
    (site / "mixed" / SSL_EXT.name).write_bytes(SSL_BYTES.replace(b"libc.so.6", b"libc.musl"))
    (site / "mixed" / f"_mac{SUFFIX}").write_bytes(b"\xcf\xfa\xed\xfe" + bytes(60))
    tag = f".cpython-{sys.version_info[0]}{sys.version_info[1]}-x86_64-linux-musl.so"
    shutil.copy(SSL_EXT, site / "mixed" / f"_tagged{tag}")
    result = run_cli(["check"], app, env=cli_env(PYTHONPATH=str(site)))
    musl = result.check("app.main")
    assert musl["cause"] == "extension_incompatible", musl
    assert musl["details"]["built_for"] == "Linux with musl (Alpine)" and "musllinux" in musl["hint"]
    mac = result.check("app.mac")
    assert mac["cause"] == "extension_incompatible" and mac["details"]["built_for"].startswith("a macOS")
    assert "developer's machine" in mac["hint"]
    tagged = result.check("app.tagged")
    assert tagged["cause"] == "extension_incompatible", tagged
    assert tagged["details"]["built_for"].endswith("x86_64 Linux (musl: Alpine)"), tagged


NEEDS_VERSION = r"""
#include <Python.h>
int qa_fn(void);
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__fast(void) { qa_fn(); return PyModule_Create(&def); }
"""


@pytest.mark.skipif(not shutil.which("cc") or not (INCLUDE / "Python.h").is_file() or sys.platform != "linux"
                    or not hasattr(os, "confstr"), reason="needs a C compiler, Python's headers, glibc")
def test_an_extension_built_against_a_newer_glibc_names_both_versions(tmp_path):
    """``version `GLIBC_2.99' not found (required by ...)``: built on a newer distribution than the image.
    A library of our own with a version node of that name stands for libc.so.6."""
    app, site = service(tmp_path, "import os\nfrom app import _fast\n")
    lib = app / "app" / "libqa.so.1"
    (tmp_path / "qa.c").write_text("int qa_fn(void) { return 1; }\n")
    (tmp_path / "ext.c").write_text(NEEDS_VERSION)

    def build_lib(node: str) -> None:
        (tmp_path / "qa.map").write_text(f"{node} {{ global: qa_fn; local: *; }};\n")
        subprocess.run(["cc", "-shared", "-fPIC", f"-Wl,--version-script={tmp_path / 'qa.map'}",
                        "-Wl,-soname,libqa.so.1", str(tmp_path / "qa.c"), "-o", str(lib)], check=True)

    build_lib("GLIBC_2.99")
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{INCLUDE}", str(tmp_path / "ext.c"), str(lib),
                    "-Wl,-rpath,$ORIGIN", "-o", str(app / "app" / f"_fast{SUFFIX}")], check=True)
    build_lib("GLIBC_2.17")  # the image's older one
    check = run_cli(["check"], app, env=cli_env(PYTHONPATH=str(site))).check("app.main")
    assert check["cause"] == "extension_incompatible", check
    assert (check["file"], check["line"]) == (str(app / "app/main.py"), 2)
    assert check["details"]["needs"] == "GLIBC_2.99" and check["details"]["library"] == str(lib)
    have = os.confstr("CS_GNU_LIBC_VERSION")
    assert check["details"]["available"] == have
    assert re.search(rf"needs glibc 2\.99 or newer, and this image has {re.escape(have)}", check["hint"])
