"""Failures of the standard library's ``logging.config`` at import (``dictConfig``, ``fileConfig``).

``dictConfig`` wraps whatever went wrong with a handler, formatter or filter the configuration names
in ``ValueError('Unable to configure handler ...')``: a class whose module is not installed, a
misspelt class, a log file in a directory the image lacks. The names and arguments came from the
application's configuration, so the failure underneath is the one to report, at the line that
applied the configuration; ``diagnosis`` follows the chain through these wrappers.
"""

from __future__ import annotations

import os
from typing import Any

from preflight import report as r
from preflight.suggest import close_names

_CONFIG_FILE = os.sep + os.path.join("logging", "config.py")


def raised_here(facts: dict[str, Any]) -> bool:
    """``facts``' exception was raised by ``logging.config`` itself (its innermost real frame is there)."""
    frames = [f for f in facts.get("frames") or [] if not f["file"].startswith("<")]
    return bool(frames) and frames[-1]["file"].endswith(_CONFIG_FILE)


def wraps(outer: dict[str, Any], chain: list[dict[str, Any]]) -> bool:
    """``outer`` is logging's ``ValueError`` around a failure to import or open what the configuration
    names (``chain``: the exceptions beneath it, outermost first, logging's own wrappers included).
    Its other refusals (a formatter name no formatter has: ``KeyError``) are said best by the wrapper."""
    if not _wrapper(outer):
        return False
    beneath = next((facts for facts in chain if not _wrapper(facts)), None)
    return beneath is not None and bool({"ImportError", "OSError"} & set(beneath.get("bases", ())))


def _wrapper(facts: dict[str, Any]) -> bool:
    return "ValueError" in facts.get("bases", ()) and raised_here(facts)


def missing_attribute(check: r.Check, facts: dict[str, Any]) -> bool:
    """A dotted name in the configuration (``logging.handlers.RotatingFileHandlr``) whose module (a
    file, so no package of submodules) imported but lacks the last part: logging imports the whole
    name as a last resort, so Python says "No module named" for what is a misspelt class."""
    name = facts.get("name") or ""
    if "ModuleNotFoundError" not in facts.get("bases", ()) or "." not in name or not raised_here(facts):
        return False
    owner, _, attribute = name.rpartition(".")
    state = (facts.get("modules") or {}).get(owner) or {}
    if not state.get("loaded") or os.path.basename(state.get("file") or "__init__.py") == "__init__.py":
        return False  # the module is missing, or a package whose submodule it may be: diagnosis says which
    close = close_names(attribute, state.get("candidates") or [])
    check.cause = "symbol_missing"
    check.error_type = "AttributeError"
    check.message = f"{owner} has no attribute {attribute!r}"
    check.details.update(module=owner, name=attribute, module_file=state.get("file"), did_you_mean=close)
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    check.hint = (f"{owner} ({state.get('file')}) has no {attribute!r}.{suggestion} Fix the name in the "
                  f"configuration")
    return True


def explain(check: r.Check, wrapper: dict[str, Any]) -> None:
    """Say, after the hint, that the logging configuration applied at the check's ``file:line`` names
    what failed, and what logging made of it (its wrapper's message: the handler's name)."""
    where = f" applied at {check.file}:{check.line}" if check.file else ""
    check.hint = (f"{check.hint}. The logging configuration{where} names it "
                  f"(logging.config: {wrapper['message']})")


def refused(check: r.Check, wrapper: dict[str, Any], chain: list[dict[str, Any]]) -> None:
    """logging refused an entry of the configuration for a reason of its own (a formatter or handler
    name nothing defines): the hint says so, with what lies beneath (``KeyError: 'json'``)."""
    beneath = next((facts for facts in chain if not _wrapper(facts)), None)
    why = f" ({beneath['type']}: {beneath['message']})" if beneath else ""
    where = f" applied at {check.file}:{check.line}" if check.file else ""
    check.hint = (f"logging.config refused the logging configuration{where}: {wrapper['message']}{why}. Fix that "
                  f"entry of the configuration (a handler, formatter or filter named but not defined, a "
                  f"misspelt key)")
