"""Import cycles seen from other angles (a module's attribute read while it loads, an order only
one entry point survives) and hung imports named by what they wait on, through the real CLI."""

from __future__ import annotations

import socket

import pytest

from conftest import cli_env, run_cli, service_tree


def test_attribute_read_from_a_partial_module_is_a_cycle_read_at_module_level(tmp_path):
    tree = service_tree(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": "import app.services as services\n\n\nclass User:\n    pass\n",
        "app/services.py": "import app.models as models\n\n\nclass Backend:\n    pass\n\n\nADMIN = models.User()\n",
    }, ["app.models"])
    check = run_cli(["check"], tree).check("app.models")
    assert check["cause"] == "circular_import" and check["error_type"] == "AttributeError"
    assert (check["file"], check["line"]) == (str(tree / "app/services.py"), 8)
    assert "has no attribute 'User' yet" in check["message"]
    assert "at call time" in check["hint"] and "import the module" not in check["hint"]


@pytest.mark.parametrize("mode", ["zygote", "fresh"])
def test_a_cycle_one_entry_point_survives_names_that_entry_point(tmp_path, mode):
    tree = service_tree(tmp_path, {
        "app/__init__.py": "", "app/core/__init__.py": "", "app/services/__init__.py": "",
        "app/main.py": "from app.core import errors  # noqa\nfrom app.services import billing  # noqa\n",
        "app/core/errors.py": "class ServiceError(Exception):\n    pass\n\n\nfrom app.services.billing import charge\n",
        "app/services/billing.py": "from app.core.errors import ServiceError\n\n\ndef charge(amount):\n    pass\n",
    }, ["app.main", "app.services.billing"])
    result = run_cli(["check", "--mode", mode], tree)
    assert result.check("app.main")["status"] == "passed"
    check = result.check("app.services.billing")
    assert check["cause"] == "circular_import"
    assert check["details"]["works_when"] == {"imported_by": "app.main", "first": "app.core.errors"}
    assert "Importing app.main works: it loads app.core.errors before app.services.billing" in check["hint"]


def test_hung_imports_name_what_they_wait_on(tmp_path):
    silent = socket.socket()  # accepts in the kernel's backlog, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    waits = {
        "recv": "import os\nimport socket\n\nsock = socket.create_connection(('127.0.0.1', int(os.environ['SILENT_PORT'])))\n"
                "REPLY = sock.recv(1024)\n",
        "join": "import threading\n\nworker = threading.Thread(target=threading.Event().wait)\nworker.start()\nworker.join()\n",
        "twice": "import threading\n\n_lock = threading.Lock()\n\n\ndef configure():\n    with _lock:\n        pass\n\n\n"
                 "with _lock:\n    configure()\n",
        "deadlock": "import threading\n\n\ndef load_plugins():\n    import app.plugin  # noqa\n\n\n"
                    "t = threading.Thread(target=load_plugins)\nt.start()\nt.join()\n",
    }
    files = {"app/__init__.py": "", "app/plugin.py": "import app.deadlock  # noqa\n",
             **{f"app/{name}.py": text for name, text in waits.items()}}
    tree = service_tree(tmp_path, files, [])
    (tree / "preflight.yaml").write_text("version: 1\nimports:\n" + "".join(
        f"  - {{module: app.{name}, timeout: 1}}\n" for name in waits))
    with silent:
        result = run_cli(["check"], tree, env=cli_env(SILENT_PORT=str(port)))
    expected = {"recv": ("call", 5, "socket or pipe read (recv)"), "join": ("thread_join", 5, "join()"),
                "twice": ("call", 7, "threading.Lock taken twice"), "deadlock": ("import_deadlock", 10, "app/plugin.py:1")}
    for name, (kind, line, words) in expected.items():
        check = result.check(f"app.{name}")
        assert check["cause"] == "timeout", name
        assert check["details"]["waiting_on"] == kind, name
        assert (check["file"], check["line"]) == (str(tree / f"app/{name}.py"), line), name
        assert words in check["hint"], (name, check["hint"])


def test_input_at_import_is_named_as_reading_stdin(tmp_path):
    tree = service_tree(tmp_path, {"app/__init__.py": "", "app/ask.py": "PASSWORD = input('DB password: ')\n"},
                        ["app.ask"])
    check = run_cli(["check"], tree).check("app.ask")
    assert check["error_type"] == "EOFError" and check["details"]["reads_stdin"] is True
    assert "environment variable" in check["hint"]
