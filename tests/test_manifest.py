"""Bad input: exit 2, a message naming the key and the YAML line, and nothing imported."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import cli_env, error_event, run_cli

MARKER_MODULE = "import os\nopen(os.path.join(os.path.dirname(__file__), 'IMPORTED'), 'w').close()\n"

# aliases of aliases: 9**8 strings once expanded (PyYAML builds it in milliseconds, sharing the lists)
BOMB = "version: 1\nimports: [marker]\na: &a [" + ", ".join(['"lol"'] * 9) + "]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefg", "bcdefgh"))

CASES = {
    "unknown_key": ("version: 1\nimports: [marker]\ntimeuot: 5\n", "line 3: (top level): unknown key 'timeuot'"),
    "wrong_type": ("version: 1\ntimeout: soon\nimports: [marker]\n", "line 2: timeout:"),
    "bad_module": ("version: 1\nimports:\n  - marker\n  - \"os; import shutil\"\n",
                   "line 4: imports.1: 'os; import shutil' is not a dotted module name"),
    "bad_symbol": ("version: 1\nimports:\n  - module: marker\n    symbols: [\"a-b\"]\n",
                   "line 4: imports.0.symbols.0: 'a-b' is not a dotted attribute name"),
    "malformed": ("version: 1\nimports: [marker\n", "malformed YAML"),
    "no_imports": ("version: 1\nimports: []\n", "line 2: imports: List should have at least 1 item"),
    "missing_version": ("imports: [marker]\n", "line 1: (top level): missing required key 'version'"),
    "future_version": ("version: 2\nimports: [marker]\n", "line 1: version: version must be 1"),
    "not_a_mapping": ("- marker\n", "must be a mapping"),
    "bad_requirement": ("version: 1\ndistributions: [\"redis>>5\"]\nimports: [marker]\n",
                        "line 2: distributions.0: 'redis>>5' is not a PEP 508 requirement"),
    "huge_timeout": ("version: 1\ntimeout: 1e308\nimports: [marker]\n", "line 2: timeout: Input should be less than or equal to 3600"),
    "self_alias": ("version: 1\nimports: &a [*a]\n", "line 2: YAML anchors and aliases (&a) are not allowed"),
    "alias": ("version: 1\nnames: &n [marker]\nimports: *n\n", "line 2: YAML anchors and aliases (&n) are not allowed"),
    "billion_laughs": (BOMB, "line 3: YAML anchors and aliases (&a) are not allowed"),
    "deep_nesting": ("version: 1\nimports: [marker]\nx: " + "[" * 3000 + "]" * 3000 + "\n",
                     "line 3: nested more than 32 levels deep"),
    "deeper_than_libyaml_recurses": ("version: 1\nimports: [marker]\nx: " + "[" * 200_000 + "]" * 200_000 + "\n",
                                     "line 3: nested more than 32 levels deep"),
    "duplicate_key": ("version: 1\nimports: [nonexistent_zz]\nimports: [marker]\n",
                      "line 3: (top level): duplicate key 'imports' (first at line 2)"),
    "duplicate_nested_key": ("version: 1\nimports:\n  - module: nonexistent_zz\n    symbols: [x]\n    module: marker\n",
                             "line 5: imports.0: duplicate key 'module' (first at line 3)"),
    "duplicate_flow_key": ("version: 1\nenv: {required: [A], required: []}\nimports: [marker]\n",
                           "line 2: env: duplicate key 'required' (first at line 2)"),
    "bool_timeout": ("version: 1\ntimeout: true\nimports: [marker]\n",
                     "line 2: timeout: expected a number of seconds, not true"),
    "bool_import_timeout": ("version: 1\nimports:\n  - module: marker\n    timeout: yes\n",
                            "line 4: imports.0.timeout: expected a number of seconds, not true"),
    "quoted_version": ("version: \"1\"\nimports: [marker]\n", "line 1: version: version must be 1 (the only"),
    "bool_version": ("version: true\nimports: [marker]\n", "line 1: version: version must be 1 (the only"),
    "float_version": ("version: 1.0\nimports: [marker]\n", "line 1: version: version must be 1 (the only"),
    "numeric_module": ("version: 1\nimports:\n  - marker\n  - 42\n", "line 4: imports.1: Input should be a valid string"),
    "numeric_symbol": ("version: 1\nimports:\n  - module: marker\n    symbols: [7]\n",
                       "line 4: imports.0.symbols.0: Input should be a valid string"),
    "misspelt_key": ("version: 1\nimport:\n  - marker\n", "line 2: (top level): unknown key 'import' (did you mean 'imports'?)"),
    "misspelt_nested_key": ("version: 1\nimports:\n  - module: marker\n    symbol: [x]\n",
                            "line 4: imports.0: unknown key 'symbol' (did you mean 'symbols'?)"),
    "tab_indent": ("version: 1\nimports:\n\t- marker\n",
                   "line 3, column 1: malformed YAML: a tab indents this line; YAML indents with spaces only"),
    "bad_python": ("version: 1\npython: \"three\"\nimports: [marker]\n", "line 2: python: 'three' is not a version"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_manifest_exits_2_names_the_problem_and_imports_nothing(tmp_path, case):
    text, expected = CASES[case]
    (tmp_path / "marker.py").write_text(MARKER_MODULE)
    (tmp_path / "preflight.yaml").write_text(text)
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "IMPORTED").exists()


def test_a_manifest_that_is_a_directory_is_bad_input(tmp_path):
    (tmp_path / "preflight.yaml").mkdir()
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 2
    assert "preflight.yaml: it is a directory: name the manifest file in it" in result.stderr
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr


def test_bad_manifest_never_starts_the_server(tmp_path):
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [x]\nextra: 1\n")
    marker = tmp_path / "started"
    result = run_cli(["run", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"], tmp_path)
    assert result.returncode == 2 and not marker.exists()


def test_unreadable_manifest_path_is_a_usage_error(tmp_path):
    result = run_cli(["check", str(tmp_path / "nope.yaml")], tmp_path)
    assert result.returncode == 2 and "manifest not found" in result.stderr


def test_module_names_reach_the_child_as_data(tmp_path):
    """A hostile-looking but valid dotted name is imported by name, never executed as code."""
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [__import__]\n")
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 1
    assert result.check("__import__")["cause"] == "module_not_found"


def test_schema_is_valid_json_schema_that_accepts_the_examples():
    jsonschema = pytest.importorskip("jsonschema")
    proc = subprocess.run([sys.executable, "-m", "preflight", "schema"], capture_output=True, text=True, check=True)
    schema = json.loads(proc.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate({"version": 1, "imports": ["app.main", {"module": "app.x", "symbols": ["A"], "timeout": 5}],
                        "env": {"required": ["DATABASE_URL"]}, "static": True})
    assert list(validator.iter_errors({"version": 1, "imports": ["a"], "bogus": 1}))


def test_usage_errors_exit_2():
    proc = subprocess.run([sys.executable, "-m", "preflight", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "preflight", "run"], capture_output=True, text=True)
    assert proc.returncode == 2 and "no server command given" in proc.stderr


def _gate_imports(tmp_path, env) -> set[str]:
    """The modules the gate's own process imported to check a one-module manifest (-X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "preflight", "check", "--format", "json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


def test_validate_caches_the_manifest_so_a_start_skips_pydantic_and_yaml(tmp_path):
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [json]\n")
    cache = tmp_path / "cache"
    env = cli_env(PREFLIGHT_CACHE_DIR=str(cache))
    result = run_cli(["validate"], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "preflight.yaml is valid (1 import)" in result.stdout
    assert len(list(cache.glob("manifests/*.json"))) == 1
    assert not {"pydantic", "yaml"} & _gate_imports(tmp_path, env)
    unwritable = cli_env(PREFLIGHT_CACHE_DIR=str(tmp_path / "preflight.yaml" / "cache"))  # under a file
    assert {"pydantic", "yaml"} <= _gate_imports(tmp_path, unwritable)  # what the cache saves


def test_validate_says_when_it_cannot_cache(tmp_path):
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [json]\n")
    result = run_cli(["validate"], tmp_path, env=cli_env(PREFLIGHT_CACHE_DIR=str(tmp_path / "preflight.yaml" / "x")))
    assert result.returncode == 0
    assert "not cached" in result.stderr and "PREFLIGHT_CACHE_DIR" in result.stderr


def test_validate_rejects_a_bad_manifest_and_caches_nothing(tmp_path):
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [{module: }]\n")
    cache = tmp_path / "cache"
    result = run_cli(["validate"], tmp_path, env=cli_env(PREFLIGHT_CACHE_DIR=str(cache)))
    assert result.returncode == 2
    assert "invalid manifest" in result.stderr and "imports.0.module" in result.stderr
    assert not cache.exists()


def test_an_unquoted_off_is_the_severity_off(tmp_path):
    """YAML 1.1 reads ``off`` as false; the static section's ``off`` is what was meant."""
    (tmp_path / "preflight.yaml").write_text("version: 1\nimports: [json]\nstatic:\n  twins: off\n  import_cycles: fail\n")
    result = run_cli(["validate"], tmp_path, env=cli_env(PREFLIGHT_CACHE_DIR=str(tmp_path / "cache")))
    assert result.returncode == 0, result.stderr
    entry = json.loads(next((tmp_path / "cache").glob("manifests/*.json")).read_text())
    assert entry["static"]["twins"] == "off" and entry["static"]["import_cycles"] == "fail"


def test_validate_interrupted_says_what_stopped(tmp_path):
    """There are no checks to kill in `validate`: the message says validation stopped."""
    fifo = tmp_path / "preflight.yaml"
    os.mkfifo(fifo)  # validate blocks reading it: a moment to interrupt
    proc = subprocess.Popen([sys.executable, "-m", "preflight", "validate"], cwd=tmp_path, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=cli_env(PREFLIGHT_CACHE_DIR=str(tmp_path / "c")))
    deadline = time.monotonic() + 60
    while True:  # a writer can open the FIFO once validate has opened it to read
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            select.select([], [], [], 0.02)
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        os.close(writer)
    assert proc.returncode == 128 + signal.SIGTERM, err
    event = json.loads(err)
    assert event["message"] == "interrupted by SIGTERM: preflight validate stopped" and event["severity"] == "ERROR"


SUGGESTIONS = {  # a misspelt key -> what "did you mean" names (None: no guess)
    "tmeout": "timeout", "sys_pth": "sys_path", "sys.path": "sys_path", "verison": "version", "en": "env",
    "imprt": "imports", "tim": "timeout", "dist": "distributions", "dependencies": "distributions",
    "modules": "imports", "python_version": "python", "required": "'required' under 'env'",
    "description": None, "port": None, "x": None, "py": None, "name": None, "image": None,
}


def test_did_you_mean_names_the_key_meant_and_never_guesses_wildly(tmp_path):
    """Short slips (``tmeout``, ``en``) are named; a key of another tool or another section says ours;
    a word that only shares letters (``description``, ``port``) gets no suggestion."""
    keys = "".join(f"{json.dumps(key)}: 1\n" for key in SUGGESTIONS)
    entry = "  - module: app\n    tmeout: 1\n    sym: [x]\n"
    (tmp_path / "preflight.yaml").write_text(f"version: 1\nimports:\n{entry}static:\n  cycles: warn\n{keys}")
    result = run_cli(["validate"], tmp_path, env=cli_env(PREFLIGHT_CACHE_DIR=str(tmp_path / "cache")))
    assert result.returncode == 2
    problems = error_event(result.stderr)["problems"]
    top = {p.split("unknown key ", 1)[1].split(" (")[0].strip("'"): p for p in problems if "(top level)" in p}
    for key, meant in SUGGESTIONS.items():
        said = top[key]
        if meant is None:
            assert "did you mean" not in said, said
        else:
            assert said.endswith(f"(did you mean {meant if meant.startswith(chr(39)) else repr(meant)}?)"), said
    assert "imports.0: unknown key 'tmeout' (did you mean 'timeout'?)" in " ".join(problems)
    assert "imports.0: unknown key 'sym' (did you mean 'symbols'?)" in " ".join(problems)
    assert "static: unknown key 'cycles' (did you mean 'import_cycles'?)" in " ".join(problems)
