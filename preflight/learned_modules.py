"""Library modules the zygote learned from the checks, remembered for the next run.

Reading ``import`` statements misses what libraries import on first use (a SQLAlchemy dialect,
``pydantic.v1`` under FastAPI); the zygote learns those from the checks it forked. Kept here, the
next run of the same manifest with the same interpreter and working directory preloads them with
the rest, instead of every early fork importing them again and the zygote learning them anew.

One small JSON list per (manifest path, interpreter, working directory, preflight version), in the
manifest cache's directory. Unreadable or unwritable: nothing is remembered, without a word.
"""

from __future__ import annotations

import hashlib
import json
import os

from preflight import __version__
from preflight.manifest_cache import cache_dir

_MAX_MODULES = 5000


def entry(manifest_path: str, interpreter: str, workdir: str, options: tuple[str, ...] = ()) -> str:
    """Where the modules learned for this manifest, interpreter (and its options) and working
    directory are kept."""
    digest = hashlib.sha256()
    for part in (os.path.abspath(manifest_path), interpreter, workdir, __version__, *options):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return os.path.join(cache_dir(), "learned", digest.hexdigest() + ".json")


def imports_cache(path: str) -> str:
    """Beside the learned modules at ``path``: where the zygote keeps what it read from the
    application's files (``preflight_preload_scan.ImportCache``)."""
    return path[: -len(".json")] + ".imports.json" if path.endswith(".json") else path + ".imports.json"


def load(path: str) -> list[str]:
    """The remembered module names, or none."""
    try:
        with open(path, encoding="utf-8") as handle:
            names = json.load(handle)
    except (OSError, ValueError):
        return []
    if not isinstance(names, list):
        return []
    return [name for name in names if isinstance(name, str)][:_MAX_MODULES]


def update(path: str, remembered: list[str], zygote: dict | None, fell_back: bool) -> None:
    """After a run: keep what was preloaded from memory and what was learned; forget everything
    when the run fell back to fresh interpreters (a remembered module may be why)."""
    if fell_back:
        names: list[str] = []
    elif zygote is None:
        return
    else:
        names = list(dict.fromkeys([*(zygote.get("remembered") or ()), *(zygote.get("learned") or ())]))
    if names[:_MAX_MODULES] == remembered or (not names and not os.path.exists(path)):
        return
    from preflight.files import write_json  # only when it changed: a start that hits needs none of it

    try:
        write_json(path, names[:_MAX_MODULES])
    except OSError:
        pass
