"""Failures that are configuration, not code: settings validation, Django's settings, unset variables.

Each ``diagnose_*`` takes a check ``diagnosis`` has placed (``file``/``line``: the innermost frame of
the application's) and the facts of its root exception; it fills in cause, details and hint and
returns True when the failure is of its kind. Variable names are reported, never their values.
"""

from __future__ import annotations

import linecache
import re
from typing import Any, Collection

from preflight import report as r
from preflight import source



def _set(names: list[str]) -> str:
    it = "it" if len(names) == 1 else "them"
    return (f"set {it} for the container (docker run -e {names[0]}=..., Kubernetes env, Cloud Run "
            f"--set-env-vars/--set-secrets), and list {it} under env.required in the manifest")

_ANY_READ = re.compile(r"""(?:environ\[|getenv\(|environ\.get\()\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
_DEFAULTLESS_READ = re.compile(r"""(?:getenv|environ\.get)\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\)""")


def diagnose(check: r.Check, facts: dict[str, Any], env_names: Collection[str]) -> bool:
    """Whichever of this module's diagnoses fits; False when none does."""
    return (_settings_invalid(check, facts) or _django_unconfigured(check, facts) or _django_model_outside_apps(check, facts)
            or _read_unset_variable(check, facts, env_names) or _bad_value(check, facts, env_names))


def _settings_invalid(check: r.Check, facts: dict[str, Any]) -> bool:
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
        check.cause = "env_missing"
        check.details.update(name=names[0], names=names, settings=title)
        check.hint = (f"{title} (pydantic settings, created{where}) needs {'; '.join(unset)}, which "
                      f"{'is' if len(names) == 1 else 'are'} not set: {_set(names)}")
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


def _read_unset_variable(check: r.Check, facts: dict[str, Any], env_names: Collection[str]) -> bool:
    """``int(os.getenv("PORT"))``, ``os.environ.get("HOSTS").split(",")``: None from an unset variable."""
    if "NoneType" not in (facts.get("message") or "") or not check.file or not check.line:
        return False
    unset = [n for n in _DEFAULTLESS_READ.findall(linecache.getline(check.file, check.line)) if n not in env_names]
    if not unset:
        return False
    check.cause = "env_missing"
    check.details.update(name=unset[0], names=unset)
    check.hint = (f"{' or '.join(unset)} is not set, so reading it without a default at {check.file}:{check.line} "
                  f"gave None ({facts['type']}: {facts.get('message')}): {_set(unset)}, or give the read a default")
    return True


def _bad_value(check: r.Check, facts: dict[str, Any], env_names: Collection[str]) -> bool:
    """``int(os.environ["WORKERS"])`` with ``WORKERS=four``: a set variable whose value the reading line
    could not convert (a ``ValueError`` there, ``json.loads`` included). The value is never named."""
    if "ValueError" not in (facts.get("bases") or ()) or not check.file or not check.line:
        return False
    read = [n for n in _ANY_READ.findall(linecache.getline(check.file, check.line)) if n in env_names]
    if not read:
        return False
    check.cause = "env_invalid"
    check.details.update(name=read[0], names=read)
    links = [n for n in read if n.endswith("_PORT")]
    note = (f" ({links[0]} is also the name of a variable Kubernetes sets to tcp://IP:PORT for a Service named "
            f"{links[0][:-5].lower().replace('_', '-')}: set enableServiceLinks: false in the pod spec, or rename "
            f"the variable)" if links else "")
    check.hint = (f"{' or '.join(read)} is set, but {check.file}:{check.line} cannot use its value "
                  f"({facts['type']}): fix the value for the container{note}, or validate it with a clear error")
    return True
