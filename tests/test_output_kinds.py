"""A kind of output defined in this file alone (the byte length of a text output) goes through
the whole harness on the real server: recorded, compared, summarised, in junit and the HTML
report, and accepted, beside the still images of the same prompt. Nothing of the plugin
knows this kind: it comes in through the ``pytest_comfy_output_kinds`` hook."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from comfy_plugin.client import OutputFile
from comfy_plugin.media.kind import (
    CompareContext,
    KindVerdict,
    OutputKind,
    Recordable,
    SavedOutput,
    SideFiles,
    Stored,
)
from conftest import Project

FAIL = "--comfy-missing-baseline=fail"


@dataclass(frozen=True)
class Length:
    """What a baseline keeps of a text: its length in bytes."""

    length: int
    kind: ClassVar[str] = "length"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "length": self.length}

    def settled(self) -> Length:
        return self

    def side_files(self) -> tuple[str, ...]:
        return ()


class ByteLength(OutputKind):
    name = "length"
    noun = "text"

    def recognises(self, file: OutputFile, data: bytes) -> str | None:
        return f"{len(data)} bytes" if file.kind == "text" else None

    def compare(self, stored: list[Stored] | None, outputs: list[SavedOutput], context: CompareContext) -> KindVerdict:
        seen = tuple(Length(len(o.data)) for o in outputs)
        card = {"lengths": [s.length for s in seen]} if context.report else {}
        if stored is None:
            return KindVerdict(self.name, "missing", "no length recorded", observed=seen, card=card)
        old = [s.length for s in stored if isinstance(s, Length)]
        distances = tuple(float(abs(a.length - b)) for a, b in zip(seen, old))
        card["baseline"] = old
        same = len(old) == len(seen) and not any(distances)
        message = f"text length {old} -> {[s.length for s in seen]}"
        return KindVerdict(self.name, "match" if same else "diff", ("" if same else "text differs: ") + message,
                           {"bytes": (distances, 0.0)}, seen, unchanged=same, card=card)

    def preview(self, outputs: list[SavedOutput]) -> dict[str, Any]:
        return {"lengths": [len(o.data) for o in outputs]}

    def read_entry(self, data: Mapping[str, Any], where: str) -> Stored:
        return Length(int(data["length"]))

    def read_observed(self, data: Mapping[str, Any]) -> Recordable:
        return Length(int(data["length"]))

    def keep(self, seen: Recordable, files: SideFiles, prompt_id: str, index: int) -> Stored:
        assert isinstance(seen, Length)
        return seen

    def card_html(self, card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
        return (f'<div class="length-card">lengths {html.escape(str(card.get("lengths")))}, '
                f'baseline {html.escape(str(card.get("baseline")))}</div>')


class KindPlugin:
    @staticmethod
    def pytest_comfy_output_kinds() -> list[OutputKind]:
        return [ByteLength()]


WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 24, "batch_size": 1, "color": 3355443}},
    "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 0, "strength": 0.6}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "K"}},
    "4": {"class_type": "PrimitiveString", "inputs": {"value": "a text"}},
    "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}},
}


def batch(text: str) -> dict[str, Any]:
    return {"parameters": {"workflow_file": "../workflows-files/kinds-api.json",
                           "workflow_items": {"positive_prompt": "4,inputs,value", "seed": "2,inputs,seed"},
                           "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "K"}},
            "prompts": [{"id": "words", "positive_prompt": text, "seed": 7}]}


def run(project: Project, *args: str) -> pytest.RunResult:
    return project.pytester.runpytest("--comfy-url", project.url, "-p", "no:cacheprovider", *args,
                                      plugins=[KindPlugin()])


def junit_properties(path: Path) -> dict[str, str]:
    case = ET.parse(path).getroot().find(".//testcase")
    assert case is not None
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_a_kind_of_the_test_file_is_recorded_compared_reported_and_accepted(project: Project) -> None:
    (project.path / "workflows-files" / "kinds-api.json").write_text(json.dumps(WORKFLOW))
    project.batch("kinds.json", batch("hello"))

    recorded = run(project, "batches/", "--comfy-update-baselines")
    recorded.assert_outcomes(passed=1)
    entries = json.loads((project.path / "baselines" / "kinds.json").read_text())["baselines"]["words"]
    assert {"kind": "length", "length": 5} in entries
    assert [e.get("kind", "image") for e in entries] == ["image", "length"]
    recorded.stdout.fnmatch_lines(["prompts: 1 recorded"])

    again = run(project, "batches/", FAIL, f"--junitxml={project.path / 'same.xml'}")
    again.assert_outcomes(passed=1)
    properties = junit_properties(project.path / "same.xml")
    assert properties["length_bytes_distance"] == "0" and properties["length_bytes_threshold"] == "0"
    assert properties["hash_distance"] == "0", "still images keep their documented names"

    project.batch("kinds.json", batch("hello world"))
    report = project.path / "report.html"
    changed = run(project, "batches/", FAIL, f"--comfy-report={report}", f"--junitxml={project.path / 'x.xml'}")
    changed.assert_outcomes(failed=1)
    assert "text differs: text length [5] -> [11]" in changed.stdout.str()
    changed.stdout.fnmatch_lines(["*length_bytes distance 6 (threshold 0)*batches/kinds.json::words"])
    assert junit_properties(project.path / "x.xml")["length_bytes_distance"] == "6"
    page = report.read_text()
    assert '<div class="length-card">lengths [11], baseline [5]</div>' in page
    assert 'data-nodeid="batches/kinds.json::words"' in page and "accept-box" in page

    (project.path / "accepted.json").write_text(json.dumps(["batches/kinds.json::words"]))
    accepted = run(project, f"--comfy-accept={project.path / 'accepted.json'}")
    assert accepted.ret == 0, accepted.stdout.str()
    accepted.stdout.fnmatch_lines(["accepted batches/kinds.json::words: 1 image(s), 1 length(s) as its baseline*"])
    entries = json.loads((project.path / "baselines" / "kinds.json").read_text())["baselines"]["words"]
    assert {"kind": "length", "length": 11} in entries
    run(project, "batches/", FAIL).assert_outcomes(passed=1)
