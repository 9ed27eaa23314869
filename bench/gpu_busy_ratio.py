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
import ast
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from comfy_plugin.client import ComfyClient  # noqa: E402
from comfy_plugin.launcher import LaunchedServer, default_python, launch  # noqa: E402

WORKFLOW = ROOT / "workflows-files" / "tiny-sd15-txt2img-api.json"
COMFY_DIR = ROOT / ".comfyui" / "ComfyUI"
MODEL_PATHS = ROOT / ".comfyui" / "extra_model_paths.yaml"
PROMPTS = ["a cat wearing a hat, studio photo", "a lighthouse at night", "a bowl of fruit on a wooden table",
           "a red sports car, side view", "a mountain lake at dawn", "portrait of an old sailor"]
NEGATIVE = "blurry, ugly, bad anatomy, watermark"


@dataclass
class Figures:
    mode: str
    prompts: int
    wall_s: float  # as the client saw it, start-up included
    busy_s: float  # sum of per-prompt execution times
    span_s: float  # last execution_success - first execution_start

    @property
    def ratio(self) -> float:
        return self.span_s / self.busy_s if self.busy_s else float("nan")


def workflow(ckpt: str, size: int, steps: int, seed: int, text: str) -> dict:
    wf = json.loads(WORKFLOW.read_text())
    wf["4"]["inputs"]["ckpt_name"] = ckpt
    wf["5"]["inputs"].update(width=size, height=size, batch_size=1)
    wf["3"]["inputs"].update(seed=seed, steps=steps)
    wf["6"]["inputs"]["text"] = text
    wf["7"]["inputs"]["text"] = NEGATIVE
    wf["9"]["inputs"]["filename_prefix"] = "bench"
    return wf


def timings(client: ComfyClient, prompt_ids: list[str]) -> tuple[float, float]:
    """(busy, span) in seconds from the status timestamps (ms) in /history."""
    starts, ends, busy = [], [], 0.0
    for prompt_id in prompt_ids:
        entry = client.history(prompt_id)
        if entry is None:
            raise SystemExit(f"no /history entry for prompt {prompt_id}")
        stamps = {kind: data.get("timestamp") for kind, data in entry["status"]["messages"]}
        if "execution_success" not in stamps:
            raise SystemExit(f"prompt {prompt_id} did not succeed: {entry['status']}")
        starts.append(stamps["execution_start"])
        ends.append(stamps["execution_success"])
        busy += (stamps["execution_success"] - stamps["execution_start"]) / 1000.0
    return busy, (max(ends) - min(starts)) / 1000.0


def queue_all(client: ComfyClient, workflows: list[dict]) -> Figures:
    t0 = time.monotonic()
    ids = [client.submit(wf) for wf in workflows]
    for prompt_id in ids:
        for file in client.wait(prompt_id, 3600).files:
            client.download(file)
    wall = time.monotonic() - t0
    return Figures("queue-all", len(ids), wall, *timings(client, ids))


def load_websockets_example(url: str) -> dict:
    """The functions of ComfyUI's script_examples/websockets_api_example.py. The file runs a
    prompt at import (no __main__ guard), so only its imports and function definitions run."""
    source_path = COMFY_DIR / "script_examples" / "websockets_api_example.py"
    tree = ast.parse(source_path.read_text(), str(source_path))
    tree.body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef))]
    ns: dict = {"__name__": "websockets_api_example"}
    exec(compile(tree, str(source_path), "exec"), ns)
    ns["server_address"] = url.split("://", 1)[1].rstrip("/")
    ns["client_id"] = str(uuid.uuid4())
    return ns


def seed_style(url: str, client: ComfyClient, workflows: list[dict]) -> Figures:
    import websocket

    ex = load_websockets_example(url)
    ids: list[str] = []
    original = ex["queue_prompt"]

    def queue_prompt(prompt, prompt_id):  # get_images looks it up in the module's globals
        ids.append(prompt_id)
        return original(prompt, prompt_id)

    ex["queue_prompt"] = queue_prompt
    t0 = time.monotonic()
    ws = websocket.WebSocket()
    ws.connect("ws://{}/ws?clientId={}".format(ex["server_address"], ex["client_id"]))
    try:
        for wf in workflows:
            images = ex["get_images"](ws, wf)
            assert any(images.values()), "the prompt produced no image"
    finally:
        ws.close()
    wall = time.monotonic() - t0
    return Figures("seed-style", len(ids), wall, *timings(client, ids))


def pytest_plugin(url: str, client: ComfyClient, workflows: list[dict]) -> Figures:
    with tempfile.TemporaryDirectory(prefix="bench-pytest-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "pytest.ini").write_text("[pytest]\n")
        (tmp_path / "workflow-api.json").write_text(json.dumps(workflows[0]))
        batch = {
            "parameters": {
                "workflow_file": "workflow-api.json",
                "workflow_items": {"positive_prompt": "6,inputs,text", "seed": "3,inputs,seed"},
                "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "BENCH"},
            },
            "prompts": [{"id": f"p{i}", "positive_prompt": wf["6"]["inputs"]["text"],
                         "seed": wf["3"]["inputs"]["seed"]} for i, wf in enumerate(workflows)],
        }
        (tmp_path / "bench.json").write_text(json.dumps(batch))
        cmd = [sys.executable, "-m", "pytest", "bench.json", "--comfy-url", url, "-q", "-p", "no:cacheprovider",
               "--junitxml=report.xml"]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        ids = [p.get("value") for p in ET.parse(tmp_path / "report.xml").iter("property")
               if p.get("name") == "prompt_id"]
    return Figures("pytest", len(ids), wall, *timings(client, ids))


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
    server: LaunchedServer | None = None
    if args.url is None:
        ensure_checkpoint(args.full)
        launch_args = args.launch_args if args.launch_args is not None else (
            "" if shutil.which("nvidia-smi") else "--cpu")
        t0 = time.monotonic()
        server = launch(COMFY_DIR, default_python(ROOT), f"{launch_args} --disable-all-custom-nodes",
                        model_paths=MODEL_PATHS)
        print(f"launched ComfyUI at {server.url} in {time.monotonic() - t0:.1f} s (log: {server.log_path})")
    url = args.url or server.url
    client = ComfyClient(url)
    try:
        print(f"device: {device_name(client)}; checkpoint: {ckpt}; {args.n} prompt(s) per mode")
        seed = 1000
        for size, steps in grid:
            t0 = time.monotonic()
            warm = client.submit(workflow(ckpt, size, steps, seed, "warm-up"))
            client.wait(warm, 3600)  # loads the models; not counted
            seed += 1
            print(f"\n{size}x{size}, {steps} steps (warm-up incl. model load: {time.monotonic() - t0:.2f} s)")
            print(f"  {'mode':<11} {'prompts':>7} {'wall s':>8} {'busy s':>8} {'span s':>8} "
                  f"{'span/busy':>9} {'s/prompt':>9}")
            for mode in args.modes:
                wfs = []
                for i in range(args.n):
                    wfs.append(workflow(ckpt, size, steps, seed, PROMPTS[i % len(PROMPTS)]))
                    seed += 1
                if mode == "queue-all":
                    fig = queue_all(client, wfs)
                elif mode == "seed-style":
                    fig = seed_style(url, client, wfs)
                else:
                    fig = pytest_plugin(url, client, wfs)
                print(f"  {fig.mode:<11} {fig.prompts:>7} {fig.wall_s:>8.2f} {fig.busy_s:>8.2f} {fig.span_s:>8.2f} "
                      f"{fig.ratio:>9.2f} {fig.busy_s / max(fig.prompts, 1):>9.3f}", flush=True)
    finally:
        client.close()
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
