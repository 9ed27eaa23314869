"""Live progress in a real terminal: one line rewritten in place, under a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

from test_checkpoint import tiny_batch

from conftest import Project


def run_in_pty(args: list[str], cwd, timeout_s: float = 300.0) -> tuple[int, bytes]:
    """Run a command with a pseudo-terminal as its stdout and stderr; return its exit code and
    everything it wrote, byte for byte (carriage returns and escape codes included)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm"}
    proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    out = bytearray()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other side closed: the process ended
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=max(1.0, deadline - time.monotonic())), bytes(out)


def test_progress_rewrites_one_line_in_a_terminal(project: Project) -> None:
    """Before the fix the terminal was probed before pytest's reporter existed: one line per step."""
    (project.path / "batches" / "tiny.json").write_text(json.dumps(
        tiny_batch([{"id": "steps", "positive_prompt": "a lighthouse in fog", "seed": 9191}])))
    code, out = run_in_pty([sys.executable, "-m", "pytest", "batches/", "-v", "-p", "no:cacheprovider",
                            "--comfy-url", project.url, "--rootdir", str(project.path)], cwd=project.path)
    text = out.decode("utf-8", "replace")
    assert code == 0, text
    assert text.count("KSampler 3 step ") >= 2, text
    steps = [text.index(f"KSampler 3 step {n}/4") for n in (1, 4)]
    between = text[steps[0]:steps[1]]
    assert "\r" in between and "\n" not in between, f"the step lines rewrite one line: {between!r}"
    assert "batches/tiny.json::steps PASSED" in text
