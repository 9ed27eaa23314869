#!/usr/bin/env python3
"""Does the pytest process slow the server? Client CPU per image, and the span against the floor.

N prompts of workflows-files/noise-image-api.json at 1024x1024 (distinct seeds) run twice in
one session of the development ComfyUI (or --url): queued all at once (the floor: the server
never waits for a client), then through `pytest` with this plugin in a temporary project
(every image downloaded, saved and hashed: ``--comfy-missing-baseline=write``). On a machine
where the server uses every core, the client's CPU is taken from the server, so it shows up
as a longer span.

Printed (every time from the server's /history status timestamps):
  client CPU / image   user + sys CPU of the pytest process (getrusage of children) / images;
                       also without start-up: minus the CPU of `pytest --co` on the same project
  server exec / image  sum of the prompts' execution times / images, in the pytest run
  CPU ratio            client CPU / image ÷ server exec / image           (target <= 10 %)
  span ratio           pytest span ÷ floor span, span = last execution_success
                       - first execution_start                          (target <= 1.08)
  busy ratio           span ÷ sum of execution times, for each run (1.00: never idle)

    .venv/bin/python bench/client_cpu.py [--n 30] [--size 1024] [--url URL] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from busy import Figures, connected, pytest_plugin, queue_all
from cpu_busy_ratio import ITEMS, prompt_values, workflow

CPU_TARGET = 0.10
SPAN_TARGET = 1.08


def report(floor: Figures, run: Figures) -> list[str]:
    """The figures as printed lines; the pytest run's client CPU must be known."""
    images = max(run.prompts, 1)
    cpu = (run.client_cpu_s or 0.0) / images
    execution = run.busy_s / images
    cpu_ratio = cpu / execution if execution else float("nan")
    span_ratio = run.span_s / floor.span_s if floor.span_s else float("nan")
    steady = None if run.startup_cpu_s is None else ((run.client_cpu_s or 0.0) - run.startup_cpu_s) / images
    return [
        f"  {'run':<10} {'prompts':>7} {'wall s':>8} {'span s':>8} {'Σ exec s':>9} {'busy ratio':>10}",
        *(f"  {f.mode:<10} {f.prompts:>7} {f.wall_s:>8.2f} {f.span_s:>8.2f} {f.busy_s:>9.2f} {f.ratio:>10.3f}"
          for f in (floor, run)),
        "  (busy ratio = span ÷ Σ execution of that run; 1.00: the server never idled)",
        f"client CPU per image   {cpu:.4f} s   (pytest process user+sys {run.client_cpu_s:.2f} s / {run.prompts})",
        *([f"  without start-up     {steady:.4f} s   (minus {run.startup_cpu_s:.2f} s of `pytest --co` on the same "
           f"project: {steady / execution:.1%} of the execution)"] if steady is not None else []),
        f"server exec per image  {execution:.4f} s   (pytest run)",
        f"CPU ratio              {cpu_ratio:.1%}   target <= {CPU_TARGET:.0%}  "
        f"{'met' if cpu_ratio <= CPU_TARGET else 'NOT met'}",
        f"span ratio             {span_ratio:.3f}   pytest span ÷ floor span, target <= {SPAN_TARGET}  "
        f"{'met' if span_ratio <= SPAN_TARGET else 'NOT met'}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="prompts per run (default 30)")
    parser.add_argument("--size", type=int, default=1024, help="width and height (default 1024)")
    parser.add_argument("--url", default=None, help="use this ComfyUI; default: launch the development one")
    parser.add_argument("--rounds", type=int, default=1, help="floor-then-pytest rounds (default 1); with more, "
                        "the medians of the CPU and span ratios follow")
    args = parser.parse_args(argv)
    cpu_ratios, span_ratios = [], []
    with connected(args.url, "--cpu --disable-all-custom-nodes") as (url, client):
        client.wait(client.submit(workflow(64, 1)), 600)  # warm-up, not counted
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}: {args.n} prompts of {args.size}x{args.size} noise, queue-all floor then "
                  "pytest", flush=True)
            seed = 100_000 * (round_ + 1)
            floor = queue_all(client, [workflow(args.size, seed + i) for i in range(args.n)])
            run = pytest_plugin(url, client, [workflow(args.size, seed + 50_000 + i) for i in range(args.n)], ITEMS,
                                prompt_values, startup=True)
            print("\n".join(report(floor, run)), flush=True)
            cpu_ratios.append((run.client_cpu_s or 0.0) / run.busy_s)
            span_ratios.append(run.span_s / floor.span_s)
    if args.rounds > 1:
        print(f"median of {args.rounds} rounds: CPU ratio {statistics.median(cpu_ratios):.1%}, "
              f"span ratio {statistics.median(span_ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
