"""Collection at scale: 200 batch files x 50 prompts against 10,000 parametrized trivial tests.

Prints the time of ``pytest --collect-only -q`` for each, cold (no cache: schema validation
included) and warm (validation results cached in pytest's cache by file digest), and the
ratios. Targets: cold <= 2.5x, warm <= 1.5x. Not a test: run it by hand.

    .venv/bin/python bench/collection_scale.py [--files 200] [--prompts 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_batches(folder: Path, files: int, prompts: int) -> None:
    (folder / "batches").mkdir(parents=True)
    shutil.copy(ROOT / "workflows-files" / "noise-image-api.json", folder / "workflow-api.json")
    for f in range(files):
        batch = {
            "parameters": {
                "workflow_file": "../workflow-api.json",
                "workflow_items": {"positive_prompt": "3,inputs,value", "seed": "2,inputs,seed",
                                   "width": "1,inputs,width", "height": "1,inputs,height"},
                "generic_prompts": {"width": 64, "height": 64},
            },
            "prompts": [{"positive_prompt": f"prompt {p} of file {f}", "seed": p if p % 2 else "random"}
                        for p in range(prompts)],
        }
        (folder / "batches" / f"batch_{f:03d}.json").write_text(json.dumps(batch, indent=2))
    (folder / "pytest.ini").write_text("[pytest]\n")


def make_parametrized(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    (folder / "test_many.py").write_text(
        "import pytest\n\n"
        f"@pytest.mark.parametrize('n', range({count}))\n"
        "def test_trivial(n):\n    assert n >= 0\n"
    )
    (folder / "pytest.ini").write_text("[pytest]\n")


def collect_seconds(folder: Path, *extra: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *extra],
                          cwd=folder, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return elapsed, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    total = args.files * args.prompts
    with tempfile.TemporaryDirectory(prefix="collect-bench-") as tmp:
        batches, trivial = Path(tmp) / "batches-project", Path(tmp) / "trivial-project"
        make_batches(batches, args.files, args.prompts)
        make_parametrized(trivial, total)
        base = min(collect_seconds(trivial, "-p", "no:cacheprovider")[0] for _ in range(args.repeat))
        cold = []
        for _ in range(args.repeat):
            shutil.rmtree(batches / ".pytest_cache", ignore_errors=True)
            cold.append(collect_seconds(batches))
        warm = [collect_seconds(batches) for _ in range(args.repeat)]
        cold_s, warm_s = min(c[0] for c in cold), min(w[0] for w in warm)
        print(f"{args.files} batch files x {args.prompts} prompts = {total} items; {cold[0][1]}")
        print(f"parametrized trivial tests ({total}): {base:6.2f} s")
        print(f"batch files, cold (validation):      {cold_s:6.2f} s  = {cold_s / base:4.2f} x  (target <= 2.5 x)")
        print(f"batch files, warm (cached):          {warm_s:6.2f} s  = {warm_s / base:4.2f} x  (target <= 1.5 x)")


if __name__ == "__main__":
    main()
