"""``--comfy-ci``: the one documented way to run the regression set in CI, which cannot pass
without comparing anything.

The option makes a missing model, node type or baseline fail its prompt (``options.py`` turns
both missing policies to fail) and, here, fails the session when no prompt was compared with a
baseline (all skipped, none selected, none with fixed seeds). Its summary section names what
was missing. Registered only with the option; it acts only once the plugin is active, so an
exported ``COMFY_CI`` never fails a project without batch files.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from .registry import comfy_state

if TYPE_CHECKING:
    from ..baselines.verdict import Verdict

NAME = "comfy-ci"
LACKS_PROPERTY = "comfy_lacks"  # a report's user property: what the server lacks (travels with xdist)
#: Verdicts that say the prompt's outputs were compared with a baseline.
COMPARED = ("match", "diff", "changed-test", "unchanged")
_LACKED = re.compile(r"server lacks (model|node type) '([^']*)'")


class CiCheck:
    """What ``--comfy-ci`` adds: the failure of a session that compared nothing, and its summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.lacking: dict[str, str] = {}  # node id -> what the server lacks (its failure's text)
        self.compared = 0
        self.nothing_compared = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None],
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """A prompt failed for a model or node type the server lacks: say so in its report
        (a user property, which pytest-xdist carries to the controller)."""
        report = yield
        if call.when == "call" and call.excinfo is not None:
            from ..errors import ModelMissing

            error = getattr(call.excinfo.value, "report", None)
            error = getattr(error, "error", None)
            if isinstance(error, ModelMissing):
                report.user_properties.append((LACKS_PROPERTY, str(error)))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        lacks = [str(value) for name, value in report.user_properties if name == LACKS_PROPERTY]
        if lacks:
            self.lacking[report.nodeid] = lacks[0]

    def _verdicts(self) -> dict[str, Verdict] | None:
        plugin = comfy_state(self.config)
        return None if plugin.parts is None or plugin.is_worker else plugin.parts.regression.verdicts

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """No prompt compared: the session fails (exit status 1), whatever the tests said."""
        verdicts = self._verdicts()
        if verdicts is None or session.exitstatus == pytest.ExitCode.INTERRUPTED \
                or comfy_state(self.config).settings.check:  # --comfy-check compares nothing by design
            return
        self.compared = sum(v.status in COMPARED for v in verdicts.values())
        if self.compared:
            return
        self.nothing_compared = True
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True)  # after the plugin's own sections: nearest the final line
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        verdicts = self._verdicts()
        if verdicts is None:
            return
        missing = sorted(nodeid for nodeid, v in verdicts.items() if v.status == "missing")
        lines = lacking_lines(self.lacking) + missing_lines(missing)
        if not (lines or self.nothing_compared):
            return
        tr = terminalreporter
        tr.write_sep("-", "CI (--comfy-ci)")
        if self.nothing_compared:
            tr.write_line("CI failed: no prompt was compared with a baseline, so this run proves nothing "
                          "(exit status 1)", red=True, bold=True)
        else:
            tr.write_line(f"{self.compared} prompt(s) compared with their baselines")
        for line in lines:
            tr.write_line(line, red=not line.startswith("  "))


def lacking_lines(lacking: dict[str, str]) -> list[str]:
    """``missing model 'x.safetensors': a, b`` for each model or node type the server lacks."""
    by_what: dict[str, list[str]] = {}
    for nodeid, text in sorted(lacking.items()):
        found = [f"missing {kind} '{name}'" for kind, name in _LACKED.findall(text)] or [text.splitlines()[0]]
        for what in dict.fromkeys(found):
            by_what.setdefault(what, []).append(nodeid)
    lines = [f"{what}: {len(ids)} prompt(s) failed: {', '.join(ids)}" for what, ids in by_what.items()]
    if lines:
        lines.append("  install it on the server (--comfy-check lists what a server lacks), or deselect those "
                     "prompts (-m, -k)")
    return lines


def missing_lines(missing: list[str]) -> list[str]:
    """The prompts without a baseline, and the command that records them."""
    if not missing:
        return []
    files = " ".join(sorted({nodeid.split("::")[0] for nodeid in missing}))
    return [f"missing baseline: {len(missing)} prompt(s) failed: {', '.join(missing)}",
            f"  record them with: pytest {files} --comfy-update-baselines (and commit baselines/)"]


def register(config: pytest.Config) -> None:
    """Called at configure time when ``--comfy-ci`` is set."""
    config.pluginmanager.register(CiCheck(config), NAME)
