"""The ComfyUI editor, served by a real ComfyUI, in headless Chromium: the oracle for the
UI-format converter (see tests/browser.py for the driver)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from browser import Browser, BrowserError, chromium_binary, wait_for

READY = "!!(window.app && window.app.graph && window.app.vueAppReady)"
TO_PROMPT = """(async () => {
  await app.loadGraphData(%s, true, true, null, {showMissingNodesDialog: false, showMissingModelsDialog: false});
  return (await app.graphToPrompt()).output;
})()"""

#: Many workflows in one evaluation (one round trip); each gives its output or its error.
TO_PROMPTS = """(async (workflows) => {
  const found = [];
  for (const workflow of workflows) {
    try {
      await app.loadGraphData(workflow, true, true, null, {showMissingNodesDialog: false,
                                                           showMissingModelsDialog: false});
      found.push({output: (await app.graphToPrompt()).output});
    } catch (e) {
      found.push({error: String((e && e.stack) || e)});
    }
  }
  return found;
})(%s)"""
#: Seconds the editor may take per workflow of a batch (about 0.3 s each on two cores).
BATCH_S_PER_WORKFLOW = 5.0

EditorError = BrowserError  # the browser or the page failed (not a difference from the converter)
__all__ = ["Editor", "EditorError", "chromium_binary"]


class Editor(Browser):
    """One Chromium showing the editor of the ComfyUI at ``url``."""

    def __init__(self, url: str, profile: Path, timeout_s: float = 120.0) -> None:
        super().__init__(url.rstrip("/") + "/", profile, timeout_s)
        try:
            wait_for("the editor to start (window.app)", lambda: self.evaluate(READY), timeout_s)
        except BaseException:
            self.close()
            raise

    def to_prompt(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """What the editor queues for ``workflow``: ``graphToPrompt().output``."""
        return self.evaluate(TO_PROMPT % json.dumps(workflow))

    def to_prompts(self, workflows: list[dict[str, Any]]) -> list[dict[str, Any] | EditorError]:
        """``to_prompt`` of each workflow, in one evaluation; an EditorError where one failed."""
        found = self.evaluate(TO_PROMPTS % json.dumps(workflows),
                              timeout_s=self.timeout_s + BATCH_S_PER_WORKFLOW * len(workflows))
        return [item["output"] if "output" in item else EditorError(f"the page threw: {item['error'][:500]}")
                for item in found]
