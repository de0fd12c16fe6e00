"""preflight's own choice-valued variables: an unknown value is bad input, never a silent default."""

from __future__ import annotations

import os
from typing import Mapping

from preflight.errors import UsageError

CHOICES = {
    "PREFLIGHT_MODE": ("zygote", "fresh"),
    "PREFLIGHT_STATIC_ANALYSER": ("ruff", "pyflakes"),
}


def choice(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The value of ``name`` (one of ``CHOICES[name]``), or ``None`` when unset or empty."""
    value = environ.get(name, "")
    if value and value not in CHOICES[name]:
        allowed = ", ".join(CHOICES[name])
        raise UsageError(f"{name} is set to a value that is not one of: {allowed}",
                         tip=f"set {name} to one of {allowed}, or unset it for the default")
    return value or None
