#!/usr/bin/env python3
"""Soak: many prompts on a real ComfyUI with a fault injected about every K prompts. Not a test.

The script launches the development ComfyUI on a fixed port with its own base directory,
puts the TCP proxy of tests/tcp_proxy.py in front of it, and drives the plugin's
ComfyClient directly (submit ahead, wait, download, write_new), as the plugin does. Every
``--fault-every`` finished prompts it injects, alternately, while prompts are in flight:

  cut       every connection through the proxy is closed (the WebSocket and any HTTP request
            in flight); every other cut also refuses the socket for 4 s, longer than the
            client's reconnect window, while HTTP still answers
  restart   the server is killed (SIGKILL) and launched again on the same port and base
            directory; the client's prompts fail with ServerUnavailable or PromptLost and are
            queued again on a fresh client

At the end it prints images expected vs saved (must be equal), lost and duplicated counts.
"Executed twice" is read from the servers' /history (each server's, taken just before it was
killed and at the end) and from the files ComfyUI's SaveImage wrote: a prompt that finished
on a server killed before the client collected its result is run again (its result died
with that server's in-memory history); any other second run is a fault of the client.

    .venv/bin/python bench/soak.py [--n 500] [--fault-every 50] [--size 512] [--lookahead 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from comfy_plugin.client import ComfyClient  # noqa: E402
from comfy_plugin.errors import ComfyError, PromptLost, ServerUnavailable  # noqa: E402
from comfy_plugin.files import write_new  # noqa: E402
from comfy_plugin.server.launcher import (  # noqa: E402
    LaunchedServer,
    default_python,
    free_port,
    launch,
)

COMFY_DIR = ROOT / ".comfyui" / "ComfyUI"
CPU_ARGS = ["--cpu", "--disable-all-custom-nodes"]
WORKFLOW = json.loads((ROOT / "workflows-files" / "noise-image-api.json").read_text())


def load_proxy_class():
    """tests/tcp_proxy.py, imported by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("tcp_proxy", ROOT / "tests" / "tcp_proxy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TcpProxy


def workflow(tag: str, key: int, size: int) -> dict:
    wf = json.loads(json.dumps(WORKFLOW))
    wf["1"]["inputs"].update(width=size, height=size)
    wf["2"]["inputs"]["seed"] = key
    wf["3"]["inputs"]["value"] = f"soak-{tag}-{key:05d}"  # SaveImage's prefix: noise_soak-TAG-KEY
    return wf


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


class Server:
    """The ComfyUI under test: one port and one base directory across restarts."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.launched: LaunchedServer | None = None
        self.histories: dict[str, dict] = {}  # prompt id -> entry, from every server that ran

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launched = launch(COMFY_DIR, default_python(ROOT), CPU_ARGS, port=self.port, workdir=self.workdir)

    def collect_history(self) -> None:
        try:
            self.histories.update(get_json(self.url + "/history"))
        except OSError:
            pass

    def kill_and_restart(self) -> float:
        self.collect_history()
        process = self.launched.process
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        started = time.monotonic()
        self.start()
        return time.monotonic() - started

    def stop(self) -> None:
        self.collect_history()
        process = self.launched.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(10)


def fresh_client(url: str, wait_s: float = 180.0) -> ComfyClient:
    deadline = time.monotonic() + wait_s
    while True:
        client = ComfyClient(url)
        try:
            client.system_stats()
            return client
        except ServerUnavailable:
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def soak(n: int, fault_every: int, size: int, lookahead: int, rng: random.Random) -> int:
    TcpProxy = load_proxy_class()
    tag = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="comfy-soak-"))
    out = workdir / "saved"
    server = Server(workdir)
    print(f"launching ComfyUI on port {server.port} (base directory {workdir / 'base'}) ...", flush=True)
    server.start()
    proxy = TcpProxy(server.url, lifetime_s=24 * 3600, max_connections=256).start()
    client = ComfyClient(proxy.url)

    pending: deque[int] = deque(range(n))
    inflight: deque[tuple[int, str]] = deque()
    submitted: Counter[int] = Counter()
    after_restart: set[int] = set()  # keys queued again because a restart lost them
    faults: list[str] = []
    cut_in_progress = threading.Event()
    failures_during_cuts: list[str] = []
    finished = 0
    next_fault = fault_every
    fault_thread: threading.Thread | None = None
    started = time.monotonic()

    def inject(kind: str) -> None:
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere in the middle of a prompt
        if kind == "cut":
            refuse = 4.0 if sum(f.startswith("cut") for f in faults) % 2 else 0.0
            cut_in_progress.set()
            closed = proxy.cut(refuse_ws_s=refuse)
            faults.append(f"cut after {finished} prompts: {closed} connection(s) closed"
                          + (f", socket refused for {refuse:g} s" if refuse else ""))
            time.sleep(refuse + 3.0)
            cut_in_progress.clear()
        else:
            took = server.kill_and_restart()
            faults.append(f"restart after {finished} prompts: killed, launched again in {took:.1f} s")

    def requeue(keys: list[int], reason: str) -> None:
        for key in reversed(keys):
            pending.appendleft(key)
            if reason == "restart":
                after_restart.add(key)

    while pending or inflight:
        try:
            while pending and len(inflight) <= lookahead:
                key = pending[0]
                prompt_id = client.submit(workflow(tag, key, size))
                pending.popleft()
                submitted[key] += 1
                inflight.append((key, prompt_id))
            key, prompt_id = inflight[0]
            result = client.wait(prompt_id, timeout=120)
            for index, file in enumerate(result.files):
                write_new(out, f"soak_{key:05d}_{index:02d}.png", client.download(file))
            inflight.popleft()
            finished += 1
        except (ServerUnavailable, PromptLost) as exc:
            if cut_in_progress.is_set():
                failures_during_cuts.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
            lost = [k for k, _ in inflight]
            inflight.clear()
            requeue(lost, "restart" if not cut_in_progress.is_set() else "cut")
            client.close()
            client = fresh_client(proxy.url)
            continue
        except ComfyError as exc:
            print(f"prompt {key}: {exc}", flush=True)
            inflight.popleft()
            continue
        if finished >= next_fault and pending and (fault_thread is None or not fault_thread.is_alive()):
            kind = "cut" if (next_fault // fault_every) % 2 else "restart"
            next_fault += fault_every
            fault_thread = threading.Thread(target=inject, args=(kind,), daemon=True)
            fault_thread.start()
        if finished % 50 == 0:
            print(f"  {finished} of {n} prompts done ({time.monotonic() - started:.0f} s)", flush=True)
    wall = time.monotonic() - started
    if fault_thread is not None:
        fault_thread.join()
    client.close()
    server.stop()
    proxy.stop()

    # What was saved, and how often each prompt ran on a server.
    saved = Counter(int(m.group(1)) for p in out.glob("*.png") if (m := re.match(r"soak_(\d+)_\d\d", p.name)))
    runs_history = Counter()
    for entry in server.histories.values():
        try:
            text = entry["prompt"][2]["3"]["inputs"]["value"]
        except (KeyError, IndexError, TypeError):
            continue
        if text.startswith(f"soak-{tag}-") and entry.get("status", {}).get("status_str") == "success":
            runs_history[int(text.rsplit("-", 1)[1])] += 1
    files_pattern = re.compile(rf"noise_soak-{tag}-(\d+)_\d+_\.png")
    runs_files = Counter(int(m.group(1)) for p in (workdir / "base" / "output").glob("*.png")
                         if (m := files_pattern.fullmatch(p.name)))
    twice = {k for k in range(n) if max(runs_history[k], runs_files[k]) > 1}
    unexplained = sorted(twice - after_restart)
    lost = [k for k in range(n) if saved[k] == 0]
    duplicated_images = sum(c - 1 for c in saved.values() if c > 1)

    print()
    print(f"prompts: {n} at {size}x{size}, lookahead {lookahead}, a fault every {fault_every}; wall {wall:.1f} s")
    for line in faults:
        print(f"  fault: {line}")
    print(f"images expected: {n}   saved: {sum(saved.values())}   "
          f"({'equal' if sum(saved.values()) == n else 'NOT EQUAL'})")
    print(f"lost (no image saved): {len(lost)}" + (f"  {lost[:20]}" if lost else ""))
    print(f"duplicated images saved: {duplicated_images}")
    print(f"executed twice on a server: {len(twice)} (from /history: {sum(c > 1 for c in runs_history.values())}, "
          f"from SaveImage's files: {sum(c > 1 for c in runs_files.values())}); "
          f"after a restart lost their result: {len(twice & after_restart)}, otherwise: {len(unexplained)}"
          + (f" {unexplained[:20]}" if unexplained else ""))
    print(f"queued again after a restart: {len(after_restart)} prompt(s); submits in all: {sum(submitted.values())}")
    print(f"client failures during socket cuts: {len(failures_during_cuts)}"
          + "".join(f"\n  {f}" for f in failures_during_cuts[:5]))
    shutil.rmtree(workdir, ignore_errors=True)
    ok = sum(saved.values()) == n and not lost and not duplicated_images and not unexplained and not failures_during_cuts
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="prompts (default 500)")
    parser.add_argument("--fault-every", type=int, default=50, help="prompts between faults (default 50)")
    parser.add_argument("--size", type=int, default=512, help="image width and height (default 512)")
    parser.add_argument("--lookahead", type=int, default=2, help="prompts queued ahead (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault timing (default 1)")
    args = parser.parse_args()
    if not (COMFY_DIR / "main.py").exists():
        print(f"no ComfyUI at {COMFY_DIR}: run scripts/setup.sh first", file=sys.stderr)
        return 2
    return soak(args.n, args.fault_every, args.size, args.lookahead, random.Random(args.seed))


if __name__ == "__main__":
    sys.exit(main())
