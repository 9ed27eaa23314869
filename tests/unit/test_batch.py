"""batch.py: slugs, prompt ids and loading batch files (files written into tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfy_plugin.batchfile.batch import (
    DEFAULT_FILENAME_PREFIX,
    DEFAULT_OUTPUT_DIRECTORY,
    SEED_KEYS,
    PromptSpec,
    load_batch,
)
from comfy_plugin.batchfile.prompt_specs import prompt_ids, slugify
from comfy_plugin.batchfile.workflow import Target
from comfy_plugin.errors import BatchFileError, WorkflowError

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}, "_meta": {"title": "KSampler"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ""}, "_meta": {"title": "Positive"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": ""}, "_meta": {"title": "Negative"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
}


def batch_data(**params):
    data = {
        "parameters": {
            "workflow_file": "wf.json",
            "workflow_items": {
                "positive_prompt": "6,inputs,text",
                "negative_prompt": {"node": "Negative", "input": "text"},
                "seed": "3, inputs, seed",
                "width": "5,inputs,width",
                "height": "5,inputs,height",
            },
            "generic_prompts": {"negative_prompt": "blurry ugly bad", "width": 1024, "height": 1024},
        },
        "prompts": [
            {"positive_prompt": "a cat", "seed": "random"},
            {"positive_prompt": "a dog", "negative_prompt": "override", "seed": 12345, "width": 512},
        ],
    }
    data["parameters"].update(params)
    return data


@pytest.fixture
def layout(tmp_path):
    """tmp/batches/b.json with its workflow next to it; tmp/cwd is the working directory."""
    (tmp_path / "batches").mkdir()
    (tmp_path / "cwd").mkdir()
    (tmp_path / "batches" / "wf.json").write_text(json.dumps(WORKFLOW), encoding="utf-8")
    return tmp_path


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load(tmp_path: Path, data=None, text: str | None = None, raw: bytes | None = None):
    path = tmp_path / "batches" / "b.json"
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        write(path, data)
    return load_batch(path, "batches/b.json", tmp_path / "cwd")


# -- slugify ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, slug", [
    ("A Cat, on a Mat!", "a-cat-on-a-mat"),
    ("  leading and trailing  ", "leading-and-trailing"),
    ("Café au lait", "caf-au-lait"),
    ("photo_of__a   DOG", "photo-of-a-dog"),
    ("--- !!! ---", ""),
    ("日本語", ""),
    ("1girl, 4k", "1girl-4k"),
])
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_slugify_truncates_on_a_word_boundary():
    text = "a very long prompt describing a castle on a hill at sunset with dramatic clouds"
    full = slugify(text, limit=1000)
    slug = slugify(text)
    assert len(slug) <= 48
    assert full.startswith(slug + "-")  # a prefix ending at a whole word
    assert slug.startswith("a-very-long-prompt-describing-a-castle-on-a")
    assert not slug.endswith("-")
    cut = slugify("aaaa bbbb cccc dddd", limit=12)
    assert cut == "aaaa-bbbb"  # "cccc" would be cut in the middle: dropped


def test_slugify_single_long_word_cut_hard():
    assert slugify("x" * 60) == "x" * 48
    assert slugify("abc def", limit=5) == "abc"


# -- prompt_ids ------------------------------------------------------------------------


def test_prompt_ids_explicit_id_name_and_slug():
    prompts = [{"id": "first", "positive_prompt": "ignored"}, {"name": "Second One"},
               {"positive_prompt": "A Cat, on a Mat!"}, {"id": 7}]
    assert prompt_ids(prompts, "b.json") == ["first", "Second One", "a-cat-on-a-mat", "7"]


def test_prompt_ids_id_wins_over_name():
    assert prompt_ids([{"id": "the-id", "name": "the-name"}], "b.json") == ["the-id"]


def test_prompt_ids_suffix_only_for_duplicates():
    prompts = [{"positive_prompt": "a cat"}, {"positive_prompt": "a dog"}, {"positive_prompt": "A cat"},
               {"positive_prompt": "a cat!"}]
    assert prompt_ids(prompts, "b.json") == ["a-cat", "a-dog", "a-cat-2", "a-cat-3"]


def test_prompt_ids_positional_when_no_text():
    prompts = [{"seed": 1}, {"positive_prompt": ""}, {"positive_prompt": 5}, {"positive_prompt": "!!!"},
               {"positive_prompt": "a cat"}]
    assert prompt_ids(prompts, "b.json") == ["prompt-1", "prompt-2", "prompt-3", "prompt-4", "a-cat"]


def test_prompt_ids_auto_never_collides_with_explicit():
    prompts = [{"positive_prompt": "a cat"}, {"id": "a-cat"}, {"positive_prompt": "Prompt 4"}, {"seed": 3}]
    ids = prompt_ids(prompts, "b.json")
    assert ids == ["a-cat-2", "a-cat", "prompt-4", "prompt-4-2"]
    assert len(set(ids)) == len(ids)


def test_prompt_ids_duplicate_explicit_ids_rejected():
    prompts = [{"id": "x"}, {"positive_prompt": "a cat"}, {"name": "x"}]
    with pytest.raises(BatchFileError) as info:
        prompt_ids(prompts, "batches/b.json")
    err = info.value
    assert err.place == "prompts[2]"
    assert "duplicate prompt id 'x'" in err.message
    assert "prompts[0]" in err.message
    assert "prompts[2]" in str(err)
    assert str(err).startswith("batches/b.json: prompts[2]: ")
    assert "unique 'id'" in err.hint


def test_prompt_ids_stable_when_a_prompt_is_inserted_before():
    before = [{"positive_prompt": "a cat"}, {"positive_prompt": "a dog"}, {"id": "fixed"},
              {"positive_prompt": "a cat"}]
    after = [{"positive_prompt": "a bird on a wire"}] + before
    ids_before = prompt_ids(before, "b.json")
    ids_after = prompt_ids(after, "b.json")
    assert ids_before == ["a-cat", "a-dog", "fixed", "a-cat-2"]
    assert ids_after == ["a-bird-on-a-wire"] + ids_before


# -- load_batch ------------------------------------------------------------------------


def test_load_batch_generic_merged_and_overridden(layout):
    batch = load(layout, batch_data())
    assert batch.shown_as == "batches/b.json"
    assert batch.workflow == WORKFLOW
    assert batch.workflow_path == layout / "batches" / "wf.json"
    assert batch.generic == {"negative_prompt": "blurry ugly bad", "width": 1024, "height": 1024}
    first, second = batch.prompts
    assert isinstance(first, PromptSpec)
    assert (first.id, first.index) == ("a-cat", 0)
    assert first.values == {"negative_prompt": "blurry ugly bad", "width": 1024, "height": 1024,
                            "positive_prompt": "a cat", "seed": "random"}
    assert first.random_keys() == ["seed"]
    assert (second.id, second.index) == ("a-dog", 1)
    assert second.values["negative_prompt"] == "override"
    assert second.values["width"] == 512
    assert second.values["height"] == 1024
    assert second.values["seed"] == 12345
    assert second.random_keys() == []
    # "random" is not drawn at load time
    assert first.values["seed"] == "random"


def test_load_batch_targets(layout):
    batch = load(layout, batch_data())
    assert batch.targets == {
        "positive_prompt": [Target("6", "inputs", "text")],
        "negative_prompt": [Target("Negative", "inputs", "text", by_title=True)],
        "seed": [Target("3", "inputs", "seed")],
        "width": [Target("5", "inputs", "width")],
        "height": [Target("5", "inputs", "height")],
    }


def test_load_batch_bad_target_names_the_key(layout):
    data = batch_data(workflow_items={"seed": "3,inputs"})
    with pytest.raises(BatchFileError) as info:
        load(layout, data)
    assert info.value.place == "parameters.workflow_items.seed"
    assert '"3,inputs"' in info.value.message
    assert "node_id,inputs,field_name" in info.value.message


def test_load_batch_workflow_next_to_batch_file_wins(layout):
    other = {"1": {"class_type": "FromCwd", "inputs": {}}}
    write(layout / "cwd" / "wf.json", other)
    batch = load(layout, batch_data())
    assert batch.workflow_path == layout / "batches" / "wf.json"
    assert batch.workflow == WORKFLOW


def test_load_batch_workflow_found_in_working_directory(layout):
    (layout / "batches" / "wf.json").unlink()
    (layout / "cwd" / "workflows-files").mkdir()
    other = {**WORKFLOW, "99": {"class_type": "FromCwd", "inputs": {}}}
    write(layout / "cwd" / "workflows-files" / "wf.json", other)
    batch = load(layout, batch_data(workflow_file="./workflows-files/wf.json"))
    assert batch.workflow == other
    assert batch.workflow_path == layout / "cwd" / "workflows-files" / "wf.json"


def test_load_batch_workflow_absolute_path(layout, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    write(elsewhere, WORKFLOW)
    batch = load(layout, batch_data(workflow_file=str(elsewhere)))
    assert batch.workflow_path == elsewhere


def test_load_batch_missing_workflow_lists_both_places(layout):
    with pytest.raises(WorkflowError) as info:
        load(layout, batch_data(workflow_file="missing/wf.json"))
    err = info.value
    assert err.place == "parameters.workflow_file"
    assert "'missing/wf.json' not found" in err.message
    assert str(layout / "batches" / "missing" / "wf.json") in err.message
    assert str(layout / "cwd" / "missing" / "wf.json") in err.message


def test_load_batch_missing_workflow_suggests_the_near_miss(layout):
    # issue 14, item 9: the batch names tiny-sd15-txt2img.json, the folder holds the -api file
    folder = layout / "workflows-files"
    folder.mkdir()
    write(folder / "tiny-sd15-txt2img-api.json", WORKFLOW)
    write(folder / "sd15-txt2img-api.json", WORKFLOW)
    (folder / "tiny-sd15-txt2img.png").write_bytes(b"not a workflow")
    with pytest.raises(WorkflowError) as info:
        load(layout, batch_data(workflow_file="../workflows-files/tiny-sd15-txt2img.json"))
    err = info.value
    assert "'../workflows-files/tiny-sd15-txt2img.json' not found; looked at " in err.message
    assert err.hint == 'did you mean "../workflows-files/tiny-sd15-txt2img-api.json"?'
    assert str(err).endswith('\n  hint: did you mean "../workflows-files/tiny-sd15-txt2img-api.json"?')


def test_load_batch_missing_workflow_near_miss_in_the_working_directory(layout):
    write(layout / "cwd" / "flow-api.json", WORKFLOW)
    with pytest.raises(WorkflowError) as info:
        load(layout, batch_data(workflow_file="flow.json"))
    assert info.value.hint == 'did you mean "flow-api.json"?'


def test_load_batch_missing_workflow_without_a_near_miss_has_no_hint(layout):
    write(layout / "batches" / "unrelated.json", WORKFLOW)
    with pytest.raises(WorkflowError) as info:
        load(layout, batch_data(workflow_file="my-upscaler.json"))
    assert info.value.hint == ""


def test_load_batch_ambiguous_title_names_both_ids(layout):
    # Regression: two nodes titled 'Prompt' gave "no node titled 'Prompt' ... did you mean "Prompt"?"
    wf = {**WORKFLOW, "6": {**WORKFLOW["6"], "_meta": {"title": "Prompt"}},
          "8": {**WORKFLOW["6"], "_meta": {"title": "Prompt"}}}
    write(layout / "batches" / "wf.json", wf)
    data = batch_data()
    data["parameters"]["workflow_items"]["positive_prompt"] = {"node": "Prompt", "input": "text"}
    with pytest.raises(BatchFileError) as info:
        load(layout, data)
    (problem,) = info.value.problems
    assert problem.place == "parameters.workflow_items.positive_prompt"
    assert problem.message == "2 nodes are titled 'Prompt': 6 (CLIPTextEncode) and 8 (CLIPTextEncode)"
    assert problem.hint.startswith('address one by its id: "6,inputs,text" or {"node": "6", "input": "text"}')
    assert "did you mean" not in str(info.value)


def test_load_batch_workflow_in_ui_format_is_checked_from_the_file(layout):
    write(layout / "batches" / "wf.json", {"nodes": [], "links": [], "version": 0.4})
    with pytest.raises(BatchFileError) as info:
        load(layout, batch_data())
    places = [p.place for p in info.value.problems]
    assert places == ["parameters.workflow_items.positive_prompt", "parameters.workflow_items.seed",
                      "parameters.workflow_items.width", "parameters.workflow_items.height"], \
        "a title the file does not store is left to the server"
    assert info.value.message == "no node with id '6' in the workflow"


@pytest.mark.parametrize("workflow_file, message", [
    (None, "missing required key 'workflow_file'"),
    ("", "must not be empty"),
    (3, "must be a string, found an integer (3)"),
])
def test_load_batch_workflow_file_missing_or_wrong_type(layout, workflow_file, message):
    data = batch_data()
    if workflow_file is None:
        del data["parameters"]["workflow_file"]
    else:
        data["parameters"]["workflow_file"] = workflow_file
    with pytest.raises(BatchFileError) as info:
        load(layout, data)
    assert info.value.message == message
    assert info.value.place == ("parameters" if workflow_file is None else "parameters.workflow_file")


def test_load_batch_not_utf8(layout):
    text = json.dumps(batch_data()).replace("a dog", "un caf\u00e9")
    raw = text.encode("latin-1")
    pos = raw.index(b"\xe9")
    with pytest.raises(BatchFileError) as info:
        load(layout, raw=raw)
    err = info.value
    assert "not UTF-8" in err.message
    assert f"byte {pos}" in err.message
    assert "UTF-8" in err.hint
    assert not isinstance(err, WorkflowError)


def test_load_batch_utf8_with_bom(layout):
    raw = b"\xef\xbb\xbf" + json.dumps(batch_data()).encode("utf-8")
    batch = load(layout, raw=raw)
    assert [p.id for p in batch.prompts] == ["a-cat", "a-dog"]


def test_load_batch_top_level_list(layout):
    with pytest.raises(BatchFileError) as info:
        load(layout, [batch_data()])
    assert "top level must be an object" in info.value.message
    assert "found list" in info.value.message


def test_load_batch_missing_parameters(layout):
    with pytest.raises(BatchFileError) as info:
        load(layout, {"prompts": [{"positive_prompt": "x"}]})
    assert "missing required key 'parameters'" in info.value.message


def test_load_batch_parameters_not_object(layout):
    with pytest.raises(BatchFileError) as info:
        load(layout, {"parameters": [], "prompts": [{"positive_prompt": "x"}]})
    assert info.value.place == "parameters"
    assert "must be an object, found a list" in info.value.message


def test_load_batch_empty_prompts(layout):
    data = batch_data()
    data["prompts"] = []
    with pytest.raises(BatchFileError) as info:
        load(layout, data)
    assert info.value.place == "prompts"
    assert "empty" in info.value.message


def test_load_batch_prompts_not_a_list(layout):
    data = batch_data()
    data["prompts"] = {"positive_prompt": "x"}
    with pytest.raises(BatchFileError) as info:
        load(layout, data)
    assert info.value.place == "prompts"
    assert "must be a list, found an object" in info.value.message


def test_load_batch_prompt_not_an_object(layout):
    data = batch_data()
    data["prompts"].append("a string")
    batch = load(layout, data)
    assert [p.error for p in batch.prompts[:2]] == [None, None], "only that prompt fails"
    error = batch.prompts[2].error
    assert error.place == "prompts[2]"
    assert 'must be an object, found a string ("a string")' in error.message


def test_load_batch_malformed_json_line_and_column(layout):
    text = '{\n  "parameters": {\n    "workflow_file": "wf.json",\n  },\n  "prompts": []\n}\n'
    with pytest.raises(BatchFileError) as info:
        load(layout, text=text)
    err = info.value
    assert err.place == "line 4, column 3"
    assert "invalid JSON" in err.message
    assert str(err).startswith("batches/b.json: line 4, column 3: invalid JSON")


def test_load_batch_missing_file(tmp_path):
    with pytest.raises(BatchFileError) as info:
        load_batch(tmp_path / "nope.json", "nope.json", tmp_path)
    assert "cannot read the file" in info.value.message


def test_load_batch_save_images_defaults(layout):
    batch = load(layout, batch_data())
    assert batch.save.enabled is True
    assert batch.save.output_directory == DEFAULT_OUTPUT_DIRECTORY == "./images/"
    assert batch.save.filename_prefix == DEFAULT_FILENAME_PREFIX == "CFYUI-BP"


def test_load_batch_save_images_disabled_and_custom(layout):
    batch = load(layout, batch_data(save_images={"enabled": False, "output_directory": "out/x",
                                                 "filename_prefix": "ZIT"}))
    assert batch.save.enabled is False
    assert batch.save.output_directory == "out/x"
    assert batch.save.filename_prefix == "ZIT"


def test_load_batch_save_images_partial(layout):
    batch = load(layout, batch_data(save_images={"enabled": False}))
    assert batch.save.enabled is False
    assert batch.save.output_directory == "./images/"
    assert batch.save.filename_prefix == "CFYUI-BP"


def test_load_batch_tags_skip_xfail(layout):
    data = batch_data()
    data["prompts"] = [
        {"positive_prompt": "one", "tags": ["slow", "sdxl"], "skip": True},
        {"positive_prompt": "two", "tags": "smoke", "skip": "model not public", "xfail": "known issue"},
        {"positive_prompt": "three", "skip": False, "xfail": True},
        {"positive_prompt": "four"},
    ]
    one, two, three, four = load(layout, data).prompts
    assert (one.tags, one.skip, one.xfail) == (("slow", "sdxl"), "marked in the batch file", None)
    assert (two.tags, two.skip, two.xfail) == (("smoke",), "model not public", "known issue")
    assert (three.tags, three.skip, three.xfail) == ((), None, "marked in the batch file")
    assert (four.tags, four.skip, four.xfail) == ((), None, None)


def test_load_batch_duplicate_ids_reported(layout):
    data = batch_data()
    data["prompts"] = [{"id": "same", "positive_prompt": "a"}, {"id": "same", "positive_prompt": "b"}]
    with pytest.raises(BatchFileError) as info:
        load(layout, data)
    assert info.value.place == "prompts[1]"


def test_random_keys_are_seed_keys_only():
    # A prompt text that is the word "random" is a text; only a seed key's "random" is drawn.
    spec = PromptSpec("p", 0, {"positive_prompt": "random", "negative_prompt": "random", "sampler": "random",
                               "seed": 5})
    assert spec.random_keys() == []
    spec = PromptSpec("p", 0, {"positive_prompt": "random", "noise_seed": "random", "seed": "random"})
    assert spec.random_keys() == ["seed", "noise_seed"]  # always in this order
    assert PromptSpec("p", 0, {"noise_seed": "random", "seed": 0}).random_keys() == ["noise_seed"]
    assert PromptSpec("p", 0, {"seed": "Random"}).random_keys() == []  # the schema's word is lower case


def test_seed_keys_are_the_schemas_seed_keys():
    # the batch schema gives "random" a meaning only in the keys that use $defs/seed
    schema = json.loads((Path(__file__).parents[2] / "comfy_plugin" / "batchfile" / "batch.schema.json").read_text())
    seed_ref = {"$ref": "#/$defs/seed"}
    keys = [k for k, v in schema["$defs"]["values"]["properties"].items() if v == seed_ref]
    assert tuple(keys) == SEED_KEYS


def test_load_batch_text_random_is_sent_as_written(layout):
    data = batch_data()
    data["prompts"] = [{"id": "word", "positive_prompt": "random", "negative_prompt": "random", "seed": 7}]
    (spec,) = load(layout, data).prompts
    assert spec.error is None
    assert spec.random_keys() == []
    assert spec.values["positive_prompt"] == "random"


def test_load_batch_generic_random_seed_applies_to_every_prompt(layout):
    data = batch_data(generic_prompts={"seed": "random"})
    data["prompts"] = [{"positive_prompt": "a"}, {"positive_prompt": "b", "seed": 3}]
    a, b = load(layout, data).prompts
    assert a.random_keys() == ["seed"]
    assert b.random_keys() == [] and b.values["seed"] == 3


@pytest.mark.parametrize("items", [
    {"seed": "99,inputs,seed"},
    {"seed": {"node": "No Such Title", "input": "seed"}},
    {"seed": ["3,inputs,seed", "99,inputs,noise_seed"]},
])
def test_load_batch_target_node_missing_from_workflow(layout, items):
    # A workflow_items entry naming a node the workflow lacks is the batch file's fault and
    # can be seen without a server: it must be a BatchFileError naming the key, not a bare
    # KeyError raised later by workflow.patch when the prompt runs.
    with pytest.raises(BatchFileError) as info:
        load(layout, batch_data(workflow_items=items))
    assert "workflow_items.seed" in str(info.value)


def test_load_batch_prompt_lines(layout):
    text = ('{\n'
            '  "parameters": {"workflow_file": "wf.json", "_comment": {"x": [1, {"y": "]"}]}},\n'
            '  "prompts": [\n'
            '    {"positive_prompt": "a"},\n'
            '\n'
            '    {"positive_prompt": "b",\n'
            '     "seed": 1}, {"positive_prompt": "c ] {"}\n'
            '  ]\n'
            '}\n')
    batch = load(layout, text=text)
    assert [(p.id, p.line) for p in batch.prompts] == [("a", 3), ("b", 5), ("c", 6)]
