"""Lookups in the image's operating system that fail at import only in a container: a time zone with no
database (slim images lack tzdata).
Each is an image problem: the check names it as such, at the line that looked it up, never "fix the code"."""

from __future__ import annotations

import importlib.util
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

