"""The zygote's entry point: ``python zygote.py CONTROL_FD EVENTS_FD`` (see ``preflight_zygote``).

A script started by path is compiled from source on every start; the implementation is imported
instead, from the bytecode installed with it.
"""

import sys

import preflight_zygote  # first: it notes the interpreter's startup modules

sys.exit(preflight_zygote.main(sys.argv))
