"""``python -m bench``: the benchmarks, and how to run each.

    .venv/bin/python -m bench                  # list them (what ``make bench`` does)
    .venv/bin/python -m bench NAME [ARGS...]   # run one, e.g. ``bench codec --rounds 3``
    .venv/bin/python -m bench all [--write-docs]

``all`` runs the short ones, ``codec`` and then ``mainflow`` (about four minutes together),
each in its own process (the codec bench pins itself to one core, which a child process would
inherit). It prints their results; the main-flow section of docs/benchmarks.md is rewritten
only with ``--write-docs``. ``tracing`` and ``chaos`` are long and run only by name.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Sequence

# name -> (module run by ``python -m``, module whose docstring describes it, how long it
# takes, whether ``all`` runs it)
BENCHES: dict[str, tuple[str, str, str, bool]] = {
    "codec": ("bench.codec_bench", "bench.codec_bench", "about 2 minutes", True),
    "mainflow": ("bench.mainflow_bench", "bench.mainflow", "about 2 minutes", True),
    "tracing": (
        "bench.tracing_overhead_bench",
        "bench.tracing_overhead",
        "about 7 minutes",
        False,
    ),
    "chaos": ("bench.chaos", "bench.chaos", "about 3 minutes", False),
}
USAGE = "usage: python -m bench [all [--write-docs] | NAME [ARGS...]]"


def summary(module: str) -> str:
    """The first line of ``module``'s docstring."""
    return (importlib.import_module(module).__doc__ or "").strip().split("\n", 1)[0]


def listing() -> str:
    lines = ["Benchmarks (results go to docs/benchmarks.md):", ""]
    for name, (module, described, duration, _) in BENCHES.items():
        lines += [
            f"  {name:9} {summary(described)}",
            f"  {'':9} .venv/bin/python -m {module} [--help]   ({duration})",
        ]
    in_all = [name for name, (*_, runs) in BENCHES.items() if runs]
    lines += ["", USAGE, "`all` runs: " + ", ".join(in_all)]
    return "\n".join(lines)


def run(module: str, args: Sequence[str]) -> int:
    print(f"$ python -m {module} {' '.join(args)}".rstrip(), flush=True)
    return subprocess.run([sys.executable, "-m", module, *args], check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "list"):
        print(listing())
        return 0
    name, rest = args[0], args[1:]
    if name == "all":
        if rest not in ([], ["--write-docs"]):
            print(USAGE, file=sys.stderr)
            return 2
        status = 0
        for module, _, _, in_all in BENCHES.values():
            if in_all:
                extra = [] if rest or module != "bench.mainflow_bench" else ["--no-doc"]
                status = max(status, run(module, extra))
        return status
    if name not in BENCHES:
        print(f"unknown benchmark {name!r}\n{USAGE}", file=sys.stderr)
        return 2
    return run(BENCHES[name][0], rest)


if __name__ == "__main__":
    sys.exit(main())
