"""A real HTTP server (http.server in a thread) that serves model files for the fetch tests:
it counts requests, honours ``Range`` or not, and can drop the connection mid-file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 1 << 20


@dataclass
class Served:
    files: dict[str, Path]  # URL path -> file
    ranges: bool = True  # answer a Range request with 206
    drops: int = 0  # this many requests are cut after drop_at bytes of the body
    drop_at: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)  # each GET's path and Range header
    url: str = ""

    def count(self, path: str) -> int:
        return sum(r["path"] == path for r in self.requests)


class _Handler(BaseHTTPRequestHandler):
    served: Served

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read ``served.requests``."""

    def do_GET(self) -> None:
        served = self.served
        served.requests.append({"path": self.path, "range": self.headers.get("Range", "")})
        path = served.files.get(self.path)
        if path is None:
            self.send_error(404)
            return
        size = path.stat().st_size
        start = 0
        wanted = self.headers.get("Range", "")
        if served.ranges and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes="):-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        cut = served.drops > 0
        if cut:
            served.drops -= 1
        sent = 0
        with open(path, "rb") as f:
            f.seek(start)
            while chunk := f.read(CHUNK):
                if cut and sent + len(chunk) > served.drop_at:
                    self.wfile.write(chunk[: max(0, served.drop_at - sent)])
                    self.wfile.flush()
                    self.close_connection = True
                    return  # the socket closes with the body short of its Content-Length
                self.wfile.write(chunk)
                sent += len(chunk)


@contextmanager
def serving(files: dict[str, Path], **options: object) -> Iterator[Served]:
    served = Served(files, **options)  # type: ignore[arg-type]
    handler = type("Handler", (_Handler,), {"served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
