#!/usr/bin/env python3
"""Is the server ever idle because of the harness? The model-free graph on a CPU.

N prompts of workflows-files/noise-image-api.json (EmptyImage -> ImageAddNoise -> SaveImage)
at 1024x1024 with distinct seeds, driven three ways (see bench/busy.py): the queue-all floor,
the seed's sequential loop with a Pillow re-save per image, and `pytest` with this plugin
(downloading and saving every image). Two ratios against the floor, both from /history: the
busy ratio (span / busy) over the floor's, and the span ratio (span over the floor's span, the
same number of prompts); the issue's target is a span ratio <= 1.08. bench/client_cpu.py adds
the pytest process's CPU per image.

    .venv/bin/python bench/cpu_busy_ratio.py [--n 30] [--size 1024] [--url URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from busy import HEADER, ROOT, connected, row, run_mode

WORKFLOW = ROOT / "workflows-files" / "noise-image-api.json"
ITEMS = {"positive_prompt": "3,inputs,value", "seed": "2,inputs,seed", "width": "1,inputs,width",
         "height": "1,inputs,height"}


def workflow(size: int, seed: int) -> dict:
    wf = json.loads(WORKFLOW.read_text())
    wf["1"]["inputs"].update(width=size, height=size)
    wf["2"]["inputs"]["seed"] = seed
    wf["3"]["inputs"]["value"] = f"bench {seed}"
    return wf


def prompt_values(wf: dict) -> dict:
    size = wf["1"]["inputs"]["width"]
    return {"positive_prompt": wf["3"]["inputs"]["value"], "seed": wf["2"]["inputs"]["seed"],
            "width": size, "height": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="prompts per mode (default 30)")
    parser.add_argument("--size", type=int, default=1024, help="width and height (default 1024)")
    parser.add_argument("--modes", nargs="+", default=["queue-all", "seed-style", "pytest"],
                        choices=["queue-all", "seed-style", "pytest"])
    parser.add_argument("--url", default=None, help="use this ComfyUI; default: launch the development one")
    args = parser.parse_args(argv)
    with connected(args.url, "--cpu --disable-all-custom-nodes") as (url, client):
        client.wait(client.submit(workflow(64, 1)), 600)  # warm-up, not counted
        print(f"{args.n} prompts of {args.size}x{args.size} noise per mode")
        print(HEADER)
        seed = 10_000
        floor = None
        for mode in args.modes:
            wfs = [workflow(args.size, seed + i) for i in range(args.n)]
            seed += args.n
            fig = run_mode(mode, url, client, wfs, ITEMS, prompt_values)
            floor = fig if mode == "queue-all" else floor
            against = (f"   busy ratio {fig.ratio / floor.ratio:.3f} x the floor's, span {fig.span_s / floor.span_s:.3f}"
                       " x the floor's" if floor is not None and mode != "queue-all" else "")
            print(row(fig) + against, flush=True)
            time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
