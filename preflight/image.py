"""``preflight image IMAGE``: check an image before deploying it, through the Docker SDK.

The manifest runs inside a container from the image, with the image's own WORKDIR, ENV and USER
(plus ``-e`` overrides): ``preflight check --report FILE`` there, the file copied out, rendered here.
The image's config is inspected too, for what breaks gates in practice. Every container created
here is removed, whatever happens. The SDK is imported lazily and honours ``DOCKER_HOST``.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from dataclasses import dataclass, field, fields
from typing import Any

from preflight import report as r
from preflight.errors import ManifestError, UsageError
from preflight.runner import OUTPUT_TAIL_BYTES

KIND = "image"
GATE = "preflight"
# in the container: where the report is written. Directly in /tmp: `--report` never creates a directory
REPORT_IN_CONTAINER = "/tmp/.preflight-image-report.json"
COPIED_MANIFEST = ".preflight-image-manifest.yaml"  # a --manifest goes into WORKDIR under this name
LABEL = "dev.preflight.image-check"
WAIT_MARGIN_SECONDS = 120
_SHELLS = ("sh", "bash", "dash", "ash", "zsh")
_CHECK_FIELDS = {f.name for f in fields(r.Check)}


class ImageError(UsageError):
    """The engine or the image cannot be used: exit 2, like a bad manifest."""


@dataclass
class ImageConfig:
    """The parts of an image's config that decide how the gate starts in it."""

    name: str
    id: str
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    container: str | None = None  # the container the checks ran in (removed afterwards)

    @classmethod
    def from_attrs(cls, name: str, attrs: dict[str, Any]) -> "ImageConfig":
        config = attrs.get("Config") or {}
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in config.get("Env") or [])
        return cls(name=name, id=attrs.get("Id", ""), entrypoint=list(config.get("Entrypoint") or []),
                   cmd=list(config.get("Cmd") or []), workdir=config.get("WorkingDir") or "/",
                   env=env, user=config.get("User") or "")

    @property
    def gate_program(self) -> str:
        """How to start preflight in the image: the ENTRYPOINT's own path to it, else from PATH."""
        if self.entrypoint and posixpath.basename(self.entrypoint[0]) == GATE:
            return self.entrypoint[0]
        return GATE


    def server_command(self) -> list[str]:
        """The server command the image's exec-form ``preflight run [...] [--] CMD`` starts, or none."""
        argv = self.entrypoint + self.cmd
        if not argv or posixpath.basename(argv[0]) != GATE:
            return []
        from preflight.cli import build_parser

        try:
            args = build_parser().parse_args(argv[1:])
        except (UsageError, SystemExit):
            return []
        if args.command != "run":
            return []
        return args.server[1:] if args.server[:1] == ["--"] else list(args.server)


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``-e KEY=VAL`` (or ``-e KEY``, its value taken from here, as ``docker run`` does) -> dict."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise UsageError(f"-e {key or pair!r}: not a variable name", tip="-e KEY=VALUE")
        if not sep:
            if key not in os.environ:
                raise UsageError(f"-e {key}: not set here, so there is no value to pass", tip=f"-e {key}=VALUE")
            value = os.environ[key]
        env[key] = value
    return env


def check_image(name: str, manifest: str | None = None, env: dict[str, str] | None = None) -> r.Report:
    """Inspect ``name``'s config and run the manifest in a container from it; return one report."""
    if not name.strip():
        raise UsageError("no image name given", tip="preflight image svc:1.2 (a name, tag or ID)")
    docker = _sdk()
    client = _connect(docker)
    try:
        config = ImageConfig.from_attrs(name, _image_attrs(client, docker, name))
        checks = config_checks(config)
        return _in_container(client, docker, config, checks, manifest, env or {})
    finally:
        client.close()


def config_checks(config: ImageConfig) -> list[r.Check]:
    """What the image's config does to a gate: shell forms, and whether the gate runs at all."""
    checks = []
    shell_entry = _shell_form(config.entrypoint)
    if shell_entry:
        checks.append(_check("ENTRYPOINT", r.WARNED, "shell_form_entrypoint", config,
                             f"ENTRYPOINT is in shell form ({shell_entry}): the shell is PID 1, SIGTERM never "
                             "reaches the server, and `docker stop` ends in SIGKILL",
                             'use the exec form: ENTRYPOINT ["preflight", "run", "--"]'))
    elif _shell_form(config.cmd) and (not config.entrypoint or _runs_gate(config.entrypoint)):
        checks.append(_check("CMD", r.WARNED, "shell_form_cmd", config,
                             f"CMD is in shell form ({_shell_form(config.cmd)}): the server runs under a shell "
                             "that may not pass SIGTERM on",
                             'use the exec form: CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0"]'))
    else:
        checks.append(_check("ENTRYPOINT", r.PASSED, None, config, "exec form"))
    if not _runs_gate(config.entrypoint + config.cmd):
        checks.append(_check("gate", r.WARNED, "gate_not_in_entrypoint", config,
                             "neither ENTRYPOINT nor CMD runs `preflight run`: the server starts unchecked",
                             'ENTRYPOINT ["preflight", "run", "--"] with the server command as CMD'))
    return checks


def _shell_form(argv: list[str]) -> str | None:
    if len(argv) >= 2 and posixpath.basename(argv[0]) in _SHELLS and argv[1] == "-c":
        return f"{argv[0]} -c"
    return None


def _runs_gate(argv: list[str]) -> bool:
    return any(posixpath.basename(a) == GATE or f"{GATE} run" in a for a in argv)  # exec or shell form


def _check(target: str, status: str, cause: str | None, config: ImageConfig, message: str,
           hint: str | None = None) -> r.Check:
    details = {"image": config.name, "image_id": config.id[:19], "container": config.container}
    return r.Check(kind=KIND, target=target, status=status, cause=cause, message=message, hint=hint,
                   details={k: v for k, v in details.items() if v})


def _sdk() -> Any:
    try:
        import docker
    except ImportError:
        raise ImageError("`preflight image` needs the Docker SDK for Python, which is not installed",
                         tip="pip install 'docker>=7'") from None
    return docker


def _engine() -> str:
    return "the engine $DOCKER_HOST names" if os.environ.get("DOCKER_HOST") else "the local Docker engine"


def _connect(docker: Any) -> Any:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise ImageError(f"cannot reach {_engine()}: {_reason(exc)}",
                         tip="start the engine (dockerd), or set DOCKER_HOST to a reachable one "
                             "(unix://, tcp:// with DOCKER_TLS_VERIFY, ssh://)") from None
    return client


def _reason(exc: BaseException) -> str:
    """The innermost OS-level reason (connection refused, no such file...), not the SDK's wrapping."""
    seen, current, reason = set(), exc, None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            reason = current.strerror
        for arg in getattr(current, "args", ()):
            if isinstance(arg, OSError) and arg.strerror:
                reason = arg.strerror
        current = current.__cause__ or current.__context__
    return reason or type(exc).__name__


def _image_attrs(client: Any, docker: Any, name: str) -> dict[str, Any]:
    try:
        return client.images.get(name).attrs
    except docker.errors.ImageNotFound:
        raise ImageError(f"no image {name!r} on {_engine()}",
                         tip=f"build it first (docker build -t {name} .) or pull it (docker pull {name})") from None
    except docker.errors.APIError as exc:
        raise ImageError(f"cannot inspect image {name!r}: {exc.explanation or exc}") from None


def _in_container(client: Any, docker: Any, config: ImageConfig, checks: list[r.Check],
                  local_manifest: str | None, env: dict[str, str]) -> r.Report:
    merged_env = {**config.env, **env}
    if local_manifest:
        manifest_path = posixpath.join(config.workdir, COPIED_MANIFEST)
    else:
        manifest_path = posixpath.join(config.workdir, merged_env.get("PREFLIGHT_MANIFEST") or "preflight.yaml")
    argv = [config.gate_program, "check", manifest_path, "--report", REPORT_IN_CONTAINER, "--format", "json"]
    server = config.server_command()
    if server:  # checked as the image's `preflight run -- CMD` checks before it starts CMD
        argv += ["--", *server]
    try:
        container = client.containers.create(config.id, entrypoint=argv, environment=env,
                                             labels={LABEL: "1"}, detach=True)
    except docker.errors.APIError as exc:
        raise ImageError(f"cannot create a container from {config.name!r}: {exc.explanation or exc}") from None
    config.container = container.id[:12]
    try:
        text = _place_manifest(container, docker, local_manifest, manifest_path)
        if text is None:
            checks.append(_check("manifest", r.FAILED, "manifest_missing", config,
                                 f"no manifest at {manifest_path} in the image: `preflight run` would exit 2",
                                 f"COPY preflight.yaml into the WORKDIR ({config.workdir}), "
                                 "or set ENV PREFLIGHT_MANIFEST to where it is"))
            return r.Report(checks=checks)
        manifest = _parse(text, manifest_path, local_manifest)
        checks.append(_check("manifest", r.PASSED, None, config, f"found at {manifest_path}"))
        checks.append(_workdir_check(config, manifest))
        return _run(container, docker, config, checks, manifest)
    finally:
        try:
            container.remove(force=True)
        except docker.errors.DockerException:
            pass


def _place_manifest(container: Any, docker: Any, local: str | None, path: str) -> str | None:
    """Copy a local manifest in, or read the image's own out; None when the image has none."""
    if local:
        try:
            with open(local, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise UsageError(f"cannot read the manifest {local}: {exc.strerror}") from None
        container.put_archive(posixpath.dirname(path), _tar(posixpath.basename(path), data))
        return data.decode("utf-8", errors="replace")
    try:
        data = _read_file(container, path)
    except docker.errors.NotFound:
        return None
    return data.decode("utf-8", errors="replace") if data is not None else None


def _parse(text: str, path: str, local: str | None) -> Any:
    from preflight.manifest import parse_manifest

    try:
        return parse_manifest(text, path)
    except ManifestError as exc:
        if local:  # name the file the user gave, not its copy in the container
            raise ManifestError(local, exc.problems) from None
        raise


def _workdir_check(config: ImageConfig, manifest: Any) -> r.Check:
    expected = manifest.workdir or posixpath.dirname(manifest.path)
    if posixpath.normpath(config.workdir) == posixpath.normpath(expected):
        return _check("WORKDIR", r.PASSED, None, config, f"{config.workdir}, as the manifest expects")
    source = "the manifest's workdir" if manifest.workdir else "the manifest's directory"
    return _check("WORKDIR", r.WARNED, "workdir_mismatch", config,
                  f"the image's WORKDIR is {config.workdir} but {source} is {expected}: "
                  "the server's sys.path[0] will not be where the manifest expects the code",
                  f"WORKDIR {expected} in the Dockerfile, or fix `workdir:` in the manifest")


def _run(container: Any, docker: Any, config: ImageConfig, checks: list[r.Check], manifest: Any) -> r.Report:
    try:
        container.start()
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or exc)
        if "executable file not found" in explanation or "no such file or directory" in explanation:
            checks.append(_check("preflight", r.FAILED, "preflight_missing", config,
                                 f"`{config.gate_program}` is not installed in the image",
                                 "RUN pip install preflight-gate, in the same environment as the app"))
            return r.Report(checks=checks)
        raise ImageError(f"cannot start a container from {config.name!r}: {explanation}") from None
    limit = sum(t.timeout for t in manifest.imports) + WAIT_MARGIN_SECONDS
    try:
        status = container.wait(timeout=limit)["StatusCode"]
    except docker.errors.DockerException as exc:
        raise ImageError(f"lost the container while it ran the checks: {_reason(exc)}") from None
    except Exception as exc:  # requests' ReadTimeout, ConnectionError: the SDK does not wrap them
        raise ImageError(f"the checks in the container did not finish within {limit:.0f} s "
                         f"({type(exc).__name__})") from None
    logs = container.logs(stdout=True, stderr=True, tail=40).decode("utf-8", errors="replace")
    if status == 2:
        raise ImageError(f"preflight in the image refused to run the checks:\n{_messages(logs)}")
    if status in (126, 127) and config.server_command():  # `run` would exit so before any check
        checks.append(_check("CMD", r.FAILED, "cmd_not_runnable", config,
                             f"the server command {config.server_command()[0]!r} cannot run in the image: "
                             f"`preflight run` would exit {status}", "install it in the image, or fix CMD"))
        checks[-1].output = logs[-OUTPUT_TAIL_BYTES:] or None
        return r.Report(checks=checks)
    data = _report_from(container, docker) if status in (0, 1) else None
    if data is None:
        checks.append(_check("preflight", r.FAILED, "gate_failed", config,
                             f"`{config.gate_program} check` exited {status} in the container without a report",
                             "run the image by hand: docker run --rm --entrypoint preflight IMAGE check"))
        checks[-1].output = logs[-OUTPUT_TAIL_BYTES:] or None
        return r.Report(checks=checks)
    checks.append(_check("preflight", r.PASSED, None, config, f"{config.gate_program} ran the checks"))
    return r.Report(
        checks=checks + [_to_check(c) for c in data.get("checks", [])],
        duration_ms=data.get("duration_ms", 0.0),
        interpreter=data.get("interpreter"),
        interpreter_options=data.get("interpreter_options") or [],
        mode=data.get("mode", "fresh"),
        environment=data.get("environment"),
    )


def _messages(logs: str) -> str:
    """The container's error lines, as the user would read them."""
    lines = [line for line in logs.splitlines() if line.strip()]
    return "\n".join(f"  | {line}" for line in lines[-15:]) or "  (no output)"


def _report_from(container: Any, docker: Any) -> dict[str, Any] | None:
    try:
        data = _read_file(container, REPORT_IN_CONTAINER)
        return json.loads(data) if data is not None else None
    except (docker.errors.NotFound, ValueError):
        return None


def _to_check(data: dict[str, Any]) -> r.Check:
    return r.Check(**{k: v for k, v in data.items() if k in _CHECK_FIELDS})


def _read_file(container: Any, path: str) -> bytes | None:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        member = next((m for m in archive.getmembers() if m.isfile()), None)
        handle = archive.extractfile(member) if member else None
        return handle.read() if handle else None


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
