"""Which installed distribution a file belongs to: its name, version and declared requirements.

Read from the ``*.dist-info`` (or ``*.egg-info``) metadata in the ``sys.path`` entry that holds the
file, as ``importlib.metadata`` reads it: which top-level modules a distribution installs comes from
its ``top_level.txt``, else its ``RECORD``, else its own name. Only failure paths ask, so nothing here
is on the way of a passing start.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from preflight.pip_names import canonical

if TYPE_CHECKING:  # importlib.metadata (and email, csv, zipfile with it) only when a check failed
    from importlib import metadata

    from packaging.requirements import Requirement


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    requires: tuple[str, ...]  # Requires-Dist, as written
    requires_python: str | None

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def owner(path: str | None, sys_path: list[str]) -> Distribution | None:
    """The installed distribution ``path`` (a module's file) belongs to, if any."""
    if not path or not os.path.isabs(path):
        return None
    real = os.path.realpath(path)
    entries = [os.path.realpath(e) for e in sys_path if e and os.path.isabs(e)]
    holders = [e for e in entries if real.startswith(e + os.sep)]
    if not holders:
        return None
    entry = max(holders, key=len)  # the innermost entry: a venv's site-packages, not the / above it
    relative = os.path.relpath(real, entry).replace(os.sep, "/")
    top = relative.split("/")[0].split(".")[0]
    named_as = _named_as(entry, top)
    if named_as and _lists(named_as, relative):
        return _distribution(named_as)
    # a namespace package (google.*) spans several: the one whose RECORD lists the file
    found = next((c for c in _index(entry)[0].get(top, []) if _lists(c, relative)), None)
    return _distribution(found) if found else None


def requirement_on(importer: Distribution, name: str, python_version: tuple[int, ...] | None) -> Requirement | None:
    """``importer``'s Requires-Dist on the distribution ``name`` that applies here; None for none."""
    from packaging.utils import canonicalize_name

    wanted = canonicalize_name(name)
    return next((q for q in requirements(importer, python_version) if canonicalize_name(q.name) == wanted), None)


def requirements(importer: Distribution, python_version: tuple[int, ...] | None) -> list[Requirement]:
    """``importer``'s Requires-Dist that apply here: their marker holds for the checked Python, no extra."""
    from packaging.requirements import InvalidRequirement, Requirement

    environment = {"extra": ""}
    if python_version:
        environment.update(python_version=".".join(map(str, python_version[:2])),
                           python_full_version=".".join(map(str, python_version[:3])))
    found = []
    for text in importer.requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment):
            found.append(requirement)
    return found


def supports_python(distribution: Distribution, python_version: tuple[int, ...]) -> bool:
    """Whether ``distribution``'s Requires-Python admits ``python_version`` (True when it declares none)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        allowed = SpecifierSet(distribution.requires_python or "")
    except InvalidSpecifier:
        return True
    return allowed.contains(".".join(map(str, python_version[:3])), prereleases=True)


def older_pin(distribution: Distribution) -> str:
    """A pin below the installed version's major release (``werkzeug<3``; ``<0.N`` under 1.0)."""
    from packaging.version import InvalidVersion, Version

    try:
        version = Version(distribution.version)
    except InvalidVersion:
        return f"{distribution.name}<{distribution.version}"
    bound = f"{version.major}" if version.major else f"0.{version.minor}"
    return f"{distribution.name}<{bound}"


def named(name: str, sys_path: list[str]) -> Distribution | None:
    """The installed distribution called ``name``, the first on ``sys_path``."""
    from packaging.utils import canonicalize_name

    for entry in sys_path:
        if entry and os.path.isabs(entry):
            found = _index(os.path.realpath(entry))[1].get(canonicalize_name(name))
            if found:
                return _distribution(found)
    return None


def tops_of(distribution: Distribution, sys_path: list[str]) -> list[str]:
    """The top-level modules ``distribution`` installs."""
    for entry in sys_path:
        if entry and os.path.isabs(entry):
            tops = [t for t, found in _index(os.path.realpath(entry))[0].items()
                    if any(_distribution(f) == distribution for f in found)]
            if tops:
                return tops
    return []


def _named_as(entry: str, top: str) -> metadata.Distribution | None:
    """The distribution in ``entry`` named as its top-level module ``top`` is (flask's Flask), found
    from directory names alone: the usual case, without reading every distribution's metadata."""
    wanted = canonical(top)
    try:
        names = os.listdir(entry)
    except OSError:
        return None
    for name in names:
        if name.endswith(".dist-info") and canonical(name.split("-")[0]) == wanted:
            import pathlib
            from importlib import metadata

            found = metadata.PathDistribution(pathlib.Path(entry, name))
            if found.metadata and found.metadata["Name"]:
                return found
    return None


def _lists(found: metadata.Distribution, relative: str) -> bool:
    """``found``'s RECORD lists the file ``relative`` (to its sys.path entry); True without a RECORD."""
    files = found.files
    return files is None or any(f.as_posix() == relative for f in files)


@lru_cache(maxsize=64)
def _distribution(found: metadata.Distribution) -> Distribution:
    return Distribution(found.metadata["Name"], found.version, tuple(found.requires or ()),
                        found.metadata.get("Requires-Python"))


@lru_cache(maxsize=32)
def _index(entry: str) -> tuple[dict[str, list[metadata.Distribution]], dict[str, metadata.Distribution]]:
    """The distributions installed in ``entry``: by each top-level module name they provide (a
    namespace package's by several), and by their normalized names."""
    from packaging.utils import canonicalize_name

    tops: dict[str, list[metadata.Distribution]] = {}
    names: dict[str, metadata.Distribution] = {}
    from importlib import metadata

    for found in metadata.distributions(path=[entry]):
        name = found.metadata["Name"] if found.metadata else None
        if not name:
            continue
        names.setdefault(canonicalize_name(name), found)
        for top in _provided_tops(found, name):
            tops.setdefault(top, []).append(found)
    return tops, names


def _provided_tops(found: metadata.Distribution, name: str) -> list[str]:
    listed = found.read_text("top_level.txt")
    if listed:
        return [line.strip() for line in listed.splitlines() if line.strip()]
    tops = []
    for file in found.files or ():
        first = file.parts[0] if file.parts else ""
        if first and first not in ("..", "__pycache__") and not first.endswith((".dist-info", ".egg-info", ".pth")):
            tops.append(first.split(".")[0])  # ``six.py``, ``_speedups.cpython-311-x86_64-linux-gnu.so``
    return list(dict.fromkeys(tops)) or [re.sub(r"[-.]+", "_", name).lower()]
