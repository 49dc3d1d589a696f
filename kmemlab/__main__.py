"""``python -m kmemlab ...``: the same command line as ``kmemlab ...``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m kmemlab"))
