"""The ComfyUI editor, served by a real ComfyUI, in headless Chromium: the oracle for the
UI-format converter. Driven over the DevTools protocol with websocket-client.

Chromium resolves nothing but loopback, so the editor cannot reach the internet.
"""

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

READY = "!!(window.app && window.app.graph && window.app.vueAppReady)"
TO_PROMPT = """(async () => {
  await app.loadGraphData(%s, true, true, null, {showMissingNodesDialog: false, showMissingModelsDialog: false});
  return (await app.graphToPrompt()).output;
})()"""


class EditorError(RuntimeError):
    """The browser or the page failed (not a difference between the editor and the converter)."""


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _wait(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise EditorError(f"timed out after {timeout_s:g} s waiting for {what}")


class Editor:
    """One Chromium showing the editor of the ComfyUI at ``url``."""

    def __init__(self, url: str, profile: Path, timeout_s: float = 120.0) -> None:
        binary = chromium_binary()
        if binary is None:
            raise EditorError("no chromium: install Debian's chromium package (scripts/setup.sh does)")
        self.timeout_s = timeout_s
        self._next_id = 0
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-quic", url.rstrip("/") + "/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file = profile / "DevToolsActivePort"
            port = _wait("Chromium's DevTools port", lambda: self._read_port(port_file), timeout_s)
            page = _wait("the editor's page", lambda: self._page(port), timeout_s)
            self.ws = websocket.create_connection(page, suppress_origin=True, timeout=timeout_s)
            _wait("the editor to start (window.app)", lambda: self.evaluate(READY), timeout_s)
        except BaseException:
            self.close()
            raise

    def _read_port(self, port_file: Path) -> str | None:
        if self.process.poll() is not None:
            raise EditorError(f"chromium exited with code {self.process.returncode}")
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

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), or EditorError on a throw."""
        self._next_id += 1
        call_id = self._next_id
        self.ws.send(json.dumps({"id": call_id, "method": "Runtime.evaluate", "params": {
            "expression": expression, "awaitPromise": True, "returnByValue": True}}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") != call_id:
                continue
            if "error" in message:
                raise EditorError(str(message["error"]))
            result = message["result"]
            if "exceptionDetails" in result:
                details = result["exceptionDetails"]
                text = (details.get("exception") or {}).get("description") or details.get("text")
                raise EditorError(f"the page threw: {str(text)[:500]}")
            return result["result"].get("value")

    def to_prompt(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """What the editor queues for ``workflow``: ``graphToPrompt().output``."""
        return self.evaluate(TO_PROMPT % json.dumps(workflow))

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
