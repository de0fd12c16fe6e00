"""The gate: check a manifest in clean interpreters and return a ``Report``; ``run`` then hands off."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Mapping

from preflight import cycle_order, fingerprint, learned_modules, orphans
from preflight import report as r
from preflight.runner import RESULT, STACK, Job, Runner
from preflight.server_imports import main_label
from preflight.spec import Manifest

if TYPE_CHECKING:
    from preflight.diagnosis import Context

ENVIRONMENT_JOB = "environment"


def check(
    manifest: Manifest,
    interpreter: str = sys.executable,
    workdir: str | None = None,
    environ: Mapping[str, str] | None = None,
    workers: int | None = None,
    mode: str = "zygote",
    stamp_path: str | None = None,
    zygote=None,
    sys_path_head: list[str] | None = None,
    python_options: tuple[str, ...] = (),
) -> r.Report:
    """Run every check of ``manifest`` the way the server will start: same interpreter, cwd, env.

    ``mode``: zygote (fork checks from a preloaded interpreter, fresh where unsafe) or fresh.
    ``sys_path_head``: what the server's ``sys.path`` starts with when that is not the working
    directory (``python app/main.py``, ``uvicorn --app-dir src``: ``interpreter.sys_path_head``).
    ``stamp_path``: after a passing check, write there the fingerprint ``run --trust-stamp`` verifies.
    ``python_options``: the server's interpreter options (``python -O -m uvicorn``): every check's too.
    ``zygote``: one from ``zygote_launch.boot`` for this interpreter, workdir and environ; consumed.
    """
    started = time.monotonic()
    workdir = workdir or os.getcwd()
    environ = os.environ if environ is None else environ
    if not os.path.isdir(workdir):  # the server's own --chdir: it would die there, before any import
        return _no_workdir(manifest, workdir, interpreter, started)
    runner = Runner(interpreter, workdir, env=dict(environ))
    runner.prestarted = zygote
    runner.sys_path_head = sys_path_head
    runner.python_options = tuple(python_options)
    memory = learned_modules.entry(manifest.path, interpreter, workdir, runner.python_options)
    if mode == "zygote":
        runner.preload = manifest.app_modules()  # a library the command names is preloaded as one
        runner.remembered = learned_modules.load(memory)
        runner.scan_cache = learned_modules.imports_cache(memory)
    if workers:
        runner.workers = workers
    jobs = [Job(ENVIRONMENT_JOB, "inspect_env.py",
                [RESULT, json.dumps(fingerprint.app_tops(manifest)), json.dumps(sys_path_head if sys_path_head is not None else [workdir])],
                fork="clean")]
    for index, target in enumerate(manifest.imports):
        request = {"module": target.module, "symbols": list(target.symbols), "timeout": target.timeout,
                   "sys_path_head": sys_path_head}
        if target.as_main:
            request["as_main"] = True
        jobs.append(Job(f"import:{index}", "run_import.py", [json.dumps(request), RESULT, STACK], target.timeout,
                        fork="preloaded"))
    adopting = orphans.adopt()  # what an import detaches from its check's process group comes here
    try:
        outcomes = runner.run(jobs)
    finally:
        detached = orphans.kill_adopted() if adopting else []
        if adopting:
            orphans.release()  # a server exec'd from here must not inherit the role
    if mode == "zygote":
        learned_modules.update(memory, runner.remembered, runner.zygote_report, fell_back=runner.mode != "zygote")
    from preflight.diagnosis import diagnose_import  # imported while the checks ran (see cli._gate)
    from preflight.environment import check_environment

    probe = outcomes[ENVIRONMENT_JOB].result
    checks = check_environment(manifest, probe, environ)
    if probe is None:
        checks.append(_broken_interpreter(interpreter, outcomes[ENVIRONMENT_JOB].output_tail))
    ctx = _context(manifest, probe, workdir)
    for index, target in enumerate(manifest.imports):
        if probe is None:  # not a working Python: what its children did says nothing about the app
            checks.append(r.Check(kind="import", target=target.module, status=r.SKIPPED,
                                  message=f"not checked: {interpreter} cannot run the checks"))
        else:
            outcome = outcomes[f"import:{index}"]
            found = diagnose_import(target, outcome, ctx)
            if target.as_main:  # beside an import of the same module the manifest may list
                found[0].target = main_label(target.module)
            if outcome.fresh_because:
                found[0].details["fresh_because"] = outcome.fresh_because
            checks += found
    if probe is not None:
        cycle_order.note_working_orders(checks, {target.module: (outcomes[f"import:{i}"].result or {}).get("loaded")
                                                 for i, target in enumerate(manifest.imports)})
    if detached:
        checks.append(_detached(detached))
    if manifest.static:
        from preflight import static

        checks += static.run(manifest, probe, workdir, interpreter=interpreter, environ=environ).checks
    from preflight.redact import redact_checks

    loaded = {}  # variables the application set itself at import (a .env file): secrets as well
    for outcome in outcomes.values():
        loaded.update((outcome.result or {}).get("environ_set") or {})
    redact_checks(checks, {**loaded, **environ})
    report = r.Report(
        checks=checks,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        interpreter=interpreter,
        interpreter_options=list(python_options),
        environment=fingerprint.environment(probe, manifest, outcomes, checks),
        mode=runner.mode,
        mode_reason=runner.mode_reason,
        zygote=_zygote_summary(runner.zygote_report),
    )
    if stamp_path and report.ok and probe is not None:
        from preflight import stamp

        loaded = stamp.loaded_files(outcomes.values(), (runner.zygote_report or {}).get("files", ()))
        stamp.write(stamp_path, stamp.collect(manifest, interpreter, workdir, environ, probe, loaded,
                                              options=python_options))
    return report


def probe_environment(manifest: Manifest, interpreter: str = sys.executable, workdir: str | None = None,
                      environ: Mapping[str, str] | None = None) -> dict | None:
    """Only the environment probe (what ``scan`` needs from the checked interpreter), or None."""
    environ = os.environ if environ is None else environ
    runner = Runner(interpreter, workdir or os.getcwd(), env=dict(environ))
    job = Job(ENVIRONMENT_JOB, "inspect_env.py", [RESULT, json.dumps(fingerprint.app_tops(manifest))])
    return runner.run([job])[ENVIRONMENT_JOB].result


def _zygote_summary(ready: dict | None) -> dict | None:
    """The report's ``zygote``: preload time, modules preloaded, failed, learned from the checks, and
    preloaded because an earlier run learned them."""
    if not ready:
        return None
    return {"preload_ms": ready.get("preload_ms"), "preloaded": len(ready.get("preloaded") or ()),
            "preload_failed": [f["module"] for f in ready.get("failed") or ()],
            "learned": list(ready.get("learned") or ()), "remembered": list(ready.get("remembered") or ())}


def _context(manifest: Manifest, probe: dict | None, workdir: str) -> Context:
    from preflight.diagnosis import Context

    probe = probe or {}
    return Context(
        workdir=workdir,
        manifest_dir=os.path.dirname(manifest.path),
        sys_path=probe.get("sys_path") or [workdir],
        prefixes=tuple(probe.get("library_dirs") or ()),
        uid=probe.get("uid"),
        app_tops=set(fingerprint.app_tops(manifest)),
        pythonpath=probe.get("pythonpath"),
        flags=probe.get("flags") or {},
        env_names=frozenset(probe.get("env_names") or ()),
        env_empty=frozenset(probe.get("env_empty") or ()),
        python_version=tuple(probe["version"]) if probe.get("version") else None,
    )


def _detached(programs: list[str]) -> r.Check:
    return r.Check(kind="process", target=", ".join(sorted(set(programs))), status=r.WARNED, cause="detached_process",
                   message=f"the imports left {len(programs)} process(es) running outside their check's process "
                           f"group (setsid, start_new_session, a double fork): killed before going on",
                   hint="a module that starts a daemon at import starts it again in every process that imports "
                        "it (each worker, each check): start it from the server's startup hook instead",
                   details={"programs": programs})


def _no_workdir(manifest: Manifest, workdir: str, interpreter: str, started: float) -> r.Report:
    checks = [r.Check(kind="workdir", target=workdir, status=r.FAILED, cause="path_missing",
                      message=f"the server changes to {workdir} (gunicorn --chdir, env -C), which does not exist",
                      hint=f"copy the code to {workdir} in the image, or fix the command's --chdir (or "
                           f"GUNICORN_CMD_ARGS, its config file) or env -C")]
    checks += [r.Check(kind="import", target=t.module, status=r.SKIPPED,
                       message=f"not checked: {workdir} does not exist") for t in manifest.imports]
    return r.Report(checks=checks, duration_ms=round((time.monotonic() - started) * 1000, 1), interpreter=interpreter)


def _broken_interpreter(interpreter: str, output: str) -> r.Check:
    return r.Check(
        kind="python", target=interpreter, status=r.FAILED, cause="python_mismatch",
        message=f"{interpreter} could not describe itself", output=output or None,
        hint="check that the interpreter runs: `{0} -c pass`".format(interpreter),
    )
