"""Small translations between pytest's test reports and the plugin's own records."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..report.html import Recorder
    from .item import PromptItem


def outcome_of(report: pytest.TestReport) -> tuple[str, str, float] | None:
    """A prompt test's outcome and why (for the summary and the HTML report), from the report
    of the phase that decides it; None for the other phases and for other tests."""
    if not any(name == "prompt" for name, _ in report.user_properties):
        return None
    deciding = report.when == "call" or (report.when == "setup" and not report.passed) or \
        (report.when == "teardown" and report.failed)
    if not deciding:
        return None
    outcome = ("xfailed" if report.skipped else "xpassed") if hasattr(report, "wasxfail") else report.outcome
    message = ""
    if report.failed:
        message = report.longreprtext[-4000:]
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
    return outcome, message, report.duration


def adjust_report(item: PromptItem, report: pytest.TestReport, recorder: Recorder) -> None:
    """A skipped prompt points at its batch file (not the plugin's line) in ``-rs``; with
    pytest-html, the prompt's output thumbnails become extras of its report."""
    if report.skipped and isinstance(report.longrepr, tuple) and not hasattr(report, "wasxfail"):
        path, line, _ = item.reportinfo()
        report.longrepr = (str(path), (line or 0) + 1, report.longrepr[2])
    try:
        import pytest_html
    except ImportError:
        return
    thumbs = recorder.thumbnails(item.nodeid)
    if thumbs:
        extras = list(getattr(report, "extras", []))
        extras += [pytest_html.extras.image(b64, mime_type="image/png") for b64 in thumbs]
        report.extras = extras  # type: ignore[attr-defined]  # pytest-html's: TestReport lacks it
