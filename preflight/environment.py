"""Checks of the place the server will start in: workdir, Python, sys.path, variables, distributions.

``probe`` is what ``_child/inspect_env.py`` reported from the server's own interpreter.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from preflight import report as r
from preflight.path_advice import how_to_reach
from preflight.spec import Manifest


def check_environment(manifest: Manifest, probe: dict[str, Any] | None, environ: Mapping[str, str]) -> list[r.Check]:
    checks = [*_workdir(manifest, probe), *_env(manifest, environ)]
    if probe is None:
        return checks
    return checks + [*_python(manifest, probe), *_sys_path(manifest, probe), *_distributions(manifest, probe)]


def _workdir(manifest: Manifest, probe: dict[str, Any] | None) -> list[r.Check]:
    if not manifest.workdir:
        return []
    cwd = probe["cwd"] if probe else os.getcwd()
    check = r.Check(kind="workdir", target=manifest.workdir)
    if os.path.realpath(cwd) != os.path.realpath(manifest.workdir):
        check.status, check.cause = r.FAILED, "workdir_mismatch"
        check.message = f"the working directory is {cwd}, the manifest expects {manifest.workdir}"
        check.hint = (f"start in {manifest.workdir} (Dockerfile: WORKDIR {manifest.workdir}; Kubernetes: "
                      f"workingDir) or change `workdir:` in {manifest.path}")
    return [check]


def _env(manifest: Manifest, environ: Mapping[str, str]) -> list[r.Check]:
    checks = []
    for name in manifest.env_required:
        check = r.Check(kind="env", target=name)
        if not environ.get(name):
            check.status, check.cause = r.FAILED, "env_missing"
            check.message = f"{name} is {'empty' if name in environ else 'not set'}"
            check.hint = (f"set {name} for the container (docker run -e {name}=..., Kubernetes env/envFrom, "
                          f"Cloud Run --set-env-vars or --set-secrets)")
        checks.append(check)
    return checks


def _python(manifest: Manifest, probe: dict[str, Any]) -> list[r.Check]:
    if not manifest.python:
        return []
    from packaging.specifiers import SpecifierSet

    version = probe["version_string"]
    check = r.Check(kind="python", target=manifest.python)
    if not SpecifierSet(manifest.python).contains(version, prereleases=True):
        check.status, check.cause = r.FAILED, "python_mismatch"
        check.message = f"{probe['executable']} is Python {version}; the manifest asks for {manifest.python}"
        check.hint = "use a base image or interpreter that matches, or change `python:` in the manifest"
    return [check]


def _sys_path(manifest: Manifest, probe: dict[str, Any]) -> list[r.Check]:
    seen = {os.path.realpath(p or probe["cwd"]) for p in probe["sys_path"]}
    checks = []
    for entry in manifest.sys_path:
        check = r.Check(kind="path", target=entry)
        problem = None
        if not os.path.isdir(entry):
            problem = f"{entry} does not exist" if not os.path.exists(entry) else f"{entry} is not a directory"
            check.hint = f"copy the code to {entry} in the image, or fix `sys_path:` in the manifest"
        elif not os.access(entry, os.R_OK | os.X_OK):
            problem = f"{entry} is not readable by uid {probe.get('uid')}"
            check.hint = "fix ownership or mode in the image (COPY --chown=<user>, chmod a+rX)"
        elif os.path.realpath(entry) not in seen:
            problem = f"{entry} is not on the interpreter's sys.path"
            path0 = probe["sys_path"][0] if probe["sys_path"] else None
            check.hint = how_to_reach(entry, probe["cwd"], path0, probe.get("pythonpath"), probe.get("flags"))
        if problem:
            check.status, check.cause, check.message = r.FAILED, "path_missing", problem
            check.details["sys_path"] = probe["sys_path"]
        checks.append(check)
    return checks


def _distributions(manifest: Manifest, probe: dict[str, Any]) -> list[r.Check]:
    if not manifest.distributions:
        return []
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    installed = probe["distributions"]
    checks = []
    for text in manifest.distributions:
        requirement = Requirement(text)
        check = r.Check(kind="distribution", target=text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            check.status, check.message = r.SKIPPED, f"marker {requirement.marker} does not apply here"
            checks.append(check)
            continue
        version = installed.get(canonicalize_name(requirement.name))
        check.details["installed"] = version
        if version is None:
            check.status, check.cause = r.FAILED, "distribution_missing"
            check.message = f"{requirement.name} is not installed for {probe['executable']}"
            check.hint = f"pip install '{text}' into the image's environment ({probe['prefix']})"
        elif requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            check.status, check.cause = r.FAILED, "version_conflict"
            check.message = f"{requirement.name} {version} is installed; the manifest requires {text}"
            check.hint = f"pin a matching version: pip install '{text}'"
        checks.append(check)
    return checks
