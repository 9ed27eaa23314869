#!/usr/bin/env python3
"""How busy does each way of driving ComfyUI keep the server? A benchmark, not a test.

The SD1.5 graph (CheckpointLoaderSimple -> CLIPTextEncode -> KSampler -> VAEDecode ->
SaveImage) on the generated checkpoint, N prompts with distinct seeds, driven three ways:

  queue-all    every prompt queued at once, then all awaited: the floor (the server never idles)
  seed-style   one prompt at a time: queue, wait on the WebSocket, fetch /history and the images,
               with the functions of ComfyUI's own script_examples/websockets_api_example.py
               (loaded from the installed ComfyUI at run time), as the original batch script does
  pytest       `pytest` with this plugin over a generated batch file of the same prompts

For each: span = last execution_success - first execution_start, busy = the sum of the
prompts' own execution times (both from the status timestamps in /history), and the
ratio span / busy (1.00: the server never waited for the client).

On the device machine (GPU), the realistic workload:

    .venv/bin/python bench/gpu_busy_ratio.py --full --grid 512x20 512x4 1024x4 --n 16

On a CPU, the tiny checkpoint at 64x64 shows that it works:

    .venv/bin/python bench/gpu_busy_ratio.py --size 64 --steps 4 --n 4

Without --url it launches the development ComfyUI (scripts/setup.sh installs it) with
--cpu when no nvidia-smi is found, and makes the checkpoint first when it is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

from busy import HEADER, ROOT, connected, row, run_mode

from comfy_plugin.client import ComfyClient

WORKFLOW = ROOT / "workflows-files" / "tiny-sd15-txt2img-api.json"
ITEMS = {"positive_prompt": "6,inputs,text", "seed": "3,inputs,seed"}
MODEL_PATHS = ROOT / ".comfyui" / "extra_model_paths.yaml"
PROMPTS = ["a cat wearing a hat, studio photo", "a lighthouse at night", "a bowl of fruit on a wooden table",
           "a red sports car, side view", "a mountain lake at dawn", "portrait of an old sailor"]
NEGATIVE = "blurry, ugly, bad anatomy, watermark"


def workflow(ckpt: str, size: int, steps: int, seed: int, text: str) -> dict:
    wf = json.loads(WORKFLOW.read_text())
    wf["4"]["inputs"]["ckpt_name"] = ckpt
    wf["5"]["inputs"].update(width=size, height=size, batch_size=1)
    wf["3"]["inputs"].update(seed=seed, steps=steps)
    wf["6"]["inputs"]["text"] = text
    wf["7"]["inputs"]["text"] = NEGATIVE
    wf["9"]["inputs"]["filename_prefix"] = "bench"
    return wf


def prompt_values(wf: dict) -> dict:
    return {"positive_prompt": wf["6"]["inputs"]["text"], "seed": wf["3"]["inputs"]["seed"]}


def ensure_checkpoint(full: bool) -> None:
    python = ROOT / ".comfyui" / "venv" / "bin" / "python"
    cmd = [str(python), str(ROOT / "scripts" / "make_checkpoint.py")] + (["--full"] if full else [])
    subprocess.run(cmd, check=True)


def device_name(client: ComfyClient) -> str:
    devices = client.system_stats().get("devices") or [{}]
    return str(devices[0].get("name", "?"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the full-size SD1.5 checkpoint (full-sd15.safetensors)")
    parser.add_argument("--size", type=int, default=64, help="width and height in pixels (default 64)")
    parser.add_argument("--steps", type=int, default=4, help="sampler steps (default 4)")
    parser.add_argument("--grid", nargs="+", metavar="SIZExSTEPS", default=None,
                        help="several configurations in one server, e.g. 512x20 512x4 1024x4")
    parser.add_argument("--n", type=int, default=8, help="prompts per mode (default 8)")
    parser.add_argument("--modes", nargs="+", default=["queue-all", "seed-style", "pytest"],
                        choices=["queue-all", "seed-style", "pytest"])
    parser.add_argument("--url", default=None, help="use this ComfyUI (it must have the checkpoint); "
                        "default: launch the development ComfyUI")
    parser.add_argument("--launch-args", default=None,
                        help="arguments for the launched ComfyUI (default: --cpu when there is no nvidia-smi)")
    args = parser.parse_args(argv)

    ckpt = "full-sd15.safetensors" if args.full else "tiny-sd15.safetensors"
    grid = [tuple(int(x) for x in g.lower().split("x")) for g in args.grid] if args.grid else [(args.size, args.steps)]
    launch_args = args.launch_args if args.launch_args is not None else (
        "" if shutil.which("nvidia-smi") else "--cpu")
    if args.url is None:
        ensure_checkpoint(args.full)
    with connected(args.url, f"{launch_args} --disable-all-custom-nodes", MODEL_PATHS) as (url, client):
        print(f"device: {device_name(client)}; checkpoint: {ckpt}; {args.n} prompt(s) per mode")
        seed = 1000
        for size, steps in grid:
            t0 = time.monotonic()
            warm = client.submit(workflow(ckpt, size, steps, seed, "warm-up"))
            client.wait(warm, 3600)  # loads the models; not counted
            seed += 1
            print(f"\n{size}x{size}, {steps} steps (warm-up incl. model load: {time.monotonic() - t0:.2f} s)")
            print(HEADER)
            for mode in args.modes:
                wfs = []
                for i in range(args.n):
                    wfs.append(workflow(ckpt, size, steps, seed, PROMPTS[i % len(PROMPTS)]))
                    seed += 1
                fig = run_mode(mode, url, client, wfs, ITEMS, prompt_values)
                print(row(fig), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
