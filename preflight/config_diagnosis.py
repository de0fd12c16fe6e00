"""Failures that are configuration, not code: settings validation, Django's settings, unset variables.

Each ``diagnose_*`` takes a check ``diagnosis`` has placed (``file``/``line``: the innermost frame of
the application's) and the facts of its root exception; it fills in cause, details and hint and
returns True when the failure is of its kind. Variable names are reported, never their values.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from preflight import dotenv_files, env_reads, source
from preflight import report as r


def _set(names: list[str]) -> str:
    it = "it" if len(names) == 1 else "them"
    return (f"set {it} for the container (docker run -e {names[0]}=..., Kubernetes env, Cloud Run "
            f"--set-env-vars/--set-secrets), and list {it} under env.required in the manifest")

# what config libraries and services say of a variable they did not find: decouple's "X not found",
# environs' "X" not set, django-environ's "Set the X environment variable", Flask's from_envvar,
# Starlette's "Config 'X' is missing", dynaconf's "X is required", your own "X must be set"
_ABSENT = re.compile(r"\bnot (?:set|found|defined|provided|configured)\b|\bmissing\b|\brequired\b"
                     r"|\bmust be (?:set|provided|defined)\b|\bundefined\b|\bset the\b", re.IGNORECASE)
_ENVIRONMENT = re.compile(r"\benvironment variable|\benv ?var", re.IGNORECASE)
# django-environ's URL readers and the variable each reads when the call names none (env.db())
_URL_DEFAULTS = {"db_url": "DATABASE_URL", "cache_url": "CACHE_URL", "email_url": "EMAIL_URL",
                 "search_url": "SEARCH_URL"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAPITALS = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{2,}[A-Z0-9]*")


def diagnose(check: r.Check, facts: dict[str, Any], env_names: Collection[str], empty: Collection[str],
             workdir: str) -> bool:
    """Whichever of this module's diagnoses fits; False when none does. ``env_names`` are the variables
    set to a value, ``empty`` those set to "" (a compose file's ``X=${X}`` with X unset where it ran)."""
    return (_settings_invalid(check, facts, workdir) or _django_unconfigured(check, facts)
            or _django_model_outside_apps(check, facts) or _read_unset_variable(check, facts, env_names, empty, workdir)
            or _bad_value(check, facts, env_names) or _named_by_message(check, facts, env_names, empty, workdir)
            or _library_cast(check, facts, env_names))


def _settings_invalid(check: r.Check, facts: dict[str, Any], workdir: str) -> bool:
    """A pydantic model (pydantic-settings: the environment) failed validation at import."""
    validation = facts.get("validation")
    if not validation:
        return False
    title, settings = validation.get("title") or "the model", validation.get("settings")
    problems, unset, names = [], [], []
    for error in validation.get("errors") or ():
        loc = error.get("loc") or ["?"]
        if settings is not None:
            field, (name, *others) = _variables(settings, loc)
            names.append(name)
            also = f" or {', '.join(others)}" if others else ""
            unset.append(f"{name}{also} (field {'.'.join([field, *loc[1:]])})")
            problems.append(f"{unset[-1]}: {error.get('msg')}")
        else:
            problems.append(f"{'.'.join(error.get('loc') or ['?'])}: {error.get('msg')}")
    where = f" at {check.file}:{check.line}" if check.file else ""
    if settings is not None and names and all(e.get("type") == "missing" for e in validation["errors"]):
        _missing(check, names, f"{title} (pydantic settings, created{where}) needs {'; '.join(unset)}, which "
                               f"{'is' if len(names) == 1 else 'are'} not set: {_set(names)}", workdir,
                 settings.get("env_files") or ())
        check.details["settings"] = title
        return True
    check.cause = "import_error"
    check.details.update(model=title, errors=problems)
    if settings is not None:
        check.details["names"] = names
        check.hint = (f"{title} (pydantic settings, created{where}) rejects the environment: "
                      f"{'; '.join(problems)}. Fix those variables' values for the container")
    else:
        check.hint = f"{title} failed validation{where} when the module was imported: {'; '.join(problems)}"
    return True


def _variables(settings: dict[str, Any], loc: list[str]) -> tuple[str, list[str]]:
    """The field at ``loc`` and the variables that set its value: the field's (an alias's choices each),
    and with an ``env_nested_delimiter`` the path down into a nested model (``SVC_DB__HOST``); a list
    item, and anything else no variable names, stays with the field's variable."""
    entry = settings["variables"].get(loc[0]) or {"field": loc[0], "variables": [loc[0]]}
    delimiter = settings.get("nested_delimiter")
    path = []
    for part in loc[1:] if delimiter else ():
        if part.isdigit() or not part.isidentifier():
            break
        path.append(part)
    named = [delimiter.join([v, *path]) if path else v for v in entry["variables"]]
    return entry["field"], named if settings["case_sensitive"] else [n.upper() for n in named]


def _django_unconfigured(check: r.Check, facts: dict[str, Any]) -> bool:
    """Django's settings or app registry used before Django was set up."""
    bases, message = facts.get("bases") or (), facts.get("message") or ""
    if "ImproperlyConfigured" in bases and "DJANGO_SETTINGS_MODULE" in message:
        check.cause = "env_missing"
        check.details["name"] = "DJANGO_SETTINGS_MODULE"
        check.hint = ("Django's settings are not configured: DJANGO_SETTINGS_MODULE is not set. Set it in "
                      "the image (ENV DJANGO_SETTINGS_MODULE=mysite.settings), as manage.py and wsgi.py "
                      "do for themselves, and list it under env.required in the manifest")
        return True
    if "AppRegistryNotReady" in bases:
        check.cause = "import_error"
        check.hint = ("this module uses Django's app registry (models) at import, which is ready only after "
                      "django.setup(): imported first on its own it fails so, and the server never imports "
                      "it so. List your project's wsgi (or asgi) module in the manifest instead: its "
                      "get_wsgi_application() sets Django up, importing every INSTALLED_APPS app and its models")
        return True
    return False


def _django_model_outside_apps(check: r.Check, facts: dict[str, Any]) -> bool:
    """A Django model class defined in a module of no app in ``INSTALLED_APPS`` (Django's ``ModelBase``
    refuses it with a ``RuntimeError``): the app was left out of the settings."""
    frames = facts.get("frames") or []
    if "RuntimeError" not in (facts.get("bases") or ()) or not frames or frames[-1]["function"] != "__new__" \
            or not frames[-1]["file"].replace("\\", "/").endswith("django/db/models/base.py"):
        return False
    defining = next((f for f in reversed(frames) if "/django/" not in f["file"].replace("\\", "/")), None)
    module = (defining or {}).get("module") or ""
    parts = module.split(".")
    app = ".".join(parts[:parts.index("models")] if "models" in parts[1:] else parts[:-1]) or module
    where = f"{defining['file']}:{defining['line']}" if defining else "a models module"
    listed = installed_apps_line(facts)
    check.cause = "import_error"
    check.details.update(model_module=module, app=app, settings=listed)
    check.hint = (f"the model class at {where} (module {module}) is in no application of INSTALLED_APPS, so Django "
                  f"cannot tell which app it belongs to: add its app, {app!r} (or its AppConfig), to INSTALLED_APPS "
                  f"{f'at {listed}' if listed else 'in the settings'}, or give the model `class Meta: app_label = "
                  f"...` naming an installed app")
    return True


def installed_apps_line(facts: dict[str, Any], entry: str | None = None) -> str | None:
    """``file:line`` of the Django settings' ``INSTALLED_APPS`` (with ``entry``: of the item naming that
    module, or a module or AppConfig in it), when the failing process had configured Django."""
    settings = (facts.get("django_settings") or {}).get("file")
    if not settings:
        return None
    files = [settings, *source.star_import_files(settings)]  # prod.py: ``from .base import *``
    for find in ([lambda f: source.string_line(f, entry, prefix=True)] if entry else []) + [
            lambda f: source.definition_line(f, "INSTALLED_APPS")]:
        for file in files:
            line = find(file)
            if line:
                return f"{file}:{line}"
    return settings


def installed_app_import(facts: dict[str, Any]) -> bool:
    """The failing import is Django importing an ``INSTALLED_APPS`` entry (``AppConfig.create``)."""
    return any(f["function"] == "create" and f["file"].replace("\\", "/").endswith("django/apps/config.py")
               for f in facts.get("frames") or ())


def _read_unset_variable(check: r.Check, facts: dict[str, Any], env_names: Collection[str], empty: Collection[str],
                         workdir: str) -> bool:
    """``int(os.getenv("PORT"))``, ``os.environ.get("HOSTS").split(",")``, ``urlparse(url).hostname.lower()``
    after ``url = os.getenv("DATABASE_URL")``: None from an unset variable, used as a value; or your own
    ``raise``/``assert`` testing a variable (``if not SECRET: raise RuntimeError(...)``); or a variable
    set to "" that the line could not use (``int("")``, ``urlparse("").hostname.lower()``)."""
    if not check.file or not check.line:
        return False
    bases, frames = facts.get("bases") or (), facts.get("frames") or []
    raised_here = bool(frames) and (frames[-1]["file"], frames[-1]["line"]) == (check.file, check.line) \
        and env_reads.raises(check.file, check.line)
    used = "NoneType" in (facts.get("message") or "") or {"TypeError", "AttributeError"} & set(bases)
    if not raised_here and not used and "ValueError" not in bases:
        return False
    reads = env_reads.reaching(check.file, check.line)
    unset = [read for read in reads if read.name in empty or read.name not in env_names
             and (raised_here or used and read.defaultless)]
    if not unset:
        return False
    names = [read.name for read in unset]
    lines = sorted({read.line for read in unset} - {check.line})
    via = f" (read at line {', '.join(map(str, lines))})" if lines else ""
    blank = all(name in empty for name in names)
    what = (f"{check.file}:{check.line} raised {facts['type']}" if raised_here else
            f"{check.file}:{check.line} could not use {'its empty value' if blank else 'the None read without a default'} "
            f"({facts['type']}: {facts.get('message')})")
    _missing(check, names, f"{_absent(names, empty)}{via}, so {what}: {_set(names)}"
             + ("" if raised_here or blank else ", or give the read a default"), workdir, empty=empty)
    return True


def _absent(names: list[str], empty: Collection[str]) -> str:
    """``X is not set``, ``X is set but empty``."""
    blank = [n for n in names if n in empty]
    unset = [n for n in names if n not in empty]
    return "; ".join(part for part in (
        f"{' or '.join(unset)} is not set" if unset else "",
        f"{' or '.join(blank)} {'is' if len(blank) == 1 else 'are'} set but empty" if blank else "") if part)


def environ_key_missing(check: r.Check, name: str, workdir: str) -> None:
    """``os.environ["X"]`` raised ``KeyError``."""
    _missing(check, [name], f"{name} is read with os.environ[...] at {check.file}:{check.line} but is not set: "
                            f"{_set([name])}", workdir)


def _bad_value(check: r.Check, facts: dict[str, Any], env_names: Collection[str]) -> bool:
    """``int(os.environ["WORKERS"])`` with ``WORKERS=four``: a set variable whose value the reading line,
    or a line using what it read, could not convert (a ``ValueError`` there, ``json.loads`` included).
    The value is never named."""
    if "ValueError" not in (facts.get("bases") or ()) or not check.file or not check.line:
        return False
    read = [read.name for read in env_reads.reaching(check.file, check.line) if read.name in env_names]
    if not read:
        return False
    _invalid(check, read, facts)
    return True


def _invalid(check: r.Check, names: list[str], facts: dict[str, Any]) -> None:
    check.cause = "env_invalid"
    check.details.update(name=names[0], names=names)
    links = [n for n in names if n.endswith("_PORT")]
    note = (f" ({links[0]} is also the name of a variable Kubernetes sets to tcp://IP:PORT for a Service named "
            f"{links[0][:-5].lower().replace('_', '-')}: set enableServiceLinks: false in the pod spec, or rename "
            f"the variable)" if links else "")
    check.hint = (f"{' or '.join(names)} is set, but {check.file}:{check.line} cannot use its value "
                  f"({facts['type']}): fix the value for the container{note}, or validate it with a clear error")


def _missing(check: r.Check, names: list[str], hint: str, workdir: str, declared: Collection[str] = (),
             empty: Collection[str] = ()) -> None:
    """``env_missing`` for ``names``; the hint notes those set to "" and the ``.env`` files the code reads
    that the image lacks (``declared``: the ones its settings name, wherever they are defined)."""
    check.cause = "env_missing"
    check.details.update(name=names[0], names=names)
    check.hint = hint
    blank = [n for n in names if n in empty]
    if blank:
        check.details["empty"] = blank
        check.hint += (f"; an empty value is what a compose file's {blank[0]}=${{{blank[0]}}} gives when "
                       f"{blank[0]} is unset where compose runs")
    absent = dotenv_files.absent(check.file, workdir, declared)
    if absent:
        check.details["dotenv_absent"] = absent
        check.hint += "; " + dotenv_files.note(absent, workdir)


def _named_by_message(check: r.Check, facts: dict[str, Any], env_names: Collection[str], empty: Collection[str],
                      workdir: str) -> bool:
    """A config library (or your own check) says a variable is missing or invalid, naming it in its
    message: a name in capitals your code spells as a string (``config("DATABASE_URL")``,
    ``Validator("X")``, ``require("X")`` of a helper of yours), or one the message calls an environment
    variable (django-environ's ``env.db()``). ``file:line`` becomes the call that names it."""
    message = facts.get("message") or ""
    if not check.file or not check.line or not message or facts.get("validation"):
        return False
    frames = facts.get("frames") or []
    if frames and frames[-1]["file"] == check.file and not env_reads.scope_reads_environment(check.file, check.line):
        return False  # your own error about a key of something else (a YAML file's), not the environment
    callers = _callers(check, facts)
    spoken = _ENVIRONMENT.search(message)
    keys = [w for w in dict.fromkeys(_WORD.findall(message)) if _CAPITALS.fullmatch(w)
            and (spoken or any(source.string_line(f["file"], w) for f in callers))]
    variables = dict(zip(keys, _as_set(keys, facts, callers)))
    unset = [v for v in variables.values() if v not in env_names]
    if unset and _ABSENT.search(message):
        by = _raiser(facts, check)
        for frame in callers:
            if set(source.call_arguments(frame["file"], frame["line"])) & set(keys):
                check.file, check.line = frame["file"], frame["line"]
                break
        _missing(check, unset, f"{_absent(unset, empty)}, so reading it at {check.file}:{check.line} "
                               f"failed ({by} raised {facts['type']}: {message}): {_set(unset)}", workdir, empty=empty)
        return True
    invalid = [v for v in variables.values() if v in env_names]
    if invalid and ("ValueError" in facts.get("bases", ()) or facts.get("type_module", "").startswith("dynaconf")):
        _invalid(check, invalid, facts)
        return True
    return False


def _callers(check: r.Check, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The check's frame and those that called it, innermost first, up to the module's top level."""
    frames = facts.get("frames") or []
    at = next((i for i in range(len(frames) - 1, -1, -1)
               if (frames[i]["file"], frames[i]["line"]) == (check.file, check.line)), None)
    if at is None:
        return [{"file": check.file, "line": check.line}]
    callers = []
    for frame in reversed(frames[:at + 1]):
        callers.append(frame)
        if frame["function"] == "<module>":
            break
    return callers


def _as_set(keys: list[str], facts: dict[str, Any], callers: list[dict[str, Any]]) -> list[str]:
    """The variables that set ``keys``: themselves, or for dynaconf, with its ``envvar_prefix``."""
    if not (facts.get("type_module") or "").startswith("dynaconf"):
        return keys
    prefix = next((p for p in (source.keyword_string(f["file"], "envvar_prefix") for f in callers) if p is not None),
                  "DYNACONF")
    return [f"{prefix}_{k}" if prefix else k for k in keys]


def _raiser(facts: dict[str, Any], check: r.Check) -> str:
    """Who raised: your code, or the top package of the library frame that did."""
    frames = facts.get("frames") or []
    if not frames or frames[-1]["file"] == check.file or not frames[-1].get("module"):
        return "your code"
    return frames[-1]["module"].split(".")[0]


def _library_cast(check: r.Check, facts: dict[str, Any], env_names: Collection[str]) -> bool:
    """``config("DEBUG", cast=bool)``, ``env.int("WORKERS")``: a library the line called to read a set
    variable, named as its first argument, raised ``ValueError`` converting the value; django-environ's
    ``env.db()`` reads ``DATABASE_URL`` unnamed."""
    frames = facts.get("frames") or []
    if "ValueError" not in (facts.get("bases") or ()) or not check.file or not frames \
            or frames[-1]["file"] == check.file:
        return False
    named = [n for n in source.call_arguments(check.file, check.line) if n in env_names] \
        or [_URL_DEFAULTS[f["function"]] for f in frames if (f.get("module") or "").startswith("environ.")
            and f["function"] in _URL_DEFAULTS and _URL_DEFAULTS[f["function"]] in env_names][:1]
    if not named:
        return False
    _invalid(check, named, facts)
    return True
