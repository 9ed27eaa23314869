"""Headless Chromium driven over the DevTools protocol with websocket-client: a page loaded,
JavaScript evaluated in it, downloads allowed into a folder. Chromium resolves nothing but
loopback, so a page cannot reach the internet."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import websocket


class BrowserError(RuntimeError):
    """The browser or the page failed."""


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def wait_for(what: str, check: Any, timeout_s: float) -> Any:
    """``check()``'s first truthy value, asked every 0.1 s; BrowserError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise BrowserError(f"timed out after {timeout_s:g} s waiting for {what}")


class Browser:
    """One headless Chromium showing the page at ``url``."""

    def __init__(self, url: str, profile: Path, timeout_s: float = 120.0,
                 window: tuple[int, int] | None = None) -> None:
        binary = chromium_binary()
        if binary is None:
            raise BrowserError("no chromium: run make test (scripts/system-packages.sh installs it), "
                               "or: sudo apt-get install -y chromium")
        self.timeout_s = timeout_s
        self._next_id = 0
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-quic", *([f"--window-size={window[0]},{window[1]}"] if window else []),
             url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file = profile / "DevToolsActivePort"
            port = wait_for("Chromium's DevTools port", lambda: self._read_port(port_file), timeout_s)
            page = wait_for("the page", lambda: self._page(port), timeout_s)
            self.ws = websocket.create_connection(page, suppress_origin=True, timeout=timeout_s)
        except BaseException:
            self.close()
            raise

    def _read_port(self, port_file: Path) -> str | None:
        if self.process.poll() is not None:
            raise BrowserError(f"chromium exited with code {self.process.returncode}")
        try:
            lines = port_file.read_text().split()
        except OSError:
            return None
        return lines[0] if len(lines) >= 2 else None

    @staticmethod
    def _page(port: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                targets = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None
        pages = [t for t in targets if t.get("type") == "page" and "webSocketDebuggerUrl" in t]
        return pages[0]["webSocketDebuggerUrl"] if pages else None

    def wait_loaded(self) -> None:
        """Until the page given at start (not Chromium's first about:blank) has loaded."""
        wait_for("the page to load", lambda: self.evaluate(
            "location.href !== 'about:blank' && document.readyState === 'complete'"), self.timeout_s)

    def command(self, method: str, timeout_s: float | None = None, **params: Any) -> dict[str, Any]:
        """One DevTools command on the page; its result (within ``timeout_s``, default the
        browser's own)."""
        self._next_id += 1
        call_id = self._next_id
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        self.ws.settimeout(timeout_s or self.timeout_s)
        try:
            while True:
                message = json.loads(self.ws.recv())
                if message.get("id") != call_id:
                    continue
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
        finally:
            self.ws.settimeout(self.timeout_s)

    def allow_downloads(self, folder: Path) -> None:
        """Files the page downloads are saved in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.command("Page.setDownloadBehavior", behavior="allow", downloadPath=str(folder))

    def evaluate(self, expression: str, timeout_s: float | None = None) -> Any:
        """The value of a JavaScript expression (promises awaited), or BrowserError on a throw."""
        result = self.command("Runtime.evaluate", timeout_s, expression=expression, awaitPromise=True,
                              returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = (details.get("exception") or {}).get("description") or details.get("text")
            raise BrowserError(f"the page threw: {str(text)[:500]}")
        return result["result"].get("value")

    def key(self, key: str) -> None:
        """A key pressed and released on the page, as a person types it."""
        for kind in ("keyDown", "keyUp"):
            self.command("Input.dispatchKeyEvent", type=kind, key=key, text=key if kind == "keyDown" else "")

    def screenshot(self, path: Path) -> Path:
        """The page's window as a PNG."""
        import base64

        path.write_bytes(base64.b64decode(self.command("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
