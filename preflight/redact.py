"""Keep environment variable values out of everything preflight prints or writes.

A check's message, traceback or captured output can quote a value the application read at import
(``int(os.environ["PORT"])`` -> ``invalid literal for int(): 's3cr3t'``). Every value that could be
a secret is replaced by ``<redacted:$NAME>`` before the report exists.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

MIN_LENGTH = 8
_VERSION_LIKE = re.compile(r"[\d.]+")  # PYTHON_VERSION=3.11.7 and the like are in every path
# Values that describe the machine, not credentials, and that legitimately appear in paths and messages.
_BENIGN = {"PATH", "PYTHONPATH", "HOME", "PWD", "OLDPWD", "SHELL", "TERM", "LANG", "USER", "LOGNAME",
           "HOSTNAME", "VIRTUAL_ENV", "PYTHONHOME", "TMPDIR", "TZ", "SHLVL", "_", "PORT"}


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """{value: NAME} for the variables whose values must never be shown, longest value first."""
    found = {}
    for name, value in environ.items():
        if name in _BENIGN or name.startswith(("LC_", "XDG_")) or len(value) < MIN_LENGTH:
            continue
        if value.startswith(("/", "./", "~")) or _VERSION_LIKE.fullmatch(value) or value.lower() in ("true", "false"):
            continue
        found.setdefault(value, name)
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def redact(data: Any, secrets: Mapping[str, str]) -> Any:
    """``data`` (str, list, dict, nested) with every secret value replaced by its variable's name."""
    if not secrets:
        return data
    if isinstance(data, str):
        for value, name in secrets.items():
            if value in data:
                data = data.replace(value, f"<redacted:${name}>")
        return data
    if isinstance(data, list):
        return [redact(item, secrets) for item in data]
    if isinstance(data, dict):
        return {key: redact(value, secrets) for key, value in data.items()}
    return data
