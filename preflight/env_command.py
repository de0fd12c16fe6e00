"""An ``env [OPTION]... [NAME=VALUE]... COMMAND [ARG]...`` command line read as GNU env reads it:
the command it runs, and the environment and directory it runs it with."""

from __future__ import annotations

from typing import Mapping, NamedTuple


class EnvCommand(NamedTuple):
    """What ``env`` does before it execs ``command``."""

    command: tuple[str, ...]
    clear: bool = False  # -i, --ignore-environment, a lone ``-``: start from an empty environment
    unset: tuple[str, ...] = ()  # -u NAME
    assign: tuple[tuple[str, str], ...] = ()  # NAME=VALUE, in order
    chdir: str | None = None  # -C DIR

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """The environment ``command`` gets when env is started with ``base``."""
        environ = {} if self.clear else dict(base)
        for name in self.unset:
            environ.pop(name, None)
        environ.update(self.assign)
        return environ

    @property
    def changes_environ(self) -> bool:
        return self.clear or bool(self.unset or self.assign)


class _Invalid(Exception):
    """env would refuse this command line (it exits 125 before running anything)."""


_WITH_VALUE = {"u": "unset", "C": "chdir", "S": "split-string"}
_FLAGS = {"i": "ignore-environment", "0": "null", "v": "debug"}
_LONG_FLAGS = {"ignore-environment", "null", "debug", "list-signal-handling", "block-signal", "default-signal",
               "ignore-signal"}  # the signal options take an optional ``=SIG``: nothing the imports see


def parse_env(args: list[str], environ: Mapping[str, str]) -> EnvCommand | None:
    """``env ARGS`` as GNU env runs it (``environ``: its own environment, for ``${NAME}`` in ``-S``);
    None when env would run nothing (``--help``, no command) or refuse the command line."""
    try:
        return _parse(list(args), environ)
    except _Invalid:
        return None


def _parse(args: list[str], environ: Mapping[str, str]) -> EnvCommand | None:
    """``parse_env``, raising ``_Invalid`` where env would refuse ``args`` (it exits 125)."""
    clear, unset, chdir = False, [], None
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "-":
        word, index = args[index], index + 1
        if word == "--":
            break
        if word.startswith("--"):
            name, equals, value = word[2:].partition("=")
            name = _long_name(name)
            if name in ("help", "version"):
                return None
            if name in _LONG_FLAGS:
                clear = clear or name == "ignore-environment"
                continue
            if not equals:
                if index == len(args):
                    raise _Invalid(word)
                value, index = args[index], index + 1
        else:
            for position, flag in enumerate(word[1:], start=1):
                if flag in _FLAGS:
                    clear = clear or flag == "i"
                    continue
                if flag not in _WITH_VALUE:
                    raise _Invalid(word)
                name, value = _WITH_VALUE[flag], word[position + 1:]
                if not value:
                    if index == len(args):
                        raise _Invalid(word)
                    value, index = args[index], index + 1
                break
            else:
                continue
        if name == "unset":
            unset.append(value)
        elif name == "chdir":
            chdir = value
        else:  # -S: its words take its place, options first
            args[index:index] = split_string(value, environ)
    if index < len(args) and args[index] == "-":
        clear, index = True, index + 1
    assign = []
    while index < len(args) and "=" in args[index]:
        name, _, value = args[index].partition("=")
        assign.append((name, value))
        index += 1
    if index == len(args):
        return None  # env with no command prints the environment
    return EnvCommand(tuple(args[index:]), clear, tuple(unset), tuple(assign), chdir)


def _long_name(given: str) -> str:
    """A long option by its full name, or by a prefix of exactly one (as getopt_long takes them)."""
    names = [*_LONG_FLAGS, "unset", "chdir", "split-string", "help", "version"]
    if given in names:
        return given
    matches = [name for name in names if name.startswith(given)]
    if len(matches) != 1 or not given:
        raise _Invalid(given)
    return matches[0]


_ESCAPES = {"f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "$": "$",
            "#": "#"}


def split_string(text: str, environ: Mapping[str, str]) -> list[str]:
    """env's ``-S STRING`` split into words: blanks separate, ``'...'`` and ``"..."`` quote, backslash
    escapes (``\\_`` a blank: outside quotes a separator), ``${NAME}`` expands (not in single quotes),
    ``#`` at a word's start comments out the rest, ``\\c`` ends the string."""
    words: list[str] = []
    word: list[str] | None = None  # None: between words
    quote = None
    position = 0

    def end_word() -> None:
        nonlocal word
        if word is not None:
            words.append("".join(word))
        word = None

    while position < len(text):
        char, position = text[position], position + 1
        if quote == "'":
            if char == "'":
                quote = None
            elif char == "\\" and text[position:position + 1] in ("\\", "'"):
                word.append(text[position])
                position += 1
            else:
                word.append(char)
            continue
        if quote is None and char in " \t\n\v\f\r":
            end_word()
            continue
        if quote is None and char == "#" and word is None:
            break
        escape = text[position:position + 1] if char == "\\" else None
        if escape == "_" and quote is None:  # a separator
            end_word()
            position += 1
            continue
        if escape == "c" and quote is None:
            break
        word = [] if word is None else word
        if char == "'":
            quote = "'"
        elif char == '"':
            quote = None if quote == '"' else '"'
        elif char == "\\":
            if escape != "_" and escape not in _ESCAPES:
                raise _Invalid(text)
            word.append(" " if escape == "_" else _ESCAPES[escape])
            position += 1
        elif char == "$":
            end = text.find("}", position)
            name = text[position + 1:end]
            if text[position:position + 1] != "{" or end < 0 or not name.isidentifier():
                raise _Invalid(text)  # env expands only ${NAME}
            word.append(environ.get(name, ""))
            position = end + 1
        else:
            word.append(char)
    if quote is not None:
        raise _Invalid(text)
    end_word()
    return words
