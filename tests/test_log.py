"""The structured log: JSON lines Cloud Logging understands, one entry per event, or a console view."""

from __future__ import annotations

import json
import os

import pytest

from conftest import cli_env, run_cli


def test_json_log_one_line_per_event_with_cloud_logging_fields(fixture_tree):
    tree = fixture_tree("circular")
    result = run_cli(["check", "--format", "json"], tree)
    lines = result.stderr.strip().splitlines()
    events = result.events()
    assert len(events) == len(lines) == len(result.report["checks"]) + 1
    failed = [e for e in events if e.get("cause") == "circular_import"]
    assert len(failed) == 1
    event = failed[0]
    assert event["severity"] == "ERROR"
    assert event["message"].startswith("import app.core.errors_service failed: circular_import at ")
    assert event["file"] == str(tree / "app/core/errors_agent.py") and event["line"] == 5
    assert event["hint"] and event["target"] == "app.core.errors_service"
    assert event["stack_trace"].startswith("Traceback (most recent call last):")
    assert event["logging.googleapis.com/sourceLocation"] == {"file": event["file"], "line": "5"}
    summary = events[-1]
    assert summary["event_type"] == "summary" and summary["ok"] is False
    assert summary["severity"] == "ERROR"
    assert [e["severity"] for e in events if e.get("status") == "passed"] == ["INFO"]


def test_console_view_is_readable(fixture_tree):
    result = run_cli(["check", "--format", "console"], fixture_tree("module_not_found"))
    assert "XX import app.middleware.gcp_auth failed: module_not_found" in result.stderr
    assert "   fix  " in result.stderr
    assert "{" not in result.stderr.splitlines()[0]


def test_report_matches_the_log(fixture_tree):
    result = run_cli(["check"], fixture_tree("name_error"))
    causes_in_log = sorted(e["cause"] for e in result.events() if e.get("cause"))
    causes_in_report = sorted(c["cause"] for c in result.report["checks"] if c.get("cause"))
    assert causes_in_log == causes_in_report == ["name_error", "name_error"]


@pytest.mark.parametrize("canary", ["canary-9f8e7d6c5b", "/q8Zk3vR+T1xWmB0aLp9sE==", "~/.t0k3n-AbCdEf0123"])
def test_values_the_app_echoes_are_redacted_everywhere(fixture_tree, canary):
    """A value that only starts like a path (a base64 key starting with ``/``) is a secret too."""
    from conftest import cli_env

    result = run_cli(["check"], fixture_tree("echoes_secret"), env=cli_env(PREFLIGHT_FIXTURE_DB_PASSWORD=canary))
    check = result.check("app.settings")
    assert check["cause"] == "env_invalid" and check["error_type"] == "ValueError"  # int() of the variable
    assert check["details"]["name"] == "PREFLIGHT_FIXTURE_DB_PASSWORD"
    assert "<redacted:$PREFLIGHT_FIXTURE_DB_PASSWORD>" in check["message"]
    assert "<redacted:$PREFLIGHT_FIXTURE_DB_PASSWORD>" in check["output"]
    assert canary not in result.stderr + result.stdout + json.dumps(result.report)


WEBHOOK_SECRET = "whsec_4f1c9a7e2b8d6f0a3c5e7a9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5a7c8e0b2d4f6a8c0e2b4d6f8a"
SIGNING_KEY = "-----BEGIN KEY-----\n" + "\n".join(f"MII{n}Kq7Zp2Wv9Lx4Rb8Tc1Ym6Nd3Hf5Js0Gg{n}" for n in range(4)) + "\n-----END KEY-----"


def _pieces(value: str) -> list[str]:
    """Every run of 16 characters of ``value`` and of its escaped forms, as an echo could show it."""
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1]}
    return [form[i:i + 16] for form in forms for i in range(len(form) - 15)]


def test_escaped_truncated_and_per_line_echoes_are_redacted(fixture_tree):
    """pydantic shows a long input as its first and last ~24 characters; repr and JSON escape a
    multi-line value's newlines; a print shows one of its lines: none of it may reach the report."""
    from conftest import cli_env

    env = cli_env(PREFLIGHT_FIXTURE_WEBHOOK_SECRET=WEBHOOK_SECRET, PREFLIGHT_FIXTURE_SIGNING_KEY=SIGNING_KEY,
                  PREFLIGHT_FIXTURE_DEPLOYMENT="echoes_secret_forms-canary-7")  # shares a directory's name
    tree = fixture_tree("echoes_secret_forms")
    result = run_cli(["check"], tree, env=env)
    check = result.check("app.settings")
    assert f'File "{tree / "app" / "settings.py"}", line 16' in check["stack_trace"]  # paths stay whole
    assert check["cause"] == "import_error" and check["error_type"] == "ValidationError"
    assert "String should have at most 32 characters" in check["message"]  # ordinary text stays
    assert "input_value='<redacted:$PREFLIGHT_FIXTURE_WEBHOOK_SECRET>...<redacted:$PREFLIGHT_FIXTURE_WEBHOOK_SECRET>'" \
        in check["message"]
    assert "key: '<redacted:$PREFLIGHT_FIXTURE_SIGNING_KEY>'" in check["output"]
    assert 'config: {"key": "<redacted:$PREFLIGHT_FIXTURE_SIGNING_KEY>"}' in check["output"]
    assert "third line: <redacted:$PREFLIGHT_FIXTURE_SIGNING_KEY>" in check["output"]
    shown = result.stderr + result.stdout + json.dumps(result.report)
    assert [p for p in _pieces(WEBHOOK_SECRET) + _pieces(SIGNING_KEY) if p in shown] == []


def test_paths_that_exist_stay_readable_and_a_partial_echo_of_a_slash_key_does_not(tmp_path):
    from conftest import cli_env

    key = "/q8Zk3vR+T1xWmB0aLp9sE4tYuI2oP7aSdFgHjKl=="
    (tmp_path / "plugins").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "settings.py").write_text(
        "import os\n\n"
        "print('plugins from', os.environ['PREFLIGHT_FIXTURE_PLUGIN_DIRS'])\n"
        "print('key', os.environ['PREFLIGHT_FIXTURE_KEY'][:24] + '...')\n"
        "raise ValueError(f\"no key file at {os.environ['PREFLIGHT_FIXTURE_KEY']}\")\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [app.settings]\n")
    plugin_dirs = f"{tmp_path / 'plugins'}{os.pathsep}{tmp_path / 'app'}"
    result = run_cli(["check"], tmp_path, env=cli_env(PREFLIGHT_FIXTURE_KEY=key,
                                                      PREFLIGHT_FIXTURE_PLUGIN_DIRS=plugin_dirs))
    check = result.check("app.settings")
    assert check["message"].endswith("no key file at <redacted:$PREFLIGHT_FIXTURE_KEY>")
    assert f"plugins from {plugin_dirs}" in check["output"]
    assert "key <redacted:$PREFLIGHT_FIXTURE_KEY>..." in check["output"]
    assert f'File "{tmp_path / "app" / "settings.py"}", line 5' in check["stack_trace"]
    assert [p for p in _pieces(key) if p in result.stderr + result.stdout + json.dumps(result.report)] == []


def test_init_redacts_what_a_failing_entry_point_echoes(fixture_tree):
    from conftest import cli_env

    env = cli_env(PREFLIGHT_FIXTURE_WEBHOOK_SECRET=WEBHOOK_SECRET, PREFLIGHT_FIXTURE_SIGNING_KEY=SIGNING_KEY)
    result = run_cli(["init", "app.settings", "--out", "draft.yaml"], fixture_tree("echoes_secret_forms"), env=env)
    assert result.returncode == 1
    assert "<redacted:$PREFLIGHT_FIXTURE_WEBHOOK_SECRET>" in result.stderr
    assert [p for p in _pieces(WEBHOOK_SECRET) if p in result.stderr + result.stdout] == []


def test_a_passing_start_logs_the_same_lines_without_structlog():
    """An all-pass report is written without importing structlog; the lines are what structlog's
    pipeline writes for the same report, field for field (the clock aside)."""
    import io
    import subprocess
    import sys

    from preflight import log
    from preflight import report as r

    report = r.Report(checks=[r.Check(kind="import", target="app.main", duration_ms=12.5,
                                      details={"resolved": "/srv/app/main.py"}),
                              r.Check(kind="env", target="DATABASE_URL", status=r.SKIPPED, message="optional")],
                      duration_ms=40.0, interpreter="/usr/bin/python3", mode="zygote")
    written = {}
    for lean in (True, False):
        stream = io.StringIO()
        log.log_report(log.make_logger("json", stream, lean=lean), report, starting=True)
        written[lean] = [json.loads(line) for line in stream.getvalue().splitlines()]
    for line in written[True] + written[False]:
        assert line.pop("time").endswith("Z")
    assert written[True] == written[False]
    assert [list(line) for line in written[True]] == [list(line) for line in written[False]]  # key order too
    loaded = subprocess.run([sys.executable, "-c", "import sys, preflight.log, preflight.cli; "
                             "print('structlog' in sys.modules)"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_a_value_with_blanks_in_it_is_replaced_only_whole(tmp_path):
    """Prose in a variable (a description, a test's name) shares runs of words with ordinary text:
    only the whole value is an echo of it. A hint naming a distribution must stay readable."""
    (tmp_path / "needs.py").write_text("import google.cloud.storage\n")
    (tmp_path / "echo.py").write_text("import os\n\nraise RuntimeError(os.environ['APP_BLURB'])\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [needs, echo]\n")
    blurb = "uploads to google-cloud-storage buckets for the reporting team"
    result = run_cli(["check"], tmp_path, env=cli_env(APP_BLURB=blurb))
    assert result.check("needs")["details"]["install"] == "google-cloud-storage"
    assert blurb not in result.stderr and "<redacted:$APP_BLURB>" in result.check("echo")["message"]


ERROR_CASES = {  # what fails before or instead of the checks, and its exit status
    "bad manifest": (["check"], "version: 1\nimports: [json]\nimports: [os]\n", {}, 2),
    "bad argument": (["check", "--mode", "forked"], None, {}, 2),
    "bad PREFLIGHT_MODE": (["check"], None, {"PREFLIGHT_MODE": "zygot"}, 2),
    "command not found": (["run", "--", "no-such-server-zz"], None, {}, 127),
    "not executable": (["run", "--", "./preflight.yaml"], None, {}, 126),
}


def test_every_line_on_stderr_is_a_json_event_off_a_terminal(tmp_path):
    """`grep '"severity": "ERROR"'` finds what went wrong whatever the exit status (README, Logs)."""
    for name, (args, manifest, env, code) in ERROR_CASES.items():
        (tmp_path / "preflight.yaml").write_text(manifest or "version: 1\nimports: [json]\n")
        result = run_cli(args, tmp_path, env=cli_env(**env), report=False)
        assert result.returncode == code, (name, result.stderr)
        events = [json.loads(line) for line in result.stderr.splitlines()]  # each line one JSON object
        assert len(events) == 1, (name, result.stderr)
        event = events[0]
        assert event["severity"] == "ERROR" and event["exit_code"] == code and event["time"], (name, event)
        assert event["message"] and "\n" not in event["message"], (name, event)
        assert '"severity": "ERROR"' in result.stderr
        if manifest:
            assert event["problems"] == ["line 3: (top level): duplicate key 'imports' (first at line 2); YAML "
                                         "would silently keep only the last"]


def test_a_terminal_keeps_the_console_lines(tmp_path):
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [json]\nbogus: 1\n")
    result = run_cli(["check", "--format", "console"], tmp_path, report=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["preflight: error: invalid manifest preflight.yaml:",
                                          "  - line 3: (top level): unknown key 'bogus'"]
    result = run_cli(["run", "--format", "console", "--", "no-such-server-zz"], tmp_path, report=False)
    assert result.returncode == 127
    assert result.stderr.startswith("preflight: error: command not found: 'no-such-server-zz'\npreflight: tip: ")


def test_values_the_application_loads_itself_are_redacted_and_unwritten_paths_stay_readable(tmp_path):
    """A .env file loaded at import puts secrets in the environment the gate never saw; a variable
    naming a path that does not exist yet must not eat the hints' paths that share its prefix."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / ".env").write_text("DB_POOL_SIZE=Zx9qT4mLw2Rv\n")
    (tmp_path / "app" / "settings.py").write_text(
        "import os\n\nfor line in open('.env'):\n    key, _, value = line.strip().partition('=')\n"
        "    os.environ[key] = value\nPOOL = int(os.environ['DB_POOL_SIZE'])\n")
    (tmp_path / "app" / "main.py").write_text("import app.missing_part\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [app.settings, app.main]\n")
    not_yet = str(tmp_path / "var" / "run" / "svc.sock")
    result = run_cli(["check"], tmp_path, env=cli_env(SOCKET_PATH=not_yet))
    assert "Zx9qT4mLw2Rv" not in result.stderr + json.dumps(result.report)
    assert "<redacted:$DB_POOL_SIZE>" in result.check("app.settings")["message"]
    assert str(tmp_path / "app" / "main.py") in result.check("app.main")["hint"]
