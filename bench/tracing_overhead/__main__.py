"""``python -m bench.tracing_overhead``: the same as ``python -m bench.tracing_overhead_bench``."""

import sys

from bench.tracing_overhead.cli import main

if __name__ == "__main__":
    sys.exit(main())
