"""Which other checks of the same run import a module that fails in a cycle, and do so without error.

A cycle is order-dependent: importing one of its modules first completes it, importing another
first breaks it. The run already holds the evidence: a passing check that loaded the failing
module, and which module of the cycle it loaded first. Nothing is imported here.
"""

from __future__ import annotations

from typing import Any

from preflight import report as r


def note_working_orders(checks: list[r.Check], loaded_by_target: dict[str, list[list[Any]]]) -> None:
    """Tell each ``circular_import`` check which passing check imports the same cycle fine, and the
    module of the cycle that check loads first (``details.works_when``)."""
    passed = {c.target for c in checks if c.kind == "import" and c.status == r.PASSED}
    for check in checks:
        if check.kind != "import" or check.cause != "circular_import":
            continue
        cycle = [step["module"] for step in check.details.get("cycle", []) if step.get("module")]
        failing = cycle[0] if cycle else None
        for target, loaded in loaded_by_target.items():
            order = [name for name, _ in loaded or []]
            if target not in passed or failing not in order:
                continue
            # sys.modules keeps modules in the order they finished (each is put back once it ran): of
            # modules importing one another, the one started first finishes last
            first = max((m for m in cycle if m in order), key=order.index)
            if first == failing:
                continue
            check.details["works_when"] = {"imported_by": target, "first": first}
            check.hint += (f". Importing {target} works: it loads {first} before {failing}, so the cycle only "
                           f"bites an entry point that imports {failing} first (a worker, a script, a test); "
                           f"the server may start today and break when its import order changes")
            break
