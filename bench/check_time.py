"""How long ``--comfy-check`` takes on the example batches: the time to learn that a batch
file is written right, against running it.

Three runs of ``pytest batches/`` in this repository, each printed with its wall time:
- ``--comfy-check`` with no server (the ini's launch cleared): schema, workflow and mappings;
- ``--comfy-check`` with the development ComfyUI launched (adds its start and /object_info);
- the real run of the same batches, for comparison (launches the server, queues every prompt).
Not a test: run it by hand, after ``make batches`` has set everything up.

    .venv/bin/python bench/check_time.py [--no-run]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "batches/", "-q", "-p", "no:cacheprovider"]


def timed(label: str, args: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(PYTEST + args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    last = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed|skipped)", line)]
    print(f"{label:<44} {seconds:7.2f} s   exit {done.returncode}   {last[-1].strip('= ') if last else ''}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="skip the real run (the slowest)")
    args = parser.parse_args(argv)
    offline = timed("--comfy-check, no server", ["--comfy-check", "-o", "comfy_launch="])
    checked = timed("--comfy-check, ComfyUI launched", ["--comfy-check"])
    if not args.no_run:
        ran = timed("the real run (launch and queue every prompt)", [])
        print(f"the offline check takes {offline / ran:.1%} of the real run's time; "
              f"with the server's /object_info {checked / ran:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
