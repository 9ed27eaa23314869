#!/usr/bin/env python3
"""Which pytest-xdist distribution mode suits two servers of different speeds? Not a test.

Two ComfyUI servers from the development install (`--cpu`, one torch thread each). The slow
one is given only a share of the time: it is stopped and continued (SIGSTOP / SIGCONT) every
100 ms, so it runs `--slow-share` of each period, as `cpulimit` does. That makes it about
1 / share times slower whatever else the machine runs. A CPU quota (a cgroup's
cpu.cfs_quota_us) was tried first and gave no ratio at all on this shared 2-core machine:
a quota is only a ceiling, and when other processes take the CPU the fast server falls to
it too (both ran 768x768 blurs in 1.05 s).

The project: batch files of the blur workflow (workflows-files/blend-subgraph-api.json), every
prompt the same size, with seeds new to the servers on every run (nothing comes from the cache).
Each mode runs `pytest -n 2 --comfy-url FAST --comfy-url SLOW --dist MODE` over a fresh copy.
Per run, from each server's /history status timestamps:

  wall     the pytest process, start to end (worker start-up included)
  span     first execution_start to last execution_success, over both servers
  ideal    the best split of the run's prompts between the servers, at the mean prompt
           time each server showed in this run: min over k of max(k*t_fast, (N-k)*t_slow)
  per server: prompts, busy (sum of execution times), last (its last execution_success,
           seconds after the first start)
  end gap  how long one server sat idle at the end while the other still worked

The machine's load changes while the bench runs (other work), and with it every server's
speed; span / ideal is measured against the run's own speeds, so it compares modes fairly
where the wall times of different runs do not. The rounds interleave the modes (and the
reference runs on the fast server alone) for the same reason.

    .venv/bin/python bench/unequal_servers.py [--files 10,6,4,4] [--size 768] [--blur 15]
        [--slow-share 0.4] [--rounds 2] [--modes load worksteal loadfile]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from busy import COMFY_DIR, ROOT, child_cpu

from comfy_plugin.client import ComfyClient
from comfy_plugin.server.launcher import LaunchedServer, default_python, launch

WORKFLOW = ROOT / "workflows-files" / "blend-subgraph-api.json"
ITEMS = {"seed": "21:11,inputs,seed", "width": "21:10,inputs,width", "height": "21:10,inputs,height",
         "blur": "21:12,inputs,blur_radius", "name": "21:20,inputs,value"}
PERIOD_S = 0.1
SUMMARY_LINE = re.compile(r"^\s+(\S+): (\d+) prompt\(s\), ([\d.]+) s of execution$")


class Throttle:
    """Keep a process group running for ``share`` of every period and stopped for the rest."""

    def __init__(self, pid: int, share: float) -> None:
        self.pid, self.share = pid, share
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.done.is_set():
            os.killpg(self.pid, signal.SIGCONT)
            if self.done.wait(PERIOD_S * self.share):
                break
            os.killpg(self.pid, signal.SIGSTOP)
            self.done.wait(PERIOD_S * (1 - self.share))
        os.killpg(self.pid, signal.SIGCONT)  # a stopped server would not see the SIGTERM of stop()

    def __enter__(self) -> Throttle:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


@dataclass
class Server:
    name: str
    url: str
    client: ComfyClient


@dataclass
class Share:
    """What one server did in one run."""

    prompts: int
    busy_s: float
    starts: list[float]
    ends: list[float]

    @property
    def mean_s(self) -> float | None:
        return self.busy_s / self.prompts if self.prompts else None


@dataclass
class Run:
    layout: str  # prompts per batch file, e.g. "12,12"
    mode: str  # e.g. "--dist load"
    wall_s: float
    shares: dict[str, Share]
    summary: dict[str, int]  # the plugin's own per-server prompt counts, from its summary lines

    @property
    def first_start(self) -> float:
        return min(t for s in self.shares.values() for t in s.starts)

    @property
    def span_s(self) -> float:
        return max(t for s in self.shares.values() for t in s.ends) - self.first_start

    def last_s(self, name: str) -> float | None:
        """When this server finished its last prompt, seconds after the run's first start."""
        share = self.shares.get(name)
        return max(share.ends) - self.first_start if share and share.prompts else None

    @property
    def end_gap_s(self) -> float | None:
        """How long one server sat idle at the end while the other still worked."""
        lasts = [self.last_s(name) for name in self.shares]
        return abs(lasts[0] - lasts[1]) if len(lasts) == 2 and None not in lasts else None

    def ideal_s(self) -> float:
        """The best split of this run's prompts over the servers it used, at the per-prompt
        times those servers showed in this run."""
        total = sum(s.prompts for s in self.shares.values())
        used = [s.mean_s for s in self.shares.values() if s.prompts]
        if len(used) == 1:
            return total * used[0]
        fast, slow = used
        return min(max(k * fast, (total - k) * slow) for k in range(total + 1))


def workflow(size: int, blur: int, seed: int) -> dict:
    wf = json.loads(WORKFLOW.read_text())
    wf["21:10"]["inputs"].update(width=size, height=size)
    wf["21:11"]["inputs"]["seed"] = seed
    wf["21:12"]["inputs"]["blur_radius"] = blur
    return wf


def stamps(client: ComfyClient, prompt_id: str) -> tuple[float, float] | None:
    """(execution_start, execution_success) in seconds, or None when the server never had it."""
    entry = client.history(prompt_id)
    if entry is None:
        return None
    marks = {kind: data.get("timestamp") for kind, data in entry["status"]["messages"]}
    if "execution_success" not in marks:
        raise SystemExit(f"prompt {prompt_id} did not succeed: {entry['status']}")
    return marks["execution_start"] / 1000.0, marks["execution_success"] / 1000.0


def shares_of(servers: list[Server], prompt_ids: list[str]) -> dict[str, Share]:
    shares = {s.name: Share(0, 0.0, [], []) for s in servers}
    for prompt_id in prompt_ids:
        for server in servers:
            found = stamps(server.client, prompt_id)
            if found is not None:
                share = shares[server.name]
                share.prompts += 1
                share.busy_s += found[1] - found[0]
                share.starts.append(found[0])
                share.ends.append(found[1])
                break
        else:
            raise SystemExit(f"prompt {prompt_id} is in no server's /history")
    return shares


def calibrate(servers: list[Server], n: int, size: int, blur: int) -> dict[str, float]:
    """Mean prompt time of each server, both queued full at the same time (as in the runs)."""
    ids = {s.name: [s.client.submit(workflow(size, blur, 900_000 + 100 * k + i)) for i in range(n)]
           for k, s in enumerate(servers)}
    means = {}
    for server in servers:
        for prompt_id in ids[server.name]:
            server.client.wait(prompt_id, 600)
        means[server.name] = shares_of([server], ids[server.name])[server.name].mean_s
    return means


def write_project(folder: Path, files: list[int], size: int, blur: int, seed0: int) -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "workflow-api.json").write_text(WORKFLOW.read_text())
    (folder / "batches").mkdir()
    seed = seed0
    for n, count in enumerate(files):
        prompts = []
        for i in range(count):
            prompts.append({"id": f"p{i}", "seed": seed, "name": f"f{n}p{i}"})
            seed += 1
        batch = {"parameters": {"workflow_file": "../workflow-api.json", "workflow_items": ITEMS,
                                "save_images": {"enabled": True, "output_directory": "./images/",
                                                "filename_prefix": "U"},
                                "generic_prompts": {"width": size, "height": size, "blur": blur}},
                 "prompts": prompts}
        (folder / "batches" / f"file{n}_{count}prompts.json").write_text(json.dumps(batch))


def run_pytest(servers: list[Server], args: list[str], project: Path) -> tuple[float, dict[str, Share], dict[str, int]]:
    """(wall seconds, what each server did, the plugin's summary counts per server)."""
    urls = [arg for s in servers for arg in ("--comfy-url", s.url)]
    cmd = [sys.executable, "-m", "pytest", "batches/", "-q", "-p", "no:cacheprovider",
           "--junitxml=report.xml", *urls, *args]
    proc, wall, _ = child_cpu(cmd, project)
    ids = [p.get("value") for p in ET.parse(project / "report.xml").iter("property") if p.get("name") == "prompt_id"]
    names = {s.url: s.name for s in servers}
    summary: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        match = SUMMARY_LINE.match(line)
        if match:
            name = names.get(match[1], match[1])
            summary[name] = summary.get(name, 0) + int(match[2])
    return wall, shares_of(servers, ids), summary


HEADER = (f"  {'files':<9} {'mode':<18} {'wall s':>6} {'span s':>6} {'ideal s':>7} {'span/ideal':>10}   "
          f"{'fast: n busy last':>17}   {'slow: n busy last':>17} {'end gap':>7} {'t_slow/t_fast':>13}")


def row(run: Run) -> str:
    def cell(name: str) -> str:
        share, last = run.shares.get(name), run.last_s(name)
        if share is None or last is None:
            return f"{'-':>17}"
        return f"{share.prompts:>3} {share.busy_s:>6.1f} {last:>6.1f}"

    fast, slow = (run.shares[n].mean_s if n in run.shares else None for n in ("fast", "slow"))
    speed = f"{slow / fast:.2f}" if fast and slow else "-"
    gap = f"{run.end_gap_s:.1f}" if run.end_gap_s is not None else "-"
    counts = {k: v.prompts for k, v in run.shares.items() if v.prompts}
    agree = "" if not run.summary or run.summary == counts else f"   (the plugin's summary says {run.summary})"
    return (f"  {run.layout:<9} {run.mode:<18} {run.wall_s:>6.1f} {run.span_s:>6.1f} {run.ideal_s():>7.1f} "
            f"{run.span_s / run.ideal_s():>10.2f}   {cell('fast')}   {cell('slow')} {gap:>7} {speed:>13}{agree}")


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def ranking(runs: list[Run]) -> list[str]:
    """Per layout, each mode's means over its runs: wall time (and against the best mode's),
    span / ideal, and the end gap."""
    lines = [f"  {'files':<9} {'mode':<18} {'runs':>4} {'wall s':>6} {'wall/best':>9} {'span/ideal':>10} {'end gap':>7}"]
    for layout in dict.fromkeys(r.layout for r in runs):
        modes: dict[str, list[Run]] = {}
        for run in runs:
            if run.layout == layout:
                modes.setdefault(run.mode, []).append(run)
        walls = {m: mean([r.wall_s for r in rs]) for m, rs in modes.items()}
        best = min(walls.values())
        for mode, rs in sorted(modes.items(), key=lambda kv: walls[kv[0]]):
            gaps = [r.end_gap_s for r in rs if r.end_gap_s is not None]
            gap = f"{mean(gaps):.1f}" if gaps else "-"
            lines.append(f"  {layout:<9} {mode:<18} {len(rs):>4} {walls[mode]:>6.1f} {walls[mode] / best:>9.2f} "
                         f"{mean([r.span_s / r.ideal_s() for r in rs]):>10.2f} {gap:>7}")
    return lines


def plan(layouts: list[str], modes: list[str], rounds: int, reference: bool) -> list[tuple[str, str, list[str]]]:
    """(layout, label, pytest arguments). Every round runs every mode, each round in another
    order, so that a change in the machine's load spreads over the modes. A label with "alone"
    runs on the fast server only."""
    steps = []
    for r in range(rounds):
        order = modes[r % len(modes):] + modes[:r % len(modes)]
        steps += [(layout, f"--dist {m}", ["-n", "2", "--dist", m]) for layout in layouts for m in order]
        if reference:
            steps += [(layouts[0], "fast alone, no -n", []), (layouts[0], "fast alone, -n 2", ["-n", "2"])]
    return steps


@contextlib.contextmanager
def servers_up(share: float) -> Iterator[list[Server]]:
    """The fast and the slow server (one torch thread each), the slow one throttled."""
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the servers (and harmless to pytest)
    launched: list[LaunchedServer] = []
    try:
        for _ in range(2):
            launched.append(launch(COMFY_DIR, default_python(ROOT), "--cpu --disable-all-custom-nodes"))
        servers = [Server(name, s.url, ComfyClient(s.url)) for name, s in zip(("fast", "slow"), launched)]
        with Throttle(launched[1].process.pid, share):
            yield servers
        for server in servers:
            server.client.close()
    finally:
        for server in launched:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", default=["10,6,4,4", "12,12"],
                        help="layouts: prompts per batch file (default: 10,6,4,4 and 12,12)")
    parser.add_argument("--size", type=int, default=768, help="image width and height (default 768)")
    parser.add_argument("--blur", type=int, default=15, help="blur radius (default 15)")
    parser.add_argument("--slow-share", type=float, default=0.4, help="the slow server's share of time (0.4)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each mode and layout (default 2)")
    parser.add_argument("--modes", nargs="+", default=["load", "worksteal", "loadfile"])
    parser.add_argument("--no-reference", action="store_true", help="skip the runs on the fast server alone")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    runs: list[Run] = []
    with servers_up(args.slow_share) as servers:
        print(f"two servers up in {time.monotonic() - t0:.0f} s: fast {servers[0].url}, slow {servers[1].url} "
              f"(runs {args.slow_share:.0%} of every {PERIOD_S * 1000:.0f} ms)")
        means = calibrate(servers, 3, args.size, args.blur)
        print(f"calibration, both busy at once: fast {means['fast']:.2f} s/prompt, slow {means['slow']:.2f} "
              f"s/prompt: the slow server is {means['slow'] / means['fast']:.2f}x slower")
        print(f"prompts {args.size}x{args.size}, blur {args.blur}; load average {os.getloadavg()[0]:.1f}", flush=True)
        for k, (layout, label, extra) in enumerate(plan(args.files, args.modes, args.rounds, not args.no_reference)):
            used = servers[:1] if "alone" in label else servers
            with tempfile.TemporaryDirectory(prefix="bench-unequal-") as tmp:
                write_project(Path(tmp), [int(n) for n in layout.split(",")], args.size, args.blur, 1000 * (k + 1))
                wall, shares, summary = run_pytest(used, extra, Path(tmp))
            runs.append(Run(layout, label, wall, shares, summary))
            print(f"  done: {layout} {label} in {wall:.1f} s", flush=True)
    print("every run:")
    print(HEADER)
    print("\n".join(row(run) for run in runs))
    print("per layout and mode, the mean over its runs:")
    print("\n".join(ranking(runs)))
    print(f"bench time {time.monotonic() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
