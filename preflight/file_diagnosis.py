"""Files the application's own code opens, writes or creates at import, and what the container's
filesystem said: not readable by this user, not writable (a read-only root filesystem, a directory
owned by root under a non-root ``USER``), or not there (a config file ``.dockerignore`` left out, a
CA bundle a TLS context loads: ssl names no file, so the check interpreter reads it from the frames),
or, for tempfile, none of the directories it tried was usable (read from its frames too).

A source file the import system itself could not read is not this module's: ``diagnosis`` names
that one. Facts come from the ``OSError``'s ``errno`` and ``filename`` and from the file system as
the checks' user sees it, never from the message.
"""

from __future__ import annotations

import errno
import os
import shutil
from typing import Any

from preflight import report as r

_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def diagnose(check: r.Check, facts: dict[str, Any], workdir: str, uid: int | None) -> bool:
    """A file operation of the application's that the filesystem refused; False when it is not one."""
    filename = facts.get("filename")
    frames = facts.get("frames") or []
    if "OSError" in facts.get("bases", ()) and facts.get("ca_bundle"):
        _ca_bundle(check, facts["ca_bundle"], workdir)
        return True
    if "OSError" in facts.get("bases", ()) and facts.get("temp_dirs"):
        _no_temp_dir(check, facts["temp_dirs"], uid)
        return True
    if "OSError" not in facts.get("bases", ()) or not isinstance(filename, str) or not filename:
        return False
    if frames and _import_system(frames[-1]["file"]):
        return False  # Python reading a module's own source: an unreadable module, named by diagnosis
    path = os.path.normpath(os.path.join(workdir, filename))
    where = f"{check.file}:{check.line}" if check.file else "code run by the import"
    program = _runs_a_program(frames)
    if facts.get("errno") not in (errno.ENOENT, *_DENIED):
        return False
    check.details["path"] = filename if program else path
    if program and (facts["errno"] == errno.ENOENT or os.sep not in filename and shutil.which(filename) is None):
        check.cause = "file_missing"
        check.hint = (f"{where} runs the program {filename!r} at import, and it is not in the image (not on PATH, "
                      f"or not at that path). Install it in the image, or do not run it at import (a value known "
                      f"at build time, such as a git commit, can be passed in as a build ARG or ENV)")
    elif facts["errno"] == errno.ENOENT:
        _missing(check, path, filename, where, workdir)
    elif program and facts["errno"] != errno.EROFS:
        check.cause = "permission_denied"
        check.details["uid"] = uid
        check.hint = (f"{where} runs {filename} at import, and uid {uid} may not execute it: chmod a+x it in "
                      f"the image, or do not run it at import")
    elif facts["errno"] != errno.EROFS and (closed := _unsearchable(path)):
        check.cause = "permission_denied"
        check.details.update(uid=uid, directory=closed)
        check.hint = (f"uid {uid} may not enter {closed} (no search permission, x), so {where} cannot open "
                      f"{path} in it at import. Fix that directory's mode or ownership in the image (chmod a+rX, "
                      f"COPY --chown=<user>), or run as a user that can enter it")
    elif facts["errno"] != errno.EROFS and os.path.exists(path) and not os.access(path, os.R_OK):
        check.cause = "permission_denied"
        check.details["uid"] = uid
        check.hint = (f"{path} is not readable by uid {uid}, and {where} reads it at import. Fix its ownership "
                      f"or mode in the image (COPY --chown=<user>, chmod a+rX), or run as a user that can read it")
    else:
        _write_denied(check, path, where, facts, uid)
    return True


def _write_denied(check: r.Check, path: str, where: str, facts: dict[str, Any], uid: int | None) -> None:
    read_only = facts["errno"] == errno.EROFS
    check.cause = "write_denied"
    check.details.update(uid=uid, read_only_filesystem=read_only)
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    if read_only:
        check.hint = (f"{where} writes to {path} at import, and the filesystem holding it is mounted read-only "
                      f"(Kubernetes readOnlyRootFilesystem, docker run --read-only). Mount a writable volume "
                      f"there (an emptyDir or tmpfs at {directory}), write somewhere that is writable (such as "
                      f"/tmp) named by a variable, or move the write out of import time")
    else:
        check.hint = (f"{where} writes to {path} at import, and uid {uid} may not write there. Create {directory} "
                      f"in the image owned by the runtime user (RUN mkdir -p {directory} && chown <user> "
                      f"{directory}), write under a writable mount named by a variable, or move the write out of "
                      f"import time")


def _missing(check: r.Check, path: str, filename: str, where: str, workdir: str) -> None:
    existing = path
    while existing != os.path.dirname(existing) and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    check.cause = "file_missing"
    check.details["exists_up_to"] = existing
    relative = "" if os.path.isabs(filename) else f" (a relative path: against the working directory {workdir})"
    gone = os.path.dirname(path) if existing != os.path.dirname(path) else None
    check.hint = (f"{where} opens {path}{relative} at import, and it does not exist"
                  + (f", nor does {gone}" if gone else "")
                  + ". Check that .dockerignore or a COPY step did not leave it out, the working directory, "
                    "and that a directory the code writes into is created in the image")


def _ca_bundle(check: r.Check, bundle: dict[str, Any], workdir: str) -> None:
    """A TLS context loading a CA bundle the image lacks (ssl names no file: ``filename`` is None)."""
    path = os.path.normpath(os.path.join(workdir, bundle["path"]))
    where = f"{check.file}:{check.line}" if check.file else "code run by the import"
    _missing(check, path, bundle["path"], where, workdir)
    check.details.update(path=path, ca_bundle=bundle["via"], variable=bundle.get("variable"))
    named = f" (named by ${bundle['variable']})" if bundle.get("variable") else ""
    check.hint = (f"{where} makes a TLS context at import ({bundle['via']}) with the CA bundle {path}{named}, and "
                  f"it is not in the image. Install the CA certificates in the runtime stage (apt-get install "
                  f"ca-certificates, apk add ca-certificates) or COPY the bundle there, point at certifi's bundle "
                  f"(python -m certifi), or set SSL_CERT_FILE (SSL_CERT_DIR for a directory) to a bundle the "
                  f"image has")


def _no_temp_dir(check: r.Check, tried: list[dict[str, Any]], uid: int | None) -> None:
    """tempfile found no usable directory (its error names none): ``write_denied`` when one it tried is
    there but refused the write, ``file_missing`` when none of them exists."""
    where = f"{check.file}:{check.line}" if check.file else "code run by the import"
    there = [d for d in tried if d["exists"]]
    check.cause = "write_denied" if there else "file_missing"
    check.details.update(tried=[d["path"] for d in tried], absent=[d["path"] for d in tried if not d["exists"]],
                         read_only=[d["path"] for d in there if d["read_only"]], uid=uid,
                         read_only_filesystem=any(d["read_only"] for d in there))
    why = "; ".join(_temp_dir_state(d, uid) for d in tried)
    check.hint = (f"{where} asks tempfile for a temporary directory at import (mkdtemp, TemporaryFile, "
                  f"gettempdir), and none of those it tried is usable: {why}. Mount a writable volume at /tmp "
                  f"(a Kubernetes emptyDir, docker run --tmpfs /tmp), or set TMPDIR to a directory that exists "
                  f"and uid {uid} may write")


def _temp_dir_state(tried: dict[str, Any], uid: int | None) -> str:
    named = f" (${tried['variable']})" if tried.get("variable") else ""
    if not tried["exists"]:
        return f"{tried['path']}{named} does not exist"
    if tried["read_only"]:
        return f"{tried['path']}{named} is on a read-only filesystem"
    if not tried["writable"]:
        return f"{tried['path']}{named} is not writable by uid {uid}"
    return f"{tried['path']}{named} refused a file"


def _unsearchable(path: str) -> str | None:
    """The first directory on the way to ``path`` that this user may not enter: nothing in it can be
    opened or created, whether the code reads or writes, and whether or not the file is there."""
    ancestors = []
    directory = os.path.dirname(path)
    while directory != os.path.dirname(directory):
        ancestors.append(directory)
        directory = os.path.dirname(directory)
    for directory in reversed(ancestors):
        if os.path.isdir(directory) and not os.access(directory, os.X_OK):
            return directory
    return None


def _import_system(file: str) -> bool:
    return file.startswith("<frozen importlib") or file.replace(os.sep, "/").endswith(
        ("importlib/_bootstrap_external.py", "importlib/_bootstrap.py"))


def _runs_a_program(frames: list[dict[str, Any]]) -> bool:
    """The failing call started a program (``subprocess``, ``os.exec*``), not a file operation."""
    return any(f["function"] in ("_execute_child", "_fork_exec", "execve", "execv") for f in frames[-3:])
