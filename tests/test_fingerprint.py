"""The report's ``environment`` object, from real runs of ``preflight check`` on trees built here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import cli_env

CANARY = "zz-canary-secret-5b1e"


def service(root: Path, main: str = "VALUE = 1\n", manifest: str = "version: 1\nimports: [app.main]\n") -> Path:
    """A tiny service: ``app/`` with ``main.py`` and package data, and its manifest."""
    (root / "app" / "data").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text(main)
    (root / "app" / "data" / "schema.json").write_text('{"v": 1}\n')
    (root / "preflight.yaml").write_text(manifest)
    return root


def check(cwd: Path, report: Path, python: str | None = None, **env: str) -> tuple[int, dict, str]:
    """``preflight check --report`` in ``cwd``; returns status, the report, and the log."""
    command = [sys.executable, "-m", "preflight", "check", str(cwd / "preflight.yaml"), "--report", str(report),
               "--format", "json"]
    if python:
        command += ["--python", python]
    proc = subprocess.run(command, cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    return proc.returncode, json.loads(report.read_text()), proc.stderr


def test_environment_describes_the_interpreter_paths_and_variables_by_name(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc")
    missing = tmp_path / "not-there"
    status, report, log = check(tree, tmp_path / "r.json", PYTHONPATH=str(missing), SECRET_TOKEN=CANARY)
    env = report["environment"]
    assert status == 0, log
    assert report["schema"] == "preflight/report-v1"
    assert env["cwd"] == str(tree)
    assert env["python"]["executable"] and env["python"]["version_string"].startswith("3.")
    assert env["pythonpath"] == [str(missing)]
    entries = {e["path"]: e for e in env["sys_path"]}
    assert entries[str(missing)] == {"path": str(missing), "exists": False, "readable": False, "app": False}
    assert entries[str(tree)]["exists"] and entries[str(tree)]["readable"] and entries[str(tree)]["app"]
    assert "SECRET_TOKEN" in env["env_names"] and "PYTHONPATH" in env["env_names"]
    assert env["distributions"].get("pydantic")
    assert env["uid"] == os.getuid()
    assert CANARY not in json.dumps(report) and CANARY not in log


def test_modules_resolve_to_files_or_say_where_the_search_stopped(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc", main="from app.services.monitoring import track\n",
                   manifest="version: 1\nimports: [app.main, app.data]\n")
    (tree / "app" / "services").mkdir()
    (tree / "app" / "services" / "__init__.py").write_text("")
    status, report, _ = check(tree, tmp_path / "r.json")
    modules = report["environment"]["modules"]
    assert status == 1
    main = modules["app.main"]
    assert main["status"] == "failed" and main["cause"] == "module_not_found"
    assert main["rel"] == "app/main.py" and main["missing"] == "app.services.monitoring"
    assert main["imported_from"] == f"{tree}/app/main.py:1"
    search = main["missing_search"]
    assert search["stopped_at"] == str(tree / "app" / "services") and search["missing_name"] == "monitoring"
    assert search["rel"] == "app/services/"
    data = modules["app.data"]  # a namespace package: resolves to its directory
    assert data["status"] == "passed" and data["root"] == str(tree)


def test_app_digest_is_the_same_for_the_same_code_and_changes_with_it(tmp_path: Path) -> None:
    one, two = service(tmp_path / "one"), service(tmp_path / "two")
    (two / "app" / "__pycache__").mkdir()  # bytecode, hidden files and nested venvs are no code
    (two / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0" * 16)
    (two / "app" / ".DS_Store").write_bytes(b"x")
    (two / "app" / "venv").mkdir()
    (two / "app" / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    _, first, _ = check(one, tmp_path / "1.json")
    _, second, _ = check(two, tmp_path / "2.json")
    a, b = (r["environment"]["app"]["packages"]["app"] for r in (first, second))
    assert a["digest"] == b["digest"] and a["count"] == b["count"] == 3
    assert sorted(a["files"]) == ["app/__init__.py", "app/data/schema.json", "app/main.py"]
    assert a["kind"] == "package" and a["root"] == str(one)

    (two / "app" / "data" / "schema.json").write_text('{"v": 2}\n')  # package data is code too
    _, third, _ = check(two, tmp_path / "3.json")
    c = third["environment"]["app"]["packages"]["app"]
    assert c["digest"] != a["digest"] and c["count"] == a["count"]
    assert [n for n in c["files"] if c["files"][n] != a["files"][n]] == ["app/data/schema.json"]


def test_app_digest_is_bounded(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc")
    bulk = tree / "app" / "bulk"
    bulk.mkdir()
    for i in range(4100):
        (bulk / f"f{i:04}.txt").write_text(str(i))
    _, report, _ = check(tree, tmp_path / "r.json")
    package = report["environment"]["app"]["packages"]["app"]
    assert package["truncated"] is True
    assert package["count"] == 4000


def test_a_venv_is_recognised(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    tree = service(tmp_path / "svc")
    status, report, log = check(tree, tmp_path / "r.json", python=str(venv / "bin" / "python"))
    python = report["environment"]["python"]
    assert status == 0, log
    assert python["venv"] is True and python["prefix"] == str(venv)
    assert not any(e["app"] for e in report["environment"]["sys_path"] if str(venv) in e["path"])
