"""First contact: the README's converter example runs in a fresh clone, with no server
(``--object-info workflows-files/object-info.json``), and pyproject offers the xdist extra."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from comfy_plugin.uiformat.command import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_readmes_converter_example_needs_no_server(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"`\.venv/bin/python -m comfy_plugin convert ([^`]*)`", readme)
    offline = [c for c in commands if "--object-info" in c]
    assert offline, "the README shows the converter on the example with --object-info"
    assert not [c for c in commands if "--url" in c], "a fresh clone has no server to name"
    monkeypatch.chdir(ROOT)
    for command in offline:
        assert main(shlex.split(command)) == 0, capsys.readouterr().err
        prompt = json.loads(capsys.readouterr().out)
        assert prompt["10:3"]["class_type"] == "KSampler", "node 3 of subgraph instance 10, as the README says"


def test_the_xdist_extra_brings_pytest_xdist() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (tomllib: Python 3.11+ only)
    extras = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^xdist = \["pytest-xdist>=3"\]', extras, re.MULTILINE), extras
