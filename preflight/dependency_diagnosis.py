"""Installed versions that do not fit together: a library importing a name (or module) that another
installed distribution no longer or not yet has (Flask 2.2 under Werkzeug 3: ``url_quote``), or that
this Python's standard library dropped (``collections.Mapping`` under 3.10+).

The fix is a pin, never the library's code: the hint names both parties with their installed
versions (read from their ``dist-info``), the library's line and the application line that
triggered it, and whether the library's own Requires-Dist allows the installed version (pip check).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from preflight import installed, source
from preflight import report as r
from preflight.zygote_launch import CHILD_DIR

if TYPE_CHECKING:
    from preflight.diagnosis import Context


def missing_name(check: r.Check, module: str, name: str, facts: dict[str, Any], ctx: Context) -> bool:
    """A library's own ``from module import name`` (or ``module.name``) failed on another installed
    distribution or the standard library; False when the code that asked is not an installed library,
    or asked its own distribution."""
    asking = _asking_library(facts, ctx)
    if asking is None:
        return False
    frame, importer = asking
    state = facts.get("modules", {}).get(module) or {}
    if state.get("stdlib"):
        _too_old_for_python(check, importer, frame, f"{name!r} of the standard library's {module}", ctx)
        return True
    provider = installed.owner(state.get("file") or facts.get("obj_file") or facts.get("path"), ctx.sys_path)
    if provider is None or provider.name == importer.name:
        return False
    _skew(check, importer, frame, provider, f"imports {name!r} from {module}", "does not define", ctx)
    check.details.update(module=module, name=name)
    return True


def missing_module(check: r.Check, missing: str, facts: dict[str, Any], ctx: Context) -> bool:
    """A library imports ``missing``, a submodule another installed distribution no longer or not yet
    has (``werkzeug.contrib``); False when that is not what happened."""
    asking = _asking_library(facts, ctx)
    parent = missing.rpartition(".")[0]
    state = facts.get("modules", {}).get(parent) or {}
    if asking is None or not parent:
        return False
    frame, importer = asking
    if state.get("stdlib"):
        _too_old_for_python(check, importer, frame, f"the standard library's {missing}", ctx)
        return True
    provider = installed.owner(state.get("file"), ctx.sys_path)
    if provider is None or provider.name == importer.name or library(state.get("file"), ctx) is None:
        return False
    _skew(check, importer, frame, provider, f"imports the module {missing}", "does not have", ctx)
    check.details["missing"] = missing
    return True


def refused_name(check: r.Check, facts: dict[str, Any], ctx: Context) -> bool:
    """An installed library's module ``__getattr__`` refused a name with a message of its own: one it
    moved or removed at this version (pydantic 2's ``BaseSettings``, NumPy 2's ``np.float_``). The
    application asked: ``symbol_missing``, with the library's message; another library asked:
    ``dependency_incompatible``."""
    asked = facts.get("module_getattr")
    frames = facts.get("frames") or []
    at = next((i for i, f in enumerate(frames) if asked and f["function"] == "__getattr__"
               and f.get("module") == asked["module"]), 0)
    said = (facts.get("message") or "").split("\n\n")[0].strip()
    if not asked or not at or said == f"module {asked['module']!r} has no attribute {asked['name']!r}":
        return False  # no message of its own: a plain missing name
    provider = installed.owner(asked["file"], ctx.sys_path)
    if provider is None or "ModuleNotFoundError" in facts["bases"] or any(
            installed.owner(f["file"], ctx.sys_path) != provider for f in frames[at:]):
        return False  # a lazy loader's import that failed, or code it called: a failure of its own
    module, name, asking = asked["module"], asked["name"], frames[at - 1]
    importer = library(asking["file"], ctx)
    if importer is None:  # the application asked, or the manifest's symbols did
        check.cause = "symbol_missing"
        by_manifest = asking["file"].startswith(CHILD_DIR)
        check.file, check.line = (None, None) if by_manifest else (asking["file"], asking["line"])
        check.details.update(module=module, name=name, module_file=asked["file"],
                             distribution={"name": provider.name, "version": provider.version})
        where = "the manifest's symbols" if by_manifest else f"{asking['file']}:{asking['line']}"
        check.hint = (f"the installed {provider} has no {name!r} in {module} (asked at {where}), and says: {said} "
                      f"Update the code for {provider} as it says, or pin {provider.name} to the version your code "
                      f"was written for")
        return True
    if importer.name == provider.name:
        return False
    _skew(check, importer, asking, provider, f"asks {module} for {name!r}", "refuses", ctx)
    check.details.update(module=module, name=name)
    check.hint += f". {provider.name} says: {said}"
    return True


def removed_module(check: r.Check, top: str, gone: tuple[str, str], facts: dict[str, Any], ctx: Context) -> bool:
    """A library imports ``top``, a standard-library module this Python removed (``imp``, ``distutils``
    under 3.12); False when the application imports it itself."""
    asking = _asking_library(facts, ctx)
    if asking is None:
        return False
    frame, importer = asking
    _too_old_for_python(check, importer, frame, f"the standard library's {top} (removed in Python {gone[0]}; "
                        f"{gone[1]} replaces it)", ctx)
    check.details.update(missing=top, removed_in=gone[0])
    return True


def required_by(check: r.Check, missing_top: str, install: str, facts: dict[str, Any], ctx: Context) -> None:
    """For a module no installed distribution provides (``distribution_missing``): which installed
    library imports it, and whether that library declares it (``details.required_by``)."""
    asking = _asking_library(facts, ctx)
    if asking is None:
        return
    frame, importer = asking
    requirement = installed.requirement_on(importer, install, ctx.python_version)
    check.details["required_by"] = {"distribution": importer.name, "version": importer.version,
                                    "file": frame["file"], "line": frame["line"], "declared": bool(requirement)}
    if requirement:
        why = (f"it declares {str(requirement)!r}, so {install} was left out after pip resolved it (pip install "
               f"--no-deps, a lock file without it, a later pip uninstall)")
    else:
        why = f"it does not declare {install} in its requirements, so pip does not install it along"
    check.hint += (f". {importer} imports {missing_top!r} at {frame['file']}:{frame['line']}: {why}. Add {install} "
                   f"to the image's requirements, or upgrade {importer.name} to a release that no longer needs it")


def built_against(check: r.Check, facts: dict[str, Any], ctx: Context) -> None:
    """An extension whose init refused the installed version of a library it was compiled against
    (pandas 1.5 under NumPy 2: ``numpy.dtype size changed``): name its distribution and that one. The
    library is the requirement of the extension's distribution that its message names, the one place
    the extension says what it was built against."""
    extension = check.details.get("path")
    owner = installed.owner(extension, ctx.sys_path)
    if owner is None:
        return
    check.details["distribution"] = {"name": owner.name, "version": owner.version}
    message = (facts.get("message") or "").lower()
    for requirement in installed.requirements(owner, ctx.python_version):
        used = installed.named(requirement.name, ctx.sys_path)
        names = [requirement.name, *(installed.tops_of(used, ctx.sys_path) if used else [])]
        if used and any(re.search(rf"\b{re.escape(n.lower())}\b", message) for n in names):
            break
    else:
        check.hint = f"{owner}: {check.hint}"
        return
    check.details["built_against"] = {"distribution": used.name, "version": used.version,
                                      "requirement": f"{requirement.name}{requirement.specifier}"}
    where = f" (imported at {check.file}:{check.line})" if check.file else ""
    declared = f"{requirement.name}{requirement.specifier or ' (any version)'}"
    met = requirement.specifier.contains(used.version, prereleases=True)
    verdict = f"which lets {used.version} in" if met else f"and {used.version} is outside it: pip check reports that"
    pin = installed.older_pin(used) if met else f"{requirement.name}{requirement.specifier}"
    check.hint = (f"{extension}, a compiled extension of {owner}, refused the installed {used} when it was "
                  f"loaded{where}: {facts.get('message')!r}. {owner} was built against another {used.name} "
                  f"({owner.name} declares {declared}, {verdict}). Pin {used.name} to a release {owner} was built "
                  f"for ('{pin}'), or upgrade {owner.name} to a release built for {used}")


def violated(check: r.Check, facts: dict[str, Any], ctx: Context) -> bool:
    """Any other failure raised in an installed library whose own Requires-Dist the installed versions
    violate (what pip check reports): requests 2.25 under urllib3 2 warns, and ``-W error`` makes that
    the failure. Those versions are the likely cause; False when the library's requirements are met."""
    frame, raising = _raised_in_library(facts, ctx)
    if raising is None:
        return False
    unmet = []
    for requirement in installed.requirements(raising, ctx.python_version):
        present = installed.named(requirement.name, ctx.sys_path)  # none: vendored, or no metadata; no alarm
        if present and not requirement.specifier.contains(present.version, prereleases=True):
            unmet.append((requirement, present))
    if not unmet:
        return False
    check.cause = "dependency_incompatible"
    check.details.update(
        importer={"distribution": raising.name, "version": raising.version, "file": frame["file"], "line": frame["line"]},
        unmet=[{"requirement": f"{q.name}{q.specifier}", "installed": p.version} for q, p in unmet],
    )
    says = "; ".join(f"{q.name}{q.specifier} ({p} installed)" for q, p in unmet)
    triggered = _triggered(check, frame)
    check.hint = (f"{raising} raised {facts['type']} at {frame['file']}:{frame['line']}{triggered}, and the installed "
                  f"versions violate what it requires: {says}, as pip check reports. Install what it requires "
                  f"(pip install {' '.join(repr(f'{q.name}{q.specifier}') for q, _ in unmet)}), or upgrade "
                  f"{raising.name} to a release made for the installed ones")
    return True


def library(path: str | None, ctx: Context) -> installed.Distribution | None:
    """The installed distribution ``path`` belongs to, unless it is the service's own: a library. One
    the manifest lists (``imports: [flask]``) is a library too, though diagnosis treats its frames as
    the application's; a project installed from the working directory's ``pyproject.toml`` is not."""
    if not path or (ctx.is_app_file(path) and "-packages/" not in path.replace(os.sep, "/")):
        return None
    found = installed.owner(path, ctx.sys_path)
    if found is None or source.project_file(found.name, [ctx.workdir, ctx.manifest_dir]):
        return None
    return found


def _raised_in_library(facts: dict[str, Any], ctx: Context) -> tuple[Any, installed.Distribution | None]:
    """The innermost frame outside the standard library, and its distribution when it is a library's;
    ``(frame, None)`` when the application's own code raised (a library may have called it back)."""
    for frame in reversed(facts.get("frames") or []):
        found = library(frame["file"], ctx)
        if found or ctx.is_app_file(frame["file"]):
            return frame, found
    return None, None


def _triggered(check: r.Check, frame: dict[str, Any]) -> str:
    """`` (imported from app/main.py:3)``: the application line that led to the library's ``frame``."""
    if not check.file or (check.file, check.line) == (frame["file"], frame["line"]):
        return ""
    return f" (imported from {check.file}:{check.line})"


def _asking_library(facts: dict[str, Any], ctx: Context) -> tuple[dict[str, Any], installed.Distribution] | None:
    """The innermost frame, where the failing import ran, and its installed distribution: only when
    it is a library's, not the application's."""
    frames = facts.get("frames") or []
    importer = library(frames[-1]["file"], ctx) if frames else None
    return (frames[-1], importer) if importer else None


def _skew(check: r.Check, importer: installed.Distribution, frame: dict[str, Any],
          provider: installed.Distribution, does: str, lacks: str, ctx: Context) -> None:
    check.cause = "dependency_incompatible"
    requirement = installed.requirement_on(importer, provider.name, ctx.python_version)
    met = requirement.specifier.contains(provider.version, prereleases=True) if requirement else None
    wanted = f"{requirement.name}{requirement.specifier}" if requirement else None
    check.details.update(
        importer={"distribution": importer.name, "version": importer.version, "file": frame["file"],
                  "line": frame["line"]},
        provider={"distribution": provider.name, "version": provider.version},
        requirement=wanted, requirement_met=met,
    )
    triggered = _triggered(check, frame)
    if requirement and not met:
        declared = (f" {importer} requires {wanted} (pip check says so too), and {provider.version} is outside "
                    f"that range: something installed {provider.name} after it, or with --no-deps.")
    elif requirement:
        declared = (f" {importer} declares {wanted}, which admits {provider.version}: its range did not foresee "
                    f"this release, so pip installed it.")
    else:
        declared = ""
    check.hint = (f"{importer} ({frame['file']}:{frame['line']}) {does}, which the installed {provider} {lacks}: "
                  f"the two installed versions do not fit together{triggered}.{declared} Pin {provider.name} to a "
                  f"release {importer} works with ('{wanted if met is False else installed.older_pin(provider)}'), "
                  f"or upgrade {importer.name} to a release made for {provider}")


def _too_old_for_python(check: r.Check, importer: installed.Distribution, frame: dict[str, Any], what: str,
                        ctx: Context) -> None:
    running = ".".join(map(str, (ctx.python_version or ())[:2])) or "this version"
    check.cause = "dependency_incompatible"
    check.details.update(
        importer={"distribution": importer.name, "version": importer.version, "file": frame["file"],
                  "line": frame["line"]},
        python=running, requires_python=importer.requires_python,
    )
    triggered = _triggered(check, frame)
    if ctx.python_version and not installed.supports_python(importer, ctx.python_version):
        check.hint = (f"{importer} ({frame['file']}:{frame['line']}) uses {what}, which Python {running} does not "
                      f"have: {importer} requires Python {importer.requires_python}{triggered}. Pin {importer.name} "
                      f"to a release that supports Python {running}, or build the image on a Python that "
                      f"{importer.name} {importer.version} supports")
        return
    check.hint = (f"{importer} ({frame['file']}:{frame['line']}) uses {what}, which Python {running} no longer "
                  f"has: {importer} does not support Python {running}{triggered}. Upgrade {importer.name} to a "
                  f"release that does (pip install -U {importer.name}), replace it if it is no longer maintained, "
                  f"or run the Python it was written for")
