"""The text kind (media/text.py) without a server: recorded inline or beside the entry,
compared exactly or ignoring whitespace, a diff in the failure, readings, pending results and
pytest-xdist payloads; and a prompt whose outputs no kind recognises is never "recorded"."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from comfy_plugin.baselines.regression import Regression
from comfy_plugin.baselines.results import SessionResults
from comfy_plugin.baselines.verdict import Verdict
from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.client import OutputFile
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.media.text import INLINE_CHARS, Texts, changed_lines, unified
from comfy_plugin.run.prepare import PreparedPrompt
from comfy_plugin.settings import BaselineSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = BaselineSettings(update=False, prune=False, root=Path("baselines"), env=None, missing="fail",
                            hash="phash-8", threshold=None, fresh=False)
NODE = "batches/t.json::words"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "workflows-files" / "noise-image-api.json", tmp_path / "wf.json")
    (tmp_path / "batches").mkdir()
    write_batch(tmp_path)
    return tmp_path


def write_batch(root: Path, baseline: dict[str, Any] | None = None, prompt_baseline: dict[str, Any] | None = None,
                text: str = "a fox") -> None:
    prompt: dict[str, Any] = {"id": "words", "seed": 5, "positive_prompt": text}
    if prompt_baseline is not None:
        prompt["baseline"] = prompt_baseline
    params: dict[str, Any] = {"workflow_file": "../wf.json",
                              "workflow_items": {"positive_prompt": "3,inputs,value", "seed": "2,inputs,seed"}}
    if baseline is not None:
        params["baseline"] = baseline
    (root / "batches" / "t.json").write_text(json.dumps({"parameters": params, "prompts": [prompt]}))


def regression(root: Path, **changes: Any) -> Regression:
    return Regression.create(replace(SETTINGS, root=root / "baselines", **changes), root, "batches", report=True)


def output(kinds: Kinds, kind: str, name: str, data: bytes) -> Any:
    return kinds.saved(OutputFile("9", kind, name, "", "output" if kind != "text" else "text"), None, data)


def check(reg: Regression, root: Path, *texts: str, files: tuple[tuple[str, str], ...] = ()) -> Verdict:
    """One prompt of batches/t.json checked as if the server had produced ``texts`` (and ``files``:
    (output key, file name) of outputs no kind recognises)."""
    batch = load_batch(root / "batches" / "t.json", "batches/t.json", root)
    reg.collected(batch)
    spec = batch.prompts[0]
    outputs = [output(reg.kinds, key, name, b"\x00binary") for key, name in files]
    outputs += [output(reg.kinds, "text", f"text-{i}.txt", t.encode("utf-8")) for i, t in enumerate(texts)]
    return reg.check(NODE, batch, spec, PreparedPrompt(batch.workflow, dict(spec.values), None), outputs)


def stored(root: Path) -> list[dict[str, Any]]:
    return json.loads((root / "baselines" / "t.json").read_text())["baselines"]["words"]


def record(root: Path, *texts: str) -> Regression:
    reg = regression(root, update=True)
    verdict = check(reg, root, *texts)
    assert (verdict.status, verdict.message) == ("recorded", f"baseline recorded ({len(texts)} text(s))")
    reg.finish()
    assert reg.written == [str(root / "baselines" / "t.json")]
    return reg


def test_a_text_output_is_recognised_by_the_text_kind_after_still_images() -> None:
    kinds = Kinds.of()
    names = [k.name for k in kinds.all]
    assert names.index("text") == names.index("image") + 1
    assert output(kinds, "text", "t.txt", b"two\nlines").detail == "9 character(s), 2 line(s)"
    assert output(kinds, "images", "x.png", b"not an image").kind == ""


def test_a_short_text_is_kept_in_its_entry_and_reruns_green(project: Path) -> None:
    record(project, "a fox in the snow")
    [entry] = stored(project)
    assert entry["kind"] == "text" and entry["text"] == "a fox in the snow" and "file" not in entry
    assert len(entry["sha256"]) == 64 and entry["params"]["positive_prompt"] == "a fox"
    again = check(regression(project), project, "a fox in the snow")
    assert (again.status, again.failed) == ("match", False)
    assert again.readings == {"text_changed_lines": ((0.0,), 0.0)}
    update = check(regression(project, update=True), project, "a fox in the snow")
    assert update.status == "unchanged", "an unchanged text does not churn the baseline file"


def test_one_word_changed_fails_with_the_kind_and_a_diff(project: Path) -> None:
    record(project, "line one\nthe quick brown fox\nline three")
    reg = regression(project)
    verdict = check(reg, project, "line one\nthe quick red fox\nline three")
    assert verdict.status == "diff" and verdict.failed
    lines = verdict.message.splitlines()
    assert lines[0] == "text 0 differs from its baseline: 1 line(s) changed"
    assert "    -the quick brown fox" in lines and "    +the quick red fox" in lines
    assert "    --- baseline" in lines and "    +++ new" in lines
    assert verdict.readings["text_changed_lines"] == ((1.0,), 0.0)
    assert verdict.worst_reading() == ("text_changed_lines", 1.0, 0.0)
    [card] = reg.cards[NODE]
    assert card["kind"] == "text" and card["comparisons"][0]["baseline"].startswith("line one")
    page = Texts().card_html(card, lambda inner, path: inner)
    assert "the quick brown fox" in page and "the quick red fox" in page and "-the quick brown fox" in page
    assert NODE in reg.reviewable, "a differing text may be accepted from the report"


def test_a_long_text_lies_beside_its_entry_as_a_plain_file(project: Path) -> None:
    text = "first line\n" + "x" * (INLINE_CHARS + 1)
    record(project, text)
    [entry] = stored(project)
    assert "text" not in entry and entry["file"] == "t.thumbs/words_0.txt"
    assert (project / "baselines" / "t.thumbs" / "words_0.txt").read_text() == text
    assert check(regression(project), project, text).status == "match"
    (project / "baselines" / "t.thumbs" / "words_0.txt").write_text("edited")
    with pytest.raises(BaselineError, match="does not match the digest"):
        check(regression(project), project, text)


def test_whitespace_is_ignored_when_the_batch_file_or_the_prompt_says_so(project: Path) -> None:
    record(project, "a  fox\n\nin the snow ")
    spaced = "a fox\nin  the\tsnow"
    assert check(regression(project), project, spaced).status == "diff", "exact by default"
    write_batch(project, baseline={"text_whitespace": "ignore"})
    verdict = check(regression(project), project, spaced)
    assert verdict.status == "match" and "(whitespace ignored)" in verdict.message
    assert check(regression(project), project, "a fox in the rain").status == "diff"
    write_batch(project, baseline={"text_whitespace": "ignore"}, prompt_baseline={"text_whitespace": "exact"})
    assert check(regression(project), project, spaced).status == "diff", "the prompt's key wins"


def test_a_changed_prompt_is_a_changed_test_and_another_count_is_a_diff(project: Path) -> None:
    record(project, "a fox")
    write_batch(project, text="a cat")
    changed = check(regression(project), project, "a cat")
    assert changed.status == "changed-test" and "positive_prompt: 'a fox' -> 'a cat'" in changed.message
    write_batch(project)
    two = check(regression(project), project, "a fox", "more")
    assert two.status == "diff" and two.message.startswith("the baseline holds 1 text(s), the prompt produced 2")


def test_texts_travel_as_pending_results_and_worker_payloads(project: Path) -> None:
    reg = regression(project)
    check(reg, project, "line\n" * 300)
    key, prompt_id, seen = reg.reviewable[NODE]
    payload = json.loads(json.dumps(reg.results.to_json()))
    assert payload["updates"] == {}, "nothing recorded without an update"
    pending = json.loads(json.dumps([o.to_json() for o in seen]))
    assert pending[0]["text"] == "line\n" * 300
    back = [reg.kinds.of_json(o).read_observed(o) for o in pending]
    accepted = regression(project)
    accepted.results.record(key, prompt_id, back)
    merged = SessionResults.from_json(json.loads(json.dumps(accepted.results.to_json())), accepted.kinds)
    accepted.results = merged
    accepted.finish()
    assert accepted.written and stored(project)[0]["file"] == "t.thumbs/words_0.txt"
    assert check(regression(project), project, "line\n" * 300).status == "match"


def test_changed_lines_and_the_diff() -> None:
    assert changed_lines("a\nb\nc", "a\nB\nc", "exact") == 1
    assert changed_lines("a\nb", "a\nb\nc\nd", "exact") == 2
    assert changed_lines("a b", "a\nb", "ignore") == 0
    assert changed_lines("a", "a\n", "exact") == 1, "a final newline is a difference when exact"
    assert unified("a", "a\n")[2:] == ["-'a'", "+'a\\n'"]
    long = unified("\n".join(map(str, range(100))), "\n".join(map(str, range(100, 200))), limit=10)
    assert len(long) == 11 and long[-1].endswith("more line(s) of the diff")


def test_an_update_of_outputs_no_kind_compares_records_nothing_and_says_so(project: Path) -> None:
    """Before: "baseline recorded (0 image(s))" and "wrote baselines/t.json", and no such file."""
    reg = regression(project, update=True)
    verdict = check(reg, project, files=(("3d", "model.glb"), ("latents", "x.latent")))
    assert verdict.status == "not-compared"
    assert verdict.message == "not compared: no output kind compares 1 .glb, 1 .latent"
    assert verdict.uncompared == (".glb", ".latent")
    assert Verdict.from_json(json.loads(json.dumps(verdict.to_json()))) == verdict
    reg.finish()
    assert reg.written == [] and not (project / "baselines").exists()


def test_an_uncomparable_output_beside_a_text_is_named_and_not_recorded(project: Path) -> None:
    reg = regression(project, update=True)
    verdict = check(reg, project, "a fox", files=(("3d", "model.glb"),))
    assert verdict.status == "recorded" and verdict.uncompared == (".glb",)
    assert verdict.message == "baseline recorded (1 text(s))"
    reg.finish()
    assert [e["kind"] for e in stored(project)] == ["text"]


def test_a_baseline_whose_outputs_are_gone_is_removed_and_not_reported_as_written(project: Path) -> None:
    record(project, "a fox")
    reg = regression(project, update=True)
    verdict = check(reg, project, files=(("3d", "model.glb"),))
    assert verdict.status == "removed" and verdict.message.startswith("baseline removed")
    reg.finish()
    assert reg.written == [] and reg.removed == [str(project / "baselines" / "t.json")]
    assert not (project / "baselines" / "t.json").exists()
