"""A ``python`` command line taken apart as CPython reads it: interpreter options, then what it runs."""

from __future__ import annotations

from typing import NamedTuple


class PythonArgs(NamedTuple):  # not a dataclass: ``run`` reads its command line before anything else loads
    """A ``python`` command line taken apart: the interpreter options that shape every import (one
    word per flag, a value in the word after), and what it runs."""

    options: tuple[str, ...] = ()
    kind: str | None = None  # "script", "module", "command", "stdin"; None: runs nothing (--version)
    target: str | None = None  # the script's path or the module's name
    rest: tuple[str, ...] = ()  # the arguments after the target


# Options that take a value, in the same word (-Werror) or the next (-W error).
_VALUED = frozenset("WX")
_VALUED_LONG = frozenset({"--check-hash-based-pycs"})
# Not for the checks: -i opens a prompt after the script, -x skips its first line (the check's too).
_NOT_FOR_CHECKS = frozenset("ix")


def parse_python_args(args: list[str]) -> PythonArgs:
    """Read ``python ARGS`` as CPython does: short flags may share a word (``-OOu``), ``-c``/``-m``
    end the options, the first other word is the script."""
    options: list[str] = []
    words = iter(args)
    for word in words:
        if word == "-":
            return PythonArgs(tuple(options), "stdin", None, tuple(words))
        if word == "--":
            script = next(words, None)
            return PythonArgs(tuple(options), "script" if script else "stdin", script, tuple(words))
        if word.startswith("--"):
            name, equals, value = word.partition("=")
            if name not in _VALUED_LONG:  # --help, --version and the like: no server runs
                return PythonArgs(tuple(options))
            options += [name, value if equals else next(words, "")]
            continue
        if not word.startswith("-"):
            return PythonArgs(tuple(options), "script", word, tuple(words))
        for index, flag in enumerate(word[1:], start=1):
            if flag in "cm":
                value = word[index + 1:] or next(words, "")
                kind = "command" if flag == "c" else "module"
                return PythonArgs(tuple(options), kind, value, tuple(words))
            if flag in _VALUED:
                options += [f"-{flag}", word[index + 1:] or next(words, "")]
                break
            if flag in "hV?":
                return PythonArgs(tuple(options))
            if flag not in _NOT_FOR_CHECKS:
                options.append(f"-{flag}")
    return PythonArgs(tuple(options), "stdin")
