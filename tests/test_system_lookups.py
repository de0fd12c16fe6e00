"""Lookups in the image's operating system that fail at import only in a container: a time zone with no
database (slim images lack tzdata), a locale never generated, a uid without a passwd entry (OpenShift).
Each is an image problem: the check names it as such, at the line that looked it up, never "fix the code"."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env, run_cli, service_tree

MODES = ("zygote", "fresh")
ARBITRARY_UID = 1000870000  # an OpenShift-style uid no image has in /etc/passwd


@pytest.mark.skipif(importlib.util.find_spec("tzdata") is not None, reason="the tzdata distribution is installed")
@pytest.mark.parametrize("mode", MODES)
def test_a_time_zone_in_an_image_without_a_database_is_timezone_missing(tmp_path, mode):
    root = service_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/clock.py": """
            from zoneinfo import ZoneInfo

            PARIS = ZoneInfo("Europe/Paris")
            """,
    }, ["app.clock"])
    (tmp_path / "no-zoneinfo").mkdir()
    result = run_cli(["check", "--mode", mode], root, env=cli_env(PYTHONTZPATH=str(tmp_path / "no-zoneinfo")))
    check = result.check("app.clock")
    assert check["cause"] == "timezone_missing", check
    assert (check["file"], check["line"]) == (str(root / "app/clock.py"), 3)
    assert check["details"]["key"] == "Europe/Paris" and check["details"]["database"] is None
    assert "pip install tzdata" in check["hint"] and "apt-get install tzdata" in check["hint"]
    assert "fix the code" not in check["hint"]


@pytest.mark.skipif(not Path("/usr/share/zoneinfo/Europe/Paris").is_file(), reason="no system time zone database")
def test_a_misspelt_time_zone_is_named_with_the_zone_meant(tmp_path):
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/clock.py": """
            import zoneinfo

            PARIS = zoneinfo.ZoneInfo("Europe/Pariss")
            """,
    }, ["app.clock"])
    result = run_cli(["check"], root, env=cli_env(PYTHONTZPATH="/usr/share/zoneinfo"))
    check = result.check("app.clock")
    assert check["cause"] == "timezone_missing", check
    assert check["details"]["database"] == "/usr/share/zoneinfo"
    assert "Europe/Paris" in check["details"]["did_you_mean"] and "'Europe/Paris'" in check["hint"]


def _has_locale(name: str) -> bool:
    code = f"import locale; locale.setlocale(locale.LC_ALL, {name!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


@pytest.mark.skipif(_has_locale("qa_ZZ.UTF-8"), reason="this C library accepts any locale name (musl)")
@pytest.mark.parametrize("mode", MODES)
def test_a_locale_the_image_never_generated_is_locale_missing(tmp_path, mode):
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/money.py": """
            import locale

            locale.setlocale(locale.LC_ALL, "qa_ZZ.UTF-8")
            """,
        "app/fromenv.py": """
            import locale

            locale.setlocale(locale.LC_ALL, "")
            """,
    }, ["app.money", "app.fromenv"])
    env = {k: v for k, v in cli_env().items() if not k.startswith("LC_")}
    result = run_cli(["check", "--mode", mode], root, env={**env, "LANG": "qa_ZZ.UTF-8"})
    money = result.check("app.money")
    assert money["cause"] == "locale_missing", money
    assert (money["file"], money["line"]) == (str(root / "app/money.py"), 3)
    assert money["details"]["locale"] == "qa_ZZ.UTF-8" and money["details"]["variable"] is None
    assert "localedef -i qa_ZZ -f UTF-8 qa_ZZ.UTF-8" in money["hint"]
    from_env = result.check("app.fromenv")
    assert from_env["cause"] == "locale_missing", from_env
    assert (from_env["details"]["locale"], from_env["details"]["variable"]) == ("qa_ZZ.UTF-8", "LANG")
    assert "$LANG" in from_env["hint"]


def _as_arbitrary_uid() -> list[str] | None:
    """A prefix running the rest as a uid with no passwd entry, still able to read root's files (this
    interpreter may live under /root): None unless root with setpriv and ambient capabilities."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    caps = "+dac_read_search,+dac_override"
    prefix = ["setpriv", f"--reuid={ARBITRARY_UID}", f"--regid={ARBITRARY_UID}", "--clear-groups",
              f"--inh-caps={caps}", f"--ambient-caps={caps}"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import os; print(os.getuid())"], capture_output=True,
                           text=True)
    return prefix if probe.stdout.strip() == str(ARBITRARY_UID) else None


@pytest.mark.skipif(_as_arbitrary_uid() is None, reason="needs root, setpriv and ambient capabilities")
@pytest.mark.parametrize("mode", MODES)
def test_a_uid_without_a_passwd_entry_is_user_unknown(tmp_path, mode):
    root = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/owner.py": """
            import getpass

            OWNER = getpass.getuser()
            """,
        "app/home.py": """
            import os
            import pwd

            HOME = pwd.getpwuid(os.getuid()).pw_dir
            """,
        "app/lookup.py": """
            SETTINGS = {}

            NAME = SETTINGS["owner"]
            """,
    }, ["app.owner", "app.home", "app.lookup"])
    env = {k: v for k, v in cli_env().items() if k not in ("LOGNAME", "USER", "LNAME", "USERNAME")}
    result = run_cli(["check", "--mode", mode], root, env=env, prefix=_as_arbitrary_uid())
    owner = result.check("app.owner")
    assert owner["cause"] == "user_unknown", owner
    assert (owner["file"], owner["line"]) == (str(root / "app/owner.py"), 3)
    assert owner["details"] == {"uid": ARBITRARY_UID, "lookup": "getpass.getuser"}
    assert "ENV USER=" in owner["hint"] and "OpenShift" in owner["hint"]
    home = result.check("app.home")
    assert home["cause"] == "user_unknown", home
    assert (home["file"], home["line"], home["details"]["lookup"]) == (str(root / "app/home.py"), 4, "pwd.getpwuid")
    assert "nss_wrapper" in home["hint"]
    assert result.check("app.lookup")["cause"] == "import_error"  # any other KeyError stays the code's
