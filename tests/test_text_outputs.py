"""Text outputs on the real server (``PrimitiveStringMultiline`` -> ``PreviewAny``, which reports
under ``text``): recorded, rerun green, a changed word fails with the kind and the diff, accepted
from the report and by ``--comfy-accept``, merged from pytest-xdist workers; and a prompt whose
only output no kind compares (``SaveLatent``'s ``.latent``) is never said to be recorded."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conftest import Project

FAIL = "--comfy-missing-baseline=fail"
TEXT_WORKFLOW = {
    "1": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a text"}},
    "2": {"class_type": "StringConcatenate", "inputs": {"string_a": ["1", 0], "string_b": "the end",
                                                          "delimiter": "\n"}},
    "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
}
LATENT_WORKFLOW = {
    "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "2": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "latents/L"}},
}


def text_batch(*texts: str, baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"workflow_file": "../workflows-files/text-api.json",
                              "workflow_items": {"positive_prompt": "1,inputs,value"},
                              "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "X"}}
    if baseline:
        params["baseline"] = baseline
    return {"parameters": params,
            "prompts": [{"id": f"words-{i}", "positive_prompt": text} for i, text in enumerate(texts)]}


def entries(project: Project, prompt: str = "words-0") -> list[dict[str, Any]]:
    return json.loads((project.path / "baselines" / "texts.json").read_text())["baselines"][prompt]


def junit_properties(path: Path) -> dict[str, str]:
    case = ET.parse(path).getroot().find(".//testcase")
    assert case is not None
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_a_text_is_recorded_compared_accepted_and_reruns_green(project: Project) -> None:
    (project.path / "workflows-files" / "text-api.json").write_text(json.dumps(TEXT_WORKFLOW))
    project.batch("texts.json", text_batch("the quick brown fox"))

    recorded = project.run("batches/", "--comfy-update-baselines")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["prompts: 1 recorded", "wrote *texts.json"])
    [entry] = entries(project)
    assert entry["kind"] == "text" and entry["file"] == "texts.thumbs/words-0_0.txt"
    kept = project.path / "baselines" / "texts.thumbs" / "words-0_0.txt"
    assert kept.read_text() == "the quick brown fox\nthe end", "a multi-line text lies beside its entry"
    saved = [p for p in project.images() if p.suffix == ".txt"]
    assert [p.read_text() for p in saved] == ["the quick brown fox\nthe end"]

    again = project.run("batches/", FAIL, f"--junitxml={project.path / 'same.xml'}")
    again.assert_outcomes(passed=1)
    properties = junit_properties(project.path / "same.xml")
    assert (properties["text_changed_lines_distance"], properties["text_changed_lines_threshold"]) == ("0", "0")

    # the server's text changes while the prompt does not: a regression, shown as a diff
    kept.write_text("the quick red fox\nthe end")
    entry_file = project.path / "baselines" / "texts.json"
    document = json.loads(entry_file.read_text())
    import hashlib

    document["baselines"]["words-0"][0]["sha256"] = hashlib.sha256(b"the quick red fox\nthe end").hexdigest()
    entry_file.write_text(json.dumps(document))
    report = project.path / "report.html"
    changed = project.run("batches/", FAIL, f"--comfy-report={report}")
    changed.assert_outcomes(failed=1)
    out = changed.stdout.str()
    assert "text 0 differs from its baseline: 1 line(s) changed" in out
    assert "-the quick red fox" in out and "+the quick brown fox" in out
    changed.stdout.fnmatch_lines(["*text_changed_lines distance 1 (threshold 0)*batches/texts.json::words-0"])
    page = report.read_text()
    assert 'data-nodeid="batches/texts.json::words-0"' in page and "accept-box" in page
    assert "the quick red fox" in page and "the quick brown fox" in page and "text-compare" in page

    (project.path / "accepted.json").write_text(json.dumps(["batches/texts.json::words-0"]))
    accepted = project.run(f"--comfy-accept={project.path / 'accepted.json'}")
    assert accepted.ret == 0, accepted.stdout.str()
    accepted.stdout.fnmatch_lines(["accepted batches/texts.json::words-0: 1 text(s) as its baseline*"])
    assert kept.read_text() == "the quick brown fox\nthe end"
    project.run("batches/", FAIL).assert_outcomes(passed=1)


def test_one_word_changed_in_the_prompt_fails_and_whitespace_can_be_ignored(project: Project) -> None:
    (project.path / "workflows-files" / "text-api.json").write_text(json.dumps(TEXT_WORKFLOW))
    project.batch("texts.json", text_batch("a fox", "spaced  out"))
    project.run("batches/", "-n", "2", "--dist", "load", "--comfy-update-baselines").assert_outcomes(passed=2)
    assert entries(project, "words-0")[0]["file"] and entries(project, "words-1")[0]["file"], \
        "both workers' texts reach the controller, which writes them"

    project.batch("texts.json", text_batch("a cat", "spaced  out"))
    changed = project.run("batches/", FAIL)
    changed.assert_outcomes(passed=1, failed=1)
    out = changed.stdout.str()
    assert "text 0 differs from its baseline: 1 line(s) changed" in out
    assert "positive_prompt: 'a fox' -> 'a cat'" in out and "-a fox" in out and "+a cat" in out

    project.batch("texts.json", text_batch("a fox", "spaced out"))
    project.run("batches/", FAIL).assert_outcomes(passed=1, failed=1)
    project.batch("texts.json", text_batch("a fox", "spaced out", baseline={"text_whitespace": "ignore"}))
    # the prompt's value changed too (one space): a changed test, unless whitespace is ignored
    project.run("batches/", FAIL).assert_outcomes(passed=2)


def test_an_update_of_an_output_no_kind_compares_records_nothing_and_says_so(project: Project) -> None:
    """Before: "prompts: 1 recorded" and "wrote baselines/latent.json", and no such file."""
    (project.path / "workflows-files" / "latent-api.json").write_text(json.dumps(LATENT_WORKFLOW))
    project.batch("latent.json", {
        "parameters": {"workflow_file": "../workflows-files/latent-api.json",
                       "workflow_items": {"width": "1,inputs,width"},
                       "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "L"}},
        "prompts": [{"id": "small", "width": 64}]})
    result = project.run("batches/", "--comfy-update-baselines", "-v")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["prompts: 1 not-compared", "not compared: 1 .latent (no output kind compares them*",
                                 "nothing recorded: no baseline file written"])
    assert "1 recorded" not in out and "wrote " not in out
    assert not (project.path / "baselines").exists()
    assert [p.suffix for p in project.images()] == [".latent"], "the output itself is saved"
