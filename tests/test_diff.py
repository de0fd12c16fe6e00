"""``preflight diff`` on real reports from real runs: each diff names the real cause first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli_env, error_event
from test_fingerprint import CANARY, check, service

MONITORING_IMPORTER = "from app.services.monitoring import track_request\n"


def diff(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preflight", "diff", *args], cwd=cwd, env=cli_env(**env),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def both(a: Path, b: Path, *args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """The console view and the JSON view of one diff; their exit statuses must agree."""
    console = diff(str(a), str(b), *args, cwd=cwd)
    machine = diff(str(a), str(b), *args, "--format", "json", cwd=cwd)
    assert console.returncode == machine.returncode, (console.stderr, machine.stderr)
    return console, json.loads(machine.stdout)


def monitoring_service(root: Path, with_monitoring: bool) -> Path:
    tree = service(root, main="VALUE = 1\n", manifest="version: 1\nimports: [app.main, app.middleware.gcp_auth]\n")
    (tree / "app" / "middleware").mkdir()
    (tree / "app" / "middleware" / "__init__.py").write_text("")
    (tree / "app" / "middleware" / "gcp_auth.py").write_text('"""Auth."""\n\n' + MONITORING_IMPORTER)
    (tree / "app" / "services").mkdir()
    (tree / "app" / "services" / "__init__.py").write_text("")
    if with_monitoring:
        (tree / "app" / "services" / "monitoring").mkdir()
        (tree / "app" / "services" / "monitoring" / "__init__.py").write_text("def track_request(r):\n    pass\n")
    return tree


def test_a_dropped_subpackage_is_named_first_with_the_file_that_needs_it(tmp_path: Path) -> None:
    here = monitoring_service(tmp_path / "here" / "svc", with_monitoring=True)
    there = monitoring_service(tmp_path / "there" / "svc", with_monitoring=False)
    assert check(here, tmp_path / "a.json")[0] == 0
    assert check(there, tmp_path / "b.json")[0] == 1

    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.returncode == 1, console.stderr
    first = console.stdout.splitlines()[0]
    assert first == (f"app/services/monitoring/ exists in {tmp_path}/a.json and not in {tmp_path}/b.json; "
                     "app/middleware/gcp_auth.py:3 needs it")
    [explained] = data["explained"]
    assert (explained["target"], explained["passes"], explained["fails"]) == ("app.middleware.gcp_auth", "a", "b")
    assert explained["reasons"][0] == {
        "topic": "code", "message": first, "path": "app/services/monitoring/", "present": "a", "absent": "b",
        "needed_by": "app/middleware/gcp_auth.py:3"}
    assert data["matters"] is True and data["same_code"] is False

    live = diff("local", str(tmp_path / "b.json"), cwd=here)  # the manifest run here, now
    assert live.returncode == 1, live.stderr
    assert live.stdout.startswith("app/services/monitoring/ exists here and not in ")


def test_pythonpath_drift_names_the_entry_that_holds_the_package(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc" / "src")
    (tmp_path / "svc" / "preflight.yaml").write_text("version: 1\nimports: [app.main]\n")
    root = tmp_path / "svc"
    assert check(root, tmp_path / "a.json", PYTHONPATH=str(tree))[0] == 0
    assert check(root, tmp_path / "b.json")[0] == 1

    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.returncode == 1
    lines = console.stdout.splitlines()
    assert lines[0].startswith(f"{tree} holds app and is on sys.path in {tmp_path}/a.json (PYTHONPATH), not in ")
    assert f"PYTHONPATH is {tree} in {tmp_path}/a.json and unset in {tmp_path}/b.json" in console.stdout
    reasons = data["explained"][0]["reasons"]
    assert [r["topic"] for r in reasons[:2]] == ["sys_path", "pythonpath"]
    assert reasons[0]["entry"] == str(tree) and reasons[0]["via"] == "PYTHONPATH"


def test_workdir_drift_names_the_working_directory(tmp_path: Path) -> None:
    src = service(tmp_path / "svc" / "src")
    (tmp_path / "svc" / "preflight.yaml").write_text("version: 1\nimports: [app.main]\n")
    assert check(src, tmp_path / "a.json")[0] == 0  # WORKDIR /svc/src, as built
    assert check(tmp_path / "svc", tmp_path / "b.json")[0] == 1  # WORKDIR /svc: drifted

    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.stdout.splitlines()[0].startswith(f"{src} holds app and is on sys.path in {tmp_path}/a.json "
                                                     "(the working directory), not in ")
    topics = [r["topic"] for r in data["explained"][0]["reasons"]]
    assert topics[:2] == ["sys_path", "cwd"]


def test_a_distribution_at_another_version(tmp_path: Path) -> None:
    for version in ("1.4", "2.1"):
        (tmp_path / f"site-{version}" / f"fakedist-{version}.dist-info").mkdir(parents=True)
    tree = service(tmp_path / "svc", manifest='version: 1\ndistributions: ["fakedist>=2"]\nimports: [app.main]\n')
    assert check(tree, tmp_path / "a.json", PYTHONPATH=str(tmp_path / "site-2.1"))[0] == 0
    assert check(tree, tmp_path / "b.json", PYTHONPATH=str(tmp_path / "site-1.4"))[0] == 1

    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.returncode == 1
    assert console.stdout.splitlines()[0] == f"fakedist is 2.1 in {tmp_path}/a.json and 1.4 in {tmp_path}/b.json"
    [explained] = data["explained"]
    assert explained["kind"] == "distribution" and explained["cause"] == "version_conflict"
    assert explained["reasons"][0] == {"topic": "distribution", "message": console.stdout.splitlines()[0],
                                       "name": "fakedist", "a": "2.1", "b": "1.4"}


def test_a_distribution_installed_on_one_side_only(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "fakeyaml").mkdir(parents=True)
    (site / "fakeyaml" / "__init__.py").write_text("")
    (site / "fakeyaml-6.0.dist-info").mkdir()
    tree = service(tmp_path / "svc", main="import fakeyaml\n")
    (tmp_path / "empty").mkdir()
    # site-packages-like: a library directory, so not application code
    lib = tmp_path / "lib" / "site-packages"
    lib.parent.mkdir()
    site.rename(lib)
    assert check(tree, tmp_path / "a.json", PYTHONPATH=str(lib))[0] == 0
    status, report, _ = check(tree, tmp_path / "b.json", PYTHONPATH=str(tmp_path / "empty"))
    assert status == 1 and report["checks"][-1]["cause"] == "distribution_missing"

    console, _ = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.stdout.splitlines()[0] == (f"fakeyaml 6.0 is installed in {tmp_path}/a.json and not in "
                                              f"{tmp_path}/b.json; app/main.py:1 needs it")


def test_an_environment_variable_missing_on_one_side(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc", main='import os\n\nKEY = os.environ["PAYMENTS_API_KEY"]\n')
    assert check(tree, tmp_path / "a.json", PAYMENTS_API_KEY=CANARY)[0] == 0
    assert check(tree, tmp_path / "b.json")[0] == 1

    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.returncode == 1
    first = console.stdout.splitlines()[0]
    assert first == f"PAYMENTS_API_KEY is set in {tmp_path}/a.json and not in {tmp_path}/b.json"
    assert data["explained"][0]["reasons"][0]["topic"] == "env"


def test_a_required_variable_missing_on_one_side(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc", manifest="version: 1\nenv:\n  required: [DATABASE_URL]\nimports: [app.main]\n")
    assert check(tree, tmp_path / "a.json", DATABASE_URL=CANARY)[0] == 0
    assert check(tree, tmp_path / "b.json")[0] == 1
    console, _ = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.stdout.splitlines()[0] == f"DATABASE_URL is set in {tmp_path}/a.json and not in {tmp_path}/b.json"


def test_same_code_is_nothing_that_matters(tmp_path: Path) -> None:
    one, two = service(tmp_path / "one"), service(tmp_path / "two")
    check(one, tmp_path / "a.json")
    check(two, tmp_path / "b.json")
    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.returncode == 0, console.stdout
    assert console.stdout.startswith("nothing that matters differs")
    assert data["matters"] is False and data["same_code"] is True and data["explained"] == []
    assert data["differences"]["cwd"]  # reported all the same, as a difference that does not matter


def test_changed_code_that_still_imports_is_a_difference(tmp_path: Path) -> None:
    one, two = service(tmp_path / "one"), service(tmp_path / "two", main="VALUE = 2\n")
    check(one, tmp_path / "a.json")
    check(two, tmp_path / "b.json")
    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    assert console.returncode == 1
    [code] = data["differences"]["code"]
    assert code["package"] == "app" and code["changed"] == ["app/main.py"] and code["only_a"] == []
    assert "1 changed (app/main.py)" in console.stdout


def test_changed_code_that_breaks_names_the_changed_file(tmp_path: Path) -> None:
    one, two = service(tmp_path / "one"), service(tmp_path / "two", main="VALUE = 1\nTOTAL = VALUE +\n")
    check(one, tmp_path / "a.json")
    assert check(two, tmp_path / "b.json")[0] == 1
    console, _ = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    first = console.stdout.splitlines()[0]
    assert first == (f"app/main.py is not the same in {tmp_path}/a.json as in {tmp_path}/b.json "
                     "(the failure is at app/main.py:2)")


def test_bad_input_exits_2(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc")
    check(tree, tmp_path / "ok.json")
    (tmp_path / "other.json").write_text('{"schema": "someone/else-v3", "checks": []}')
    (tmp_path / "broken.json").write_text("{not json")
    for bad, words in (("missing.json", "cannot read"), ("broken.json", "not JSON"),
                       ("other.json", "not a preflight/report-v1 document")):
        result = diff(str(tmp_path / "ok.json"), str(tmp_path / bad), cwd=tmp_path)
        assert result.returncode == 2, (bad, result.stdout)
        assert words in result.stderr and result.stdout == ""
    unknown = diff(str(tmp_path / "ok.json"), "image:preflight-test/no-such-image:0", cwd=tmp_path,
                   DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")
    assert unknown.returncode == 2 and "cannot reach" in unknown.stderr


def test_a_report_v1_file_with_bad_contents_exits_2_naming_the_file_and_the_problem(tmp_path: Path) -> None:
    tree = service(tmp_path / "svc")
    assert check(tree, tmp_path / "ok.json")[0] == 0
    good = json.loads((tmp_path / "ok.json").read_text())

    def spoiled(change) -> dict:
        data = json.loads(json.dumps(good))
        change(data)
        return data

    cases = {
        "checks-not-a-list": (spoiled(lambda d: d.update(checks={"a": 1})), "`checks` is an object, not a list"),
        "no-checks": (spoiled(lambda d: d.pop("checks")), "`checks` is missing"),
        "check-not-an-object": (spoiled(lambda d: d["checks"].append("import app")), "is a string, not an object"),
        "no-target": (spoiled(lambda d: d["checks"][0].pop("target")), "`checks[0]` has no `target`"),
        "no-kind": (spoiled(lambda d: d["checks"][0].pop("kind")), "`checks[0]` has no `kind`"),
        "no-status": (spoiled(lambda d: d["checks"][0].pop("status")), "`checks[0]` has no `status`"),
        "details-a-number": (spoiled(lambda d: d["checks"][0].update(details=3)), "`checks[0].details` is a number"),
        "environment-a-list": (spoiled(lambda d: d.update(environment=[1])), "`environment` is a list, not an object"),
        "sys-path-a-string": (spoiled(lambda d: d["environment"].update(sys_path="/app")),
                              "`environment.sys_path` is a string, not a list"),
        "package-no-digest": (spoiled(lambda d: d["environment"]["app"]["packages"]["app"].pop("digest")),
                              "`environment.app.packages.app` has no `digest`"),
        "a-list": ([good], "it holds a list, not an object"),
    }
    for name, (data, words) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        for args in ((str(tmp_path / "ok.json"), str(path)), (str(path), str(tmp_path / "ok.json"))):
            result = diff(*args, "--format", "json", cwd=tmp_path)
            assert result.returncode == 2, (name, result.stderr)
            assert "Traceback" not in result.stderr and result.stdout == "", (name, result.stderr)
            message = error_event(result.stderr)["message"]
            assert message.startswith(f"{path} is not ") and words in message, (name, result.stderr)


def test_a_canary_value_never_appears_in_reports_logs_or_diffs(tmp_path: Path) -> None:
    here = monitoring_service(tmp_path / "here" / "svc", with_monitoring=True)
    there = monitoring_service(tmp_path / "there" / "svc", with_monitoring=False)
    _, report_a, log_a = check(here, tmp_path / "a.json", SESSION_SECRET=CANARY, DB_PASSWORD=CANARY)
    _, report_b, log_b = check(there, tmp_path / "b.json", SESSION_SECRET=CANARY)
    console, data = both(tmp_path / "a.json", tmp_path / "b.json", cwd=tmp_path)
    live = diff("local", str(tmp_path / "b.json"), cwd=here, SESSION_SECRET=CANARY)
    assert "DB_PASSWORD" in report_a["environment"]["env_names"]  # the name is there...
    for text in (json.dumps(report_a), json.dumps(report_b), log_a, log_b, console.stdout, json.dumps(data),
                 live.stdout, live.stderr):
        assert CANARY not in text  # ...its value never is
