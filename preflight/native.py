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
from typing import TYPE_CHECKING, Any

from preflight import dependency_diagnosis, system_libraries
from preflight import report as r

if TYPE_CHECKING:
    from preflight.diagnosis import Context

_MACHINES = {3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm", 62: "x86_64",
             183: "aarch64", 243: "riscv64", 258: "loongarch64"}
_NOT_FOUND = (re.compile(r"([^\s:'\"]+): cannot open shared object file"),  # glibc's dlerror(), anywhere in the message
              re.compile(r"Error loading shared library ([^\s:'\"]+): No such file"),  # musl's
              re.compile(r"cannot load library '([^']+)'"),  # cffi's, when the loader's own words are not there
              re.compile(r"(?:failed to|unable to|could not|couldn't|cannot) (?:find|load|locate)(?: the)?(?: shared)?"
                         r"(?: library)? ['\"]?(lib[\w.+-]*\w)", re.IGNORECASE))  # a library's own words (python-magic)
_VERSION = re.compile(r"([^\s:'\"]+): version [`']([^'`]+)' not found \(required by ([^)]+)\)")
_OTHER_LIBC = {"glibc": re.compile(r"^(?:libc\.musl|ld-musl)"), "musl": re.compile(r"^(?:libc\.so\.6|ld-linux)")}
_TAG = re.compile(r"\.(cpython|pypy\d*)-(\d)(\d+)\w*(?:-(\w+?)-(\w+?)(?:-(\w+))?|-(darwin|win_?\w*))?\.(?:so|pyd)$")
_PLATFORMS = {"darwin": "macOS", "linux": "Linux", "win32": "Windows", "win_amd64": "Windows"}


def diagnose(check: r.Check, facts: dict[str, Any], ctx: Context) -> bool:
    """An extension or library that could not be loaded; False when the failure is not one."""
    foreign = facts.get("foreign_extensions")
    if foreign:
        _foreign(check, foreign, facts.get("extension_suffixes") or [])
        return True
    path = facts.get("path")
    if facts.get("extension_suffixes") and isinstance(path, str) and os.path.isfile(path):
        _unloadable(check, path, facts, ctx)
        return True
    initialising = facts.get("extension_init")
    if initialising and "ModuleNotFoundError" not in facts.get("bases", ()):  # a missing module is named as such
        _init_failed(check, initialising, facts)
        return True
    if {"OSError", "ImportError"} & set(facts.get("bases", ())):  # ctypes, cffi, or a library's own words
        return _loader_refused(check, None, facts, ctx)
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
    theirs, ours = _tag_platform(files[0]), _tag_platform("x" + suffixes[0]) if suffixes else None
    built_for = theirs or describe(files[0])
    check.details.update(path=files[0], found=files, loads=suffixes, built_for=built_for)
    this = f"this interpreter is {ours} and " if ours else "this interpreter "
    check.hint = (f"{files[0]} is a compiled extension built for {built_for} (its name's tag), and {this}loads only "
                  f"{', '.join(suffixes[:3])}. Install the distribution (or build the extension) with the same "
                  f"Python version and platform as the runtime image: a build stage on another Python than the "
                  f"runtime stage (FROM python:3.12 to build, python:3.11 to run) or on Alpine for a Debian runtime, "
                  f"or files built on a laptop and copied in, are the usual cause")


def _tag_platform(path: str) -> str | None:
    """``CPython 3.12, aarch64 Linux (glibc)`` for ``x.cpython-312-aarch64-linux-gnu.so``; None for no tag."""
    found = _TAG.search(os.path.basename(path))
    if not found:
        return None
    impl, major, minor, machine, system, libc, other = found.groups()[:7]
    python = f"{'CPython' if impl == 'cpython' else 'PyPy'} {major}.{minor}"
    if other:
        return f"{python}, {_PLATFORMS.get(other, other)}"
    if not machine:
        return python
    libc_name = {"gnu": " (glibc)", "musl": " (musl: Alpine)"}.get(libc or "", f" ({libc})" if libc else "")
    return f"{python}, {machine} {_PLATFORMS.get(system, system)}{libc_name}"


def _unloadable(check: r.Check, path: str, facts: dict[str, Any], ctx: Context) -> None:
    what = describe(path)
    check.details.update(path=path, built_for=what)
    if what.startswith(("a macOS", "a Windows")):
        check.cause = "extension_incompatible"
        check.hint = (f"{path} is {what}, built on another operating system and copied in (a virtualenv or "
                      f"site-packages from a developer's machine). Install its distribution in the image for this "
                      f"platform (pip install in a build stage of the same base image), and keep local venvs out "
                      f"of the build context (.dockerignore)")
    elif not what.startswith("an ELF"):
        check.cause = "extension_incompatible"
        check.hint = (f"{path} is {what}. Put the real file in the image: reinstall its distribution there (pip "
                      f"install --force-reinstall), or build from a checkout whose binary files are present")
    elif what.rpartition(" for ")[2] != _this_machine():
        check.cause = "extension_incompatible"
        check.hint = (f"{path} is {what}, and this interpreter runs on {_this_machine()}. Install its distribution "
                      f"in the image for this machine (pip install in a build stage of the same base image and "
                      f"docker build --platform), rather than copying files built elsewhere")
    elif not _loader_refused(check, path, facts, ctx):
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


def _loader_refused(check: r.Check, extension: str | None, facts: dict[str, Any], ctx: Context) -> bool:
    """The loader's message (or a library's own words) names a library it could not find, or one
    older than the version of it the file needs; False when it names none."""
    message = facts.get("message") or ""
    too_old = _VERSION.search(message)
    if too_old:
        _too_old(check, *too_old.groups(), extension, facts, ctx)
        return True
    missing = _missing_library(message)
    if not missing or (extension and os.path.basename(missing) == os.path.basename(extension)):
        return False
    if os.path.isabs(missing) and os.path.isfile(missing) and not extension:  # ctypes.CDLL of a file it refused
        _unloadable(check, missing, {**facts, "message": message.replace(missing, "", 1)}, ctx)
        return True
    libc = _libc()
    if libc and _OTHER_LIBC[libc].match(os.path.basename(missing)):
        _other_libc(check, missing, extension, libc)
    else:
        _library_missing(check, missing, extension, facts, ctx)
    return True


def _library_missing(check: r.Check, library: str, extension: str | None, facts: dict[str, Any],
                     ctx: Context) -> None:
    check.cause = "library_missing"
    check.details["library"] = library
    distribution = _loaded_by(extension, facts, ctx)
    if distribution:
        check.details["distribution"] = distribution.name
    who = _who(extension, distribution, check)
    install = system_libraries.install_command(library)
    if install:
        check.details["packages"] = dict(zip(("debian", "alpine"), system_libraries.packages(library) or ()))
        fix = f"Install it in the runtime stage: {install}"
    else:
        fix = ("Install the OS package that provides it in the runtime stage (apt-get install / apk add; a slim or "
               "alpine base lacks what the build stage had), or use a wheel that bundles it (manylinux)")
    instead = system_libraries.wheel_instead(distribution.name if distribution else None, library)
    if instead:
        check.details["instead"] = instead
        fix += f", or pip install '{instead}' instead: a wheel that needs no {library}"
    check.hint = (f"{who} needs the system library {library}, which is not in the image (or not on the loader's "
                  f"path). {fix}" + (f". The loader names only the first library missing: `ldd {extension}` in "
                                     f"the image lists them all" if extension else ""))


def _too_old(check: r.Check, library: str, needs: str, required_by: str, extension: str | None,
             facts: dict[str, Any], ctx: Context) -> None:
    """``version `GLIBC_2.34' not found``: a file built on a newer distribution than the image."""
    check.cause = "extension_incompatible"
    check.details.update(library=library, needs=needs, required_by=required_by)
    path = extension or required_by
    distribution = _loaded_by(extension or required_by, facts, ctx)
    of = f" ({distribution})" if distribution else ""
    if needs.startswith("GLIBC_"):
        have = _libc_version()
        check.details["available"] = have
        check.hint = (f"{path}{of} needs glibc {needs[6:]} or newer, and this image has {have or 'an older one'}: it "
                      f"was built on a newer distribution than the runtime image (a wheel whose manylinux tag is "
                      f"newer than the image, or a build stage on a newer base). Run on a base image with glibc "
                      f"{needs[6:]} or newer, or install a release of its distribution built for this glibc, building "
                      f"in a stage FROM the same base image as the runtime")
    else:
        check.hint = (f"{path}{of} needs version {needs} of {library}, and the one in the image is older: it was "
                      f"built against a newer {os.path.basename(library)} (a newer distribution, a conda env). "
                      f"Install a newer {os.path.basename(library)} in the image (or a newer base image), or a "
                      f"build of its distribution made on the same base image as the runtime")


def _other_libc(check: r.Check, library: str, extension: str | None, libc: str) -> None:
    """A musllinux build on a glibc image (needs ``libc.musl-x86_64.so.1``), or a manylinux one on Alpine."""
    other = "glibc" if libc == "musl" else "musl (Alpine)"
    check.cause = "extension_incompatible"
    check.details.update(library=library, built_for=f"Linux with {other}")
    what = extension or "the library being loaded"
    check.hint = (f"{what} is built for Linux with {other} (it needs {library}), and this image runs on {libc}: "
                  f"files installed on {'Debian/Ubuntu' if libc == 'musl' else 'Alpine'} and copied into this one. "
                  f"Install its distribution in a build stage of the same base image as the runtime (pip picks "
                  f"manylinux wheels on glibc, musllinux on Alpine), rather than copying site-packages across")


def _loaded_by(path: str | None, facts: dict[str, Any], ctx: Context) -> Any:
    """The installed distribution that holds ``path``, else that of the innermost library frame: what asked
    the loader for the library; None when it is the application's own code."""
    found = dependency_diagnosis.library(path, ctx) if path else None
    for frame in reversed(facts.get("frames") or []):
        if found or ctx.is_app_file(frame["file"]):
            break
        found = dependency_diagnosis.library(frame["file"], ctx)
    return found


def _who(extension: str | None, distribution: Any, check: r.Check) -> str:
    if extension:
        return f"{extension}, a compiled extension" + (f" of {distribution}," if distribution else ",")
    if distribution:
        return f"{distribution}" + (f" (imported at {check.file}:{check.line})" if check.file else "")
    return f"your code ({check.file}:{check.line})" if check.file else "the code (ctypes)"


def _missing_library(message: str) -> str | None:
    for pattern in _NOT_FOUND:
        found = pattern.search(message)
        if found:
            return found.group(1)
    return None


def _libc() -> str | None:
    """``glibc`` or ``musl``: the C library this machine runs on; None when neither is known."""
    if _libc_version():
        return "glibc"
    return "musl" if any(name.startswith("ld-musl") for name in _listdir("/lib")) else None


def _libc_version() -> str | None:
    """``glibc 2.36``, from the C library loaded in this process; None on musl."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
