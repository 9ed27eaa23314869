"""prepare.py (seeds drawn per prompt, then the workflow patched) and preflight.py
(checks against an /object_info shaped like ComfyUI's)."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest

from comfy_plugin.batchfile.batch import Batch, PromptSpec, SaveSettings
from comfy_plugin.batchfile.workflow import Target, parse_targets
from comfy_plugin.errors import ModelMissing, PreflightError
from comfy_plugin.run.preflight import (
    check,
    combo_options,
    input_spec,
    is_model_input,
    normalised,
)
from comfy_plugin.run.prepare import SEED_LIMIT, prepare, seed_limit

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 20, "sampler_name": "euler",
                                               "model": ["4", 0]},
          "_meta": {"title": "KSampler"}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "SD1.5\\model.ckpt"},
          "_meta": {"title": "Load Checkpoint"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]},
          "_meta": {"title": "Positive"}},
    "21:20": {"class_type": "KSamplerAdvanced", "inputs": {"noise_seed": 0}, "_meta": {"title": "Refiner"}},
}

OBJECT_INFO = {
    "KSampler": {"input": {"required": {
        "model": ["MODEL"],
        "seed": ["INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True}],
        "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
        "sampler_name": [["euler", "euler_ancestral", "dpmpp_2m"], {}],
    }}},
    "KSamplerAdvanced": {"input": {"required": {
        "noise_seed": ["INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF}],
    }}},
    "CheckpointLoaderSimple": {"input": {"required": {
        "ckpt_name": [["SD1.5/model.ckpt", "sdxl/base.safetensors"], {"tooltip": "The checkpoint"}],
    }}},
    "CLIPTextEncode": {"input": {"required": {"text": ["STRING", {"multiline": True}], "clip": ["CLIP"]}}},
}


class SpyRandom(random.Random):
    """Records each randint call's bounds."""

    def __init__(self, seed=0):
        super().__init__(seed)
        self.calls = []

    def randint(self, a, b):
        self.calls.append((a, b))
        return super().randint(a, b)


def make_batch(targets=None, workflow=None) -> Batch:
    targets = targets if targets is not None else {
        "positive_prompt": parse_targets("6,inputs,text"),
        "seed": parse_targets("3,inputs,seed"),
        "noise_seed": parse_targets({"node": "Refiner", "input": "noise_seed"}),
    }
    return Batch(Path("b.json"), "b.json", Path("wf.json"), copy.deepcopy(workflow or WORKFLOW), targets,
                 SaveSettings(True, "./images/", "CFYUI-BP"), {}, [])


def spec(**values) -> PromptSpec:
    return PromptSpec(id="p", index=0, values=values)


# -- prepare ---------------------------------------------------------------------------


@pytest.mark.parametrize("rng_seed", range(20))
def test_one_value_for_seed_and_noise_seed(rng_seed):
    batch = make_batch()
    rng = SpyRandom(rng_seed)
    out = prepare(batch, spec(positive_prompt="a cat", seed="random", noise_seed="random"), OBJECT_INFO, None, rng)
    assert len(rng.calls) == 1
    assert isinstance(out.drawn_seed, int)
    assert out.workflow["3"]["inputs"]["seed"] == out.drawn_seed
    assert out.workflow["21:20"]["inputs"]["noise_seed"] == out.drawn_seed
    assert out.values["seed"] == out.values["noise_seed"] == out.drawn_seed
    assert out.workflow["6"]["inputs"]["text"] == "a cat"
    assert 0 <= out.drawn_seed <= SEED_LIMIT


def test_draws_differ_between_prompts():
    batch = make_batch()
    rng = random.Random(1)
    drawn = {prepare(batch, spec(seed="random"), OBJECT_INFO, None, rng).drawn_seed for _ in range(10)}
    assert len(drawn) == 10


def test_seed_limit_is_2_pow_53_minus_1():
    assert SEED_LIMIT == 2**53 - 1
    batch = make_batch()
    rng = SpyRandom()
    prepare(batch, spec(seed="random"), OBJECT_INFO, None, rng)  # server max is 2**64-1
    assert rng.calls == [(0, 2**53 - 1)]
    rng = SpyRandom()
    prepare(batch, spec(seed="random"), None, None, rng)  # no object_info
    assert rng.calls == [(0, 2**53 - 1)]


def test_smaller_declared_max_bounds_the_draw():
    info = copy.deepcopy(OBJECT_INFO)
    info["KSampler"]["input"]["required"]["seed"] = ["INT", {"min": 0, "max": 1000}]
    batch = make_batch()
    assert seed_limit(batch, ["seed"], info) == 1000
    assert seed_limit(batch, ["seed", "noise_seed"], info) == 1000
    assert seed_limit(batch, ["noise_seed"], info) == SEED_LIMIT
    rng = SpyRandom(3)
    for _ in range(200):
        out = prepare(batch, spec(seed="random", noise_seed="random"), info, None, rng)
        assert 0 <= out.drawn_seed <= 1000
        assert out.workflow["21:20"]["inputs"]["noise_seed"] == out.drawn_seed
    assert set(rng.calls) == {(0, 1000)}


def test_declared_max_in_optional_section_and_by_title():
    info = {"MySampler": {"input": {"required": {}, "optional": {"seed": ["INT", {"min": 0, "max": 77}]}}}}
    wf = {"1": {"class_type": "MySampler", "inputs": {"seed": 0}, "_meta": {"title": "Sampler"}}}
    batch = make_batch({"seed": [Target("Sampler", "inputs", "seed", by_title=True)]}, wf)
    assert seed_limit(batch, ["seed"], info) == 77


def test_seed_limit_ignores_unknown_nodes():
    batch = make_batch({"seed": [Target("99", "inputs", "seed")]})
    assert seed_limit(batch, ["seed"], OBJECT_INFO) == SEED_LIMIT


def test_fixed_seed_replaces_random():
    batch = make_batch()
    rng = SpyRandom()
    out = prepare(batch, spec(seed="random", noise_seed="random"), OBJECT_INFO, 42, rng)
    assert rng.calls == []
    assert out.drawn_seed == 42
    assert out.workflow["3"]["inputs"]["seed"] == 42
    assert out.workflow["21:20"]["inputs"]["noise_seed"] == 42


def test_fixed_seed_zero_is_used():
    out = prepare(make_batch(), spec(seed="random"), OBJECT_INFO, 0, SpyRandom())
    assert out.drawn_seed == 0
    assert out.workflow["3"]["inputs"]["seed"] == 0


def test_non_random_seeds_untouched():
    batch = make_batch()
    rng = SpyRandom()
    out = prepare(batch, spec(seed=12345, noise_seed=7), OBJECT_INFO, 42, rng)
    assert rng.calls == []
    assert out.drawn_seed is None
    assert out.workflow["3"]["inputs"]["seed"] == 12345
    assert out.workflow["21:20"]["inputs"]["noise_seed"] == 7
    assert out.values == {"seed": 12345, "noise_seed": 7}


def test_only_random_key_is_drawn():
    out = prepare(make_batch(), spec(seed=5, noise_seed="random"), OBJECT_INFO, None, random.Random(0))
    assert out.workflow["3"]["inputs"]["seed"] == 5
    assert out.workflow["21:20"]["inputs"]["noise_seed"] == out.drawn_seed != "random"


def test_prepare_leaves_batch_and_spec_unchanged():
    batch = make_batch()
    s = spec(seed="random", positive_prompt="x")
    prepare(batch, s, OBJECT_INFO, None, random.Random(0))
    assert batch.workflow == WORKFLOW
    assert s.values == {"seed": "random", "positive_prompt": "x"}


# -- preflight -------------------------------------------------------------------------


def test_combo_options_both_shapes():
    assert combo_options([["a.safetensors", "b.ckpt"], {}]) == ["a.safetensors", "b.ckpt"]
    assert combo_options(["COMBO", {"options": ["x", "y"], "tooltip": "t"}]) == ["x", "y"]
    assert combo_options(["COMBO", {}]) == []
    assert combo_options(["INT", {"min": 0}]) is None
    assert combo_options(["STRING"]) is None
    assert combo_options(None) is None
    assert combo_options([]) is None


def test_input_spec():
    assert input_spec(OBJECT_INFO, "KSampler", "steps") == ["INT", {"default": 20, "min": 1, "max": 10000}]
    assert input_spec(OBJECT_INFO, "KSampler", "nope") is None
    assert input_spec(OBJECT_INFO, "Unknown", "seed") is None


def test_is_model_input():
    assert is_model_input("ckpt_name", "anything")
    assert is_model_input("lora", "x.SafeTensors")
    assert not is_model_input("text", "a cat")
    assert not is_model_input("ckpt_name", ["4", 0])


def test_normalised_writes_the_server_spelling_in_a_copy():
    wf = copy.deepcopy(WORKFLOW)
    out = normalised(wf, OBJECT_INFO)
    assert out["4"]["inputs"]["ckpt_name"] == "SD1.5/model.ckpt"
    expected = copy.deepcopy(WORKFLOW)
    expected["4"]["inputs"]["ckpt_name"] = "SD1.5/model.ckpt"
    assert out == expected  # nothing else changed
    assert wf == WORKFLOW  # the input is left as it was


def test_normalised_with_new_combo_shape():
    info = copy.deepcopy(OBJECT_INFO)
    info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"] = [
        "COMBO", {"options": ["SD1.5/model.ckpt"]}]
    out = normalised(WORKFLOW, info)
    assert out["4"]["inputs"]["ckpt_name"] == "SD1.5/model.ckpt"
    check(out, info)


def test_check_does_not_change_what_it_checks():
    # Regression: check() rewrote the model name of the workflow it was given, after
    # prepare() had built the prompt; the prompt checked must be the prompt sent, unchanged.
    wf = copy.deepcopy(WORKFLOW)
    with pytest.raises(PreflightError, match=r"did you mean \"SD1\.5/model\.ckpt\"\?"):
        check(wf, OBJECT_INFO)
    assert wf == WORKFLOW


def test_prepare_sends_model_names_in_the_server_spelling():
    # prepare() writes the server's spelling before the prompt is frozen; check() then
    # passes on exactly that prompt and leaves it as it is.
    out = prepare(make_batch(), spec(seed=3), OBJECT_INFO, None, random.Random(0))
    assert out.workflow["4"]["inputs"]["ckpt_name"] == "SD1.5/model.ckpt"
    before = copy.deepcopy(out.workflow)
    check(out.workflow, OBJECT_INFO)
    assert out.workflow == before
    # without /object_info nothing is rewritten
    plain = prepare(make_batch(), spec(seed=3), None, None, random.Random(0))
    assert plain.workflow["4"]["inputs"]["ckpt_name"] == "SD1.5\\model.ckpt"


def test_prepare_with_a_model_from_the_batch_file():
    batch = make_batch({"ckpt": parse_targets({"node": "Load Checkpoint", "input": "ckpt_name"})})
    out = prepare(batch, spec(ckpt="sdxl\\base.safetensors"), OBJECT_INFO, None, random.Random(0))
    assert out.workflow["4"]["inputs"]["ckpt_name"] == "sdxl/base.safetensors"
    assert out.values["ckpt"] == "sdxl\\base.safetensors"  # the value as the batch file wrote it
    assert batch.workflow == WORKFLOW


def test_check_missing_model_named():
    wf = copy.deepcopy(WORKFLOW)
    wf["4"]["inputs"]["ckpt_name"] = "flux/missing.safetensors"
    with pytest.raises(ModelMissing) as info:
        check(wf, OBJECT_INFO)
    text = str(info.value)
    assert "'flux/missing.safetensors'" in text
    assert "CheckpointLoaderSimple" in text
    assert "node 4" in text
    assert "ckpt_name" in text


def test_check_missing_model_new_combo_shape():
    info = copy.deepcopy(OBJECT_INFO)
    info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"] = ["COMBO", {"options": []}]
    wf = copy.deepcopy(WORKFLOW)
    wf["4"]["inputs"]["ckpt_name"] = "x.safetensors"
    with pytest.raises(ModelMissing, match=r"'x\.safetensors'.*CheckpointLoaderSimple node 4, input ckpt_name"):
        check(wf, info)


def test_check_backslash_not_rewritten_when_server_lacks_it():
    wf = copy.deepcopy(WORKFLOW)
    wf["4"]["inputs"]["ckpt_name"] = "SDXL\\other.ckpt"
    with pytest.raises(ModelMissing) as info:
        check(wf, OBJECT_INFO)
    assert "'SDXL\\other.ckpt'" in str(info.value)
    assert wf["4"]["inputs"]["ckpt_name"] == "SDXL\\other.ckpt"


def test_check_missing_node_type_named():
    wf = copy.deepcopy(WORKFLOW)
    wf["30"] = {"class_type": "IPAdapterAdvanced", "inputs": {}}
    with pytest.raises(ModelMissing) as info:
        check(normalised(wf, OBJECT_INFO), OBJECT_INFO)
    text = str(info.value)
    assert "'IPAdapterAdvanced'" in text
    assert "node 30" in text


def test_check_bad_sampler_name_is_not_a_missing_model():
    # sampler_name ends in "_name" but is not a model file: a wrong value is the batch
    # file's mistake and must fail with a suggestion, not be skipped as "server lacks model".
    wf = copy.deepcopy(WORKFLOW)
    wf["3"]["inputs"]["sampler_name"] = "euler_typo"
    with pytest.raises(PreflightError) as info:
        check(normalised(wf, OBJECT_INFO), OBJECT_INFO)
    assert "node 3 (KSampler) input 'sampler_name': 'euler_typo' is not one of the server's options" in str(info.value)
    assert 'did you mean "euler"?' in str(info.value)
