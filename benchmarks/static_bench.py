"""The static pass on a generated application of about 2,000 files: cold (empty cache) and warm.

    python benchmarks/static_bench.py [--files 2000] [--repeat 3] [--json]

``measure(files, repeat)`` returns {"files", "cold_s", "warm_s", "findings", "analyser"} for the
main benchmark script to call. The tree looks like a real service: packages of routers, services,
models and schemas importing each other, helpers imported lazily inside functions, a few latent
``NameError``s. Timed in-process through ``preflight.static.run`` with a real environment probe.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

_KINDS = ("routes", "services", "models", "schemas", "repos")


def generate(root: str, files: int) -> str:
    """Write a service tree under ``root`` with about ``files`` modules; return the manifest's path."""
    per_package = len(_KINDS) * 10
    packages = max(1, files // per_package)
    app = os.path.join(root, "app")
    os.makedirs(app, exist_ok=True)
    open(os.path.join(app, "__init__.py"), "w").close()
    entries = []
    for p in range(packages):
        for kind in _KINDS:
            directory = os.path.join(app, f"domain{p}", kind)
            os.makedirs(directory, exist_ok=True)
            open(os.path.join(directory, "__init__.py"), "w").close()
            for i in range(10):
                with open(os.path.join(directory, f"m{i}.py"), "w") as handle:
                    handle.write(_module(p, kind, i, packages))
        open(os.path.join(app, f"domain{p}", "__init__.py"), "w").close()
        entries.append(f"app.domain{p}.routes.m0")
    with open(os.path.join(app, "main.py"), "w") as handle:
        handle.write("".join(f"import {e}\n" for e in entries))
    manifest = os.path.join(root, "preflight.yaml")
    with open(manifest, "w") as handle:
        handle.write("version: 1\nimports: [app.main]\nstatic: true\n")
    return manifest


def _module(p: int, kind: str, i: int, packages: int) -> str:
    nxt = _KINDS[(_KINDS.index(kind) + 1) % len(_KINDS)]
    lines = [
        '"""Generated module."""', "from __future__ import annotations", "", "import logging",
        "from dataclasses import dataclass", "from typing import Any", "",
    ]
    if kind != "repos" or i:
        lines.append(f"from app.domain{p}.{nxt} import m{i} as following")
    if i + 1 < 10:
        lines.append(f"from app.domain{p}.{kind} import m{i + 1}")
    lines += ["", "log = logging.getLogger(__name__)", "", "", "@dataclass", f"class Item{i}:",
              "    id: int", "    name: str", "    extra: dict[str, Any] | None = None", ""]
    for f in range(8):
        lines += ["", f"def handler_{f}(payload: dict[str, Any], limit: int = 10) -> list[Item{i}]:",
                  f'    """Handler {f}."""', "    out = []", "    for key, value in payload.items():",
                  "        if len(out) >= limit:", "            break",
                  f"        out.append(Item{i}(id=len(out), name=str(key), extra={{'v': value}}))",
                  "    log.debug('handled %d', len(out))", "    return out"]
    lines += ["", "", "def later():", f"    from app.domain{(p + 1) % packages}.models import m{i} as other",
              "    return other"]
    if i == 3:
        lines += ["", "", "def stamp():", "    return time.time()  # latent NameError"]
    return "\n".join(lines) + "\n"


def measure(files: int = 2000, repeat: int = 3) -> dict:
    from preflight import gate, static
    from preflight.manifest import load_manifest

    with tempfile.TemporaryDirectory(prefix="preflight-static-bench-") as root:
        manifest_path = generate(root, files)
        os.environ["PREFLIGHT_CACHE_DIR"] = os.path.join(root, ".cache")
        manifest = load_manifest(manifest_path)
        probe = gate.probe_environment(manifest, sys.executable, root)
        cold, warm = [], []
        result = None
        for _ in range(repeat):
            for name in os.listdir(os.environ["PREFLIGHT_CACHE_DIR"]) if os.path.isdir(os.environ["PREFLIGHT_CACHE_DIR"]) else []:
                os.unlink(os.path.join(os.environ["PREFLIGHT_CACHE_DIR"], name))
            started = time.perf_counter()
            result = static.run(manifest, probe, root, everything=True)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = static.run(manifest, probe, root, everything=True)
            warm.append(time.perf_counter() - started)
        assert result is not None
        summary = result.checks[0].details
        return {"files": summary["files"], "cold_s": round(statistics.median(cold), 3),
                "warm_s": round(statistics.median(warm), 3), "findings": len(result.checks) - 1,
                "analyser": summary["analyser"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.files, args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"static pass on {result['files']} files ({result['analyser']}): cold {result['cold_s']:.2f} s, "
              f"warm {result['warm_s']:.2f} s, {result['findings']} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
