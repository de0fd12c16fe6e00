"""Say which module names this interpreter can import, as ``importlib.util.find_spec`` finds them.

Protocol (started by path, standard library only, never imports preflight):

    python find_specs.py RESULT_PATH NAMES_JSON SYS_PATH_JSON

NAMES_JSON: dotted names, e.g. ["os.path", "six.moves.urllib"]; SYS_PATH_JSON: the checked
``sys.path``. The result: {"importable": [names found]}. Finding ``a.b`` imports ``a``, which may
put ``a.b`` in ``sys.modules`` (``os.path``) or install a finder for it (``six.moves``); the parent
chooses names whose parents are library modules, never the application's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

if sys.flags.safe_path:  # PYTHONSAFEPATH or -P: this directory is not on sys.path; its modules are
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_import import write_result  # noqa: E402  (this script's directory, sys.path[0])


def importable(name: str) -> bool:
    """True when ``import name`` would find a module: a spec, or a module already in ``sys.modules``."""
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # in sys.modules with no __spec__: put there by its parent
        return name in sys.modules
    except (Exception, SystemExit):  # a parent that is missing, not a package, or fails to import
        return False


def main(argv: list[str]) -> int:
    sys.path[:] = json.loads(argv[3])
    names = json.loads(argv[2])
    write_result(argv[1], {"importable": [n for n in names if importable(n)]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
