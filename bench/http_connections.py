#!/usr/bin/env python3
"""What a new TCP connection per request costs: the client's and the server's CPU of N
``GET /history/<id>`` through the plugin's transport (urllib: one connection a request) and
through one kept-alive ``http.client`` connection, against the development ComfyUI launched for
it. A small prompt makes two such requests (its POST and its /history), so this says what
keep-alive would save. Not a test; the two ways alternate, twice.

    .venv/bin/python bench/http_connections.py [--n 1000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import time
import urllib.parse

from busy import COMFY_DIR, ROOT
from launched_run import LAUNCH_ARGS

from comfy_plugin.client.transport import Transport
from comfy_plugin.server.launcher import default_python, launch

PATH = "/history/not-a-prompt"  # an empty answer: the request's own cost


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def through_transport(url: str, n: int) -> None:
    transport = Transport(url)
    for _ in range(n):
        transport.get_json(PATH)


def kept_alive(url: str, n: int) -> None:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        for _ in range(n):
            connection.request("GET", PATH)
            connection.getresponse().read()
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    server = launch(COMFY_DIR, default_python(ROOT), LAUNCH_ARGS)
    try:
        ways = [("a connection a request (urllib)", through_transport), ("one kept-alive connection", kept_alive)]
        for name, way in ways * 2:
            pid = server.process.pid
            server_before, client_before, wall_before = process_cpu_s(pid), time.thread_time(), time.monotonic()
            way(server.url, args.n)
            spent = (process_cpu_s(pid) - server_before, time.thread_time() - client_before,
                     time.monotonic() - wall_before)
            server_ms, client_ms, wall_ms = (x / args.n * 1000 for x in spent)
            print(f"{name:<33} per request: client CPU {client_ms:.3f} ms, server CPU {server_ms:.3f} ms, "
                  f"wall {wall_ms:.3f} ms", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
