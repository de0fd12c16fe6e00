"""Code written for a newer Python than the one that runs it: the image's ``FROM python:3.11`` under
code a developer wrote on 3.12. Python says only "invalid syntax" (or, for ``int | None`` evaluated on
3.9, a ``TypeError``); the statement's shape says which version it needs."""

from __future__ import annotations

import re

# (the version a statement of this shape needs, what it is), tried on the stripped source line
_SYNTAX = (
    ((3, 12), re.compile(r"^type\s+[A-Za-z_]\w*\s*(\[.*\])?\s*="), "a `type` alias statement (PEP 695)"),
    ((3, 12), re.compile(r"^(async\s+)?def\s+[A-Za-z_]\w*\s*\["), "a generic function's type parameters (PEP 695)"),
    ((3, 12), re.compile(r"^class\s+[A-Za-z_]\w*\s*\["), "a generic class's type parameters (PEP 695)"),
    ((3, 11), re.compile(r"^except\s*\*"), "`except*` (PEP 654)"),
    ((3, 10), re.compile(r"^(match|case)\s+.+:\s*(#.*)?$"), "the `match` statement (PEP 634)"),
    ((3, 8), re.compile(r":="), "an assignment expression `:=` (PEP 572)"),
)


def syntax_needs(line: str, version: tuple[int, ...] | None) -> str | None:
    """What newer Python the statement ``line`` needs, said for a hint, when ``version`` is older."""
    if not version:
        return None
    for needed, shape, what in _SYNTAX:
        if tuple(version[:2]) < needed and shape.search(line.strip()):
            return f"{what} needs Python {needed[0]}.{needed[1]}+"
    return None


def union_needs(message: str, version: tuple[int, ...] | None) -> str | None:
    """``X | Y`` of types evaluated at import (an annotation, ``isinstance``) needs 3.10 (PEP 604)."""
    if version and tuple(version[:2]) < (3, 10) and "unsupported operand type(s) for |" in message:
        return "`X | Y` of types evaluated at run time (PEP 604) needs Python 3.10+"
    return None


def advice(needs: str, version: tuple[int, ...]) -> str:
    running = ".".join(str(v) for v in version[:2])
    return (f"{needs}, and the checked interpreter is Python {running}: build the image on a newer Python "
            f"(FROM python:X.Y), or write it the older way; pin `python:` in the manifest to catch this first")
