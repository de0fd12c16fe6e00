"""Keep environment variable values out of everything preflight prints or writes.

A check's message, traceback or captured output can quote a value the application read at import
(``int(os.environ["PORT"])`` -> ``invalid literal for int(): 's3cr3t'``). Every value that could be
a secret is replaced by ``<redacted:$NAME>`` before the report exists, in the forms it gets quoted
in: as is, escaped the way ``repr`` and JSON escape it (a PEM key's newlines as ``\\n``), each line of a
multi-line value on its own, and any part of these of ``RUN_LENGTH`` consecutive characters or more
(pydantic shows a long input as its first and last ~24 characters: ``'whsec_4f1c...d6f8a'``), except
inside a path, where such a part is a directory's name far more often than an echo, and except for
values with blanks in them and values shaped like paths that do not exist here: prose (a
description, a test's name) and paths share runs with ordinary text, so they are replaced only whole.

A value that is a path is no secret and stays readable (``APP_HOME=/srv/app`` in a traceback): one made
of path characters only whose every ``os.pathsep``-separated part starts with ``/``, ``./``, ``../`` or
``~`` and exists here. Anything else that merely starts like one (a base64 key ``/q8Zk...==``) is a value.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping

from preflight.report import PASSED

MIN_LENGTH = 8  # shorter values are replaced nowhere: too likely to be ordinary words
RUN_LENGTH = 16  # a part this long of a value is replaced; shorter echoes of it are left alone
_GRAM = 8  # index key length; text is probed every RUN_LENGTH - _GRAM + 1 characters
_MAX_OFFSETS = 16  # per key: keys shared by many values (a URL scheme) or a value repeating itself
_PATH_START = ("/", "./", "../", "~")
_PATH_CHARS = re.compile(r"[\w.~/@+,:-]+", re.ASCII)  # no blanks, quotes, '=', '%', '?', '&', '#'
_DELIMITERS = frozenset(" \t\r\n'\"()[]{},=<>")  # around a word of text, like a path in a traceback
_VERSION_LIKE = re.compile(r"[\d.]+")  # PYTHON_VERSION=3.11.7 and the like are in every path
# Values that describe the machine, not credentials, and that legitimately appear in paths and messages.
_BENIGN = {"PATH", "PYTHONPATH", "HOME", "PWD", "OLDPWD", "SHELL", "TERM", "LANG", "USER", "LOGNAME",
           "HOSTNAME", "VIRTUAL_ENV", "PYTHONHOME", "TMPDIR", "TEMP", "TMP", "TZ", "SHLVL", "_", "PORT",
           # a settings module's dotted name (mysite.settings), quoted in the hints that tell how to set it
           "DJANGO_SETTINGS_MODULE",
           # where the CA certificates are: named in the hint when the image lacks them
           "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
           # preflight's own settings: paths and choices, quoted in its own messages
           "PREFLIGHT_MANIFEST", "PREFLIGHT_REPORT", "PREFLIGHT_CACHE_DIR", "PREFLIGHT_STAMP", "PREFLIGHT_MODE",
           "PREFLIGHT_STATIC_ANALYSER"}
_FIELDS = ("message", "hint", "stack_trace", "output", "details")


class Secrets:
    """The values of ``environ`` that must never be shown, in every form they are looked for in."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.short: dict[str, str] = {}  # {form: NAME}, forms under RUN_LENGTH, matched whole
        self.prose: dict[str, str] = {}  # {form: NAME}, forms with blanks, matched whole, before any run
        self.index: dict[str, list[tuple[str, int, str]]] = {}  # {_GRAM chars: [(form, offset, NAME)]}
        for name, value in environ.items():
            if name in _BENIGN or name.startswith(("LC_", "XDG_")):
                continue
            for form in _forms(value):
                if any(c.isspace() for c in form) or _path_shaped(form):  # share runs with ordinary text
                    self.prose.setdefault(form, name)
                    continue
                if len(form) < RUN_LENGTH:
                    self.short.setdefault(form, name)
                    continue
                for offset in range(len(form) - _GRAM + 1):
                    places = self.index.setdefault(form[offset:offset + _GRAM], [])
                    if len(places) < _MAX_OFFSETS:
                        places.append((form, offset, name))
        self.short = dict(sorted(self.short.items(), key=lambda item: -len(item[0])))
        self.prose = dict(sorted(self.prose.items(), key=lambda item: -len(item[0])))

    def __bool__(self) -> bool:
        return bool(self.short or self.prose or self.index)

    def text(self, text: str) -> str:
        """``text`` with each whole value with blanks, then each run of RUN_LENGTH characters or more of
        a value, then each short value, replaced."""
        for form, name in self.prose.items():
            if form in text:
                text = text.replace(form, f"<redacted:${name}>")
        if self.index and len(text) >= RUN_LENGTH:
            text = self._runs(text)
        for form, name in self.short.items():
            if form in text:
                text = text.replace(form, f"<redacted:${name}>")
        return text

    def _runs(self, text: str) -> str:
        # A run of RUN_LENGTH characters holds a whole _GRAM-long key at one of any RUN_LENGTH - _GRAM + 1
        # consecutive offsets, so probing at that stride finds every run; each hit is then widened.
        step = RUN_LENGTH - _GRAM + 1
        pieces, done, probe = [], 0, 0
        while probe + _GRAM <= len(text):
            places = self.index.get(text[probe:probe + _GRAM])
            span = _widest(text, probe, places) if places else None
            if span is None:
                probe += step
                continue
            start, end, name, whole = span
            if not whole and _in_path(text, start, end):  # a directory named like part of a value, not an echo
                probe += step
                continue
            pieces += [text[done:max(start, done)], f"<redacted:${name}>"]
            done = probe = end
        return "".join(pieces) + text[done:] if pieces else text


def _forms(value: str) -> set[str]:
    """``value`` and each of its lines, as is and escaped, when they could be secrets."""
    candidates = [value] + (value.splitlines() if "\n" in value or "\r" in value else [])
    forms = set()
    for candidate in filter(_could_be_secret, candidates):
        forms |= {candidate, repr(candidate)[1:-1], json.dumps(candidate)[1:-1],
                  json.dumps(candidate, ensure_ascii=False)[1:-1]}
    return forms


def _could_be_secret(value: str) -> bool:
    value = value.strip()
    return (len(value) >= MIN_LENGTH and not _is_path(value)
            and not _VERSION_LIKE.fullmatch(value) and value.lower() not in ("true", "false"))


def _is_path(value: str) -> bool:
    """Whether ``value`` is a path, or a list of them, that exists on this machine."""
    return _path_shaped(value) and all(os.path.exists(os.path.expanduser(p)) for p in value.split(os.pathsep) if p)


def _path_shaped(value: str) -> bool:
    """Path characters only, every ``os.pathsep``-separated part starting like a path: one that
    does not exist (yet) is still a value, but only whole; its runs are directories' names too."""
    parts = [part for part in value.split(os.pathsep) if part]
    return bool(_PATH_CHARS.fullmatch(value) and parts) and all(part.startswith(_PATH_START) for part in parts)


def _in_path(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is inside one name of a path: in a word (delimited by blanks, quotes,
    brackets) that starts as a path does, after that start, with no ``/`` in it."""
    index = start
    while index > 0 and text[index - 1] not in _DELIMITERS:
        index -= 1
    return index < start and "/" not in text[start:end] and text.startswith(_PATH_START, index)


def _widest(text: str, probe: int, places: list[tuple[str, int, str]]) -> tuple[int, int, str, bool] | None:
    """The longest run around ``text[probe:probe + _GRAM]`` that is also in one of ``places``' forms,
    as (start, end, NAME, whether it is the whole form), if it is at least RUN_LENGTH long."""
    best = None
    for form, offset, name in places:
        start, left = probe, offset
        while start > 0 and left > 0 and text[start - 1] == form[left - 1]:
            start, left = start - 1, left - 1
        end, right = probe + _GRAM, offset + _GRAM
        while end < len(text) and right < len(form) and text[end] == form[right]:
            end, right = end + 1, right + 1
        if end - start >= RUN_LENGTH and (best is None or end - start > best[1] - best[0]):
            best = (start, end, name, left == 0 and right == len(form))
    return best


def redact(data: Any, secrets: Secrets) -> Any:
    """``data`` (str, list, dict, nested) with every secret replaced by its variable's name."""
    if isinstance(data, str):
        return secrets.text(data)
    if isinstance(data, list):
        return [redact(item, secrets) for item in data]
    if isinstance(data, dict):
        return {key: redact(value, secrets) for key, value in data.items()}
    return data


def redact_checks(checks: list, environ: Mapping[str, str]) -> None:
    """Replace, in place, the values of ``environ`` that the checks that did not pass quote (only a
    finding quotes the application) in their messages, hints, tracebacks, output and details."""
    findings = [c for c in checks if c.status != PASSED]
    secrets = Secrets(environ) if findings else None
    if not secrets:
        return
    for check in findings:
        for field in _FIELDS:
            setattr(check, field, redact(getattr(check, field), secrets))
