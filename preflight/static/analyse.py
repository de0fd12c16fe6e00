"""Undefined names: ruff (F821, TC004) as a subprocess, pyflakes in-process where ruff is missing.

Our own ``TYPE_CHECKING`` check runs with either: ruff's TC004 does not know which annotations a
framework evaluates (a pydantic field under ``from __future__ import annotations``). Each raw
finding is then placed by ``contexts.classify``: code that runs, an annotation Python never
evaluates, or an annotation a framework evaluates. Only file lists go to ruff, never manifest
values; ``--isolated --no-cache`` keeps the user's config out and leaves no ``.ruff_cache`` behind.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from functools import lru_cache
from typing import Any

from preflight.settings import choice
from preflight.static import contexts

RULES = "F821,TC004"
_CHUNK = 1000
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_QUOTED = re.compile(r"`([^`]+)`")


@lru_cache(maxsize=1)
def choose() -> tuple[str, str | None]:
    """(analyser id with version, ruff binary or None); ``PREFLIGHT_STATIC_ANALYSER`` forces one."""
    if choice("PREFLIGHT_STATIC_ANALYSER") in (None, "ruff"):
        binary = _ruff_binary()
        if binary:
            version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()
            return f"ruff {version[-1] if version else '?'}", binary
    try:
        import pyflakes
    except ImportError:
        return "none", None
    return f"pyflakes {pyflakes.__version__}", None


def _ruff_binary() -> str | None:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:
        find_ruff_bin = None
    if find_ruff_bin is not None:
        try:
            return os.fsdecode(find_ruff_bin())
        except FileNotFoundError:
            pass
    import shutil

    return shutil.which("ruff")


def analyse(paths: list[str], sources: dict[str, bytes], python: tuple[int, int]) -> dict[str, list[dict[str, Any]]]:
    """Findings per path: {"name", "line", "col", "code", "context", "function", "bound_line"}."""
    analyser, binary = choose()
    raw: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}
    if binary:
        utf8 = [p for p in paths if _is_utf8(sources[p])]
        try:
            for start in range(0, len(utf8), _CHUNK):
                for item in _ruff(binary, utf8[start : start + _CHUNK], python):
                    if item["filename"] in raw:
                        raw[item["filename"]].append(item)
            for path in sorted(set(paths) - set(utf8)):  # ruff reads UTF-8 only: give it PEP 263's text
                text = contexts.declared_text(sources[path])
                if text is not None:  # else it does not decode: the syntax check reports it
                    raw[path] += _ruff(binary, [], python, (path, text))
        except (OSError, RuntimeError, ValueError):  # the binary cannot run here: the pure-Python fallback
            raw = {p: [] for p in paths}
            binary, analyser = None, "pyflakes"
    pyflakes = not binary and analyser.startswith("pyflakes")
    for path in paths:
        raw[path] += _own(path, sources[path], pyflakes)
    return {
        path: contexts.classify(sources[path], path, items, python) if items else []
        for path, items in raw.items()
    }


def _is_utf8(source: bytes) -> bool:
    try:
        source.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ruff(binary: str, paths: list[str], python: tuple[int, int],
          stdin: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """ruff's findings in ``paths``, or in ``stdin`` (path, text) read from standard input."""
    target = f"py{python[0]}{python[1]}"
    argv = [binary, "check", "--isolated", "--no-cache", "--exit-zero", "--output-format", "json",
            "--select", RULES, "--target-version", target]
    argv += ["--stdin-filename", stdin[0]] if stdin else ["--", *paths]
    feed = {"input": stdin[1]} if stdin else {"stdin": subprocess.DEVNULL}
    done = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", **feed)
    if done.returncode == 2 and "target-version" in done.stderr:  # interpreter newer than this ruff knows
        argv[argv.index("--target-version") : argv.index("--target-version") + 2] = []
        done = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", **feed)
    if done.returncode != 0:
        raise RuntimeError(f"ruff failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    found = []
    for item in json.loads(done.stdout or "[]"):
        if item.get("code") not in ("F821", "TC004"):
            continue
        names = _QUOTED.findall(item.get("message", ""))
        found.append({
            "code": item["code"], "line": item["location"]["row"], "col": item["location"]["column"],
            "name": names[0] if names else "?", "filename": os.path.abspath(item["filename"]),
        })
    return found


def _own(path: str, source: bytes, pyflakes: bool) -> list[dict[str, Any]]:
    """Our TYPE_CHECKING-only check, and pyflakes' undefined names when asked, minus ``# noqa`` lines."""
    if not pyflakes and b"TYPE_CHECKING" not in source:
        return []
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError):
        return []
    lines = contexts.source_text(source).splitlines()
    found = _pyflakes(path, tree, lines) if pyflakes else []
    for name, line in contexts.type_checking_only(tree):
        if not _noqa(lines, line, "TC004"):
            found.append({"code": "TC004", "line": line, "col": 1, "name": name, "verify": True})
    return found


def _pyflakes(path: str, tree: ast.Module, lines: list[str]) -> list[dict[str, Any]]:
    from pyflakes import checker, messages

    found = []
    for message in checker.Checker(tree, filename=path).messages:
        if isinstance(message, messages.UndefinedName) and not _noqa(lines, message.lineno, "F821"):
            found.append({"code": "F821", "line": message.lineno, "col": message.col + 1,
                          "name": message.message_args[0]})
    return found


def _noqa(lines: list[str], line: int, code: str) -> bool:
    if not 0 < line <= len(lines):
        return False
    match = _NOQA.search(lines[line - 1])
    if not match:
        return False
    codes = match.group("codes")
    return codes is None or code in re.split(r"[,\s]+", codes.upper())


def python_version(probe: dict | None) -> tuple[int, int]:
    version = (probe or {}).get("version") or sys.version_info[:2]
    return int(version[0]), int(version[1])
