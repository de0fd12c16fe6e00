"""Per-file results keyed by content hash, so a warm static pass reads files and hashes them, no more.

One JSON file per application (its roots), under ``$PREFLIGHT_CACHE_DIR``, else
``$XDG_CACHE_HOME/preflight``, else ``~/.cache/preflight``. A read-only or missing home is fine:
the pass then runs cold and says nothing. Entries not used by a run are dropped when it saves.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

from preflight.manifest_cache import cache_dir

FORMAT = 1


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Cache:
    """``get``/``put`` parts of an entry by content digest; ``save`` writes what this run used."""

    def __init__(self, roots: list[str], key: str) -> None:
        name = digest("\0".join(sorted(roots)).encode())[:16]
        self.path = os.path.join(cache_dir(), f"static-{name}.json")
        self.key = f"{FORMAT}:{key}"
        self.entries: dict[str, dict[str, Any]] = {}
        self.used: set[str] = set()
        self.dirty = False
        self.hits = self.misses = 0
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("key") == self.key:
                self.entries = data.get("entries", {})
        except (OSError, ValueError, AttributeError):
            pass

    def get(self, sha: str, part: str) -> Any:
        value = self.entries.get(sha, {}).get(part)
        self.used.add(sha)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, sha: str, part: str, value: Any) -> None:
        self.entries.setdefault(sha, {})[part] = value
        self.used.add(sha)
        self.dirty = True

    def save(self) -> None:
        if not self.dirty and set(self.entries) <= self.used:
            return
        data = {"key": self.key, "entries": {k: v for k, v in self.entries.items() if k in self.used}}
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".static-", dir=os.path.dirname(self.path))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            pass
