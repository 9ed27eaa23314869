"""Long fuzzing runs: mutated batch files (``fuzz_batch``) and, when ``fuzz_ui.py`` is in this
folder, mutated UI-format workflows; prints cases, clear errors, accepted and crashes by
signature (exception type and innermost frame of the project). Exit 1 when anything crashed.

    python bench/fuzz.py --batch-cases 40000 --ui-cases 20000 [--seed N]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import fuzz_batch  # noqa: E402  (bench/ is not a package)


def show(side: str, result: dict[str, Any], seconds: float) -> None:
    crashes: dict[str, int] = result["crashes"]
    print(f"{side}: {result['cases']} cases in {seconds:.0f} s: {result['errors']} clear errors, "
          f"{result['accepted']} accepted, {sum(crashes.values())} crashes ({len(crashes)} signatures)")
    for sig, count in sorted(crashes.items(), key=lambda pair: -pair[1]):
        print(f"  {count:6d}  {sig}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-cases", type=int, default=2000)
    parser.add_argument("--ui-cases", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sides: list[tuple[str, Any, int]] = [("batch files", fuzz_batch.run, args.batch_cases)]
    if args.ui_cases:
        if importlib.util.find_spec("fuzz_ui") is None:
            print("UI format: bench/fuzz_ui.py is not there; skipped")
        else:
            import fuzz_ui

            sides.append(("UI format", fuzz_ui.run, args.ui_cases))
    crashed = 0
    for side, run, cases in sides:
        started = time.monotonic()
        result = run(cases, args.seed)
        show(side, result, time.monotonic() - started)
        crashed += sum(result["crashes"].values())
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
