"""``python -m preflight``."""

import sys

from preflight.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
