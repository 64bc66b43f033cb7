"""``python -m bench.mainflow_bench``: the main-flow benchmark, now the ``bench.mainflow``
package (see its docstring); this name stays because docs/benchmarks.md records it."""

import sys

from bench.mainflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
