"""Shared parts of the busy-ratio benchmarks: how busy does each way of driving ComfyUI keep
the server? Not a test.

  queue-all    every prompt queued at once, then all awaited: the floor (the server never idles)
  seed-style   one prompt at a time with the functions of ComfyUI's own
               script_examples/websockets_api_example.py (loaded from the installed ComfyUI at
               run time), each image re-saved with Pillow, as the original batch script does
  pytest       `pytest` with this plugin over a batch file of the same prompts

For each: span = last execution_success - first execution_start, busy = the sum of the
prompts' own execution times (both from the status timestamps in /history), and the
ratio span / busy (1.00: the server never waited for the client).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from comfy_plugin.client import ComfyClient  # noqa: E402
from comfy_plugin.server.launcher import default_python, launch  # noqa: E402

COMFY_DIR = ROOT / ".comfyui" / "ComfyUI"


@dataclass
class Figures:
    mode: str
    prompts: int
    wall_s: float  # as the client saw it, start-up included
    busy_s: float  # sum of per-prompt execution times
    span_s: float  # last execution_success - first execution_start
    client_cpu_s: float | None = None  # user + sys CPU of the pytest process (pytest mode only)
    startup_cpu_s: float | None = None  # the same for `pytest --co` on the same project, when asked for

    @property
    def ratio(self) -> float:
        return self.span_s / self.busy_s if self.busy_s else float("nan")


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


def seed_style(url: str, client: ComfyClient, workflows: list[dict], out_dir: Path | None = None) -> Figures:
    """The seed's loop: one prompt at a time, each image re-saved with Pillow as the seed does."""
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
        with tempfile.TemporaryDirectory(prefix="bench-seed-") as tmp:
            folder = out_dir or Path(tmp)
            for n, wf in enumerate(workflows):
                images = ex["get_images"](ws, wf)
                assert any(images.values()), "the prompt produced no image"
                for node_id, datas in images.items():
                    for k, data in enumerate(datas):
                        Image.open(io.BytesIO(data)).save(folder / f"seed_{n:04d}_{node_id}_{k}.png")
    finally:
        ws.close()
    wall = time.monotonic() - t0
    return Figures("seed-style", len(ids), wall, *timings(client, ids))


def child_cpu(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """(the finished process, wall seconds, its user + sys CPU seconds, children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return proc, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pytest_plugin(url: str, client: ComfyClient, workflows: list[dict], items: dict[str, str],
                  values: Callable[[dict], dict], extra_args: tuple[str, ...] = (),
                  startup: bool = False) -> Figures:
    """``pytest`` with this plugin over a batch file of the same prompts: ``items`` is its
    workflow_items, ``values(workflow)`` the prompt's values. ``startup``: also measure the
    CPU of ``pytest --co`` on the same project first (start-up and collection, no prompt)."""
    with tempfile.TemporaryDirectory(prefix="bench-pytest-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "pytest.ini").write_text("[pytest]\n")
        (tmp_path / "workflow-api.json").write_text(json.dumps(workflows[0]))
        batch = {
            "parameters": {
                "workflow_file": "workflow-api.json",
                "workflow_items": items,
                "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "BENCH"},
            },
            "prompts": [{"id": f"p{i}", **values(wf)} for i, wf in enumerate(workflows)],
        }
        (tmp_path / "bench.json").write_text(json.dumps(batch))
        cmd = [sys.executable, "-m", "pytest", "bench.json", "--comfy-url", url, "-q", "-p", "no:cacheprovider",
               "--junitxml=report.xml", "--comfy-missing-baseline=write", *extra_args]  # hashing included
        startup_cpu = child_cpu([*cmd, "--co"], tmp_path)[2] if startup else None
        _, wall, cpu = child_cpu(cmd, tmp_path)
        ids = [p.get("value") for p in ET.parse(tmp_path / "report.xml").iter("property")
               if p.get("name") == "prompt_id"]
    return Figures("pytest", len(ids), wall, *timings(client, ids), client_cpu_s=cpu, startup_cpu_s=startup_cpu)


def run_mode(mode: str, url: str, client: ComfyClient, workflows: list[dict], items: dict[str, str],
             values: Callable[[dict], dict]) -> Figures:
    if mode == "queue-all":
        return queue_all(client, workflows)
    if mode == "seed-style":
        return seed_style(url, client, workflows)
    return pytest_plugin(url, client, workflows, items, values)


HEADER = f"  {'mode':<11} {'prompts':>7} {'wall s':>8} {'busy s':>8} {'span s':>8} {'span/busy':>9} {'s/prompt':>9}"


def row(fig: Figures) -> str:
    return (f"  {fig.mode:<11} {fig.prompts:>7} {fig.wall_s:>8.2f} {fig.busy_s:>8.2f} {fig.span_s:>8.2f} "
            f"{fig.ratio:>9.2f} {fig.busy_s / max(fig.prompts, 1):>9.3f}")


@contextlib.contextmanager
def connected(url: str | None, launch_args: str, model_paths: Path | None = None) -> Iterator[tuple[str, ComfyClient]]:
    """(url, client) of the given server, or of the development ComfyUI launched for the run
    (and stopped after it) when no URL is given."""
    server = None
    if url is None:
        t0 = time.monotonic()
        server = launch(COMFY_DIR, default_python(ROOT), launch_args, model_paths=model_paths)
        print(f"launched ComfyUI at {server.url} in {time.monotonic() - t0:.1f} s (log: {server.log_path})")
        url = server.url
    client = ComfyClient(url)
    try:
        yield url, client
    finally:
        client.close()
        if server is not None:
            server.stop()
