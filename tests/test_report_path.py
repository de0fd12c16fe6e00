"""``--report PATH``: checked before any check runs; devices and FIFOs written through, symlinks followed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import cli_env, error_event

NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]  # root without its bypass of modes


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "marker.py").write_text("import os\nopen(os.path.join(os.path.dirname(__file__), 'IMPORTED'), 'w')\n")
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [marker]\n")
    return tmp_path


def gate(tree: Path, *args: str, prefix: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "preflight", *args], cwd=tree, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env=cli_env(PREFLIGHT_CACHE_DIR=str(tree / ".cache"), **env))


def refused(done: subprocess.CompletedProcess, tree: Path, path: str, words: str) -> None:
    """Exit 2 naming the path and why, before anything was imported or started."""
    assert done.returncode == 2, done.stderr
    message = error_event(done.stderr)["message"]
    assert message.startswith(f"cannot write the report to {path}: ") and words in message, message
    assert not (tree / "IMPORTED").exists() and not (tree / "STARTED").exists()


SERVER = [sys.executable, "-c", "open('STARTED', 'w')"]


def test_a_missing_directory_is_refused_before_checking_and_never_created(tree: Path) -> None:
    for path in (str(tree / "no" / "dir" / "r.json"), "/proc/nope/r.json"):
        for args in (("check", "--report", path), ("run", "--report", path, "--", *SERVER)):
            refused(gate(tree, *args), tree, path, "no such directory")
        refused(gate(tree, "run", "--", *SERVER, PREFLIGHT_REPORT=path), tree, path, "no such directory")
    assert not (tree / "no").exists()


def test_a_directory_is_refused(tree: Path) -> None:
    refused(gate(tree, "check", "--report", str(tree)), tree, str(tree), "Is a directory")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_an_unwritable_directory_is_refused(tree: Path) -> None:
    locked = tree / "locked"
    locked.mkdir(mode=0o555)
    path = str(locked / "r.json")
    refused(gate(tree, "check", "--report", path, prefix=tuple(NO_DAC)), tree, path, "Permission denied")
    assert not list(locked.iterdir())


def test_the_default_run_report_is_not_checked_up_front(tree: Path) -> None:
    """Unset, the default path never blocks a start: a failure to write it is logged and the server starts."""
    done = gate(tree, "run", "--", *SERVER)
    assert done.returncode == 0, done.stderr
    assert (tree / "STARTED").exists()


def test_a_character_device_is_written_through_not_replaced(tree: Path) -> None:
    device = tree / "null"  # its own /dev/null: code under test that replaced it must not touch the real one
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("needs CAP_MKNOD to make a character device")
    before = os.lstat(device)
    done = gate(tree, "check", "--report", str(device))
    assert done.returncode == 0, done.stderr
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_links_to_an_open_file_are_written_through_to_a_pipe_or_a_file(tree: Path) -> None:
    """/dev/stdout and /dev/fd/1, made in the tree: broken code would replace these, not the system's."""
    (tree / "stdout").symlink_to("/proc/self/fd/1")
    (tree / "fd").symlink_to("/proc/self/fd")
    for link in ("stdout", "fd/1"):
        done = gate(tree, "check", "--report", link)
        assert done.returncode == 0 and json.loads(done.stdout)["ok"] is True, (link, done.stdout, done.stderr)
        out = tree / "out.txt"
        out.write_text("kept\n")
        with out.open("a") as handle:  # `>> out.txt`: appended to, never replaced or truncated
            inode = os.fstat(handle.fileno()).st_ino
            done = subprocess.run([sys.executable, "-m", "preflight", "check", "--report", link], cwd=tree,
                                  stdout=handle, stderr=subprocess.PIPE, text=True, timeout=120,
                                  env=cli_env(PREFLIGHT_CACHE_DIR=str(tree / ".cache")))
        assert done.returncode == 0, done.stderr
        assert out.stat().st_ino == inode and (tree / "stdout").is_symlink()
        kept, report = out.read_text().split("\n", 1)
        assert kept == "kept" and json.loads(report)["ok"] is True


def test_a_fifo_is_written_through(tree: Path) -> None:
    fifo = tree / "report.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    done = gate(tree, "check", "--report", str(fifo))
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received[0])["ok"] is True


def test_a_symlink_is_followed_and_its_target_replaced(tree: Path) -> None:
    (tree / "reports").mkdir()
    link = tree / "current.json"
    link.symlink_to("reports/r.json")  # dangling until written
    done = gate(tree, "check", "--report", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and json.loads((tree / "reports" / "r.json").read_text())["ok"] is True
    (tree / "IMPORTED").unlink()
    (tree / "elsewhere.json").symlink_to("gone/r.json")
    refused(gate(tree, "check", "--report", "elsewhere.json"), tree, "elsewhere.json", "no such directory")
