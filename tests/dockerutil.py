"""Docker helpers for the test-suite, wrapping the scripts in ``docker/``.

The engine itself is started by ``docker/engine.sh`` (CI runs it); tests
call :func:`engine_available` and skip when it is False.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = REPO_ROOT / "docker"
BASE_TAG = "preflight-base:bookworm"


class DockerError(RuntimeError):
    """A docker script or build failed; the message carries its output."""


def _run(
    cmd: list[str], what: str, timeout: float, env: dict[str, str] | None = None
) -> str:
    """Run *cmd*, return its combined output; raise DockerError with it on failure."""
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (
            exc.output.decode(errors="replace")
            if isinstance(exc.output, bytes)
            else (exc.output or "")
        )
        raise DockerError(f"{what} timed out after {timeout:.0f}s:\n{out}") from None
    if proc.returncode != 0:
        raise DockerError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}")
    return proc.stdout


def engine_available(timeout: float = 5.0) -> bool:
    """True if a Docker engine answers a ping via the docker SDK, else False."""
    import gc
    import warnings

    # When the engine is down the SDK leaks the socket it failed to connect: a ResourceWarning,
    # which filterwarnings=error turns into a failure of a run that should only skip.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        answered = _ping(timeout)
        gc.collect()
    return answered


def _ping(timeout: float) -> bool:
    try:
        import docker

        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False


def ensure_base_image(tag: str = BASE_TAG) -> str:
    """Build the debootstrapped base image unless *tag* exists; return *tag*."""
    _run(
        ["bash", str(DOCKER_DIR / "base-image.sh"), tag],
        f"base image {tag}",
        timeout=1200,
    )
    return tag


def build_wheelhouse(outdir: str | os.PathLike[str], *extra_reqs: str) -> Path:
    """Build wheels for this project, its deps and *extra_reqs* into *outdir*.

    Not cached here: call once per session (e.g. from a session fixture).
    """
    out = Path(outdir)
    _run(
        ["bash", str(DOCKER_DIR / "wheels.sh"), str(out), *extra_reqs],
        "wheelhouse build",
        timeout=900,
    )
    return out


def build_image(context_dir: str | os.PathLike[str], tag: str) -> str:
    """``docker build`` *context_dir* as *tag*; return the image ID.

    Uses the classic builder (no buildx needed, FROM resolves local images).
    Raises DockerError with the full build log on failure.
    """
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    _run(
        ["docker", "build", "--force-rm", "-t", tag, str(context_dir)],
        f"docker build of {tag}",
        timeout=900,
        env=env,
    )
    return _run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", tag],
        f"inspect {tag}",
        timeout=60,
    ).strip()
