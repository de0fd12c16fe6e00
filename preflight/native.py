"""Compiled code that does not load: an extension built for another Python, platform or machine, a
file that is no shared library at all (a Git LFS pointer, a truncated copy), one whose own init
function raises, or a system library it (or ``ctypes.CDLL``) needs that is not in the image.

What a file is built for is read from its first bytes (ELF, Mach-O and PE headers). Which library
the dynamic loader could not find is known only from the loader's own error string (``dlerror()``:
glibc's ``libpq.so.5: cannot open shared object file``, musl's ``Error loading shared library
libpq.so.5``), the one fact the loader gives.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from preflight import report as r

_MACHINES = {3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm", 62: "x86_64",
             183: "aarch64", 243: "riscv64", 258: "loongarch64"}
_NOT_FOUND = re.compile(r"^(?:Error loading shared library )?([^\s:]+)(?:: cannot open shared object file|: No such file)")


def diagnose(check: r.Check, facts: dict[str, Any]) -> bool:
    """An extension or library that could not be loaded; False when the failure is not one."""
    foreign = facts.get("foreign_extensions")
    if foreign:
        _foreign(check, foreign, facts.get("extension_suffixes") or [])
        return True
    path = facts.get("path")
    if facts.get("extension_suffixes") and isinstance(path, str) and os.path.isfile(path):
        _unloadable(check, path, facts)
        return True
    initialising = facts.get("extension_init")
    if initialising and "ModuleNotFoundError" not in facts.get("bases", ()):  # a missing module is named as such
        _init_failed(check, initialising, facts)
        return True
    frames = facts.get("frames") or []
    if "OSError" in facts.get("bases", ()) and frames and _ctypes_load(frames[-1]):
        missing = _missing_library(facts.get("message") or "")
        if missing:
            _library_missing(check, missing, None)
            return True
    return False


def describe(path: str) -> str:
    """What ``path`` is built for: ``an ELF shared object for aarch64``, ``a Git LFS pointer``..."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError:
        return "a file that cannot be read"
    if head.startswith(b"\x7fELF") and len(head) >= 20:
        order = "little" if head[5] == 1 else "big"
        machine = int.from_bytes(head[18:20], order)
        return f"an ELF shared object for {_MACHINES.get(machine, f'machine {machine}')}"
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "a macOS (Mach-O) library"
    if head.startswith(b"MZ"):
        return "a Windows (PE) library"
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the file it stands for (git lfs pull was not run before the build)"
    if not head:
        return "an empty file"
    return "not a shared library (truncated or corrupt?)"


def _this_machine() -> str:
    """The machine this interpreter's binary is built for, as ``describe`` names it."""
    return describe(os.path.realpath(sys.executable)).rpartition(" for ")[2]


def _foreign(check: r.Check, files: list[str], suffixes: list[str]) -> None:
    check.cause = "extension_incompatible"
    check.details.update(path=files[0], found=files, loads=suffixes)
    check.hint = (f"{files[0]} is a compiled extension built for another Python or platform (its name's tag), and "
                  f"this interpreter loads only {', '.join(suffixes[:3])}. Install the distribution (or build the "
                  f"extension) with the same Python version and platform as the runtime image: a build stage "
                  f"on another Python than the runtime stage (FROM python:3.12 to build, python:3.11 to run), or "
                  f"files built on a laptop and copied in, are the usual cause")


def _unloadable(check: r.Check, path: str, facts: dict[str, Any]) -> None:
    what = describe(path)
    check.details.update(path=path, built_for=what)
    missing = _missing_library(facts.get("message") or "")
    if not what.startswith("an ELF"):
        check.cause = "extension_incompatible"
        check.hint = (f"{path} is {what}. Put the real file in the image: reinstall its distribution there (pip "
                      f"install --force-reinstall), or build from a checkout whose binary files are present")
    elif what.rpartition(" for ")[2] != _this_machine():
        check.cause = "extension_incompatible"
        check.hint = (f"{path} is {what}, and this interpreter runs on {_this_machine()}. Install its distribution "
                      f"in the image for this machine (pip install in a build stage of the same base image and "
                      f"docker build --platform), rather than copying files built elsewhere")
    elif missing and os.path.basename(missing) != os.path.basename(path):
        _library_missing(check, missing, path)
    else:
        check.cause = "extension_incompatible"
        check.hint = (f"{path} is {what}, but the dynamic loader refused it: {facts.get('message')}. It was built "
                      f"against another version of Python or of a library it links to: reinstall its distribution "
                      f"in the image, built for this Python and base image")


def _init_failed(check: r.Check, path: str, facts: dict[str, Any]) -> None:
    """The extension loaded, and its own init function raised: nothing at the importing line to fix."""
    check.cause = "extension_incompatible"
    check.details.update(path=path, built_for=describe(path), raised_by="init")
    where = f" (imported at {check.file}:{check.line})" if check.file else ""
    check.hint = (f"{path}, a compiled extension, raised {facts['type']} from its own initialisation{where}: "
                  f"{facts.get('message')!r}. It refuses this interpreter, machine or environment, or was built "
                  f"against another version of a library it uses (an extension compiled against NumPy 1.x under "
                  f"NumPy 2 is the usual one): install its distribution in the image at a version built for this "
                  f"Python, machine and the installed versions of what it uses (pin them together), rather than "
                  f"copying a build from elsewhere")


def _library_missing(check: r.Check, library: str, extension: str | None) -> None:
    check.cause = "library_missing"
    check.details["library"] = library
    who = f"{extension}, a compiled extension," if extension else "the code (ctypes)"
    check.hint = (f"{who} needs the system library {library}, which is not in the image (or not on the loader's "
                  f"path). Install the OS package that provides it in the runtime stage (apt-get install / apk add; "
                  f"a slim or alpine base lacks what the build stage had), or use a wheel that bundles it "
                  f"(manylinux)" + (f". `ldd {extension}` in the image lists what it needs" if extension else ""))


def _missing_library(message: str) -> str | None:
    found = _NOT_FOUND.match(message.strip())
    return found.group(1) if found else None


def _ctypes_load(frame: dict[str, Any]) -> bool:
    return frame["function"] == "__init__" and frame["file"].replace(os.sep, "/").endswith("ctypes/__init__.py")
