"""One real fixture tree per cause code, checked through the real CLI in a real subprocess."""

from __future__ import annotations

import json
import os
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import alive, cli_env, run_cli


def test_healthy_service_passes(fixture_tree):
    tree = fixture_tree("healthy")
    result = run_cli(["check"], tree)
    assert result.returncode == 0, result.stderr
    assert result.report["ok"] is True
    assert result.report["schema"] == "preflight/report-v1"
    assert result.check("app.core.errors:ServiceError", kind="symbol")["status"] == "passed"
    assert result.check("app.main")["details"]["resolved"] == str(tree / "app" / "main.py")


def test_order_dependent_circular_import_is_caught(fixture_tree):
    tree = fixture_tree("circular")
    result = run_cli(["check"], tree)
    assert result.returncode == 1
    assert result.check("app.core.errors_agent")["status"] == "passed"  # the lucky order
    failed = result.check("app.core.errors_service")
    assert failed["cause"] == "circular_import"
    assert failed["file"] == str(tree / "app/core/errors_agent.py") and failed["line"] == 5
    cycle = [step["module"] for step in failed["details"]["cycle"]]
    assert cycle == ["app.core.errors_service", "app.core.errors_agent"]
    assert failed["details"]["missing_name"] == "handle"
    assert "defined at line 5" in failed["hint"]


def test_missing_subpackage_names_the_importer(fixture_tree):
    tree = fixture_tree("module_not_found")
    check = run_cli(["check"], tree).check("app.middleware.gcp_auth")
    assert check["cause"] == "module_not_found"
    assert check["details"]["missing"] == "app.services.monitoring"
    assert (check["file"], check["line"]) == (str(tree / "app/middleware/gcp_auth.py"), 3)
    assert ".dockerignore" in check["hint"]


def test_only_bytecode_left_is_named(fixture_tree):
    tree = fixture_tree("module_not_found")
    source = tree / "app/services/monitoring.py"
    source.write_text("def track_request(request):\n    pass\n")
    py_compile.compile(str(source), cfile=str(tree / "app/services/__pycache__/monitoring.cpython-311.pyc"))
    source.unlink()
    check = run_cli(["check"], tree).check("app.middleware.gcp_auth")
    assert check["cause"] == "module_not_found"
    assert check["details"]["bytecode_only"].endswith("monitoring.cpython-311.pyc")
    assert "only bytecode" in check["hint"]


def test_code_outside_sys_path(fixture_tree):
    tree = fixture_tree("not_on_sys_path")
    check = run_cli(["check"], tree).check("app.main")
    assert check["cause"] == "not_on_sys_path"
    assert check["details"]["root"] == str(tree / "src")
    assert f"PYTHONPATH={tree / 'src'}" in check["hint"]
    fixed = run_cli(["check"], tree, env=cli_env(PYTHONPATH=str(tree / "src")))
    assert fixed.returncode == 0, fixed.stderr


def test_third_party_module_missing_names_the_pip_package(fixture_tree):
    tree = fixture_tree("distribution_missing")
    result = run_cli(["check"], tree)
    check = result.check("app.vision")
    assert check["cause"] == "distribution_missing"
    assert check["details"]["install"] == "opencv-python"
    assert (check["file"], check["line"]) == (str(tree / "app/vision.py"), 4)
    assert "pip install opencv-python" in check["hint"]


def test_distributions_missing_and_conflicting(fixture_tree):
    result = run_cli(["check"], fixture_tree("distribution_missing"))
    assert result.check("pyyaml>=6", kind="distribution")["status"] == "passed"
    missing = result.check("no-such-distribution-xyz>=1", kind="distribution")
    assert missing["cause"] == "distribution_missing"
    conflict = result.check("pyyaml<1", kind="distribution")
    assert conflict["cause"] == "version_conflict"
    assert conflict["details"]["installed"].startswith("6.")


def test_stray_file_shadowing_the_stdlib(fixture_tree):
    tree = fixture_tree("shadowed")
    check = run_cli(["check"], tree).check("app.tokens")
    assert check["cause"] == "shadowed"
    assert check["details"]["loaded"] == str(tree / "secrets.py")
    assert check["details"]["stdlib"] is True
    assert check["details"]["hidden"] and check["details"]["hidden"][0].endswith("secrets.py")
    assert "Rename " in check["hint"]


def test_symbol_missing_suggests_close_names(fixture_tree):
    result = run_cli(["check"], fixture_tree("symbol_missing"))
    assert result.returncode == 1
    check = result.check("app.errors:ServiceErorr", kind="symbol")
    assert check["cause"] == "symbol_missing"
    assert check["details"]["did_you_mean"][0] == "ServiceError"
    assert result.check("app.errors:AgentError", kind="symbol")["status"] == "passed"


def test_name_error_says_which_import_is_missing(fixture_tree):
    tree = fixture_tree("name_error")
    result = run_cli(["check"], tree)
    cache = result.check("app.cache")
    assert cache["cause"] == "name_error"
    assert (cache["file"], cache["line"]) == (str(tree / "app/cache.py"), 5)
    assert cache["details"] == {"name": "json", "importable_module": True}
    assert "missing `import json`?" in cache["hint"]
    worker = result.check("app.worker")
    assert worker["cause"] == "name_error" and worker["details"]["importable_module"] is False
    assert "missing `import" not in worker["hint"]


def test_syntax_error_deep_in_the_chain(fixture_tree):
    tree = fixture_tree("syntax_error")
    check = run_cli(["check"], tree).check("app.main")
    assert check["cause"] == "syntax_error"
    assert (check["file"], check["line"]) == (str(tree / "app/api/handlers.py"), 4)


def test_other_exception_is_an_import_error_with_its_app_frame(fixture_tree):
    tree = fixture_tree("import_error")
    check = run_cli(["check"], tree).check("app.config")
    assert check["cause"] == "import_error"
    assert check["error_type"] == "ValueError"
    assert (check["file"], check["line"]) == (str(tree / "app/config.py"), 3)
    assert "Traceback" in check["stack_trace"]


def test_hanging_import_times_out_and_leaves_nothing_running(fixture_tree, tmp_path):
    tree = fixture_tree("timeout")
    pids_file = tmp_path / "pids"
    result = run_cli(["check"], tree, env=cli_env(FIXTURE_PIDS=str(pids_file)))
    check = result.check("app.slow")
    assert check["status"] == "timed_out" and check["cause"] == "timeout"
    assert (check["file"], check["line"]) == (str(tree / "app/slow.py"), 9)
    assert "Timeout" in check["stack_trace"]
    for pid in map(int, pids_file.read_text().split()):
        assert not alive(pid), f"process {pid} survived the check"



def test_crash_and_exits_at_import(fixture_tree):
    tree = fixture_tree("crashed")
    result = run_cli(["check"], tree)
    crashed = result.check("app.native")
    assert crashed["cause"] == "crashed" and crashed["error_type"] == "SIGSEGV"
    assert (crashed["file"], crashed["line"]) == (str(tree / "app/native.py"), 4)
    exited = result.check("app.cli")
    assert exited["cause"] == "exited" and exited["details"]["exit_code"] == 3
    assert exited["line"] == 4
    hard = result.check("app.hard_exit")
    assert hard["cause"] == "exited" and hard["details"]["exit_code"] == 4


def test_environment_checks(fixture_tree):
    env = cli_env(PREFLIGHT_FIXTURE_EMPTY="")
    result = run_cli(["check"], fixture_tree("environment"), env=env)
    assert result.returncode == 1
    assert result.check("/nonexistent/srv", kind="workdir")["cause"] == "workdir_mismatch"
    assert result.check("<3.0", kind="python")["cause"] == "python_mismatch"
    assert result.check("/nonexistent/lib", kind="path")["cause"] == "path_missing"
    not_on_path = [c for c in result.report["checks"] if c["kind"] == "path" and c["target"].endswith("/app")][0]
    assert "not on the interpreter's sys.path" in not_on_path["message"]
    assert result.check("PREFLIGHT_FIXTURE_DATABASE_URL", kind="env")["message"].endswith("not set")
    assert result.check("PREFLIGHT_FIXTURE_EMPTY", kind="env")["message"].endswith("empty")
    assert result.check("app")["status"] == "passed"


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is needed to drop root's override")
def test_unreadable_file_and_directory(fixture_tree):
    tree = fixture_tree("healthy")
    (tree / "app/core/errors.py").chmod(0)
    locked = tree / "app/locked"
    locked.mkdir()
    (locked / "__init__.py").write_text("VALUE = 1\n")
    (tree / "preflight.yaml").write_text(
        "version: 1\nimports:\n  - app.core.errors\n  - module: app.locked\n    symbols: [VALUE]\n")
    locked.chmod(0)
    try:
        # As root, drop the capabilities that bypass file permissions, as a non-root USER lacks them.
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.getuid() == 0 else []
        result = run_cli(["check"], tree, prefix=prefix)
    finally:
        locked.chmod(0o755)
    unreadable = result.check("app.core.errors")
    assert unreadable["cause"] == "permission_denied"
    assert unreadable["details"]["path"] == str(tree / "app/core/errors.py")
    assert unreadable["details"]["uid"] == os.getuid()
    hidden_dir = result.check("app.locked:VALUE", kind="symbol")
    assert hidden_dir["cause"] == "permission_denied"
    assert hidden_dir["details"]["path"] == str(locked)


def test_output_flood_is_capped(fixture_tree):
    check = run_cli(["check"], fixture_tree("noisy")).check("app.chatty")
    assert check["cause"] == "import_error"
    assert len(check["output"]) <= 4096
    assert "debug line 99999" in check["output"]
    assert check["details"]["output_bytes"] > 5_000_000


def test_wrapped_failures_are_diagnosed_from_the_root(fixture_tree):
    tree = fixture_tree("wrapped")
    result = run_cli(["check"], tree)
    explicit = result.check("app.middleware.setup")
    assert explicit["cause"] == "module_not_found"
    assert (explicit["file"], explicit["line"]) == (str(tree / "app/middleware/gcp_auth.py"), 3)
    wrapper = explicit["details"]["wrapped_by"]
    assert wrapper["error_type"] == "ImportError" and wrapper["message"].startswith("CRITICAL")
    assert (wrapper["file"], wrapper["line"]) == (str(tree / "app/middleware/setup.py"), 4)
    implicit = result.check("app.implicit")
    assert implicit["cause"] == "name_error" and implicit["line"] == 2
    assert implicit["details"]["wrapped_by"]["error_type"] == "RuntimeError"
    assert implicit["details"]["wrapped_by"]["line"] == 4


def test_package_hiding_a_module_of_the_same_name(fixture_tree):
    tree = fixture_tree("twins")
    check = run_cli(["check"], tree).check("app.api")
    assert check["cause"] == "shadowed"
    details = check["details"]
    assert details["loaded"] == str(tree / "app/core/exceptions/__init__.py")
    assert details["hidden"] == [str(tree / "app/core/exceptions.py")]
    assert details["hidden_defines"] == {str(tree / "app/core/exceptions.py"): True}
    assert "package directory wins" in check["hint"]


def test_one_module_name_in_two_sys_path_entries(fixture_tree):
    tree = fixture_tree("twin_paths")
    env = cli_env(PYTHONPATH=f"{tree / 'vendor'}:{tree / 'lib'}")
    check = run_cli(["check"], tree, env=env).check("app.db")
    assert check["cause"] == "shadowed"
    assert check["details"]["loaded"] == str(tree / "vendor/settings.py")
    assert check["details"]["hidden"] == [str(tree / "lib/settings.py")]
    assert check["details"]["hidden_defines"][str(tree / "lib/settings.py")] is True
    assert "first match on sys.path" in check["hint"]


def test_variable_read_at_import_and_unset(fixture_tree):
    tree = fixture_tree("environ_read")
    check = run_cli(["check"], tree).check("app.payments")
    assert check["cause"] == "env_missing"
    assert check["details"]["name"] == "PREFLIGHT_FIXTURE_PAYMENTS_KEY"
    assert (check["file"], check["line"]) == (str(tree / "app/payments.py"), 4)
    canary = "canary-secret-value-123"
    fixed = run_cli(["check"], tree, env=cli_env(PREFLIGHT_FIXTURE_PAYMENTS_KEY=canary))
    assert fixed.returncode == 0
    assert canary not in fixed.stderr + json.dumps(fixed.report)


def test_missing_library_beside_a_namesake_submodule_is_not_a_path_problem(fixture_tree):
    """``app/cache/redis_fixture_client_lib/`` is ``app.cache.…``: no PYTHONPATH makes it the library."""
    tree = fixture_tree("submodule_namesake")
    check = run_cli(["check"], tree).check("app.cache.redis")
    assert check["cause"] == "distribution_missing"
    assert check["details"]["install"] == "redis-fixture-client-lib"
    assert (check["file"], check["line"]) == (str(tree / "app/cache/redis.py"), 2)


def test_missing_submodule_of_a_namespace_package_and_a_name_a_library_lacks(tmp_path):
    (tmp_path / "app/plugins").mkdir(parents=True)  # a namespace package: no __init__.py
    (tmp_path / "app/__init__.py").write_text("")
    (tmp_path / "app/main.py").write_text("from app.plugins import billing\n")
    (tmp_path / "app/legacy.py").write_text("import os\nfrom json import loadz\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [app.main, app.legacy]\n")
    result = run_cli(["check"], tmp_path)
    plugin = result.check("app.main")
    assert plugin["cause"] == "module_not_found"
    assert plugin["details"]["missing"] == "app.plugins.billing"
    assert (plugin["file"], plugin["line"]) == (str(tmp_path / "app/main.py"), 1)
    legacy = result.check("app.legacy")
    assert legacy["cause"] == "symbol_missing" and "loads" in legacy["details"]["did_you_mean"]
    assert "standard library's json" in legacy["hint"]


def test_stray_stdlib_namesake_is_loaded_as_the_server_would(tmp_path):
    """preflight's own use of json must not hide the application's json.py from the check."""
    (tmp_path / "json.py").write_text("raise RuntimeError('this is the application json.py')\n")
    (tmp_path / "app.py").write_text("import json\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [app]\n")
    for mode in ("zygote", "fresh"):
        result = run_cli(["check", "--mode", mode], tmp_path)
        check = result.check("app")
        assert check["cause"] == "shadowed", (mode, check)
        assert check["details"]["loaded"] == str(tmp_path / "json.py")
        assert result.report["mode"] == "fresh"
        if mode == "zygote":  # the zygote steps aside, and says why
            assert "standard-library module" in result.report["mode_reason"]


def test_symbol_behind_a_failing_module_getattr(tmp_path):
    (tmp_path / "lazy.py").write_text(
        "def __getattr__(name):\n    raise RuntimeError(f'cannot build {name} yet')\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports:\n  - module: lazy\n    symbols: [router]\n")
    result = run_cli(["check"], tmp_path)
    assert result.check("lazy")["status"] == "passed"
    symbol = result.check("lazy:router", kind="symbol")
    assert symbol["cause"] == "import_error" and symbol["error_type"] == "RuntimeError"
    assert (symbol["file"], symbol["line"]) == (str(tmp_path / "lazy.py"), 2)
