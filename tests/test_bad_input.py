"""Bad input through the real CLI: exit 2 (or a failing probe) with a message naming the path, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env, error_event, events

# as root, only without these capabilities does a mode-000 file stay unreadable
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def preflight(*args: str, cwd: Path, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([*(prefix or []), sys.executable, "-m", "preflight", *args], cwd=cwd,
                          env=cli_env(PREFLIGHT_CACHE_DIR=str(cwd / ".cache")), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text("VALUE = 1\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [app.main]\n")
    (tmp_path / "a-dir").mkdir()
    return tmp_path


def test_an_unwritable_stamp_is_bad_input(tree: Path) -> None:
    for where in ("a-dir", "preflight.yaml/stamp.json"):
        done = preflight("check", "preflight.yaml", "--stamp", where, cwd=tree)
        assert done.returncode == 2, done.stderr
        assert error_event(done.stderr)["message"].startswith(f"cannot write the stamp {where}: ")
    assert not list(tree.glob("a-dir.*.tmp"))


def test_init_out_a_directory_or_an_unwritable_path_is_bad_input(tree: Path) -> None:
    done = preflight("init", "app.main", "--out", "a-dir", "--force", cwd=tree)
    assert done.returncode == 2 and error_event(done.stderr)["message"].startswith("a-dir is a directory")
    done = preflight("init", "app.main", "--out", "preflight.yaml/x.yaml", cwd=tree)
    assert done.returncode == 2
    assert error_event(done.stderr)["message"].startswith("cannot write preflight.yaml/x.yaml: ")
    done = preflight("init", "app.main", "--out", "new/dir/preflight.yaml", cwd=tree)
    assert done.returncode == 0, done.stderr
    assert "imports:" in (tree / "new" / "dir" / "preflight.yaml").read_text()


def test_an_empty_image_name_is_bad_input(tree: Path) -> None:
    for args in (("image", ""), ("diff", "image: ", "image:x")):
        done = preflight(*args, cwd=tree)
        assert done.returncode == 2, (args, done.stderr)
        assert "no image name given" in done.stderr or "`image:` needs an image name" in done.stderr, done.stderr


def test_probe_of_a_file_that_is_not_a_report_says_so(tree: Path) -> None:
    (tree / "list.json").write_text("[1]\n")
    done = preflight("probe", "--report", "list.json", "--port", "0", cwd=tree)
    assert done.returncode == 1
    assert events(done.stderr)[0]["message"].startswith("list.json is not a preflight/report-v1 document")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_unreadable_files_are_bad_input(tree: Path) -> None:
    (tree / "report.json").write_text('{"schema": "preflight/report-v1", "checks": []}\n')
    for name in ("locked.yaml", "locked.json"):
        shutil.copy(tree / ("preflight.yaml" if name.endswith("yaml") else "report.json"), tree / name)
        (tree / name).chmod(0)
    cases = [
        (("check", "locked.yaml"), "invalid manifest locked.yaml"),
        (("scan", "locked.yaml"), "invalid manifest locked.yaml"),
        (("scan", "preflight.yaml", "--baseline", "locked.json"), "cannot read baseline locked.json: Permission denied"),
        (("diff", "locked.json", "report.json"), "cannot read locked.json: Permission denied"),
        (("diff", "a-dir", "report.json"), "cannot read a-dir: Is a directory"),
    ]
    for args, words in cases:
        done = preflight(*args, cwd=tree, prefix=NO_DAC)
        assert done.returncode == 2, (args, done.stderr)
        assert words in done.stderr, (args, done.stderr)


def test_words_before_a_later_separator_are_bad_input(tree: Path) -> None:
    """``run preflight.yaml -- CMD`` would exec the manifest: exit 2 naming it, nothing checked or
    started. A command with no ``--`` at all is the command (``ENTRYPOINT ["preflight", "run"]``)."""
    started = tree / "started"
    server = [sys.executable, "-c", f"open({str(started)!r}, 'w')"]
    for words, message, tip in (
            (["preflight.yaml", "--", *server], "unexpected 'preflight.yaml' before `--`",
             "give the manifest as --manifest preflight.yaml"),
            (["-v", "extra", "--", *server], "unexpected 'extra' before `--`", "preflight's options go before `--`")):
        done = preflight("run", *words, cwd=tree)
        assert done.returncode == 2, (words, done.stderr)
        event = error_event(done.stderr)
        assert (event["message"], event["hint"].startswith(tip)) == (message, True), event
        assert not any(e.get("kind") == "import" for e in events(done.stderr))  # nothing was checked
    assert not started.exists()
    assert preflight("run", *server, cwd=tree).returncode == 0 and started.exists()
    started.unlink()
    assert preflight("run", "--", *server, cwd=tree).returncode == 0 and started.exists()
