"""``python -m bench.chaos [--duration 90] [--campaigns 8] ...``: see ``bench.chaos``."""

import sys

from bench.chaos.cli import main

if __name__ == "__main__":
    sys.exit(main())
