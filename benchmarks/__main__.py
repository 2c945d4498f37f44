"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn (``python -m benchmarks``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> int:
    """Run all benchmark modules; returns the number that failed."""
    failed = 0
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        name = f"benchmarks.{path.stem}"
        print(f"== {name}", flush=True)
        try:
            importlib.import_module(name).main()
        except Exception as error:  # one broken benchmark must not hide the others' numbers
            failed += 1
            print(f"   FAILED: {type(error).__name__}: {error}", flush=True)
    return failed


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
