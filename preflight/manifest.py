"""The manifest schema (pydantic) and ``load_manifest``: YAML file -> validated ``spec.Manifest``.

Every problem is reported with its key path and YAML line; nothing is imported or run here.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal, Union

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from preflight import manifest_yaml, spec
from preflight.errors import ManifestError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"{_IDENT}(\.{_IDENT})*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _dotted(kind: str):
    def check(value: str) -> str:
        if not _DOTTED.fullmatch(value):
            raise ValueError(f"{value!r} is not a dotted {kind} name (like app.core.errors)")
        return value

    return check


def _specifier(value: str) -> str:
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise ValueError(f"{value!r} is not a version specifier (like '>=3.11')") from None
    return value


def _requirement(value: str) -> str:
    try:
        Requirement(value)
    except InvalidRequirement as exc:
        raise ValueError(f"{value!r} is not a PEP 508 requirement: {exc}") from None
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _version(value: Any) -> Any:
    if type(value) is not int or value != 1:  # Literal[1] alone takes true, 1.0 (they equal 1)
        raise ValueError(f"version must be 1 (the only manifest version so far), not {value!r}")
    return value


def _seconds(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would take true as 1.0 second
        raise ValueError(f"expected a number of seconds, not {str(value).lower()}")
    return value


def _severity(value: Any) -> Any:
    return "off" if value is False else value  # YAML 1.1 reads an unquoted `off` as false


ModuleName = Annotated[str, AfterValidator(_dotted("module"))]
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0, le=3600)]
SymbolPath = Annotated[str, AfterValidator(_dotted("attribute"))]
Severity = Annotated[Literal["fail", "warn", "off"], BeforeValidator(_severity)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class ImportEntry(_Strict):
    """An import in its long form; a bare string is short for ``{module: NAME}``."""

    module: ModuleName
    symbols: list[SymbolPath] = Field(default_factory=list)
    timeout: Seconds | None = None


class EnvSection(_Strict):
    required: list[Annotated[str, AfterValidator(_env_name)]] = Field(default_factory=list)


class StaticSection(_Strict):
    """Static checks over the application's own code: each fails, warns or is off."""

    undefined_names: Severity = "fail"
    unresolved_imports: Severity = "fail"
    import_cycles: Severity = "warn"
    twins: Severity = "warn"
    baseline: str | None = None  # known findings to silence (preflight scan --write-baseline FILE)


def _short_import(value: Any) -> Any:
    return {"module": value} if isinstance(value, (str, int, float)) else value  # a number: "not a string"


def _static(value: Any) -> Any:
    if value is True:
        return {}
    if value is False:
        return {k: "off" for k, f in StaticSection.model_fields.items() if f.default is not None}
    return value


class ManifestModel(_Strict):
    """Manifest version 1: the public format. Extend it; never rename a key."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"$id": "https://preflight.invalid/manifest-v1.json"},
        title="preflight manifest v1",
    )

    version: Annotated[Literal[1], BeforeValidator(_version)]
    workdir: str | None = None
    python: Annotated[str, AfterValidator(_specifier)] | None = None
    sys_path: list[str] = Field(default_factory=list)
    env: EnvSection = Field(default_factory=EnvSection)
    distributions: list[Annotated[str, AfterValidator(_requirement)]] = Field(default_factory=list)
    timeout: Seconds = 10.0
    imports: list[Annotated[ImportEntry, BeforeValidator(_short_import)]] = Field(min_length=1)
    static: Annotated[Union[StaticSection, None], BeforeValidator(_static)] = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors can validate manifests with (short import form included)."""
    schema = ManifestModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    entry = {"$ref": "#/$defs/ImportEntry"}
    schema["properties"]["imports"]["items"] = {"anyOf": [{"type": "string"}, entry]}
    static = schema["properties"]["static"]
    static["anyOf"] = [{"type": "boolean"}, *static.get("anyOf", [])]
    return schema


def load_manifest(path: str) -> spec.Manifest:
    """Read, parse and validate the manifest at ``path``; raise ``ManifestError`` naming each problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ManifestError(path, ["file not found"]) from None
    except IsADirectoryError:
        raise ManifestError(path, ["it is a directory: name the manifest file in it (like preflight.yaml)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, [f"cannot read it: {exc}"]) from None
    return parse_manifest(text, path)


def parse_manifest(text: str, path: str) -> spec.Manifest:
    """Validate manifest ``text``; ``path`` names it in errors and anchors relative paths."""
    data, lines = manifest_yaml.parse(text, path)
    if not isinstance(data, dict):
        raise ManifestError(path, ["line 1: the manifest must be a mapping (key: value), like 'version: 1'"])
    try:
        model = ManifestModel.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(path, [_describe(err, lines) for err in exc.errors()]) from None
    return _to_spec(model, path)


def _to_spec(model: ManifestModel, path: str) -> spec.Manifest:
    base = os.path.dirname(os.path.abspath(path))

    def absolute(p: str) -> str:
        return os.path.normpath(os.path.join(base, os.path.expanduser(p)))

    static = model.static.model_dump(exclude_none=True) if model.static is not None else {}
    if static.get("baseline"):
        static["baseline"] = absolute(static["baseline"])
    return spec.Manifest(
        path=os.path.abspath(path),
        imports=tuple(
            spec.ImportTarget(e.module, tuple(e.symbols), e.timeout or model.timeout) for e in model.imports
        ),
        workdir=absolute(model.workdir) if model.workdir else None,
        python=model.python,
        sys_path=tuple(absolute(p) for p in model.sys_path),
        env_required=tuple(model.env.required),
        distributions=tuple(model.distributions),
        timeout=model.timeout,
        static=static,
    )


# Top-level keys other tools use for what the manifest names otherwise.
_OTHER_NAMES = {"modules": "imports", "module": "imports", "dependencies": "distributions",
                "requirements": "distributions", "deps": "distributions", "dists": "distributions",
                "packages": "distributions", "requires_python": "python", "python_requires": "python",
                "cwd": "workdir", "working_dir": "workdir", "pythonpath": "sys_path"}
_ENV_KEYS = ("required", "env_required", "required_env")


def _did_you_mean(loc: tuple) -> str:
    """`` (did you mean 'imports'?)`` for a misspelt key of a section the manifest defines."""
    from preflight.suggest import closest

    path = tuple(p for p in loc[:-1] if isinstance(p, str))
    given = str(loc[-1])
    if not path and given.lower() in _ENV_KEYS:
        return " (did you mean 'required' under 'env'?)"
    section = {(): ManifestModel, ("imports",): ImportEntry, ("env",): EnvSection,
               ("static",): StaticSection}.get(path)
    meant = (not path and _OTHER_NAMES.get(given.lower())) or (
        closest(given, section.model_fields) if section else None)
    return f" (did you mean {meant!r}?)" if meant else ""


def _describe(error: dict[str, Any], lines: dict[tuple, int]) -> str:
    loc = tuple(str(p) if not isinstance(p, int) else p for p in error["loc"])
    located: tuple = ()
    for part in loc:
        if located + (part,) in lines:
            located += (part,)
    line = lines.get(located, lines.get((), 1))
    key = ".".join(str(p) for p in located) or "(top level)"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" + _did_you_mean(loc)
        key = ".".join(str(p) for p in located[:-1]) or "(top level)"
    elif error["type"] == "missing":
        message = f"missing required key {loc[-1]!r}"
    message = message.removeprefix("Value error, ").splitlines()[0]
    return f"line {line}: {key}: {message}"
