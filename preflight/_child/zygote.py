"""The zygote's entry point: ``python zygote.py CONTROL_FD EVENTS_FD`` (see ``preflight_zygote``).

A script started by path is compiled from source on every start; the implementation is imported
instead, from the bytecode installed with it.
"""

import os
import sys

if sys.flags.safe_path:  # PYTHONSAFEPATH or -P: this directory is not on sys.path; its modules are
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import preflight_zygote  # first: it notes the interpreter's startup modules

sys.exit(preflight_zygote.main(sys.argv))
