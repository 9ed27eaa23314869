#!/usr/bin/env python3
"""Scale figures of issue 22, each with its target; later issues rerun it and keep them.

  collection  `pytest --co -q` of a project with 2,000 JSON data files (100 MB) under tests/,
              with the plugin ÷ without it (-p no:comfy_plugin)                   target <= 1.10
  COMFY_URL   `pytest -q` of a plain two-test project with COMFY_URL exported minus
              without it, in ms                                                   target <= 30 ms
  small       500 prompts at 64x64 through pytest, the plugin launching ComfyUI (its outputs
              linked from the server's folder) ÷ the queue-all floor on a ComfyUI of its own:
              span = last execution_success - first execution_start (/history)   target <= 1.15
  RSS         peak RSS of the pytest process (not its server) over 10,000 prompts ÷ over 1,000
              (identical 64x64 prompts: the server's cache answers, the client does all the
              work; one run each, RSS hardly varies)                               target <= 1.50
              and the same with what pytest alone adds for 9,000 more trivial tests taken
              out (pytest keeps every item and three reports a test: it is not flat itself);
              for a run that records its baselines, then for one that compares with them
  span        30 prompts at 1024x1024, as `small` (point 4: no second transfer, no decode of
              an output whose bytes match)                                        target <= 1.08
  report      bench/report_scale.py's figures(), when that file is there
  GPU         the same spans on a device machine: only when one is lent

Ratios are medians of three (--runs) rounds, each round running the compared runs one after
the other (interleaved); a span ratio is the median of the rounds' ratios. Every pytest run
writes its missing baselines (``--comfy-missing-baseline=write``: each image hashed, its
thumbnail and reference kept), as bench/client_cpu.py does. All parts take about 20 minutes
on the 2-core development machine; --parts runs some. Not a test: run it by hand.

    .venv/bin/python bench/scale.py [--runs 3] [--parts collection url small rss span report]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("collection", "url", "small", "rss", "span", "report")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFY_", "PYTEST_"))}
    return {**env, **extra}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall s, user + sys CPU s) of the command: on a loaded machine the CPU time is the steadier."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 5):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def data_project(folder: Path, files: int = 2000, size: int = 50_000) -> None:
    """2,000 JSON data files of about 50 KB (100 MB) under tests/data, each row naming a nested
    "parameters" key (the worst case for telling them from batch files), and one test file."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    data = folder / "tests" / "data"
    data.mkdir(parents=True)
    (folder / "tests" / "test_data.py").write_text("def test_one():\n    assert True\n")
    rows = [{"id": i, "name": f"row {i}", "values": [i, i * 2, i * 3], "parameters": {"a": i}}
            for i in range(size // 80)]
    text = json.dumps({"rows": rows})
    for n in range(files):
        (data / f"d{n:04}.json").write_text(text)


def plain_project(folder: Path) -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_plain.py").write_text("def test_adds():\n    assert 1 + 1 == 2\n\n\n"
                                          "def test_joins():\n    assert 'a' + 'b' == 'ab'\n")


def interleaved(runs: int, first: list[str], second: list[str], cwd: Path, *,
                env_first: dict[str, str], env_second: dict[str, str]) -> tuple[tuple[float, float], ...]:
    """Medians of (wall, CPU) of each command, the runs interleaved."""
    timed(first, cwd, env_first), timed(second, cwd, env_second)  # warm-up: bytecode, page cache
    a, b = [], []
    for _ in range(runs):
        a.append(timed(first, cwd, env_first))
        b.append(timed(second, cwd, env_second))
    return tuple(statistics.median(x[i] for x in a) for i in (0, 1)), tuple(statistics.median(x[i] for x in b)
                                                                             for i in (0, 1))


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def inert(runs: int, parts: set[str]) -> None:
    """Points 5: collection of JSON data files, and COMFY_URL exported in a plain project."""
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory(prefix="comfy-scale-") as tmp:
        data, plain = Path(tmp) / "data", Path(tmp) / "plain"
        data.mkdir(), plain.mkdir()
        data_project(data)
        plain_project(plain)
        if "collection" in parts:
            (on, on_cpu), (off, off_cpu) = interleaved(
                runs, [*pytest, "--co", "-q"], [*pytest, "--co", "-q", "-p", "no:comfy_plugin"], data,
                env_first=clean_env(), env_second=clean_env())
            print(f"collection  2,000 JSON files (100 MB): {on:.2f} s with the plugin, {off:.2f} s without "
                  f"= {on / off:.2f} x   target <= 1.10: {verdict(on / off, 1.10)}   (CPU time: {on_cpu:.2f} s ÷ "
                  f"{off_cpu:.2f} s = {on_cpu / off_cpu:.2f} x)", flush=True)
        if "url" in parts:
            (url, url_cpu), (bare, bare_cpu) = interleaved(
                runs, [*pytest, "-q"], [*pytest, "-q"], plain,
                env_first=clean_env(COMFY_URL="http://127.0.0.1:9"), env_second=clean_env())
            extra = (url - bare) * 1000
            print(f"COMFY_URL   plain two-test project: {url * 1000:.0f} ms exported, {bare * 1000:.0f} ms not "
                  f"= {extra:+.0f} ms   target <= 30 ms: {verdict(extra, 30)}   (CPU time: "
                  f"{(url_cpu - bare_cpu) * 1000:+.0f} ms)", flush=True)


def spans(runs: int, prompts: int, size: int) -> tuple[float, list[str]]:
    """The median over ``runs`` rounds of (pytest span ÷ floor span), and one line per round."""
    from busy import connected, queue_all
    from cpu_busy_ratio import workflow
    from launched_run import LAUNCH_ARGS, pytest_launched

    ratios: list[float] = []
    idle: list[float] = []
    lines: list[str] = []
    for round_ in range(runs):
        seed = 1_000_000 * (round_ + 1)
        with connected(None, LAUNCH_ARGS) as (_, client):  # a fresh server, as the plugin's is
            floor = queue_all(client, [workflow(size, seed + i) for i in range(prompts)])
        run = pytest_launched([workflow(size, seed + 500_000 + i) for i in range(prompts)])
        ratios.append(run.figures.span_s / floor.span_s)
        idle.append(run.figures.ratio / floor.ratio)
        lines.append(f"    round {round_ + 1}: floor span {floor.span_s:.2f} s (Σ exec {floor.busy_s:.2f} s), pytest "
                     f"span {run.figures.span_s:.2f} s (Σ exec {run.figures.busy_s:.2f} s, client CPU "
                     f"{run.cpu_s:.1f} s) = {ratios[-1]:.3f}; busy ratios (span ÷ Σ exec) {run.figures.ratio:.3f} ÷ "
                     f"{floor.ratio:.3f} = {idle[-1]:.3f}")
    lines.append(f"    (busy ratio pytest ÷ floor, median {statistics.median(idle):.3f}: the server's idle time alone, "
                 "steadier than the span where other load slows its execution)")
    return statistics.median(ratios), lines


def span_part(name: str, runs: int, prompts: int, size: int, target: float) -> None:
    ratio, lines = spans(runs, prompts, size)
    print(f"{name:<11} {prompts} prompts at {size}x{size}, launched server: pytest span ÷ queue-all floor span "
          f"= {ratio:.3f} (median of {runs})   target <= {target}: {verdict(ratio, target)}")
    print("\n".join(lines), flush=True)


PLAIN_TESTS = """import os

import pytest


@pytest.mark.parametrize("i", range(int(os.environ["BENCH_TESTS"])))
def test_plain(i):
    assert i >= 0
"""
PEAK_CONFTEST = """import json


def pytest_unconfigure(config):
    peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
    open("peak.json", "w").write(json.dumps(int(peak.split()[1]) / 1024))
"""


def plain_peak(tests: int) -> float:
    """Peak RSS (MB) of pytest alone running ``tests`` trivial tests (the plugin disabled): what
    pytest itself keeps a test (its item, and the setup, call and teardown reports its terminal
    reporter holds to the end)."""
    with tempfile.TemporaryDirectory(prefix="comfy-plain-") as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n")
        (folder / "test_plain.py").write_text(PLAIN_TESTS)
        (folder / "conftest.py").write_text(PEAK_CONFTEST)
        timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:comfy_plugin"], folder,
              clean_env(BENCH_TESTS=str(tests)))
        return float(json.loads((folder / "peak.json").read_text()))


def rss_part(small: int, large: int) -> None:
    """The issue's ratio, for a run that records its baselines and for the regression run that
    then compares with them, and each with what pytest itself adds for the extra tests taken out
    (measured here: trivial tests, the plugin disabled): pytest alone is not flat."""
    from cpu_busy_ratio import workflow
    from launched_run import pytest_launched

    plain = {n: plain_peak(n) for n in (small, large)}
    grown = plain[large] - plain[small]
    print(f"    pytest alone, {large} trivial tests ÷ {small}: {plain[large]:.0f} MB ÷ {plain[small]:.0f} MB = "
          f"{plain[large] / plain[small]:.2f} ({grown * 1024 / (large - small):.1f} KB a test)", flush=True)
    for compare, name in ((False, "RSS"), (True, "RSS compare")):
        peaks = {}
        for n in (small, large):
            t0 = time.monotonic()
            run = pytest_launched([workflow(64, 7) for _ in range(n)], compare=compare)
            peaks[n] = run.peak_rss_mb
            print(f"    {n} identical prompts{', compared' if compare else ''}: peak RSS {run.peak_rss_mb:.0f} MB "
                  f"({run.before_end_mb:.0f} MB before the session's end), span {run.figures.span_s:.1f} s, "
                  f"client CPU {run.cpu_s:.1f} s ({time.monotonic() - t0:.0f} s in all)", flush=True)
        ratio = peaks[large] / peaks[small]
        own = (peaks[large] - grown) / peaks[small]
        each = (peaks[large] - peaks[small] - grown) * 1024 / (large - small)
        what = "comparing with the baselines it recorded" if compare else "recording its baselines"
        print(f"{name:<11} peak RSS of pytest {what}, {large} prompts ÷ {small}: {peaks[large]:.0f} MB ÷ "
              f"{peaks[small]:.0f} MB = {ratio:.2f}   target <= 1.50: {verdict(ratio, 1.50)}\n"
              f"    the plugin's own: ({peaks[large]:.0f} - {grown:.0f} MB pytest adds) ÷ {peaks[small]:.0f} MB = "
              f"{own:.2f}   ({each:.1f} KB a prompt more than a trivial test)   target <= 1.50: {verdict(own, 1.50)}",
              flush=True)


def report_part() -> None:
    if not (HERE / "report_scale.py").is_file():
        print("report      not measured (bench/report_scale.py is not there)")
        return
    from report_scale import figures

    found = figures()
    print(f"report      size {found['report_mb']:.2f} MB (target <= 10 MB: {verdict(found['report_mb'], 10)}), "
          f"wall ratio {found['report_wall_ratio']:.3f} (target <= 1.10: {verdict(found['report_wall_ratio'], 1.10)}), "
          f"shown {found['report_shown_s']:.2f} s (goal <= 2 s), every card ready {found['report_ready_s']:.2f} s",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds per ratio (default 3)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--rss-prompts", type=int, nargs=2, default=(1000, 10_000), metavar=("SMALL", "LARGE"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    parts = set(args.parts)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("collection url", lambda: inert(args.runs, parts)),
        ("small", lambda: span_part("small", args.runs, 500, 64, 1.15)),
        ("rss", lambda: rss_part(*args.rss_prompts)),
        ("span", lambda: span_part("span", args.runs, 30, 1024, 1.08)),
        ("report", report_part),
    ]
    started = time.monotonic()
    for names, step in steps:
        if parts & set(names.split()):
            step()
    print("GPU         not measured: no device machine was lent (the spans above are on this machine's CPU; "
          "on a device machine run --parts small span there)")
    print(f"({time.monotonic() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
