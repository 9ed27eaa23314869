"""Bounded work: each hostile input of issue 25 ends in a clear message or a result, within 10 s
and 2 GB. Each case runs in a process of its own (time and peak memory are its own), through
the entry point a user would hit: collection's batch loading, or the converter command.

    .venv/bin/python bench/bounded_work.py

Prints one line a case: seconds, peak RSS, within the bounds or not, and the first line of
what the user is told. Exits 1 when a case is out of bounds or ends in a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fuzz_ui import _chain, _reroutes

ROOT = Path(__file__).resolve().parents[1]
INFO = ROOT / "tests" / "ui_fixtures" / "object_info.json"
LIMIT_S, LIMIT_MB = 10.0, 2048.0
WORKFLOW = {"1": {"class_type": "PrimitiveString", "inputs": {"value": "x"}},
            "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
LOAD = ("import sys; from pathlib import Path; from comfy_plugin.batchfile.batch import load_batch; "
        "from comfy_plugin.errors import ComfyError\n"
        "try:\n    b = load_batch(Path(sys.argv[1]), 'batch.json', Path(sys.argv[1]).parent)\n"
        "    print(f'loaded {len(b.prompts)} prompts')\n"
        "except ComfyError as exc:\n    print(str(exc).splitlines()[0])\n")


def batch(folder: Path, prompts: list[dict[str, object]], workflow_file: str = "./wf.json",
          **extra: object) -> list[str]:
    (folder / "wf.json").write_text(json.dumps(WORKFLOW))
    data = {"parameters": {"workflow_file": workflow_file, "workflow_items": {"positive_prompt": "1,inputs,value"}},
            "prompts": prompts, **extra}
    (folder / "batch.json").write_text(json.dumps(data))
    return [sys.executable, "-c", LOAD, str(folder / "batch.json")]


def twelve_variables(folder: Path) -> list[str]:
    for n in range(12):
        (folder / f"v{n}.txt").write_text("a\nb\nc\n")
    return batch(folder, [{"positive_prompt": " ".join(f"$v{n}" for n in range(12))}],
                 variables={f"v{n}": f"./v{n}.txt" for n in range(12)})


def raw_batch(text: str) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        (folder / "batch.json").write_text(text)
        return [sys.executable, "-c", LOAD, str(folder / "batch.json")]
    return make


def converted(workflow: dict[str, object]) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        (folder / "ui.json").write_text(json.dumps(workflow))
        return [sys.executable, "-m", "comfy_plugin", "convert", str(folder / "ui.json"), "--object-info", str(INFO),
                "-o", str(folder / "out.json")]
    return make


CASES: list[tuple[str, Callable[[Path], list[str]]]] = [
    ("32,000 prompts of the same text", lambda f: batch(f, [{"positive_prompt": "a cat"}] * 32_000)),
    ("12 variables of 3 lines (531,441 prompts)", twelve_variables),
    ('workflow_file: "/dev/zero"', lambda f: batch(f, [{"positive_prompt": "a"}], "/dev/zero")),
    ("a batch file nested 100,000 deep", raw_batch("[" * 100_000 + "]" * 100_000)),
    ("an integer of 5,000 digits", raw_batch('{"parameters": {}, "prompts": [{"seed": ' + "7" * 5000 + "}]}")),
    ("17 levels of subgraphs, 2 instances each", converted(_chain(17, 2))),
    ("20 levels of subgraphs, 2 instances each", converted(_chain(20, 2))),
    ("subgraphs nested 1,200 deep", converted(_chain(1200, 1))),
    ("a chain of 1,000 reroutes", converted(_reroutes(1000))),
]


def measure(make: Callable[[Path], list[str]]) -> tuple[float, float, str, bool]:
    """Seconds, peak RSS in MB, the first line the user is told, and whether it ended cleanly."""
    with tempfile.TemporaryDirectory() as folder:
        command = make(Path(folder))
        out, err = Path(folder) / "out.txt", Path(folder) / "err.txt"
        with out.open("w") as stdout, err.open("w") as stderr:
            start = time.monotonic()
            child = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=ROOT)
            _pid, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
            seconds = time.monotonic() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        said = (out.read_text().strip() or err.read_text().strip()).splitlines()
        prompt = Path(folder) / "out.json"  # the converter's result
        if not said and prompt.is_file():
            said = [f"converted: {len(json.loads(prompt.read_text()))} node(s) in the prompt"]
        clean = "Traceback" not in err.read_text() and child.returncode in (0, 2)
    return seconds, usage.ru_maxrss / 1024, said[0] if said else "(nothing)", clean


def main() -> int:
    bad = 0
    print(f"{'case':44} {'s':>6} {'MB':>7}  ok  what the user is told")
    for name, make in CASES:
        seconds, peak, said, clean = measure(make)
        ok = clean and seconds <= LIMIT_S and peak <= LIMIT_MB
        bad += not ok
        print(f"{name:44} {seconds:6.2f} {peak:7.0f}  {'yes' if ok else 'NO '} {said[:110]}")
    print(f"{len(CASES) - bad} of {len(CASES)} cases within {LIMIT_S:.0f} s and {LIMIT_MB:.0f} MB, each ending "
          "in a clear message or a result")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
