"""Import cost: what the installed plugin adds to a pytest run that has no batch files.

An installed pytest plugin is loaded by every pytest run in its environment. This times
``pytest --co -q`` on a plain Python test project (a temporary folder with a few trivial
test files and no batch files) with the plugin, and with it disabled (``-p no:comfy_plugin``),
interleaved, and prints both medians and the difference. Target: under 30 ms.

It also prints which of the heavy modules the plugin should not need there (imagehash,
numpy, PIL, jsonschema, websocket) were imported in a run with the plugin, as seen by a
conftest hook at ``pytest_unconfigure``. Not a test: run it by hand.

    .venv/bin/python bench/import_cost.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("imagehash", "numpy", "PIL", "jsonschema", "websocket")
TARGET_MS = 30.0

CONFTEST = f'''import sys

def pytest_unconfigure(config):
    heavy = [name for name in {HEAVY!r} if name in sys.modules]
    own = sorted(name for name in sys.modules if name.startswith("comfy_plugin."))
    with open("imported.txt", "w") as out:
        out.write(" ".join(heavy) + "\\n" + " ".join(own) + "\\n")
'''


def make_project(folder: Path) -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "conftest.py").write_text(CONFTEST)
    for number in range(5):
        (folder / f"test_plain_{number}.py").write_text(
            "def test_adds():\n    assert 1 + 1 == 2\n\n\ndef test_joins():\n    assert 'a' + 'b' == 'ab'\n")


def clean_env() -> dict[str, str]:
    """The caller's environment without what would change either run: the plugin's own
    variables, pytest's extra options, and the bytecode switch (a user's installs keep .pyc files)."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("COMFY_", "PYTEST_")) and key != "PYTHONDONTWRITEBYTECODE"}


def collect_seconds(folder: Path, *extra: str) -> tuple[float, list[str]]:
    """Seconds of one run, and the lines its conftest wrote: heavy modules, plugin modules."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", *extra], cwd=folder,
                          env=clean_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"pytest --co failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed, (folder / "imported.txt").read_text().split("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each kind (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="comfy-import-cost-") as tmp:
        folder = Path(tmp)
        make_project(folder)
        for _ in range(2):  # warm-up: bytecode written, files in the page cache
            collect_seconds(folder)
            collect_seconds(folder, "-p", "no:comfy_plugin")
        on: list[float] = []
        off: list[float] = []
        seen_on: list[str] = []
        seen_off: list[str] = []
        for _ in range(args.runs):
            seconds, seen_on = collect_seconds(folder)
            on.append(seconds)
            seconds, seen_off = collect_seconds(folder, "-p", "no:comfy_plugin")
            off.append(seconds)
    on_ms, off_ms = statistics.median(on) * 1000, statistics.median(off) * 1000
    extra = on_ms - off_ms
    print(f"pytest --co -q on a plain project, median of {args.runs} runs each, interleaved")
    print(f"  with the plugin:                  {on_ms:7.1f} ms")
    print(f"  without it (-p no:comfy_plugin):  {off_ms:7.1f} ms")
    print(f"  extra: {extra:.1f} ms (target < {TARGET_MS:.0f} ms: {'met' if extra < TARGET_MS else 'NOT met'})")
    print(f"  heavy modules imported with the plugin:    {seen_on[0] or 'none'}")
    print(f"  heavy modules imported without the plugin: {seen_off[0] or 'none'}")
    print(f"  plugin modules imported with the plugin:   {seen_on[1] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
