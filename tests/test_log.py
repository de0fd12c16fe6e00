"""The structured log: JSON lines Cloud Logging understands, one entry per event, or a console view."""

from __future__ import annotations

import json

from conftest import run_cli


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


def test_values_the_app_echoes_are_redacted_everywhere(fixture_tree):
    from conftest import cli_env

    canary = "canary-9f8e7d6c5b"
    result = run_cli(["check"], fixture_tree("echoes_secret"), env=cli_env(PREFLIGHT_FIXTURE_DB_PASSWORD=canary))
    check = result.check("app.settings")
    assert check["cause"] == "import_error" and check["error_type"] == "ValueError"
    assert "<redacted:$PREFLIGHT_FIXTURE_DB_PASSWORD>" in check["message"]
    assert "<redacted:$PREFLIGHT_FIXTURE_DB_PASSWORD>" in check["output"]
    assert canary not in result.stderr + result.stdout + json.dumps(result.report)
