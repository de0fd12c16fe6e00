"""The fast paths keep the guarantees: same causes and file:line in every mode; safe fallbacks; SIGTERM.

Modes: ``fresh`` (an interpreter per check), ``zygote`` (forks of a preloaded interpreter), and
``stamp`` (``run --trust-stamp`` skips re-importing only while nothing changed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from conftest import cli_env, inheriting, run_cli, signal_masks

MODES = ("fresh", "zygote")


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


BROKEN = {
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/errors_service.py": """
        import json

        from app.core.errors_agent import AgentError


        class ServiceError(Exception):
            pass
        """,
    "app/core/errors_agent.py": """
        from app.core.errors_service import ServiceError


        class AgentError(ServiceError):
            pass
        """,
    "app/hang.py": """
        import threading

        threading.Event().wait()
        """,
    "app/crash.py": """
        import os
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
        """,
    "app/quits.py": """
        import sys

        sys.exit(3)
        """,
    "app/missing.py": """
        import json

        import no_such_distribution_anywhere
        """,
    "app/fine.py": """
        import json

        VALUE = json.dumps({})
        """,
    "app/worker.py": """
        import threading

        threading.Thread(target=threading.Event().wait, name="worker").start()  # not a daemon
        """,
    "app/in_flight.py": """
        import sys

        if sys.exc_info()[0] is not None:
            raise RuntimeError(f"imported while handling {sys.exc_info()[0]}")
        """,
    "preflight.yaml": """
        version: 1
        timeout: 1.5
        imports:
          - app.core.errors_agent
          - app.hang
          - app.crash
          - app.quits
          - app.missing
          - module: app.fine
            symbols: [VALUE]
          - app.worker
          - app.in_flight
        """,
}

EXPECTED = {  # target: (status, cause, file relative to the tree, line)
    "app.core.errors_agent": ("failed", "circular_import", "app/core/errors_service.py", 3),
    "app.hang": ("timed_out", "timeout", "app/hang.py", 3),
    "app.crash": ("failed", "crashed", "app/crash.py", 4),
    "app.quits": ("failed", "exited", "app/quits.py", 3),
    "app.missing": ("failed", "distribution_missing", "app/missing.py", 3),
    "app.fine": ("passed", None, None, None),
    "app.worker": ("passed", None, None, None),  # its import is done; the server would run beside it
    "app.in_flight": ("passed", None, None, None),  # no exception in flight, in a fork too
}


def facts(result, root: Path) -> dict[str, tuple]:
    found = {}
    for target in EXPECTED:
        check = result.check(target)
        path = os.path.relpath(check["file"], root) if check.get("file") else None
        found[target] = (check["status"], check.get("cause"), path, check.get("line"))
    return found


@pytest.mark.parametrize("mode", MODES)
def test_every_cause_and_place_is_the_same_in_each_mode(tmp_path: Path, mode: str) -> None:
    root = write_tree(tmp_path, BROKEN)
    result = run_cli(["check", "--mode", mode, "--format", "json"], cwd=root)
    assert result.returncode == 1, result.stderr
    assert result.report["mode"] == mode, result.report.get("mode_reason")
    assert facts(result, root) == EXPECTED
    crash = result.check("app.crash")
    assert crash["error_type"] == "SIGSEGV"
    assert "app/hang.py" in (result.check("app.hang").get("stack_trace") or "")
    trace = result.check("app.missing")["stack_trace"]
    assert "During handling" not in trace and "preflight_zygote" not in trace, trace


@pytest.mark.parametrize("mode", MODES)
def test_what_the_app_sets_before_importing_a_library_is_seen_by_it_in_each_mode(tmp_path: Path, mode: str) -> None:
    """The zygote imported the library before the module set a variable or a warning filter; a fresh
    interpreter imports it after. The fork's verdict would differ, so such a check is run afresh."""
    library = write_tree(tmp_path / "lib" / "site-packages", {"oldlib/__init__.py": """
        import os
        import warnings

        warnings.warn("oldlib is deprecated", DeprecationWarning)
        if os.environ.get("OLDLIB_MODE", "default") not in ("default", "fast"):
            raise ValueError("unknown OLDLIB_MODE")
        """})
    root = write_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/envset.py": "import os\n\nos.environ['OLDLIB_MODE'] = 'turbo'\nimport oldlib\n",
        "app/strict.py": "import warnings\n\nwarnings.filterwarnings('error', category=DeprecationWarning)\nimport oldlib\n",
        "app/plain.py": "import oldlib\n",
        "preflight.yaml": "version: 1\nimports: [app.envset, app.strict, app.plain]\n",
    })
    result = run_cli(["check", "--mode", mode], cwd=root, env=cli_env(PYTHONPATH=str(library)))
    assert result.report["mode"] == mode, result.report.get("mode_reason")
    envset, strict, plain = (result.check(f"app.{name}") for name in ("envset", "strict", "plain"))
    assert (envset["status"], envset["error_type"]) == ("failed", "ValueError")
    assert (strict["status"], strict["error_type"]) == ("failed", "DeprecationWarning")
    assert plain["status"] == "passed" and "fresh_because" not in plain.get("details", {})
    if mode == "zygote":
        assert envset["details"]["fresh_because"] == ["os.environ['OLDLIB_MODE']"]
        assert strict["details"]["fresh_because"] == ["the warning filters"]


@pytest.mark.parametrize("mode", MODES)
def test_application_modules_named_like_preflights_own_are_the_applications(tmp_path: Path, mode: str) -> None:
    files = {"run_import.py": "FOO = 1\n", "preflight_zygote.py": "BAR = 2\n",
             "app/__init__.py": "", "app/uses.py": "from run_import import FOO\nfrom preflight_zygote import BAR\n",
             "preflight.yaml": "version: 1\nimports: [app.uses]\n"}
    result = run_cli(["check", "--mode", mode], cwd=write_tree(tmp_path, files))
    assert result.report["mode"] == mode, result.report.get("mode_reason")
    assert result.returncode == 0, result.check("app.uses")


def test_stamp_skips_reimport_until_something_changes(tmp_path: Path) -> None:
    files = {k: v for k, v in BROKEN.items() if k in ("app/__init__.py", "app/fine.py")}
    files["preflight.yaml"] = "version: 1\nimports:\n  - module: app.fine\n    symbols: [VALUE]\n"
    root = write_tree(tmp_path, files)
    stamp = tmp_path / "stamp.json"
    assert run_cli(["check", "--stamp", str(stamp)], cwd=root).returncode == 0
    assert stamp.exists()

    trusted = run_cli(["run", "--trust-stamp", str(stamp), "--", sys.executable, "-c", "pass"], cwd=root)
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.report["mode"] == "stamp"
    assert trusted.check("app.fine")["status"] == "passed"

    # The same bug as above appears after stamping: the stamp no longer matches, the full check runs.
    for rel in ("app/core/__init__.py", "app/core/errors_service.py", "app/core/errors_agent.py"):
        write_tree(root, {rel: BROKEN[rel]})
    (root / "app/fine.py").write_text("import json\n\nimport app.core.errors_agent\n\nVALUE = 1\n")
    again = run_cli(["run", "--trust-stamp", str(stamp), "--", sys.executable, "-c", "pass"], cwd=root)
    assert again.returncode == 1
    assert again.report["mode"] in MODES
    assert "stamp not trusted" in again.report["mode_reason"]
    check = again.check("app.fine")
    assert (check["cause"], os.path.relpath(check["file"], root), check["line"]) == (
        "circular_import", "app/core/errors_service.py", 3)


def test_a_check_that_imports_nothing_new_adds_no_file_to_the_stamp(tmp_path: Path) -> None:
    """``json`` is loaded before the check imports it: the check loaded nothing, so the stamp lists
    none of what the interpreter had already (preflight's own script among them)."""
    root = write_tree(tmp_path, {"app/__init__.py": "", "preflight.yaml": "version: 1\nimports: [app, json]\n"})
    stamp = tmp_path / "stamp.json"
    assert run_cli(["check", "--mode", "fresh", "--stamp", str(stamp)], cwd=root).returncode == 0
    files = json.loads(stamp.read_text())["inputs"]["files"]
    assert not [f for f in files if "preflight" in Path(f).parts], files


_REIMPORTS_THE_LAST = """
    import importlib
    import sys

    names = list(sys.modules)
    last = names[names.index("app") - 1]  # the last module loaded before the check began
    import app.helper  # noqa: E402

    del sys.modules[last]
    importlib.import_module(last)  # the last imported again: after app and app.helper...
    now = list(sys.modules)
    before_last = now.index(last) - now.index("app") - 1  # app.main goes to the end once imported
    for old in [n for n in names[:names.index(last)] if "." not in n and n not in sys.builtin_module_names][-before_last:]:
        del sys.modules[old]  # ...and as many older entries dropped
    """


@pytest.mark.parametrize("mode", MODES)
def test_the_stamp_lists_what_the_check_loaded_when_it_dropped_and_reimported_older_modules(
        tmp_path: Path, mode: str) -> None:
    """As many older entries gone as new ones came before the last one, imported again: counting
    cannot tell, yet every file the check loaded must be in the stamp (a change to it, not seen)."""
    files = {"app/__init__.py": "", "app/helper.py": "VALUE = 1\n", "app/main.py": _REIMPORTS_THE_LAST,
             "preflight.yaml": "version: 1\nimports: [app.main]\n"}
    root = write_tree(tmp_path, files)
    stamp = tmp_path / "stamp.json"
    result = run_cli(["check", "--mode", mode, "--stamp", str(stamp)], cwd=root)
    assert result.returncode == 0 and result.report["mode"] == mode, result.report.get("mode_reason")
    assert str(root / "app" / "helper.py") in json.loads(stamp.read_text())["inputs"]["files"]


def test_stamp_still_checks_environment_variables(tmp_path: Path) -> None:
    files = {"app/__init__.py": "", "preflight.yaml": "version: 1\nenv:\n  required: [BENCH_TOKEN]\nimports: [app]\n"}
    root = write_tree(tmp_path, files)
    stamp = tmp_path / "stamp.json"
    assert run_cli(["check", "--stamp", str(stamp)], cwd=root, env=cli_env(BENCH_TOKEN="x")).returncode == 0
    result = run_cli(["run", "--trust-stamp", str(stamp), "--", sys.executable, "-c", "pass"], cwd=root)
    assert result.returncode == 1
    assert result.report["mode"] == "stamp"
    assert result.check("BENCH_TOKEN", kind="env")["cause"] == "env_missing"


def test_a_preload_that_starts_a_thread_means_fresh_interpreters(tmp_path: Path) -> None:
    library = tmp_path / "lib" / "site-packages"  # where installed distributions live: preloaded
    write_tree(library, {"threadlib.py": """
        import threading

        threading.Thread(target=threading.Event().wait, daemon=True, name="threadlib-poller").start()
        """})
    root = write_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/uses_threads.py": "import threadlib\n",
        "app/circ_a.py": "from app.circ_b import B\n\nA = 1\n",
        "app/circ_b.py": "from app.circ_a import A\n\nB = 1\n",
        "preflight.yaml": "version: 1\nimports: [app.uses_threads, app.circ_a]\n",
    })
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(library)))
    assert result.report["mode"] == "fresh"
    assert "thread" in result.report["mode_reason"] and "threadlib-poller" in result.report["mode_reason"]
    assert result.check("app.uses_threads")["status"] == "passed"
    assert result.check("app.circ_a")["cause"] == "circular_import"
    summary = [e for e in result.events() if e.get("event_type") == "summary"][0]
    assert summary["mode"] == "fresh" and "thread" in summary["mode_reason"]


def test_a_preload_that_fails_is_recorded_and_the_check_still_meets_it(tmp_path: Path) -> None:
    library = tmp_path / "lib" / "site-packages"
    write_tree(library, {"brokenlib.py": "raise RuntimeError('brokenlib needs a licence file')\n"})
    root = write_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/uses_broken.py": "import json\nimport brokenlib\n",
        "preflight.yaml": "version: 1\nimports: [app.uses_broken]\n",
    })
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(library)))
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    check = result.check("app.uses_broken")
    assert (check["cause"], check["line"]) == ("import_error", 2)
    assert check["error_type"] == "RuntimeError"


def test_a_library_whose_getattr_raises_import_error_is_still_preloaded(tmp_path: Path) -> None:
    """pydantic 2's ``from pydantic import BaseSettings`` raises a PydanticImportError (not an
    AttributeError) from the module's ``__getattr__``; probing for the name, or for the ``__file__`` of
    a module made at run time, must not end the zygote or the check."""
    library = tmp_path / "lib" / "site-packages"
    write_tree(library, {
        "movedlib/__init__.py": """
            import sys
            import types


            class MovedImportError(ImportError):
                pass


            def __getattr__(name):
                raise MovedImportError(f"`{name}` has been moved to the movedlib.settings package")


            shim = sys.modules["movedlib.shim"] = types.ModuleType("movedlib.shim")  # no __file__ either
            shim.__getattr__ = __getattr__
            """,
        "movedlib/settings.py": "class BaseSettings:\n    pass\n",
    })
    root = write_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/config.py": """
            try:
                from movedlib import BaseSettings
            except ImportError:
                from movedlib.settings import BaseSettings
            """,
        "preflight.yaml": "version: 1\nimports: [app.config]\n",
    })
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(library)))
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    # (no "zygote" summary when every fork finished before the preload did: it is stopped unread)
    assert (result.report.get("zygote") or {}).get("preload_failed", []) == []
    assert result.check("app.config")["status"] == "passed"
    fresh = run_cli(["check", "--mode", "fresh"], cwd=root, env=cli_env(PYTHONPATH=str(library)))
    assert fresh.check("app.config")["status"] == "passed", fresh.stderr  # the check lists what it loaded


def _marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker`` (zombies have no environment left)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if marker.encode() in Path(f"/proc/{entry}/environ").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def test_sigterm_during_zygote_checks_kills_every_fork_and_grandchild(tmp_path: Path) -> None:
    marker = f"PREFLIGHT_TEST_MARKER=kill-{uuid.uuid4().hex}"
    started = tmp_path / "started"
    started.mkdir()
    module = f"""
        import json
        import os
        import subprocess
        import sys
        import threading

        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open(os.path.join({str(started)!r}, __name__), "w").close()
        threading.Event().wait()
        """
    names = [f"app.hang{i}" for i in range(4)]
    files = {f"app/hang{i}.py": module for i in range(4)}
    files["app/__init__.py"] = ""
    files["preflight.yaml"] = "version: 1\ntimeout: 120\nimports: [" + ", ".join(names) + "]\n"
    root = write_tree(tmp_path / "svc", files)
    env = cli_env(PREFLIGHT_TEST_MARKER=marker.split("=", 1)[1])
    report = tmp_path / "report.json"
    log = tmp_path / "gate.log"
    with open(log, "wb") as stderr:
        gate = subprocess.Popen([sys.executable, "-m", "preflight", "run", "--report", str(report), "--",
                                 sys.executable, "-c", "pass"], cwd=root, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        expected = min(len(names), os.cpu_count() or 1)
        deadline = time.monotonic() + 60
        while len(os.listdir(started)) < expected:  # each running check has spawned its grandchild
            assert gate.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the checks never started"
            time.sleep(0.01)
        assert len(_marked_processes(marker)) >= 2 + 2 * expected  # gate, zygote, forks, grandchildren
        gate.send_signal(signal.SIGTERM)
        assert gate.wait(60) == 128 + signal.SIGTERM, log.read_text()
    finally:
        if gate.poll() is None:
            gate.kill()
            gate.wait()
    deadline = time.monotonic() + 30  # SIGKILL is asynchronous: give the kernel a moment, no more
    while _marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    left = {pid: _cmdline(pid) for pid in _marked_processes(marker)}
    assert left == {}, log.read_text()
    assert not report.exists() or json.loads(report.read_text())["ok"] is False
    assert "interrupted by SIGTERM" in log.read_text()


SIGNAL_RECORDER = """
    import json
    import os
    import subprocess


    def record(who):
        with open("/proc/self/status") as handle:
            own = handle.read()
        spawned = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True).stdout
        with open(os.environ["SIGNAL_RECORD"], "a") as handle:
            handle.write(json.dumps({"who": who, "pid": os.getpid(), "own": own, "spawned": spawned}) + "\\n")


    record("library")
    """


@pytest.mark.parametrize("mode", MODES)
def test_every_interpreter_starts_with_the_signal_state_the_server_would_have(tmp_path: Path, mode: str) -> None:
    """Checks, what they spawn, the zygote that preloads libraries and ``init``'s tracer: none may
    start with signals blocked or reset that the server would get as inherited (a module that
    SIGTERMs itself dies of it, as the server would)."""
    library = write_tree(tmp_path / "lib" / "site-packages", {"sigrecorder.py": SIGNAL_RECORDER})
    root = write_tree(tmp_path / "svc", {
        "app/__init__.py": "",
        "app/main.py": "import sigrecorder\n\nsigrecorder.record('app')\n",
        "app/selfterm.py": "import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGTERM)\n",
        "preflight.yaml": "version: 1\nimports: [app.main, app.selfterm]\n",
    })
    records = tmp_path / "records.jsonl"
    env = cli_env(PYTHONPATH=str(library), SIGNAL_RECORD=str(records))
    prefix = inheriting([signal.SIGHUP], [signal.SIGUSR2])
    subprocess.run([*prefix, sys.executable, "-c", "import app.main"], cwd=root, env=env, check=True)
    direct = json.loads(records.read_text().splitlines()[-1])
    expected = signal_masks(direct["own"])
    assert expected == {"SigBlk": 1 << (signal.SIGUSR2 - 1), "SigIgn": signal_masks(direct["own"])["SigIgn"]}
    assert expected["SigIgn"] & 1 << (signal.SIGHUP - 1)
    records.unlink()
    result = run_cli(["check", "--mode", mode], cwd=root, env=env, prefix=prefix)
    assert result.report["mode"] == mode, result.report.get("mode_reason")
    assert result.check("app.main")["status"] == "passed"
    selfterm = result.check("app.selfterm")
    assert (selfterm["cause"], selfterm["error_type"]) == ("crashed", "SIGTERM")
    checked = [json.loads(line) for line in records.read_text().splitlines()]
    pids = {who: {r["pid"] for r in checked if r["who"] == who} for who in ("library", "app")}
    assert pids["library"].isdisjoint(pids["app"]) is (mode == "zygote")  # zygote: preloaded, then a fork
    traced = run_cli(["init", "app.main", "--out", "draft.yaml"], cwd=root, env=env, prefix=prefix)
    assert traced.returncode == 0, traced.stderr
    seen = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(seen) > len(checked)
    for record in seen:
        assert signal_masks(record["own"]) == expected, record["who"]
        assert signal_masks(record["spawned"]) == signal_masks(direct["spawned"]), record["who"]


def test_the_report_says_which_mode_ran(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"app/__init__.py": "", "preflight.yaml": "version: 1\nimports: [app]\n"})
    result = run_cli(["check", "--mode", "fresh"], cwd=root)
    assert result.returncode == 0
    assert result.report["mode"] == "fresh"
    assert "mode_reason" not in result.report
    zygote = run_cli(["check"], cwd=root)
    assert zygote.report["mode"] == "zygote"


def test_app_installed_into_site_packages_is_never_preloaded(tmp_path):
    """``pip install .`` puts the app under site-packages: it is still application code, imported first."""
    import shutil

    from conftest import FIXTURES, cli_env, run_cli

    site = tmp_path / "lib" / "site-packages"
    shutil.copytree(FIXTURES / "circular" / "app", site / "app")
    (tmp_path / "preflight.yaml").write_text((FIXTURES / "circular" / "preflight.yaml").read_text())
    for mode in ("zygote", "fresh"):
        result = run_cli(["check", "--mode", mode], tmp_path, env=cli_env(PYTHONPATH=str(site)))
        check = result.check("app.core.errors_service")
        assert check["cause"] == "circular_import", (mode, check)
        assert (check["file"], check["line"]) == (str(site / "app/core/errors_agent.py"), 5)


LAZY_LIBRARY = {
    "lazylib/__init__.py": """
        import importlib


        def load(part):
            return importlib.import_module(f"lazylib.{part}")  # a library's own lazy import
        """,
    "lazylib/dialect.py": """
        import os

        if "LAZY_LOG" in os.environ:  # one line per import of it, by any process
            with open(os.environ["LAZY_LOG"], "a") as log:
                log.write(f"{os.getpid()}\\n")
        """,
    "lazylib/poller.py": """
        import threading

        threading.Thread(target=threading.Event().wait, daemon=True, name="lazy-poller").start()
        """,
    "lazylib/settings.py": "import app.settings  # a library that reads the application's settings module\n",
}


def _lazy_tree(tmp_path: Path, part: str, users: int = 4) -> tuple[Path, Path]:
    library = write_tree(tmp_path / "lib" / "site-packages", LAZY_LIBRARY)
    files = {"app/__init__.py": "", "app/settings.py": "NAME = 'svc'\n",
             "app/circ_a.py": "from app.circ_b import B\n\nA = 1\n",
             "app/circ_b.py": "from app.circ_a import A\n\nB = 1\n"}
    for index in range(users):
        files[f"app/user{index}.py"] = f"import lazylib\n\nlazylib.load({part!r})\n"
    modules = ", ".join([f"app.user{index}" for index in range(users)] + ["app.circ_a"])
    files["preflight.yaml"] = f"version: 1\nimports: [{modules}]\n"
    return write_tree(tmp_path / "svc", files), library


def test_library_modules_imported_lazily_are_learned_for_later_forks(tmp_path: Path) -> None:
    root, library = _lazy_tree(tmp_path, "dialect")
    # one core: forks run one after another, so every fork after the first can start with it
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(library)), prefix=["taskset", "-c", "0"])
    assert result.returncode == 1, result.stderr
    assert result.report["mode"] == "zygote"
    assert result.report["zygote"]["learned"] == ["lazylib.dialect"]
    assert all(result.check(f"app.user{i}")["status"] == "passed" for i in range(4))
    assert result.check("app.circ_a")["cause"] == "circular_import"  # the app's own modules: never learned


def test_learned_modules_are_remembered_and_preloaded_by_the_next_run(tmp_path: Path) -> None:
    """The next run of the same manifest imports what the last one learned once, in the zygote,
    before any fork needs it, and the findings are the same."""
    root, library = _lazy_tree(tmp_path, "dialect")
    log = tmp_path / "dialect.log"
    env = cli_env(PYTHONPATH=str(library), PREFLIGHT_CACHE_DIR=str(tmp_path / "cache"), LAZY_LOG=str(log))
    first = run_cli(["check"], cwd=root, env=env, prefix=["taskset", "-c", "0"])
    assert first.report["zygote"]["learned"] == ["lazylib.dialect"], first.report
    assert len(log.read_text().split()) >= 3  # a fork, the trial, the zygote (and forks before it)
    log.unlink()
    second = run_cli(["check"], cwd=root, env=env, prefix=["taskset", "-c", "0"])
    assert second.report["mode"] == "zygote", second.report.get("mode_reason")
    assert second.report["zygote"]["remembered"] == ["lazylib.dialect"]
    assert second.report["zygote"]["learned"] == []
    assert len(log.read_text().split()) == 1  # by the zygote, for every fork
    assert second.returncode == first.returncode == 1
    assert [(c["target"], c["status"], c.get("cause"), c.get("file"), c.get("line")) for c in second.report["checks"]] \
        == [(c["target"], c["status"], c.get("cause"), c.get("file"), c.get("line")) for c in first.report["checks"]]


def test_a_remembered_module_that_became_unsafe_falls_back_and_is_forgotten(tmp_path: Path) -> None:
    """Remembered modules are preloaded without a trial: one that now starts a thread makes this run
    fall back to fresh interpreters (same findings), and the next run starts from nothing again."""
    root, library = _lazy_tree(tmp_path, "dialect")
    env = cli_env(PYTHONPATH=str(library), PREFLIGHT_CACHE_DIR=str(tmp_path / "cache"))
    assert run_cli(["check"], cwd=root, env=env).report["zygote"]["learned"] == ["lazylib.dialect"]
    (library / "lazylib" / "dialect.py").write_text(textwrap.dedent(LAZY_LIBRARY["lazylib/poller.py"]))
    fell_back = run_cli(["check"], cwd=root, env=env)
    assert fell_back.report["mode"] == "fresh" and "lazy-poller" in fell_back.report["mode_reason"]
    assert fell_back.check("app.circ_a")["cause"] == "circular_import"
    assert all(fell_back.check(f"app.user{i}")["status"] == "passed" for i in range(4))
    again = run_cli(["check"], cwd=root, env=env)
    assert again.report["mode"] == "zygote", again.report.get("mode_reason")
    assert again.report["zygote"]["remembered"] == [] and again.report["zygote"]["learned"] == []


@pytest.mark.parametrize("part", ["poller", "settings"])
def test_a_lazy_import_that_would_make_forking_unsafe_is_not_learned(tmp_path: Path, part: str) -> None:
    """A trial fork imports what would be learned first: a thread or an application module there
    keeps the zygote as it was, and the checks go on in zygote mode with the same findings."""
    root, library = _lazy_tree(tmp_path, part)
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(library)), prefix=["taskset", "-c", "0"])
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    assert result.report["zygote"]["learned"] == []
    assert all(result.check(f"app.user{i}")["status"] == "passed" for i in range(4))
    assert result.check("app.circ_a")["cause"] == "circular_import"


def test_checks_never_outnumber_the_cores_helpers_included(tmp_path: Path) -> None:
    """Each check takes an exclusive lock without waiting: on one core, two checks alive at once
    (a helper's fork beside the zygote's, say) would make one of them fail."""
    library = write_tree(tmp_path / "lib" / "site-packages", {
        "early/__init__.py": "VALUE = 1\n",  # preloaded first: its users start while 'late' still loads
        "late/__init__.py": "import email.mime.multipart, http.client, xml.dom.minidom\n",
    })
    claim = """
        import fcntl, os
        import {lib}

        lock = os.open(os.environ["CHECK_LOCK"], os.O_RDWR | os.O_CREAT)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: another check is alive
        sum(range(300_000))  # some work while holding it; the process's exit releases it
        """
    files = {"app/__init__.py": ""}
    for index in range(6):
        files[f"app/m{index}.py"] = claim.format(lib="early" if index % 2 else "late")
    modules = ", ".join(f"app.m{index}" for index in range(6))
    files["preflight.yaml"] = f"version: 1\nimports: [{modules}]\n"
    root = write_tree(tmp_path / "svc", files)
    env = cli_env(PYTHONPATH=str(library), CHECK_LOCK=str(tmp_path / "lock"))
    result = run_cli(["check"], cwd=root, env=env, prefix=["taskset", "-c", "0"])
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    assert result.returncode == 0, [c for c in result.report["checks"] if c["status"] != "passed"]


def test_a_fallback_while_helpers_hold_runs_runs_each_check_once(tmp_path: Path) -> None:
    """Checks ready early go to helper forks while the zygote preloads on; when a later preload
    starts a thread, the helpers must hand back what they have not begun, not race the fresh runs."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores: on one, nothing is forked while the zygote preloads")
    library = write_tree(tmp_path / "lib" / "site-packages", {
        "early/__init__.py": "VALUE = 1\n",
        "late/__init__.py": """
            import email.mime.multipart, http.client, xml.dom.minidom
            import threading

            threading.Thread(target=threading.Event().wait, daemon=True, name="late-poller").start()
            """,
    })
    record = """
        import os
        import {lib}

        with open(os.environ["CHECK_LOG"], "a") as log:
            log.write(__name__ + "\\n")
        sum(range(300_000))
        """
    files = {"app/__init__.py": ""}
    modules = [f"app.e{index}" for index in range(5)] + ["app.late_user"]
    for module in modules:
        files[module.replace(".", "/") + ".py"] = record.format(lib="late" if module == "app.late_user" else "early")
    files["preflight.yaml"] = f"version: 1\nimports: [{', '.join(modules)}]\n"
    root = write_tree(tmp_path / "svc", files)
    log = tmp_path / "imports.log"
    env = cli_env(PYTHONPATH=str(library), CHECK_LOG=str(log))
    result = run_cli(["check"], cwd=root, env=env, prefix=["taskset", "-c", "0,1"])
    assert result.returncode == 0, result.stderr
    assert result.report["mode"] == "fresh" and "late-poller" in result.report["mode_reason"]
    assert sorted(log.read_text().split()) == sorted(modules)  # each imported once, none twice


_SEEN = """
    import os, sys
    import {lib}

    with open(os.environ["CHECK_LOG"], "a") as log:  # which libraries its process had when forked
        log.write(__name__ + " " + ",".join(sorted(m for m in {libs!r} if m in sys.modules)) + "\\n")
    """


def _seen(log: Path) -> dict[str, str]:
    return dict(line.split(" ") for line in log.read_text().split("\n") if line)


def test_a_check_whose_library_an_earlier_step_imported_starts_before_that_steps_turn(tmp_path: Path) -> None:
    """``big`` imports ``sub``: a check needing only ``sub`` is ready once ``big`` is in, and is
    forked then, not once the preload reaches ``sub`` (after ``slow`` here)."""
    libs = ("big", "slow", "sub")
    library = write_tree(tmp_path / "lib" / "site-packages", {
        "sub.py": "VALUE = 1\n", "big.py": "import sub\n", "slow.py": "X = sum(range(2_000_000))\n"})
    files = {"app/__init__.py": ""}
    for module, lib in (("a_big", "big"), ("b_slow", "slow"), ("c_sub", "sub")):  # the preload's order: big, slow, sub
        files[f"app/{module}.py"] = _SEEN.format(lib=lib, libs=libs)
    files["preflight.yaml"] = "version: 1\nimports: [app.a_big, app.b_slow, app.c_sub]\n"
    root = write_tree(tmp_path / "svc", files)
    log = tmp_path / "seen.log"
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(library), CHECK_LOG=str(log)))
    assert result.returncode == 0 and result.report["mode"] == "zygote", result.report.get("mode_reason")
    assert _seen(log)["app.c_sub"] == "big,sub"  # forked before slow was preloaded


def test_a_check_ready_while_every_core_is_busy_is_forked_then_not_after_the_preload(tmp_path: Path) -> None:
    """The first helper's check holds the one free core until the zygote imports ``third``; the
    check ready after ``second`` still gets a helper forked then, which waits for a core: it does
    not wait for the whole preload, when a core may idle all that time. Here ``third``'s import
    (in the zygote) frees the first check's core and waits for that check to start: without such
    a helper it would wait for ever, and the checks fail."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores: one for the zygote, one for the helper's check")
    for fifo in ("release", "started"):
        os.mkfifo(tmp_path / fifo)
    libs = ("first", "second", "third")
    library = write_tree(tmp_path / "lib" / "site-packages", {
        "first.py": "VALUE = 1\n",
        "second.py": "X = sum(range(5_000_000))\n",  # long enough for a helper forked before it to be due again
        "third.py": """
            import os, select

            if not os.path.exists(os.environ["DONE"]):  # the zygote's import (a check's after it skips this)
                os.close(os.open(os.environ["RELEASE"], os.O_WRONLY))  # the first check ends: a core is free
                started = os.open(os.environ["STARTED"], os.O_RDONLY | os.O_NONBLOCK)
                select.select([started], [], [])  # until the second check has started
                os.close(started)
            """,
    })
    first = """
        import os
        import first

        with open(os.environ["RELEASE"]) as fifo:  # until the zygote imports third
            fifo.read()
        """
    second = _SEEN.format(lib="second", libs=libs) + """
        open(os.environ["DONE"], "w").close()
        with open(os.environ["STARTED"], "w") as fifo:
            fifo.write("started")
        """
    files = {"app/__init__.py": "", "app/a_first.py": first, "app/b_second.py": second,
             "app/c_third.py": _SEEN.format(lib="third", libs=libs),
             "preflight.yaml": "version: 1\ntimeout: 20\nimports: [app.a_first, app.b_second, app.c_third]\n"}
    root = write_tree(tmp_path / "svc", files)
    log = tmp_path / "seen.log"
    env = cli_env(PYTHONPATH=str(library), CHECK_LOG=str(log), RELEASE=str(tmp_path / "release"),
                  STARTED=str(tmp_path / "started"), DONE=str(tmp_path / "done"))
    result = run_cli(["check"], cwd=root, env=env, prefix=["taskset", "-c", "0,1"])
    assert result.returncode == 0, [c for c in result.report["checks"] if c["status"] != "passed"]
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    assert _seen(log)["app.b_second"] == "first,second"  # forked before third was preloaded


def test_what_the_zygote_read_from_a_file_is_kept_until_the_file_changes(tmp_path: Path) -> None:
    """The scan's reading of each application file is kept between runs (most of the scan, which
    every start waits for); an edited file is read again, so a library it now imports is preloaded."""
    library = write_tree(tmp_path / "lib" / "site-packages", {
        "marker.py": "import os\n\nwith open(os.environ['CHECK_LOG'], 'a') as log:\n    log.write(f'marker {os.getpid()}\\n')\n"})
    check = "import os\n{imports}\nwith open(os.environ['CHECK_LOG'], 'a') as log:\n    log.write(f'check {{os.getpid()}}\\n')\n"
    root = write_tree(tmp_path / "svc", {"app/__init__.py": "", "app/m.py": check.format(imports="import json\n"),
                                         "preflight.yaml": "version: 1\nimports: [app.m]\n"})
    log, cache = tmp_path / "pids.log", tmp_path / "cache"
    env = cli_env(PYTHONPATH=str(library), CHECK_LOG=str(log), PREFLIGHT_CACHE_DIR=str(cache))
    assert run_cli(["check"], cwd=root, env=env).returncode == 0
    kept = list(cache.glob("learned/*.imports.json"))
    assert len(kept) == 1 and str(root / "app" / "m.py") in json.loads(kept[0].read_text())

    (root / "app" / "m.py").write_text(check.format(imports="import json\nimport marker\n"))
    log.write_text("")
    result = run_cli(["check"], cwd=root, env=env)
    assert result.returncode == 0 and result.report["mode"] == "zygote", result.report.get("mode_reason")
    pids = dict(line.split() for line in log.read_text().splitlines())
    assert pids["marker"] != pids["check"]  # imported by the zygote, before the check forked


_MEANWHILE = """
    import sys
    import types

    import app.gone


    def meanwhile(frame, event, arg):
        \"\"\"Stands for a thread of the application that imports a module, or drops one (a failed
        import), at the moment preflight goes over what this import loaded: there, exactly.\"\"\"
        if frame.f_code.co_name != "since":
            return
        if {change!r} == "adds" and event == "c_call" and getattr(arg, "__name__", "") == "append":
            sys.modules["app_added"] = types.ModuleType("app_added")
        elif {change!r} == "drops" and event == "return":
            del sys.modules["app.gone"]
        else:
            return
        sys.setprofile(None)


    sys.setprofile(meanwhile)
    """


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("change", ["adds", "drops"])
def test_a_module_added_or_dropped_while_the_check_lists_what_it_loaded(tmp_path: Path, mode: str, change: str) -> None:
    """A thread the import started may change ``sys.modules`` while the check walks it: the check
    still passes (no "dictionary changed size", no KeyError for a name gone since)."""
    files = {"app/__init__.py": "", "app/gone.py": "", "app/main.py": _MEANWHILE.format(change=change),
             "preflight.yaml": "version: 1\nimports: [app.main]\n"}
    result = run_cli(["check", "--mode", mode], cwd=write_tree(tmp_path, files))
    assert result.report["mode"] == mode, result.report.get("mode_reason")
    assert result.returncode == 0, result.check("app.main")


def test_events_longer_than_an_atomic_pipe_write_never_mix_with_a_helpers(tmp_path: Path) -> None:
    """The zygote's "ready" lists every loaded file; with thousands of long paths it is megabytes,
    written while helpers' forks report on the same pipe. Lines must not be cut into each other."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores: on one, nothing is forked while the zygote preloads")
    site = tmp_path / "lib" / "site-packages"
    parts = ["big", *(f"d{index}" + "x" * 200 for index in range(12))]
    package = site.joinpath(*parts)
    names = [f"m{index:04d}" + "y" * 200 for index in range(1500)]
    write_tree(site, {"early.py": "VALUE = 1\n", **{"/".join(parts[:i + 1]) + "/__init__.py": "" for i in range(len(parts))}})
    for name in names:
        (package / f"{name}.py").write_text("X = 1\n")
    (site / "big" / "__init__.py").write_text(
        f"import importlib\n\nfor name in {names!r}:\n    importlib.import_module({'.'.join(parts)!r} + '.' + name)\n")
    files = {"app/__init__.py": "", "app/late_user.py": "import big\n"}
    modules = [f"app.e{index}" for index in range(20)]
    for module in modules:
        files[module.replace(".", "/") + ".py"] = "import early\n\nsum(range(3_000_000))\n"
    modules.append("app.late_user")
    files["preflight.yaml"] = f"version: 1\nimports: [{', '.join(modules)}]\n"
    root = write_tree(tmp_path / "svc", files)
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(site)), prefix=["taskset", "-c", "0,1"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    assert len(result.report["checks"]) == len(modules)


def test_hundreds_of_checks_with_their_own_dependencies_stay_in_zygote_mode(tmp_path: Path) -> None:
    """Each preload step makes one more check ready: helpers stay few, so their pipes stay few,
    even under a limit of 256 open files."""
    library = write_tree(tmp_path / "lib" / "site-packages", {f"l{index}.py": "X = 1\n" for index in range(400)})
    files = {"app/__init__.py": "", **{f"app/c{index}.py": f"import l{index}\n" for index in range(400)}}
    files["preflight.yaml"] = "version: 1\nimports: [%s]\n" % ", ".join(f"app.c{index}" for index in range(400))
    root = write_tree(tmp_path / "svc", files)
    result = run_cli(["check"], cwd=root, env=cli_env(PYTHONPATH=str(library)), prefix=["prlimit", "--nofile=256"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.report["mode"] == "zygote", result.report.get("mode_reason")
    assert len(result.report["checks"]) == 400


@pytest.mark.parametrize("name, value, allowed", [("PREFLIGHT_MODE", "zygot", "zygote, fresh"),
                                                  ("PREFLIGHT_STATIC_ANALYSER", "rufff", "ruff, pyflakes")])
def test_an_unknown_value_of_a_choice_variable_is_bad_input(tmp_path, name, value, allowed):
    """Not a silent default (an unknown PREFLIGHT_MODE ran fresh, ten times slower): exit 2 before any check."""
    write_tree(tmp_path, {"marker.py": "open(__file__ + '.IMPORTED', 'w')\n",
                          "preflight.yaml": "version: 1\nimports: [marker]\n"})
    result = run_cli(["check"], tmp_path, env=cli_env(**{name: value}))
    assert result.returncode == 2, result.stderr
    message = result.events()[0]["message"]
    assert message == f"{name} is set to a value that is not one of: {allowed}"
    assert not (tmp_path / "marker.py.IMPORTED").exists()


@pytest.mark.parametrize("mode", MODES)
def test_pythonsafepath_in_the_environment_does_not_break_the_checks(tmp_path: Path, mode: str) -> None:
    """With PYTHONSAFEPATH a script's directory is not on sys.path: preflight's own child scripts
    must still find their modules, and every check still runs (it died as "could not describe itself")."""
    root = write_tree(tmp_path, {k: v for k, v in BROKEN.items() if k in ("app/__init__.py", "app/fine.py")})
    (root / "preflight.yaml").write_text("version: 1\nimports:\n  - module: app.fine\n    symbols: [VALUE]\n")
    result = run_cli(["check", "--mode", mode], cwd=root, env=cli_env(PYTHONSAFEPATH="1"))
    assert result.returncode == 0, result.stderr
    assert result.report["mode"] == mode and result.check("app.fine")["status"] == "passed"
