"""``python -m bench.tracing_overhead_bench``: the tracing-overhead benchmark, now the
``bench.tracing_overhead`` package (see its docstring); this name stays because
docs/benchmarks.md records it."""

import sys

from bench.tracing_overhead.cli import main

if __name__ == "__main__":
    sys.exit(main())
