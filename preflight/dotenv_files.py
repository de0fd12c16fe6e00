"""The ``.env`` files a module reads its settings from, and which of them the image lacks.

Read from the source with ``ast``: a path literal naming one (``SettingsConfigDict(env_file=".env")``,
Starlette's ``Config(".env")``, ``load_dotenv("config/.env")``), resolved against the working
directory as those libraries open it; or a reader that looks for ``.env`` itself, from the module's
directory upward (``load_dotenv()``, environs' ``env.read_env()``, python-decouple's ``config``).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Collection

from preflight import source

_DOTENV = re.compile(r"(?:^|.*/)(?:\.env(?:\.[\w-]+)*|[\w.-]+\.env)$")
_SEARCHING_CALLS = ("load_dotenv", "read_env", "find_dotenv", "dotenv_values")


def absent(path: str | None, workdir: str, declared: Collection[str] = ()) -> list[str]:
    """The ``.env`` files ``path`` (and ``declared``, a settings class's ``env_file``) reads that do not
    exist, as absolute paths."""
    tree = source.parse(path) if path else None
    named = [*declared, *(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                          and isinstance(n.value, str) and _DOTENV.match(n.value))] if tree else list(declared)
    missing = [p for p in dict.fromkeys(os.path.join(workdir, n) for n in named) if not os.path.exists(p)]
    if tree and path and not named and _searches(tree) and not _found_upward(os.path.dirname(path)):
        missing.append(os.path.join(os.path.dirname(path), ".env"))
    return missing


def note(missing: list[str], workdir: str) -> str:
    files = ", ".join(missing)
    return (f"the code also reads {files}, which {'does' if len(missing) == 1 else 'do'} not exist (working "
            f"directory {workdir}): .dockerignore or the COPY steps leave .env files out of the image, as they "
            f"should, so the container's environment is where these variables belong")


def _searches(tree: ast.Module) -> bool:
    """The module calls a reader that finds ``.env`` by itself, or imports python-decouple's ``config``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in _SEARCHING_CALLS:
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "decouple" \
                and any(a.name in ("config", "AutoConfig") for a in node.names):
            return True
    return False


def _found_upward(directory: str) -> bool:
    while True:
        if os.path.exists(os.path.join(directory, ".env")):
            return True
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent
