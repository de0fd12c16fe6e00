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


def test_init_logs_like_every_other_command(tree: Path) -> None:
    """JSON events off a terminal, console lines with --format console; a failure is one ERROR event
    with its exit code and the fix as its hint (the `preflight: error:` / `tip:` lines on a terminal)."""
    (tree / "app" / "main.py").write_text("VALUE = 1\n")
    done = run_cli(["init", "app.main:VALUE", "--out", "drafted.yaml"], tree)
    assert done.returncode == 0, done.stderr
    [event] = done.events()
    assert event["severity"] == "INFO" and event["message"].startswith("wrote drafted.yaml: "), event

    done = run_cli(["init", "app.main:VALUE", "--out", "again.yaml", "--format", "console"], tree)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("preflight: wrote again.yaml: "), done.stderr

    (tree / "app" / "broken.py").write_text("import app.nowhere\n")
    done = run_cli(["init", "app.broken", "--out", "broken.yaml"], tree)
    assert done.returncode == 1 and not (tree / "broken.yaml").exists()
    event = error_event(done.stderr)
    assert event["message"].startswith("importing app.broken failed, nothing written: module_not_found"), event
    assert event["exit_code"] == 1 and "app.nowhere" in event["hint"], event
    assert len(done.events()) == 1, done.stderr

    done = run_cli(["init", "app.broken", "--out", "broken.yaml", "--format", "console"], tree)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith("preflight: error: importing app.broken failed, nothing written: "), done.stderr
    assert lines[1].startswith("preflight: tip: app.nowhere "), done.stderr

    done = run_cli(["init", "app.main", "--out", "drafted.yaml", "--format", "console"], tree)
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "preflight: error: drafted.yaml already exists",
        "preflight: tip: pass --force to overwrite it, or --out another path"], done.stderr


def test_validate_takes_the_log_format_too(tree: Path) -> None:
    (tree / "bad.yaml").write_text("version: 1\nimports: [app.main]\ntmeout: 5\n")
    done = run_cli(["validate", "bad.yaml", "--format", "console"], tree)
    assert done.returncode == 2
    assert done.stderr.startswith("preflight: error: invalid manifest bad.yaml:\n  - line 3: "), done.stderr
    done = run_cli(["validate", "bad.yaml", "--format", "json"], tree)
    assert done.returncode == 2 and error_event(done.stderr)["problems"][0].startswith("line 3: "), done.stderr


def test_a_misspelt_option_is_named_with_the_one_meant(tree: Path) -> None:
    done = run_cli(["check", "--fromat", "json"], tree, report=False)
    assert done.returncode == 2
    assert error_event(done.stderr)["hint"] == "did you mean --format? `preflight check --help` lists its options"
    assert not (tree / "imported").exists()
