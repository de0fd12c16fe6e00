"""Ask the checked interpreter about imports no file on its sys.path holds (``_child/find_specs.py``).

A library can provide modules without a file of that name: ``os`` puts ``os.path`` in
``sys.modules``, six serves ``six.moves.*`` from a finder, setuptools' ``distutils`` shim is a
meta-path finder. Finding ``a.b`` imports ``a``, so only names whose nearest parent on the path is
a library module (or that have none there) are asked about: the application's code is never run.
"""

from __future__ import annotations

import json
from typing import Mapping

from preflight.static.resolve import Resolver

FIND_SPECS_TIMEOUT = 60.0  # seconds: importing a heavy library parent (find_spec("a.b") imports a)


def askable(target: str, resolver: Resolver) -> bool:
    """True when finding ``target`` in the checked interpreter would import library code only."""
    parent = resolver.nearest(target)
    return parent is None or resolver.is_library(parent.path)


def confirm(targets: set[str], resolver: Resolver, interpreter: str, workdir: str,
            environ: Mapping[str, str]) -> set[str]:
    """The ``targets`` the checked interpreter finds; none when it cannot answer."""
    from preflight.runner import RESULT, Job, Runner

    asked = sorted(t for t in targets if askable(t, resolver))
    if not asked:
        return set()
    runner = Runner(interpreter, workdir, env=dict(environ))
    job = Job("find_specs", "find_specs.py", [RESULT, json.dumps(asked), json.dumps(resolver.sys_path)],
              timeout=FIND_SPECS_TIMEOUT)
    result = runner.run([job])["find_specs"].result or {}
    return set(result.get("importable") or ()) & set(asked)
