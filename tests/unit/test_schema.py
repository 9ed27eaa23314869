"""The published schema: valid itself, accepts the examples, and its validation is cached."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from comfy_plugin.batchfile.schema import (
    inline_refs,
    load_schema,
    make_validator,
    place_of,
    prompt_index,
    validate,
    validate_cached,
)

ROOT = Path(__file__).resolve().parents[2]


class DictCache:
    def __init__(self) -> None:
        self.data: dict = {}

    def get(self, key, default):
        return self.data.get(key, default)

    def set(self, key, value) -> None:
        self.data[key] = json.loads(json.dumps(value))  # what pytest's cache keeps is JSON


def test_schema_is_valid_2020_12_and_fully_inlined() -> None:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "$ref" not in json.dumps(inline_refs(schema, schema["$defs"]))


#: The repository's example batch files, named: a batch file a user adds to batches/ is checked by
#: its own collection in `make test`, and a broken one must not fail this test.
EXAMPLES = ("blend-fixed-seeds.json", "noise-random-seeds.json", "media-kinds.json", "media-audio.json",
            "noise-variables.json",
            "sd15-txt2img.json",
            "tiny-sd15-txt2img.json", "ui-tiny-sd15-subgraph.json", "ui-tiny-sd15-txt2img.json")


def test_example_batches_are_valid() -> None:
    validator = make_validator()
    for name in EXAMPLES:
        assert validate(validator, json.loads((ROOT / "batches" / name).read_text())) == [], name


def test_inlined_schema_reports_like_the_original() -> None:
    bad = {"parameters": {"workflow_file": "", "workflow_item": {}}, "prompts": [{"seed": -1, "tags": 3}]}
    schema = load_schema()
    original = [(list(e.absolute_path), e.validator) for e in Draft202012Validator(schema).iter_errors(bad)]
    inlined = [(list(e.absolute_path), e.validator) for e in make_validator().iter_errors(bad)]
    assert sorted(map(str, original)) == sorted(map(str, inlined))


def test_validation_is_cached_by_file_digest() -> None:
    cache, data = DictCache(), {"parameters": {}, "prompts": [{"seed": "randm"}]}
    first = validate_cached(make_validator(), data, b"file bytes", cache)
    assert [p.place for _, p in first] == ["parameters", "prompts[0].seed"]

    class Exploding:
        def iter_errors(self, data):
            raise AssertionError("validated again despite the cache")

    assert validate_cached(Exploding(), data, b"file bytes", cache) == first
    assert validate_cached(make_validator(), {}, b"other bytes", cache) != first


def test_places_and_prompt_index() -> None:
    assert place_of(["prompts", 3, "seed"]) == "prompts[3].seed"
    assert place_of(["parameters", "workflow_items", "seed"]) == "parameters.workflow_items.seed"
    assert prompt_index(["prompts", 2, "seed"]) == 2
    assert prompt_index(["parameters", "timeout"]) is None
