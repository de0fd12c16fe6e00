"""The console view of static findings: grouped by name and by file with counts, so 200 stay readable.

Only the console is grouped; the JSON log and report keep every finding.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict

from preflight import report as r

GROUP_OVER = 5
_TOP_NAMES, _TOP_FILES, _PLACES = 15, 10, 4
_LABELS = {
    ("undefined_name", r.FAILED): "undefined names in code that runs",
    ("undefined_name", r.WARNED): "undefined names only in annotations nothing evaluates",
    ("unresolved_import", r.FAILED): "imports that will fail when they run",
    ("import_cycle", r.WARNED): "import cycles",
    ("shadowed", r.WARNED): "twins that hide a module",
}


def console_view(report: r.Report, base: str) -> r.Report:
    """The same report with large groups of static findings folded into one check per group."""
    groups: dict[tuple[str, str], list[r.Check]] = defaultdict(list)
    others: list[r.Check] = []
    silenced = 0
    for check in report.checks:
        if check.kind == "static" and check.details.get("baselined"):
            silenced += 1
        elif check.kind == "static" and check.status != r.PASSED:
            groups[(check.cause or "", check.status)].append(check)
        else:
            others.append(check)
    shown = list(others)
    for key, members in sorted(groups.items()):
        shown += [_folded(key, members, base)] if len(members) > GROUP_OVER else members
    if silenced:
        shown.append(r.Check(kind="static", target="baseline", status=r.SKIPPED,
                             message=f"{silenced} known findings silenced by the baseline"))
    return r.Report(checks=shown, duration_ms=report.duration_ms, interpreter=report.interpreter,
                    mode=report.mode, environment=report.environment, mode_reason=report.mode_reason)


def _folded(key: tuple[str, str], members: list[r.Check], base: str) -> r.Check:
    cause, status = key
    by_name: dict[str, list[r.Check]] = defaultdict(list)
    for check in members:
        by_name[check.details.get("name") or check.target].append(check)
    by_file = Counter(_short(c.file, base) for c in members)
    label = _LABELS.get(key, f"{cause} findings")
    lines = [f"{len(members)} {label}: {len(by_name)} distinct in {len(by_file)} files"]
    ranked = sorted(by_name.items(), key=lambda item: (-len(item[1]), item[0]))
    for name, checks in ranked[:_TOP_NAMES]:
        places = [f"{_short(c.file, base)}:{c.line}" for c in checks[:_PLACES]]
        more = f" (+{len(checks) - _PLACES})" if len(checks) > _PLACES else ""
        files = len({c.file for c in checks})
        if len(checks) == 1:
            lines.append(f"     {name}: {places[0]}")
            continue
        lines.append(f"     {name} x{len(checks)} in {files} file{'s' * (files != 1)}: {', '.join(places)}{more}")
    if len(ranked) > _TOP_NAMES:
        lines.append(f"     ... and {len(ranked) - _TOP_NAMES} more names")
    top = ", ".join(f"{f} {n}" for f, n in by_file.most_common(_TOP_FILES))
    lines.append(f"   by file: {top}" + (f" (+{len(by_file) - _TOP_FILES} files)" if len(by_file) > _TOP_FILES else ""))
    hints = Counter(c.hint for c in members if c.hint)
    hint = hints.most_common(1)[0][0] if len(hints) == 1 else None
    return r.Check(kind="static", target=cause, status=status, cause=cause, message="\n".join(lines),
                   hint=hint or "every finding, with its own hint, is in the JSON report (--report PATH) and log")


def _short(path: str | None, base: str) -> str:
    if not path:
        return "?"
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
