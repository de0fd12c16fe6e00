"""A cache of validated manifests, so that starting a server does not import pydantic and YAML.

Keyed by a hash of the manifest's bytes, its absolute path (relative paths in it are resolved
against its directory), ``$HOME`` (``~`` is expanded) and preflight's version. Only valid
manifests are cached: an invalid one is validated again each time, so its errors are always
reported. The directory is ``$PREFLIGHT_CACHE_DIR``, else ``$XDG_CACHE_HOME/preflight``, else
``~/.cache/preflight``; when it cannot be read or written the cache is skipped without a word.
"""

from __future__ import annotations

import hashlib
import json
import os

from preflight import __version__
from preflight.spec import Manifest

FORMAT = 3  # also bumped when validation gets stricter: entries it would now reject are dropped


def cache_dir() -> str:
    explicit = os.environ.get("PREFLIGHT_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "preflight")


def load(path: str) -> Manifest:
    """The validated manifest at ``path``: from the cache when its bytes are unchanged."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        data = None
    if data is None:  # let the validating loader name the problem
        return _validate(path)
    entry = _entry(path, data)
    try:
        with open(entry, encoding="utf-8") as handle:
            return Manifest.from_json(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    manifest = _validate(path)
    _store(entry, manifest)
    return manifest


def validate_and_store(path: str) -> tuple[Manifest, str | None]:
    """Validate the manifest at ``path`` (cached or not) and cache it: the manifest, and the cache
    entry written, or ``None`` when the cache directory cannot be written."""
    manifest = _validate(path)
    with open(path, "rb") as handle:  # readable: it was just validated
        entry = _entry(path, handle.read())
    return manifest, entry if _store(entry, manifest) else None


def _entry(path: str, data: bytes) -> str:
    return os.path.join(cache_dir(), "manifests", key(path, data) + ".json")


def key(path: str, data: bytes) -> str:
    digest = hashlib.sha256(data)
    for part in (os.path.abspath(path), os.environ.get("HOME", ""), __version__, str(FORMAT)):
        digest.update(b"\0" + part.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _validate(path: str) -> Manifest:
    from preflight.manifest import load_manifest

    return load_manifest(path)


def _store(entry: str, manifest: Manifest) -> bool:
    from preflight.files import write_json  # only on a miss: a start that hits needs none of it

    try:
        write_json(entry, manifest.to_json())
    except OSError:
        return False
    return True
