"""Did you mean: the known name a misspelt one most likely stands for, or none."""

from __future__ import annotations

import difflib
import re
from typing import Iterable


def close_names(given: str, names: Iterable[str], cutoff: float = 0.6) -> list[str]:
    """Up to three of ``names`` most like ``given`` (an attribute, a module's last part), best first:
    the did-you-mean of a missing symbol or module, where one of many may be meant."""
    return difflib.get_close_matches(given, list(names), n=3, cutoff=cutoff)


def closest(given: str, names: Iterable[str]) -> str | None:
    """The name in ``names`` that ``given`` misspells: the same but for case and separators
    (``sys.path``, ``SysPath``); a few typing slips away (one for names of up to four letters, two up to
    eight, three beyond: ``tmeout``, ``imprt``, ``verison``); cut short (three letters or more: ``tim``,
    ``req``) or run on (``python_version``, ``timeouts``); or one whole word of it (``cycles`` for
    ``import_cycles``). None when nothing is that close: no guess beats a wrong one."""
    names = list(names)
    lowered = given.lower()
    for name in names:
        if _squashed(name) == _squashed(given):
            return name
    near = [(_distance(lowered, name), name) for name in names]
    near = [(d, name) for d, name in near if d <= _slips(name) and d < len(given)]
    if near:
        return min(near, key=lambda item: item[0])[1]
    for fits in (lambda name: len(lowered) >= 3 and name.startswith(lowered),
                 lambda name: lowered.startswith(name + "_"),
                 lambda name: lowered in name.split("_")):
        matches = [name for name in names if fits(name)]
        if len(matches) == 1:
            return matches[0]
    return None


def _slips(name: str) -> int:
    """How many edits still read as a slip of ``name``, not another word."""
    return 1 if len(name) <= 4 else 2 if len(name) <= 8 else 3


def _squashed(name: str) -> str:
    return re.sub(r"[-_. ]", "", name.lower())


def _distance(a: str, b: str) -> int:
    """Edits from ``a`` to ``b``: a letter inserted, dropped, replaced, or two neighbours swapped."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        row = [i]
        for j, other in enumerate(b, start=1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (char != other))
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        previous2, previous = previous, row
    return previous[-1]
