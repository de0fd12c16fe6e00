"""Lookups in the image's operating system that fail at import only in a container: a time zone with no
database (slim images lack tzdata), a locale never generated.
Each is an image problem: the check names it as such, at the line that looked it up, never "fix the code"."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env, run_cli, service_tree

MODES = ("zygote", "fresh")


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

