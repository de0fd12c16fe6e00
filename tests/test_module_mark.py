"""``ModuleMark``: the modules imported since a mark, found without going over the others (in a
zygote's fork, going over every loaded module's name copies the pages those names are on)."""

from __future__ import annotations

import sys
import types

import pytest

from preflight._child.run_import import ModuleMark


@pytest.fixture
def scratch_modules():
    """Names this test puts in ``sys.modules``; removed again afterwards."""
    added: list[str] = []

    def add(name: str) -> None:
        sys.modules[name] = types.ModuleType(name)
        added.append(name)

    yield add
    for name in added:
        sys.modules.pop(name, None)


def test_names_the_modules_added_since_oldest_first(scratch_modules) -> None:
    mark = ModuleMark()
    assert mark.since() == []
    scratch_modules("_mark_a")
    scratch_modules("_mark_b")
    assert mark.since() == ["_mark_a", "_mark_b"]


def test_cannot_tell_once_a_module_loaded_before_was_removed(scratch_modules) -> None:
    scratch_modules("_mark_old")
    mark = ModuleMark()
    scratch_modules("_mark_new")
    del sys.modules["_mark_old"]
    assert mark.since() is None


def test_cannot_tell_once_the_last_module_was_imported_again(scratch_modules) -> None:
    """Imported again, the mark's own entry moves to the end: the walk back would stop at it."""
    scratch_modules("_mark_last")
    mark = ModuleMark()
    scratch_modules("_mark_between")
    del sys.modules["_mark_last"]
    scratch_modules("_mark_last")
    assert mark.since() is None


def test_cannot_tell_once_the_last_module_was_imported_again_and_as_many_older_ones_removed(scratch_modules) -> None:
    """The walk back stops at the last one's new place; the count matches: the module object differs."""
    scratch_modules("_mark_older")
    scratch_modules("_mark_last")
    mark = ModuleMark()
    scratch_modules("_mark_between")
    del sys.modules["_mark_older"]
    del sys.modules["_mark_last"]
    scratch_modules("_mark_last")
    assert mark.since() is None
