"""The plugin's own lines (ComfyUI launched by the first prompt, a model downloaded) do not
break pytest's progress line: the file's dots and percentage stay together below them. No
server: a plain test says a line through the plugin, as the session does when it launches."""

from __future__ import annotations

import pytest

TESTS = """
from comfy_plugin.plugin.registry import comfy_state

def test_a(pytestconfig):
    comfy_state(pytestconfig).say("launching ComfyUI from /somewhere ...")
    comfy_state(pytestconfig).say("ComfyUI launched at http://127.0.0.1:1 (log: /tmp/x.log)")

def test_b():
    pass

def test_c():
    pass
"""


@pytest.mark.parametrize(("flags", "expected"), [
    ((), ["test_said.py ", "launching ComfyUI from /somewhere ...",
          "ComfyUI launched at http://127.0.0.1:1 (log: /tmp/x.log)", "test_said.py ... * [[]100%[]]"]),
    (("-v",), ["test_said.py::test_a ", "launching ComfyUI from /somewhere ...",
               "ComfyUI launched at http://127.0.0.1:1 (log: /tmp/x.log)", "test_said.py::test_a PASSED * [[] 33%[]]",
               "test_said.py::test_b PASSED * [[] 66%[]]"]),
])
def test_said_lines_leave_the_progress_line_whole(pytester: pytest.Pytester, flags: tuple[str, ...],
                                                   expected: list[str]) -> None:
    pytester.makepyfile(test_said=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", *flags)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(expected, consecutive=True)
