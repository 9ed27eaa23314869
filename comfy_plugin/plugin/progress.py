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

import os
import threading
from collections.abc import Callable
from pathlib import Path
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


class OpenLine:
    """Lines of the plugin's own (ComfyUI launched by the first prompt, a model downloaded)
    written while pytest's progress line is open: each on a line of its own, and before the
    next result pytest writes, the progress line starts again with its prefix (the file's path
    before its dots, ``-v``'s test name before its word), so a file's dots and percentage stay
    on its line. Registered as a plugin on the first such line."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.cut: tuple[object, str] | None = None  # the open line's prefix, as pytest keeps it and as shown

    def write(self, reporter: pytest.TerminalReporter, line: str) -> None:
        open_line = reporter.currentfspath  # (public: what the open line starts with; None: none)
        cleared = False
        if self.cut is None and isinstance(open_line, (Path, str)):
            shown = os.path.relpath(open_line, reporter.startpath) + " " if isinstance(open_line, Path) else open_line
            self.cut = (open_line, shown)
            if reporter.isatty() and reporter._tw.width_of_current_line == len(shown):
                _clear_line(reporter)  # a terminal: the prefix alone goes, to come back below
                reporter.currentfspath = None
                cleared = True
        reporter.ensure_newline()
        if reporter._tw.width_of_current_line and not cleared:  # -q: dots with no prefix that pytest would end
            reporter.write("\n")
        reporter.write_line(line)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Before the terminal reporter writes the result: the cut line's prefix again."""
        if self.cut is None:
            return
        open_line, shown = self.cut
        self.cut = None
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and reporter.currentfspath is None:  # nothing else opened a line since
            reporter.write(shown)
            reporter.currentfspath = open_line


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
