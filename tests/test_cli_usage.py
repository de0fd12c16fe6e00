"""Usage errors through the real CLI: exit 2 before anything runs, the subcommand's own usage, and the
log convention of every other error (one JSON ERROR event off a terminal, the console lines on request)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import error_event, run_cli


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [app.main]\n")
    return tmp_path


@pytest.mark.parametrize("args", [["check", "--bogus"], ["check", "preflight.yaml", "extra.yaml"],
                                  ["run", "--bogus", "--", "true"], ["scan", "--bogus"], ["validate", "--bogus"],
                                  ["init", "app.main", "--bogus"], ["serve", "--bogus"], ["diff", "a", "b", "--bogus"]])
def test_an_unknown_option_names_it_with_the_subcommands_usage(tree: Path, args: list[str]) -> None:
    done = run_cli(args, tree, report=False)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    event = error_event(done.stderr)
    bad = args[-1] if args[0] != "run" else "--bogus"
    assert event["message"] == f"unrecognized arguments: {bad}" and event["exit_code"] == 2, event
    assert event["usage"].startswith(f"usage: preflight {args[0]} "), event
    assert f"preflight {args[0]} --help" in event["hint"], event
    assert not (tree / "imported").exists()


def test_an_unknown_option_on_request_is_the_console_lines(tree: Path) -> None:
    done = run_cli(["check", "--format", "console", "--bogus"], tree, report=False)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == "usage: preflight check [options] [MANIFEST] [-- CMD ARG...]", done.stderr
    assert "preflight: error: unrecognized arguments: --bogus" in lines
    assert "preflight: tip: `preflight check --help` lists its options" in lines
