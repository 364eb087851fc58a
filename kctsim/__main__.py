"""``python -m kctsim``: the same as the ``kctsim`` command."""

import sys

from kctsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
