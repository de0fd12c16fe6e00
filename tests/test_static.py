"""Static checks through the real CLI: `preflight scan` and `static:` in `preflight check`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import error_event

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_ENV = {"static_twins": {"PYTHONPATH": "extra"}, "static_aliases": {"PYTHONPATH": "lib/site-packages"}}


def preflight(*args: str, cwd: Path, cache: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PREFLIGHT_")}
    environ.update(PREFLIGHT_CACHE_DIR=str(cache), **(env or {}))
    return subprocess.run([sys.executable, "-m", "preflight", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


def scan(cwd: Path, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    done = preflight("scan", *args, "--report", str(report), "--format", "json", cwd=cwd,
                     cache=tmp_path / "cache", env=env)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(report.read_text())


def findings(report: dict, cause: str | None = None) -> list[dict]:
    return [c for c in report["checks"] if c["kind"] == "static" and c.get("cause")
            and (cause is None or c["cause"] == cause)]


def by_name(report: dict) -> dict[str, dict]:
    return {c["details"]["name"]: c for c in findings(report, "undefined_name")}


@pytest.mark.parametrize("analyser", ["ruff", "pyflakes"])
def test_undefined_names_in_functions_type_checking_and_annotations(tmp_path: Path, analyser: str) -> None:
    code, report = scan(FIXTURES / "static_names", tmp_path, env={"PREFLIGHT_STATIC_ANALYSER": analyser})
    assert code == 1
    names = by_name(report)
    assert set(names) == {"time", "Decimal", "Customer", "Widget"}  # `json` carries `# noqa: F821`

    time_ = names["time"]
    assert time_["status"] == "failed"
    assert time_["file"].endswith("app/ws.py") and time_["line"] == 9
    assert "missing `import time`?" in time_["hint"]
    assert time_["details"]["function"] == "heartbeat()"

    decimal = names["Decimal"]  # bound only under `if TYPE_CHECKING:`, used at run time
    assert decimal["status"] == "failed" and decimal["line"] == 9 and decimal["details"]["bound_line"] == 4
    assert "TYPE_CHECKING" in decimal["message"]

    assert names["Widget"]["status"] == "warned"  # deferred annotation: nothing evaluates it
    assert names["Widget"]["details"]["context"] == "deferred"
    assert names["Customer"]["status"] == "failed"  # pydantic evaluates model fields
    assert "pydantic" in names["Customer"]["details"]["why"]
    assert report["checks"][0]["details"]["analyser"].startswith(analyser)


@pytest.mark.parametrize("analyser", ["ruff", "pyflakes"])
def test_a_pep_263_latin_1_file_is_analysed_like_its_utf_8_twin(tmp_path: Path, analyser: str) -> None:
    code, report = scan(FIXTURES / "static_encodings", tmp_path, env={"PREFLIGHT_STATIC_ANALYSER": analyser})
    assert code == 1
    found = {Path(c["file"]).name: c for c in findings(report, "undefined_name")}
    assert set(found) == {"latin.py", "utf.py"}  # `json` carries `# noqa: F821` in both
    for check in found.values():
        assert (check["details"]["name"], check["line"], check["status"]) == ("time", 8, "failed")
        assert check["details"]["function"] == "stamp()"


@pytest.mark.parametrize("analyser", ["ruff", "pyflakes"])
def test_a_type_checking_import_a_framework_evaluates_fails_with_either_analyser(tmp_path: Path, analyser: str) -> None:
    code, report = scan(FIXTURES / "static_type_checking", tmp_path, env={"PREFLIGHT_STATIC_ANALYSER": analyser})
    assert code == 1
    found = {(Path(c["file"]).name, c["details"]["name"]): c for c in findings(report, "undefined_name")}
    assert {k: (c["line"], c["details"]["bound_line"]) for k, c in found.items()} == {
        ("schemas.py", "datetime"): (17, 11),  # pydantic field under `from __future__ import annotations`
        ("schemas.py", "Decimal"): (22, 12),   # dataclass field
        ("routes.py", "UUID"): (14, 8),        # FastAPI endpoint signature
    }  # plain.py's `Path` annotates a function nothing evaluates: no finding
    for check in found.values():
        assert check["status"] == "failed" and check["details"]["context"] == "evaluated"
        assert "TYPE_CHECKING" in check["message"] and "quoting the annotation does not help" in check["hint"]
    assert "pydantic evaluates model fields" in found[("schemas.py", "datetime")]["message"]
    assert report["checks"][0]["details"]["analyser"].startswith(analyser)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("static_*")))
def test_both_analysers_agree_on_every_static_fixture(tmp_path: Path, fixture: str) -> None:
    seen = []
    for analyser in ("ruff", "pyflakes"):
        (tmp_path / analyser).mkdir()
        env = {"PREFLIGHT_STATIC_ANALYSER": analyser, **FIXTURE_ENV.get(fixture, {})}
        _, report = scan(FIXTURES / fixture, tmp_path / analyser, env=env)
        seen.append(sorted((c["cause"], c["target"], c["file"], c.get("line"), c["status"], c["message"])
                           for c in findings(report)))
    assert seen[0] == seen[1]


def test_suggests_the_import_the_rest_of_the_app_uses(tmp_path: Path) -> None:
    app = tmp_path / "svc"
    shutil.copytree(FIXTURES / "static_names", app)
    (app / "app" / "jobs.py").write_text("def later(days):\n    return timedelta(days=days)\n")
    (app / "app" / "clock.py").write_text("from datetime import timedelta\n\nWEEK = timedelta(days=7)\n")
    main = app / "app" / "main.py"
    main.write_text(main.read_text() + "from app import clock, jobs  # noqa: E402\n")
    _, report = scan(app, tmp_path)
    hint = by_name(report)["timedelta"]["hint"]
    assert "from datetime import timedelta" in hint


def test_check_runs_the_static_pass_with_the_import_checks(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = preflight("check", "--report", str(report), "--format", "json", "--mode", "fresh",
                     cwd=FIXTURES / "static_names", cache=tmp_path / "cache")
    assert done.returncode == 1, done.stderr
    data = json.loads(report.read_text())
    kinds = {c["kind"] for c in data["checks"]}
    assert {"import", "static"} <= kinds
    assert next(c for c in data["checks"] if c["kind"] == "import")["status"] == "passed"
    assert "time" in by_name(data)


def test_unresolved_lazy_imports(tmp_path: Path) -> None:
    code, report = scan(FIXTURES / "static_lazy", tmp_path)
    assert code == 1
    found = {c["target"]: c for c in findings(report, "unresolved_import")}
    assert set(found) == {"reportlab_not_installed.pdfgen", "app.plugins.csv_export"}  # guarded ujson is fine
    pdf = found["reportlab_not_installed.pdfgen"]
    assert pdf["line"] == 10 and pdf["details"]["lazy"] and pdf["details"]["function"] == "export"
    assert "pip install" in pdf["hint"]
    plugin = found["app.plugins.csv_export"]
    assert plugin["line"] == 17 and "import_module" in plugin["details"]["statement"]
    assert "has no module 'plugins'" in plugin["hint"]


def test_modules_a_library_provides_without_a_file_of_their_own_resolve(tmp_path: Path) -> None:
    marker = tmp_path / "app-imported"
    env = {**FIXTURE_ENV["static_aliases"], "STATIC_ALIASES_MARKER": str(marker)}
    code, report = scan(FIXTURES / "static_aliases", tmp_path, env=env)
    assert code == 1
    found = {c["target"]: c for c in findings(report, "unresolved_import")}
    # os.path (module level, `from`, in a function), aliaslib.moves (set in sys.modules as os does)
    # and aliaslib.lazy.deep (served by a finder as six.moves is) all import
    assert set(found) == {"aliaslib.nothere", "app.virtual"}
    assert found["aliaslib.nothere"]["line"] == 22
    assert "aliaslib is installed" in found["aliaslib.nothere"]["hint"]
    assert found["app.virtual"]["line"] == 28  # only running the application's own __init__ would tell
    assert not marker.exists()  # the static pass ran none of the application's code


def test_check_passes_import_os_path_in_a_function(tmp_path: Path) -> None:
    app = tmp_path / "svc"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "main.py").write_text('def f():\n    import os.path\n\n    return os.path.join("a", "b")\n')
    (app / "preflight.yaml").write_text("version: 1\nimports: [app.main]\nstatic: true\n")
    report = tmp_path / "report.json"
    done = preflight("check", "--report", str(report), "--format", "json", "--mode", "fresh", cwd=app,
                     cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert findings(json.loads(report.read_text())) == []


def test_import_cycles_warn_and_say_which_entry_breaks(tmp_path: Path) -> None:
    code, report = scan(FIXTURES / "static_cycles", tmp_path)
    assert code == 0  # cycles warn by default
    cycles = {c["target"]: c for c in findings(report, "import_cycle")}
    assert set(cycles) == {"app.a -> app.b -> app.a", "app.models -> app.schemas -> app.models"}
    harmless = cycles["app.a -> app.b -> app.a"]
    assert harmless["status"] == "warned" and harmless["details"]["order_dependent"] is False
    risky = cycles["app.models -> app.schemas -> app.models"]
    assert risky["details"]["order_dependent"] is True
    assert risky["details"]["breaks_when_first"] == ["app.schemas"]
    assert risky["details"]["manifest_enters_at"] == "app.models"
    assert [(Path(e["file"]).name, e["line"]) for e in risky["details"]["cycle"]] == [("models.py", 5), ("schemas.py", 1)]
    assert "Importing app.schemas first fails" in risky["message"]


def test_import_cycles_fail_when_asked(tmp_path: Path) -> None:
    code, report = scan(FIXTURES / "static_cycles", tmp_path, "fail.yaml")
    assert code == 1
    assert {c["status"] for c in findings(report, "import_cycle")} == {"failed"}


def test_twins_in_the_tree_and_on_sys_path(tmp_path: Path) -> None:
    code, report = scan(FIXTURES / "static_twins", tmp_path, env=FIXTURE_ENV["static_twins"])
    assert code == 0  # twins warn while nothing fails yet
    twins = {c["target"]: c for c in findings(report, "shadowed")}
    assert set(twins) == {"app.core.exceptions", "app_settings", "turtle", "uvicorn"}
    package = twins["app.core.exceptions"]
    assert package["status"] == "warned"
    assert package["details"]["loaded"].endswith("app/core/exceptions/__init__.py")
    assert package["details"]["hidden"][0].endswith("app/core/exceptions.py")
    assert "ServiceError" in package["details"]["only_in_hidden"]
    assert twins["app_settings"]["details"]["hidden"][0].endswith("extra/app_settings.py")
    assert "standard library" in twins["turtle"]["message"]
    assert "installed distribution" in twins["uvicorn"]["message"]


def test_baseline_silences_old_findings_and_fails_a_new_one(tmp_path: Path) -> None:
    app = tmp_path / "svc"
    shutil.copytree(FIXTURES / "static_names", app)
    baseline = app / "static-baseline.json"
    done = preflight("scan", "--write-baseline", str(baseline), cwd=app, cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert json.loads(baseline.read_text())["schema"] == "preflight/static-baseline-v1"

    code, report = scan(app, tmp_path, "--baseline", str(baseline))
    assert code == 0
    assert all(c["status"] == "skipped" for c in findings(report))

    ws = app / "app" / "ws.py"
    ws.write_text("\n\n" + ws.read_text() + "\n\ndef retry():\n    return random.random()\n")
    code, report = scan(app, tmp_path, "--baseline", str(baseline))
    assert code == 1
    failing = [c for c in findings(report) if c["status"] == "failed"]
    assert [c["details"]["name"] for c in failing] == ["random"]  # `time` moved two lines: still known


def test_missing_baseline_is_bad_input(tmp_path: Path) -> None:
    done = preflight("scan", "--baseline", str(tmp_path / "nope.json"), cwd=FIXTURES / "static_names",
                     cache=tmp_path / "cache")
    assert done.returncode == 2
    assert "--write-baseline" in done.stderr


def test_write_baseline_creates_its_directory_and_an_unwritable_path_is_bad_input(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "baseline.json"
    done = preflight("scan", "--write-baseline", str(target), cwd=FIXTURES / "static_names", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text())["schema"] == "preflight/static-baseline-v1"
    (tmp_path / "a-file").write_text("")
    for where, words in ((tmp_path / "a-file" / "baseline.json", f"{tmp_path / 'a-file'} is a file, not a directory"),
                         (tmp_path / "a-file" / "deeper" / "baseline.json", "cannot create"),
                         (tmp_path, "Is a directory")):
        done = preflight("scan", "--write-baseline", str(where), cwd=FIXTURES / "static_names",
                         cache=tmp_path / "cache")
        assert done.returncode == 2, done.stderr
        message = error_event(done.stderr)["message"]
        assert message.startswith(f"cannot write baseline {where}: ") and words in message
        assert "Traceback" not in done.stderr
    assert not (tmp_path.parent / (tmp_path.name + ".tmp")).exists()


def test_unreadable_or_malformed_baseline_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "counts.json").write_text(json.dumps({"schema": "preflight/static-baseline-v1",
                                                      "findings": {"undefined_name|app/a.py|time": "many"}}))
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe{}")
    (tmp_path / "list.json").write_text("[]")
    cases = {"counts.json": "is not a whole number", "latin.json": "is not JSON", "list.json": "is not a preflight "
             "baseline", ".": "cannot read baseline"}
    for name, words in cases.items():
        done = preflight("scan", "--baseline", str(tmp_path / name), cwd=FIXTURES / "static_names",
                         cache=tmp_path / "cache")
        assert done.returncode == 2, (name, done.stderr)
        assert words in done.stderr and "Traceback" not in done.stderr, (name, done.stderr)


def test_console_groups_many_findings_by_name_and_file(tmp_path: Path) -> None:
    app = tmp_path / "svc"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    modules = []
    for i in range(6):
        (app / "app" / f"m{i}.py").write_text("def f():\n    return time.time(), json.dumps(1)\n")
        modules.append(f"m{i}")
    (app / "app" / "main.py").write_text(f"from app import {', '.join(modules)}\n")
    (app / "preflight.yaml").write_text("version: 1\nimports: [app.main]\nstatic: true\n")
    report = tmp_path / "report.json"
    done = preflight("scan", "--format", "console", "--report", str(report), cwd=app, cache=tmp_path / "cache")
    assert done.returncode == 1
    assert "12 undefined names in code that runs: 2 distinct in 6 files" in done.stderr
    assert "json x6 in 6 files" in done.stderr and "time x6 in 6 files" in done.stderr
    assert "by file: app/m0.py 2" in done.stderr
    assert len(by_name_all(json.loads(report.read_text()))) == 12  # the report keeps every one


def by_name_all(report: dict) -> list[dict]:
    return findings(report, "undefined_name")


def test_warm_pass_uses_the_cache_and_sees_edits(tmp_path: Path) -> None:
    app = tmp_path / "svc"
    shutil.copytree(FIXTURES / "static_names", app)
    _, cold = scan(app, tmp_path)
    _, warm = scan(app, tmp_path)
    assert cold["checks"][0]["details"]["cache_hits"] == 0
    assert warm["checks"][0]["details"]["cache_misses"] == 0
    assert by_name(cold).keys() == by_name(warm).keys()
    ws = app / "app" / "ws.py"
    ws.write_text("import time\n" + ws.read_text())
    _, edited = scan(app, tmp_path)
    assert "time" not in by_name(edited)


def test_static_off_skips_the_pass(tmp_path: Path) -> None:
    app = tmp_path / "svc"
    shutil.copytree(FIXTURES / "static_names", app)
    (app / "preflight.yaml").write_text("version: 1\nimports: [app.main]\nstatic: false\n")
    report = tmp_path / "report.json"
    done = preflight("check", "--report", str(report), "--format", "json", cwd=app, cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert not [c for c in json.loads(report.read_text())["checks"] if c["kind"] == "static"]
