"""How much does the gate cost? A generated FastAPI service, measured side by side, several rounds.

    python benchmarks/bench.py [--rounds 5] [--repeats 3] [--out bench.json] [--keep DIR]
                               [--entities 6] [--no-fresh]

Needs the ``bench`` extra (``pip install -e '.[bench]'``). Generates, in a temporary directory, a
service of about forty application modules in packages several levels deep (FastAPI routes,
pydantic schemas, SQLAlchemy models, httpx clients, a uvicorn entry point) and a manifest listing
every module, then measures, interleaving the variants within each round:

  A  ``python -c "import <every module>"``: the floor, everything imported once (and the same
     leaving by ``os._exit``: how much of A is the interpreter's teardown)
  B  ``preflight check`` of that manifest: each module isolated (zygote mode, with the modules
     earlier runs learned remembered and with nothing remembered, and fresh mode)
  C  ``preflight check`` of a one-stdlib-module manifest vs ``python -c pass``: the gate's own cost
  D  time to the first HTTP 200 on 127.0.0.1: ``uvicorn`` alone vs ``preflight run -- uvicorn``
     in each start mode (zygote, fresh, and a verified stamp with ``--trust-stamp``)
  E  peak memory of the gate and every process it started, sampled from /proc (not timed)
  S  the static pass's own benchmark, ``static_bench.py`` beside this file, when it is there

Every variant but the fresh ones runs ``--repeats`` times a round, interleaved with the others of
its group, and the round keeps their median: one run swings by a quarter on a shared VM (and a
single A against a single B made B/A swing by a third between rounds).
``--entities N`` generates N entities (model, schema, service and router each) instead of six: about
4N + 20 modules, to see how the costs grow with the application; ``--no-fresh`` leaves out the fresh
variants, which take minutes on such a service. Prints a table of medians and ratios; ``--out`` writes the same as JSON. Not a test: numbers vary
with the machine; the README shows the latest table and the machine it ran on.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from functools import partial
from pathlib import Path
from typing import Callable

PYTHON = sys.executable
SCRIPTS = sysconfig.get_path("scripts")
ENTITIES = ("user", "order", "product", "invoice", "shipment", "review")


# ---------------------------------------------------------------- the generated service

def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def entity_names(count: int) -> tuple[str, ...]:
    """``ENTITIES``, cut to ``count`` or continued with numbered ones."""
    return (ENTITIES + tuple(f"item{index}" for index in range(count - len(ENTITIES))))[:count]


def generate_service(root: Path, entities: tuple[str, ...] = ENTITIES) -> list[str]:
    """Write the service under ``root``; return every module name, packages included."""
    inits = ["app", "app/core", "app/db", "app/db/models", "app/schemas", "app/services", "app/clients",
             "app/api", "app/api/v1", "app/api/v1/routes"]
    for package in inits:
        _write(root, f"{package}/__init__.py", '"""Package."""\n')
    _write(root, "app/core/config.py", '''
        from functools import lru_cache

        from pydantic import BaseModel, Field


        class Settings(BaseModel):
            database_url: str = "sqlite://"
            payments_url: str = "http://127.0.0.1:9/payments"
            shipping_url: str = "http://127.0.0.1:9/shipping"
            page_size: int = Field(default=50, ge=1, le=500)


        @lru_cache
        def get_settings() -> Settings:
            return Settings()
        ''')
    _write(root, "app/core/errors.py", '''
        class ServiceError(Exception):
            status_code = 500


        class NotFound(ServiceError):
            status_code = 404
        ''')
    _write(root, "app/core/logging.py", '''
        import logging

        logger = logging.getLogger("app")
        ''')
    _write(root, "app/core/security.py", '''
        import hashlib
        import hmac

        from app.core.config import get_settings


        def sign(payload: bytes) -> str:
            return hmac.new(get_settings().database_url.encode(), payload, hashlib.sha256).hexdigest()
        ''')
    _write(root, "app/db/base.py", '''
        from sqlalchemy.orm import DeclarativeBase


        class Base(DeclarativeBase):
            pass
        ''')
    _write(root, "app/db/session.py", '''
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        from app.core.config import get_settings

        engine = create_engine(get_settings().database_url)
        SessionLocal = sessionmaker(bind=engine)
        ''')
    for name in ("payments", "shipping"):
        _write(root, f"app/clients/{name}.py", f'''
            import httpx

            from app.core.config import get_settings


            class {name.title()}Client:
                def __init__(self) -> None:
                    self.base_url = get_settings().{name}_url

                async def get(self, path: str) -> dict:
                    async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
                        return (await client.get(path)).json()
            ''')
    routers = []
    for entity in entities:
        cls = entity.title()
        _write(root, f"app/db/models/{entity}.py", f'''
            from datetime import datetime

            from sqlalchemy import DateTime, Integer, String
            from sqlalchemy.orm import Mapped, mapped_column

            from app.db.base import Base


            class {cls}(Base):
                __tablename__ = "{entity}s"
                id: Mapped[int] = mapped_column(Integer, primary_key=True)
                name: Mapped[str] = mapped_column(String(200))
                created: Mapped[datetime] = mapped_column(DateTime, default=datetime.utcnow)
            ''')
        _write(root, f"app/schemas/{entity}.py", f'''
            from datetime import datetime

            from pydantic import BaseModel, ConfigDict, Field


            class {cls}In(BaseModel):
                name: str = Field(min_length=1, max_length=200)


            class {cls}Out({cls}In):
                model_config = ConfigDict(from_attributes=True)
                id: int
                created: datetime
            ''')
        _write(root, f"app/services/{entity}s.py", f'''
            from sqlalchemy import select
            from sqlalchemy.orm import Session

            from app.clients.payments import PaymentsClient
            from app.core.errors import NotFound
            from app.db.models.{entity} import {cls}
            from app.schemas.{entity} import {cls}In


            def get_{entity}(session: Session, ident: int) -> {cls}:
                row = session.scalars(select({cls}).where({cls}.id == ident)).first()
                if row is None:
                    raise NotFound("{entity} %d" % ident)
                return row


            def create_{entity}(session: Session, data: {cls}In) -> {cls}:
                row = {cls}(name=data.name)
                session.add(row)
                return row


            payments = PaymentsClient()
            ''')
        _write(root, f"app/api/v1/routes/{entity}s.py", f'''
            from fastapi import APIRouter, Depends
            from sqlalchemy.orm import Session

            from app.api.deps import get_session
            from app.schemas.{entity} import {cls}In, {cls}Out
            from app.services import {entity}s as service

            router = APIRouter(prefix="/{entity}s", tags=["{entity}s"])


            @router.get("/{{ident}}", response_model={cls}Out)
            def read(ident: int, session: Session = Depends(get_session)):
                return service.get_{entity}(session, ident)


            @router.post("/", response_model={cls}Out)
            def create(data: {cls}In, session: Session = Depends(get_session)):
                return service.create_{entity}(session, data)
            ''')
        routers.append(entity)
    _write(root, "app/api/deps.py", '''
        from typing import Iterator

        from sqlalchemy.orm import Session

        from app.db.session import SessionLocal


        def get_session() -> Iterator[Session]:
            with SessionLocal() as session:
                yield session
        ''')
    imports = "".join(f"from app.api.v1.routes import {e}s\n" for e in routers)
    includes = "".join(f"api.include_router({e}s.router)\n" for e in routers)
    _write(root, "app/api/v1/api.py", f"from fastapi import APIRouter\n\n{imports}\napi = APIRouter(prefix='/v1')\n{includes}")
    _write(root, "app/main.py", '''
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse

        from app.api.v1.api import api
        from app.core.errors import ServiceError
        from app.core.logging import logger

        app = FastAPI(title="bench service")
        app.include_router(api)


        @app.exception_handler(ServiceError)
        async def service_error(request, exc: ServiceError):
            return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)


        @app.get("/health")
        def health() -> dict:
            return {"ok": True}
        ''')
    modules = []
    for path in sorted((root / "app").rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        modules.append(".".join(parts))
    return modules


def write_manifest(path: Path, modules: list[str], symbols: dict[str, list[str]] | None = None) -> None:
    lines = ["version: 1", "timeout: 30", "imports:"]
    for module in modules:
        wanted = (symbols or {}).get(module)
        lines.append(f"  - module: {module}\n    symbols: [{', '.join(wanted)}]" if wanted else f"  - {module}")
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- measuring

def preflight_cmd() -> list[str]:
    script = os.path.join(SCRIPTS, "preflight")
    return [script] if os.path.exists(script) else [PYTHON, "-m", "preflight"]


def bench_env(root: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFLIGHT_")}
    env["PATH"] = SCRIPTS + os.pathsep + env.get("PATH", "")
    env["PREFLIGHT_CACHE_DIR"] = str(cache)
    env.pop("PYTHONPATH", None)
    # Bytecode cached, as in an image whose build compiled it (pip does for what it installs;
    # Dockerfile.example runs compileall on the application): every variant reads .pyc files.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(argv: list[str], cwd: Path, env: dict[str, str], ok=(0,)) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"bench: {' '.join(argv[:4])}... exited {proc.returncode}:\n{proc.stderr.decode()[-3000:]}")
    return elapsed


# The slow variants, measured once a round; every other ``repeats`` times (see ``run``).
ONCE = ("B_check_fresh", "D_run_fresh")


def interleaved(measure: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Take each of ``measure`` ``repeats`` times, in turn (a, b, a, b, ...); the median of each."""
    taken: dict[str, list[float]] = {name: [] for name in measure}
    for _ in range(repeats):
        for name, take in measure.items():
            taken[name].append(take())
    return {name: statistics.median(values) for name, values in taken.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_200(argv_before: list[str], cwd: Path, env: dict[str, str], limit: float = 60.0) -> float:
    """Seconds from spawning the command until GET /health on 127.0.0.1 answers 200; then stop it."""
    port = free_port()
    argv = [*argv_before, os.path.join(SCRIPTS, "uvicorn"), "app.main:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - started < limit:
            if proc.poll() is not None:
                raise SystemExit(f"bench: server exited {proc.returncode}:\n{proc.stderr.read().decode()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/health")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.002)
        raise SystemExit("bench: no HTTP 200 within the limit")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peak_memory(argv: list[str], cwd: Path, env: dict[str, str], interval: float = 0.005) -> dict[str, float]:
    """Peak over time of the summed RSS and PSS (MiB) of ``argv`` and every descendant, from /proc.

    PSS (proportional set size, ``smaps_rollup``) divides each shared page among the processes
    sharing it, so copy-on-write pages of forked checks count once in the sum; RSS counts them in
    every process and overstates. ``max_single_rss`` is what ``getrusage(RUSAGE_CHILDREN)``
    would say: the largest single process, not the sum.
    """
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    peak = {"sum_rss_mib": 0.0, "sum_pss_mib": 0.0, "max_single_rss_mib": 0.0, "max_processes": 0}
    while proc.poll() is None:
        rss = pss = biggest = 0.0
        tree = _descendants(proc.pid)
        for pid in tree:
            fields = _rollup(pid)
            rss += fields.get("Rss", 0)
            pss += fields.get("Pss", 0)
            biggest = max(biggest, fields.get("Rss", 0))
        peak["sum_rss_mib"] = max(peak["sum_rss_mib"], rss / 1024)
        peak["sum_pss_mib"] = max(peak["sum_pss_mib"], pss / 1024)
        peak["max_single_rss_mib"] = max(peak["max_single_rss_mib"], biggest / 1024)
        peak["max_processes"] = max(peak["max_processes"], len(tree))
        time.sleep(interval)
    return {k: round(v, 1) for k, v in peak.items()}


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    stat = handle.read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def _rollup(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    fields[key] = int(rest.split()[0])
    except OSError:
        pass
    return fields


def median(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def has_flag(flag: str, command: str) -> bool:
    help_text = subprocess.run([*preflight_cmd(), command, "--help"], capture_output=True, text=True).stdout
    return flag in help_text


# ---------------------------------------------------------------- the run

def run(rounds: int, workdir: Path, repeats: int = 3, entities: tuple[str, ...] = ENTITIES,
        fresh: bool = True) -> dict:
    service, cache = workdir / "service", workdir / "cache"
    service.mkdir()
    modules = generate_service(service, entities)
    manifest, tiny, stamp = service / "preflight.yaml", service / "tiny.yaml", workdir / "stamp.json"
    write_manifest(manifest, modules, {"app.main": ["app"], "app.core.errors": ["ServiceError"]})
    write_manifest(tiny, ["json"])
    env = bench_env(service, cache)
    pf = preflight_cmd()
    stamp_mode = has_flag("--trust-stamp", "run")

    # Each ratio's two sides run one right after the other, and the long fresh variants last in
    # their group, so that what a machine does after ten seconds of load lands on neither side.
    variants = {
        "C_python_pass": [PYTHON, "-c", "pass"],
        "C_check_stdlib": [*pf, "check", str(tiny)],
        "A_import_all": [PYTHON, "-c", "import " + ", ".join(modules)],
        "A_import_all_exit": [PYTHON, "-c", "import " + ", ".join(modules) + "; import os; os._exit(0)"],
        "B_check_zygote_first": [*pf, "check", str(manifest), "--mode", "zygote"],  # nothing remembered
        "B_check_zygote": [*pf, "check", str(manifest), "--mode", "zygote"],
        **({"B_check_fresh": [*pf, "check", str(manifest), "--mode", "fresh"]} if fresh else {}),
    }
    servers = {"D_uvicorn": []}
    if stamp_mode:
        timed([*pf, "check", str(manifest), "--stamp", str(stamp)], service, env)
        servers["D_run_trust_stamp"] = [*pf, "run", "--manifest", str(manifest), "--trust-stamp", str(stamp), "--"]
    servers["D_run_zygote"] = [*pf, "run", "--manifest", str(manifest), "--mode", "zygote", "--"]
    if fresh:
        servers["D_run_fresh"] = [*pf, "run", "--manifest", str(manifest), "--mode", "fresh", "--"]

    for argv in variants.values():  # warm the page cache, bytecode and the manifest cache once
        timed(argv, service, env)
    samples: dict[str, list[float]] = {name: [] for name in [*variants, *servers]}

    def first_run(argv: list[str]) -> float:  # forget what earlier runs learned (it is learned again)
        shutil.rmtree(cache / "learned", ignore_errors=True)
        return timed(argv, service, env)

    def measure(name: str, argv: list[str]) -> Callable[[], float]:
        return partial(first_run, argv) if name == "B_check_zygote_first" else partial(timed, argv, service, env)

    # One run swings by a quarter from the next on a shared VM: each round takes the median of
    # ``repeats`` interleaved runs of each side (B remembered right after B first: it learned again).
    repeated = {name: measure(name, argv) for name, argv in variants.items() if name not in ONCE}
    repeated_servers = {name: partial(first_200, prefix, service, env) for name, prefix in servers.items() if name not in ONCE}
    for index in range(rounds):
        print(f"bench: round {index + 1}/{rounds}", file=sys.stderr)
        for name, value in interleaved(repeated, repeats).items():
            samples[name].append(value)
        for name in ONCE:
            if name in variants:
                samples[name].append(timed(variants[name], service, env))
        for name, value in interleaved(repeated_servers, repeats).items():
            samples[name].append(value)
        for name in ONCE:
            if name in servers:
                samples[name].append(first_200(servers[name], service, env))

    med = {name: median(values) for name, values in samples.items()}

    def paired(name: str, base: str) -> float:  # within a round, so a machine's drift cancels out
        return round(statistics.median([a / b for a, b in zip(samples[name], samples[base])]), 2)

    ratios = {
        "B_zygote/A": paired("B_check_zygote", "A_import_all"),
        "B_zygote_first/A": paired("B_check_zygote_first", "A_import_all"),
        "A_exit/A": paired("A_import_all_exit", "A_import_all"),
        **({"B_fresh/A": paired("B_check_fresh", "A_import_all")} if fresh else {}),
        "C_check-pass_ms": median([a - b for a, b in zip(samples["C_check_stdlib"], samples["C_python_pass"])]),
        "C_check/pass": paired("C_check_stdlib", "C_python_pass"),
    }
    for name in servers:
        if name != "D_uvicorn":
            ratios[f"{name}/uvicorn"] = paired(name, "D_uvicorn")
    memory = {
        "E_check_zygote": peak_memory(variants["B_check_zygote"], service, env),
        **({"E_check_fresh": peak_memory(variants["B_check_fresh"], service, env)} if fresh else {}),
        "E_import_all": peak_memory(variants["A_import_all"], service, env),
    }
    static = run_static_bench(env)
    return {
        "machine": machine(),
        "modules": len(modules),
        "rounds": rounds,
        "repeats": repeats,
        "median_ms": med,
        "samples_ms": {k: [round(v * 1000, 1) for v in vs] for k, vs in samples.items()},
        "ratios": ratios,
        "targets": targets(ratios),
        "peak_memory": memory,
        **({"static": static} if static is not None else {}),
    }


def run_static_bench(env: dict[str, str]) -> dict | None:
    """The static pass's own benchmark (``static_bench.py``, another script), when it is there."""
    script = Path(__file__).with_name("static_bench.py")
    if not script.exists():
        return None
    proc = subprocess.run([PYTHON, str(script), "--json"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": f"static_bench.py exited {proc.returncode}", "stderr": proc.stderr[-2000:]}
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return {"output": proc.stdout[-2000:]}


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0] if Path("/proc/meminfo").exists() else ""
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                    if l.startswith("model name")), "")
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "memory": meminfo.split(":", 1)[-1].strip()}


TARGETS = (  # the speed targets: (what, the ratio it reads, the most it may be)
    ("B/A <= 1.3", "B_zygote/A", 1.3),
    ("B/A <= 1.3, first run", "B_zygote_first/A", 1.3),
    ("C <= +100 ms", "C_check-pass_ms", 100.0),
    ("D default <= 2.2x", "D_run_zygote/uvicorn", 2.2),
    ("D --trust-stamp <= 1.15x", "D_run_trust_stamp/uvicorn", 1.15),
)


def targets(ratios: dict) -> dict[str, dict]:
    """Each target this run measured: its value and whether it was met."""
    return {what: {"value": ratios[key], "met": ratios[key] <= limit}
            for what, key, limit in TARGETS if key in ratios}


def table(result: dict) -> str:
    med, ratios = result["median_ms"], result["ratios"]
    rows = [
        ("A", "python -c 'import <all %d modules>' (floor)" % result["modules"], med["A_import_all"], ""),
        ("A", "the same, leaving by os._exit (no interpreter teardown)", med["A_import_all_exit"],
         f"{ratios['A_exit/A']}x A"),
        ("B", "preflight check, zygote (default), learned modules remembered", med["B_check_zygote"],
         f"{ratios['B_zygote/A']}x A"),
        ("B", "preflight check, zygote, nothing remembered (a first run)", med["B_check_zygote_first"],
         f"{ratios['B_zygote_first/A']}x A"),
        *([("B", "preflight check --mode fresh", med["B_check_fresh"], f"{ratios['B_fresh/A']}x A")]
          if "B_check_fresh" in med else []),
        ("C", "python -c pass", med["C_python_pass"], ""),
        ("C", "preflight check (one stdlib module)", med["C_check_stdlib"],
         f"+{ratios['C_check-pass_ms']} ms ({ratios['C_check/pass']}x)"),
        ("D", "uvicorn alone: first HTTP 200", med["D_uvicorn"], ""),
    ]
    for name in ("D_run_zygote", "D_run_fresh", "D_run_trust_stamp"):
        if name in med:
            label = "preflight run " + {"D_run_zygote": "(default, zygote)", "D_run_fresh": "--mode fresh",
                                        "D_run_trust_stamp": "--trust-stamp"}.get(name, name)
            rows.append(("D", label, med[name], f"{ratios[name + '/uvicorn']}x uvicorn"))
    lines = ["| | what | median ms | ratio (median of per-round ratios) |", "|---|---|---:|---|"]
    lines += [f"| {k} | {what} | {ms:.0f} | {ratio} |" for k, what, ms, ratio in rows]
    for name, mem in result["peak_memory"].items():
        lines.append(f"| E | {name[2:]}: peak sum PSS / sum RSS / largest RSS | "
                     f"{mem['sum_pss_mib']} MiB | RSS {mem['sum_rss_mib']} MiB, largest {mem['max_single_rss_mib']} MiB, "
                     f"{mem['max_processes']} processes |")
    static = result.get("static")
    if static and "cold_s" in static:
        lines.append(f"| S | static pass, {static.get('files')} files: cold / warm cache | "
                     f"{static['cold_s'] * 1000:.0f} / {static['warm_s'] * 1000:.0f} | static_bench.py |")
    m = result["machine"]
    repeats = result.get("repeats", 1)
    lines.append(f"\n{result['rounds']} rounds, medians ({repeats} interleaved runs a round of each variant but "
                 f"the fresh ones); {m['cpu']}, {m['cores']} cores, {m['memory']}, "
                 f"Python {m['python']}, {m['platform']}; bytecode cached (.pyc), as in a built image")
    lines.append("targets: " + "; ".join(f"{what}: {t['value']} {'met' if t['met'] else 'MISSED'}"
                                         for what, t in targets(result["ratios"]).items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per round of each variant but the fresh ones; the round keeps their median")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--keep", help="generate the service in this (new) directory and keep it")
    parser.add_argument("--entities", type=int, default=len(ENTITIES),
                        help="entities in the generated service (model, schema, service, router each)")
    parser.add_argument("--no-fresh", action="store_true", help="leave out the fresh-interpreter variants")
    args = parser.parse_args(argv)
    options = {"entities": entity_names(args.entities), "fresh": not args.no_fresh}
    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True)
        result = run(args.rounds, workdir, args.repeats, **options)
    else:
        with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
            result = run(args.rounds, Path(tmp), args.repeats, **options)
    print(table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
