"""Live progress of the running prompt in the terminal: the node executing, sampler step k/n.

ComfyUI's socket messages (``executing`` {node}, ``progress`` {value, max, node}) reach the
client's reader thread. The listener here only records them, per ComfyUI prompt id, under a
lock; it writes to the terminal only while the current test's call phase runs and only for
that test's prompt (its ``prompt_id`` user properties), so nothing is written between
pytest's own lines. Messages that came before the test knew its prompt id (a prompt queued
ahead may run before its test starts) are written at the next message, or when the call ends.

- ``-q`` and pytest-xdist workers (no live channel to the terminal): nothing is shown;
- verbosity 0: nothing either (pytest's line of dots has no room for it);
- ``-v`` on a terminal: one line, rewritten in place (``\\r``) and cleared when the prompt ends;
- ``-v`` otherwise (a log, a pipe): one line per sampler step, ``  KSampler 3 step 2/4``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .item import PromptItem


def wanted(config: pytest.Config) -> bool:
    """Whether live progress is shown at all in this process."""
    return not hasattr(config, "workerinput") and config.get_verbosity() >= 1


class Progress:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._events: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # ComfyUI prompt id -> messages
        self._shown: dict[str, int] = {}  # ComfyUI prompt id -> messages already written
        self._item: PromptItem | None = None  # whose call phase runs
        self._transient = False  # a \r line is on the screen

    @property
    def tty(self) -> bool:
        """Whether pytest's terminal reporter writes to a terminal. Asked when writing: the
        reporter does not exist yet when the plugin is configured."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        return reporter is not None and bool(reporter.isatty())

    # -- the reader thread ----------------------------------------------------------------

    def listener(self, prompt_id: str, kind: str, data: dict[str, Any]) -> None:
        if kind not in ("executing", "progress"):
            return
        with self._lock:
            self._events.setdefault(prompt_id, []).append((kind, dict(data)))
            if self._item is not None:
                self._show(self._item)

    # -- the test thread ------------------------------------------------------------------

    def start(self, item: PromptItem) -> None:
        with self._lock:
            self._item = item

    def stop(self, item: PromptItem) -> None:
        with self._lock:
            self._show(item)
            self._item = None
            if self._transient:
                self._write(_clear_line)
                self._transient = False
            for prompt_id in _prompt_ids(item):
                self._events.pop(prompt_id, None)
                self._shown.pop(prompt_id, None)

    # -- under the lock -------------------------------------------------------------------

    def _show(self, item: PromptItem) -> None:
        for prompt_id in _prompt_ids(item):
            events = self._events.get(prompt_id, [])
            for kind, data in events[self._shown.get(prompt_id, 0):]:
                self._render(item, kind, data)
            self._shown[prompt_id] = len(events)

    def _render(self, item: PromptItem, kind: str, data: dict[str, Any]) -> None:
        node = data.get("node")
        if kind == "executing" and node is None:
            return  # the prompt ended: stop() clears the line
        label = _node_label(item, node)
        if kind == "progress":
            text = f"  {label} step {data.get('value')}/{data.get('max')}"
        elif self.tty:
            text = f"  {label}"
        else:
            return  # without a terminal: one line per sampler step only
        if self.tty:
            def rewrite(tr: pytest.TerminalReporter) -> None:
                if not self._transient:
                    tr.ensure_newline()
                tr.rewrite(text[: max(10, tr._tw.fullwidth - 1)], erase=True)
            self._write(rewrite)
            self._transient = True
        else:
            self._write(lambda tr: tr.write_line(text))

    def _write(self, action: Callable[[pytest.TerminalReporter], object]) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is None:
            action(reporter)
        else:
            with capture.global_and_fixture_disabled():
                action(reporter)
        reporter.flush()


def _prompt_ids(item: PromptItem) -> list[str]:
    return [str(value) for name, value in list(item.user_properties) if name == "prompt_id"]


def _clear_line(tr: pytest.TerminalReporter) -> None:
    tr.rewrite("", erase=True)
    tr.rewrite("")


def _node_label(item: PromptItem, node: object) -> str:
    """``KSampler 3``: the node's class (from the batch's workflow) and its id."""
    if node is None:
        return "?"
    return item.batch.node_label(str(node))
