"""``python -m bench.mainflow``: the same as ``python -m bench.mainflow_bench``."""

import sys

from bench.mainflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
