"""``preflight diff A B``: what differs between two places, most relevant first.

A and B are report-v1 documents (from files, a run here, or a run in an image). For every check
that passes on one side and fails on the other, the differences that explain it come first; the
remaining differences follow, grouped. Works on plain report JSON only, so it compares reports
written anywhere, by any machine.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from preflight.errors import UsageError
from preflight.pip_names import canonical
from preflight.report import FAILING, SCHEMA

DIFF_SCHEMA = "preflight/diff-v1"
LOCAL, IMAGE_PREFIX = "local", "image:"
_SHOW = 8  # items listed per group in the console view


class DiffInputError(UsageError):
    """A side cannot be read: unreadable file, not JSON, another schema, unknown image."""


@dataclass
class Side:
    """One report and how to name its place in sentences ("here", "in image svc:1", "in b.json")."""

    source: str
    label: str
    report: dict[str, Any]
    key: str = "a"  # "a" or "b": how machine-readable facts name this side

    @property
    def env(self) -> dict[str, Any]:
        return self.report.get("environment") or {}

    @property
    def packages(self) -> dict[str, Any]:
        return (self.env.get("app") or {}).get("packages") or {}

    def sys_path(self) -> list[str]:
        cwd = self.env.get("cwd") or ""
        return [e.get("path") or cwd for e in self.env.get("sys_path") or []]

    def rel(self, path: str | None) -> str | None:
        """``path`` relative to the app root holding it (``/app/app/x.py:3`` -> ``app/x.py:3``)."""
        if not path:
            return path
        for package in self.packages.values():
            root = package["root"].rstrip("/") + "/"
            if path.startswith(root):
                return path[len(root):]
        return path


@dataclass
class Finding:
    """One difference, as a sentence for people and facts for machines."""

    topic: str
    message: str
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "message": self.message, **self.facts}


@dataclass
class Explained:
    """A check that passes on one side and fails on the other, and the differences that explain it."""

    kind: str
    target: str
    good: Side
    bad: Side
    check: dict[str, Any]
    reasons: list[Finding]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "passes": self.good.key, "fails": self.bad.key,
                "status": self.check.get("status"), "cause": self.check.get("cause"),
                "message": self.check.get("message"), "reasons": [f.to_json() for f in self.reasons]}


@dataclass
class Diff:
    a: Side
    b: Side
    explained: list[Explained]
    differences: dict[str, list[Finding]]
    same_code: bool | None

    @property
    def matters(self) -> bool:
        """A check's outcome differs, or the application code does."""
        return bool(self.explained or self.differences.get("checks") or self.same_code is False)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": DIFF_SCHEMA, "matters": self.matters, "same_code": self.same_code,
            "a": {"source": self.a.source, "ok": self.a.report.get("ok")},
            "b": {"source": self.b.source, "ok": self.b.report.get("ok")},
            "explained": [e.to_json() for e in self.explained],
            "differences": {k: [f.to_json() for f in v] for k, v in self.differences.items() if v},
        }


# -- reading the two sides ------------------------------------------------------------------------

def label(source: str) -> str:
    if source == LOCAL:
        return "here"
    if source.startswith(IMAGE_PREFIX):
        return f"in image {source[len(IMAGE_PREFIX):]}"
    return f"in {source}"


def side_from_report(source: str, data: Any) -> Side:
    if not isinstance(data, dict):
        raise DiffInputError(f"{source} is not a {SCHEMA} document: it holds {_json_name(data)}, not an object",
                             tip="write one with `preflight check --report PATH`")
    if data.get("schema") != SCHEMA:
        raise DiffInputError(f"{source} is not a {SCHEMA} document (schema: {data.get('schema')!r})",
                             tip="write one with `preflight check --report PATH`")
    problem = shape_problem(data)
    if problem:
        raise DiffInputError(f"{source} is not a valid {SCHEMA} document: {problem}",
                             tip="write one with `preflight check --report PATH`")
    return Side(source, label(source), data)


# what diff reads from a report, and the JSON type each must have when present (None: may be null)
_CHECK = {"kind": str, "target": str, "status": str}
_CHECK_OPTIONAL = {"cause": str, "file": str, "details": dict}
_DETAILS = {"missing": str, "imported_from": str, "install": str}
_ENVIRONMENT = {"cwd": str, "sys_path": list, "pythonpath": list, "env_names": list, "distributions": dict,
                "python": dict, "app": dict}
_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


def shape_problem(data: dict[str, Any]) -> str | None:
    """The first part of a report-v1 document that ``compare`` could not read, or None."""
    return next(_problems(data), None)


def _problems(data: dict[str, Any]) -> Iterator[str]:
    checks = data.get("checks")
    if not isinstance(checks, list):
        yield "`checks` is missing" if checks is None else f"`checks` is {_json_name(checks)}, not a list"
        return
    for i, check in enumerate(checks):
        where = f"checks[{i}]"
        if not isinstance(check, dict):
            yield f"`{where}` is {_json_name(check)}, not an object"
            return
        missing = [f"`{key}`" for key in _CHECK if key not in check]
        if missing:
            yield f"`{where}` has no {', '.join(missing)}"
        yield from _typed(where, check, {**_CHECK, **_CHECK_OPTIONAL})
        yield from _typed(f"{where}.details", check.get("details") or {}, _DETAILS)
    env = data.get("environment")
    if env is not None and not isinstance(env, dict):
        yield f"`environment` is {_json_name(env)}, not an object"
    if not env:
        return
    yield from _typed("environment", env, _ENVIRONMENT)
    for key, item_type in (("sys_path", dict), ("pythonpath", str), ("env_names", str)):
        for i, item in enumerate(env.get(key) or []):
            if not isinstance(item, item_type):
                yield f"`environment.{key}[{i}]` is {_json_name(item)}, not {_JSON_NAMES[item_type]}"
            elif key == "sys_path":
                yield from _typed(f"environment.sys_path[{i}]", item, {"path": str})
    packages = (env.get("app") or {}).get("packages") or {}
    yield from _typed("environment.app", env.get("app") or {}, {"packages": dict})
    for name, package in packages.items():
        where = f"environment.app.packages.{name}"
        if not isinstance(package, dict):
            yield f"`{where}` is {_json_name(package)}, not an object"
        elif not isinstance(package.get("root"), str):
            yield f"`{where}.root` is {_json_name(package.get('root'))}, not a string"
        elif "digest" not in package:
            yield f"`{where}` has no `digest`"
        yield from _typed(where, package, {"files": dict})


def _typed(where: str, data: dict[str, Any], types: dict[str, type]) -> Iterator[str]:
    for key, expected in types.items():
        value = data.get(key)
        if value is not None and not isinstance(value, expected):
            yield f"`{where}.{key}` is {_json_name(value)}, not {_JSON_NAMES[expected]}"


def _json_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def read_report(path: str) -> Side:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise DiffInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DiffInputError(f"{path} is not JSON: {exc}") from None
    return side_from_report(path, data)


def load(source: str, manifest: str | None = None, image_manifest: str | None = None,
         env: list[str] | None = None) -> Side:
    """A report file, or a live run: ``local`` (``manifest`` here, now) or ``image:NAME`` (in a container)."""
    if source == LOCAL:
        from preflight import gate
        from preflight.manifest import load_manifest

        if manifest is None:
            raise DiffInputError("`local` needs a manifest", tip="preflight diff --manifest preflight.yaml local B")
        return side_from_report(source, gate.check(load_manifest(manifest)).to_json())
    if source.startswith(IMAGE_PREFIX):
        from preflight import image

        name = source[len(IMAGE_PREFIX):]
        if not name:
            raise DiffInputError("`image:` needs an image name", tip="preflight diff local image:svc:1.2")
        report = image.check_image(name, manifest=image_manifest, env=image.parse_env(env or []))
        return side_from_report(source, report.to_json())
    return read_report(source)


# -- comparing -------------------------------------------------------------------------------------

def compare(a: Side, b: Side) -> Diff:
    a.key, b.key = "a", "b"
    explained = []
    changed_checks: list[Finding] = []
    notes: list[Finding] = []  # outcomes that differ with no failure: skipped, warned, checked on one side only
    checks_a, checks_b = _checks(a), _checks(b)
    for key in list(dict.fromkeys([*checks_a, *checks_b])):
        ca, cb = checks_a.get(key), checks_b.get(key)
        fail_a, fail_b = _failing(ca), _failing(cb)
        if ca and cb and fail_a != fail_b:
            good, bad, check = (b, a, ca) if fail_a else (a, b, cb)
            explained.append(Explained(key[0], key[1], good, bad, check, explain(key[0], key[1], check, good, bad)))
        elif _outcome(ca) != _outcome(cb) and not _consequence(key, explained):
            (changed_checks if fail_a or fail_b else notes).append(_check_change(key, ca, cb, a, b))
    same_code, code = _code(a, b)
    differences = {"checks": changed_checks, "code": code, **_environment(a, b), "notes": notes}
    return Diff(a, b, explained, differences, same_code)


def _checks(side: Side) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["kind"], c["target"]): c for c in side.report.get("checks") or []}


def _consequence(key: tuple[str, str], explained: list[Explained]) -> bool:
    """A symbol check skipped because its module's import is already explained."""
    return key[0] == "symbol" and any(e.kind == "import" and key[1].startswith(e.target + ":") for e in explained)


def _failing(check: dict[str, Any] | None) -> bool:
    return bool(check) and check.get("status") in FAILING


def _outcome(check: dict[str, Any] | None) -> tuple[Any, Any]:
    return (check.get("status"), check.get("cause")) if check else (None, None)


def _check_change(key: tuple[str, str], ca: dict | None, cb: dict | None, a: Side, b: Side) -> Finding:
    def word(check: dict | None, side: Side) -> str:
        if not check:
            return f"not checked {side.label}"
        return f"{check['status']}{' (' + check['cause'] + ')' if check.get('cause') else ''} {side.label}"

    return Finding("checks", f"{key[0]} {key[1]}: {word(ca, a)}, {word(cb, b)}",
                   {"kind": key[0], "target": key[1], "a": _outcome(ca), "b": _outcome(cb)})


def explain(kind: str, target: str, check: dict[str, Any], good: Side, bad: Side) -> list[Finding]:
    """The differences between the passing side and the failing side that account for ``check``."""
    details = check.get("details") or {}
    reasons: list[Finding] = []
    placed: list[Finding] = []
    if kind in ("import", "symbol"):
        module = details.get("missing") or target.split(":")[0]
        importer = details.get("imported_from")
        importer = bad.rel(importer) if importer and os.path.isabs(importer) else None
        if check.get("cause") == "distribution_missing" or details.get("install"):
            reasons += _distribution(details.get("install") or module.split(".")[0], good, bad, importer)
        placed = _holding_entry(module.split(".")[0], check, good, bad)
        if check.get("cause") == "not_on_sys_path":  # the code is there, in the wrong place
            reasons += placed
        else:
            reasons += _code_presence(module, good, bad, importer) + placed
        reasons += _changed_files(module, check, good, bad)
        reasons += _env_named_in(check, good, bad)
    elif kind == "env":
        reasons += _env_names([target], good, bad)
    elif kind == "distribution":
        reasons += _distribution(re.split(r"[\s\[<>=!~;(@]", target, maxsplit=1)[0], good, bad, None)
    elif kind == "path":
        reasons += _path_entry(target, good, bad)
    if kind in ("workdir", "path") or (kind in ("import", "symbol") and placed):
        reasons += _cwd(good, bad) + _pythonpath(good, bad)
    if kind in ("python",) or not reasons:
        reasons += _python(good, bad)
    if kind in ("import", "symbol") and check.get("cause") in ("permission_denied", "write_denied"):
        reasons += _user(good, bad)
    return _unique(reasons)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    return [f for f in findings if not (f.message in seen or seen.add(f.message))]


def _files(side: Side, top: str) -> dict[str, str] | None:
    package = side.packages.get(top)
    return None if package is None else package.get("files") or {}


def _has(files: dict[str, str], rel: str) -> bool:
    """``rel`` (``a/b``) is a module file or a directory holding files in this listing."""
    return f"{rel}.py" in files or any(name.startswith(rel + "/") for name in files)


def _code_presence(module: str, good: Side, bad: Side, importer: str | None) -> list[Finding]:
    """The shallowest part of ``module``'s path that exists on the good side only."""
    parts = module.split(".")
    good_files, bad_files = _files(good, parts[0]), _files(bad, parts[0])
    if good_files is None:
        return []
    needs = f"; {importer} needs it" if importer else ""
    if bad_files is None:
        return [Finding("code", f"{parts[0]}/ exists {good.label} and not {bad.label}{needs}",
                        {"path": parts[0] + "/", "present": good.key, "absent": bad.key, "needed_by": importer})]
    for depth in range(1, len(parts) + 1):
        rel = "/".join(parts[:depth])
        if _has(good_files, rel) and not _has(bad_files, rel):
            shown = rel + "/" if any(n.startswith(rel + "/") for n in good_files) else rel + ".py"
            return [Finding("code", f"{shown} exists {good.label} and not {bad.label}{needs}",
                            {"path": shown, "present": good.key, "absent": bad.key, "needed_by": importer})]
    return []


def _holding_entry(top: str, check: dict[str, Any], good: Side, bad: Side) -> list[Finding]:
    """The sys.path entry that holds ``top`` on the good side and is missing from the bad side's."""
    package = good.packages.get(top)
    if not package:
        return []
    root = package["root"]
    details = check.get("details") or {}
    if top in bad.packages and check.get("cause") != "not_on_sys_path":
        return []  # the bad side has the package on its sys.path: where it sits is not the problem
    how = _how_on_path(root, good)
    found = details.get("root")
    also = f" ({top} is at {details.get('found_at')} {bad.label})" if found else ""
    return [Finding("sys_path", f"{root} holds {top} and is on sys.path {good.label} ({how}), "
                                f"not {bad.label}{also}", {"entry": root, "package": top, "on": good.key,
                                                           "off": bad.key, "via": how})]


def _how_on_path(entry: str, side: Side) -> str:
    if os.path.normpath(entry) == os.path.normpath(side.env.get("cwd") or ""):
        return "the working directory"
    if any(os.path.normpath(p) == os.path.normpath(entry) for p in side.env.get("pythonpath") or []):
        return "PYTHONPATH"
    return "site configuration"


def _changed_files(module: str, check: dict[str, Any], good: Side, bad: Side) -> list[Finding]:
    """Files of the module's package that differ; the failing check's own file first."""
    top = module.split(".")[0]
    good_files, bad_files = _files(good, top), _files(bad, top)
    if not good_files or not bad_files:
        return []
    changed = sorted(n for n in good_files.keys() & bad_files.keys() if good_files[n] != bad_files[n])
    only_bad = sorted(bad_files.keys() - good_files.keys())
    failing = bad.rel(check.get("file"))
    findings = []
    for name in sorted(changed, key=lambda n: n != failing):
        where = f" (the failure is at {failing}:{check.get('line')})" if name == failing and check.get("line") else ""
        findings.append(Finding("code", f"{name} is not the same {good.label} as {bad.label}{where}",
                                {"path": name, "change": "changed"}))
    for name in sorted(only_bad, key=lambda n: n != failing):
        findings.append(Finding("code", f"{name} exists {bad.label} and not {good.label}",
                                {"path": name, "present": bad.key, "absent": good.key}))
    return findings


def _env_named_in(check: dict[str, Any], good: Side, bad: Side) -> list[Finding]:
    """Variables set on the good side only whose names the failure mentions (``KeyError: 'DB_URL'``)."""
    text = " ".join(str(check.get(k) or "") for k in ("message", "stack_trace", "output"))
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    only_good = set(good.env.get("env_names") or []) - set(bad.env.get("env_names") or [])
    return _env_names(sorted(only_good & words), good, bad)


def _env_names(names: list[str], good: Side, bad: Side) -> list[Finding]:
    findings = []
    for name in names:
        in_good, in_bad = name in (good.env.get("env_names") or []), name in (bad.env.get("env_names") or [])
        if in_good and not in_bad:
            findings.append(Finding("env", f"{name} is set {good.label} and not {bad.label}",
                                    {"name": name, "set": good.key, "unset": bad.key}))
        elif in_good and in_bad:
            findings.append(Finding("env", f"{name} is set on both sides; {bad.label} it is empty or invalid",
                                    {"name": name}))
    return findings


def _distribution(name: str, good: Side, bad: Side, importer: str | None) -> list[Finding]:
    key = canonical(name)
    have, lack = (good.env.get("distributions") or {}).get(key), (bad.env.get("distributions") or {}).get(key)
    needs = f"; {importer} needs it" if importer else ""
    if have and not lack:
        message = f"{name} {have} is installed {good.label} and not {bad.label}{needs}"
    elif have and lack and have != lack:
        message = f"{name} is {have} {good.label} and {lack} {bad.label}{needs}"
    elif not have and lack:
        message = f"{name} {lack} is installed {bad.label} only"
    else:
        return []
    return [Finding("distribution", message, {"name": key, good.key: have, bad.key: lack})]


def _path_entry(entry: str, good: Side, bad: Side) -> list[Finding]:
    states = {}
    for side in (good, bad):
        match = [e for e in side.env.get("sys_path") or [] if e.get("path") == entry]
        states[side.key] = match[0] if match else None
    g, b = states[good.key], states[bad.key]
    if g and not b:
        return [Finding("sys_path", f"{entry} is on sys.path {good.label} and not {bad.label}", {"entry": entry})]
    if g and b and (g.get("exists"), g.get("readable")) != (b.get("exists"), b.get("readable")):
        state = "does not exist" if not b.get("exists") else "is not readable"
        return [Finding("sys_path", f"{entry} {state} {bad.label}", {"entry": entry})]
    return []


def _cwd(good: Side, bad: Side) -> list[Finding]:
    cg, cb = good.env.get("cwd"), bad.env.get("cwd")
    if cg == cb or not (cg and cb):
        return []
    return [Finding("cwd", f"the working directory is {cg} {good.label} and {cb} {bad.label}",
                    {good.key: cg, bad.key: cb})]


def _pythonpath(good: Side, bad: Side) -> list[Finding]:
    pg, pb = good.env.get("pythonpath"), bad.env.get("pythonpath")
    if pg == pb or not (good.env and bad.env):
        return []
    show = lambda p: os.pathsep.join(p) if p else "unset"
    return [Finding("pythonpath", f"PYTHONPATH is {show(pg)} {good.label} and {show(pb)} {bad.label}",
                    {good.key: pg, bad.key: pb})]


def _python(good: Side, bad: Side) -> list[Finding]:
    pg, pb = good.env.get("python") or {}, bad.env.get("python") or {}
    if not (pg and pb):
        return []
    if (pg.get("version_string"), pg.get("executable")) != (pb.get("version_string"), pb.get("executable")):
        return [Finding("python", f"another Python: {_py(pg)} {good.label}, {_py(pb)} {bad.label}",
                        {good.key: pg, bad.key: pb})]
    fg, fb = pg.get("flags"), pb.get("flags")
    if isinstance(fg, dict) and isinstance(fb, dict) and fg != fb:  # reports from before flags lack them
        changed = sorted(k for k in {*fg, *fb} if fg.get(k) != fb.get(k))
        shown = ", ".join(f"{k} {fg.get(k)} {good.label}, {fb.get(k)} {bad.label}" for k in changed)
        return [Finding("python", f"the same Python, started with other options (sys.flags): {shown}",
                        {good.key: fg, bad.key: fb})]
    return []


def _py(p: dict[str, Any]) -> str:
    venv = " (venv)" if p.get("venv") else ""
    return f"{p.get('implementation')} {p.get('version_string')} at {p.get('executable')}{venv}"


def _user(good: Side, bad: Side) -> list[Finding]:
    ug, ub = good.env.get("uid"), bad.env.get("uid")
    if ug == ub:
        return []
    return [Finding("user", f"the checks ran as uid {ug} {good.label} and uid {ub} {bad.label}",
                    {good.key: ug, bad.key: ub})]


def _code(a: Side, b: Side) -> tuple[bool | None, list[Finding]]:
    """Is it the same application code? Per package: only on one side, or files added/removed/changed."""
    pa, pb = a.packages, b.packages
    if not (a.env and b.env):
        return None, []
    findings = []
    for name in sorted(pa.keys() | pb.keys()):
        if name not in pb or name not in pa:
            side, other = (a, b) if name in pa else (b, a)
            findings.append(Finding("code", f"package {name} is on sys.path {side.label} and not {other.label}",
                                    {"package": name, "present": side.key}))
            continue
        if pa[name]["digest"] == pb[name]["digest"]:
            continue
        fa, fb = pa[name].get("files") or {}, pb[name].get("files") or {}
        only_a, only_b = sorted(fa.keys() - fb.keys()), sorted(fb.keys() - fa.keys())
        changed = sorted(n for n in fa.keys() & fb.keys() if fa[n] != fb[n])
        parts = [_some(f"only {a.label}", only_a), _some(f"only {b.label}", only_b), _some("changed", changed)]
        findings.append(Finding("code", f"package {name} differs ({pa[name]['digest']} vs {pb[name]['digest']}): "
                                        + ", ".join(parts),
                                {"package": name, "digests": [pa[name]["digest"], pb[name]["digest"]],
                                 "only_a": only_a, "only_b": only_b, "changed": changed}))
    return not findings, findings


def _some(what: str, names: list[str]) -> str:
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} {what}" + (f" ({shown})" if names else "")


def _environment(a: Side, b: Side) -> dict[str, list[Finding]]:
    ea, eb = a.env, b.env
    if not (ea and eb):
        missing = [s.source for s in (a, b) if not s.env]
        return {"fingerprint": [Finding("fingerprint", f"no environment in {', '.join(missing)}: "
                                                       "only check outcomes were compared")]}
    groups: dict[str, list[Finding]] = {"python": _python(a, b), "pythonpath": _pythonpath(a, b), "cwd": _cwd(a, b),
                                        "user": _user(a, b)}
    if ea.get("platform") != eb.get("platform"):
        groups["platform"] = [Finding("platform", f"platform {ea.get('platform')} {a.label}, "
                                                  f"{eb.get('platform')} {b.label}")]
    groups["sys_path"] = _only("sys.path entry", a.sys_path(), b.sys_path(), a, b)
    groups["env_names"] = _only("environment variable", ea.get("env_names") or [], eb.get("env_names") or [], a, b)
    da, db = ea.get("distributions") or {}, eb.get("distributions") or {}
    groups["distributions"] = _only("distribution", sorted(da), sorted(db), a, b) + [
        Finding("distribution", f"{name} {da[name]} {a.label}, {db[name]} {b.label}",
                {"name": name, "a": da[name], "b": db[name]})
        for name in sorted(da.keys() & db.keys()) if da[name] != db[name]
    ]
    return {k: v for k, v in groups.items() if v}


def _only(what: str, items_a: list[str], items_b: list[str], a: Side, b: Side) -> list[Finding]:
    set_a, set_b = set(items_a), set(items_b)
    only_a = [x for x in dict.fromkeys(items_a) if x not in set_b]
    only_b = [x for x in dict.fromkeys(items_b) if x not in set_a]
    findings = []
    for side, items in ((a, only_a), (b, only_b)):
        if items:
            shown = ", ".join(items[:_SHOW]) + (f", ... ({len(items) - _SHOW} more)" if len(items) > _SHOW else "")
            plural = what[:-1] + "ies" if what.endswith("y") else what + "s"
            findings.append(Finding(what, f"{len(items)} {plural if len(items) > 1 else what} only {side.label}: "
                                          f"{shown}", {"side": side.key, "items": items}))
    return findings


# -- rendering -------------------------------------------------------------------------------------

def render_console(diff: Diff) -> str:
    lines: list[str] = []
    for item in diff.explained:
        first, *rest = item.reasons or [Finding("unknown", f"no difference in the fingerprints explains "
                                                           f"{item.kind} {item.target}; compare the failure below")]
        lines.append(first.message)
        check = item.check
        where = ""
        if check.get("file") and check.get("line"):
            where = f" at {item.bad.rel(check['file'])}:{check['line']}"
        lines.append(f"  {item.kind} {item.target} passes {item.good.label}, {check.get('status')} {item.bad.label}: "
                     f"{check.get('cause')}{where}: {check.get('message')}")
        lines += [f"  - {finding.message}" for finding in rest]
    if not diff.matters:
        code = "the same application code" if diff.same_code else "no application code fingerprint"
        lines.append(f"nothing that matters differs: every check has the same outcome {diff.a.label} and "
                     f"{diff.b.label}, with {code}")
    said = {f.message for item in diff.explained for f in item.reasons}
    groups = {k: [f for f in v if f.message not in said] for k, v in diff.differences.items()}
    groups = {k: v for k, v in groups.items() if v}
    if groups:
        lines.append("")
        lines.append(f"{'Other differences' if diff.explained else 'Differences'} ({diff.a.label} vs {diff.b.label}):")
        for group, findings in groups.items():
            for finding in findings[:_SHOW]:
                lines.append(f"  {group:<13} {finding.message}")
            if len(findings) > _SHOW:
                lines.append(f"  {group:<13} ... {len(findings) - _SHOW} more (--format json lists all)")
    return "\n".join(lines) + "\n"


def render_json(diff: Diff) -> str:
    return json.dumps(diff.to_json(), indent=2) + "\n"
