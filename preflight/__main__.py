"""``python -m preflight``."""

import os
import sys

# ``-m`` puts the working directory first on sys.path: an application's ``json.py`` or ``secrets.py``
# there must not replace the standard library under preflight itself (its own package is already
# imported, so nothing of preflight's is found through this entry).
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from preflight.cli import entry  # noqa: E402

if __name__ == "__main__":
    entry()
