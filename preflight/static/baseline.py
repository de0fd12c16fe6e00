"""Baselines: adopt the static checks on an old code base and fail only on new findings.

A finding is known by cause, file (relative to the baseline's directory) and target, counted: three
known ``time`` findings in one file silence three, and a fourth is new. Lines are not part of it,
so editing code above a known finding does not make it new.
"""

from __future__ import annotations

import json
import os
from collections import Counter

from preflight import report as r
from preflight.errors import UsageError
from preflight.files import write_json

SCHEMA = "preflight/static-baseline-v1"


def fingerprint(check: r.Check, base: str) -> str:
    where = os.path.relpath(check.file, base) if check.file and os.path.isabs(check.file) else (check.file or "")
    return f"{check.cause}|{where}|{check.target}"


def findings(checks: list[r.Check]) -> list[r.Check]:
    return [c for c in checks if c.kind == "static" and c.status in (r.FAILED, r.WARNED)]


def write(checks: list[r.Check], path: str) -> int:
    base = os.path.dirname(os.path.abspath(path))
    counts = Counter(fingerprint(c, base) for c in findings(checks))
    data = {"schema": SCHEMA, "findings": dict(sorted(counts.items()))}
    try:
        os.makedirs(base, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"cannot write baseline {path}: {base} is a file, not a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot write baseline {path}: cannot create {base}: {exc.strerror or exc}") from None
    try:
        write_json(path, data, indent=1)
    except OSError as exc:
        raise UsageError(f"cannot write baseline {path}: {exc.strerror or exc}",
                         tip="point --write-baseline at a writable file path") from None
    return sum(counts.values())


def apply(checks: list[r.Check], path: str) -> int:
    """Mark findings the baseline knows as skipped (``details.baselined``); return how many."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise UsageError(f"baseline not found: {path}",
                         tip=f"create it from the current findings: preflight scan --write-baseline {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise UsageError(f"baseline {path} is not JSON: {exc}") from None
    tip = f"recreate it: preflight scan --write-baseline {path}"
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("findings"), dict):
        raise UsageError(f"{path} is not a preflight baseline ({SCHEMA})", tip=tip)
    bad = [k for k, v in data["findings"].items() if type(v) is not int or v < 0]
    if bad:
        raise UsageError(f"baseline {path}: the count of {bad[0]!r} is not a whole number", tip=tip)
    known = Counter(data["findings"])
    base = os.path.dirname(os.path.abspath(path))
    silenced = 0
    for check in sorted(findings(checks), key=lambda c: (c.file or "", c.line or 0)):
        key = fingerprint(check, base)
        if known[key] > 0:
            known[key] -= 1
            check.details["baselined"] = True
            check.details["was"] = check.status
            check.status = r.SKIPPED
            silenced += 1
    return silenced
