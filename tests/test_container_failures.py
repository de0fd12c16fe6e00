"""How services fail at import in a container, beyond a missing module: the filesystem refuses a write,
a config file was left out, the code reads its own distribution's metadata, a compiled extension
cannot load. Each tree is built on disk and checked through the real CLI, in both modes."""

from __future__ import annotations

import importlib.machinery
import json
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import cli_env, free_port, run_cli, service_tree

MODES = ("zygote", "fresh")
# As root, drop the capabilities that bypass file modes, as a non-root USER lacks them.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def _can_mount_read_only() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o ro tmpfs /mnt"],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs root and mount namespaces (unshare -m)")
@pytest.mark.parametrize("mode", MODES)
def test_a_write_to_a_read_only_filesystem_is_write_denied_at_the_writing_line(tmp_path, mode):
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/cache.py": """
            import os

            os.makedirs(os.path.join(os.path.dirname(__file__), "..", "data", "cache"), exist_ok=True)
            """,
        "app/logs.py": """
            import logging, pathlib

            handler = logging.FileHandler(pathlib.Path(__file__).parent.parent / "data" / "app.log")
            """,
    }, ["app.cache", "app.logs"])
    (root / "data").mkdir()
    # the server's view of a readOnlyRootFilesystem: data/ is a read-only mount
    read_only = ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o ro tmpfs "$0" && exec "$@"', str(root / "data")]
    result = run_cli(["check", "--mode", mode], root, prefix=read_only)
    for target, line, path in (("app.cache", 3, "data/cache"), ("app.logs", 3, "data/app.log")):
        check = result.check(target)
        assert check["cause"] == "write_denied", check
        assert (check["file"], check["line"]) == (str(root / "app" / f"{target[4:]}.py"), line)
        assert check["details"]["path"] == str(root / path) and check["details"]["read_only_filesystem"] is True
        assert "read-only" in check["hint"] and "emptyDir" in check["hint"]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is needed to drop root's override")
def _without_a_temporary_directory(tmp_path: Path, root: Path, mode: str, extra: list[str]) -> dict:
    """Check ``root`` as on a read-only root filesystem without a writable /tmp: /tmp, /var/tmp and the
    working directory mounted read-only, TMPDIR, TEMP and TMP naming directories that do not exist. The
    report goes to a writable mount of its own."""
    out = tmp_path / "out"
    out.mkdir()
    script = ('mount --bind "$0" "$0" && for d in /tmp /var/tmp /usr/tmp "$1"; do [ -d "$d" ] || continue; '
              'mount --rbind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 97; done; shift; exec "$@"')
    gone = tmp_path / "gone"
    env = cli_env(TMPDIR=str(gone / "tmpdir"), TEMP=str(gone / "temp"), TMP=str(gone / "tmp"))
    result = run_cli(["check", "--mode", mode, "--report", str(out / "report.json"), *extra], root, env=env,
                     report=False, prefix=["unshare", "-m", "sh", "-c", script, str(out), str(root)])
    assert result.returncode != 97, result.stderr
    assert (out / "report.json").exists(), result.stderr
    return json.loads((out / "report.json").read_text())


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs root and mount namespaces (unshare -m)")
@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="no writable /dev/shm")
@pytest.mark.parametrize("mode", MODES)
def test_the_gate_checks_where_no_temporary_directory_is_usable(tmp_path, mode):
    """tempfile finds no usable directory: the gate keeps its results in /dev/shm. It used to end in a
    traceback before checking anything."""
    root = service_tree(tmp_path / "svc", {"app/__init__.py": "", "app/main.py": "VALUE = 1\n"}, ["app.main"])
    report = _without_a_temporary_directory(tmp_path, root, mode, [])
    assert report["ok"] is True, report


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs root and mount namespaces (unshare -m)")
@pytest.mark.skipif(not os.access("/dev/shm", os.W_OK), reason="no writable /dev/shm")
@pytest.mark.parametrize("mode", MODES)
def test_no_usable_temporary_directory_at_import_is_write_denied_naming_the_directories_tried(tmp_path, mode):
    """tempfile's error names no file: the directories come from its frames. Was import_error "fix the code"."""
    root = service_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/scratch.py": "import tempfile\n\nSCRATCH = tempfile.mkdtemp()\n",
        "app/spool.py": "import tempfile\n\nSPOOL = tempfile.TemporaryFile()\n",
    }, ["app.scratch", "app.spool"])
    report = _without_a_temporary_directory(tmp_path, root, mode, [])
    checks = {c["target"]: c for c in report["checks"]}
    for module in ("scratch", "spool"):
        check = checks[f"app.{module}"]
        assert check["cause"] == "write_denied", check
        assert (check["file"], check["line"]) == (str(root / f"app/{module}.py"), 3)
        details = check["details"]
        assert details["tried"][0] == str(tmp_path / "gone/tmpdir") and "/tmp" in details["tried"]
        assert {"/tmp", str(root)} <= set(details["read_only"]) and details["read_only_filesystem"] is True
        assert str(tmp_path / "gone/tmpdir") in details["absent"]
        assert f"{tmp_path / 'gone/tmpdir'} ($TMPDIR) does not exist" in check["hint"]
        assert "emptyDir" in check["hint"] and "TMPDIR" in check["hint"] and "fix the code" not in check["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_files_the_code_cannot_write_or_read_are_not_blamed_on_the_import_system(tmp_path, mode):
    """A PermissionError on a data file is no unreadable module: the line that opened it is the place."""
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/logs.py": """
            import logging

            logging.basicConfig(filename="locked/app.log")
            """,
        "app/config.py": """
            import json

            CONFIG = json.load(open("secret.json"))
            """,
    }, ["app.logs", "app.config"])
    (root / "locked").mkdir(mode=0o555)
    (root / "secret.json").write_text("{}")
    (root / "secret.json").chmod(0)
    result = run_cli(["check", "--mode", mode], root, prefix=NO_DAC)
    write = result.check("app.logs")
    assert write["cause"] == "write_denied", write
    assert (write["file"], write["line"]) == (str(root / "app/logs.py"), 3)
    assert write["details"] == {"path": str(root / "locked/app.log"), "uid": os.getuid(),
                                "read_only_filesystem": False}
    assert f"mkdir -p {root / 'locked'} && chown" in write["hint"]
    read = result.check("app.config")
    assert read["cause"] == "permission_denied", read
    assert (read["file"], read["line"]) == (str(root / "app/config.py"), 3)
    assert read["details"]["path"] == str(root / "secret.json")
    assert "app/config.py:3 reads it" in read["hint"]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is needed to drop root's override")
@pytest.mark.parametrize("mode", MODES)
def test_a_file_in_a_directory_the_user_cannot_enter_is_permission_denied_not_a_write(tmp_path, mode):
    """Reading a file whose directory has no search permission (a root-owned 0700 directory): the file
    cannot even be looked at, so it is no refused write; the directory is named."""
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/config.py": """
            import json

            CONFIG = json.load(open("private/config.json"))
            """,
        "private/config.json": "{}",
    }, ["app.config"])
    (root / "private").chmod(0)
    try:
        result = run_cli(["check", "--mode", mode], root, prefix=NO_DAC)
    finally:
        (root / "private").chmod(0o755)
    check = result.check("app.config")
    assert check["cause"] == "permission_denied", check
    assert (check["file"], check["line"]) == (str(root / "app/config.py"), 3)
    assert check["details"]["directory"] == str(root / "private")
    assert check["details"]["path"] == str(root / "private/config.json")
    assert "may not enter" in check["hint"] and "writes" not in check["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_a_file_or_program_left_out_of_the_image_is_file_missing(tmp_path, mode):
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/settings.py": """
            import json

            with open("config/settings.json") as f:
                SETTINGS = json.load(f)
            """,
        "app/version.py": """
            import subprocess

            SHA = subprocess.check_output(["preflight-test-no-such-program", "rev-parse", "HEAD"])
            """,
    }, ["app.settings", "app.version"])
    result = run_cli(["check", "--mode", mode], root)
    config = result.check("app.settings")
    assert config["cause"] == "file_missing", config
    assert (config["file"], config["line"]) == (str(root / "app/settings.py"), 3)
    assert config["details"] == {"path": str(root / "config/settings.json"), "exists_up_to": str(root)}
    assert f"against the working directory {root}" in config["hint"] and ".dockerignore" in config["hint"]
    program = result.check("app.version")
    assert program["cause"] == "file_missing", program
    assert (program["file"], program["line"]) == (str(root / "app/version.py"), 3)
    assert "runs the program 'preflight-test-no-such-program'" in program["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_a_ca_bundle_missing_from_the_image_is_file_missing_at_the_line_that_made_the_context(tmp_path, mode):
    """ssl's FileNotFoundError names no file: the bundle is read from ssl's ``cafile``, from the arguments of
    ``load_verify_locations``, or from SSL_CERT_FILE through httpx. Was import_error "fix the code there"."""
    bundle = tmp_path / "certs/custom/ca.pem"
    root = service_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/tls.py": f"import ssl\n\nCONTEXT = ssl.create_default_context(cafile={str(bundle)!r})\n",
        "app/direct.py": f"""
            import ssl

            BUNDLE = {str(bundle)!r}
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.load_verify_locations(BUNDLE)
            """,
        "app/client.py": "import httpx\n\nCLIENT = httpx.Client()\n",
    }, ["app.tls", "app.direct", "app.client"])
    env = cli_env(SSL_CERT_FILE=str(bundle))
    result = run_cli(["check", "--mode", mode], root, env=env)
    for module, line, via in [("tls", 3, "ssl.create_default_context"), ("direct", 5, "load_verify_locations"),
                              ("client", 3, "ssl.create_default_context")]:
        check = result.check(f"app.{module}")
        assert check["cause"] == "file_missing", check
        assert (check["file"], check["line"]) == (str(root / f"app/{module}.py"), line)
        assert check["details"]["path"] == str(bundle) and check["details"]["ca_bundle"] == via
        assert check["details"]["exists_up_to"] == str(tmp_path)
        assert "ca-certificates" in check["hint"] and "certifi" in check["hint"] and "fix the code" not in check["hint"]
    assert result.check("app.client")["details"]["variable"] == "SSL_CERT_FILE"
    assert "$SSL_CERT_FILE" in result.check("app.client")["hint"]


def test_a_ca_bundle_given_to_requests_that_the_image_lacks_is_file_missing(tmp_path):
    pytest.importorskip("requests")
    bundle = tmp_path / "ca.pem"
    root = service_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/fetch.py": f"import requests\n\nCONFIG = requests.get('https://127.0.0.1:9/', verify={str(bundle)!r})\n",
    }, ["app.fetch"])
    check = run_cli(["check"], root).check("app.fetch")
    assert check["cause"] == "file_missing", check
    assert (check["file"], check["line"]) == (str(root / "app/fetch.py"), 3)
    assert check["details"]["path"] == str(bundle) and "ca-certificates" in check["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_reading_the_services_own_metadata_when_it_was_never_installed(tmp_path, mode):
    """``importlib.metadata.version("svc")`` in an image that copied the code but never pip-installed it:
    importlib.metadata raises PackageNotFoundError from its own StopIteration, which is no root cause."""
    root = service_tree(tmp_path, {
        "pyproject.toml": '[project]\nname = "Orders-Service"\nversion = "1.0"\n',
        "app/__init__.py": "",
        "app/version.py": """
            from importlib.metadata import version

            __version__ = version("orders_service")
            """,
        "app/other.py": """
            import importlib.metadata

            EXTRA = importlib.metadata.version("preflight-test-not-installed")
            """,
    }, ["app.version", "app.other"])
    result = run_cli(["check", "--mode", mode], root)
    own = result.check("app.version")
    assert (own["cause"], own["error_type"]) == ("distribution_missing", "PackageNotFoundError"), own
    assert (own["file"], own["line"]) == (str(root / "app/version.py"), 3)
    assert "wrapped_by" not in own["details"]
    assert own["details"]["own_project"] == str(root / "pyproject.toml")
    assert "pip install --no-deps ." in own["hint"]
    other = result.check("app.other")
    assert other["cause"] == "distribution_missing" and other["details"]["install"] == "preflight-test-not-installed"
    assert "pip install preflight-test-not-installed" in other["hint"]


def _extension(name: str) -> Path | None:
    """The standard library's compiled extension module ``name`` as a file, when it is one."""
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec else None
    return Path(origin) if origin and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) else None


JSON_EXT = _extension("_json")


@pytest.mark.skipif(JSON_EXT is None or sys.platform != "linux", reason="needs _json as an ELF extension file")
@pytest.mark.parametrize("mode", MODES)
def test_extensions_built_for_another_python_or_machine_or_not_there_at_all(tmp_path, mode):
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    root = service_tree(tmp_path, {
        "app/__init__.py": "", "app/native/__init__.py": "",
        "app/newer.py": "from app.native import _json\n",
        "app/arm.py": "import app.native._arm\n",
        "app/lfs.py": "from app.native import _lfs\n",
    }, ["app.newer", "app.arm", "app.lfs"])
    native = root / "app/native"
    shutil.copy(JSON_EXT, native / "_json.cpython-399-x86_64-linux-gnu.so")  # a build stage on another Python
    elf = bytearray(JSON_EXT.read_bytes())
    elf[18:20] = (183 if elf[18:20] != (183).to_bytes(2, "little") else 62).to_bytes(2, "little")  # e_machine
    (native / f"_arm{suffix}").write_bytes(bytes(elf))
    (native / f"_lfs{suffix}").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n")
    result = run_cli(["check", "--mode", mode], root)
    newer = result.check("app.newer")
    assert newer["cause"] == "extension_incompatible", newer
    assert (newer["file"], newer["line"]) == (str(root / "app/newer.py"), 1)
    assert newer["details"]["path"] == str(native / "_json.cpython-399-x86_64-linux-gnu.so")
    assert suffix in newer["hint"] and "same Python version" in newer["hint"]
    arm = result.check("app.arm")
    assert arm["cause"] == "extension_incompatible", arm
    assert (arm["file"], arm["line"]) == (str(root / "app/arm.py"), 1)
    assert arm["details"]["built_for"].startswith("an ELF shared object for ") and "--platform" in arm["hint"]
    lfs = result.check("app.lfs")
    assert lfs["cause"] == "extension_incompatible" and "Git LFS pointer" in lfs["hint"], lfs


SSL_EXT = _extension("_ssl")


@pytest.mark.skipif(SSL_EXT is None or not re.search(rb"libssl\.so", SSL_EXT.read_bytes() if SSL_EXT else b""),
                    reason="needs _ssl as an extension linked to libssl")
@pytest.mark.parametrize("mode", MODES)
def test_a_system_library_missing_from_the_image_is_named(tmp_path, mode):
    root = service_tree(tmp_path, {
        "app/__init__.py": "", "app/native/__init__.py": "",
        "app/tls.py": "from app.native import _ssl\n",
        "app/pq.py": "import ctypes\n\nlibpq = ctypes.CDLL('libpreflight-test-pq.so.5')\n",
    }, ["app.tls", "app.pq"])
    # the same extension, linked to a library no image has: what a slim runtime stage without libssl sees
    linked = re.sub(rb"libssl\.so", b"libxyz.so", SSL_EXT.read_bytes())
    (root / "app/native" / SSL_EXT.name).write_bytes(linked)
    result = run_cli(["check", "--mode", mode], root)
    tls = result.check("app.tls")
    assert tls["cause"] == "library_missing", tls
    assert tls["details"]["library"].startswith("libxyz.so")
    assert (tls["file"], tls["line"]) == (str(root / "app/tls.py"), 1)
    assert "apt-get install" in tls["hint"]
    pq = result.check("app.pq")
    assert pq["cause"] == "library_missing", pq
    assert pq["details"]["library"] == "libpreflight-test-pq.so.5"
    assert (pq["file"], pq["line"]) == (str(root / "app/pq.py"), 3)


INCLUDE = Path(sysconfig.get_paths()["include"])
REFUSING_EXTENSION = r"""
#include <Python.h>
PyMODINIT_FUNC PyInit__speedups(void) {
    PyErr_SetString(PyExc_ImportError, "this build needs a CPU with AVX2");
    return NULL;
}
"""


@pytest.mark.skipif(not shutil.which("cc") or not (INCLUDE / "Python.h").is_file(),
                    reason="needs a C compiler and Python's headers")
@pytest.mark.parametrize("mode", MODES)
def test_an_extension_whose_own_init_raises_is_named(tmp_path, mode):
    """The extension loads, then its init function raises (a CPU level it needs, numpy's ABI check): the
    importing line has nothing to fix. Was import_error "fix the code there" at that line."""
    root = service_tree(tmp_path, {"app/__init__.py": "", "app/main.py": "import os\nfrom app import _speedups\n",
                                   "app/fast.py": "from ._speedups import mean\n"}, ["app.main", "app.fast"])
    (tmp_path / "speedups.c").write_text(REFUSING_EXTENSION)
    extension = root / "app" / f"_speedups{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{INCLUDE}", str(tmp_path / "speedups.c"), "-o", str(extension)],
                   check=True)
    result = run_cli(["check", "--mode", mode], root)
    for target, line in (("app.main", 2), ("app.fast", 1)):
        check = result.check(target)
        assert check["cause"] == "extension_incompatible", check
        assert (check["file"], check["line"]) == (str(root / "app" / f"{target[4:]}.py"), line)
        assert check["details"]["path"] == str(extension) and check["details"]["raised_by"] == "init"
        assert "raised ImportError from its own initialisation" in check["hint"] and "AVX2" in check["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_a_relative_import_in_a_module_imported_from_inside_its_package(tmp_path, mode):
    """WORKDIR /srv/app with `uvicorn main:app`, where main.py does `from .core import X`: Python says
    only "no known parent package"; the module's package makes it app.main."""
    svc = tmp_path / "srv"
    service_tree(svc, {
        "app/__init__.py": "", "app/core.py": "X = 1\n", "app/api/__init__.py": "",
        "app/main.py": "from .core import X\n",
        "app/api/routes.py": "from ..core import X\n",
        "app/api/deep.py": "def handler():\n    pass\n\n\nfrom ...elsewhere import Y\n",
    }, ["app.api.deep"])
    (svc / "app/preflight.yaml").write_text("version: 1\nimports: [main, api.routes]\n")
    result = run_cli(["check", "--mode", mode], svc / "app")
    main = result.check("main")
    assert main["cause"] == "relative_import", main
    assert (main["file"], main["line"]) == (str(svc / "app/main.py"), 1)
    assert main["details"] == {"imported_as": "main", "level": 1, "package_name": "app.main",
                               "package_root": str(svc)}
    assert "uvicorn app.main:app" in main["hint"] and f"WORKDIR {svc}" in main["hint"]
    routes = result.check("api.routes")
    assert routes["cause"] == "relative_import" and routes["details"]["package_name"] == "app.api.routes", routes
    above = run_cli(["check", "--mode", mode], svc).check("app.api.deep")  # too many dots, whatever the name
    assert above["cause"] == "relative_import", above
    assert (above["file"], above["line"]) == (str(svc / "app/api/deep.py"), 5)
    assert "above its top-level package 'app'" in above["hint"]


@pytest.mark.parametrize("mode", MODES)
def test_a_connection_that_fails_at_import_names_the_address_and_why(tmp_path, mode):
    """A config fetch or a client's ping at import, to a service the container cannot reach: refused on
    localhost (the container itself), a name that does not resolve (.invalid never does), through httpx's
    wrappers and through the application's own. Was import_error "fix the code there"."""
    port = free_port()  # bound and released: nothing listens there
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/remote.py": f"import httpx\n\nCONFIG = httpx.get('http://localhost:{port}/config').json()\n",
        "app/db.py": "import socket\n\nconn = socket.create_connection(('db.preflight-test.invalid', 5432), timeout=5)\n",
        "app/cache.py": f"""
            import socket


            class CacheUnavailable(Exception):
                pass


            def ping(host, port):
                try:
                    socket.create_connection((host, port), timeout=5).close()
                except OSError as exc:
                    raise CacheUnavailable(f"cache at {{host}}:{{port}} is down") from exc


            ping("127.0.0.1", {port})
            """,
    }, ["app.remote", "app.db", "app.cache"])
    result = run_cli(["check", "--mode", mode], root)
    remote = result.check("app.remote")
    assert remote["cause"] == "connection_failed", remote
    assert (remote["file"], remote["line"]) == (str(root / "app/remote.py"), 3)
    assert remote["details"]["reason"] == "refused"
    assert (remote["details"]["host"], remote["details"]["port"]) == ("localhost", port)
    assert "localhost is the container itself" in remote["hint"] and "at import" in remote["hint"]
    db = result.check("app.db")
    assert db["cause"] == "connection_failed", db
    assert (db["details"]["reason"], db["details"]["host"]) == ("name_unknown", "db.preflight-test.invalid")
    assert "does not resolve" in db["hint"] and "container itself" not in db["hint"]
    cache = result.check("app.cache")
    assert cache["cause"] == "connection_failed", cache
    assert (cache["file"], cache["line"]) == (str(root / "app/cache.py"), 10)
    assert cache["details"]["wrapped_by"]["error_type"] == "CacheUnavailable"
