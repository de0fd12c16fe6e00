"""Boundaries that keep the gate honest and fast."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import REPO


def test_check_interpreter_code_stays_standard_library_only():
    if shutil.which("lint-imports") is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run(["lint-imports"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "child stays stdlib-only KEPT" in proc.stdout


def test_cli_import_stays_light():
    """Importing the CLI must not pull in pydantic, structlog, yaml or docker: they load when needed."""
    code = "import sys, preflight.cli; print(sorted(m for m in ('pydantic', 'structlog', 'yaml', 'docker') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
