#!/usr/bin/env python3
"""One pytest run with this plugin against a ComfyUI the plugin launches itself (the path of a
local user: outputs taken from the server's folder, never downloaded), and its figures.

The temporary project's conftest saves the server's /history before the plugin stops the
server, so the span is read from the same status timestamps as the queue-all floor's
(bench/busy.py). The peak RSS and CPU are the pytest process's own (not its server's), and ``--profile``
writes a cProfile of it. Used by bench/scale.py; by hand, to profile a small-prompt run:

    .venv/bin/python bench/launched_run.py --n 500 --size 64 --profile /tmp/small.prof
    .venv/bin/python -c "import pstats; pstats.Stats('/tmp/small.prof').sort_stats('tottime').print_stats(30)"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from busy import COMFY_DIR, Figures, queue_all
from cpu_busy_ratio import ITEMS, prompt_values, workflow

from comfy_plugin.server.launcher import default_python

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_ARGS = "--cpu --disable-all-custom-nodes"

#: Saves the launched server's whole /history at the session's end, before the plugin stops it.
CONFTEST = '''
import json, resource, shutil, urllib.request
import pytest
from comfy_plugin.plugin.registry import comfy_state

def peak_mb():
    """This process's peak RSS since its exec (ru_maxrss would include its parent's at the fork)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc/self/status")

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    own = resource.getrusage(resource.RUSAGE_SELF)
    open("self.json", "w").write(json.dumps([peak_mb(), own.ru_utime + own.ru_stime]))

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    open("before_end.json", "w").write(json.dumps(peak_mb()))
    parts = comfy_state(session.config).parts
    if parts is not None and parts.session.server is not None:
        with urllib.request.urlopen(parts.session.url + "/history?max_items=1000000", timeout=120) as answer, \
                open("history.json", "wb") as out:
            shutil.copyfileobj(answer, out)  # streamed: the bench's read is not the plugin's peak RSS
'''


@dataclass(frozen=True)
class Run:
    figures: Figures
    peak_rss_mb: float
    cpu_s: float
    before_end_mb: float  # the peak RSS before the session's end (baselines written, report)


def spans(history: dict) -> tuple[int, float, float]:
    """(prompts, Σ execution s, span s) of every successful prompt in a /history answer."""
    starts, ends, busy = [], [], 0.0
    for entry in history.values():
        stamps = {kind: data.get("timestamp") for kind, data in entry["status"]["messages"]}
        if "execution_success" not in stamps:
            raise SystemExit(f"a prompt did not succeed: {entry['status']}")
        starts.append(stamps["execution_start"])
        ends.append(stamps["execution_success"])
        busy += (stamps["execution_success"] - stamps["execution_start"]) / 1000.0
    return len(starts), busy, (max(ends) - min(starts)) / 1000.0 if starts else 0.0


def batch_of(workflows: list[dict]) -> dict:
    return {
        "parameters": {
            "workflow_file": "workflow-api.json",
            "workflow_items": ITEMS,
            "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "BENCH"},
        },
        "prompts": [{"id": f"p{i}", **prompt_values(wf)} for i, wf in enumerate(workflows)],
    }


def pytest_launched(workflows: list[dict], *, profile: Path | None = None, extra: tuple[str, ...] = (),
                    compare: bool = False) -> Run:
    """``pytest`` over a batch file of these prompts, the plugin launching the development
    ComfyUI (``--comfy-missing-baseline=write``: each image saved and hashed). ``compare``: the
    figures of a second run in the same project, comparing every prompt with what the first
    recorded (the regression suite's run)."""
    with tempfile.TemporaryDirectory(prefix="bench-launched-") as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n")
        (folder / "conftest.py").write_text(CONFTEST)
        (folder / "workflow-api.json").write_text(json.dumps(workflows[0]))
        (folder / "bench.json").write_text(json.dumps(batch_of(workflows)))
        runner = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
        cmd = [*runner, "-m", "pytest", "bench.json", "-q", "-p", "no:cacheprovider",
               "--comfy-launch", str(COMFY_DIR), f"--comfy-launch-args={LAUNCH_ARGS}",
               "--comfy-python", default_python(ROOT), *extra]
        if compare:
            _pytest(folder, [*cmd, "--comfy-missing-baseline=write"])
        wall = _pytest(folder, [*cmd, "--comfy-missing-baseline=" + ("fail" if compare else "write")])
        history = json.loads((folder / "history.json").read_text())
        peak_mb, cpu_s = json.loads((folder / "self.json").read_text())
        before_end_mb = json.loads((folder / "before_end.json").read_text())
    prompts, busy, span = spans(history)
    figures = Figures("pytest", prompts, wall, busy, span)
    return Run(figures, peak_mb, cpu_s, before_end_mb)


def _pytest(folder: Path, cmd: list[str]) -> float:
    """Run one pytest command in ``folder``; its wall time (s). Exits on a failed run."""
    t0 = time.monotonic()
    with open(folder / "out.txt", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
        proc.wait()
    if proc.returncode != 0:
        text = (folder / "out.txt").read_text()
        raise SystemExit(f"pytest failed ({proc.returncode}):\n{text[:1500]}\n...\n{text[-2500:]}")
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--same", action="store_true", help="every prompt the same (the server's cache answers)")
    parser.add_argument("--floor", action="store_true", help="also the queue-all floor on a server of its own")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the pytest process")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    wfs = [workflow(args.size, 7 if args.same else 1000 + i) for i in range(args.n)]
    if args.floor:
        from busy import connected

        with connected(None, LAUNCH_ARGS) as (_, client):
            floor = queue_all(client, [workflow(args.size, 50_000 + i) for i in range(args.n)])
        print(f"floor: span {floor.span_s:.2f} s, Σ exec {floor.busy_s:.2f} s, wall {floor.wall_s:.2f} s")
    run = pytest_launched(wfs, profile=args.profile, extra=tuple(args.pytest_args))
    f = run.figures
    print(f"pytest: {f.prompts} prompts, span {f.span_s:.2f} s, Σ exec {f.busy_s:.2f} s, wall {f.wall_s:.2f} s, "
          f"CPU {run.cpu_s:.2f} s, peak RSS {run.peak_rss_mb:.0f} MB ({run.before_end_mb:.0f} MB before the "
          "session's end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
