"""Broken and hostile batch files end in a clear error naming the file and the place, or in a
result, within bounds: one test per crash family the fuzzer found (bench/fuzz.py), and the
safety nets that turn a bug into one failing item instead of a stopped session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfy_plugin.batchfile import reading
from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.batchfile.workflow import load_workflow
from comfy_plugin.errors import BatchFileError, WorkflowError
from comfy_plugin.plugin.collect import is_batch_candidate
from comfy_plugin.run.prepare import prepare
from comfy_plugin.settings import BatchLimits

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ""}},
    "9": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
}
DEEP = "[" * 3000 + "]" * 3000
HUGE = "1" + "0" * 5000


def batch(prompts: list[Any] | None = None, **params: Any) -> dict[str, Any]:
    parameters = {"workflow_file": "wf.json",
                  "workflow_items": {"positive_prompt": "6,inputs,text", "seed": "3,inputs,seed",
                                     "image": "9,inputs,image"}}
    parameters.update(params)
    return {"parameters": parameters, "prompts": prompts or [{"positive_prompt": "a cat"}]}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "wf.json").write_text(json.dumps(WORKFLOW), encoding="utf-8")
    return tmp_path


def load(folder: Path, data: Any = None, text: str | None = None, limits: BatchLimits | None = None):
    path = folder / "b.json"
    path.write_text(text if text is not None else json.dumps(data), encoding="utf-8")
    return load_batch(path, "batches/b.json", folder, limits=limits)


# -- JSON reading ----------------------------------------------------------------------

BAD_JSON = {
    "deep nesting": (DEEP, "nested too deeply"),
    "an integer of 5,000 digits": (f"[{HUGE}]", "4300 digits"),
    "NaN": ('{"a": NaN}', "NaN is not a number"),
    "1e400": ('{"a": 1e400}', "1e400 is not a number"),
    "a lone surrogate": ('{"a": "x\\ud800"}', "lone UTF-16 surrogate (\\ud800)"),
    "a low half alone": ('{"a": "\\udc00"}', "lone UTF-16 surrogate (\\udc00)"),
    "65 levels": ("[" * 66 + "]" * 66, "nested more than 64 levels deep"),
}


@pytest.mark.parametrize("text, message", BAD_JSON.values(), ids=list(BAD_JSON))
def test_a_batch_file_of_hostile_json_fails_with_its_place(folder, text, message):
    with pytest.raises(BatchFileError) as info:
        load(folder, text=text)
    assert message in str(info.value) and str(info.value).startswith("batches/b.json: ")


@pytest.mark.parametrize("text, message", BAD_JSON.values(), ids=list(BAD_JSON))
def test_a_workflow_of_hostile_json_fails_naming_the_workflow(folder, text, message):
    (folder / "wf.json").write_text(text, encoding="utf-8")
    with pytest.raises(WorkflowError) as info:
        load(folder, batch())
    assert info.value.place == "parameters.workflow_file"
    assert message in info.value.message and f"workflow {folder / 'wf.json'}" in info.value.message


@pytest.mark.parametrize("text, message", BAD_JSON.values(), ids=list(BAD_JSON))
def test_sniffing_hostile_json_neither_crashes_nor_drops_a_file_meant_as_a_batch(folder, text, message):
    path = folder / "x.json"
    path.write_text(text, encoding="utf-8")
    assert is_batch_candidate(path, named=False, under_batch_dir=True, max_bytes=10**6)
    assert not is_batch_candidate(path, named=False, under_batch_dir=False, max_bytes=10**6)


def test_escaped_backslashes_and_surrogate_pairs_are_not_lone_surrogates():
    source = reading.Source("b.json")
    assert reading.parse('["\\\\ud800", "\\ud83d\\ude00"]', source) == ["\\ud800", "\U0001f600"]


def test_bad_utf8_in_a_variable_file_fails_that_variable(folder):
    (folder / "v.txt").write_bytes(b"caf\xe9\n")
    data = batch([{"positive_prompt": "a $v"}])
    data["variables"] = {"v": "./v.txt"}
    with pytest.raises(BatchFileError) as info:
        load(folder, data)
    assert info.value.place == "variables.v" and "not UTF-8 text (byte 3" in info.value.message


# -- bounded work ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["workflow_file", "variables"])
def test_dev_zero_is_never_read(folder, key):
    data = batch([{"positive_prompt": "a $v"}])
    if key == "variables":
        data["variables"] = {"v": "/dev/zero"}
    else:
        data["parameters"]["workflow_file"] = "/dev/zero"
    with pytest.raises(BatchFileError) as info:
        load(folder, data)
    assert "not a regular file" in info.value.message


def test_a_file_over_the_size_limit_is_refused_with_the_option_to_raise_it(folder):
    (folder / "wf.json").write_text(json.dumps({**WORKFLOW, "_pad": {"class_type": "X", "p": "x" * 2_000_000}}))
    with pytest.raises(WorkflowError) as info:
        load(folder, batch(), limits=BatchLimits(file_mb=1))
    assert "larger than 1 MB (2.0 MB)" in info.value.message and "--comfy-max-file-mb" in info.value.hint


def test_twelve_variables_of_three_lines_are_refused_before_any_prompt_is_built(folder):
    for n in range(12):
        (folder / f"v{n}.txt").write_text("a\nb\nc\n")
    data = batch([{"positive_prompt": " ".join(f"$v{n}" for n in range(12))}])
    data["variables"] = {f"v{n}": f"./v{n}.txt" for n in range(12)}
    with pytest.raises(BatchFileError) as info:
        load(folder, data)
    assert info.value.message == "the file expands to 531,441 prompts, more than the 50,000 allowed"
    assert "--comfy-max-prompts" in info.value.hint


def test_32000_prompts_of_the_same_text_get_distinct_ids(folder):
    """Their load time (linear: it was quadratic, 72 s) is printed by bench/bounded_work.py."""
    loaded = load(folder, batch([{"positive_prompt": "a cat"}] * 32_000))
    assert [p.id for p in loaded.prompts[:2]] + [loaded.prompts[-1].id] == ["a-cat", "a-cat-2", "a-cat-32000"]
    assert len({p.id for p in loaded.prompts}) == 32_000


# -- paths -----------------------------------------------------------------------------

LONG = "a" * 300


@pytest.mark.parametrize("name, problem", [
    (LONG + ".json", "bytes long (at most 255)"), ("wf\x00.json", "NUL"), ("sub/" + LONG, "bytes long (at most 255)"),
])
def test_a_workflow_path_no_file_system_takes_is_reported(folder, name, problem):
    with pytest.raises(WorkflowError) as info:
        load(folder, batch(workflow_file=name))
    assert info.value.place == "parameters.workflow_file" and problem in info.value.message


def test_a_variable_file_path_no_file_system_takes_is_reported(folder):
    data = batch([{"positive_prompt": "a $v"}])
    data["variables"] = {"v": LONG}
    with pytest.raises(BatchFileError) as info:
        load(folder, data)
    assert info.value.place == "variables.v" and "bytes long (at most 255)" in info.value.message


def test_a_local_image_path_no_file_system_takes_fails_its_prompt_alone(folder):
    loaded = load(folder, batch([{"positive_prompt": "a", "image": "./" + LONG + ".png"},
                                 {"positive_prompt": "b", "image": "x\x00.png"}, {"positive_prompt": "c"}]))
    first, second, third = loaded.prompts
    assert first.error is not None and "bytes long (at most 255)" in first.error.message
    assert second.error is None and second.local_files == (), "a server-side name: the server judges it"
    assert third.error is None


def test_an_output_folder_no_file_system_takes_fails_the_file(folder):
    with pytest.raises(BatchFileError) as info:
        load(folder, batch(save_images={"output_directory": "out\x00"}))
    assert info.value.place == "parameters.save_images.output_directory" and "NUL" in info.value.message


def test_path_problem_names_lone_surrogates():
    assert "cannot be encoded" in reading.path_problem("a\ud800")
    assert reading.path_problem("./ok/name.png") == ""


# -- prompts that failed the schema are not built from ---------------------------------


@pytest.mark.parametrize("prompt, message", [
    ({"tags": None}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"tags": ["_private"]}, "tags"),
    ({"tags": "skip"}, "one of pytest's own markers"),
    ({"tags": ["ok", "xfail"]}, "one of pytest's own markers"),
    ({"timeout": 10**400}, "timeout"),
    ({"timeout": 0}, "timeout"),
])
def test_a_prompt_with_bad_harness_keys_fails_alone_and_carries_nothing_of_them(folder, prompt, message):
    loaded = load(folder, batch([{"positive_prompt": "a", **prompt}, {"positive_prompt": "b", "tags": "fine"}]))
    bad, good = loaded.prompts
    assert bad.error is not None and message in str(bad.error)
    assert set(bad.tags) <= {"ok"} and bad.timeout_s is None
    assert good.error is None and good.tags == ("fine",)


def test_a_nan_timeout_is_not_json(folder):
    with pytest.raises(BatchFileError) as info:
        load(folder, text=json.dumps(batch([{"positive_prompt": "a", "timeout": float("nan")}])))
    assert "NaN is not a number" in info.value.message


def test_an_explicit_id_keeps_its_own_and_a_variant_id_moves_aside(folder):
    (folder / "v.txt").write_text("red\n")
    data = batch([{"positive_prompt": "x $v", "id": "hat"}, {"positive_prompt": "y", "id": "hat[red]"}])
    data["variables"] = {"v": "./v.txt"}
    ids = [p.id for p in load(folder, data).prompts]
    assert ids == ["hat[red-2]", "hat[red]"]


# -- the API workflow's shape ----------------------------------------------------------


@pytest.mark.parametrize("node, problem", [
    ({"class_type": ["KSampler"], "inputs": {}}, "'class_type' must be a non-empty string"),
    ({"class_type": "", "inputs": {}}, "'class_type' must be a non-empty string"),
    ({"class_type": "KSampler", "inputs": [1, 2]}, "'inputs' must be an object, found list"),
])
def test_an_api_workflow_of_the_wrong_shape_fails_when_read(folder, node, problem):
    (folder / "wf.json").write_text(json.dumps({**WORKFLOW, "4": node}))
    with pytest.raises(WorkflowError) as info:
        load_workflow(folder / "wf.json", "b.json")
    assert f"node 4: {problem}" in info.value.message


def test_prepare_refuses_a_workflow_of_the_wrong_shape(folder):
    import random

    loaded = load(folder, batch())
    loaded.workflow["4"] = {"class_type": 7, "inputs": {}}  # as a converter bug could make it
    with pytest.raises(WorkflowError) as info:
        prepare(loaded, loaded.prompts[0], {}, None, random.Random(0))
    assert "node 4: 'class_type' must be a non-empty string" in info.value.message


# -- the safety nets -------------------------------------------------------------------


GOOD = {"parameters": {"workflow_file": "wf.json", "workflow_items": {"positive_prompt": "6,inputs,text"}},
        "prompts": [{"positive_prompt": "one"}, {"positive_prompt": "two"}]}


@pytest.fixture
def nets(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "batches").mkdir()
    for name in ("good.json", "bad.json"):
        (pytester.path / "batches" / name).write_text(json.dumps(GOOD))
    (pytester.path / "batches" / "wf.json").write_text(json.dumps(WORKFLOW))
    return pytester


def _crash_on(name: str, real: Any) -> Any:
    def crashing(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == name:
            raise RuntimeError("boom in the plugin")
        return real(path, *args, **kwargs)
    return crashing


@pytest.mark.parametrize("verbose", [False, True])
def test_a_crash_while_collecting_fails_that_file_alone(nets, monkeypatch, verbose):
    import comfy_plugin.batchfile.batch as batch_module

    monkeypatch.setattr(batch_module, "load_batch", _crash_on("bad.json", batch_module.load_batch))
    result = nets.runpytest("--comfy-check", "-p", "no:cacheprovider", *(["-v"] if verbose else []))
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*batches/bad.json: internal error of comfy_plugin: RuntimeError: boom in the plugin",
                                 "*please report it*"])
    assert "Interrupted" not in out and "error during collection" not in out
    assert ("Traceback (most recent call last)" in out) is verbose


def test_a_crash_in_the_sniffing_keeps_the_file_and_its_folder(nets, monkeypatch):
    real = reading.read_json
    monkeypatch.setattr(reading, "read_json", _crash_on("bad.json", real))
    result = nets.runpytest("--comfy-check", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*batches/bad.json: internal error of comfy_plugin: RuntimeError*"])


def test_a_crash_while_checking_a_prompt_fails_that_prompt_alone(nets, monkeypatch):
    from comfy_plugin.plugin.state import ComfyPlugin

    real = ComfyPlugin.run

    def run(self: ComfyPlugin, item: Any) -> Any:
        if item.name == "two":
            raise KeyError("boom")
        return real(self, item)

    monkeypatch.setattr(ComfyPlugin, "run", run)
    result = nets.runpytest("--comfy-check", "-p", "no:cacheprovider", "batches/good.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*batches/good.json::two: internal error of comfy_plugin: KeyError: 'boom'",
                                 "*please report it*"])
    assert "Traceback" not in result.stdout.str()
