"""The validated manifest as plain frozen dataclasses: what the rest of preflight works with.

Kept free of pydantic so that a manifest validated once (see ``manifest_cache``) can be
rebuilt without importing the schema machinery on the start-up path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImportTarget:
    """One module that must import, the attributes it must define, its timeout in seconds."""

    module: str
    symbols: tuple[str, ...] = ()
    timeout: float = 10.0
    named_by: str | None = None  # a library's module the server command names (``server_imports``): not the application's
    as_main: bool = False  # the module ``python -m`` runs: found and its imports run as runpy would, never its code


@dataclass(frozen=True)
class Manifest:
    """What must hold before the server may start. Paths are absolute."""

    path: str
    imports: tuple[ImportTarget, ...]
    workdir: str | None = None
    python: str | None = None
    sys_path: tuple[str, ...] = ()
    env_required: tuple[str, ...] = ()
    distributions: tuple[str, ...] = ()
    timeout: float = 10.0
    static: dict[str, str] = field(default_factory=dict)

    def app_modules(self) -> list[str]:
        """The modules the manifest lists: the application's (not a library the server command names)."""
        return [t.module for t in self.imports if t.named_by is None]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        fields = dict(data)
        fields["imports"] = tuple(
            ImportTarget(t["module"], tuple(t["symbols"]), t["timeout"]) for t in data["imports"]
        )
        for name in ("sys_path", "env_required", "distributions"):
            fields[name] = tuple(data[name])
        return cls(**fields)
